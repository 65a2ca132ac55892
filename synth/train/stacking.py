"""The measurement stack: a subject's measurements from the net's two readings of them.

The measurement heads regress each measurement from the silhouettes. The predicted neutral
mesh, measured the way the labels are (`synth.measurements`: the tapes at the bust point,
the navel, the narrowest waist, the buttocks), carries the labels' own geometry, which a
regression smooths over. Their errors are loosely correlated (r = 0.2-0.5 on chest, waist
and hip for the 60-minute CPU net), so a ridge (`synth.train.ridge`) from both readings of
every measurement to the labels beats either. `synth train` fits it after the last step on
`run.stack_rows` training rows read as in training (`synth.train.loop.fit_stack`) and
stores it in best.pt; `synth eval` and `synth predict` report its measurements.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.train.ridge import Ridge, fit_ridge


@dataclass(frozen=True)
class MeasurementStack:
    """labels (B, M) = fit(features): the heads' and the mesh's measurements, each divided
    by `scale` (M,), the training labels' std; rows: how many training rows fitted it."""

    scale: np.ndarray
    fit: Ridge
    rows: int

    def __call__(self, heads: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        """(B, M) stacked measurements."""
        return self.fit(stack_features(heads, mesh, self.scale))

    def to_dict(self) -> dict:
        return {"scale": self.scale.tolist(), "fit": self.fit.to_dict(), "rows": self.rows}

    @classmethod
    def from_dict(cls, raw: dict) -> MeasurementStack:
        return cls(np.asarray(raw["scale"], np.float64), Ridge.from_dict(raw["fit"]), int(raw["rows"]))


def stack_features(heads: np.ndarray, mesh: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(B, 2M) from the heads' (B, M) and the mesh's (B, M) measurements, each over `scale`;
    a mesh value that is missing (NaN: the Navy body fat outside its equations' range)
    takes the head's."""
    return np.concatenate([heads, np.where(np.isfinite(mesh), mesh, heads)], 1) / np.tile(scale, 2)


def fit_stack(heads: np.ndarray, mesh: np.ndarray, labels: np.ndarray, scale: np.ndarray) -> MeasurementStack:
    """The stack for training rows' head (N, M) and mesh (N, M) measurements and labels (N, M).
    Rows lacking a label that others have are left out: those are extreme bodies (the Navy
    body fat outside its equations' range), and a ridge would take their missing label as the
    mean (on the 60-minute CPU net that swung the body-fat error between 0.79 and 1.01
    points from one 2,048-row draw to the next; without them, 0.75-0.77)."""
    complete = (np.isfinite(labels) | np.isnan(labels).all(0)).all(1)
    return MeasurementStack(scale, fit_ridge(stack_features(heads, mesh, scale)[complete], labels[complete]),
                            int(complete.sum()))
