"""The few directions in Anny's body shape space that calibration moves.

A sampled "style" shape (its own phenotypes, ancestry and local-target noise, see
`AnnyBody.sample_shapes`) is moved along four levers:
- height: sets the height phenotype (0..1);
- adiposity: adds `a * ADIPOSITY[label]` to every fat and girth local target and
  `a * WEIGHT_PER_ADIPOSITY` to the weight phenotype; a = 1 takes a mid body from
  BMI ~22 to ~40;
- waist, hip: offsets along `WAIST_LEVER` (waist girth, belly) and `HIP_LEVER` (hip girth
  and width): where a sex carries its fat, set per sex once for the whole population.
Every component is then clipped to the shape space's bounds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from body_models import BodyModel, SynthError

ADIPOSITY: dict[str, float] = {label: 1.0 for label in (
    "stomach-pregnant-incr", "measure-waist-circ-incr", "measure-hips-circ-incr", "measure-bust-circ-incr",
    "measure-underbust-circ-incr", "buttocks-volume-incr", "neck-double-incr", "measure-neck-circ-incr",
    "upperarm-fat-incr", "lowerarm-fat-incr", "upperleg-fat-incr", "lowerleg-fat-incr",
    "measure-upperarm-circ-incr", "measure-thigh-circ-incr", "measure-calf-circ-incr",
    "hip-scale-depth-incr", "torso-scale-horiz-incr", "torso-scale-depth-incr")}
WEIGHT_PER_ADIPOSITY = 0.5
WAIST_LEVER: dict[str, float] = {"measure-waist-circ-incr": 1.0, "stomach-pregnant-incr": 0.5}
HIP_LEVER: dict[str, float] = {"measure-hips-circ-incr": 1.0, "hip-scale-horiz-incr": 0.5}


@dataclass(frozen=True)
class Levers:
    """Per-body lever values, each (N,) float64 (see the module docstring)."""

    height: np.ndarray
    adiposity: np.ndarray
    waist: np.ndarray
    hip: np.ndarray


class LeverMap:
    """Applies `Levers` to style shapes of one body model's shape space."""

    def __init__(self, model: BodyModel) -> None:
        labels = model.shape_space.labels
        missing = [k for k in ("height", "weight", *ADIPOSITY, *WAIST_LEVER, *HIP_LEVER) if k not in labels]
        if missing:
            raise SynthError(f"population calibration needs Anny's body shape space (body_model.shape_space = "
                             f"\"body\"); {model.name} {model.version} lacks {', '.join(missing[:3])}")
        self.labels = labels
        self.low, self.high = model.shape_space.bounds()
        self.height = labels.index("height")
        self.female = labels.index("gender")
        self.direction = self._vector({"weight": WEIGHT_PER_ADIPOSITY, **ADIPOSITY})
        self.waist = self._vector(WAIST_LEVER)
        self.hip = self._vector(HIP_LEVER)

    def _vector(self, steps: dict[str, float]) -> np.ndarray:
        vector = np.zeros(len(self.labels))
        for label, step in steps.items():
            vector[self.labels.index(label)] = step
        return vector

    def apply(self, style: np.ndarray, levers: Levers) -> np.ndarray:
        """Shapes (N, S) float64: `style` (N, S) moved by `levers`, clipped to the bounds."""
        shapes = (style.astype(np.float64) + levers.adiposity[:, None] * self.direction
                  + levers.waist[:, None] * self.waist + levers.hip[:, None] * self.hip)
        shapes[:, self.height] = levers.height
        return np.clip(shapes, self.low, self.high)

    def is_female(self, style: np.ndarray) -> np.ndarray:
        """(N,) bool: Anny's gender phenotype above 0.5."""
        return style[:, self.female] > 0.5
