"""`synth build`: plan shards, skip finished ones, run the rest, write atomically.

The output is a folder or any pyarrow filesystem URI (`synth.storage`). Each worker
commits its own shard there (PNG files first when asked for, then the shard, each
atomically) and returns only its `ShardEntry`; the driver keeps the manifest (atomic
rewrite after every shard). A shard file absent from the manifest, or whose hash
differs from it, is rebuilt; a listed one whose hash matches is skipped on resume.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from tqdm import tqdm

import synth
from body_models import BodyModel, BodyModelSource, SynthError, create
from body_models.capture_pose import POSE_DOFS
from synth.config import JobSpec
from synth.dataset.atomic import TMP_SUFFIX
from synth.dataset.card import write_card
from synth.dataset.manifest import FORMAT, MANIFEST, read_manifest, write_manifest
from synth.dataset.schema import SCHEMA_VERSION, COLUMN_DOCS
from synth.dataset.stats import measurement_summary
from synth.dataset.writer import PNG_DIR, ShardEntry, commit_shard, file_sha256
from synth.interrupts import raise_if_interrupted, recorded_interrupts
from synth.measurements import LABELS_VERSION
from synth.plan import ShardPlan, plan_shards, split_ranges
from synth.population.reference import NO_REFERENCE, load_reference
from synth.population.report import compare as compare_population
from synth.population.report import markdown as population_markdown
from synth.population.report import report_measures
from synth.population.measured import read_measured
from synth.storage import LOCK, Store, exclusive

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    """out: dataset folder or filesystem URI (s3://bucket/prefix, ...); workers: Ray actors
    (0 = in this process, no Ray); address: Ray cluster to join (None = start a local
    one); overwrite: replace a dataset built from another spec."""

    out: str | Path
    source: BodyModelSource
    workers: int = 1
    address: str | None = None
    overwrite: bool = False
    progress: bool = True


@dataclass(frozen=True)
class BuildSummary:
    """subjects/shards built now; seconds: wall time of the build; first_shard_seconds:
    until the first shard was written (Ray start, actor start-up, first shard);
    first_shard_subjects: its size; driver_bytes: what the workers handed the driver (the
    pickled shard entries; the shards themselves never pass through it)."""

    subjects: int
    shards: int
    shards_skipped: int
    seconds: float
    bytes: int
    first_shard_seconds: float = 0.0
    first_shard_subjects: int = 0
    driver_bytes: int = 0

    @property
    def subjects_per_second(self) -> float:
        return self.subjects / self.seconds if self.seconds > 0 else 0.0

    @property
    def steady_subjects_per_second(self) -> float:
        """Rate after the first shard, i.e. without start-up costs."""
        span = self.seconds - self.first_shard_seconds
        return (self.subjects - self.first_shard_subjects) / span if span > 0 else 0.0


@contextmanager
def storage_errors(store: Store) -> Iterator[None]:
    """Turn a failed write (no space, permission denied, unreachable store...) into one actionable line."""
    try:
        yield
    except (OSError, pa.ArrowException) as err:
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        raise SynthError(f"writing the dataset in {store.describe()} failed: {getattr(err, 'strerror', None) or err}"
                         f"{where}. Fix the storage (free space, permissions, credentials) and re-run the same "
                         "command; finished shards are kept.") from err


def _clear(store: Store) -> None:
    for name in store.names():
        if name == PNG_DIR or name.endswith((".parquet", ".json", ".md", ".png", TMP_SUFFIX)):
            store.delete(name)


def _prepare(store: Store, spec: JobSpec, overwrite: bool) -> dict[str, Any] | None:
    """The previous manifest to resume from, or None; refuses foreign or other-spec folders.
    Temporary files of killed writers are removed (the lock is held)."""
    try:
        manifest = read_manifest(store)
    except SynthError:
        if not overwrite:
            raise
        manifest = None
    if overwrite:
        _clear(store)
        return None
    for name in store.names():
        if name.endswith(TMP_SUFFIX):
            store.delete(name)
    if manifest is None:
        strangers = [name for name in store.names() if name != LOCK]
        if strangers:
            raise SynthError(f"{store.describe()} is not empty and holds no {MANIFEST} "
                             f"({', '.join(strangers[:3])}...); choose an empty folder or pass --overwrite")
        return None
    if manifest.get("spec_hash") != spec.content_hash():
        raise SynthError(f"{store.describe()} holds a dataset built from a different job spec; pass --overwrite to "
                         "replace it, or choose another --out")
    if spec.shape.people and manifest.get("people_sha256") != people_sha256(spec):
        raise SynthError(f"{store.describe()} was built from another version of the people table "
                         f"{spec.shape.people}; pass --overwrite to rebuild it, or choose another --out")
    if manifest.get("labels_version", 1) != LABELS_VERSION:
        raise SynthError(f"{store.describe()} holds rows labelled by another synth (measurement labels version "
                         f"{manifest.get('labels_version', 1)}, this one makes {LABELS_VERSION}); building on it would "
                         "mix the two: pass --overwrite to rebuild it, or choose another --out")
    return manifest


def _finished(store: Store, manifest: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Manifest shard entries whose files exist with the recorded hash."""
    if manifest is None:
        return {}
    good = {}
    for entry in manifest.get("shards", []):
        if store.sha256(entry["file"]) == entry["sha256"]:
            good[entry["file"]] = entry
        else:
            log.warning("shard %s is missing or differs from the manifest; rebuilding it", entry["file"])
    return good


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"synth": synth.__version__}
    for package in ("anny", "smplx", "pyrender", "pyarrow", "torch", "numpy", "ray"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def describe_model(model: BodyModel) -> dict[str, Any]:
    """The body model's identity and parameter labels, for the manifest."""
    return {
        "name": model.name,
        "version": model.version,
        "frame": "meters, +y up, subject faces +z, subject's left +x; feet on y=0",
        "shape_labels": list(model.shape_space.labels),
        "shape_range": [bound.tolist() for bound in model.shape_space.bounds()],  # [low (S,), high (S,)]
        "pose_labels": list(model.pose_space.labels),
        "capture_pose_labels": list(POSE_DOFS),
        "joint_names": list(model.skeleton.joint_names),
        "faces_sha256": hashlib.sha256(model.faces.tobytes()).hexdigest(),
    }


def new_manifest(spec: JobSpec, model: BodyModel, plans: list[ShardPlan]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": spec.job.name,
        "complete": False,
        "spec_hash": spec.content_hash(),
        "spec": spec.to_dict(),
        "seed": spec.job.seed,
        "versions": _versions(),
        "body_model": describe_model(model),
        "schema_version": SCHEMA_VERSION,
        "labels_version": LABELS_VERSION,
        "columns": COLUMN_DOCS,
        "splits": {name: {"subjects": stop - start, "first_subject": start,
                          "shards": sum(p.split == name for p in plans)}
                   for name, (start, stop) in split_ranges(spec).items()},
        "planned_shards": [p.file for p in plans],
        "shards": [],
        **({"people_sha256": people_sha256(spec)} if spec.shape.people else {}),
    }


def people_sha256(spec: JobSpec) -> str:
    """The sha256 of the people table a `--people` build fits, so a resume refuses another."""
    from synth.population.people import resolve_people_path

    return file_sha256(resolve_people_path(spec.shape.people))


def _run(spec: JobSpec, options: BuildOptions, plans: list[ShardPlan]) -> Iterator[ShardEntry]:
    if options.workers == 0:
        from synth.shard import ShardBuilder

        store = Store.open(options.out)
        builder = ShardBuilder(spec, options.source)
        try:
            for plan in plans:
                yield commit_shard(store, plan, builder.build(plan), spec.job.write_png)
        finally:
            builder.close()
        return
    from synth.ray_runner import run_on_ray

    yield from run_on_ray(spec, options.source, plans, str(options.out), options.workers, options.address)


def _open_output(location: str | Path) -> Store:
    store = Store.open(location)
    try:
        store.make_root()
    except (OSError, pa.ArrowException) as err:
        raise SynthError(f"cannot create the output {store.describe()}: {getattr(err, 'strerror', None) or err}; "
                         "choose a folder (or bucket prefix) you can write to") from err
    return store


def run_build(spec: JobSpec, options: BuildOptions) -> BuildSummary:
    """Build (or resume) the dataset of `spec` in `options.out` (a folder or filesystem URI)."""
    store = _open_output(options.out)
    with storage_errors(store), exclusive(store), recorded_interrupts():
        previous = _prepare(store, spec, options.overwrite)
        plans = plan_shards(spec)
        finished = _finished(store, previous)
        todo = [p for p in plans if p.file not in finished]
        # Build the body model once here: fails early on missing files, builds Anny's cache
        # before any worker starts; then drop it, the driver only writes.
        manifest = new_manifest(spec, create(spec.body_model.name, options.source), plans)
        entries = dict(finished)
        manifest["shards"] = sorted(entries.values(), key=lambda e: e["file"])
        write_manifest(store, manifest)
        started = time.perf_counter()
        written, driver_bytes, first_seconds, first_subjects = 0, 0, 0.0, 0
        total = sum(p.num_subjects for p in todo)
        with tqdm(total=total, unit="subj", desc="build", disable=not options.progress, smoothing=0.1) as bar:
            for entry in _run(spec, options, todo):
                entries[entry.file] = entry.to_dict()
                manifest["shards"] = sorted(entries.values(), key=lambda e: e["file"])
                write_manifest(store, manifest)
                raise_if_interrupted()
                written += entry.bytes
                driver_bytes += len(pickle.dumps(entry))
                if not first_subjects:
                    first_seconds, first_subjects = time.perf_counter() - started, entry.num_rows
                bar.update(entry.num_rows)
        manifest["complete"] = len(entries) == len(plans)
        manifest["measurements"] = measurement_summary(store, manifest)
        manifest["population"] = _population(store, spec) if manifest["complete"] else None
        if spec.shape.people and manifest["complete"]:
            from synth.population.people_report import write_people_fit

            report, text = write_people_fit(store)
            manifest["people_fit"] = {"covered": report.covered, "covered_core": report.covered_core,
                                      "markdown": text}
        write_manifest(store, manifest)
        write_card(store, manifest)
        return BuildSummary(total, len(todo), len(finished), time.perf_counter() - started, written,
                            first_seconds, first_subjects, driver_bytes)


def _population(store: Store, spec: JobSpec) -> dict[str, Any] | None:
    """The finished dataset beside its reference population (None without one or without
    measurements)."""
    if spec.shape.reference == NO_REFERENCE or not spec.labels.measurements:
        return None
    table = load_reference(spec.shape.reference)
    report = compare_population(read_measured(store, report_measures(table)), table)
    return {"reference": table.name, "reference_sha256": file_sha256(table.path), "markdown": population_markdown(report),
            "report": report.to_dict()}


def default_workers() -> int:
    """One actor per core of this machine."""
    return max(1, os.cpu_count() or 1)
