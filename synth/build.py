"""`synth build`: plan shards, skip finished ones, run the rest, write atomically.

Order of writes per shard: PNG files (optional), the shard (atomic rename), then the
manifest entry (atomic rewrite). A shard file absent from the manifest, or whose hash
differs from it, is rebuilt; a listed one whose hash matches is skipped on resume.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
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
from synth.dataset.atomic import TMP_SUFFIX, atomic_write_bytes
from synth.dataset.card import write_card
from synth.dataset.manifest import FORMAT, MANIFEST, read_manifest, write_manifest
from synth.dataset.schema import SCHEMA_VERSION, COLUMN_DOCS
from synth.dataset.stats import measurement_summary
from synth.dataset.writer import file_sha256, write_shard
from synth.plan import ShardPlan, plan_shards, split_ranges
from synth.population.reference import NO_REFERENCE, load_reference
from synth.population.report import compare as compare_population
from synth.population.report import markdown as population_markdown
from synth.population.report import read_measured

log = logging.getLogger(__name__)
LOCK = ".synth.lock"
PNG_DIR = "png"


@dataclass(frozen=True)
class BuildOptions:
    """out: dataset folder; workers: Ray actors (0 = in this process, no Ray);
    address: Ray cluster to join (None = start a local one); overwrite: replace a
    dataset built from another spec."""

    out: Path
    source: BodyModelSource
    workers: int = 1
    address: str | None = None
    overwrite: bool = False
    progress: bool = True


@dataclass(frozen=True)
class BuildSummary:
    """subjects/shards built now; seconds: wall time of the build; first_shard_seconds:
    until the first shard was written (Ray start, actor start-up, first shard);
    first_shard_subjects: its size."""

    subjects: int
    shards: int
    shards_skipped: int
    seconds: float
    bytes: int
    first_shard_seconds: float = 0.0
    first_shard_subjects: int = 0

    @property
    def subjects_per_second(self) -> float:
        return self.subjects / self.seconds if self.seconds > 0 else 0.0

    @property
    def steady_subjects_per_second(self) -> float:
        """Rate after the first shard, i.e. without start-up costs."""
        span = self.seconds - self.first_shard_seconds
        return (self.subjects - self.first_shard_subjects) / span if span > 0 else 0.0


@contextmanager
def storage_errors(out: Path) -> Iterator[None]:
    """Turn a failed write (no space, permission denied, ...) into one actionable line."""
    try:
        yield
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        raise SynthError(f"writing the dataset in {out} failed: {err.strerror or err}{where}. Fix the storage "
                         "(free space, permissions) and re-run the same command; finished shards are kept.") from err


@contextmanager
def dataset_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on `out` for one build; SynthError if another holds it."""
    handle = (out / LOCK).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        handle.close()
        raise SynthError(f"another synth build is writing to {out}; wait for it to finish") from err
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _clear(out: Path) -> None:
    for path in out.iterdir():
        if path.name == LOCK:
            continue
        if path.name == PNG_DIR and path.is_dir():
            shutil.rmtree(path)
        elif path.suffix in (".parquet", ".json", ".md", ".png") or path.name.endswith(TMP_SUFFIX):
            path.unlink()


def _prepare(out: Path, spec: JobSpec, overwrite: bool) -> dict[str, Any] | None:
    """The previous manifest to resume from, or None; refuses foreign or other-spec folders."""
    try:
        manifest = read_manifest(out)
    except SynthError:
        if not overwrite:
            raise
        manifest = None
    if overwrite:
        _clear(out)
        return None
    if manifest is None:
        strangers = [p.name for p in out.iterdir() if p.name != LOCK]
        if strangers:
            raise SynthError(f"{out} is not empty and holds no {MANIFEST} ({', '.join(sorted(strangers)[:3])}...); "
                             "choose an empty folder or pass --overwrite")
        return None
    if manifest.get("spec_hash") != spec.content_hash():
        raise SynthError(f"{out} holds a dataset built from a different job spec; pass --overwrite to replace "
                         "it, or choose another --out")
    return manifest


