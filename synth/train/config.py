"""Training config: TOML -> validated, frozen `TrainConfig` (same rules as job specs)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from body_models import SynthError
from synth.validation import apply_overrides, build_sections, plain_dict, read_toml


@dataclass(frozen=True)
class DataSection:
    """uri: dataset folder or URI (s3://...); *_split: split names; views: views fed to
    the net, in order; input_size: framed silhouette side, pixels; num_workers: DataLoader
    workers; shuffle_buffer: rows mixed in memory per worker; augment: corrupt training
    inputs like real masks and typed-in numbers (`synth.train.augment`); corruption: scales
    the probability of each mask corruption (erosion / dilation, boundary noise, occluder,
    missing limb; 0 = clean masks, framing jitter and height / weight noise stay);
    train_rows: train on the first rows of the train split only (at least this many, whole
    row groups; 0 = all), for data-scaling curves."""

    uri: str = "outputs/quickstart"
    train_split: str = "train"
    val_split: str = "val"
    views: tuple[str, ...] = ("front", "left")
    input_size: int = 128
    num_workers: int = 1
    shuffle_buffer: int = 256
    augment: bool = True
    corruption: float = 1.0
    train_rows: int = 0


@dataclass(frozen=True)
class ModelSection:
    """width: channels of the first encoder stage (doubles three times); known_height: the
    net also takes the subject's standing height (m), as a phone app would ask for it
    (training feeds the label with `height_noise_m` of noise; `synth predict --height-m`);
    known_weight: likewise the body weight (kg; `weight_noise_kg` of noise, `--weight-kg`);
    grid: the encoder's output map per view (grid x grid cells; 1 = global average);
    skip_pixels: side of the pooled silhouettes the linear path sees (0 = no linear path);
    measurements: heads that regress the measurement labels (circumferences, body fat, ...)
    directly; `synth eval` and `synth predict` report those. See `synth.train.model`."""

    width: int = 32
    known_height: bool = False
    known_weight: bool = False
    grid: int = 4
    skip_pixels: int = 32
    measurements: bool = True


@dataclass(frozen=True)
class OptimSection:
    """AdamW with cosine decay. vertex_weight multiplies the mean per-vertex error of the
    neutral-pose body (meters); param_weight the normalised parameter MSE (shape, plus the
    capture pose's times pose_weight: no target is taken in the capture pose, and what of it
    the silhouettes cannot tell only adds noise to the encoder's gradient); camera_weight
    the normalised camera MSE; measurement_weight the normalised measurement MSE (nets with
    measurement heads; labels a row lacks are left out); vertex_loss: "linear" takes the
    vertex error of every row on the body linearised about the training mean shape
    (`synth.train.bodies.LinearisedBody`: a matrix product), "exact" runs the body model's
    forward and backward on `vertex_rows` rows of each batch (0 = all; they run on the CPU)."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    steps: int = 2000
    vertex_weight: float = 10.0
    param_weight: float = 1.0
    pose_weight: float = 1.0
    camera_weight: float = 0.1
    measurement_weight: float = 1.0
    vertex_loss: str = "linear"
    vertex_rows: int = 0


@dataclass(frozen=True)
class RunSection:
    """out: run folder (checkpoints, metrics.jsonl, curve.png); device: auto, cpu, cuda;
    eval_every: steps between validations; val_batches: batches per validation;
    stats_rows: training rows used to normalise targets and to fit the silhouette gate;
    stack_rows: training rows the measurement stack (`synth.train.stacking`) is fitted on
    after the last step, read as in training (0: no stack, the heads' measurements are
    reported)."""

    out: str = "outputs/train"
    device: str = "auto"
    seed: int = 0
    eval_every: int = 200
    val_batches: int = 8
    stats_rows: int = 2048
    stack_rows: int = 2048


@dataclass(frozen=True)
class TrainConfig:
    data: DataSection = DataSection()
    model: ModelSection = ModelSection()
    optim: OptimSection = OptimSection()
    run: RunSection = RunSection()

    def to_dict(self) -> dict[str, Any]:
        return plain_dict(self)


_CLASSES = {"data": DataSection, "model": ModelSection, "optim": OptimSection, "run": RunSection}
_LIMITS = {
    "data.uri": ("str", 1, 4096), "data.train_split": ("str", 1, 64), "data.val_split": ("str", 1, 64),
    "data.views": ("names", 1, 16), "data.input_size": ("int", 32, 512), "data.num_workers": ("int", 0, 64),
    "data.shuffle_buffer": ("int", 1, 100_000), "data.augment": ("bool", 0, 1),
    "data.corruption": ("float", 0, 1), "data.train_rows": ("int", 0, 10**9),
    "model.width": ("int", 4, 256), "model.known_height": ("bool", 0, 1),
    "model.known_weight": ("bool", 0, 1), "model.grid": ("int", 1, 16), "model.skip_pixels": ("int", 0, 128),
    "model.measurements": ("bool", 0, 1),
    "optim.lr": ("float", 1e-7, 1.0), "optim.weight_decay": ("float", 0, 1), "optim.batch_size": ("int", 1, 4096),
    "optim.steps": ("int", 1, 10**8), "optim.vertex_weight": ("float", 0, 1e4),
    "optim.param_weight": ("float", 0, 1e4), "optim.pose_weight": ("float", 0, 1e4),
    "optim.camera_weight": ("float", 0, 1e4), "optim.measurement_weight": ("float", 0, 1e4),
    "optim.vertex_loss": ("str", 1, 16), "optim.vertex_rows": ("int", 0, 4096),
    "run.out": ("str", 1, 4096), "run.device": ("str", 1, 16), "run.seed": ("int", 0, 2**63 - 1),
    "run.eval_every": ("int", 1, 10**8), "run.val_batches": ("int", 1, 10**6), "run.stats_rows": ("int", 1, 10**7),
    "run.stack_rows": ("int", 0, 10**7),
}


VERTEX_LOSSES = ("linear", "exact")


def config_from_dict(raw: dict[str, Any]) -> TrainConfig:
    config = TrainConfig(**build_sections(raw, _CLASSES, _LIMITS, "training config"))
    if config.optim.vertex_loss not in VERTEX_LOSSES:
        raise SynthError(f"training config: optim.vertex_loss = {config.optim.vertex_loss!r}: expected one of "
                         f"{', '.join(VERTEX_LOSSES)}")
    return config


def load_train_config(path: Path, overrides: list[str] = ()) -> TrainConfig:
    """Read a training TOML, apply `section.key=value` overrides, validate."""
    raw = read_toml(path, "training config")
    apply_overrides(raw, overrides)
    return config_from_dict(raw)
