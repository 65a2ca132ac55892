"""`synth train`: the training loop, with validation, checkpoints, resume and logs.

Losses: normalised parameter MSE (shape, and capture pose at `optim.pose_weight`),
normalised camera MSE, the normalised MSE of the measurement heads, and the mean
per-vertex error (meters) of the neutral-pose body, so the net is judged in millimetres.
The vertex error is taken on the body linearised about the training mean shape
(`optim.vertex_loss = "linear"`, every row, a matrix product) or through the
differentiable body model ("exact", on the CPU, on `optim.vertex_rows` rows of each
batch: its forward and backward cost more than a 64 px net's step). Validation always
uses the body model. After the last step, best.pt gets its measurement stack
(`synth.train.stacking`), fitted on training rows.
"""
from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from body_models import BodyModel, BodyModelSource, SynthError
from synth.measurements import MEASUREMENT_NAMES, BodyMeasurer
from synth.train import stacking
from synth.train.augment import AugmentConfig
from synth.train.bodies import (LinearisedBody, dataset_body_model, denormalise, linearise, mean_vertex_error,
                                 mesh_measurements, neutral_vertices)
from synth.train.checkpoint import TargetStats, load_checkpoint, save_checkpoint
from synth.train.config import TrainConfig
from synth.train.data import SilhouetteStream, StreamConfig, view_cameras
from synth.train.gate import fit_gate
from synth.train.model import NetConfig, SilhouetteNet, run_net
from synth.train.plot import plot_curves

log = logging.getLogger(__name__)
BEST, LAST, METRICS, CURVE = "best.pt", "last.pt", "metrics.jsonl", "curve.png"


@dataclass(frozen=True)
class TrainResult:
    steps: int
    first_loss: float
    last_loss: float
    best_val_pve_t_mm: float
    out: Path


def pick_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SynthError("run.device = 'cuda' but no CUDA device is visible; use 'cpu' or 'auto'")
    if name not in ("cpu", "cuda"):
        raise SynthError(f"run.device = {name!r}: expected auto, cpu or cuda")
    return name


def batch_to(batch: dict[str, Any], device: str) -> dict[str, Any]:
    """The batch with its tensors moved to `device` (other values as they are)."""
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def stream(config: TrainConfig, split: str, train: bool) -> SilhouetteStream:
    data = config.data
    return SilhouetteStream(StreamConfig(
        uri=data.uri, split=split, views=data.views, input_size=data.input_size,
        augment=AugmentConfig(enabled=train and data.augment).with_corruption(data.corruption),
        shuffle_buffer=data.shuffle_buffer if train else 1,
        seed=config.run.seed, repeat=train, max_rows=data.train_rows if split == data.train_split else 0))


def add_measurement_stack(config: TrainConfig, checkpoint: Path, model: BodyModel) -> None:
    """Fit the measurement stack (`synth.train.stacking`) of a checkpoint's net on the first
    `run.stack_rows` training rows, augmented as in training and read the way eval and
    predict read a subject (every test framing), and write it into the checkpoint."""
    state = load_checkpoint(checkpoint)
    net, stats, measurer = state["model"], state["stats"], BodyMeasurer(model)
    source = SilhouetteStream(replace(stream(config, config.data.train_split, train=True).config, shuffle_buffer=1,
                                      repeat=False, framings=state["framings"]))
    heads, mesh, labels = [], [], []
    for batch in DataLoader(source, batch_size=64):
        with torch.no_grad():
            predicted = denormalise(run_net(net, batch), stats)
        heads.append(predicted["measurements"].double().numpy())
        mesh.append(mesh_measurements(model, measurer, predicted["shape"]))
        labels.append(batch["measurements"].double().numpy())
        if sum(map(len, labels)) >= config.run.stack_rows:
            break
    rows = config.run.stack_rows
    stack = stacking.fit_stack(*(np.concatenate(part)[:rows] for part in (heads, mesh, labels)),
                               stats.measurement_std.double().numpy())
    save_checkpoint(checkpoint, net, stats, state["meta"], gate=state["gate"], stack=stack)


