"""Shard rows -> Arrow table -> atomically written Parquet file."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synth.dataset.atomic import atomic_write_bytes
from synth.dataset.schema import shard_schema

ROW_GROUP_SIZE = 64
"""Rows per Parquet row group: the unit a streaming reader decodes at once."""


@dataclass(frozen=True)
class WrittenShard:
    """file: name inside the dataset folder; sha256 and bytes of that file."""

    file: str
    num_rows: int
    sha256: str
    bytes: int


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts keyed by schema column) -> a table with the shard schema."""
    return pa.Table.from_pylist(rows, schema=shard_schema())


def parquet_bytes(table: pa.Table) -> bytes:
    """The Parquet encoding of a shard (deterministic for the same table)."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=ROW_GROUP_SIZE, compression="zstd")
    return buffer.getvalue()


def write_shard(folder: Path, file: str, table: pa.Table) -> WrittenShard:
    """Write `table` to folder/file atomically; return its size and hash."""
    data = parquet_bytes(table)
    atomic_write_bytes(Path(folder) / file, data)
    return WrittenShard(file, table.num_rows, hashlib.sha256(data).hexdigest(), len(data))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
