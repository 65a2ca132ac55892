"""Lossless silhouette image encoding (1-bit PNG) and decoding; reading user images
with a size limit."""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from body_models import SynthError

MAX_IMAGE_PIXELS = 50_000_000  # a 48 MP phone photo fits; a decompression bomb does not


def encode_silhouette(mask: np.ndarray) -> bytes:
    """1-bit PNG bytes of a (H, W) bool mask (True = body)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=bool)).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_silhouette(data: bytes) -> np.ndarray:
    """(H, W) bool mask of PNG bytes (any mode; nonzero = body)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L")) > 0


def read_image(path: Path, mode: str) -> np.ndarray:
    """A user's image file as an array in PIL `mode` ("L" or "RGB"), turned upright by its
    EXIF orientation; SynthError in one line if it is missing, unreadable or larger than
    MAX_IMAGE_PIXELS (checked from the header, before any pixel is decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise SynthError(f"{path}: {width}x{height} pixels is more than the {MAX_IMAGE_PIXELS / 1e6:.0f} "
                                     "megapixels read; resize it (the net sees it at a few hundred pixels)")
                return np.asarray(ImageOps.exif_transpose(image).convert(mode))
    except FileNotFoundError as err:
        raise SynthError(f"{path}: no such image") from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise SynthError(f"{path}: image too large to open safely ({err}); resize it") from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise SynthError(f"{path}: not a readable image ({err})") from err
