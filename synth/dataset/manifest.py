"""`dataset.json`: the self-description of a dataset, rewritten atomically.

It holds the job spec and its hash, versions, the body model's parameter labels,
the schema, and one entry per finished shard (rows, bytes, sha256). `complete` is
true only when every planned shard is listed.
"""
from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads

from body_models import SynthError
from synth.storage import Store

MANIFEST = "dataset.json"
FORMAT = "synth-silhouettes/1"


def read_manifest(store: Store) -> dict[str, Any] | None:
    """The manifest of `store`, None if there is none; SynthError if it is unreadable."""
    if not store.exists(MANIFEST):
        return None
    try:
        manifest = json.loads(store.read_bytes(MANIFEST))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SynthError(f"{store.describe(MANIFEST)} is corrupt ({err}); rebuild with --overwrite") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SynthError(f"{store.describe(MANIFEST)} is not a synth dataset manifest (format {FORMAT})")
    return manifest


def write_manifest(store: Store, manifest: dict[str, Any]) -> None:
    store.write_atomic(MANIFEST, json.dumps(manifest, indent=2, sort_keys=False).encode() + b"\n")


def built_manifest(store: Store) -> dict[str, Any]:
    """The manifest of a dataset with at least one finished shard; SynthError otherwise."""
    manifest = read_manifest(store)
    if manifest is None or not manifest["shards"]:
        raise SynthError(f"{store.describe()} holds no built synth dataset (no {MANIFEST} with shards)")
    return manifest


def read_shards(store: Store, manifest: dict[str, Any], columns: list[str], filter: pads.Expression | None = None,
                head: int | None = None) -> pa.Table:
    """`columns` of the finished shards listed in `manifest` (the first `head` rows, or those
    matching `filter`, or all), as one table. A shard that cannot be read (truncated, deleted,
    not Parquet) is one SynthError naming it and saying to run `synth verify`."""
    try:
        data = pads.dataset([store.path(entry["file"]) for entry in manifest["shards"]], format="parquet",
                            filesystem=store.filesystem)
        return data.head(head, columns=columns) if head is not None else data.to_table(columns=columns,
                                                                                        filter=filter)
    except (pa.ArrowException, OSError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SynthError(f"{_damaged_shard(store, manifest, str(err))} cannot be read ({reason}); run `synth verify "
                         f"{store.location}` to list every damaged shard, then re-run the build to rebuild them"
                         ) from None


def _damaged_shard(store: Store, manifest: dict[str, Any], error: str) -> str:
    """The shard a failed read points at: the one the error names, else the first whose
    bytes differ from the manifest's hash."""
    names = [entry["file"] for entry in manifest["shards"]]
    named = [name for name in names if name in error]
    if named:
        return f"shard {store.describe(named[0])}"
    for entry in manifest["shards"]:
        if store.sha256(entry["file"]) != entry["sha256"]:
            return f"shard {store.describe(entry['file'])}"
    return f"a shard of {store.describe()}"
