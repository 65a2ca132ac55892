"""Lossless silhouette image encoding (1-bit PNG) and decoding."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode_silhouette(mask: np.ndarray) -> bytes:
    """1-bit PNG bytes of a (H, W) bool mask (True = body)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=bool)).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_silhouette(data: bytes) -> np.ndarray:
    """(H, W) bool mask of PNG bytes (any mode; nonzero = body)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L")) > 0
