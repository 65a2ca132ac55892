"""`synth predict`: silhouette images (or photos) -> body mesh, parameters and measurements.

Images are read (size-limited, `synth.images.read_image`), binarised (grey > 127 = body)
and framed like training data; they are never copied or written anywhere. Each image is
checked: it must be a binary mask (not a photo), not empty, not filling the frame, and
there must be one per view the checkpoint was trained on, in its order. With `photos`,
each photo is segmented and checked instead (`synth.photo.capture`: one person, whole,
big and sharp enough, seen from the view's side, arms out on front views) and an
overlay picture is written. Then the checkpoint's silhouette gate (`synth.train.gate`)
refuses shapes that are not a person in the capture pose, and front and back
silhouettes must show the arms out (`check_arms_apart`; photos were checked already).
The net's outputs are averaged over the checkpoint's test framings (`synth.train.framing`).
The reported measurements are the measurement stack's (`synth.train.stacking`), or the
heads' for checkpoints without one, or the mesh's for nets without heads; prediction.json
also holds those measured on the predicted mesh (`mesh_measurements`).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from body_models import BodyModelSource, SynthError
from body_models.capture_pose import POSE_DOFS, CapturePoseMapper
from synth.dataset.atomic import atomic_write_bytes, atomic_write_mesh
from synth.images import read_image
from synth.measurements import BodyMeasurer, Measurements
from synth.subjects import place_on_ground
from synth.train.bodies import clamp_shape, denormalise, measurements_from, model_for, net_measurements
from synth.train.checkpoint import load_checkpoint
from synth.arms import check_arms_apart
from synth.train.framing import PLAIN, frame_views
from synth.train.model import SCALAR_INPUTS, average_framings

_GREY_FRACTION = 0.05  # more mid-grey pixels than this: not a mask


def read_silhouette(path: Path) -> np.ndarray:
    """(H, W) bool mask of a silhouette image; SynthError saying what is wrong with it."""
    grey = read_image(path, "L")
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


def view_yaws(meta: dict[str, Any]) -> list[float]:
    """The camera azimuth (radians) of each view of a checkpoint, from its dataset's spec."""
    spec_views = meta["dataset_spec"]["views"]
    yaws = dict(zip(spec_views["names"], spec_views["yaw_deg"]))
    return [float(np.radians(yaws[name])) for name in meta["views"]]


def view_kinds(meta: dict[str, Any]) -> list[str]:
    """"front" (front or back) or "side" for each view of a checkpoint."""
    return ["front" if abs(np.cos(yaw)) > 0.7 else "side" for yaw in view_yaws(meta)]


def _read_masks(images: list[Path], kinds: list[str], photos: bool) -> tuple[list[np.ndarray], list | None]:
    """The (H, W) bool silhouettes of the inputs and, for photos, the captured photos."""
    if not photos:
        return [read_silhouette(path) for path in images], None
    from synth.photo.capture import capture

    captured = capture(images, kinds)
    return [c.mask for c in captured], captured


def _write_overlay(out: Path, captured: list, model, posed_v: np.ndarray, cameras: np.ndarray, meta: dict[str, Any],
                   caption: str) -> Path:
    """overlay.png: the photos with the segmented and the predicted silhouettes."""
    from synth.photo.overlay import fit_to_box, overlay_png, view_camera
    from synth.render.renderer import SilhouetteRenderer

    fov = np.radians(np.mean(meta["dataset_spec"]["camera"]["vertical_fov_deg"]))
    predicted = []
    for photo, yaw, (distance, height, pitch) in zip(captured, view_yaws(meta), cameras):
        rows, cols = photo.mask.shape
        renderer = SilhouetteRenderer(cols, rows, model.faces, len(posed_v))
        try:
            renderer.set_vertices(posed_v)
            mask = renderer.render(view_camera(distance, height, pitch, yaw, fov, cols, rows))
        finally:
            renderer.close()
        predicted.append(fit_to_box(mask, photo.mask) if mask.any() else mask)
    path = out / "overlay.png"
    atomic_write_bytes(path, overlay_png([c.rgb for c in captured], [c.mask for c in captured], predicted, caption))
    return path


