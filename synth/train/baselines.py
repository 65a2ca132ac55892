"""Closed-form baselines that `synth eval` reports beside the net, fitted on the training split.

- `scalars`: ridge regression of the shape vector on the scalar inputs the net gets
  (the typed height and/or weight, for checkpoints trained with them); absent when the net
  takes none.
- `silhouettes`: ridge regression of the shape vector on the views' framed silhouettes
  downsampled to `BASELINE_PIXELS` x `BASELINE_PIXELS`, plus those scalar inputs.
- for nets with measurement heads, the same ridge regressing the measurements directly
  (labels a row lacks filled with the training mean), so heads are compared with heads.
Features are standardised; the ridge strength is picked from `RIDGES` on the last fifth of
the training rows, then the model is refitted on all of them. Shape baselines are measured
on their neutral mesh; their posed-body errors use the training mean pose.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from synth.train.data import SilhouetteStream
from synth.train.framing import pool_silhouettes
from synth.train.model import SCALAR_INPUTS, NetConfig

BASELINE_PIXELS = 32
RIDGES = (0.1, 1.0, 10.0, 100.0, 1000.0)
# features vary at least this much once standardised: a pooled pixel the body covers in
# almost no training frame would otherwise be scaled up until a test frame's fringe there swamps the fit
_MIN_STD = 0.05


def baseline_features(batch: dict[str, torch.Tensor], silhouettes: bool, scalars: tuple[str, ...]) -> np.ndarray:
    """(B, F) float64 features of a batch: pooled silhouettes and/or the batch keys `scalars`."""
    parts = [batch[key].double().numpy()[:, None] for key in scalars]
    if silhouettes:
        parts.append(pool_silhouettes(batch["silhouettes"], BASELINE_PIXELS).double().numpy())
    return np.concatenate(parts, 1)


@dataclass(frozen=True)
class RidgeBaseline:
    """target (the batch key "shape" or "measurements") = ((x - x_mean) / x_std) @ weights
    + y_mean; ridge: the chosen strength."""

    name: str
    target: str
    silhouettes: bool
    scalars: tuple[str, ...]
    x_mean: np.ndarray
    x_std: np.ndarray
    weights: np.ndarray
    y_mean: np.ndarray
    ridge: float

    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = (baseline_features(batch, self.silhouettes, self.scalars) - self.x_mean) / self.x_std
        return torch.from_numpy(x @ self.weights + self.y_mean).float()


def _solve(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """(F, T) ridge weights for centred features x (N, F) and centred targets y (N, T)."""
    return np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)


def _choose_ridge(x: np.ndarray, y: np.ndarray) -> float:
    """The strength from `RIDGES` with the lowest squared error on the last fifth of the
    rows when fitted on the rest (x, y centred)."""
    split = int(0.8 * len(x))
    errors = [((x[split:] @ _solve(x[:split], y[:split], r) - y[split:]) ** 2).mean() for r in RIDGES]
    return RIDGES[int(np.argmin(errors))]


def _fit(name: str, target: str, x: np.ndarray, y: np.ndarray, silhouettes: bool,
         scalars: tuple[str, ...]) -> RidgeBaseline:
    x_mean, x_std = x.mean(0), np.maximum(x.std(0), _MIN_STD)
    with warnings.catch_warnings():  # a label no row has (volume of an open mesh) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        y_mean = np.nanmean(y, 0)
    xs, yc = (x - x_mean) / x_std, np.nan_to_num(y - y_mean)
    ridge = _choose_ridge(xs, yc)
    return RidgeBaseline(name, target, silhouettes, scalars, x_mean, x_std, _solve(xs, yc, ridge), y_mean, ridge)


def fit_baselines(train: SilhouetteStream, net: NetConfig, rows: int) -> list[RidgeBaseline]:
    """The baselines of the module docstring for a net's inputs and outputs, fitted on up
    to `rows` training rows."""
    taken = [(name, key) for name, (flag, key, _, _) in SCALAR_INPUTS.items() if getattr(net, flag)]
    scalars = tuple(key for _, key in taken)
    batches, seen = [], 0
    for batch in DataLoader(train, batch_size=64):
        batches.append(batch)
        seen += len(batch["shape"])
        if seen >= rows:
            break
    words = " + ".join(name.split("_")[0] for name, _ in taken)  # "height_m" -> "height"
    inputs = [(f"ridge on {words}", False)] if scalars else []
    inputs.append((f"ridge on silhouettes{' + ' + words if words else ''}", True))
    targets = [("shape", "")] + ([("measurements", ", to measurements")] if net.measurement_size else [])
    fitted = []
    for target, suffix in targets:
        y = np.concatenate([b[target].double().numpy() for b in batches])
        for name, silhouettes in inputs:
            x = np.concatenate([baseline_features(b, silhouettes, scalars) for b in batches])
            fitted.append(_fit(name + suffix, target, x, y, silhouettes, scalars))
    return fitted
