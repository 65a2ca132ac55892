"""Anthropometric labels from a subject's neutral-pose mesh (the backend's rest pose).

All lengths in meters, volume in m^3, mass in kg, body fat in percent. Circumferences
are the perimeter of the closed loop that a plane cuts through the mesh (trimesh) and
that encloses the landmark point; landmarks come from each backend's `Skeleton`, so
every backend is measured the same way:

- height: top of the head to the soles (y extent).
- neck: plane normal to neck-base -> head joint, through their midpoint.
- chest: horizontal, a quarter of the hip-to-shoulder joint span below the shoulders, or
  under the armpits where they hang lower (ISO 8559-1 passes the tape under them): in
  the rest pose the heaviest bodies' arms meet the torso at that level, and the loop
  would take them in, so the plane steps down until no arm bone (shoulder -> elbow ->
  wrist) lies inside the loop, at most `_UNDER_ARMS_SPAN` of the span.
- waist: horizontal, the narrowest torso loop between 25 % and 60 % of that span above
  the hip joints (natural waist).
- waist at the iliac crest (the NHANES / CDC landmark, "just above the uppermost lateral
  border of the ilium"): horizontal torso loop at `ILIAC_CREST_SPAN` of that span above
  the hip joints. The skeleton has no ilium, so the level is a fixed fraction, chosen so
  that on Anny's mean adult body it lies at 0.60 of stature, the ratio of iliac-crest
  height (iliocristale) to stature in adult anthropometric surveys.
- hip: horizontal, at the level of the buttocks' greatest backward protrusion (the
  NHANES / ISO 8559-1 landmark): the rearmost vertex between the hip joints' x positions,
  from 25 % of the span below to 30 % above the hip joints. (Taking the widest loop
  instead catches the splayed upper thighs at the crotch in the A-pose rest pose.)
- mid-thigh (left): plane normal to the femur (hip -> knee joint) at its midpoint.
- upper arm (left): plane normal to the humerus (shoulder -> elbow joint) at its midpoint.
- body fat: US Navy circumference equations (Hodgdon & Beckett 1984, centimetres),
  blended by the backend's sex value (0 male, 1 female, 0.5 neutral). It is an
  anthropometric estimate, not a clinical measurement.
- volume: of the closed mesh (backends whose topology is not watertight get NaN, see
  `BodyMeasurer.watertight`).
- mass: two-compartment body density times tissue volume. Density follows Siri (1961),
  D = 495 / (body fat % + 450) g/cm^3 (fat 0.90, fat-free mass 1.10 g/cm^3), with the
  body fat of the line above held to 2-60 % for this purpose (a waist no wider than the
  neck counts as 2 %). Tissue volume is the mesh volume less `LUNG_GAS_M3` (the mesh
  encloses the lungs; 2.4 L is a typical adult functional residual capacity, the gas
  left in the lungs at rest). So mass follows the body's shape and fat, never the BMI.
- BMI = mass / height^2.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
import trimesh
from shapely.geometry import Point

from body_models import BodyModel

LABELS_VERSION = 2  # bump when a label's definition changes (2: the chest loop passes under the arms)
LUNG_GAS_M3 = 0.0024
DENSITY_FAT_RANGE_PCT = (2.0, 60.0)
ILIAC_CREST_SPAN = 0.27
_WAIST_BAND = (0.25, 0.60)
_BUTTOCK_BAND = (-0.25, 0.30)
_NEAREST_LOOP_M = 0.03
_SEARCH_PLANES = 8
_UNDER_ARMS_STEP_M = 0.005
_UNDER_ARMS_SPAN = 0.25


@dataclass(frozen=True)
class Measurements:
    height_m: float
    neck_circumference_m: float
    chest_circumference_m: float
    waist_circumference_m: float
    waist_iliac_circumference_m: float
    hip_circumference_m: float
    thigh_circumference_m: float
    upper_arm_circumference_m: float
    volume_m3: float
    mass_kg: float
    bmi_kg_m2: float
    body_fat_pct: float


MEASUREMENT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Measurements))


_NAVY_RANGE_PCT = 75.0


def navy_body_fat_pct(neck_m, waist_m, hip_m, height_m, female, bounded: bool = True):
    """US Navy body-fat estimate (%), linearly blended between the male and female equations;
    NaN outside the range the equations were fitted on (a waist no wider than the neck,
    or, when `bounded`, a result outside 0-75 %). Floats or (N,) arrays in, same out."""
    neck, waist, hip, height = (100.0 * np.asarray(x, np.float64) for x in (neck_m, waist_m, hip_m, height_m))
    with np.errstate(invalid="ignore", divide="ignore"):
        male = 495.0 / (1.0324 - 0.19077 * np.log10(waist - neck) + 0.15456 * np.log10(height)) - 450.0
        woman = 495.0 / (1.29579 - 0.35004 * np.log10(waist + hip - neck) + 0.22100 * np.log10(height)) - 450.0
    estimate = (1.0 - np.asarray(female)) * male + np.asarray(female) * woman
    return navy_in_range(estimate) if bounded else (float(estimate) if estimate.ndim == 0 else estimate)


def navy_in_range(estimate):
    """A raw Navy estimate (%), NaN outside the 0-75 % the equations were fitted on."""
    estimate = np.asarray(estimate, np.float64)
    kept = np.where((estimate >= 0.0) & (estimate <= _NAVY_RANGE_PCT), estimate, np.nan)
    return float(kept) if kept.ndim == 0 else kept


def siri_density_kg_m3(body_fat_pct):
    """Whole-body density (kg/m^3) of Siri's two-compartment model at `body_fat_pct`, held to
    `DENSITY_FAT_RANGE_PCT` (NaN, a body too lean for the Navy equations, is the lean end)."""
    low, high = DENSITY_FAT_RANGE_PCT
    fat = np.asarray(body_fat_pct, np.float64)
    fat = np.where(np.isnan(fat), low, np.clip(fat, low, high))
    return 1000.0 * 495.0 / (fat + 450.0)


def body_mass_kg(volume_m3, body_fat_pct):
    """Mass (kg) of a body enclosing `volume_m3` (lungs included) at `body_fat_pct`."""
    mass = (np.asarray(volume_m3, np.float64) - LUNG_GAS_M3) * siri_density_kg_m3(body_fat_pct)
    return float(mass) if mass.ndim == 0 else mass


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Volume (m^3) enclosed by a closed, consistently wound triangle mesh."""
    a, b, c = (vertices[faces[:, k]].astype(np.float64) for k in range(3))
    return float(abs(np.einsum("ij,ij->i", np.cross(a, b), c).sum() / 6.0))


