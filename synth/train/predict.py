"""`synth predict`: silhouette images -> body mesh, parameters and measurements.

Images are read, binarised (grey > 127 = body) and framed like training data; they are
never copied or written anywhere. Each image is checked: it must be a binary mask
(not a photo), not empty, not filling the frame, and there must be one per view the
checkpoint was trained on, in its order; then the checkpoint's silhouette gate
(`synth.train.gate`) refuses shapes that are not a person in the capture pose.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from body_models import BodyModelSource, SynthError
from body_models.capture_pose import POSE_DOFS, CapturePoseMapper
from synth.dataset.atomic import atomic_write_bytes, atomic_write_mesh
from synth.measurements import BodyMeasurer
from synth.subjects import place_on_ground, pose_bodies
from synth.train.bodies import clamp_shape, denormalise, model_for
from synth.train.checkpoint import load_checkpoint
from synth.train.framing import frame_silhouette
from synth.train.model import SCALAR_INPUTS

_GREY_FRACTION = 0.05  # more mid-grey pixels than this: not a mask
MAX_IMAGE_PIXELS = 50_000_000  # a 48 MP phone photo fits; a decompression bomb does not


def read_silhouette(path: Path) -> np.ndarray:
    """(H, W) bool mask of a silhouette image; SynthError saying what is wrong with it. The
    size is checked from the header before any pixel is decoded (at most MAX_IMAGE_PIXELS)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise SynthError(f"{path}: {width}x{height} pixels is more than the {MAX_IMAGE_PIXELS / 1e6:.0f} "
                                     "megapixels read; resize it (the net sees it at a few hundred pixels)")
                grey = np.asarray(image.convert("L"))
    except FileNotFoundError as err:
        raise SynthError(f"{path}: no such image") from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise SynthError(f"{path}: image too large to open safely ({err}); resize it") from err
    except (UnidentifiedImageError, OSError) as err:
        raise SynthError(f"{path}: not a readable image ({err})") from err
    if ((grey > 16) & (grey < 240)).mean() > _GREY_FRACTION:
        raise SynthError(f"{path}: not a binary silhouette (many grey levels; segment the person first)")
    mask = grey > 127
    if mask.sum() < 50:
        raise SynthError(f"{path}: the silhouette is empty (expected white body on black)")
    if mask.mean() > 0.6:
        raise SynthError(f"{path}: {mask.mean():.0%} of the image is body; expected a white body on a black "
                         "background (inverted?)")
    return mask


# scalar input -> (CLI option, what it is, valid range, unit hint for a value outside it)
_SCALAR_OPTIONS = {
    "height_m": ("--height-m", "standing height", (0.5, 2.5), "meters, e.g. 1.78"),
    "weight_kg": ("--weight-kg", "body weight", (20.0, 400.0), "kilograms, e.g. 82.5 (1 lb = 0.4536 kg)"),
}


def _scalar_inputs(net, given: dict[str, float | None]) -> dict[str, torch.Tensor | None]:
    """The height / weight (1,) tensors the net takes, each checked against what the
    checkpoint was trained with and against its plausible range."""
    inputs = {}
    for name, (flag, _, _, _) in SCALAR_INPUTS.items():
        option, what, (low, high), unit = _SCALAR_OPTIONS[name]
        value = given.get(name)
        if not getattr(net.config, flag):
            if value is not None:
                raise SynthError(f"this checkpoint was trained without the subject's {what}; leave out {option}")
            inputs[name] = None
            continue
        if value is None:
            raise SynthError(f"this checkpoint takes the subject's {what}: pass {option} ({unit})")
        if not low <= value <= high:
            raise SynthError(f"{option} {value}: expected a {what} in {unit.split(',')[0]}, {low:g}..{high:g}")
        inputs[name] = torch.tensor([value], dtype=torch.float32)
    return inputs


def predict(checkpoint: Path, images: list[Path], out: Path, source: BodyModelSource,
            mesh_format: str = "obj", height_m: float | None = None, weight_kg: float | None = None) -> dict[str, Any]:
    """Write body.<fmt> (posed), body_neutral.<fmt> and prediction.json into `out`.
    `height_m` / `weight_kg`: the subject's standing height (m) and weight (kg), for
    checkpoints that take them."""
    state = load_checkpoint(checkpoint)
    meta, net, stats = state["meta"], state["model"], state["stats"]
    scalars = _scalar_inputs(net, {"height_m": height_m, "weight_kg": weight_kg})
    views = meta["views"]
    if len(images) != len(views):
        raise SynthError(f"the checkpoint expects {len(views)} silhouettes ({', '.join(views)}, in that order), "
                         f"got {len(images)}")
    frames = np.stack([frame_silhouette(read_silhouette(p), meta["input_size"]) for p in images])
    if state["gate"] is not None:
        state["gate"].check(frames, views, [str(p) for p in images])
    model = model_for(meta["body_model"]["name"], meta["body_model"]["version"], meta["dataset_spec"], source)
    with torch.no_grad():
        predicted = denormalise(net(torch.from_numpy(frames)[None], **scalars), stats)
    shape = clamp_shape(model, predicted["shape"]).numpy().astype(np.float32)
    capture = predicted["capture_pose"].numpy()
    native = CapturePoseMapper(model).to_native(capture)
    neutral_v, neutral_j = pose_bodies(model, shape, np.tile(model.rest_pose(), (1, 1)))
    posed_v, posed_j = pose_bodies(model, shape, native)
    measurements = BodyMeasurer(model).measure(neutral_v[0], neutral_j[0], model.female_fraction(shape[0]))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_mesh(out / f"body.{mesh_format}", posed_v[0] + place_on_ground(posed_v[0], posed_j[0]), model.faces)
    atomic_write_mesh(out / f"body_neutral.{mesh_format}", neutral_v[0] + place_on_ground(neutral_v[0], neutral_j[0]),
                model.faces)
    report = {
        "inputs": [str(p) for p in images],
        "given_height_m": height_m,
        "given_weight_kg": weight_kg,
        "views": views,
        "body_model": model.version,
        "shape": dict(zip(model.shape_space.labels, shape[0].tolist())),
        "capture_pose_deg": dict(zip(POSE_DOFS, np.degrees(capture[0]).tolist())),
        "camera": [dict(zip(("distance_m", "height_m", "pitch_rad"), c)) for c in predicted["camera"][0].tolist()],
        "measurements": dataclasses.asdict(measurements),
        "frame": "meters, +y up, facing +z, feet on y=0",
    }
    atomic_write_bytes(out / "prediction.json", json.dumps(report, indent=2).encode())
    return report
