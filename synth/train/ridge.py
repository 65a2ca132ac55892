"""Closed-form ridge regression: the baselines' model and the measurement stack's.

Features are standardised (each std floored at `MIN_STD`), targets centred; the ridge
strength is picked from `RIDGES` by the squared error on the last fifth of the rows when
fitted on the rest, then the model is refitted on all of them. Target values a row lacks
(NaN) count as the target's mean.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

RIDGES = (0.1, 1.0, 10.0, 100.0, 1000.0)
# features vary at least this much once standardised: a pooled pixel the body covers in
# almost no training frame would otherwise be scaled up until a test frame's fringe there swamps the fit
MIN_STD = 0.05


@dataclass(frozen=True)
class Ridge:
    """y = ((x - x_mean) / x_std) @ weights + y_mean; strength: the chosen ridge."""

    x_mean: np.ndarray
    x_std: np.ndarray
    weights: np.ndarray
    y_mean: np.ndarray
    strength: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(N, T) predictions for features x (N, F)."""
        return (x - self.x_mean) / self.x_std @ self.weights + self.y_mean

    def to_dict(self) -> dict[str, list | float]:
        return {"x_mean": self.x_mean.tolist(), "x_std": self.x_std.tolist(), "weights": self.weights.tolist(),
                "y_mean": self.y_mean.tolist(), "strength": self.strength}

    @classmethod
    def from_dict(cls, raw: dict[str, list | float]) -> Ridge:
        return cls(*(np.asarray(raw[k], np.float64) for k in ("x_mean", "x_std", "weights", "y_mean")),
                   float(raw["strength"]))


def _solve(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """(F, T) ridge weights for centred features x (N, F) and centred targets y (N, T)."""
    return np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)


def _choose_ridge(x: np.ndarray, y: np.ndarray) -> float:
    """The strength from `RIDGES` with the lowest squared error on the last fifth of the
    rows when fitted on the rest (x, y centred)."""
    split = int(0.8 * len(x))
    errors = [((x[split:] @ _solve(x[:split], y[:split], r) - y[split:]) ** 2).mean() for r in RIDGES]
    return RIDGES[int(np.argmin(errors))]


def fit_ridge(x: np.ndarray, y: np.ndarray) -> Ridge:
    """The ridge of the module docstring for features x (N, F) and targets y (N, T)."""
    x_mean, x_std = x.mean(0), np.maximum(x.std(0), MIN_STD)
    with warnings.catch_warnings():  # a label no row has (volume of an open mesh) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        y_mean = np.nanmean(y, 0)
    xs, yc = (x - x_mean) / x_std, np.nan_to_num(y - y_mean)
    strength = _choose_ridge(xs, yc)
    return Ridge(x_mean, x_std, _solve(xs, yc, strength), y_mean, strength)
