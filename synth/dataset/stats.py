"""Summary statistics of measurement columns over a dataset's shards."""
from __future__ import annotations

from typing import Any

import numpy as np

from synth.dataset.manifest import read_shards
from synth.measurements import MEASUREMENT_NAMES
from synth.storage import Store


def measurement_summary(store: Store, manifest: dict[str, Any]) -> dict[str, dict[str, float]]:
    """column -> {min, mean, max} over finished shards; empty if measurements are off."""
    if not manifest["shards"]:
        return {}
    table = read_shards(store, manifest, list(MEASUREMENT_NAMES))
    summary = {}
    for name in MEASUREMENT_NAMES:
        values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            summary[name] = {"min": float(values.min()), "mean": float(values.mean()), "max": float(values.max())}
    return summary
