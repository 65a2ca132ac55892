"""Job spec: TOML -> one validated, frozen `JobSpec`, built once and passed down.

Every field is checked before anything runs; each problem is reported on one line
naming the field, the bad value and what is allowed. Angles in the spec are degrees
(converted to radians where sampled); lengths are meters; image sizes are pixels.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from body_models import BACKENDS, DEFAULT_BACKEND, SynthError
from body_models.anny_backend import SHAPE_SPACES
from body_models.smpl_family import GENDERS, MIXED
from synth.population.girths import DEFAULT_GIRTHS, fit_girths
from synth.population.people import load_people
from synth.population.reference import DEFAULT_REFERENCE, NO_REFERENCE, load_reference
from synth.validation import apply_overrides, build_sections, plain_dict, read_toml

Range = tuple[float, float]
_TALLEST_SUBJECT_M = 2.1


@dataclass(frozen=True)
class JobSection:
    """name: dataset name; seed: job seed; subjects: total subjects over all splits;
    shard_size: subjects per Parquet shard; splits: split name -> fraction (sums to 1);
    write_png: also write png/<split>/<subject>/<view>.png."""

    name: str = "dataset"
    seed: int = 0
    subjects: int = 256
    shard_size: int = 64
    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "val": 0.1, "test": 0.1})
    write_png: bool = False


@dataclass(frozen=True)
class BodyModelSection:
    """name: backend; shape_space: Anny's shape space, "body" (11 phenotypes plus
    body-relevant local targets: belly, waist, hips, bust, limb fat, ...) or "phenotypes"
    (the 6 default phenotypes), see body_models.anny_backend; model_path: SMPL-family file
    or folder (else SYNTH_MODEL_PATH); gender / num_betas: SMPL family (gender "mixed":
    each body female or male, see shape.female_share)."""

    name: str = DEFAULT_BACKEND
    shape_space: str = "body"
    model_path: str = ""
    gender: str = "neutral"
    num_betas: int = 10


@dataclass(frozen=True)
class ShapeSection:
    """age_years: morphological age range (Anny; [18, 90] for adults only);
    beta_sigma: std of each beta (SMPL family); female_share: fraction of bodies that are
    female (Anny's gender phenotype, or the SMPL file under gender "mixed"); reference:
    the population whose measured height, weight and BMI the bodies follow, per sex: a
    bundled table name (synth.population.reference.BUNDLED), a CSV path, or "none" for the
    body model's own prior (required for SMPL-family models and Anny's "phenotypes"
    space); girths: measured people (a bundled people table, e.g. "ansur2", or a CSV, see
    synth.population.people) whose chest, waist, hip, neck, thigh and calf at a given
    height, weight and age the bodies follow, or "none" to calibrate height and BMI only;
    people: a table of measured people (bundled name or CSV, synth.population.people) whose
    bodies to build, subject i = row i (job.subjects is its row count; `synth build
    --people` sets both), "" for sampled bodies. See synth.population.sampler and
    synth.population.people_sampler."""

    age_years: Range = (18.0, 80.0)
    beta_sigma: float = 1.0
    female_share: float = 0.5
    reference: str = DEFAULT_REFERENCE
    girths: str = DEFAULT_GIRTHS
    people: str = ""


@dataclass(frozen=True)
class PoseSection:
    """Capture pose (A-pose, feet apart): uniform ranges in degrees for each angle of
    `body_models.capture_pose`; left and right are drawn independently. `extra_jitter_deg`
    adds U(-x, x) to every angle for wider robustness."""

    shoulder_abduction_deg: Range = (30.0, 45.0)
    shoulder_flexion_deg: Range = (-5.0, 5.0)
    elbow_flexion_deg: Range = (0.0, 10.0)
    hip_abduction_deg: Range = (3.0, 10.0)
    knee_flexion_deg: Range = (0.0, 5.0)
    spine_flexion_deg: Range = (-4.0, 4.0)
    spine_lateral_deg: Range = (-3.0, 3.0)
    head_pitch_deg: Range = (-8.0, 8.0)
    head_yaw_deg: Range = (-8.0, 8.0)
    extra_jitter_deg: float = 0.0


@dataclass(frozen=True)
class CameraSection:
    """Phone-like pinhole camera. width/height: pixels; vertical_fov_deg: range;
    distance_m: horizontal distance to the subject; height_m: lens height above the
    ground; the camera looks at the body's centre, then pitch/roll/yaw jitter (deg)
    is added. A subject must project at least margin_px inside the frame; cameras are
    re-drawn (deterministically) up to max_attempts times until it does."""

    width: int = 256
    height: int = 256
    vertical_fov_deg: Range = (55.0, 70.0)
    distance_m: Range = (2.0, 3.5)
    height_m: Range = (0.9, 1.6)
    pitch_jitter_deg: float = 3.0
    roll_jitter_deg: float = 3.0
    yaw_jitter_deg: float = 5.0
    margin_px: int = 2
    max_attempts: int = 100


@dataclass(frozen=True)
class ViewsSection:
    """Capture views: names and camera azimuths (deg) around the subject; 0 = front,
    90 = the subject's left side, 180 = back, 270 = right side."""

    names: tuple[str, ...] = ("front", "left", "back", "right")
    yaw_deg: tuple[float, ...] = (0.0, 90.0, 180.0, 270.0)


