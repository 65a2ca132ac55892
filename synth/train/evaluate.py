"""`synth eval`: errors of a checkpoint on a dataset split, beside closed-form baselines.

Per subject: PVE-T (mean per-vertex error of the neutral-pose body), PVE-T-SC (the same
after the best uniform scale of the predicted body about its centroid, the SSP-3D
convention, fair to nets that do not know the height), PVE (posed body, both
root-centred), height and circumference errors (tapes around the mesh, see
`synth.measurements`; for nets with measurement heads, the measurement stack's values, or
the heads' for checkpoints without a stack, with those of the predicted mesh beside them),
all in mm, and the body-fat error in %BF points. Reported as mean, median and TP90 (the
90th percentile of the absolute error), in JSON and markdown, for the net (its outputs
averaged over the checkpoint's test framings, `synth.train.framing`), the mean body and
the ridge baselines of `synth.train.baselines` (fitted on the training split), with the
net's improvement over each.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from body_models import BodyModelSource, SynthError
from body_models.capture_pose import CapturePoseMapper
from synth.dataset.atomic import atomic_write_bytes
from synth.measurements import MEASUREMENT_NAMES, BodyMeasurer
from synth.train.augment import AugmentConfig
from synth.train.baselines import fit_baselines
from synth.train.bodies import (denormalise, mean_vertex_error, measurements_from, mesh_measurements, model_for,
                                 net_measurements, neutral_vertices, posed_vertices)
from synth.train.checkpoint import load_checkpoint
from synth.train.data import SilhouetteStream, StreamConfig
from synth.train.framing import Framing
from synth.train.model import run_net

LENGTHS_MM = [m for m in MEASUREMENT_NAMES if m.endswith("_m")]


def subject_errors(model, mapper, measured: np.ndarray, shape: torch.Tensor | None, capture_pose: torch.Tensor | None,
                   batch) -> dict[str, np.ndarray]:
    """Per-subject errors (mm; body fat in points) of a method's measurements `measured`
    (B, M; `MEASUREMENT_NAMES` order, meters) and, unless `shape` is None (methods that
    predict measurements only), of its (shape, capture_pose) bodies against a batch's truth."""
    out = {}
    if shape is not None:
        with torch.no_grad():
            predicted, truth = neutral_vertices(model, shape), neutral_vertices(model, batch["shape"])
            out = {"pve_t_mm": mean_vertex_error(predicted, truth).numpy() * 1000,
                   "pve_t_sc_mm": mean_vertex_error(*scale_corrected(predicted, truth)).numpy() * 1000}
            posed_truth = model.forward(batch["shape"], batch["pose"])
            out["pve_mm"] = mean_vertex_error(posed_vertices(model, mapper, shape, capture_pose),
                                              posed_truth.vertices - posed_truth.joints[:, :1]).numpy() * 1000
    truth_columns = batch["measurements"].numpy()
    for name in LENGTHS_MM:
        k = MEASUREMENT_NAMES.index(name)
        out[name.removesuffix("_m") + "_mm"] = np.abs(measured[:, k] - truth_columns[:, k]) * 1000
    k = MEASUREMENT_NAMES.index("body_fat_pct")
    out["body_fat_pts"] = np.abs(measured[:, k] - truth_columns[:, k])
    return out


