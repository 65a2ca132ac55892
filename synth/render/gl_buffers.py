"""In-place vertex updates of an uploaded pyrender primitive.

pyrender has no public call for this; it keeps a primitive's GL buffers in the
private `_buffers` list, the interleaved vertex buffer first. A primitive with
positions only (no normals, uvs or colours) has exactly (V, 3) float32 in it, so
`glBufferSubData` replaces them without re-creating the mesh (~10 ms vs ~29 ms a
sample at 256x256). This is the one place that relies on that layout.
"""
from __future__ import annotations

import numpy as np
from OpenGL.GL import GL_ARRAY_BUFFER, glBindBuffer, glBufferSubData


def replace_positions(primitive, positions: np.ndarray) -> None:
    """Overwrite the uploaded vertex positions (V, 3) of `primitive` (current GL context)."""
    if not primitive._buffers:
        raise RuntimeError("primitive is not uploaded yet: render it once before replacing positions")
    if positions.shape != primitive.positions.shape:
        raise ValueError(f"positions {positions.shape} differ from the uploaded {primitive.positions.shape}")
    data = np.ascontiguousarray(positions, dtype=np.float32)
    glBindBuffer(GL_ARRAY_BUFFER, primitive._buffers[0])
    glBufferSubData(GL_ARRAY_BUFFER, 0, data.nbytes, data)
    glBindBuffer(GL_ARRAY_BUFFER, 0)
