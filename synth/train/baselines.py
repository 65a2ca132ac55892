"""Closed-form baselines that `synth eval` reports beside the net, fitted on the training split.

- `scalars`: ridge regression of the shape vector on the scalar inputs the net gets
  (the typed height and/or weight, for checkpoints trained with them); absent when the net
  takes none.
- `silhouettes`: ridge regression of the shape vector on the views' framed silhouettes
  downsampled to `BASELINE_PIXELS` x `BASELINE_PIXELS`, plus those scalar inputs.
Features are standardised; the ridge strength is picked from `RIDGES` on the last fifth of
the training rows, then the model is refitted on all of them. Baselines predict the shape
only; their posed-body errors use the training mean pose.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from synth.train.data import SilhouetteStream
from synth.train.framing import pool_silhouettes
from synth.train.model import SCALAR_INPUTS, NetConfig

BASELINE_PIXELS = 32
RIDGES = (0.1, 1.0, 10.0, 100.0, 1000.0)


def baseline_features(batch: dict[str, torch.Tensor], silhouettes: bool, scalars: tuple[str, ...]) -> np.ndarray:
    """(B, F) float64 features of a batch: pooled silhouettes and/or the batch keys `scalars`."""
    parts = [batch[key].double().numpy()[:, None] for key in scalars]
    if silhouettes:
        parts.append(pool_silhouettes(batch["silhouettes"], BASELINE_PIXELS).double().numpy())
    return np.concatenate(parts, 1)


@dataclass(frozen=True)
class RidgeBaseline:
    """shape = ((x - x_mean) / x_std) @ weights + y_mean; ridge: the chosen strength."""

    name: str
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
    return np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)


def _fit(name: str, x: np.ndarray, y: np.ndarray, silhouettes: bool, scalars: tuple[str, ...]) -> RidgeBaseline:
    x_mean, x_std, y_mean = x.mean(0), x.std(0) + 1e-6, y.mean(0)
    xs, yc = (x - x_mean) / x_std, y - y_mean
    split = int(0.8 * len(xs))
    errors = [((xs[split:] @ _solve(xs[:split], yc[:split], r) - yc[split:]) ** 2).mean() for r in RIDGES]
    ridge = RIDGES[int(np.argmin(errors))]
    return RidgeBaseline(name, silhouettes, scalars, x_mean, x_std, _solve(xs, yc, ridge), y_mean, ridge)


def fit_baselines(train: SilhouetteStream, net: NetConfig, rows: int) -> list[RidgeBaseline]:
    """The baselines of the module docstring for a net's inputs, fitted on up to `rows`
    training rows."""
    taken = [(name, key) for name, (flag, key, _, _) in SCALAR_INPUTS.items() if getattr(net, flag)]
    scalars = tuple(key for _, key in taken)
    batches, seen = [], 0
    for batch in DataLoader(train, batch_size=64):
        batches.append(batch)
        seen += len(batch["shape"])
        if seen >= rows:
            break
    y = np.concatenate([b["shape"].double().numpy() for b in batches])
    words = " + ".join(name.split("_")[0] for name, _ in taken)  # "height_m" -> "height"
    fitted = [_fit(f"ridge on silhouettes{' + ' + words if words else ''}",
                   np.concatenate([baseline_features(b, True, scalars) for b in batches]), y, True, scalars)]
    if scalars:
        fitted.insert(0, _fit(f"ridge on {words}", np.concatenate([baseline_features(b, False, scalars)
                                                                   for b in batches]), y, False, scalars))
    return fitted
