"""`synth verify`: re-read a dataset folder and name every bad shard."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from body_models import SynthError
from synth.dataset.manifest import read_manifest
from synth.dataset.schema import shard_schema
from synth.dataset.writer import file_sha256
from synth.images import decode_silhouette


def _shard_problems(path: Path, entry: dict) -> list[str]:
    if not path.is_file():
        return [f"{path.name}: missing"]
    if file_sha256(path) != entry["sha256"]:
        problem = [f"{path.name}: sha256 differs from the manifest (changed or truncated)"]
    else:
        problem = []
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        return problem + [f"{path.name}: unreadable Parquet ({err})"]
    if not table.schema.equals(shard_schema(), check_metadata=False):
        problem.append(f"{path.name}: schema differs from this synth version's")
    if table.num_rows != entry["num_rows"]:
        problem.append(f"{path.name}: {table.num_rows} rows, manifest says {entry['num_rows']}")
    if problem:
        return problem
    widths = table.column("image_width").to_pylist()
    heights = table.column("image_height").to_pylist()
    for row, views in enumerate(table.column("silhouettes").to_pylist()):
        for view in views:
            try:
                mask = decode_silhouette(view["bytes"])
            except (OSError, ValueError) as err:
                return [f"{path.name}: row {row} silhouette does not decode ({err})"]
            if mask.shape != (heights[row], widths[row]) or not mask.any():
                return [f"{path.name}: row {row} silhouette is empty or the wrong size {mask.shape}"]
    return []


def verify_dataset(folder: Path) -> tuple[list[str], int]:
    """(problems, shards checked). Problems name each bad shard; empty means all good."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SynthError(f"{folder} is not a folder")
    manifest = read_manifest(folder)
    if manifest is None:
        raise SynthError(f"{folder} holds no dataset.json; is it a synth dataset?")
    problems = []
    listed = {entry["file"] for entry in manifest["shards"]}
    for entry in manifest["shards"]:
        problems += _shard_problems(folder / entry["file"], entry)
    for missing in sorted(set(manifest["planned_shards"]) - listed):
        problems.append(f"{missing}: planned but not built (resume the build)")
    for stray in sorted(p.name for p in folder.glob("*.parquet") if p.name not in listed):
        problems.append(f"{stray}: not listed in the manifest")
    return problems, len(manifest["shards"])
