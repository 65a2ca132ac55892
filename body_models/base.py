"""The interface every body model backend implements, and its typed values.

World frame shared by every backend ("canonical frame"): meters, right-handed,
+y up, the subject faces +z, the subject's left is +x. A backend converts its native
frame into this one with a fixed rotation (`native_to_world`); placement on the
ground (feet at y = 0, root joint over the origin) is done by the pipeline, not here.
"""
from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ParamSpace:
    """One named, flat parameter vector a backend takes.

    labels: one name per component; low/high: the valid range (inclusive), one number
    for every component or one per component; unit: what the numbers mean
    ("unitless", "radians", ...).
    """

    name: str
    labels: tuple[str, ...]
    low: float | tuple[float, ...]
    high: float | tuple[float, ...]
    unit: str

    @property
    def size(self) -> int:
        return len(self.labels)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high), each (size,) float32."""
        return tuple(np.broadcast_to(np.asarray(b, np.float32), (self.size,)).copy()
                     for b in (self.low, self.high))


@dataclass(frozen=True)
class BodyOutput:
    """Result of a batched forward pass, in the canonical world frame.

    vertices: (B, V, 3) meters. joints: (B, J, 3) meters. Tensors keep the autograd
    graph so trainers can take losses through them.
    """

    vertices: torch.Tensor
    joints: torch.Tensor


@dataclass(frozen=True)
class ShapePrior:
    """What the user asks of sampled shapes; each backend uses the fields that apply.

    age_years: (low, high) morphological age in years (Anny). beta_sigma: standard
    deviation of every beta component (SMPL family). female_share: probability that a
    body is female (Anny: gender phenotype above 0.5; SMPL family: gender "mixed").
    """

    age_years: tuple[float, float] = (18.0, 80.0)
    beta_sigma: float = 1.0
    female_share: float = 0.5

    def gender_from_uniform(self, u: float) -> float:
        """Map a uniform draw u in [0, 1) to Anny's gender phenotype in [0, 1] (above 0.5 is
        female) so that P(gender > 0.5) = female_share; uniform within each half, and the
        identity (bit for bit) at female_share = 0.5."""
        male_share = 1.0 - self.female_share
        if u < male_share:
            return 0.5 * u / male_share
        return 0.5 + 0.5 * (u - male_share) / self.female_share


@dataclass(frozen=True)
class Skeleton:
    """Names of the backend joints that the capture-pose description drives.

    Each entry names a native joint; `spine` and `neck` list joints that share a
    rotation evenly. `joint_names` is the full list of joints the forward pass returns.
    """

    joint_names: tuple[str, ...]
    shoulder: tuple[str, str]
    elbow: tuple[str, str]
    wrist: tuple[str, str]
    hip: tuple[str, str]
    knee: tuple[str, str]
    ankle: tuple[str, str]
    spine: tuple[str, ...]
    neck: tuple[str, ...]

    def index(self, name: str) -> int:
        return self.joint_names.index(name)


class BodyModel(abc.ABC):
    """A parametric body: shape and native pose vectors in, meshes out.

    Subclasses set `name`, `version`, `shape_space`, `pose_space`, `skeleton`,
    `faces` ((F, 3) int64 triangles), `native_to_world` ((3, 3) rotation taking
    native coordinates to the canonical frame), `joint_parents` ((J', ) int64, each
    joint's parent, -1 for the root; J' >= J may add joints the forward pass does not
    return, e.g. fingers, numbered after them), `skin_joints` ((V,) int64, the joint
    each vertex is skinned to most, indexing `joint_parents`) and optionally
    `landmarks` (vertex ids of named surface landmarks the topology knows, e.g.
    "navel"), and implement `_forward_native`.
    Native pose vectors are per-joint axis-angle rotations (radians) about axes
    aligned with the native frame, composed parent-first, flattened (J * 3).
    """

    name: str
    version: str
    shape_space: ParamSpace
    pose_space: ParamSpace
    skeleton: Skeleton
    faces: np.ndarray
    native_to_world: np.ndarray
    joint_parents: np.ndarray
    skin_joints: np.ndarray
    landmarks: dict[str, int] = {}

    @abc.abstractmethod
    def _forward_native(self, shape: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Vertices (B, V, 3) and joints (B, J, 3) in the native frame, meters."""

    def forward(self, shape: torch.Tensor, pose: torch.Tensor) -> BodyOutput:
        """Pose a batch of bodies.

        shape: (B, shape_space.size); pose: (B, pose_space.size) native axis-angles
        in radians. Returns vertices and joints in the canonical frame (meters, +y up,
        facing +z), not yet placed on the ground.
        """
        if shape.ndim != 2 or shape.shape[1] != self.shape_space.size:
            raise ValueError(f"shape must be (B, {self.shape_space.size}), got {tuple(shape.shape)}")
        if pose.ndim != 2 or pose.shape[1] != self.pose_space.size:
            raise ValueError(f"pose must be (B, {self.pose_space.size}), got {tuple(pose.shape)}")
        vertices, joints = self._forward_native(shape, pose)
        rot = torch.as_tensor(self.native_to_world, dtype=vertices.dtype, device=vertices.device)
        return BodyOutput(vertices=vertices @ rot.T, joints=joints @ rot.T)

    def _forward_native_and_neutral(self, shape: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """`_forward_native` in `pose` and in the neutral pose (`rest_pose`): posed vertices
        and joints, then neutral ones. Backends that can share work between the two override it."""
        neutral = torch.as_tensor(np.tile(self.rest_pose(), (len(shape), 1)))
        return (*self._forward_native(shape, pose)[:2], *self._forward_native(shape, neutral)[:2])

    def pose_and_neutral_arrays(self, shapes: np.ndarray, poses: np.ndarray) -> tuple[np.ndarray, ...]:
        """Like `pose_arrays`, then the same bodies in the neutral pose (what labels measure):
        posed vertices (B, V, 3), joints (B, J, 3), neutral vertices, neutral joints."""
        with torch.no_grad():
            parts = self._forward_native_and_neutral(torch.tensor(np.asarray(shapes)), torch.tensor(np.asarray(poses)))
        rot = torch.as_tensor(self.native_to_world, dtype=parts[0].dtype)
        return tuple((part @ rot.T).double().numpy() for part in parts)

    def pose_arrays(self, shapes: np.ndarray, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`forward` on numpy arrays (B, S) and (B, P), without gradients: vertices (B, V, 3)
        and joints (B, J, 3), float64, canonical frame. The inputs are copied into torch's own
        (64-byte aligned) memory: MKL's results may depend on its inputs' alignment, which
        numpy's allocations leave to chance."""
        with torch.no_grad():
            out = self.forward(torch.tensor(np.asarray(shapes)), torch.tensor(np.asarray(poses)))
        return out.vertices.double().numpy(), out.joints.double().numpy()

    @abc.abstractmethod
    def sample_shapes(self, rngs: Sequence[np.random.Generator], prior: ShapePrior) -> np.ndarray:
        """Shape vectors (len(rngs), shape_space.size) float32, row i drawn from `rngs[i]` only,
        so a row does not depend on which other generators share the call."""

    @abc.abstractmethod
    def female_fraction(self, shape: np.ndarray) -> float:
        """Sex of a body for sex-specific formulas: 0 male, 1 female, 0.5 neutral/unknown."""

    def age_years(self, shapes: np.ndarray) -> np.ndarray:
        """(N,) the age in years each shape (N, S) depicts; NaN where the shape space has none."""
        return np.full(len(shapes), np.nan)

    def with_age(self, shapes: np.ndarray, age_years: np.ndarray) -> np.ndarray:
        """`shapes` (N, S) made to depict `age_years` (N,) where finite; unchanged where the
        shape space has no age."""
        return shapes

    def neutral_shape(self) -> np.ndarray:
        """The shape vector of the model's average body, (shape_space.size,) float32."""
        low, high = self.shape_space.bounds()
        return 0.5 * (low + high)

    def rest_pose(self) -> np.ndarray:
        """The native pose vector that leaves every joint at rest, (pose_space.size,)."""
        return np.zeros(self.pose_space.size, np.float32)
