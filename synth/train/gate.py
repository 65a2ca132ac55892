"""Is a silhouette a person in the capture pose? A PCA gate fitted on training silhouettes.

Each view's framed silhouette, pooled to `GATE_PIXELS` x `GATE_PIXELS` block means, is
projected onto the first `GATE_COMPONENTS` principal components of that view's training
silhouettes; the RMS of what they cannot explain is its distance from the training
population. The limit per view is `GATE_MARGIN` times the largest distance among
training silhouettes held out of the fit, so a body like the training bodies passes and
an ellipse or a rectangle does not; the net never sees a refused silhouette.

The PCA distance hardly sees arms held down (0.7-0.85 of the limit, where the
population's extreme bodies also sit), so front and back views are also checked for
the arms' reach (`synth.arms.check_arms_apart`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from body_models import SynthError
from synth.train.framing import pool_silhouettes

GATE_PIXELS = 32
GATE_COMPONENTS = 24
GATE_MARGIN = 1.5
HELD_OUT = 0.2



def _features(frames: np.ndarray) -> np.ndarray:
    """(N, V, S, S) -> (N, V, GATE_PIXELS ** 2) float64."""
    pooled = pool_silhouettes(torch.as_tensor(frames, dtype=torch.float32), GATE_PIXELS).double().numpy()
    return pooled.reshape(len(frames), frames.shape[1], -1)


@dataclass(frozen=True)
class SilhouetteGate:
    """Per view: mean (V, F), components (V, K, F) with orthonormal rows, limit (V,)."""

    mean: np.ndarray
    components: np.ndarray
    limit: np.ndarray

    def distances(self, frames: np.ndarray) -> np.ndarray:
        """(N, V) RMS residuals of (N, V, S, S) framed silhouettes."""
        centred = _features(frames) - self.mean
        explained = np.einsum("nvk,vkf->nvf", np.einsum("nvf,vkf->nvk", centred, self.components), self.components)
        return np.sqrt(((centred - explained) ** 2).mean(-1))

    def check(self, frames: np.ndarray, names: list[str], sources: list[str]) -> None:
        """SynthError naming the first view of one subject's (V, S, S) frames that is not a
        person in the capture pose."""
        for name, source, distance, limit in zip(names, sources, self.distances(frames[None])[0], self.limit):
            if distance > limit:
                raise SynthError(
                    f"{source}: the {name} silhouette does not look like a person in the capture pose (whole body "
                    f"in frame, feet apart, arms 30-45 degrees away from the torso): it is {distance / limit:.1f}x "
                    "further from the training silhouettes than the gate allows; retake or re-segment it")

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "components": self.components, "limit": self.limit}


def fit_gate(frames: np.ndarray) -> SilhouetteGate:
    """The gate of (N, V, S, S) un-augmented training silhouettes; the last `HELD_OUT` of
    them are left out of the fit and set the limit."""
    split = max(2, int(round(len(frames) * (1 - HELD_OUT))))
    if split >= len(frames):
        raise SynthError(f"fitting the silhouette gate needs at least 3 training silhouettes, got {len(frames)}; "
                         "raise run.stats_rows or build more subjects")
    features = _features(frames[:split])
    mean = features.mean(0)
    components = np.stack([np.linalg.svd(features[:, v] - mean[v], full_matrices=False)[2][:GATE_COMPONENTS]
                           for v in range(features.shape[1])])
    unlimited = SilhouetteGate(mean, components, np.zeros(len(mean)))
    limit = GATE_MARGIN * unlimited.distances(frames[split:]).max(0)
    return SilhouetteGate(mean.astype(np.float32), components.astype(np.float32), limit.astype(np.float32))
