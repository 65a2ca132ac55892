"""`synth eval`: millimetre errors of a checkpoint on a dataset split, beside a mean-body baseline.

Per subject: PVE-T (mean per-vertex error of the neutral-pose body), PVE (posed body,
both root-centred), height error and circumference errors (plane sections, see
`synth.measurements`), all in mm. Reported as mean and median, in JSON and markdown.
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
from synth.train.bodies import clamp_shape, denormalise, mean_vertex_error, model_for, neutral_vertices, posed_vertices
from synth.train.checkpoint import load_checkpoint
from synth.train.data import SilhouetteStream, StreamConfig
from synth.train.model import run_net

LENGTHS_MM = [m for m in MEASUREMENT_NAMES if m.endswith("_m")]


def _errors(model, mapper, measured, shape, capture_pose, batch) -> dict[str, np.ndarray]:
    """Per-subject errors (mm) of predicted (shape, capture_pose), whose neutral bodies
    measure `measured`, against a batch's truth."""
    with torch.no_grad():
        predicted, truth = neutral_vertices(model, shape), neutral_vertices(model, batch["shape"])
        out = {"pve_t_mm": mean_vertex_error(predicted, truth).numpy() * 1000}
        posed_truth = model.forward(batch["shape"], batch["pose"])
        out["pve_mm"] = mean_vertex_error(posed_vertices(model, mapper, shape, capture_pose),
                                          posed_truth.vertices - posed_truth.joints[:, :1]).numpy() * 1000
    truth_columns = batch["measurements"].numpy()
    for name in LENGTHS_MM:
        k = MEASUREMENT_NAMES.index(name)
        values = np.array([getattr(m, name) for m in measured])
        out[name.removesuffix("_m") + "_mm"] = np.abs(values - truth_columns[:, k]) * 1000
    return out


def _summary(errors: dict[str, list[np.ndarray]]) -> dict[str, dict[str, float]]:
    summary = {}
    for name, parts in errors.items():
        values = np.concatenate(parts)
        values = values[np.isfinite(values)]
        if values.size:
            summary[name] = {"mean": float(values.mean()), "median": float(np.median(values))}
    return summary


def evaluate(checkpoint: Path, uri: str, split: str, source: BodyModelSource) -> dict[str, Any]:
    state = load_checkpoint(checkpoint)
    meta, net, stats = state["meta"], state["model"], state["stats"]
    model = model_for(meta["body_model"]["name"], meta["body_model"]["version"], meta["dataset_spec"], source)
    mapper, measurer = CapturePoseMapper(model), BodyMeasurer(model)
    data = SilhouetteStream(StreamConfig(uri=uri, split=split, views=tuple(meta["views"]),
                                         input_size=meta["input_size"], augment=AugmentConfig(enabled=False),
                                         shuffle_buffer=1, repeat=False))
    errors: dict[str, dict[str, list[np.ndarray]]] = {"model": {}, "mean_body": {}}
    mean_body = measurer.measure_shapes(stats.shape_mean[None].cpu().numpy())[0]
    subjects = 0
    for batch in DataLoader(data, batch_size=32):
        if net.config.known_height and torch.isnan(batch["height_input_m"]).any():
            raise SynthError(f"{checkpoint} takes the subject's height, but {uri} has no height labels "
                             "(built with labels.measurements = false)")
        with torch.no_grad():
            predicted = denormalise(run_net(net, batch), stats)
        count = len(batch["shape"])
        subjects += count
        guesses = {
            "model": (predicted["shape"], predicted["capture_pose"],
                      measurer.measure_shapes(clamp_shape(model, predicted["shape"]).cpu().numpy())),
            "mean_body": (stats.shape_mean.expand(count, -1), stats.pose_mean.expand(count, -1), [mean_body] * count),
        }
        for method, (shape, pose, measured) in guesses.items():
            for name, values in _errors(model, mapper, measured, shape.cpu(), pose.cpu(), batch).items():
                errors[method].setdefault(name, []).append(values)
    return {"checkpoint": str(checkpoint), "data": uri, "split": split, "subjects": subjects,
            "views": meta["views"], "body_model": model.version, "known_height": net.config.known_height,
            "model": _summary(errors["model"]), "mean_body": _summary(errors["mean_body"])}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Evaluation on {report['data']} ({report['split']}, {report['subjects']} subjects)", "",
             f"Views: {', '.join(report['views'])}; body model {report['body_model']}"
             f"{'; the model was given each true height' if report['known_height'] else ''}. Errors in mm.", "",
             "| metric | model mean | model median | mean-body mean | mean-body median |", "|---|---|---|---|---|"]
    for name, values in report["model"].items():
        base = report["mean_body"].get(name, {"mean": float("nan"), "median": float("nan")})
        lines.append(f"| {name} | {values['mean']:.1f} | {values['median']:.1f} | {base['mean']:.1f} | "
                     f"{base['median']:.1f} |")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "eval.json", json.dumps(report, indent=2).encode())
    atomic_write_bytes(out / "eval.md", markdown(report).encode())
    return out / "eval.json", out / "eval.md"
