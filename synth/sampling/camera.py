"""Camera sampler: phone-like cameras around the subject, re-drawn until it is framed."""
from __future__ import annotations

from collections.abc import Callable
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


def frames_subject(camera: Camera, vertices: np.ndarray, margin_px: int) -> bool:
    """Whether every vertex (V, 3) lies at least 0.05 m in front of the camera and
    `margin_px` inside the frame (pixel centres, OpenCV)."""
    normals, offsets = frame_planes(camera, margin_px)
    lowest = (normals @ np.asarray(vertices, np.float64).T).min(1)  # (5,): one BLAS product
    return bool(np.all(lowest + offsets >= 0.0))


def sample_framed_camera(rng: np.random.Generator, section: CameraSection, view_yaw: float,
                         vertices: np.ndarray, what: str) -> tuple[Camera, int]:
    """A camera that frames `vertices` fully; (camera, attempts). Aims at the body's centre."""
    target = np.array([0.0, 0.5 * (vertices[:, 1].min() + vertices[:, 1].max()), 0.0])
    points = np.asarray(vertices, np.float64)  # once, not at every attempt
    return resample_while(
        lambda: draw_camera(rng, section, view_yaw, target),
        lambda camera: not frames_subject(camera, points, section.margin_px),
        section.max_attempts,
        what,
    )
