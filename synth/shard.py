"""The per-shard work, as plain Python: spec + shard plan -> Arrow table.

A `ShardBuilder` owns one body model and one renderer and is reused for many
shards (inside a Ray actor, or directly in tests). It knows nothing about Ray. It
adds up the seconds each stage took (`StageCosts`), for the benchmark's cost split.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from threadpoolctl import threadpool_limits

from body_models import BodyModel, BodyModelSource, SynthError, create
from body_models.capture_pose import CapturePoseMapper
from synth.config import JobSpec
from synth.dataset.writer import rows_to_table
from synth.images import encode_silhouette
from synth.labels import view_labels
from synth.measurements import MEASUREMENT_NAMES, BodyMeasurer, Measurements
from synth.plan import ShardPlan
from synth.population.people import MEASURES, load_people
from synth.population.sampler import shape_sampler
from synth.sampling.rng import photo_rng
from synth.subjects import Subject, draw_subjects, pose_subjects, shape_prior

STAGES = ("sample", "pose", "measure", "render", "encode", "photo", "rows")
"""sample: shapes and capture poses; pose: forward pass (with labels on, the neutral body
too, from the same pass), placing, framing the cameras; measure: measurement labels of the
neutral bodies; render: silhouettes; encode: PNG; photo: photo-like JPEGs
(photo.enabled only); rows: 2D labels and the Arrow table."""


@dataclass
class StageCosts:
    """Seconds spent per stage (`STAGES`) and subjects built, summed over shards."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    subjects: int = 0

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - started


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one intra-op thread in torch (and its MKL) and in numpy's BLAS,
    restoring the caller's settings after: the same arithmetic in every execution mode
    and on every machine of one kind, whatever its core count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class RenderedView:
    """One rendered view: (H, W) bool mask and its PNG bytes."""

    mask: np.ndarray
    png: bytes


def subject_row(spec: JobSpec, model: BodyModel, split: str, subject: Subject, age_years: float,
                rendered: list[RenderedView], measurements: Measurements | None, photos: list[bytes] | None = None,
                person: Person | None = None) -> dict[str, Any]:
    """One dataset row (see `synth.dataset.schema.COLUMNS`); age_years: the body's
    (`BodyModel.age_years` of its shape); measurements None -> nulls;
    photos: JPEG bytes per view, for jobs with photo.enabled; person: the measured person
    the body was fitted to, for jobs with shape.people."""
    labels = [view_labels(subject.joints, view.camera, r.mask) for view, r in zip(subject.views, rendered)]
    row = {
        "subject_index": subject.index,
        "subject_id": f"{subject.index:09d}",
        "split": split,
        "seed": spec.job.seed,
        "body_model": model.name,
        "body_model_version": model.version,
        "shape": subject.shape.tolist(),
        "capture_pose_rad": subject.capture_pose.tolist(),
        "pose": subject.pose.tolist(),
        "translation_m": subject.translation.tolist(),
        "joints_3d_m": subject.joints.reshape(-1).tolist(),
        "view_names": [v.name for v in subject.views],
        "silhouettes": [{"bytes": r.png, "path": f"{subject.index:09d}_{v.name}.png"}
                        for v, r in zip(subject.views, rendered)],
        "K": [v.camera.K.reshape(-1).tolist() for v in subject.views],
        "R": [v.camera.R.reshape(-1).tolist() for v in subject.views],
        "t": [v.camera.t.tolist() for v in subject.views],
        "joints_2d_px": [lab.joints_2d.reshape(-1).tolist() for lab in labels],
        "bbox_xyxy_px": [lab.bbox_xyxy.tolist() for lab in labels],
        "silhouette_fill": [lab.fill for lab in labels],
        "camera_attempts": [v.attempts for v in subject.views],
        "age_years": float(age_years),
        "image_width": spec.camera.width,
        "image_height": spec.camera.height,
        **(dataclasses.asdict(measurements) if measurements else dict.fromkeys(MEASUREMENT_NAMES)),
    }
    if photos is not None:
        row["photos"] = [{"bytes": jpeg, "path": f"{subject.index:09d}_{v.name}.jpg"}
                         for v, jpeg in zip(subject.views, photos)]
    if person is not None:
        labels = dataclasses.asdict(measurements) if measurements else {}
        row.update(person_id=person.id, person_targets=person.targets.tolist(),
                   person_residuals=[labels.get(name, np.nan) - target if np.isfinite(target) else np.nan
                                     for name, target in zip(MEASURES, person.targets)])
    return row