@dataclass(frozen=True)
class LabelsSection:
    """measurements: body measurements of every subject (see synth.measurements; about
    5 ms a subject on one CPU core: the body in the neutral pose, then its labels). Off
    leaves those columns null."""

    measurements: bool = True


@dataclass(frozen=True)
class RenderSection:
    """batch_size: bodies posed (and measured) per pass; each pass reads all of Anny's blend
    shapes, so larger batches cost less a body (posed and neutral body on one CPU thread of
    the 2-core VM: 5.3 ms at 16, 4.4 at 32, 4.1 at 64, 4.0 at 128);
    gpus_per_worker: share of a GPU each Ray actor asks for and renders on (0 = render on
    CPUs; 0.25 = four actors per GPU). It does not change the data, so it is left out of
    the spec hash: a build may resume on other hardware."""

    batch_size: int = 64
    gpus_per_worker: float = 0.0


@dataclass(frozen=True)
class PhotoSection:
    """enabled: also render one photo-like JPEG per view into the `photos` column: the same
    posed body dressed and lit over a procedural room (see synth.photo.render; about
    50 ms a view on CPU); hair_share: chance of a hair volume over the head; noise_std:
    camera noise, 8-bit levels; jpeg_quality: JPEG quality range. Off leaves no column."""

    enabled: bool = False
    hair_share: float = 0.6
    noise_std: Range = (0.0, 6.0)
    jpeg_quality: Range = (60.0, 95.0)


@dataclass(frozen=True)
class JobSpec:
    job: JobSection = JobSection()
    body_model: BodyModelSection = BodyModelSection()
    shape: ShapeSection = ShapeSection()
    pose: PoseSection = PoseSection()
    camera: CameraSection = CameraSection()
    views: ViewsSection = ViewsSection()
    labels: LabelsSection = LabelsSection()
    render: RenderSection = RenderSection()
    photo: PhotoSection = PhotoSection()

    def to_dict(self) -> dict[str, Any]:
        return plain_dict(self)

    def content_hash(self) -> str:
        """sha256 of everything that decides the dataset's content."""
        content = self.to_dict()
        del content["render"]["gpus_per_worker"]
        if not self.photo.enabled:  # datasets from before photos existed keep their hash
            del content["photo"]
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


_SECTION_CLASSES = {
    "job": JobSection, "body_model": BodyModelSection, "shape": ShapeSection, "pose": PoseSection,
    "camera": CameraSection, "views": ViewsSection, "labels": LabelsSection, "render": RenderSection,
    "photo": PhotoSection,
}

# field -> (kind, low, high); kinds in synth.validation.check_field
_LIMITS: dict[str, tuple[str, float, float]] = {
    "job.name": ("str", 1, 128), "job.seed": ("int", 0, 2**63 - 1), "job.subjects": ("int", 1, 10**9),
    "job.shard_size": ("int", 1, 100_000), "job.splits": ("splits", 0, 1), "job.write_png": ("bool", 0, 1),
    "body_model.name": ("str", 1, 32), "body_model.model_path": ("str", 0, 4096),
    "body_model.gender": ("str", 1, 16), "body_model.shape_space": ("str", 1, 16), "body_model.num_betas": ("int", 1, 300),
    "shape.age_years": ("range", 0, 90), "shape.beta_sigma": ("float", 0, 5),
    "shape.female_share": ("float", 0, 1), "shape.reference": ("str", 1, 4096), "shape.girths": ("str", 1, 4096),
    "shape.people": ("str", 0, 4096),
    "pose.extra_jitter_deg": ("float", 0, 45),
    "camera.width": ("int", 16, 4096), "camera.height": ("int", 16, 4096),
    "camera.vertical_fov_deg": ("range", 10, 120), "camera.distance_m": ("range", 0.5, 20),
    "camera.height_m": ("range", 0, 3), "camera.pitch_jitter_deg": ("float", 0, 30),
    "camera.roll_jitter_deg": ("float", 0, 30), "camera.yaw_jitter_deg": ("float", 0, 45),
    "camera.margin_px": ("int", 0, 64), "camera.max_attempts": ("int", 1, 10_000),
    "views.names": ("names", 1, 16), "views.yaw_deg": ("floats", -360, 360),
    "labels.measurements": ("bool", 0, 1), "render.batch_size": ("int", 1, 1024),
    "render.gpus_per_worker": ("float", 0, 8),
    "photo.enabled": ("bool", 0, 1), "photo.hair_share": ("float", 0, 1), "photo.noise_std": ("range", 0, 50),
    "photo.jpeg_quality": ("range", 10, 100),
}
for _f in dataclasses.fields(PoseSection):
    _LIMITS.setdefault(f"pose.{_f.name}", ("range", -180, 180))


