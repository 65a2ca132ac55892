"""Per-view 2D labels from a subject, its camera and its rendered silhouette."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.camera import Camera, project


@dataclass(frozen=True)
class ViewLabels:
    """joints_2d: (J, 2) float32 pixels (OpenCV, may fall outside the image);
    bbox_xyxy: (4,) float32 silhouette box [x0, y0, x1, y1) in pixels, x1/y1 exclusive;
    fill: fraction of the image covered by the silhouette."""

    joints_2d: np.ndarray
    bbox_xyxy: np.ndarray
    fill: float


def silhouette_bbox(mask: np.ndarray) -> np.ndarray:
    """[x0, y0, x1, y1) (4,) float32 of the True pixels of (H, W) `mask`; zeros if empty."""
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return np.zeros(4, np.float32)
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float32)


def view_labels(joints: np.ndarray, camera: Camera, mask: np.ndarray) -> ViewLabels:
    """Labels of one view: world joints (J, 3) projected, silhouette box and fill."""
    uv, _ = project(joints, camera)
    return ViewLabels(uv.astype(np.float32), silhouette_bbox(mask), np.count_nonzero(mask) / mask.size)
