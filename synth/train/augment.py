"""Silhouette corruptions that mimic real segmentation masks (training only).

Each corruption fires with its own probability: erosion or dilation by 1-2 px,
boundary noise (pixels flipped within 1 px of the edge), occluding boxes (filled or
cut), a missing limb (a disc removed at a random boundary point), plus framing
scale/shift jitter consumed by `framing.frame_silhouette`, and noise on the height a
user would type in. All draws use the given rng.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities (0..1) and magnitudes; `enabled=False` passes masks through."""

    enabled: bool = True
    morphology: float = 0.5
    boundary_noise: float = 0.5
    occluder: float = 0.3
    missing_limb: float = 0.2
    scale_jitter: float = 0.08
    shift_jitter: float = 0.04
    height_noise_m: float = 0.015  # std of a user's error reporting their height
    weight_noise_kg: float = 1.0  # std of a user's error reporting their weight

    def with_corruption(self, scale: float) -> AugmentConfig:
        """This config with every mask corruption's probability times `scale` (0: clean
        masks; framing jitter and height / weight noise unchanged)."""
        return replace(self, **{name: scale * getattr(self, name) for name in _MASK_CORRUPTIONS})


_MASK_CORRUPTIONS = ("morphology", "boundary_noise", "occluder", "missing_limb")


_CROP_MARGIN = 4  # px around the body: room for a 2 px dilation and the 1 px edge around it


def corrupt(mask: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """A corrupted copy of a (H, W) bool mask; never empty (falls back to the input).
    Everything but the occluding box happens within `_CROP_MARGIN` px of the body, so it
    works on that crop (morphology on a whole 256 px frame cost most of the loader's time)."""
    if not config.enabled or not mask.any():
        return mask
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    top, left = max(0, rows[0] - _CROP_MARGIN), max(0, cols[0] - _CROP_MARGIN)
    crop = (slice(top, rows[-1] + 1 + _CROP_MARGIN), slice(left, cols[-1] + 1 + _CROP_MARGIN))
    body = _corrupt_body(mask[crop], rng, config)
    out = np.zeros_like(mask)
    out[crop] = body
    ys, xs = np.nonzero(body)
    if ys.size and rng.random() < config.occluder:
        h, w = out.shape
        bh, bw = int(rng.integers(h // 16, h // 5)), int(rng.integers(w // 16, w // 5))
        k = int(rng.integers(ys.size))
        y0, x0 = max(0, top + ys[k] - bh // 2), max(0, left + xs[k] - bw // 2)
        out[y0:y0 + bh, x0:x0 + bw] = rng.random() < 0.5
    return out if out.any() else mask


def _corrupt_body(mask: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Morphology, boundary noise and a missing limb on a crop around the body."""
    out = mask.copy()
    if rng.random() < config.morphology:
        op = ndimage.binary_erosion if rng.random() < 0.5 else ndimage.binary_dilation
        out = op(out, iterations=int(rng.integers(1, 3)))
    if rng.random() < config.boundary_noise:
        edge = ndimage.binary_dilation(out) & ~ndimage.binary_erosion(out)
        flip = edge & (rng.random(out.shape) < 0.3)
        out = out ^ flip
    ys = np.nonzero(out.any(1))[0]
    if ys.size and rng.random() < config.missing_limb:
        edge_y, edge_x = np.nonzero(out & ~ndimage.binary_erosion(out))
        if edge_y.size:
            k = int(rng.integers(edge_y.size))
            radius = max(2.0, 0.06 * (ys[-1] - ys[0]))
            yy, xx = np.ogrid[: out.shape[0], : out.shape[1]]
            out[(yy - edge_y[k]) ** 2 + (xx - edge_x[k]) ** 2 < radius**2] = False
    return out


def framing_jitter(rng: np.random.Generator, config: AugmentConfig) -> tuple[float, tuple[float, float]]:
    """(scale, (shift_x, shift_y)) for `frame_silhouette`; identity when disabled."""
    if not config.enabled:
        return 1.0, (0.0, 0.0)
    scale = 1.0 + rng.uniform(-config.scale_jitter, config.scale_jitter)
    shift = rng.uniform(-config.shift_jitter, config.shift_jitter, 2)
    return float(scale), (float(shift[0]), float(shift[1]))


def reported_height(height_m: float, rng: np.random.Generator, config: AugmentConfig) -> float:
    """The standing height (m) as a user would report it: the truth plus Gaussian noise
    of `height_noise_m`; the truth when disabled."""
    return height_m + rng.normal(0.0, config.height_noise_m) if config.enabled else height_m


def reported_weight(mass_kg: float, rng: np.random.Generator, config: AugmentConfig) -> float:
    """The body weight (kg) as a user would report it: the truth plus Gaussian noise of
    `weight_noise_kg` (a bathroom scale, clothes, time of day); the truth when disabled."""
    return mass_kg + rng.normal(0.0, config.weight_noise_kg) if config.enabled else mass_kg
