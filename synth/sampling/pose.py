"""Capture-pose sampler: the A-pose people are asked to hold, with jitter."""
from __future__ import annotations

import numpy as np

from body_models.capture_pose import POSE_DOFS
from synth.config import PoseSection


def _range_of(section: PoseSection, dof: str) -> tuple[float, float]:
    base = dof.removesuffix("_l").removesuffix("_r")
    return getattr(section, f"{base}_deg")


def sample_capture_pose(rng: np.random.Generator, section: PoseSection) -> np.ndarray:
    """One capture-pose vector (len(POSE_DOFS),) float32, radians.

    Each angle is uniform over its configured range (left and right independent), plus
    U(-extra_jitter_deg, extra_jitter_deg).
    """
    ranges = np.radians([_range_of(section, dof) for dof in POSE_DOFS])
    angles = rng.uniform(ranges[:, 0], ranges[:, 1])
    jitter = np.radians(section.extra_jitter_deg)
    angles = angles + rng.uniform(-jitter, jitter, len(POSE_DOFS))
    return angles.astype(np.float32)
