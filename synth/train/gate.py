"""Is a silhouette a person in the capture pose? A PCA gate fitted on training silhouettes.

Each view's framed silhouette, pooled to `GATE_PIXELS` x `GATE_PIXELS` block means, is
projected onto the first `GATE_COMPONENTS` principal components of that view's training
silhouettes; the RMS of what they cannot explain is its distance from the training
population. The limit per view is `GATE_MARGIN` times the largest distance among
training silhouettes held out of the fit, so a body like the training bodies passes and
an ellipse or a rectangle does not; the net never sees a refused silhouette.

The PCA distance hardly sees arms held down (0.7-0.85 of the limit, where the
population's extreme bodies also sit), so front and back views are also checked for
the arms' reach (`check_arms_apart`): in the capture pose (arms 30-45 degrees out) the
silhouette at hand height is much wider than at the shoulders; with the arms down it
is about as wide.
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
ARM_BAND = (0.35, 0.5)  # rows at hand height: 35 % to 50 % of the silhouette's height, from the top
SHOULDER_ROWS = (0.18, 0.2, 0.22)
MIN_ARM_REACH = 1.35  # measured: capture pose >= 1.67 (P1 1.80, 600 test bodies), arms down <= 1.08


def arm_reach(mask: np.ndarray) -> float:
    """How far the hands reach out: the widest row between `ARM_BAND` of an (H, W) bool
    silhouette's height over the widest of its shoulder rows (`SHOULDER_ROWS`)."""
    rows = np.flatnonzero(mask.any(1))
    top, tall = rows[0], rows[-1] + 1 - rows[0]

    def extent(row: np.ndarray) -> int:
        cols = np.flatnonzero(row)
        return int(cols[-1] - cols[0] + 1) if cols.size else 0

    shoulders = max(extent(mask[top + int(f * tall)]) for f in SHOULDER_ROWS)
    band = mask[top + int(ARM_BAND[0] * tall): top + int(ARM_BAND[1] * tall)]
    return max((extent(row) for row in band), default=0) / max(shoulders, 1)


def arms_problem(mask: np.ndarray) -> str | None:
    """What is wrong with the arms of a front or back silhouette, or None."""
    reach = arm_reach(mask)
    if reach < MIN_ARM_REACH:
        return (f"the arms hang down or lie against the torso (the silhouette is {reach:.2f}x the shoulder width "
                f"at hand height, the capture pose gives over {MIN_ARM_REACH}); hold both arms 30-45 degrees away "
                "from the body and retake it")
    return None


def check_arms_apart(masks: list[np.ndarray], kinds: list[str], sources: list[str]) -> None:
    """SynthError naming the first front/back silhouette (kinds[i] == "front") whose hands
    do not reach out from the body as in the capture pose."""
    for mask, kind, source in zip(masks, kinds, sources):
        if kind == "front" and (problem := arms_problem(mask)):
            raise SynthError(f"{source}: {problem}")


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
