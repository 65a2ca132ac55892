"""The dataset's body-fat label beside body fat measured by DXA in US adults, per sex.

The label (`body_fat_pct`, the Relative Fat Mass) is an anthropometric estimate; what it
should reproduce is measured body fat. NHANES 1999-2004 whole-body DXA (Li et al., Am J
Clin Nutr 2009, 90:1457): means of 28.1 % (men) and 40.0 % (women); valid scans top out at
55-56 %. At BMI 40, about 34-38 % (men) and 46-49 % (women) (Heo et al., Am J Clin Nutr
2012, 95:594). Checked: each sex's mean within `MEAN_TOLERANCE_PCT` of DXA's, the median at
BMI 38-42 inside the band about those values, no label above the labels' 60 % ceiling.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.measurements import DENSITY_FAT_RANGE_PCT
from synth.population.measured import Measured
from synth.population.reference import SEXES

DXA_MEAN_PCT = {"male": 28.1, "female": 40.0}
HEAVY_BMI = (38.0, 42.0)
DXA_HEAVY_BAND_PCT = {"male": (32.0, 40.0), "female": (44.0, 51.0)}
DXA_TOP_PCT = 55.0  # the highest body fat valid NHANES DXA scans reach (55-56 %)
MEAN_TOLERANCE_PCT = 3.0


@dataclass(frozen=True)
class BodyFatCheck:
    """One sex's body-fat labels against DXA: mean, median at BMI 38-42 (None if no body
    there), largest, share above DXA's top; ok: mean, heavy median and largest all in bounds."""

    sex: str
    subjects: int
    mean_pct: float
    heavy_subjects: int
    heavy_median_pct: float | None
    max_pct: float
    share_above_dxa_top: float
    ok: bool


def check_body_fat(measured: Measured) -> list[BodyFatCheck]:
    """Per sex with labelled bodies (none for a dataset without the label)."""
    fat, bmi = measured.values["body_fat_pct"], measured.values["bmi_kg_m2"]
    checks = []
    for sex in SEXES:
        mine = (measured.sexes == sex) & np.isfinite(fat)
        if not mine.any():
            continue
        heavy = fat[mine & (bmi >= HEAVY_BMI[0]) & (bmi <= HEAVY_BMI[1])]
        mean, top = float(fat[mine].mean()), float(fat[mine].max())
        median = float(np.median(heavy)) if heavy.size else None
        low, high = DXA_HEAVY_BAND_PCT[sex]
        ok = (abs(mean - DXA_MEAN_PCT[sex]) <= MEAN_TOLERANCE_PCT and (median is None or low <= median <= high)
              and top <= DENSITY_FAT_RANGE_PCT[1])
        checks.append(BodyFatCheck(sex, int(mine.sum()), mean, int(heavy.size), median, top,
                                   float((fat[mine] > DXA_TOP_PCT).mean()), ok))
    return checks


def markdown(checks: list[BodyFatCheck]) -> str:
    """The checks as a markdown table beside their DXA targets."""
    lines = ["Body fat (`body_fat_pct`, RFM) vs NHANES DXA (Li et al. 2009; Heo et al. 2012)", "",
             f"| sex | mean | DXA mean (±{MEAN_TOLERANCE_PCT:g}) | median at BMI {HEAVY_BMI[0]:g}-{HEAVY_BMI[1]:g} "
             f"| DXA there | largest | above {DXA_TOP_PCT:g} % | ok |", "|---|---|---|---|---|---|---|---|"]
    for c in checks:
        low, high = DXA_HEAVY_BAND_PCT[c.sex]
        median = "none" if c.heavy_median_pct is None else f"{c.heavy_median_pct:.1f} %"
        lines.append(f"| {c.sex} | {c.mean_pct:.1f} % | {DXA_MEAN_PCT[c.sex]:.1f} % | {median} "
                     f"({c.heavy_subjects} bodies) | {low:g}-{high:g} % | {c.max_pct:.1f} % "
                     f"| {100 * c.share_above_dxa_top:.2f} % | {'ok' if c.ok else 'NO'} |")
    return "\n".join(lines)
