"""Closed-form baselines that `synth eval` reports beside the net, fitted on the training split.

- `scalars`: ridge regression of the shape vector on the scalar inputs the net gets
  (the typed height and/or weight, for checkpoints trained with them); absent when the net
  takes none.
- `silhouettes`: ridge regression of the shape vector on the views' framed silhouettes
  downsampled to `BASELINE_PIXELS` x `BASELINE_PIXELS`, plus those scalar inputs.
- for nets with measurement heads, the same ridge regressing the measurements directly
  (labels a row lacks filled with the training mean), so heads are compared with heads.
Each is a `synth.train.ridge` fit. Shape baselines are measured on their neutral mesh;
their posed-body errors use the training mean pose.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from synth.train.data import SilhouetteStream
from synth.train.framing import pool_silhouettes
from synth.train.model import SCALAR_INPUTS, NetConfig
from synth.train.ridge import Ridge, fit_ridge

BASELINE_PIXELS = 32


def baseline_features(batch: dict[str, torch.Tensor], silhouettes: bool, scalars: tuple[str, ...]) -> np.ndarray:
    """(B, F) float64 features of a batch: pooled silhouettes and/or the batch keys `scalars`."""
    parts = [batch[key].double().numpy()[:, None] for key in scalars]
    if silhouettes:
        parts.append(pool_silhouettes(batch["silhouettes"], BASELINE_PIXELS).double().numpy())
    return np.concatenate(parts, 1)


@dataclass(frozen=True)
class RidgeBaseline:
    """target (the batch key "shape" or "measurements") = fit(features of the batch)."""

    name: str
    target: str
    silhouettes: bool
    scalars: tuple[str, ...]
    fit: Ridge

    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.from_numpy(self.fit(baseline_features(batch, self.silhouettes, self.scalars))).float()


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
            fitted.append(RidgeBaseline(name + suffix, target, silhouettes, scalars, fit_ridge(x, y)))
    return fitted
