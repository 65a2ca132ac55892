"""Label speed and agreement: the batched measurer against the reference one, on sampled bodies.

    python benchmarks/labels.py [--bodies 1000] [--batch 64] [--out benchmarks/results]

Draws BODIES bodies from the default job's calibrated population (`jobs/quickstart.toml`)
plus the corners of its range (the leanest and heaviest BMI at the shortest and tallest
height, per sex), then on one thread: the neutral-pose forward pass, `BodyMeasurer` (the
labels' geometry, batches of BATCH, a build's default `render.batch_size`), the forward pass shared with posing
(`BodyModel.pose_and_neutral_arrays`: what a build pays for the neutral body), and
`ReferenceMeasurer` (the plain one-body implementation). Writes `<out>/labels.{json,md}`:
ms a subject for each, and each label's largest difference from the reference.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import synth  # noqa: F401  (first: its OpenMP setting must come before torch loads, see synth/__init__.py)
import numpy as np

from body_models import create, source_from_env
from body_models.capture_pose import CapturePoseMapper
from synth.config import RenderSection, load_spec
from synth.measurements import MEASUREMENT_NAMES, BodyMeasurer, ReferenceMeasurer
from synth.population.girths import GIRTHS
from synth.population.reference import TAIL_PROBABILITY
from synth.population.sampler import shape_sampler
from synth.sampling.pose import sample_capture_pose
from synth.sampling.rng import subject_rng
from synth.shard import one_thread
from synth.subjects import shape_prior

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = {"_m": 5e-4, "volume_m3": 1e-3, "_pct": 0.05}
"""The agreement asked of the batched measurer: circumferences and height 0.5 mm, volume
0.1 % (relative), body fat 0.05 points; mass and BMI follow the volume and body fat."""


def _bodies(count: int) -> tuple[object, np.ndarray, np.ndarray]:
    """The model, `count` calibrated shapes plus 16 at the corners of the range, and capture poses."""
    spec = load_spec(ROOT / "jobs" / "quickstart.toml")
    model = create("anny", source_from_env())
    sampler = shape_sampler(model, shape_prior(spec), spec.shape.reference, spec.shape.girths)
    rngs = [subject_rng(2026, i) for i in range(count)]
    shapes = sampler.sample(rngs)
    style = model.sample_shapes([subject_rng(2027, i) for i in range(4)], shape_prior(spec))
    style[:, model.shape_space.labels.index("gender")] = [0.1, 0.4, 0.6, 0.9]
    rows = np.repeat(style, 4, axis=0)
    corners = np.array([[u, v] for u in (TAIL_PROBABILITY, 1 - TAIL_PROBABILITY)
                        for v in (TAIL_PROBABILITY, 1 - TAIL_PROBABILITY)] * 4)
    extremes = sampler.fitter.fit(rows, sampler.targets(rows, corners, np.zeros((len(rows), len(GIRTHS))))).shapes
    shapes = np.concatenate([shapes, extremes.astype(np.float32)])
    poses = CapturePoseMapper(model).to_native(np.stack([sample_capture_pose(rng, spec.pose) for rng in rngs[:1]] *
                                                        len(shapes)))
    return model, shapes, poses


def _timed(function, batches: list[slice]) -> tuple[list, float]:
    started = time.perf_counter()
    out = [function(rows) for rows in batches]
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=RenderSection.batch_size)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    with one_thread():
        model, shapes, poses = _bodies(args.bodies)
        fast = BodyMeasurer(model)
        reference = ReferenceMeasurer(model, fast.topology)
        female = np.array([model.female_fraction(s) for s in shapes])
        batches = [slice(k, k + args.batch) for k in range(0, len(shapes), args.batch)]
        neutral, forward_s = _timed(lambda rows: fast.rest_bodies(shapes[rows]), batches)
        _, posed_s = _timed(lambda rows: model.pose_arrays(shapes[rows], poses[rows]), batches)
        _, both_s = _timed(lambda rows: model.pose_and_neutral_arrays(shapes[rows], poses[rows]), batches)
        labels, measure_s = _timed(lambda rows: fast.measure_bodies(*neutral[rows.start // args.batch], female[rows]),
                                   batches)
        labels = [m for batch in labels for m in batch]
        vertices = np.concatenate([v for v, _ in neutral])
        joints = np.concatenate([j for _, j in neutral])
        started = time.perf_counter()
        truth = [reference.measure(v, j, f) for v, j, f in zip(vertices, joints, female)]
        reference_s = time.perf_counter() - started
    n = len(shapes)
    differences = {}
    for name in MEASUREMENT_NAMES:
        got = np.array([getattr(m, name) for m in labels])
        want = np.array([getattr(m, name) for m in truth])
        both = np.isfinite(got) & np.isfinite(want)
        gap = np.abs(got - want)[both]
        differences[name] = {"max": float(gap.max()), "max_relative": float((gap / np.abs(want[both])).max()),
                             "nan_mismatch": int((np.isfinite(got) != np.isfinite(want)).sum())}
    bmi = np.array([m.bmi_kg_m2 for m in truth])
    results = {"bodies": n, "batch": args.batch, "bmi_range": [float(bmi.min()), float(bmi.max())],
               "ms_per_subject": {"labels (BodyMeasurer, neutral bodies given)": 1000 * measure_s / n,
                                  "reference (ReferenceMeasurer)": 1000 * reference_s / n,
                                  "neutral-pose forward pass alone": 1000 * forward_s / n,
                                  "posed forward pass": 1000 * posed_s / n,
                                  "posed + neutral from one pass (what a build runs)": 1000 * both_s / n},
               "differences": differences}
    results["labels_in_a_build_ms"] = results["ms_per_subject"]["labels (BodyMeasurer, neutral bodies given)"] + \
        1000 * (both_s - posed_s) / n
    results["speedup_vs_reference"] = reference_s / measure_s
    ok = {name: (d["max_relative"] <= TOLERANCE["volume_m3"] if name == "volume_m3" else
                 d["max"] <= TOLERANCE["_pct"] if name.endswith("_pct") else
                 d["max"] <= TOLERANCE["_m"] if name.endswith("_m") else True) and not d["nan_mismatch"]
          for name, d in differences.items()}
    results["within_tolerance"] = ok
    lines = [f"# Labels: batched vs reference measurer ({n} bodies, BMI {bmi.min():.1f}-{bmi.max():.1f}, one thread, "
             f"batches of {args.batch})", "", "| what | ms a subject |", "|---|---|"]
    lines += [f"| {what} | {ms:.2f} |" for what, ms in results["ms_per_subject"].items()]
    lines += [f"| labels in a build (geometry + what the neutral body adds to the posing pass) | "
              f"**{results['labels_in_a_build_ms']:.2f}** |",
              f"| batched / reference | **{results['speedup_vs_reference']:.1f}x** faster |", "",
              "| label | largest difference from the reference | within tolerance |", "|---|---|---|"]
    for name, d in differences.items():
        figure = (f"{100 * d['max_relative']:.4f} %" if name == "volume_m3" else f"{d['max']:.3f} points"
                  if name.endswith("_pct") else f"{1000 * d['max']:.3f} mm" if name.endswith("_m")
                  else f"{d['max']:.4f}")
        lines.append(f"| {name} | {figure} | {'yes' if ok[name] else 'NO'} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "labels.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "labels.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
