"""`synth verify`: re-read a dataset (folder or URI) and name every bad shard."""
from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from body_models import SynthError
from synth.dataset.manifest import MANIFEST, read_manifest
from synth.dataset.schema import shard_schema
from synth.storage import Store


def _image_problem(name: str, row: int, what: str, data: bytes, size: tuple[int, int]) -> str | None:
    """What is wrong with one stored image (decoded in full), or None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            shape = image.size[::-1]
            empty = image.getbbox() is None
    except (OSError, ValueError) as err:
        return f"{name}: row {row} {what} does not decode ({err})"
    if shape != size or empty:
        return f"{name}: row {row} {what} is empty or the wrong size {shape}"
    return None


def _shard_problems(store: Store, entry: dict, photos: bool, people: bool) -> list[str]:
    name = entry["file"]
    digest = store.sha256(name)
    if digest is None:
        return [f"{name}: missing"]
    problem = [f"{name}: sha256 differs from the manifest (changed or truncated)"] if digest != entry["sha256"] else []
    try:
        table = pq.read_table(store.path(name), filesystem=store.filesystem)
    except (pa.ArrowInvalid, OSError) as err:
        return problem + [f"{name}: unreadable Parquet ({err})"]
    if not table.schema.equals(shard_schema(photos, people), check_metadata=False):
        problem.append(f"{name}: schema differs from this synth version's")
    if table.num_rows != entry["num_rows"]:
        problem.append(f"{name}: {table.num_rows} rows, manifest says {entry['num_rows']}")
    if problem:
        return problem
    widths = table.column("image_width").to_pylist()
    heights = table.column("image_height").to_pylist()
    for column in ("silhouettes", "photos") if photos else ("silhouettes",):
        for row, views in enumerate(table.column(column).to_pylist()):
            for view in views:
                problem = _image_problem(name, row, column.removesuffix("s"), view["bytes"], (heights[row], widths[row]))
                if problem:
                    return [problem]
    return []


def verify_dataset(location: str | Path) -> tuple[list[str], int]:
    """(problems, shards checked). Problems name each bad shard; empty means all good."""
    store = Store.open(location)
    manifest = read_manifest(store)
    if manifest is None:
        raise SynthError(f"{store.describe()} holds no {MANIFEST}; is it a synth dataset?")
    problems = []
    listed = {entry["file"] for entry in manifest["shards"]}
    photos = manifest["spec"].get("photo", {}).get("enabled", False)
    people = bool(manifest["spec"].get("shape", {}).get("people", ""))
    for entry in manifest["shards"]:
        problems += _shard_problems(store, entry, photos, people)
    planned = set(manifest["planned_shards"])
    present = {n for n in store.names() if n.endswith(".parquet")}
    for missing in sorted(planned - listed):
        # a build stopped between writing a shard and listing it leaves the file; a resume rebuilds it
        state = "written but not listed (its build was stopped)" if missing in present else "planned but not built"
        problems.append(f"{missing}: {state} (resume the build)")
    for stray in sorted(present - listed - planned):
        problems.append(f"{stray}: not listed in the manifest")
    return problems, len(manifest["shards"])
