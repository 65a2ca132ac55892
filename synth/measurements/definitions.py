"""The measurement labels: what each one is, and the formulas that derive body fat, mass and BMI.

All lengths in meters, volume in m^3, mass in kg, body fat in percent. Every
circumference is what a tape reads: the convex hull of the body's section by a plane
(a tape bridges hollows: the cleavage, the cleft between the buttocks, the navel), taken
at the landmark the anthropometric surveys use (ANSUR II: Hotzman et al. 2011,
NATICK/TR-11/017; NHANES anthropometry procedures manual). The landmarks and body
regions come from each backend's skeleton and skinning (`synth.measurements.topology`):

| label | plane | region | survey landmark |
|---|---|---|---|
| neck | normal to the neck (neck base -> head joint), `NECK_LEVEL` of the way up | neck and head | ANSUR: below the laryngeal prominence, perpendicular to the neck |
| chest | horizontal, at the bust point: the most forward point of the left breast (the trunk's vertices within `BUST_RADIUS_M` of its most forward point on the mean body, within `CHEST_BAND` of the hip-to-shoulder joint span) | trunk (arms excluded) | ANSUR: at the bust point (nipple) |
| waist (natural) | horizontal, the narrowest of `WAIST_PLANES` levels in `WAIST_BAND` of the span above the hip joints | trunk | ISO 8559-1: the natural waist |
| waist at the navel | horizontal, through the navel (omphalion) vertex | trunk | ANSUR: waist circumference (omphalion) |
| waist at the iliac crest | horizontal, `ILIAC_CREST_SPAN` of the span above the hip joints (0.60 of stature on the mean body, as iliocristale height in ANSUR II) | trunk | NHANES / CDC waist |
| hip | horizontal, at the buttocks' greatest backward protrusion (the rearmost point between the hip joints, `BUTTOCK_BAND` of the span about them: above it the lower back of some bodies protrudes as far) | trunk and legs | ANSUR buttock circumference, NHANES hip |
| thigh (left) | normal to the femur (hip -> knee joint), `THIGH_BELOW_CROTCH` of stature below the crotch along it: the top of the thigh, where the tape at the gluteal furrow passes under the crotch | the left half of trunk and legs | ANSUR: at the gluteal furrow, normal to the thigh |
| calf (left) | normal to the shank (knee -> ankle joint), the largest of `CALF_PLANES` in `CALF_BAND` of the way down | left shank | ANSUR: maximum calf circumference |
| upper arm (left) | normal to the humerus (shoulder -> elbow joint) at its midpoint | left upper arm | NHANES mid-upper-arm circumference |

The bust point and the buttocks' protrusion are soft extremes (`planes.soft_extreme_height`):
where two points protrude nearly as far, the level slides between them rather than jump.

- height: top of the head to the soles (y extent).
- volume: of the closed mesh (backends whose topology is not watertight give NaN).
- body fat: the Relative Fat Mass (Woolcott & Bergman, Sci Rep 2018, 8:10980), fitted on
  DXA body fat of 12,581 NHANES 1999-2004 adults with the waist at the iliac crest:
  RFM = 64 - 20 x height / waist + 12 x female (the backend's sex value blends the two).
  An anthropometric estimate of DXA body fat, not a measurement.
- body fat, Navy: the US Navy circumference equations (Hodgdon & Beckett 1984), men with
  the waist at the navel, women with the natural waist and the hip; kept as a second
  estimate, NaN outside the 0-75 % they were fitted on.
- mass: two-compartment body density times tissue volume: Siri (1961) density
  D = 495 / (body fat % + 450) g/cm^3 at the RFM body fat (held to `DENSITY_FAT_RANGE_PCT`),
  times the mesh volume less `LUNG_GAS_M3` (the gas left in the lungs at rest). So mass
  follows the body's shape and fat, never the BMI.
- BMI = mass / height^2.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

LABELS_VERSION = 3
"""Bumped when a label's definition changes: 2 the chest loop passes under the arms; 3 tape
circumferences (convex hulls) at the surveys' landmarks, waist at the navel, calf, RFM body
fat (Navy kept as body_fat_navy_pct), mass at the RFM density."""
LUNG_GAS_M3 = 0.0024
DENSITY_FAT_RANGE_PCT = (2.0, 60.0)
NECK_LEVEL = 0.4
CHEST_BAND = (0.55, 0.85)
WAIST_BAND = (0.25, 0.60)
WAIST_PLANES = 8
ILIAC_CREST_SPAN = 0.27
BUTTOCK_BAND = (-0.25, 0.15)
LANDMARK_SOFTNESS_M = 0.004
THIGH_BELOW_CROTCH = 0.01
BUST_RADIUS_M = 0.06
CALF_BAND = (0.15, 0.55)
CALF_PLANES = 9


@dataclass(frozen=True)
class Measurements:
    height_m: float
    neck_circumference_m: float
    chest_circumference_m: float
    waist_circumference_m: float
    waist_navel_circumference_m: float
    waist_iliac_circumference_m: float
    hip_circumference_m: float
    thigh_circumference_m: float
    calf_circumference_m: float
    upper_arm_circumference_m: float
    volume_m3: float
    mass_kg: float
    bmi_kg_m2: float
    body_fat_pct: float
    body_fat_navy_pct: float


MEASUREMENT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Measurements))
CIRCUMFERENCES: tuple[str, ...] = tuple(n for n in MEASUREMENT_NAMES if n.endswith("_circumference_m"))

_NAVY_RANGE_PCT = 75.0


def rfm_body_fat_pct(height_m, waist_iliac_m, female):
    """Relative Fat Mass (%): 64 - 20 height / waist (iliac crest) + 12 female; female in
    0..1 (blends the two equations). Floats or (N,) arrays in, same out; NaN for a waist
    that is not positive."""
    height, waist = np.asarray(height_m, np.float64), np.asarray(waist_iliac_m, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(waist > 0, 64.0 - 20.0 * height / waist + 12.0 * np.asarray(female, np.float64), np.nan)
    return float(value) if value.ndim == 0 else value


def navy_body_fat_pct(neck_m, abdomen_m, waist_m, hip_m, height_m, female, bounded: bool = True):
    """US Navy body-fat estimate (%): the men's equation on the abdomen (the waist at the
    navel), the women's on the natural waist and the hip, blended by `female` (0..1); NaN
    outside the range the equations were fitted on (a girth no wider than the neck, or, when
    `bounded`, a result outside 0-75 %). Floats or (N,) arrays in, same out."""
    neck, abdomen, waist, hip, height = (100.0 * np.asarray(x, np.float64)
                                         for x in (neck_m, abdomen_m, waist_m, hip_m, height_m))
    with np.errstate(invalid="ignore", divide="ignore"):
        male = 495.0 / (1.0324 - 0.19077 * np.log10(abdomen - neck) + 0.15456 * np.log10(height)) - 450.0
        woman = 495.0 / (1.29579 - 0.35004 * np.log10(waist + hip - neck) + 0.22100 * np.log10(height)) - 450.0
    estimate = (1.0 - np.asarray(female)) * male + np.asarray(female) * woman
    if bounded:
        estimate = np.where((estimate >= 0.0) & (estimate <= _NAVY_RANGE_PCT), estimate, np.nan)
    return float(estimate) if np.ndim(estimate) == 0 else estimate


def siri_density_kg_m3(body_fat_pct):
    """Whole-body density (kg/m^3) of Siri's two-compartment model at `body_fat_pct`, held to
    `DENSITY_FAT_RANGE_PCT` (NaN counts as the lean end)."""
    low, high = DENSITY_FAT_RANGE_PCT
    fat = np.asarray(body_fat_pct, np.float64)
    fat = np.where(np.isnan(fat), low, np.clip(fat, low, high))
    return 1000.0 * 495.0 / (fat + 450.0)


def body_mass_kg(volume_m3, body_fat_pct):
    """Mass (kg) of a body enclosing `volume_m3` (lungs included) at `body_fat_pct`."""
    mass = (np.asarray(volume_m3, np.float64) - LUNG_GAS_M3) * siri_density_kg_m3(body_fat_pct)
    return float(mass) if mass.ndim == 0 else mass


def derived(height_m, volume_m3, girths: Mapping[str, Any], female, navy: bool = True) -> dict:
    """Body fat (RFM and, with `navy`, the Navy estimate), mass and BMI from the primitive
    measurements, as the labels derive them: height, volume and `girths` (circumference
    name -> value; the iliac-crest waist, and for the Navy estimate the neck, the navel and
    natural waists and the hip, are read), floats or (N,) arrays."""
    fat = rfm_body_fat_pct(height_m, girths["waist_iliac_circumference_m"], female)
    mass = body_mass_kg(volume_m3, fat)
    out = {"mass_kg": mass, "bmi_kg_m2": mass / np.asarray(height_m, np.float64) ** 2, "body_fat_pct": fat}
    if navy:
        out["body_fat_navy_pct"] = navy_body_fat_pct(
            girths["neck_circumference_m"], girths["waist_navel_circumference_m"], girths["waist_circumference_m"],
            girths["hip_circumference_m"], height_m, female)
    return out