def predict(checkpoint: Path, images: list[Path], out: Path, source: BodyModelSource,
            mesh_format: str = "obj", height_m: float | None = None, weight_kg: float | None = None,
            photos: bool = False) -> dict[str, Any]:
    """Write body.<fmt> (posed), body_neutral.<fmt> and prediction.json into `out`, and
    overlay.png when `photos`. `images`: one silhouette per view, or with `photos` one
    photo per view (segmented and checked by `synth.photo.capture`). `height_m` /
    `weight_kg`: the subject's standing height (m) and weight (kg), for checkpoints that
    take them."""
    state = load_checkpoint(checkpoint)
    meta, net, stats = state["meta"], state["model"], state["stats"]
    scalars = _scalar_inputs(net, {"height_m": height_m, "weight_kg": weight_kg})
    views = meta["views"]
    what = "photos" if photos else "silhouettes"
    if len(images) != len(views):
        raise SynthError(f"the checkpoint expects {len(views)} {what} ({', '.join(views)}, in that order), "
                         f"got {len(images)}")
    kinds = view_kinds(meta)
    masks, captured = _read_masks(images, kinds, photos)
    framed = frame_views(masks, meta["input_size"], (PLAIN, *state["framings"]))
    frames = framed[0]
    if state["gate"] is not None:
        state["gate"].check(frames, views, [str(p) for p in images])
    if captured is None:  # photos had their arms checked with the capture
        check_arms_apart(masks, kinds, [str(p) for p in images])
    model = model_for(meta["body_model"]["name"], meta["body_model"]["version"], meta["dataset_spec"], source)
    with torch.no_grad():
        predicted = denormalise(average_framings(net, torch.from_numpy(framed)[None], **scalars), stats)
    shape = clamp_shape(model, predicted["shape"]).numpy().astype(np.float32)
    capture_pose = predicted["capture_pose"].numpy()
    native = CapturePoseMapper(model).to_native(capture_pose)
    measurer = BodyMeasurer(model)
    neutral_v, neutral_j = measurer.rest_bodies(shape)
    posed_v, posed_j = model.pose_arrays(shape, native)
    on_mesh = measurer.measure(neutral_v[0], neutral_j[0], model.female_fraction(shape[0]))
    measured = net_measurements(predicted, np.array([dataclasses.astuple(on_mesh)]), state["stack"])
    measurements = Measurements(*measured[0].tolist())
    out.mkdir(parents=True, exist_ok=True)
    posed = posed_v[0] + place_on_ground(posed_v[0], posed_j[0])
    atomic_write_mesh(out / f"body.{mesh_format}", posed, model.faces)
    atomic_write_mesh(out / f"body_neutral.{mesh_format}", neutral_v[0] + place_on_ground(neutral_v[0], neutral_j[0]),
                      model.faces)
    cameras = predicted["camera"][0].numpy()
    report = {
        "inputs": [str(p) for p in images],
        "input_kind": what,
        "given_height_m": height_m,
        "given_weight_kg": weight_kg,
        "views": views,
        "body_model": model.version,
        "shape": dict(zip(model.shape_space.labels, shape[0].tolist())),
        "capture_pose_deg": dict(zip(POSE_DOFS, np.degrees(capture_pose[0]).tolist())),
        "camera": [dict(zip(("distance_m", "height_m", "pitch_rad"), c)) for c in cameras.tolist()],
        "measurements": dataclasses.asdict(measurements),
        "measurements_from": measurements_from(net, state["stack"]),
        "mesh_measurements": dataclasses.asdict(on_mesh),
        "frame": "meters, +y up, facing +z, feet on y=0",
    }
    if captured is not None:
        caption = (f"height {measurements.height_m:.2f} m   waist {measurements.waist_circumference_m:.2f} m   "
                   f"hip {measurements.hip_circumference_m:.2f} m   body fat {measurements.body_fat_pct:.1f} %")
        report["overlay"] = str(_write_overlay(out, captured, model, posed, cameras, meta, caption))
    atomic_write_bytes(out / "prediction.json", json.dumps(report, indent=2).encode())
    return report
