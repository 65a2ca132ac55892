"""Summary statistics of measurement columns over a dataset's shards."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as pads

from synth.measurements import MEASUREMENT_NAMES


def measurement_summary(folder: Path, manifest: dict[str, Any]) -> dict[str, dict[str, float]]:
    """column -> {min, mean, max} over finished shards; empty if measurements are off."""
    files = [str(Path(folder) / entry["file"]) for entry in manifest["shards"]]
    if not files:
        return {}
    table = pads.dataset(files, format="parquet").to_table(columns=list(MEASUREMENT_NAMES))
    summary = {}
    for name in MEASUREMENT_NAMES:
        values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            summary[name] = {"min": float(values.min()), "mean": float(values.mean()), "max": float(values.max())}
    return summary
