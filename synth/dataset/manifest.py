"""`dataset.json`: the self-description of a dataset folder, rewritten atomically.

It holds the job spec and its hash, versions, the body model's parameter labels,
the schema, and one entry per finished shard (rows, bytes, sha256). `complete` is
true only when every planned shard is listed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from body_models import SynthError
from synth.dataset.atomic import atomic_write_bytes

MANIFEST = "dataset.json"
FORMAT = "synth-silhouettes/1"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of `folder`, None if there is none; SynthError if it is unreadable."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SynthError(f"{path} is corrupt ({err}); rebuild with --overwrite") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SynthError(f"{path} is not a synth dataset manifest (format {FORMAT})")
    return manifest


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    data = json.dumps(manifest, indent=2, sort_keys=False).encode() + b"\n"
    atomic_write_bytes(Path(folder) / MANIFEST, data)
