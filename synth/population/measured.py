"""A built dataset's bodies as the population reports read them: each body's sex and measured columns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from body_models import SynthError
from synth.dataset.manifest import built_manifest, read_shards
from synth.population.reference import SEXES
from synth.storage import Store


def dataset_sexes(manifest: dict[str, Any], shapes: np.ndarray) -> np.ndarray:
    """(N,) "male" / "female" from the shape vectors (Anny's gender phenotype or the SMPL
    mixed flag) or the SMPL file's gender; SynthError if the dataset has no sex."""
    labels = manifest["body_model"]["shape_labels"]
    for label in ("gender", "female"):
        if label in labels:
            return np.where(shapes[:, labels.index(label)] > 0.5, "female", "male")
    gender = manifest["spec"]["body_model"].get("gender")
    if gender in SEXES:
        return np.full(len(shapes), gender)
    raise SynthError("this dataset's bodies have no sex (a neutral SMPL-family model); a per-sex reference "
                     "cannot be compared with it")


@dataclass(frozen=True)
class Measured:
    """A dataset's rows as the reports need them: sexes (N,) "male" / "female" and each
    measured column (N,) float64, NaN where missing."""

    sexes: np.ndarray
    values: dict[str, np.ndarray]


def read_measured(store: Store, measures: list[str]) -> Measured:
    """The sexes and the `measures` columns of the dataset in `store` (those its schema has;
    the others are all NaN), read once for a report's table and plot."""
    manifest = built_manifest(store)
    present = [m for m in measures if m in manifest.get("columns", {})]
    table = read_shards(store, manifest, ["shape", *present])
    shapes = np.asarray(table.column("shape").to_pylist(), np.float64)
    values = {m: (table.column(m).to_numpy(zero_copy_only=False).astype(np.float64) if m in present
                  else np.full(table.num_rows, np.nan)) for m in measures}
    if all(np.isnan(v).all() for v in values.values()):
        raise SynthError(f"{store.describe()} was built without measurements (labels.measurements = false); rebuild with "
                         "them to compare its population")
    return Measured(dataset_sexes(manifest, shapes), values)
