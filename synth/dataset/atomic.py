"""Atomic file writes: temporary name, fsync, rename, fsync the folder.

A reader (or a resumed build) sees either the old file or the whole new one, never
a half-written file under the final name. Temporary names end in `.tmp`.
"""
from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

TMP_SUFFIX = ".tmp"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call `write(handle)` on a temporary file, then move it onto `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with tmp.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda handle: handle.write(data))


def atomic_write_figure(path: Path, figure: Any, dpi: int) -> Path:
    """Write a matplotlib figure as a PNG atomically, then close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def atomic_write_mesh(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """A triangle mesh (vertices (V, 3), faces (F, 3)) in the format of `path`'s suffix
    (obj, ply, ...), written atomically."""
    import trimesh

    data = trimesh.Trimesh(vertices, faces, process=False).export(file_type=Path(path).suffix.lstrip("."))
    atomic_write_bytes(Path(path), data.encode() if isinstance(data, str) else data)
