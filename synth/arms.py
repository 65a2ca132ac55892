"""Are a silhouette's arms out, as in the capture pose?

In the capture pose (arms 30-45 degrees out) the silhouette at hand height is much wider
than at the shoulders; with the arms down it is about as wide. Used on photos' masks
(`synth.photo.checks`) and on silhouettes given to `synth predict`.
"""
from __future__ import annotations

import numpy as np

from body_models import SynthError

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
