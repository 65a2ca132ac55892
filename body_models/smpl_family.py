"""SMPL, SMPL-H and SMPL-X through the `smplx` package, from files the user supplies.

The files are licensed by the Max Planck Institute and are never shipped or
downloaded here. Native frame: meters, +y up, the subject faces +z, left is +x (the
canonical frame). Shape: `num_betas` betas. Pose: axis-angle per body joint
(global orientation first), hands flat, jaw/eyes/expression at rest.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from body_models.base import BodyModel, ParamSpace, ShapePrior, Skeleton
from body_models.convert import load_model_file
from body_models.errors import SynthError

SMPL_BODY_JOINTS: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
"""SMPL's 24 joints; SMPL-H and SMPL-X drive the first 22 and pose hands separately."""

GENDERS = ("neutral", "female", "male")
"""Genders of the SMPL-family model files."""
MIXED = "mixed"
"""The job-level gender that poses each body with the female or the male file (`smpl_mixed`)."""
_SITES = {
    "smpl": "https://smpl.is.tue.mpg.de",
    "smplh": "https://mano.is.tue.mpg.de",
    "smplx": "https://smpl-x.is.tue.mpg.de",
}


def model_file_candidates(model_type: str, gender: str, model_path: Path) -> list[Path]:
    """Where a `model_type` file of `gender` is looked for under `model_path`, in order.

    `model_path` may be the file itself, or a folder laid out like smplx expects
    (`<dir>/smpl/SMPL_NEUTRAL.pkl`) or flat (`<dir>/SMPL_NEUTRAL.npz`).
    """
    model_path = Path(model_path)
    if model_path.is_file():
        return [model_path]
    stem = f"{model_type.upper()}_{gender.upper()}"
    return [folder / f"{stem}.{ext}" for folder in (model_path / model_type, model_path) for ext in ("npz", "pkl")]


def find_model_file(model_type: str, gender: str, model_path: Path | None) -> Path:
    """The first existing candidate file, or a SynthError saying where it looked."""
    if model_path is None:
        raise SynthError(f"The {model_type} backend needs model files: pass --model-path DIR or set "
                         f"SYNTH_MODEL_PATH (get them from {_SITES[model_type]} under its licence).")
    candidates = model_file_candidates(model_type, gender, model_path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise SynthError(f"No {model_type} {gender} model file found; looked for {looked}. Download it from "
                     f"{_SITES[model_type]} (licensed, registration needed) and, for an official .pkl, run "
                     "`synth models convert SRC.pkl DST.npz`.")


class SMPLFamilyBody(BodyModel):
    """One gender of SMPL / SMPL-H / SMPL-X, batched forward through smplx."""

    def __init__(self, model_type: str, model_path: Path | None, gender: str = "neutral",
                 num_betas: int = 10) -> None:
        import smplx
        from smplx.utils import Struct

        if model_type not in _SITES:
            raise SynthError(f"Unknown SMPL-family type {model_type!r}; use one of {', '.join(_SITES)}.")
        if gender not in GENDERS:
            raise SynthError(f"Unknown gender {gender!r}; use one of {', '.join(GENDERS)}.")
        path = find_model_file(model_type, gender, model_path)
        arrays = load_model_file(path)
        available = arrays["shapedirs"].shape[-1]
        if model_type == "smplx":
            available = min(available, 300)
        if not 1 <= num_betas <= available:
            raise SynthError(f"num_betas = {num_betas} but {path} has {available} shape components; "
                             f"use 1..{available}.")
        kwargs = {"use_pca": False, "flat_hand_mean": True} if model_type != "smpl" else {}
        cls = {"smpl": smplx.SMPL, "smplh": smplx.SMPLH, "smplx": smplx.SMPLX}[model_type]
        try:
            # smplx prints "WARNING: You are using a SMPL model, with only 10 shape coefficients"
            # for every file with fewer than its maximum; num_betas is checked above instead.
            with contextlib.redirect_stdout(io.StringIO()):
                self._model = cls(model_path=str(path), data_struct=Struct(**arrays), gender=gender,
                                  num_betas=num_betas, **kwargs)
        except (KeyError, AttributeError, ValueError, RuntimeError) as err:
            raise SynthError(f"{path} does not look like a {model_type} model file "
                             f"({type(err).__name__}: {err}).") from err
        self._model.requires_grad_(False)
        self.name = model_type
        self.version = f"{model_type}-{gender}-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
        self.model_file = path
        joints = SMPL_BODY_JOINTS if model_type == "smpl" else SMPL_BODY_JOINTS[:22]
        self.shape_space = ParamSpace("shape", tuple(f"beta{i}" for i in range(num_betas)), -5.0, 5.0, "std")
        self.pose_space = ParamSpace("pose", tuple(f"{j}_{a}" for j in joints for a in "xyz"),
                                     -np.pi, np.pi, "radians")
        self.skeleton = Skeleton(
            joint_names=joints,
            shoulder=("left_shoulder", "right_shoulder"),
            elbow=("left_elbow", "right_elbow"),
            wrist=("left_wrist", "right_wrist"),
            hip=("left_hip", "right_hip"),
            knee=("left_knee", "right_knee"),
            ankle=("left_ankle", "right_ankle"),
            spine=("spine1", "spine2", "spine3"),
            neck=("neck", "head"),
        )
        self.faces = np.asarray(arrays["f"], np.int64)
        self.native_to_world = np.eye(3)
        self.joint_parents = self._model.parents.cpu().numpy().astype(np.int64)
        self.joint_parents[0] = -1
        self.skin_joints = self._model.lbs_weights.cpu().numpy().argmax(1).astype(np.int64)
        self._female = {"male": 0.0, "female": 1.0, "neutral": 0.5}[gender]

    def _forward_native(self, shape: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = pose.shape[0]
        dtype = self._model.shapedirs.dtype
        pose = pose.to(dtype)
        extra: dict[str, torch.Tensor] = {}
        if self.name in ("smplh", "smplx"):
            extra["left_hand_pose"] = torch.zeros(batch, 45, dtype=dtype)
            extra["right_hand_pose"] = torch.zeros(batch, 45, dtype=dtype)
        if self.name == "smplx":
            for key in ("jaw_pose", "leye_pose", "reye_pose"):
                extra[key] = torch.zeros(batch, 3, dtype=dtype)
            extra["expression"] = torch.zeros(batch, self._model.num_expression_coeffs, dtype=dtype)
        out = self._model(betas=shape.to(dtype), global_orient=pose[:, :3], body_pose=pose[:, 3:],
                          transl=torch.zeros(batch, 3, dtype=dtype), **extra)
        return out.vertices, out.joints[:, : len(self.skeleton.joint_names)]

    def sample_shapes(self, rngs: Sequence[np.random.Generator], prior: ShapePrior) -> np.ndarray:
        """Betas (len(rngs), num_betas) from N(0, prior.beta_sigma^2), clipped to the valid range.

        `prior.age_years` is unused: SMPL-family shape spaces have no age axis.
        """
        betas = np.stack([rng.normal(0.0, prior.beta_sigma, self.shape_space.size) for rng in rngs])
        return np.clip(betas, self.shape_space.low, self.shape_space.high).astype(np.float32)

    def female_fraction(self, shape: np.ndarray) -> float:
        """The model file's gender: 0 male, 1 female, 0.5 neutral."""
        return self._female
