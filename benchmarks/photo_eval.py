"""Photos versus true silhouettes: how much the segmentation step costs.

    python benchmarks/photo_eval.py CHECKPOINT DATASET [--split test] [--out benchmarks/results/photos]

DATASET: a build with photo.enabled (another seed than the checkpoint's training data).
Each subject's photos go through what `synth predict --photos` does (mediapipe
segmentation, the capture checks, the arms' reach among them, and the checkpoint's
silhouette gate, then the net); the same subjects also go through their true silhouettes. Writes
photo_eval.{json,md}: segmentation IoU per view (mean, P5), refusals by reason, and
PVE-T, waist and body-fat errors of both paths on the subjects the photo path accepted;
and segmentation.png: the first photos with the true (white) and segmented (green) outlines.
"""
from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from PIL import Image
from scipy import ndimage

from body_models import BodyModelSource, SynthError, source_from_env
from body_models.capture_pose import CapturePoseMapper
from synth.images import decode_silhouette
from synth.measurements import BodyMeasurer
from synth.photo.checks import capture_problem
from synth.photo.segment import Segmenter
from synth.train.augment import AugmentConfig
from synth.train.bodies import denormalise, mesh_measurements, model_for, net_measurements
from synth.train.checkpoint import load_checkpoint
from synth.train.data import SilhouetteStream, StreamConfig, list_shards
from synth.train.evaluate import subject_errors
from synth.train.framing import PLAIN, frame_views
from synth.train.model import run_net
from synth.train.predict import view_kinds

ROOT = Path(__file__).resolve().parents[1]
REPORTED = ("pve_t_mm", "waist_circumference_mm", "body_fat_pts")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _example(rgb: np.ndarray, truth: np.ndarray, segmented: np.ndarray, size: int = 320) -> np.ndarray:
    """The person's square, enlarged to `size` px, with the true (white) and segmented
    (green) outlines, 2 px wide."""
    rows, cols = np.flatnonzero((truth | segmented).any(1)), np.flatnonzero((truth | segmented).any(0))
    half = int(0.55 * max(rows[-1] - rows[0], cols[-1] - cols[0])) + 4
    cy, cx = (rows[0] + rows[-1]) // 2, (cols[0] + cols[-1]) // 2
    box = (cx - half, cy - half, cx + half, cy + half)

    def crop(image: Image.Image, resample) -> np.ndarray:
        return np.asarray(image.crop(box).resize((size, size), resample))

    tile = crop(Image.fromarray(rgb), Image.Resampling.BICUBIC).copy()
    for mask, colour in ((truth, (255, 255, 255)), (segmented, (40, 230, 90))):
        big = crop(Image.fromarray(mask), Image.Resampling.NEAREST)
        tile[big & ~ndimage.binary_erosion(big, iterations=2)] = colour
    return tile


def _rows(uri: str, split: str, columns: list[str]):
    filesystem, files = list_shards(uri, split)
    for path in files:
        yield from pq.read_table(path, filesystem=filesystem, columns=columns).to_pylist()


def segment_dataset(uri: str, split: str, views: list[str], kinds: list[str], gate, input_size: int,
                    framings: tuple = ()):
    """Per subject index: photo frames (1 + K, V, S, S: plain, then the K test framings;
    `synth.train.framing.frame_views`) or the refusal reason; IoUs per view; example tiles."""
    segmenter = Segmenter()
    frames, refused, ious, tiles = {}, {}, {v: [] for v in views}, []
    seconds, count = 0.0, 0
    for row in _rows(uri, split, columns=["subject_index", "view_names", "silhouettes", "photos"]):
        masks, problem = [], None
        for view, kind in zip(views, kinds):
            k = row["view_names"].index(view)
            rgb = np.asarray(Image.open(io.BytesIO(row["photos"][k]["bytes"])).convert("RGB"))
            truth = decode_silhouette(row["silhouettes"][k]["bytes"])
            started = time.perf_counter()
            seg = segmenter.segment(rgb)
            seconds, count = seconds + time.perf_counter() - started, count + 1
            ious[view].append(_iou(seg.mask, truth))
            problem = problem or capture_problem(seg, rgb, kind)
            masks.append(seg.mask)
            if len(tiles) < 12 and seg.mask.any():
                tiles.append(_example(rgb, truth, seg.mask))
        if problem is None:
            try:
                framed = frame_views(masks, input_size, (PLAIN, *framings))
                if gate is not None:
                    gate.check(framed[0], views, views)
                frames[row["subject_index"]] = framed
            except SynthError as err:
                problem = str(err)
        if problem is not None:
            refused[row["subject_index"]] = problem
    segmenter.close()
    return frames, refused, ious, tiles, 1000 * seconds / max(count, 1)