@dataclass(frozen=True)
class Person:
    """The measured person a body was fitted to: id and targets (len(MEASURES),) SI, NaN where
    not measured."""

    id: str
    targets: np.ndarray


class ShardBuilder:
    """Builds shards for one spec with one long-lived body model and renderer."""

    def __init__(self, spec: JobSpec, source: BodyModelSource, gpu_ids: list | None = None) -> None:
        """gpu_ids: the GPUs this builder was given to render on (a software renderer is then refused)."""
        self.spec = spec
        self.gpu_ids = gpu_ids
        self.model = create(spec.body_model.name, source)
        self.mapper = CapturePoseMapper(self.model)
        self.measurer = BodyMeasurer(self.model)
        self.people = load_people(spec.shape.people) if spec.shape.people else None
        self.shapes = shape_sampler(self.model, shape_prior(spec), spec.shape.reference, spec.shape.girths,
                                    self.people)
        self.costs = StageCosts()
        self._renderer = None
        self._photos = None

    def _open_renderer(self, vertex_count: int):
        from synth.render.renderer import SilhouetteRenderer

        renderer = SilhouetteRenderer(self.spec.camera.width, self.spec.camera.height, self.model.faces, vertex_count)
        if self.gpu_ids:
            from synth.render.gpu import require_hardware

            try:
                require_hardware(renderer.gl_renderer, self.gpu_ids)
            except SynthError:
                renderer.close()
                raise
        return renderer

    def _render_views(self, subject: Subject) -> list[RenderedView]:
        if self._renderer is None:
            self._renderer = self._open_renderer(len(subject.vertices))
        with self.costs.timed("render"):
            self._renderer.set_vertices(subject.vertices)
        rendered = []
        for view in subject.views:
            with self.costs.timed("render"):
                mask = self._renderer.render(view.camera)
            with self.costs.timed("encode"):
                rendered.append(RenderedView(mask, encode_silhouette(mask)))
        return rendered

    def _render_photos(self, subject: Subject) -> list[bytes] | None:
        if not self.spec.photo.enabled:
            return None
        with self.costs.timed("photo"):
            if self._photos is None:
                from synth.photo.render import PhotoRenderer

                self._photos = PhotoRenderer(self.spec.camera.width, self.spec.camera.height, self.model.faces,
                                             self.model.skeleton)
            section = self.spec.photo
            return self._photos.render_subject(
                photo_rng(self.spec.job.seed, subject.index), subject.vertices, subject.joints,
                [view.camera for view in subject.views], section.hair_share, section.noise_std,
                (int(section.jpeg_quality[0]), int(section.jpeg_quality[1])))

    def build(self, plan: ShardPlan) -> pa.Table:
        """All rows of one shard, in subject order, computed on one thread (`one_thread`)."""
        with one_thread():
            return self._build(plan)

    def _build(self, plan: ShardPlan) -> pa.Table:
        rows = []
        indices = plan.subject_indices
        batch = self.spec.render.batch_size
        with self.costs.timed("sample"):  # the whole shard at once: a body's draws do not depend on its batch
            drawn = draw_subjects(self.spec, self.shapes, indices)
        with self.costs.timed("rows"):
            ages = self.model.age_years(drawn.shapes)
        for start in range(0, len(indices), batch):
            draws = drawn.part(start, start + batch)
            with self.costs.timed("pose"):
                subjects, neutral = pose_subjects(self.spec, self.model, self.mapper, draws,
                                                  neutral=self.spec.labels.measurements)
            with self.costs.timed("measure"):
                measured = (self.measurer.measure_bodies(neutral.vertices, neutral.joints, np.array(
                    [self.model.female_fraction(s) for s in draws.shapes])) if neutral else [None] * len(subjects))
            for k, (subject, measurements) in enumerate(zip(subjects, measured), start):
                rendered = self._render_views(subject)
                photos = self._render_photos(subject)
                with self.costs.timed("rows"):
                    rows.append(subject_row(self.spec, self.model, plan.split, subject, ages[k], rendered,
                                            measurements, photos, self._person(subject.index)))
        with self.costs.timed("rows"):
            table = rows_to_table(rows, self.spec.photo.enabled, self.people is not None)
        self.costs.subjects += len(indices)
        return table

    def _person(self, index: int) -> Person | None:
        if self.people is None:
            return None
        return Person(str(self.people.ids[index]), self.people.targets(np.array([index]))[0])

    def close(self) -> None:
        for renderer in (self._renderer, self._photos):
            if renderer is not None:
                renderer.close()
        self._renderer = self._photos = None
