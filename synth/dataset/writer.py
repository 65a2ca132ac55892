"""Shard rows -> Arrow table -> a Parquet file committed atomically to the dataset's store.

`commit_shard` is what every worker calls: it writes the shard (and the optional PNG
tree) itself and hands back only the small `ShardEntry` the manifest keeps.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synth.dataset.schema import shard_schema
from synth.plan import ShardPlan
from synth.storage import Store

ROW_GROUP_SIZE = 64
"""Rows per Parquet row group: the unit a streaming reader decodes at once."""
PNG_DIR = "png"


@dataclass(frozen=True)
class ShardEntry:
    """A finished shard as the manifest lists it: file name inside the dataset, its split,
    first subject index, rows, and the size and sha256 of the committed file."""

    file: str
    split: str
    first_subject: int
    num_rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rows_to_table(rows: list[dict[str, Any]], photos: bool = False, people: bool = False) -> pa.Table:
    """Rows (dicts keyed by schema column) -> a table with the shard schema."""
    return pa.Table.from_pylist(rows, schema=shard_schema(photos, people))


def parquet_bytes(table: pa.Table) -> bytes:
    """The Parquet encoding of a shard (deterministic for the same table)."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=ROW_GROUP_SIZE, compression="zstd")
    return buffer.getvalue()


def write_pngs(store: Store, split: str, table: pa.Table) -> None:
    """Each silhouette as png/<split>/<subject_id>/<view>.png."""
    ids = table.column("subject_id").to_pylist()
    names = table.column("view_names").to_pylist()
    images = table.column("silhouettes").to_pylist()
    for subject_id, view_names, views in zip(ids, names, images):
        for name, image in zip(view_names, views):
            store.write_atomic(f"{PNG_DIR}/{split}/{subject_id}/{name}.png", image["bytes"])


def commit_shard(store: Store, plan: ShardPlan, table: pa.Table, write_png: bool) -> ShardEntry:
    """Write the PNGs (optional), then the shard, each atomically; return its manifest entry."""
    if write_png:
        write_pngs(store, plan.split, table)
    data = parquet_bytes(table)
    store.write_atomic(plan.file, data)
    return ShardEntry(plan.file, plan.split, plan.first_subject, table.num_rows, len(data),
                      hashlib.sha256(data).hexdigest())


def file_sha256(path: Path) -> str | None:
    """Hex sha256 of a local file (None if it does not exist)."""
    return Store.open(Path(path).parent).sha256(Path(path).name)
