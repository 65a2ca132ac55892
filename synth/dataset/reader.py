"""Read rows back: cameras, silhouettes, and the re-posed body of a row."""
from __future__ import annotations

from typing import Any

import numpy as np

from body_models import BodyModel, SynthError
from synth.camera import Camera
from synth.images import decode_silhouette


def row_cameras(row: dict[str, Any]) -> list[Camera]:
    """The cameras of a row, one per view."""
    w, h = row["image_width"], row["image_height"]
    return [Camera(np.asarray(K, np.float32).reshape(3, 3), np.asarray(R, np.float32).reshape(3, 3),
                   np.asarray(t, np.float32), w, h) for K, R, t in zip(row["K"], row["R"], row["t"])]


def row_silhouettes(row: dict[str, Any]) -> list[np.ndarray]:
    """(H, W) bool masks of a row, one per view."""
    return [decode_silhouette(view["bytes"]) for view in row["silhouettes"]]


def repose_row(row: dict[str, Any], model: BodyModel) -> tuple[np.ndarray, np.ndarray]:
    """The row's placed body: vertices (V, 3) and joints (J, 3), float32, world frame, meters.

    Runs the backend forward on the stored (float32) shape and pose and adds the stored
    translation: the same numbers the silhouettes were rendered from.
    """
    if row["body_model"] != model.name or row["body_model_version"] != model.version:
        raise SynthError(f"row was built with {row['body_model_version']}, not {model.version}")
    shape = np.asarray(row["shape"], np.float32)[None]
    pose = np.asarray(row["pose"], np.float32)[None]
    vertices, joints = model.pose_arrays(shape, pose)
    translation = np.asarray(row["translation_m"], np.float32)
    return (vertices[0] + translation).astype(np.float32), (joints[0] + translation).astype(np.float32)
