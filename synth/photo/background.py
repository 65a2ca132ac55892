"""Procedural rooms behind a photographed person: a wall, a floor meeting it at the
right place for the camera, furniture, frames and a door, uneven light, and the
person's contact shadow. Everything is drawn in 2D (numpy) from the camera, so it
costs a few milliseconds a view; the person is composited over it (`synth.photo.render`).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from synth.camera import Camera, project

WALLS = np.array([[0.93, 0.92, 0.88], [0.86, 0.83, 0.76], [0.78, 0.80, 0.80], [0.70, 0.72, 0.75],
                  [0.85, 0.78, 0.70], [0.60, 0.66, 0.58], [0.55, 0.50, 0.45], [0.95, 0.95, 0.95],
                  [0.40, 0.45, 0.55], [0.80, 0.70, 0.60]])
FLOORS = np.array([[0.55, 0.38, 0.22], [0.70, 0.55, 0.38], [0.40, 0.28, 0.18], [0.60, 0.60, 0.58],
                   [0.35, 0.35, 0.37], [0.75, 0.72, 0.66], [0.45, 0.40, 0.50], [0.25, 0.22, 0.20]])


def _noise(rng: np.random.Generator, height: int, width: int, cells: int, amount: float) -> np.ndarray:
    """(H, W) smooth multiplicative noise around 1 (a random grid, bicubically enlarged)."""
    grid = rng.uniform(1 - amount, 1 + amount, (cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC))


def _floor_line(camera: Camera, subject_root: np.ndarray, wall_distance: float) -> tuple[float, float]:
    """Image row of the wall-floor edge at u = 0 and its slope (rows per column)."""
    forward = camera.R[2].astype(np.float64)
    forward = np.array([forward[0], 0.0, forward[2]]) / max(np.hypot(forward[0], forward[2]), 1e-9)
    side = np.array([forward[2], 0.0, -forward[0]])
    base = np.array([subject_root[0], 0.0, subject_root[2]]) + wall_distance * forward
    points, _ = project(np.stack([base - 2.0 * side, base + 2.0 * side]), camera)
    (u0, v0), (u1, v1) = points
    slope = (v1 - v0) / (u1 - u0) if abs(u1 - u0) > 1e-6 else 0.0
    return float(v0 - slope * u0), float(slope)


def room(rng: np.random.Generator, camera: Camera, vertices: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1]: a room behind the body `vertices` (V, 3), seen by `camera`."""
    height, width = camera.height, camera.width
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    root = vertices.mean(0)
    edge, slope = _floor_line(camera, root, rng.uniform(0.8, 3.0))
    floor = rows > edge + slope * cols
    wall_colour = WALLS[rng.integers(len(WALLS))] * rng.uniform(0.85, 1.1)
    floor_colour = FLOORS[rng.integers(len(FLOORS))] * rng.uniform(0.85, 1.1)
    image = np.where(floor[..., None], floor_colour, wall_colour).astype(np.float32)
    if rng.uniform() < 0.5:  # planks or tiles: lines across the floor, denser towards the edge
        gaps = edge + slope * cols + np.geomspace(3, max(height - edge, 4), rng.integers(6, 14))[:, None, None]
        lines = (np.abs(rows[None] - gaps) < 0.6).any(0) & floor
        image[lines] *= 0.8
    for _ in range(rng.integers(0, 5)):  # furniture standing on the floor, frames and doors on the wall
        x0 = rng.uniform(-0.2, 1.0) * width
        w = rng.uniform(0.08, 0.45) * width
        base = edge + slope * (x0 + w / 2) + rng.uniform(0, 0.08) * height
        h = rng.uniform(0.1, 0.8) * height
        if rng.uniform() < 0.3:  # a frame hanging on the wall
            base -= rng.uniform(0.3, 0.6) * height
            h *= 0.4
        box = (cols >= x0) & (cols < x0 + w) & (rows < base) & (rows >= base - h)
        shade = 1 - 0.25 * (rows - (base - h)) / max(h, 1)
        image[box] = (rng.uniform(0.05, 0.9, 3) * shade[box][:, None]).astype(np.float32)
    feet, _ = project(vertices[vertices[:, 1] < 0.03], camera)
    if len(feet):
        cx, cy = feet.mean(0)
        rx = max(np.ptp(feet[:, 0]), 4.0) * 0.8
        ry = rx * 0.25
        shadow = np.exp(-(((cols - cx) / rx) ** 2 + ((rows - cy) / ry) ** 2))
        image *= (1 - rng.uniform(0.2, 0.5) * shadow)[..., None]
    light = _noise(rng, height, width, 3, 0.15) * np.linspace(rng.uniform(0.8, 1.1), rng.uniform(0.8, 1.1),
                                                            width, dtype=np.float32)[None]
    texture = _noise(rng, height, width, 24, 0.04)
    return np.clip(image * (light * texture)[..., None], 0.0, 1.0)
