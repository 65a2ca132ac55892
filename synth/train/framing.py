"""Frame a binary silhouette the same way for training and for prediction.

The silhouette's bounding box is centred in a square crop `1 + 2 * margin` times its
longer side, resized to `size` x `size` (bilinear, values in [0, 1]). Scale and shift
jitter (fractions of the box size) let training see imperfect framing.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from synth.labels import silhouette_bbox

MARGIN = 0.1


def frame_silhouette(mask: np.ndarray, size: int, scale: float = 1.0,
                     shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """(size, size) float32 in [0, 1] from a (H, W) bool mask with at least one True pixel."""
    x0, y0, x1, y1 = silhouette_bbox(mask)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * MARGIN) * scale
    cx = 0.5 * (x0 + x1) + shift[0] * side
    cy = 0.5 * (y0 + y1) + shift[1] * side
    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    framed = image.transform((size, size), Image.Transform.EXTENT, box, resample=Image.Resampling.BILINEAR)
    return np.asarray(framed, np.float32) / 255.0


def pool_silhouettes(frames: torch.Tensor, pixels: int) -> torch.Tensor:
    """(B, V, S, S) framed silhouettes -> (B, V * pixels * pixels) block means, view after
    view: what the linear path, the ridge baselines and the silhouette gate see."""
    return F.adaptive_avg_pool2d(frames, pixels).reshape(len(frames), -1)
