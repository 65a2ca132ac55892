"""Sample and pose subjects: spec + subject indices -> posed bodies with framed cameras.

Every random choice of subject i comes from `subject_rng(seed, i)`, in a fixed
order (shape, capture pose, then one camera per view), so the result depends only on
(spec, i), never on batching or workers. Parameters are rounded to float32 before the
forward pass, so the stored values reproduce the stored geometry exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from body_models import BodyModel, ShapePrior
from body_models.capture_pose import CapturePoseMapper
from synth.camera import Camera
from synth.config import JobSpec
from synth.population.sampler import ShapeSampler
from synth.sampling.camera import sample_framed_cameras
from synth.sampling.pose import sample_capture_pose
from synth.sampling.rng import subject_rng


@dataclass(frozen=True)
class View:
    """One capture view: its name, camera, and how many camera draws framing took."""

    name: str
    camera: Camera
    attempts: int


@dataclass(frozen=True)
class Subject:
    """A posed body placed in the world frame (meters, +y up, facing +z).

    shape: (S,) backend shape vector; capture_pose: (len(POSE_DOFS),) radians; pose:
    (P,) backend native pose (radians); translation: (3,) meters added to the
    backend's forward output to stand the body on y = 0 with its root over the origin;
    vertices: (V, 3) float32 and joints: (J, 3) float32, placed.
    """

    index: int
    shape: np.ndarray
    capture_pose: np.ndarray
    pose: np.ndarray
    translation: np.ndarray
    vertices: np.ndarray
    joints: np.ndarray
    views: tuple[View, ...]


def place_on_ground(vertices: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Translation (3,) float32 putting the lowest vertex on y = 0 and the root joint
    (joint 0) over x = z = 0."""
    return np.array([-joints[0, 0], -vertices[:, 1].min(), -joints[0, 2]], np.float32)


def shape_prior(spec: JobSpec) -> ShapePrior:
    return ShapePrior(age_years=spec.shape.age_years, beta_sigma=spec.shape.beta_sigma,
                      female_share=spec.shape.female_share)


@dataclass(frozen=True)
class Draws:
    """The random draws of a batch of subjects before posing: their indices, generators
    (still to draw the cameras), shapes (B, S) and capture poses (B, len(POSE_DOFS))."""

    indices: list[int]
    rngs: list[np.random.Generator]
    shapes: np.ndarray
    capture: np.ndarray

    def part(self, start: int, stop: int) -> Draws:
        """The draws of subjects start..stop-1 (positions in this batch)."""
        return Draws(self.indices[start:stop], self.rngs[start:stop], self.shapes[start:stop],
                     self.capture[start:stop])


def draw_subjects(spec: JobSpec, shapes: ShapeSampler, indices: list[int]) -> Draws:
    """Each subject's shape and capture pose, from its own generator; `shapes` is the job's
    shape sampler (`synth.population.sampler.shape_sampler`)."""
    rngs = [subject_rng(spec.job.seed, i) for i in indices]
    drawn = shapes.sample(rngs, indices)
    return Draws(list(indices), rngs, drawn, np.stack([sample_capture_pose(rng, spec.pose) for rng in rngs]))


@dataclass(frozen=True)
class Neutral:
    """Bodies in the neutral pose, what labels measure: vertices (B, V, 3) and joints (B, J, 3),
    float64, world frame, meters, not placed."""

    vertices: np.ndarray
    joints: np.ndarray


def pose_subjects(spec: JobSpec, model: BodyModel, mapper: CapturePoseMapper, draws: Draws,
                  neutral: bool = False) -> tuple[list[Subject], Neutral | None]:
    """Pose (one batched forward pass), place and frame drawn subjects; with `neutral`, also
    their bodies in the neutral pose, from the same pass (`BodyModel.pose_and_neutral_arrays`)."""
    shapes, capture = draws.shapes, draws.capture
    poses = mapper.to_native(capture)
    if neutral:
        vertices, joints, *rest = model.pose_and_neutral_arrays(shapes, poses)
    else:
        (vertices, joints), rest = model.pose_arrays(shapes, poses), None
    subjects = []
    for k, (index, rng) in enumerate(zip(draws.indices, draws.rngs)):
        translation = place_on_ground(vertices[k], joints[k])
        placed = (vertices[k] + translation).astype(np.float32)
        framed = sample_framed_cameras(
            rng, spec.camera, [np.radians(yaw) for yaw in spec.views.yaw_deg], placed,
            [f"subject {index}, view {name}: camera ranges cannot frame the body "
             "(widen camera.vertical_fov_deg or camera.distance_m)" for name in spec.views.names])
        views = [View(name, camera, attempts) for name, (camera, attempts) in zip(spec.views.names, framed)]
        subjects.append(Subject(
            index=index, shape=shapes[k], capture_pose=capture[k], pose=poses[k], translation=translation,
            vertices=placed, joints=(joints[k] + translation).astype(np.float32), views=tuple(views)))
    return subjects, Neutral(*rest) if rest else None


def generate_subjects(spec: JobSpec, model: BodyModel, mapper: CapturePoseMapper, shapes: ShapeSampler,
                      indices: list[int]) -> list[Subject]:
    """Sample, pose, place and frame the subjects `indices` (see `draw_subjects`, `pose_subjects`)."""
    return pose_subjects(spec, model, mapper, draw_subjects(spec, shapes, indices))[0]