def target_stats(source: SilhouetteStream, rows: int, views: tuple[str, ...], measurements: bool) -> TargetStats:
    """Mean/std of the targets over the first `rows` rows (std floored to avoid /0; labels a
    row lacks left out); the measurements' only when `measurements`."""
    shapes, poses, cameras, measured = [], [], [], []
    for row in source.rows():
        shapes.append(row["shape"])
        poses.append(row["capture_pose_rad"])
        cameras.append(view_cameras(row, views))
        measured.append([np.nan if row[m] is None else row[m] for m in MEASUREMENT_NAMES])
        if len(shapes) >= rows:
            break

    def pair(values) -> tuple[torch.Tensor, torch.Tensor]:
        array = np.asarray(values, np.float64)
        with warnings.catch_warnings():  # a label no row has (volume of an open mesh) stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nanmean(array, 0), np.nanstd(array, 0)
        return (torch.tensor(np.nan_to_num(mean), dtype=torch.float32),
                torch.tensor(np.nan_to_num(std, nan=1.0), dtype=torch.float32).clamp_min(1e-3))

    (sm, ss), (pm, ps), (cm, cs) = pair(shapes), pair(poses), pair(cameras)
    return TargetStats(sm, ss, pm, ps, cm, cs, *(pair(measured) if measurements else (None, None)))


def vertex_loss_model(model: BodyModel, stats: TargetStats, config: TrainConfig,
                      device: str) -> BodyModel | LinearisedBody:
    """What `losses` takes the vertex error through: the body model linearised about the
    training mean shape (optim.vertex_loss "linear") or the body model itself ("exact")."""
    return linearise(model, stats.shape_mean.cpu()).to(device) if config.optim.vertex_loss == "linear" else model


def measurement_loss(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], stats: TargetStats) -> torch.Tensor:
    """Normalised MSE of the measurement heads over the labels each row has (0 without heads)."""
    if "measurements" not in outputs:
        return torch.zeros((), device=outputs["shape"].device)
    target = (batch["measurements"] - stats.measurement_mean) / stats.measurement_std
    known = torch.isfinite(target)
    squared = (outputs["measurements"] - torch.where(known, target, 0.0)) ** 2
    return (squared * known).sum() / known.sum().clamp_min(1)


def losses(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], stats: TargetStats,
           model: BodyModel | LinearisedBody, config: TrainConfig) -> dict[str, torch.Tensor]:
    """The loss terms of the module docstring; `model` is the body model (optim.vertex_loss
    "exact") or its linearisation ("linear")."""
    opt = config.optim
    param = (((outputs["shape"] - (batch["shape"] - stats.shape_mean) / stats.shape_std) ** 2).mean()
             + opt.pose_weight
             * ((outputs["capture_pose"] - (batch["capture_pose"] - stats.pose_mean) / stats.pose_std) ** 2).mean())
    camera = ((outputs["camera"] - (batch["camera"] - stats.camera_mean) / stats.camera_std) ** 2).mean()
    predicted = denormalise(outputs, stats)["shape"]
    if isinstance(model, LinearisedBody):
        vertex = model.vertex_error(predicted, batch["shape"]).mean()
    else:
        rows = opt.vertex_rows or len(batch["shape"])  # the batch is shuffled: its first rows are a random subset
        with torch.no_grad():
            truth = neutral_vertices(model, batch["shape"][:rows].cpu())
        vertex = mean_vertex_error(neutral_vertices(model, predicted[:rows].cpu()), truth).mean()
    measured = measurement_loss(outputs, batch, stats)
    total = (opt.param_weight * param + opt.camera_weight * camera + opt.vertex_weight * vertex.to(param.device)
             + opt.measurement_weight * measured)
    return {"loss": total, "param": param, "camera": camera, "measurements": measured, "pve_t_m": vertex}


def validate(net: SilhouetteNet, loader: DataLoader, stats: TargetStats, model: BodyModel, batches: int,
             device: str) -> float:
    """Mean neutral-pose per-vertex error (mm) over `batches` validation batches."""
    net.eval()
    errors = []
    with torch.no_grad():
        for k, batch in enumerate(loader):
            if k >= batches:
                break
            shape = denormalise(run_net(net, batch_to(batch, device)), stats)["shape"].cpu()
            errors.append(mean_vertex_error(neutral_vertices(model, shape), neutral_vertices(model, batch["shape"])))
    net.train()
    return float(torch.cat(errors).mean()) * 1000.0


def _clean_frames(config: TrainConfig, rows: int) -> np.ndarray:
    """(N, V, S, S) framed, un-augmented silhouettes of the first `rows` training rows."""
    frames = []
    for sample in stream(config, config.data.train_split, train=False):
        frames.append(sample["silhouettes"].numpy())
        if len(frames) >= rows:
            break
    return np.stack(frames)


def _loader(source: SilhouetteStream, config: TrainConfig) -> DataLoader:
    workers = config.data.num_workers
    return DataLoader(source, batch_size=config.optim.batch_size, num_workers=workers,
                      persistent_workers=workers > 0, prefetch_factor=4 if workers else None)


