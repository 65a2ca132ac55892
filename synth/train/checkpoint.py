"""Checkpoints: network weights plus everything needed to use them on new silhouettes."""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from body_models import SynthError
from synth.dataset.atomic import atomic_write_bytes
from synth.train.augment import AugmentConfig
from synth.train.framing import inference_framings
from synth.train.gate import SilhouetteGate
from synth.train.model import NetConfig, SilhouetteNet
from synth.train.stacking import MeasurementStack

FORMAT = "synth-checkpoint/3"
"""2: nets read area-averaged frames (`synth.train.framing`); 3: measurement labels version 3
(tape circumferences at the surveys' landmarks, RFM body fat: 15 measurements)."""
_RETIRED = {
    "synth-checkpoint/1": "was trained on point-sampled silhouette frames; frames are area-averaged since "
                          "synth-checkpoint/2",
    "synth-checkpoint/2": "was trained on measurement labels version 2 (12 labels, US Navy body fat); the labels "
                          "are version 3 (tape circumferences at the surveys' landmarks, RFM body fat)",
}


@dataclass(frozen=True)
class TargetStats:
    """Mean and std of each target over training rows (tensors, float32); the measurements'
    only for nets with measurement heads."""

    shape_mean: torch.Tensor
    shape_std: torch.Tensor
    pose_mean: torch.Tensor
    pose_std: torch.Tensor
    camera_mean: torch.Tensor
    camera_std: torch.Tensor
    measurement_mean: torch.Tensor | None = None
    measurement_std: torch.Tensor | None = None

    def to(self, device: str) -> "TargetStats":
        return TargetStats(**{k: None if v is None else v.to(device) for k, v in asdict(self).items()})


def save_checkpoint(path: Path, net: SilhouetteNet, stats: TargetStats, meta: dict[str, Any],
                    optimizer: torch.optim.Optimizer | None = None, scheduler=None,
                    gate: SilhouetteGate | None = None, stack: MeasurementStack | None = None) -> None:
    """Write atomically; `meta` holds body model, views, step, config, metrics; `gate`
    refuses silhouettes unlike the training ones at predict time; `stack` turns the
    measurement heads' and the mesh's readings into the reported measurements."""
    state = {
        "format": FORMAT,
        "net_config": asdict(net.config),
        "net": net.state_dict(),
        "stats": asdict(stats),
        "gate": gate.to_dict() if gate else None,
        "stack": stack.to_dict() if stack else None,
        "meta": meta,
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scheduler": scheduler.state_dict() if scheduler else None,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    """The checkpoint dict with `net` rebuilt, `stats` as TargetStats, `gate` as a
    SilhouetteGate (None in checkpoints written before the gate), `stack` as a
    MeasurementStack (None before training ended, or before stacks) and `framings`, the
    test framings its net averages over (none when it trained without augmentation);
    SynthError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise SynthError(f"checkpoint {path} not found")
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as err:  # torch raises many types for bad files
        raise SynthError(f"{path} is not a readable checkpoint ({type(err).__name__}: {err})") from err
    if isinstance(state, dict) and state.get("format") in _RETIRED:
        raise SynthError(f"{path} {_RETIRED[state['format']]}: retrain it with `synth train` on a dataset built by "
                         "this synth")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SynthError(f"{path} is not a synth checkpoint ({FORMAT})")
    net = SilhouetteNet(NetConfig(**state["net_config"]))
    net.load_state_dict(state["net"])
    state["model"] = net.to(device).eval()
    state["stats"] = TargetStats(**state["stats"]).to(device)
    state["gate"] = SilhouetteGate(**state["gate"]) if state.get("gate") else None
    state["stack"] = MeasurementStack.from_dict(state["stack"]) if state.get("stack") else None
    augment = AugmentConfig()
    state["framings"] = (inference_framings(augment.scale_jitter, augment.shift_jitter)
                         if state["meta"].get("train_config", {}).get("data", {}).get("augment") else ())
    return state