def _reference_checks(spec: JobSpec) -> list[str]:
    """shape.reference names a readable table and the body model can be calibrated."""
    if spec.shape.reference == NO_REFERENCE:
        return []
    if spec.body_model.name != "anny" or spec.body_model.shape_space != "body":
        return [f"shape.reference = {spec.shape.reference!r} calibrates Anny's body shape space only; with "
                f"body_model.name = {spec.body_model.name!r} and shape_space = {spec.body_model.shape_space!r} set "
                "shape.reference = \"none\""]
    problems = []
    try:
        load_reference(spec.shape.reference)
    except SynthError as err:
        problems.append(f"shape.reference: {err}")
    if spec.shape.girths != NO_REFERENCE:
        try:
            fit_girths(load_people(spec.shape.girths))
        except SynthError as err:
            problems.append(f"shape.girths: {err}")
    return problems


def _people_checks(spec: JobSpec) -> list[str]:
    """shape.people names a readable table with one row per subject, on Anny's body space."""
    if not spec.shape.people:
        return []
    if spec.body_model.name != "anny" or spec.body_model.shape_space != "body":
        return [f"shape.people builds bodies in Anny's body shape space only (body_model.name = "
                f"{spec.body_model.name!r}, shape_space = {spec.body_model.shape_space!r})"]
    if not spec.labels.measurements:
        return ["shape.people needs labels.measurements = true: each row's residuals are its labels minus the "
                "person's measurements"]
    try:
        rows = len(load_people(spec.shape.people))
    except SynthError as err:
        return [f"shape.people: {err}"]
    if rows != spec.job.subjects:
        return [f"job.subjects = {spec.job.subjects} but the people table {spec.shape.people} has {rows} rows; one "
                "subject per person (synth build --people sets it)"]
    return []


def _cross_checks(spec: JobSpec) -> list[str]:
    """Problems no single field shows."""
    problems = []
    if len(spec.views.names) != len(spec.views.yaw_deg):
        problems.append(f"views.yaw_deg has {len(spec.views.yaw_deg)} entries but views.names has "
                        f"{len(spec.views.names)}: give one azimuth per view")
    if spec.body_model.name not in BACKENDS:
        problems.append(f"body_model.name = {spec.body_model.name!r}: expected one of {', '.join(BACKENDS)}")
    if spec.body_model.shape_space not in SHAPE_SPACES:
        problems.append(f"body_model.shape_space = {spec.body_model.shape_space!r}: expected one of "
                        f"{', '.join(SHAPE_SPACES)}")
    problems += _reference_checks(spec)
    problems += _people_checks(spec)
    genders = (*GENDERS, MIXED)
    if spec.body_model.gender not in genders:
        problems.append(f"body_model.gender = {spec.body_model.gender!r}: expected one of {', '.join(genders)}")
    cam = spec.camera
    widest = math.radians(cam.vertical_fov_deg[1])
    usable = 1.0 - 2.0 * cam.margin_px / cam.height
    visible = 2.0 * cam.distance_m[1] * math.tan(widest / 2.0) * usable
    if visible < _TALLEST_SUBJECT_M:
        problems.append(f"camera: at the widest vertical_fov_deg ({cam.vertical_fov_deg[1]:g}) and farthest "
                        f"distance_m ({cam.distance_m[1]:g}) the frame spans {visible:.2f} m, less than a "
                        f"{_TALLEST_SUBJECT_M} m subject; raise either")
    return problems


def spec_from_dict(raw: dict[str, Any]) -> JobSpec:
    """Validate a parsed TOML document; SynthError listing every problem, one per line."""
    spec = JobSpec(**build_sections(raw, _SECTION_CLASSES, _LIMITS, "job spec"))
    problems = _cross_checks(spec)
    if problems:
        raise SynthError("invalid job spec:\n  " + "\n  ".join(problems))
    return spec


def load_spec(path: Path, overrides: list[str] = ()) -> JobSpec:
    """Read a job TOML, apply `section.key=value` overrides, validate."""
    raw = read_toml(path, "job spec")
    apply_overrides(raw, overrides)
    return spec_from_dict(raw)
