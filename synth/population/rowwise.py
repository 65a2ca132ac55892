"""Matrix products whose every row is computed on its own.

A batched matrix product (BLAS GEMM) may round a row differently depending on how many
rows share the call, so a body's shape would depend on which bodies were sampled beside
it. `rowwise` multiplies each row by its own call of the same shape: a row's result never
depends on the others, and sampling stays deterministic whatever the batch.
"""
from __future__ import annotations

import numpy as np


def rowwise(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, K) @ (K, M) -> (N, M), one product per row."""
    return np.matmul(rows[:, None, :], matrix)[:, 0]
