"""Silhouette corruptions that mimic real segmentation masks (training only).

Each corruption fires with its own probability: erosion or dilation by 1-2 px,
boundary noise (pixels flipped within 1 px of the edge), occluding boxes (filled or
cut), a missing limb (a disc removed at a random boundary point), plus framing
scale/shift jitter consumed by `framing.frame_silhouette`, and noise on the height a
user would type in. All draws use the given rng.
"""
from __future__ import annotations

from dataclasses import dataclass

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


def corrupt(mask: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """A corrupted copy of a (H, W) bool mask; never empty (falls back to the input)."""
    if not config.enabled:
        return mask
    out = mask.copy()
    if rng.random() < config.morphology:
        op = ndimage.binary_erosion if rng.random() < 0.5 else ndimage.binary_dilation
        out = op(out, iterations=int(rng.integers(1, 3)))
    if rng.random() < config.boundary_noise:
        edge = ndimage.binary_dilation(out) & ~ndimage.binary_erosion(out)
        flip = edge & (rng.random(out.shape) < 0.3)
        out = out ^ flip
    ys, xs = np.nonzero(out)
    if ys.size and rng.random() < config.occluder:
        h, w = out.shape
        bh, bw = int(rng.integers(h // 16, h // 5)), int(rng.integers(w // 16, w // 5))
        k = int(rng.integers(ys.size))
        top, left = max(0, ys[k] - bh // 2), max(0, xs[k] - bw // 2)
        out[top:top + bh, left:left + bw] = rng.random() < 0.5
    if ys.size and rng.random() < config.missing_limb:
        edge_y, edge_x = np.nonzero(out & ~ndimage.binary_erosion(out))
        if edge_y.size:
            k = int(rng.integers(edge_y.size))
            radius = max(2.0, 0.06 * (ys.max() - ys.min()))
            yy, xx = np.ogrid[: out.shape[0], : out.shape[1]]
            out[(yy - edge_y[k]) ** 2 + (xx - edge_x[k]) ** 2 < radius**2] = False
    return out if out.any() else mask


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