def loop_length(mesh: trimesh.Trimesh, origin: np.ndarray, normal: np.ndarray, inside: np.ndarray) -> float:
    """Perimeter (m) of the outer section loop of `mesh` by the plane (origin, normal)
    that encloses point `inside`; NaN if no loop does."""
    loop, _ = _plane_loop(mesh, origin, normal, inside)
    return float("nan") if loop is None else loop.exterior.length


def _encloses_bone(loop, to_3d: np.ndarray, y: float, bones: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether a horizontal section loop at height `y` (shapely polygon with its (4, 4)
    plane-to-world transform) encloses a place where one of the bones (3D segments)
    crosses its plane."""
    to_plane = np.linalg.inv(to_3d)
    for a, b in bones:
        if (a[1] - y) * (b[1] - y) <= 0 and a[1] != b[1]:
            crossing = a + (y - a[1]) / (b[1] - a[1]) * (b - a)
            if loop.contains(Point(*(to_plane @ np.append(crossing, 1.0))[:2])):
                return True
    return False


def _plane_loop(mesh: trimesh.Trimesh, origin: np.ndarray, normal: np.ndarray, inside: np.ndarray):
    """(loop polygon in plane coordinates or None, (4, 4) plane-to-world transform or None)."""
    section = mesh.section(plane_origin=origin, plane_normal=normal)
    if section is None:
        return None, None
    planar, to_3d = section.to_2D()
    return _enclosing_loop(planar, to_3d, inside), to_3d


def _enclosing_length(planar, to_3d: np.ndarray, inside: np.ndarray) -> float:
    loop = _enclosing_loop(planar, to_3d, inside)
    return float("nan") if loop is None else loop.exterior.length


def _enclosing_loop(planar, to_3d: np.ndarray, inside: np.ndarray):
    """Longest closed loop (shapely polygon) of a planar section (with its (4, 4)
    plane-to-world transform) that contains the 3D point `inside`; if none does (a
    landmark just outside a lean body), the loop nearest to it within `_NEAREST_LOOP_M`;
    else None."""
    local = np.linalg.inv(to_3d) @ np.append(inside, 1.0)
    point = Point(local[0], local[1])
    polygons = [p for p in planar.polygons_closed if p is not None]
    containing = [p for p in polygons if p.contains(point)]
    if containing:
        return max(containing, key=lambda p: p.exterior.length)
    near = sorted((p.exterior.distance(point), p.exterior.length, k) for k, p in enumerate(polygons))
    near = [polygons[k] for distance, _, k in near if distance < _NEAREST_LOOP_M]
    return near[0] if near else None


class BodyMeasurer:
    """Measures neutral-pose meshes of one backend (landmarks from its skeleton)."""

    def __init__(self, model: BodyModel) -> None:
        self.model = model
        sk = model.skeleton
        self._joint = {name: sk.index(getattr(sk, name)[0]) for name in ("shoulder", "elbow", "hip", "knee")}
        self._arms = [tuple(sk.index(getattr(sk, name)[side]) for name in ("shoulder", "elbow", "wrist"))
                      for side in (0, 1)]
        self._right_hip = sk.index(sk.hip[1])
        self._right_shoulder = sk.index(sk.shoulder[1])
        self._neck = (sk.index(sk.neck[0]), sk.index(sk.neck[-1]))
        self._spine = [sk.index(name) for name in sk.spine]
        self.watertight = trimesh.Trimesh(np.random.default_rng(0).random((model.faces.max() + 1, 3)),
                                          model.faces, process=False).is_watertight

    def rest_bodies(self, shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neutral-pose vertices (B, V, 3) and joints (B, J, 3), float64, world frame."""
        poses = np.tile(self.model.rest_pose(), (len(shapes), 1))
        with torch.no_grad():
            out = self.model.forward(torch.tensor(shapes), torch.tensor(poses))  # aligned: see pose_bodies
        return out.vertices.double().numpy(), out.joints.double().numpy()

    def measure_shapes(self, shapes: np.ndarray) -> list[Measurements]:
        vertices, joints = self.rest_bodies(shapes)
        return [self.measure(v, j, self.model.female_fraction(s)) for v, j, s in zip(vertices, joints, shapes)]

    def _torso_loop(self, mesh: trimesh.Trimesh, heights: np.ndarray, center: np.ndarray) -> np.ndarray:
        """Loop lengths of horizontal sections at `heights` enclosing the torso axis `center` (x, z)."""
        face_y = mesh.vertices[mesh.faces][:, :, 1]
        band = (face_y.max(1) >= heights.min()) & (face_y.min(1) <= heights.max())
        mesh = trimesh.Trimesh(mesh.vertices, mesh.faces[band], process=False)  # only faces the planes can cut
        lines, to_3d, _ = trimesh.intersections.mesh_multiplane(mesh, [0.0, 0.0, 0.0], [0.0, 1.0, 0.0], heights)
        lengths = []
        for segments, transform, y in zip(lines, to_3d, heights):
            inside = np.array([center[0], y, center[1]])
            lengths.append(_enclosing_length(trimesh.load_path(segments), transform, inside) if len(segments)
                           else np.nan)
        return np.array(lengths)

    def _buttock_level(self, vertices: np.ndarray, joints: np.ndarray, hip_y: float, span: float) -> float:
        """Height (m) of the rearmost (-z) vertex between the hip joints, near the hip joints."""
        left, right = joints[self._joint["hip"], 0], joints[self._right_hip, 0]
        y, x = vertices[:, 1], vertices[:, 0]
        band = ((y > hip_y + _BUTTOCK_BAND[0] * span) & (y < hip_y + _BUTTOCK_BAND[1] * span)
                & (x > min(left, right)) & (x < max(left, right)))
        return float(vertices[band][np.argmin(vertices[band, 2]), 1])

    def _levels(self, joints: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Heights (m) of the shoulder joints and of the hip joints (each pair's mean), and
        the torso axis (x, z): between the hip joints, at the spine joints' depth."""
        j = self._joint
        shoulder_y = 0.5 * (joints[j["shoulder"], 1] + joints[self._right_shoulder, 1])
        hip_y = 0.5 * (joints[j["hip"], 1] + joints[self._right_hip, 1])
        return shoulder_y, hip_y, np.array([0.5 * (joints[j["hip"], 0] + joints[self._right_hip, 0]),
                                            joints[self._spine, 2].mean()])

    def chest(self, mesh: trimesh.Trimesh, joints: np.ndarray) -> tuple[np.ndarray, float]:
        """The chest landmark (3,): on the torso axis, a quarter of the hip-to-shoulder joint
        span below the shoulders, stepped down under the arms where the loop there takes
        them in; and the length (m) of its horizontal loop (NaN if none encloses it)."""
        shoulder_y, hip_y, center = self._levels(joints)
        span = shoulder_y - hip_y
        point = np.array([center[0], shoulder_y - 0.25 * span, center[1]])
        bones = [(joints[a], joints[b]) for arm in self._arms for a, b in zip(arm, arm[1:])]
        lowest = point[1] - _UNDER_ARMS_SPAN * span
        while True:
            loop, to_3d = _plane_loop(mesh, point, np.array([0.0, 1.0, 0.0]), point)
            if (loop is None or point[1] - _UNDER_ARMS_STEP_M < lowest
                    or not _encloses_bone(loop, to_3d, point[1], bones)):
                return point, float("nan") if loop is None else loop.exterior.length
            point[1] -= _UNDER_ARMS_STEP_M

    def measure(self, vertices: np.ndarray, joints: np.ndarray, female: float) -> Measurements:
        """Measurements of one neutral-pose body: vertices (V, 3), joints (J, 3), meters."""
        mesh = trimesh.Trimesh(vertices, self.model.faces, process=False)
        j = self._joint
        shoulder_y, hip_y, center = self._levels(joints)
        span = shoulder_y - hip_y
        height = float(vertices[:, 1].max() - vertices[:, 1].min())
        neck_base, neck_top = joints[self._neck[0]], joints[self._neck[1]]
        neck_mid = 0.5 * (neck_base + neck_top)
        _, chest = self.chest(mesh, joints)
        waist = np.nanmin(self._torso_loop(mesh, hip_y + span * np.linspace(*_WAIST_BAND, _SEARCH_PLANES), center))
        # the pelvis levels take their inside point at the hip joints' depth: on lean bodies the
        # spine joints can lie behind the lower back's surface
        pelvis = np.array([center[0], 0.5 * (joints[j["hip"], 2] + joints[self._right_hip, 2])])
        hip = self._torso_loop(mesh, np.array([self._buttock_level(vertices, joints, hip_y, span)]), pelvis)[0]
        iliac = self._torso_loop(mesh, np.array([hip_y + ILIAC_CREST_SPAN * span]), pelvis)[0]
        thigh_mid = 0.5 * (joints[j["hip"]] + joints[j["knee"]])
        arm_mid = 0.5 * (joints[j["shoulder"]] + joints[j["elbow"]])
        neck = loop_length(mesh, neck_mid, neck_top - neck_base, neck_mid)
        volume = signed_volume(vertices, self.model.faces) if self.watertight else float("nan")
        raw_fat = navy_body_fat_pct(neck, float(waist), float(hip), height, female, bounded=False)
        mass = body_mass_kg(volume, raw_fat)
        return Measurements(
            height_m=height,
            neck_circumference_m=neck,
            chest_circumference_m=chest,
            waist_circumference_m=float(waist),
            waist_iliac_circumference_m=float(iliac),
            hip_circumference_m=float(hip),
            thigh_circumference_m=loop_length(mesh, thigh_mid, joints[j["knee"]] - joints[j["hip"]], thigh_mid),
            upper_arm_circumference_m=loop_length(mesh, arm_mid, joints[j["elbow"]] - joints[j["shoulder"]],
                                                  arm_mid),
            volume_m3=volume,
            mass_kg=mass,
            bmi_kg_m2=mass / height**2,
            body_fat_pct=navy_in_range(raw_fat),
        )
