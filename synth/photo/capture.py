"""Photos in, checked person masks out: read each photo (size-limited), segment it,
and refuse it in one line naming the file when a capture check fails."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from body_models import SynthError
from synth.dataset.atomic import atomic_write_bytes
from synth.images import encode_silhouette, read_image
from synth.photo.checks import capture_problem, facing
from synth.photo.segment import Segmentation, Segmenter


@dataclass(frozen=True)
class CapturedPhoto:
    """path; rgb: (H, W, 3) uint8; segmentation; seen: "front" or "side" (from the landmarks)."""

    path: Path
    rgb: np.ndarray
    segmentation: Segmentation
    seen: str

    @property
    def mask(self) -> np.ndarray:
        return self.segmentation.mask


def capture(paths: list[Path], expected: list[str | None]) -> list[CapturedPhoto]:
    """Segment and check each photo; expected[i]: "front", "side" or None (any view)."""
    images = [read_image(path, "RGB") for path in paths]
    segmenter = Segmenter()
    try:
        segmentations = [segmenter.segment(rgb) for rgb in images]
    finally:
        segmenter.close()
    captured = []
    for path, rgb, seg, view in zip(paths, images, segmentations, expected):
        problem = capture_problem(seg, rgb, view)
        if problem:
            raise SynthError(f"{path}: {problem}")
        captured.append(CapturedPhoto(path, rgb, seg, facing(seg)[0]))
    return captured


def write_silhouettes(captured: list[CapturedPhoto], out: Path) -> list[Path]:
    """<stem>_silhouette.png (white person on black, what `synth predict` reads) per photo."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for photo in captured:
        path = out / f"{photo.path.stem}_silhouette.png"
        atomic_write_bytes(path, encode_silhouette(photo.mask))
        paths.append(path)
    return paths
