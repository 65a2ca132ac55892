"""How much of a checkpoint's chest error comes from chest labels whose loop takes in the arms.

    python benchmarks/chest_label.py CHECKPOINT TESTSET [--split test]

The chest label is the plane section's loop that encloses the torso at chest height
(`synth.measurements`). In Anny's rest pose the arms of the heaviest bodies touch the
torso there, and the loop then takes them in: it spans more than `MERGED_SPAN` times the
shoulder joints' distance (torso-only loops span at most ~1.3x). Prints how many test
subjects that hits and the net's chest error with and without them.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
import trimesh
from shapely.geometry import Point
from torch.utils.data import DataLoader

from body_models import source_from_env
from synth.measurements import MEASUREMENT_NAMES, BodyMeasurer
from synth.train.augment import AugmentConfig
from synth.train.bodies import denormalise, model_for
from synth.train.checkpoint import load_checkpoint
from synth.train.data import SilhouetteStream, StreamConfig
from synth.train.evaluate import net_measurements
from synth.train.model import run_net

MERGED_SPAN = 1.5


def chest_loop_span(model, vertices: np.ndarray, joints: np.ndarray) -> float:
    """Width (x) of the chest label's loop over the shoulder joints' distance."""
    sk = model.skeleton
    ls, rs, lh, rh = (sk.index(n) for n in (*sk.shoulder[:2], *sk.hip[:2]))
    shoulder_y, hip_y = 0.5 * (joints[ls, 1] + joints[rs, 1]), 0.5 * (joints[lh, 1] + joints[rh, 1])
    y = shoulder_y - 0.25 * (shoulder_y - hip_y)
    section = trimesh.Trimesh(vertices, model.faces, process=False).section(plane_origin=[0, y, 0],
                                                                           plane_normal=[0, 1, 0])
    planar, to_3d = section.to_2D()
    centre = np.linalg.inv(to_3d) @ np.array([0.5 * (joints[lh, 0] + joints[rh, 0]), y,
                                             joints[[sk.index(n) for n in sk.spine], 2].mean(), 1.0])
    loops = [p for p in planar.polygons_closed if p is not None and p.contains(Point(centre[0], centre[1]))]
    ring = np.array(max(loops, key=lambda p: p.exterior.length).exterior.coords)
    world = (to_3d @ np.c_[ring, np.zeros(len(ring)), np.ones(len(ring))].T).T
    return float((world[:, 0].max() - world[:, 0].min()) / abs(joints[ls, 0] - joints[rs, 0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("testset")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    state = load_checkpoint(args.checkpoint)
    meta, net, stats = state["meta"], state["model"], state["stats"]
    model = model_for(meta["body_model"]["name"], meta["body_model"]["version"], meta["dataset_spec"],
                      source_from_env())
    measurer = BodyMeasurer(model)
    data = SilhouetteStream(StreamConfig(uri=args.testset, split=args.split, views=tuple(meta["views"]),
                                         input_size=meta["input_size"], augment=AugmentConfig(enabled=False),
                                         shuffle_buffer=1, repeat=False))
    chest = MEASUREMENT_NAMES.index("chest_circumference_m")
    errors, merged = [], []
    for batch in DataLoader(data, batch_size=50):
        with torch.no_grad():
            predicted = net_measurements(denormalise(run_net(net, batch), stats), model, measurer)
        errors.append(np.abs(predicted[:, chest] - batch["measurements"][:, chest].numpy()) * 1000)
        vertices, joints = measurer.rest_bodies(batch["shape"].double().numpy())
        merged += [chest_loop_span(model, v, j) > MERGED_SPAN for v, j in zip(vertices, joints)]
    errors, merged = np.concatenate(errors), np.array(merged)
    print(f"{len(errors)} subjects; chest label loop takes in the arms: {merged.sum()} ({100 * merged.mean():.1f} %)")
    print(f"net chest error: mean {errors.mean():.1f} mm; without them {errors[~merged].mean():.1f} mm "
          f"(median {np.median(errors[~merged]):.1f}, TP90 {np.percentile(errors[~merged], 90):.1f}); "
          f"on them {errors[merged].mean():.1f} mm")


if __name__ == "__main__":
    main()