def build_net(config: TrainConfig, model: BodyModel, manifest: dict[str, Any]) -> SilhouetteNet:
    """A fresh net for a training config and the dataset (body model, manifest) it reads."""
    return SilhouetteNet(NetConfig(
        views=len(config.data.views), shape_size=model.shape_space.size,
        pose_size=len(manifest["body_model"]["capture_pose_labels"]), width=config.model.width,
        input_size=config.data.input_size, known_height=config.model.known_height,
        known_weight=config.model.known_weight, grid=config.model.grid, skip_pixels=config.model.skip_pixels,
        measurement_size=len(MEASUREMENT_NAMES) if config.model.measurements else 0))


def train(config: TrainConfig, source: BodyModelSource, resume: bool = False, progress: bool = True) -> TrainResult:
    device = pick_device(config.run.device)
    out = Path(config.run.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.run.seed)
    model, manifest = dataset_body_model(config.data.uri, source)
    built_views = manifest["spec"]["views"]["names"]
    missing = [name for name in config.data.views if name not in built_views]
    if missing:
        raise SynthError(f"data.views asks for {', '.join(missing)}, but {config.data.uri} has the views "
                         f"{', '.join(built_views)}; set data.views to some of those")
    needs = [name for name in ("known_height", "known_weight", "measurements") if getattr(config.model, name)]
    if needs and not manifest["spec"]["labels"]["measurements"]:
        raise SynthError(f"model.{needs[0]} needs measurement labels, but {config.data.uri} was built "
                         f"with labels.measurements = false; rebuild it with measurements on, or set "
                         f"model.{needs[0]} = false")
    train_stream = stream(config, config.data.train_split, train=True)
    val_stream = stream(config, config.data.val_split, train=False)
    net = build_net(config, model, manifest).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.optim.steps)
    step, best = 0, float("inf")
    if resume:
        if not (out / LAST).exists():
            raise SynthError(f"--resume: no {LAST} in {out}")
        state = load_checkpoint(out / LAST, device)
        net.load_state_dict(state["model"].state_dict())
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        stats, step, best = state["stats"], state["meta"]["step"], state["meta"]["best_val_pve_t_mm"]
        gate = state["gate"]
    else:
        stats = target_stats(train_stream, config.run.stats_rows, config.data.views, config.model.measurements)
        gate = fit_gate(_clean_frames(config, config.run.stats_rows))
        (out / METRICS).unlink(missing_ok=True)
    stats = stats.to(device)
    vertex_model = vertex_loss_model(model, stats, config, device)
    meta: dict[str, Any] = {
        "body_model": manifest["body_model"], "dataset_spec": manifest["spec"], "views": list(config.data.views),
        "input_size": config.data.input_size, "train_config": config.to_dict(),
    }
    first_loss = last_loss = float("nan")
    val_loader = _loader(val_stream, config)
    started = time.perf_counter()
    with (out / METRICS).open("a") as metrics, tqdm(total=config.optim.steps, initial=step, desc="train",
                                                     disable=not progress) as bar:
        for batch in _loader(train_stream, config):
            if step >= config.optim.steps:
                break
            batch = batch_to(batch, device)
            parts = losses(run_net(net, batch), batch, stats, vertex_model, config)
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            optimizer.step()
            scheduler.step()
            step += 1
            last_loss = float(parts["loss"].detach())
            first_loss = last_loss if np.isnan(first_loss) else first_loss
            record = {"step": step, "seconds": round(time.perf_counter() - started, 2),
                      **{k: round(float(v.detach()), 6) for k, v in parts.items()}, "lr": scheduler.get_last_lr()[0]}
            if step % config.run.eval_every == 0 or step == config.optim.steps:
                record["val_pve_t_mm"] = validate(net, val_loader, stats, model, config.run.val_batches, device)
                meta.update(step=step, best_val_pve_t_mm=min(best, record["val_pve_t_mm"]))
                if record["val_pve_t_mm"] < best:
                    best = record["val_pve_t_mm"]
                    save_checkpoint(out / BEST, net, stats, meta, gate=gate)
                save_checkpoint(out / LAST, net, stats, meta, optimizer, scheduler, gate)
                plot_curves(out / METRICS, out / CURVE)
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
            bar.set_postfix(loss=f"{last_loss:.3f}", pve_t_mm=f"{float(parts['pve_t_m'].detach()) * 1000:.1f}")
            bar.update(1)
    plot_curves(out / METRICS, out / CURVE)
    if config.model.measurements and config.run.stack_rows:
        add_measurement_stack(config, out / BEST, model)
    return TrainResult(step, first_loss, last_loss, best, out)
