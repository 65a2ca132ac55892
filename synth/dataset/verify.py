"""`synth verify`: re-read a dataset (folder or URI) and name every bad shard."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from body_models import SynthError
from synth.dataset.manifest import MANIFEST, read_manifest
from synth.dataset.schema import shard_schema
from synth.images import decode_silhouette
from synth.storage import Store


def _shard_problems(store: Store, entry: dict) -> list[str]:
    name = entry["file"]
    digest = store.sha256(name)
    if digest is None:
        return [f"{name}: missing"]
    problem = [f"{name}: sha256 differs from the manifest (changed or truncated)"] if digest != entry["sha256"] else []
    try:
        table = pq.read_table(store.path(name), filesystem=store.filesystem)
    except (pa.ArrowInvalid, OSError) as err:
        return problem + [f"{name}: unreadable Parquet ({err})"]
    if not table.schema.equals(shard_schema(), check_metadata=False):
        problem.append(f"{name}: schema differs from this synth version's")
    if table.num_rows != entry["num_rows"]:
        problem.append(f"{name}: {table.num_rows} rows, manifest says {entry['num_rows']}")
    if problem:
        return problem
    widths = table.column("image_width").to_pylist()
    heights = table.column("image_height").to_pylist()
    for row, views in enumerate(table.column("silhouettes").to_pylist()):
        for view in views:
            try:
                mask = decode_silhouette(view["bytes"])
            except (OSError, ValueError) as err:
                return [f"{name}: row {row} silhouette does not decode ({err})"]
            if mask.shape != (heights[row], widths[row]) or not mask.any():
                return [f"{name}: row {row} silhouette is empty or the wrong size {mask.shape}"]
    return []


def verify_dataset(location: str | Path) -> tuple[list[str], int]:
    """(problems, shards checked). Problems name each bad shard; empty means all good."""
    store = Store.open(location)
    manifest = read_manifest(store)
    if manifest is None:
        raise SynthError(f"{store.describe()} holds no {MANIFEST}; is it a synth dataset?")
    problems = []
    listed = {entry["file"] for entry in manifest["shards"]}
    for entry in manifest["shards"]:
        problems += _shard_problems(store, entry)
    for missing in sorted(set(manifest["planned_shards"]) - listed):
        problems.append(f"{missing}: planned but not built (resume the build)")
    for stray in sorted(n for n in store.names() if n.endswith(".parquet") and n not in listed):
        problems.append(f"{stray}: not listed in the manifest")
    return problems, len(manifest["shards"])
