"""Camera sampler: phone-like cameras around the subject, re-drawn until it is framed."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
from scipy.spatial.transform import Rotation

from body_models import SynthError
from synth.camera import Camera, intrinsics, look_at, project
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


def frames_subject(camera: Camera, vertices: np.ndarray, margin_px: int) -> bool:
    """Whether every vertex (V, 3) lies in front of the camera and `margin_px` inside the frame."""
    uv, depth = project(vertices, camera)
    inside_u = (uv[:, 0] >= margin_px) & (uv[:, 0] <= camera.width - 1 - margin_px)
    inside_v = (uv[:, 1] >= margin_px) & (uv[:, 1] <= camera.height - 1 - margin_px)
    return bool(np.all(depth > 0.05) and np.all(inside_u & inside_v))


def sample_framed_camera(rng: np.random.Generator, section: CameraSection, view_yaw: float,
                         vertices: np.ndarray, what: str) -> tuple[Camera, int]:
    """A camera that frames `vertices` fully; (camera, attempts). Aims at the body's centre."""
    lower, upper = vertices.min(0), vertices.max(0)
    target = np.array([0.0, 0.5 * (lower[1] + upper[1]), 0.0])
    return resample_while(
        lambda: draw_camera(rng, section, view_yaw, target),
        lambda camera: not frames_subject(camera, vertices, section.margin_px),
        section.max_attempts,
        what,
    )