# a refusal's short name, by the words of its message (`synth.photo.checks`, the gate)
_REASONS = {"no person": "no person", "more than one person": "more than one person", "cut off": "cut off",
            "is only": "too small", "blurry": "blurry", "expected a": "wrong view", "arms hang down": "arms hang down",
            "does not look like a person": "does not look like a person"}


def _reason(problem: str) -> str:
    return next((name for words, name in _REASONS.items() if words in problem), problem)


def evaluate_photos(checkpoint: Path, uri: str, split: str, source: BodyModelSource) -> tuple[dict, list]:
    state = load_checkpoint(checkpoint)
    meta, net, stats = state["meta"], state["model"], state["stats"]
    views, kinds = list(meta["views"]), view_kinds(meta)
    model = model_for(meta["body_model"]["name"], meta["body_model"]["version"], meta["dataset_spec"], source)
    mapper, measurer = CapturePoseMapper(model), BodyMeasurer(model)
    photo_frames, refused, ious, tiles, ms = segment_dataset(uri, split, views, kinds, state["gate"],
                                                             meta["input_size"], state["framings"])
    stream = SilhouetteStream(StreamConfig(uri=uri, split=split, views=tuple(views), input_size=meta["input_size"],
                                           augment=AugmentConfig(enabled=False), shuffle_buffer=1, repeat=False,
                                           framings=state["framings"]))
    errors = {"true silhouettes": {}, "photos": {}}
    for batch in torch.utils.data.DataLoader(stream, batch_size=32):
        keep = [i for i, index in enumerate(batch["subject_index"].tolist()) if index in photo_frames]
        if not keep:
            continue
        batch = {k: v[keep] for k, v in batch.items()}
        framed = torch.from_numpy(np.stack([photo_frames[i] for i in batch["subject_index"].tolist()]))
        by_photo = dict(batch, silhouettes=framed[:, 0], reframed=framed[:, 1:])
        for path, inputs in (("true silhouettes", batch), ("photos", by_photo)):
            with torch.no_grad():
                predicted = denormalise(run_net(net, inputs), stats)
            on_mesh = mesh_measurements(model, measurer, predicted["shape"])
            measured = net_measurements(predicted, on_mesh, state["stack"])
            for name, values in subject_errors(model, mapper, measured, predicted["shape"], predicted["capture_pose"],
                                               batch).items():
                errors[path].setdefault(name, []).append(values)
    subjects = len(photo_frames) + len(refused)
    reasons: dict[str, int] = {}
    for problem in refused.values():
        reasons[_reason(problem)] = reasons.get(_reason(problem), 0) + 1
    report = {
        "checkpoint": str(checkpoint), "data": uri, "split": split, "subjects": subjects, "views": views,
        "segmentation_ms_per_photo": round(ms, 1),
        "iou": {v: {"mean": float(np.mean(x)), "p5": float(np.percentile(x, 5)), "min": float(np.min(x))}
                for v, x in ious.items()},
        "accepted": len(photo_frames), "refused": reasons,
        "errors": {path: {name: {"mean": float(np.mean(np.concatenate(v))),
                                 "median": float(np.median(np.concatenate(v))),
                                 "tp90": float(np.percentile(np.concatenate(v), 90))}
                          for name, v in errs.items() if name in REPORTED}
                   for path, errs in errors.items()},
    }
    return report, tiles


def markdown(report: dict) -> str:
    lines = [f"# Photos vs true silhouettes: {report['data']} ({report['split']}, {report['subjects']} subjects)", "",
             f"Checkpoint `{report['checkpoint']}`; segmentation {report['segmentation_ms_per_photo']} ms a photo.", "",
             "| view | IoU mean | IoU P5 | IoU min |", "|---|---|---|---|"]
    lines += [f"| {v} | {s['mean']:.3f} | {s['p5']:.3f} | {s['min']:.3f} |" for v, s in report["iou"].items()]
    lines += ["", f"Accepted by the capture checks and the gate: {report['accepted']} of {report['subjects']}; "
              "refused: " + (", ".join(f"{k}: {n}" for k, n in report["refused"].items()) or "none"), "",
              f"Errors on the {report['accepted']} accepted subjects (mean / median / TP90):", "",
              "| input | " + " | ".join(REPORTED) + " |", "|---|" + "---|" * len(REPORTED)]
    for path, errs in report["errors"].items():
        lines.append(f"| {path} | " + " | ".join(
            f"{errs[m]['mean']:.1f} / {errs[m]['median']:.1f} / {errs[m]['tp90']:.1f}" for m in REPORTED) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("dataset")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "photos")
    args = parser.parse_args()
    report, tiles = evaluate_photos(args.checkpoint, args.dataset, args.split, source_from_env())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "photo_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "photo_eval.md").write_text(markdown(report))
    rows = [np.concatenate(tiles[i:i + 6], axis=1) for i in range(0, len(tiles) - len(tiles) % 6, 6)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out / "segmentation.png")
    print(markdown(report))


if __name__ == "__main__":
    main()
