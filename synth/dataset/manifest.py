"""`dataset.json`: the self-description of a dataset, rewritten atomically.

It holds the job spec and its hash, versions, the body model's parameter labels,
the schema, and one entry per finished shard (rows, bytes, sha256). `complete` is
true only when every planned shard is listed.
"""
from __future__ import annotations

import json
from typing import Any

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


def shard_dataset(store: Store, manifest: dict[str, Any]) -> pads.Dataset:
    """The finished shards listed in `manifest`, as one Arrow dataset."""
    return pads.dataset([store.path(entry["file"]) for entry in manifest["shards"]], format="parquet",
                        filesystem=store.filesystem)

