"""The directions in Anny's body shape space that calibration and fitting move.

A sampled "style" shape (its sex, age, muscle, proportions, ancestry, cupsize and
local-target noise, see `AnnyBody.sample_shapes`) is moved by a lever vector z (N, L):
- z[:, 0], height: sets the height phenotype (0..1);
- z[:, 1], adiposity: adds `a * ADIPOSITY[label]` to every fat and girth local target and
  `a * WEIGHT_PER_ADIPOSITY` to the weight phenotype; a = 1 takes a mid body from BMI ~22
  to ~40;
- z[:, 2:], shaping: one offset per `SHAPING` local target (where a body carries its size:
  bust, waist, belly, hips, buttocks, neck, thighs, calves, torso width and depth).
Every component is then clipped to the shape space's bounds.
"""
from __future__ import annotations

import numpy as np

from body_models import BodyModel, SynthError
from synth.population.rowwise import rowwise

ADIPOSITY: dict[str, float] = {label: 1.0 for label in (
    "stomach-pregnant-incr", "measure-waist-circ-incr", "measure-hips-circ-incr", "measure-bust-circ-incr",
    "measure-underbust-circ-incr", "buttocks-volume-incr", "neck-double-incr", "measure-neck-circ-incr",
    "upperarm-fat-incr", "lowerarm-fat-incr", "upperleg-fat-incr", "lowerleg-fat-incr",
    "measure-upperarm-circ-incr", "measure-thigh-circ-incr", "measure-calf-circ-incr",
    "hip-scale-depth-incr", "torso-scale-horiz-incr", "torso-scale-depth-incr")}
WEIGHT_PER_ADIPOSITY = 0.5
SHAPING: tuple[str, ...] = (
    "measure-bust-circ-incr", "measure-underbust-circ-incr", "torso-scale-horiz-incr", "torso-scale-depth-incr",
    "measure-waist-circ-incr", "stomach-pregnant-incr", "measure-hips-circ-incr", "buttocks-volume-incr",
    "hip-scale-horiz-incr", "hip-scale-depth-incr", "measure-neck-circ-incr", "neck-double-incr",
    "upperleg-fat-incr", "measure-thigh-circ-incr", "lowerleg-fat-incr", "measure-calf-circ-incr")
HEIGHT_RANGE = (0.0, 1.0)
ADIPOSITY_RANGE = (-0.8, 2.0)


class LeverMap:
    """Applies lever vectors to style shapes of one body model's shape space."""

    def __init__(self, model: BodyModel) -> None:
        labels = model.shape_space.labels
        missing = [k for k in ("height", "weight", "gender", *ADIPOSITY, *SHAPING) if k not in labels]
        if missing:
            raise SynthError(f"population calibration needs Anny's body shape space (body_model.shape_space = "
                             f"\"body\"); {model.name} {model.version} lacks {', '.join(missing[:3])}")
        self.labels = labels
        self.low, self.high = model.shape_space.bounds()
        self.height = labels.index("height")
        self.female = labels.index("gender")
        self.direction = self._vector({"weight": WEIGHT_PER_ADIPOSITY, **ADIPOSITY})
        self.shaping = np.stack([self._vector({label: 1.0}) for label in SHAPING])  # (len(SHAPING), S)

    @property
    def size(self) -> int:
        """L: height, adiposity, then one per `SHAPING` target."""
        return 2 + len(SHAPING)

    def _vector(self, steps: dict[str, float]) -> np.ndarray:
        vector = np.zeros(len(self.labels))
        for label, step in steps.items():
            vector[self.labels.index(label)] = step
        return vector

    def neutral(self, n: int) -> np.ndarray:
        """(n, L) levers that move nothing but set the height phenotype to 0.5."""
        z = np.zeros((n, self.size))
        z[:, 0] = 0.5
        return z

    def _moved(self, style: np.ndarray, z: np.ndarray) -> np.ndarray:
        shapes = style.astype(np.float64) + z[:, 1:2] * self.direction + rowwise(z[:, 2:], self.shaping)
        shapes[:, self.height] = z[:, 0]
        return shapes

    def apply(self, style: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Shapes (N, S) float64: `style` (N, S) moved by levers `z` (N, L), clipped to the bounds."""
        return np.clip(self._moved(style, z), self.low, self.high)

    def tangents(self, style: np.ndarray, z: np.ndarray) -> np.ndarray:
        """(N, S, L) the derivative of `apply` in each lever (zero along a clipped component)."""
        moved = self._moved(style, z)
        free = (moved > self.low) & (moved < self.high)  # (N, S)
        columns = np.zeros((len(self.labels), self.size))
        columns[self.height, 0] = 1.0
        columns[:, 1] = self.direction
        columns[self.height, 1] = 0.0
        columns[:, 2:] = self.shaping.T
        return free[..., None] * columns[None]

    def is_female(self, style: np.ndarray) -> np.ndarray:
        """(N,) bool: Anny's gender phenotype above 0.5."""
        return style[:, self.female] > 0.5