def scale_corrected(predicted: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both (B, V, 3) centred on their centroids, the prediction scaled by the least-squares s."""
    p, t = predicted - predicted.mean(1, keepdim=True), truth - truth.mean(1, keepdim=True)
    scale = (p * t).sum((1, 2)) / (p * p).sum((1, 2))
    return p * scale[:, None, None], t


def _summary(errors: dict[str, list[np.ndarray]]) -> dict[str, dict[str, float]]:
    summary = {}
    for name, parts in errors.items():
        values = np.concatenate(parts)
        values = values[np.isfinite(values)]
        if values.size:
            summary[name] = {"mean": float(values.mean()), "median": float(np.median(values)),
                             "tp90": float(np.percentile(values, 90))}
    return summary


def _stream(uri: str, split: str, meta: dict[str, Any], corrupted: bool = False,
            framings: tuple[Framing, ...] = ()) -> SilhouetteStream:
    return SilhouetteStream(StreamConfig(uri=uri, split=split, views=tuple(meta["views"]),
                                         input_size=meta["input_size"], augment=AugmentConfig(enabled=corrupted),
                                         shuffle_buffer=1, repeat=False, framings=framings))


def evaluate(checkpoint: Path, uri: str, split: str, source: BodyModelSource, train_split: str = "train",
             baseline_rows: int = 4000, train_uri: str | None = None, corrupted: bool = False) -> dict[str, Any]:
    """The report of the module docstring; `baseline_rows` rows of `train_split` of
    `train_uri` (default: `uri`) fit the baselines (0: mean body only). `corrupted`: the
    test inputs get the training corruptions at full strength (masks, framing, height and
    weight noise; seeded, so every run draws the same), as stand-ins for real masks and
    typed-in numbers; the baselines are still fitted on clean rows."""
    state = load_checkpoint(checkpoint)
    meta, net, stats = state["meta"], state["model"], state["stats"]
    model = model_for(meta["body_model"]["name"], meta["body_model"]["version"], meta["dataset_spec"], source)
    mapper, measurer = CapturePoseMapper(model), BodyMeasurer(model)
    data = _stream(uri, split, meta, corrupted, state["framings"])
    baselines = (fit_baselines(_stream(train_uri or uri, train_split, meta), net.config, baseline_rows)
                 if baseline_rows else [])
    heads = net.config.measurement_size > 0
    methods = ["model", *(["model_mesh"] if heads else []), "mean_body", *(b.name for b in baselines)]
    errors: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in methods}
    mean_body = mesh_measurements(model, measurer, stats.shape_mean[None].cpu())
    subjects = 0
    for batch in DataLoader(data, batch_size=32):
        if ((net.config.known_height or net.config.known_weight)
                and torch.isnan(batch["height_input_m"] + batch["weight_input_kg"]).any()):
            raise SynthError(f"{checkpoint} takes the subject's height or weight, but {uri} has no such labels "
                             "(built with labels.measurements = false)")
        with torch.no_grad():
            predicted = denormalise(run_net(net, batch), stats)
        count = len(batch["shape"])
        subjects += count
        on_mesh = mesh_measurements(model, measurer, predicted["shape"])
        measured = net_measurements(predicted, on_mesh, state["stack"])
        guesses = {
            "model": (measured, predicted["shape"], predicted["capture_pose"]),
            "mean_body": (mean_body.repeat(count, 0), stats.shape_mean.expand(count, -1),
                          stats.pose_mean.expand(count, -1)),
        }
        if heads:
            guesses["model_mesh"] = (on_mesh, None, None)
        for baseline in baselines:
            values = baseline.predict(batch)
            guesses[baseline.name] = ((values.double().numpy(), None, None) if baseline.target == "measurements" else
                                      (mesh_measurements(model, measurer, values), values,
                                       stats.pose_mean.expand(count, -1)))
        for method, (measured, shape, pose) in guesses.items():
            shape, pose = (None, None) if shape is None else (shape.cpu(), pose.cpu())
            for name, values in subject_errors(model, mapper, measured, shape, pose, batch).items():
                errors[method].setdefault(name, []).append(values)
    return {"checkpoint": str(checkpoint), "data": uri, "split": split, "subjects": subjects,
            "baselines_fitted_on": f"{train_uri or uri} ({train_split})",
            "corrupted": corrupted,
            "views": meta["views"], "body_model": model.version, "known_height": net.config.known_height,
            "known_weight": net.config.known_weight,
            "measurements_from": measurements_from(net, state["stack"]),
            "model": _summary(errors["model"]), "mean_body": _summary(errors["mean_body"]),
            **({"model_mesh": _summary(errors["model_mesh"])} if heads else {}),
            "baselines": {b.name: {"ridge": b.fit.strength, "train_rows_max": baseline_rows, **_summary(errors[b.name])}
                          for b in baselines}}


def markdown(report: dict[str, Any]) -> str:
    """Net mean / median / TP90 per metric, (nets with measurement heads) the mean of the
    measurements taken on the net's own mesh, each baseline's mean, and the net's
    improvement over the best baseline (positive: the net's mean error is that much lower)."""
    others = {"mean body": report["mean_body"], **report.get("baselines", {})}
    mesh = report.get("model_mesh")
    heads = (f"; the net's measurements come from its {report.get('measurements_from', 'measurement heads')} "
             "('net mesh': measured on its predicted mesh instead)" if mesh else "")
    given = "reported (true + noise)" if report.get("corrupted") else "true"
    lines = [f"# Evaluation on {report['data']} ({report['split']}, {report['subjects']} subjects"
             f"{', inputs corrupted as in training' if report.get('corrupted') else ''})", "",
             f"Views: {', '.join(report['views'])}; body model {report['body_model']}"
             f"{f'; the net and baselines were given each {given} height' if report['known_height'] else ''}"
             f"{f'; the net and baselines were given each {given} weight' if report.get('known_weight') else ''}"
             f"{heads}. Errors in mm "
             f"(body fat in %BF points); baselines fitted on {report.get('baselines_fitted_on', 'the training split')}.",
             "",
             "| metric | net mean | net median | net TP90 | " + ("net mesh mean | " if mesh else "")
             + " | ".join(f"{n} mean" for n in others) + " | net vs best baseline |",
             "|---|---|---|---|" + ("---|" if mesh else "") + "---|" * len(others) + "---|"]
    for name, values in report["model"].items():
        means = [others[n].get(name, {}).get("mean", float("nan")) for n in others]
        best = np.nanmin(means) if np.isfinite(means).any() else float("nan")
        own = (f"{mesh[name]['mean']:.1f} | " if name in mesh else "– | ") if mesh else ""
        # a baseline given the very number it predicts (the true height) scores 0: no ratio then
        gain = f"{100 * (1 - values['mean'] / best):+.0f} %" if best > 1e-3 * values["mean"] else "–"
        lines.append(f"| {name} | {values['mean']:.1f} | {values['median']:.1f} | {values['tp90']:.1f} | {own}"
                     + " | ".join("–" if np.isnan(m) else f"{m:.1f}" for m in means) + f" | {gain} |")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """eval.{json,md} in `out` (eval_corrupted.* for a report on corrupted inputs)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = "eval_corrupted" if report.get("corrupted") else "eval"
    atomic_write_bytes(out / f"{stem}.json", json.dumps(report, indent=2).encode())
    atomic_write_bytes(out / f"{stem}.md", markdown(report).encode())
    return out / f"{stem}.json", out / f"{stem}.md"
