"""Camera sampler: phone-like cameras around the subject, re-drawn until it is framed."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

import numpy as np
from scipy.spatial.transform import Rotation

from body_models import SynthError
from synth.camera import Camera, intrinsics, look_at
from synth.config import CameraSection

T = TypeVar("T")


def resample_while(sampler: Callable[[], T], rejected: Callable[[T], bool], max_attempts: int,
                   what: str) -> tuple[T, int]:
    """Draw from `sampler` until `rejected` is false; (value, attempts used).

    Fails loudly with SynthError after `max_attempts` draws, naming `what`.
    """
    for attempt in range(1, max_attempts + 1):
        value = sampler()
        if not rejected(value):
            return value, attempt
    raise SynthError(f"{what}: no acceptable sample in {max_attempts} attempts")


def draw_camera(rng: np.random.Generator, section: CameraSection, view_yaw: float,
                target: np.ndarray) -> Camera:
    """One camera at azimuth `view_yaw` (radians) + jitter, aimed at `target` (world, m).

    Azimuth 0 puts the camera on the +z side (facing the subject's front); 90 deg on the
    +x side (the subject's left). Distance is horizontal, height is above the ground.
    """
    fov = np.radians(rng.uniform(*section.vertical_fov_deg))
    distance = rng.uniform(*section.distance_m)
    height = rng.uniform(*section.height_m)
    yaw = view_yaw + np.radians(rng.uniform(-section.yaw_jitter_deg, section.yaw_jitter_deg))
    pitch = np.radians(rng.uniform(-section.pitch_jitter_deg, section.pitch_jitter_deg))
    roll = np.radians(rng.uniform(-section.roll_jitter_deg, section.roll_jitter_deg))
    eye = np.array([distance * np.sin(yaw), height, distance * np.cos(yaw)])
    jitter = Rotation.from_euler("zx", [roll, pitch]).as_matrix()
    rotation = jitter @ look_at(eye, target)
    return Camera(
        K=intrinsics(section.width, section.height, fov),
        R=rotation.astype(np.float32),
        t=(-rotation @ eye).astype(np.float32),
        width=section.width,
        height=section.height,
    )


def frame_planes(camera: Camera, margin_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The framed region as world-frame half-spaces: (normals (5, 3), offsets (5,)) with a
    point p (meters) framed exactly when normals @ p + offsets >= 0 on every row.

    In the camera frame, u >= m reads (K[0] - m e_z) . x_cam >= 0 for depth > 0 (and alike
    for the other three image edges), and depth >= 0.05 m is the near plane; the five
    planes bound a convex frustum.
    """
    K = camera.K.astype(np.float64)
    z = np.array([0.0, 0.0, 1.0])
    u_max, v_max = camera.width - 1 - margin_px, camera.height - 1 - margin_px
    planes = np.stack([z, K[0] - margin_px * z, u_max * z - K[0], K[1] - margin_px * z, v_max * z - K[1]])
    offsets = np.array([-0.05, 0.0, 0.0, 0.0, 0.0])
    R, t = camera.R.astype(np.float64), camera.t.astype(np.float64)
    return planes @ R, planes @ t + offsets


_BOX_SLACK = 1e-6
"""How far inside every plane (pixels x meters) the bounding box's corners must lie for
`frames_subject` to pass without looking at the vertices: float64 rounds a plane's value
at a body's point by about 1e-12 here, so the full test could not fail."""


def bounding_box_corners(vertices: np.ndarray) -> np.ndarray:
    """(8, 3) float64 corners of the axis-aligned box around vertices (V, 3)."""
    points = np.asarray(vertices, np.float64)
    low = [points[:, k].min() for k in range(3)]  # a column at a time: axis-0 reductions of
    high = [points[:, k].max() for k in range(3)]  # (V, 3) run ~20x slower in numpy
    return np.array([[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1]) for z in (low[2], high[2])])


def frames_subject(camera: Camera, vertices: np.ndarray, margin_px: int, box: np.ndarray | None = None) -> bool:
    """Whether every vertex (V, 3) lies at least 0.05 m in front of the camera and
    `margin_px` inside the frame (pixel centres, OpenCV).

    box: the vertices' `bounding_box_corners`, if known. A plane's value is linear, so no
    vertex lies further out than the box's furthest corner: when every corner is inside
    (by `_BOX_SLACK`), so is every vertex, and the answer is the same without the full test."""
    normals, offsets = frame_planes(camera, margin_px)
    if box is not None and np.all((normals @ box.T).min(1) + offsets >= _BOX_SLACK):
        return True
    lowest = (normals @ np.asarray(vertices, np.float64).T).min(1)  # (5,): one BLAS product
    return bool(np.all(lowest + offsets >= 0.0))


def sample_framed_cameras(rng: np.random.Generator, section: CameraSection, view_yaws: Sequence[float],
                          vertices: np.ndarray, whats: Sequence[str]) -> list[tuple[Camera, int]]:
    """For each view in turn, a camera at azimuth `view_yaws[k]` (radians) that frames
    `vertices` fully, aimed at the body's centre; [(camera, attempts)]. `whats[k]` names the
    view in the error raised when no camera of `section` frames the body."""
    target = np.array([0.0, 0.5 * (vertices[:, 1].min() + vertices[:, 1].max()), 0.0])
    points = np.asarray(vertices, np.float64)  # once a body, not at every attempt
    box = bounding_box_corners(points)
    return [resample_while(partial(draw_camera, rng, section, yaw, target),
                           lambda camera: not frames_subject(camera, points, section.margin_px, box),
                           section.max_attempts, what)
            for yaw, what in zip(view_yaws, whats)]
