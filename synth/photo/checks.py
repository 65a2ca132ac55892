"""Capture checks: is a segmented photo one whole person, big and sharp enough, seen
from the expected side, in the capture pose? Each check returns what is wrong and what
to do, in one line, or None. Thresholds were set on 512 photo-like renders of the
capture pose (a `photo.enabled` build, seed 1; README "From photos") and on the same
renders made wrong (cropped, blurred, shrunk, two people, arms down: tests/test_photo.py).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from synth.arms import arms_problem
from synth.labels import silhouette_bbox
from synth.photo.segment import (LEFT_ANKLE, LEFT_HEEL, LEFT_HIP, LEFT_SHOULDER, NOSE, RIGHT_ANKLE, RIGHT_HEEL,
                                 RIGHT_HIP, RIGHT_SHOULDER, Segmentation)

MIN_PERSON_FRACTION = 0.002  # of the image's pixels: less is no person
OTHER_PERSON_FRACTION = 0.2  # a second person's pixels, relative to the subject's
MIN_HEIGHT_PX = 100
MIN_HEIGHT_FRACTION = 0.25  # of the image height
BORDER_PX = 4  # body pixels on an image edge beyond which the body is cut off
MIN_SHARPNESS = 1.6  # see `sharpness`
SHARPNESS_SIGMA = 1.0
FRONT_SPAN = 0.5  # shoulder span / torso length: above, the photo shows the front (or back)
VIEW_MARGIN = 0.08

_ENDS = (NOSE, LEFT_ANKLE, RIGHT_ANKLE, LEFT_HEEL, RIGHT_HEEL)


def no_person(seg: Segmentation) -> str | None:
    if seg.landmarks is None or seg.mask.mean() < MIN_PERSON_FRACTION:
        return ("no person found; photograph one person, head to feet, filling most of the picture's height, "
                "facing the camera or side-on, in focus")
    return None


def several_people(seg: Segmentation) -> str | None:
    """A second person found with the first painted over, at least OTHER_PERSON_FRACTION their size."""
    if seg.other.sum() > OTHER_PERSON_FRACTION * seg.mask.sum():
        return ("more than one person in the picture; only the person being measured may be in the frame "
                "(ask others to step out, or crop them away)")
    return None


def cut_off(seg: Segmentation) -> str | None:
    height, width = seg.mask.shape
    edges = {"top": seg.mask[0], "bottom": seg.mask[-1], "left": seg.mask[:, 0], "right": seg.mask[:, -1]}
    touched = [name for name, edge in edges.items() if edge.sum() > BORDER_PX]
    x, y = seg.landmarks[list(_ENDS), 0], seg.landmarks[list(_ENDS), 1]
    if ((y < 0) | (y >= height)).any() or ((x < 0) | (x >= width)).any():
        touched.append("head or feet")
    if touched:
        return (f"the body is cut off by the frame ({', '.join(touched)}); step back or turn the camera so the "
                "whole body, head to feet, is in the picture with a little space around it")
    return None


def too_small(seg: Segmentation) -> str | None:
    x0, y0, x1, y1 = silhouette_bbox(seg.mask)
    tall, height = y1 - y0, seg.mask.shape[0]
    if tall < MIN_HEIGHT_PX or tall < MIN_HEIGHT_FRACTION * height:
        return (f"the person is only {tall:.0f} px tall ({tall / height:.0%} of the picture); step closer or use "
                f"a larger photo (at least {MIN_HEIGHT_PX} px and {MIN_HEIGHT_FRACTION:.0%} of the height)")
    return None


def sharpness(rgb: np.ndarray, mask: np.ndarray) -> float:
    """How much detail a blur would remove: the mean absolute Laplacian over the person's
    box divided by that of the same box blurred by `SHARPNESS_SIGMA` px (boxes taller
    than 256 px are first brought to 256 px). Sharp photos lose much (measured on 512
    renders: >= 1.85), photos already blurred little (Gaussian blur of 1.3 px: <= 1.35)."""
    x0, y0, x1, y1 = (int(round(v)) for v in silhouette_bbox(mask))
    crop = Image.fromarray(rgb[y0:y1, x0:x1]).convert("L")
    if crop.height > 256:
        crop = crop.resize((max(1, round(crop.width * 256 / crop.height)), 256), Image.Resampling.BILINEAR)
    detail = np.abs(ndimage.laplace(np.asarray(crop, np.float32))).mean()
    blurred = crop.filter(ImageFilter.GaussianBlur(SHARPNESS_SIGMA))
    return float(detail / max(np.abs(ndimage.laplace(np.asarray(blurred, np.float32))).mean(), 1e-6))


def too_blurry(seg: Segmentation, rgb: np.ndarray) -> str | None:
    score = sharpness(rgb, seg.mask)
    if score < MIN_SHARPNESS:
        return (f"the photo is too blurry (sharpness {score:.2f}, need {MIN_SHARPNESS}); hold the camera still, "
                "focus on the person and use more light")
    return None


def facing(seg: Segmentation) -> tuple[str, float]:
    """('front' or 'side', shoulder span / torso length) from the landmarks."""
    lm = seg.landmarks[:, :2]
    torso = np.linalg.norm(0.5 * (lm[LEFT_SHOULDER] + lm[RIGHT_SHOULDER]) - 0.5 * (lm[LEFT_HIP] + lm[RIGHT_HIP]))
    span = float(abs(lm[LEFT_SHOULDER, 0] - lm[RIGHT_SHOULDER, 0]) / max(torso, 1.0))
    return ("front" if span >= FRONT_SPAN else "side"), span


def wrong_view(seg: Segmentation, expected: str) -> str | None:
    """expected: "front" (front or back photo) or "side"."""
    seen, span = facing(seg)
    if seen != expected and abs(span - FRONT_SPAN) > VIEW_MARGIN:
        what = "from the front or back" if seen == "front" else "from the side"
        turn = "turn 90 degrees so the camera sees your side" if expected == "side" else "face the camera"
        return f"expected a {expected} view but the person is seen {what}; {turn}"
    return None


def capture_problem(seg: Segmentation, rgb: np.ndarray, expected: str | None) -> str | None:
    """The first problem of a segmented photo (checks in this order), or None.
    expected: "front", "side" or None (view not checked; arms checked on front views)."""
    problem = no_person(seg) or several_people(seg) or cut_off(seg) or too_small(seg) or too_blurry(seg, rgb)
    if problem:
        return problem
    if expected is not None and (problem := wrong_view(seg, expected)):
        return problem
    if (expected or facing(seg)[0]) == "front":
        return arms_problem(seg.mask)  # the silhouette's reach at hand height (synth.arms)
    return None
