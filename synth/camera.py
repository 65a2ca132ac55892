"""Pinhole cameras in the OpenCV convention, and projection.

Camera frame: x right, y down, z forward (meters). Extrinsics map world to camera:
x_cam = R @ x_world + t. Intrinsics K (3, 3): u = fx * x / z + cx, v = fy * y / z + cy,
in pixels with the centre of the top-left pixel at (0, 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORLD_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Camera:
    """K: (3, 3) float32 OpenCV intrinsics; R: (3, 3) float32 world-to-camera rotation;
    t: (3,) float32 world-to-camera translation (meters); width/height: pixels."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int

    @property
    def center(self) -> np.ndarray:
        """Camera position in the world frame, (3,) meters."""
        return -self.R.T.astype(np.float64) @ self.t.astype(np.float64)


def intrinsics(width: int, height: int, vertical_fov: float) -> np.ndarray:
    """K (3, 3) float32 for square pixels, principal point at the image centre; fov in radians."""
    f = 0.5 * height / np.tan(0.5 * vertical_fov)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]], np.float32)


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation (3, 3) for a level camera at `eye` looking at `target`."""
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = cross(forward, WORLD_UP)
    right = right / np.linalg.norm(right)
    down = cross(forward, right)
    return np.stack([right, down, forward])


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b of two (3,) float64 vectors, rounded as `np.cross` rounds it (each product,
    then their difference), without its generality's cost (~25 us a call)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def project(points: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (N, 2) and depths (N,) (meters along the optical axis) of world points (N, 3)."""
    cam = points.astype(np.float64) @ camera.R.T.astype(np.float64) + camera.t.astype(np.float64)
    depth = cam[:, 2]
    uvw = cam @ camera.K.T.astype(np.float64)
    return uvw[:, :2] / uvw[:, 2:3], depth
