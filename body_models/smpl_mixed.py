"""Female and male SMPL-family bodies in one job (`gender = "mixed"`).

The shape vector is the betas followed by one `female` entry: above 0.5 the body is
posed with the female model file, else with the male one. Both files must share one
topology (they do for the official SMPL, SMPL-H and SMPL-X releases).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from body_models.base import BodyModel, ParamSpace, ShapePrior
from body_models.errors import SynthError
from body_models.smpl_family import SMPLFamilyBody


def _is_female(shape):
    """Which bodies use the female file: last shape entry above 0.5 (numpy or torch, (..., S))."""
    return shape[..., -1] > 0.5


class SMPLFamilyMixedBody(BodyModel):
    """SMPL / SMPL-H / SMPL-X with the gender chosen per body by the last shape entry."""

    def __init__(self, model_type: str, model_path: Path | None, num_betas: int = 10) -> None:
        self._female = SMPLFamilyBody(model_type, model_path, "female", num_betas)
        self._male = SMPLFamilyBody(model_type, model_path, "male", num_betas)
        if not np.array_equal(self._female.faces, self._male.faces):
            raise SynthError(f"{self._female.model_file} and {self._male.model_file} have different meshes; "
                             "gender = 'mixed' needs female and male files of one release.")
        betas = self._female.shape_space
        self.name = model_type
        digests = (body.version.rsplit("-", 1)[1] for body in (self._female, self._male))
        self.version = f"{model_type}-mixed-" + "-".join(digests)
        self.shape_space = ParamSpace("shape", (*betas.labels, "female"), betas.low, betas.high, betas.unit)
        self.pose_space = self._female.pose_space
        self.skeleton = self._female.skeleton
        self.faces = self._female.faces
        self.native_to_world = np.eye(3)
        self.joint_parents = self._female.joint_parents
        self.skin_joints = self._female.skin_joints

    def _forward_native(self, shape: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Both models run on the whole batch (cheap next to rendering), then each row takes
        # its own; gradients reach the betas of either.
        female = self._female.forward(shape[:, :-1], pose)  # both native frames are the canonical one
        male = self._male.forward(shape[:, :-1], pose)
        is_female = _is_female(shape)[:, None, None]
        return (torch.where(is_female, female.vertices, male.vertices),
                torch.where(is_female, female.joints, male.joints))

    def sample_shapes(self, rngs: Sequence[np.random.Generator], prior: ShapePrior) -> np.ndarray:
        """Betas as the single-gender backend draws them, then female (1) with probability
        `prior.female_share`, else male (0); row i from `rngs[i]` only."""
        betas = self._female.sample_shapes(rngs, prior)
        female = np.array([[float(rng.uniform() < prior.female_share)] for rng in rngs], np.float32)
        return np.concatenate([betas, female], 1)

    def female_fraction(self, shape: np.ndarray) -> float:
        """1 for a body posed with the female file, 0 for the male one."""
        return float(_is_female(shape))