def _finished(out: Path, manifest: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Manifest shard entries whose files exist with the recorded hash."""
    if manifest is None:
        return {}
    good = {}
    for entry in manifest.get("shards", []):
        path = out / entry["file"]
        if path.is_file() and file_sha256(path) == entry["sha256"]:
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
        "columns": COLUMN_DOCS,
        "splits": {name: {"subjects": stop - start, "first_subject": start,
                          "shards": sum(p.split == name for p in plans)}
                   for name, (start, stop) in split_ranges(spec).items()},
        "planned_shards": [p.file for p in plans],
        "shards": [],
    }


def _write_pngs(out: Path, split: str, table: pa.Table) -> None:
    ids = table.column("subject_id").to_pylist()
    names = table.column("view_names").to_pylist()
    images = table.column("silhouettes").to_pylist()
    for subject_id, view_names, views in zip(ids, names, images):
        folder = out / PNG_DIR / split / subject_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, image in zip(view_names, views):
            atomic_write_bytes(folder / f"{name}.png", image["bytes"])


def _run(spec: JobSpec, options: BuildOptions, plans: list[ShardPlan]) -> Iterator[tuple[ShardPlan, pa.Table]]:
    if options.workers == 0:
        from synth.shard import ShardBuilder

        builder = ShardBuilder(spec, options.source)
        try:
            for plan in plans:
                yield plan, builder.build(plan)
        finally:
            builder.close()
        return
    from synth.ray_runner import run_on_ray

    yield from run_on_ray(spec, options.source, plans, options.workers, options.address)


def run_build(spec: JobSpec, options: BuildOptions) -> BuildSummary:
    """Build (or resume) the dataset of `spec` in `options.out`."""
    out = Path(options.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SynthError(f"cannot create output folder {out}: {err.strerror}") from err
    with storage_errors(out), dataset_lock(out):
        previous = _prepare(out, spec, options.overwrite)
        plans = plan_shards(spec)
        finished = _finished(out, previous)
        todo = [p for p in plans if p.file not in finished]
        # Build the body model once here: fails early on missing files, builds Anny's cache
        # before any worker starts; then drop it, the driver only writes.
        manifest = new_manifest(spec, create(spec.body_model.name, options.source), plans)
        entries = dict(finished)
        manifest["shards"] = sorted(entries.values(), key=lambda e: e["file"])
        write_manifest(out, manifest)
        started = time.perf_counter()
        written, first_seconds, first_subjects = 0, 0.0, 0
        total = sum(p.num_subjects for p in todo)
        with tqdm(total=total, unit="subj", desc="build", disable=not options.progress, smoothing=0.1) as bar:
            for plan, table in _run(spec, options, todo):
                if spec.job.write_png:
                    _write_pngs(out, plan.split, table)
                shard = write_shard(out, plan.file, table)
                entries[plan.file] = {"file": shard.file, "split": plan.split, "first_subject": plan.first_subject,
                                      "num_rows": shard.num_rows, "bytes": shard.bytes, "sha256": shard.sha256}
                manifest["shards"] = sorted(entries.values(), key=lambda e: e["file"])
                write_manifest(out, manifest)
                written += shard.bytes
                if not first_subjects:
                    first_seconds, first_subjects = time.perf_counter() - started, plan.num_subjects
                bar.update(plan.num_subjects)
        manifest["complete"] = len(entries) == len(plans)
        manifest["measurements"] = measurement_summary(out, manifest)
        manifest["population"] = _population(out, spec) if manifest["complete"] else None
        write_manifest(out, manifest)
        write_card(out, manifest)
        return BuildSummary(total, len(todo), len(finished), time.perf_counter() - started, written,
                            first_seconds, first_subjects)


def _population(out: Path, spec: JobSpec) -> dict[str, Any] | None:
    """The finished dataset beside its reference population (None without one or without
    measurements)."""
    if spec.shape.reference == NO_REFERENCE or not spec.labels.measurements:
        return None
    table = load_reference(spec.shape.reference)
    report = compare_population(read_measured(out, table), table)
    return {"reference": table.name, "reference_sha256": file_sha256(table.path), "markdown": population_markdown(report),
            "report": report.to_dict()}


def default_workers() -> int:
    """One actor per core of this machine."""
    return max(1, os.cpu_count() or 1)
