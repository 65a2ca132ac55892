"""One description of the capture pose, mapped onto every backend's native pose.

The capture pose is a small vector of anatomical angles (radians), the same for
every backend. Angles marked *absolute* are measured on the body itself (an arm hanging
straight down has shoulder abduction 0; a T-pose has pi/2), so a backend whose rest
pose is an A-pose (Anny) and one whose rest pose is a T-pose (SMPL) reach the same
posture from the same numbers. The others are offsets from the rest posture.

Rotations are built about axes of the canonical frame (+x subject's left, +y up, +z
forward) at each joint and conjugated into the backend's native frame. A positive
angle means: abduction away from the body, flexion of shoulder/elbow forward, knee
flexion backward, spine flexion forward, spine lateral toward the subject's left,
head pitch down, head yaw toward the subject's left.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from body_models.base import BodyModel

POSE_DOFS: tuple[str, ...] = (
    "shoulder_abduction_l", "shoulder_abduction_r",
    "shoulder_flexion_l", "shoulder_flexion_r",
    "elbow_flexion_l", "elbow_flexion_r",
    "hip_abduction_l", "hip_abduction_r",
    "knee_flexion_l", "knee_flexion_r",
    "spine_flexion", "spine_lateral",
    "head_pitch", "head_yaw",
)
"""Names of the capture-pose vector's components, in order (all radians)."""

_X, _Y, _Z = np.eye(3)
_SIDES = ((0, 1.0), (1, -1.0))  # (index into the skeleton's (left, right) pairs, lateral sign)


@dataclass(frozen=True)
class _Drive:
    """One capture-pose component acting on native joints about a canonical axis."""

    dof: int
    joints: tuple[str, ...]
    axis: np.ndarray
    rest_angle: float


def _frontal_angle(vector: np.ndarray, lateral_sign: float) -> float:
    """Angle (radians) of a limb from straight down, toward the subject's side."""
    return float(np.arctan2(lateral_sign * vector[0], -vector[1]))


def _elbow_flexion(upper: np.ndarray, fore: np.ndarray) -> tuple[np.ndarray, float]:
    """Flexion axis and rest angle (radians) of an elbow.

    The axis is normal to the plane of the rest arm, so the rest angle is exact; for a
    straight rest arm (T-pose) the plane is taken through the forward direction.
    """
    cos = np.dot(upper, fore) / (np.linalg.norm(upper) * np.linalg.norm(fore))
    normal = np.cross(upper, fore)
    if np.linalg.norm(normal) < 1e-3 * np.linalg.norm(upper) * np.linalg.norm(fore):
        normal = np.cross(fore, _Z)
    return normal / np.linalg.norm(normal), float(np.arccos(np.clip(cos, -1.0, 1.0)))


def _sagittal_angle(vector: np.ndarray) -> float:
    """Angle (radians) of a limb from straight down, toward the back."""
    return float(np.arctan2(-vector[2], -vector[1]))


class CapturePoseMapper:
    """Maps capture-pose vectors (B, len(POSE_DOFS)) to a backend's native pose (B, P)."""

    def __init__(self, model: BodyModel) -> None:
        self._model = model
        rest = model.forward(
            torch.as_tensor(model.neutral_shape())[None], torch.as_tensor(model.rest_pose())[None]
        ).joints[0].detach().cpu().double().numpy()
        self._drives = self._build_drives(model, rest)

    @staticmethod
    def _build_drives(model: BodyModel, rest: np.ndarray) -> list[_Drive]:
        sk = model.skeleton

        def at(name: str) -> np.ndarray:
            return rest[sk.index(name)]

        dof = POSE_DOFS.index
        drives: list[_Drive] = []
        for side, sign in _SIDES:
            suffix = "_l" if side == 0 else "_r"
            upper = at(sk.elbow[side]) - at(sk.shoulder[side])
            fore = at(sk.wrist[side]) - at(sk.elbow[side])
            thigh = at(sk.knee[side]) - at(sk.hip[side])
            shin = at(sk.ankle[side]) - at(sk.knee[side])
            elbow_axis, elbow_rest = _elbow_flexion(upper, fore)
            drives += [
                _Drive(dof("shoulder_abduction" + suffix), (sk.shoulder[side],), sign * _Z, _frontal_angle(upper, sign)),
                _Drive(dof("shoulder_flexion" + suffix), (sk.shoulder[side],), -_X, 0.0),
                _Drive(dof("elbow_flexion" + suffix), (sk.elbow[side],), elbow_axis, elbow_rest),
                _Drive(dof("hip_abduction" + suffix), (sk.hip[side],), sign * _Z, _frontal_angle(thigh, sign)),
                _Drive(dof("knee_flexion" + suffix), (sk.knee[side],), _X,
                       _sagittal_angle(shin) - _sagittal_angle(thigh)),
            ]
        drives += [
            _Drive(dof("spine_flexion"), sk.spine, _X, 0.0),
            _Drive(dof("spine_lateral"), sk.spine, -_Z, 0.0),
            _Drive(dof("head_pitch"), sk.neck, _X, 0.0),
            _Drive(dof("head_yaw"), sk.neck, _Y, 0.0),
        ]
        return drives

    def to_native(self, capture_pose: np.ndarray) -> np.ndarray:
        """Native pose vectors (B, pose_space.size) float32 for capture poses (B, D) radians."""
        capture_pose = np.asarray(capture_pose, np.float64)
        batch = capture_pose.shape[0]
        sk = self._model.skeleton
        to_native = self._model.native_to_world.T  # world -> native
        rotations: dict[str, np.ndarray] = {}
        for drive in self._drives:
            angle = (capture_pose[:, drive.dof] - drive.rest_angle) / len(drive.joints)
            step = Rotation.from_rotvec(angle[:, None] * drive.axis[None]).as_matrix()
            for joint in drive.joints:
                rotations[joint] = step @ rotations.get(joint, np.eye(3))
        native = np.zeros((batch, len(sk.joint_names), 3))
        for name, world in rotations.items():
            native[:, sk.index(name)] = Rotation.from_matrix(to_native @ world @ to_native.T).as_rotvec()
        return native.reshape(batch, -1).astype(np.float32)
