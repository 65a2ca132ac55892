"""Lossless silhouette image encoding (1-bit PNG) and decoding; reading user images
with a size limit."""
from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from body_models import SynthError

MAX_IMAGE_PIXELS = 50_000_000  # a 48 MP phone photo fits; a decompression bomb does not


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_silhouette(mask: np.ndarray) -> bytes:
    """1-bit greyscale PNG bytes of a (H, W) bool mask (True = body = white).

    Written here rather than by Pillow, which chooses a row filter for each row (it offers
    no choice) and so spends about 3x the time and 40 % more bytes on a two-level mask than
    rows left unfiltered (PNG filter type 0), deflated at zlib's default level."""
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    rows = np.zeros((height, 1 + (width + 7) // 8), np.uint8)  # each row: filter type 0, then its bits
    rows[:, 1:] = np.packbits(mask, axis=1)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale, no interlace
    return (_PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows.tobytes()))
            + _png_chunk(b"IEND", b""))


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
