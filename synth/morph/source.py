"""The body a morph starts from: a `synth predict` prediction.json or a dataset row."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from body_models import BodyModel, BodyModelSource, SynthError, create
from synth.dataset.manifest import read_shards
from synth.storage import Store
from synth.train.bodies import dataset_body_model


@dataclass(frozen=True)
class MorphSource:
    """model: the body model of the source's shape space; shape: (S,) float32; name: what
    it was read from, for the outputs."""

    model: BodyModel
    shape: np.ndarray
    name: str


def load_source(path: Path, subject: str | None, source: BodyModelSource) -> MorphSource:
    """SOURCE as `synth morph` takes it: a dataset folder with `subject` (its subject_id or
    index), or a prediction.json; SynthError with one line for anything else."""
    path = Path(path)
    if path.is_dir():
        if subject is None:
            raise SynthError(f"{path} is a dataset folder: name the body with --subject ID (a subject_id or index)")
        return _dataset_row(path, subject, source)
    if subject is not None:
        raise SynthError("--subject applies to a dataset folder; a prediction.json holds one body")
    if not path.is_file():
        raise SynthError(f"morph source {path} not found: give a prediction.json from synth predict, or a dataset "
                         "folder with --subject ID")
    return _prediction(path, source)


def _dataset_row(folder: Path, subject: str, source: BodyModelSource) -> MorphSource:
    model, manifest = dataset_body_model(str(folder), source)
    if not subject.isdigit():
        raise SynthError(f"--subject {subject!r}: expected a subject_id or index (digits, e.g. 000000007 or 7)")
    rows = read_shards(Store.open(folder), manifest, ["shape"], filter=pc.field("subject_index") == int(subject)
                       ).to_pylist()
    if not rows:
        raise SynthError(f"{folder} has no subject {subject} (built: {sum(e['num_rows'] for e in manifest['shards'])} "
                         "subjects); pick a subject_id from its shards")
    return MorphSource(model, np.asarray(rows[0]["shape"], np.float32), f"{folder} subject {int(subject):09d}")


def _prediction(path: Path, source: BodyModelSource) -> MorphSource:
    try:
        report = json.loads(path.read_text())
        version, values = report["body_model"], report["shape"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise SynthError(f"{path} is not a prediction.json from synth predict (needs body_model and shape; "
                         f"{type(err).__name__})") from err
    if not isinstance(version, str) or not version.startswith("anny-") or not isinstance(values, dict):
        raise SynthError(f"{path}: synth morph takes Anny predictions (body_model {version!r})")
    space = "body" if "/" in version else "phenotypes"
    model = create("anny", dataclasses.replace(source, anny_space=space))
    if model.version != version:
        raise SynthError(f"{path} was predicted with {version}, but {model.version} is installed here")
    missing = [label for label in model.shape_space.labels if label not in values]
    if missing:
        raise SynthError(f"{path}: shape lacks {', '.join(missing[:3])}; it does not match {version}")
    return MorphSource(model, np.array([values[label] for label in model.shape_space.labels], np.float32), str(path))
