"""Frame a binary silhouette the same way for training and for prediction.

The silhouette's bounding box is centred in a square crop `1 + 2 * margin` times its
longer side, resized to `size` x `size`, values in [0, 1]: each pixel is the exact
fraction of it the body covers (the resize is one matrix product per axis with each
output pixel's overlap with each source pixel). Sampling each output pixel at one point
instead aliases: a 256 px mask framed to 64 px then reads each row's width to about a
quarter of a pixel (~8 mm of body). Scale and shift jitter (fractions of the box size)
let training see imperfect framing. At test time the net reads each subject framed
`1 + len(inference_framings(...))` ways, the plain framing and fixed ones drawn from the training
jitter, and its outputs are averaged (`synth.train.model.run_net`): on the 60-minute CPU net
that takes PVE-T from 5.26 to about 5.0 mm; the exact reframing from the mask matters
(resampling the framed 64 px image instead gained nothing).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from synth.labels import silhouette_bbox

MARGIN = 0.1
TEST_FRAMINGS = 7  # fixed framings averaged at test time beside the plain one
Framing = tuple[float, float, float]  # scale, shift x, shift y (`frame_silhouette`)
PLAIN: Framing = (1.0, 0.0, 0.0)


def _coverage(start: float, side: float, size: int, pixels: int) -> torch.Tensor:
    """(size, pixels) float32: the fraction of each of `size` output pixels spanning
    [start, start + side) that each of `pixels` source pixels covers along one axis."""
    edges = start + np.arange(size + 1) * (side / size)
    source = np.arange(pixels)
    overlap = np.minimum(source + 1, edges[1:, None]) - np.maximum(source, edges[:-1, None])
    return torch.from_numpy((np.clip(overlap, 0.0, None) * (size / side)).astype(np.float32))


def frame_silhouette(mask: np.ndarray, size: int, scale: float = 1.0,
                     shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """(size, size) float32 in [0, 1] from a (H, W) bool mask with at least one True pixel."""
    x0, y0, x1, y1 = silhouette_bbox(mask)
    side = float(max(x1 - x0, y1 - y0)) * (1.0 + 2.0 * MARGIN) * scale
    cx = 0.5 * (x0 + x1) + shift[0] * side
    cy = 0.5 * (y0 + y1) + shift[1] * side
    rows = _coverage(cy - side / 2, side, size, mask.shape[0])
    cols = _coverage(cx - side / 2, side, size, mask.shape[1])
    # torch, not numpy: in DataLoader workers torch runs one thread, numpy's BLAS one per core
    return (rows @ torch.from_numpy(mask.astype(np.float32)) @ cols.T).clamp_(0.0, 1.0).numpy()


def inference_framings(scale_jitter: float, shift_jitter: float, count: int = TEST_FRAMINGS) -> tuple[Framing, ...]:
    """`count` fixed framings drawn (seed 0) uniformly from the training jitter ranges:
    the same for every subject and view, so a prediction never depends on a draw."""
    rng = np.random.default_rng(0)
    return tuple((float(1.0 + rng.uniform(-scale_jitter, scale_jitter)),
                  *map(float, rng.uniform(-shift_jitter, shift_jitter, 2))) for _ in range(count))


def frame_views(masks: list[np.ndarray], size: int, framings: tuple[Framing, ...]) -> np.ndarray:
    """(K, V, S, S) float32: the V views' masks framed each of the K (>= 1) `framings` ways;
    with (PLAIN, *inference_framings(...)), what `synth.train.model.average_framings` takes
    for one subject."""
    return np.stack([[frame_silhouette(mask, size, scale, (x, y)) for mask in masks] for scale, x, y in framings])


def pool_silhouettes(frames: torch.Tensor, pixels: int) -> torch.Tensor:
    """(B, V, S, S) framed silhouettes -> (B, V * pixels * pixels) block means, view after
    view: what the linear path, the ridge baselines and the silhouette gate see."""
    return F.adaptive_avg_pool2d(frames, pixels).reshape(len(frames), -1)
