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
from torch.utils.data import DataLoader

from body_models import source_from_env
from synth.measurements import MEASUREMENT_NAMES, BodyMeasurer, loop_ring
from synth.train.augment import AugmentConfig
from synth.train.bodies import denormalise, model_for
from synth.train.checkpoint import load_checkpoint
from synth.train.data import SilhouetteStream, StreamConfig
from synth.train.evaluate import net_measurements
from synth.train.model import run_net

MERGED_SPAN = 1.5


def chest_loop_span(measurer: BodyMeasurer, vertices: np.ndarray, joints: np.ndarray) -> float:
    """Width (x) of the chest label's loop over the shoulder joints' distance."""
    sk = measurer.model.skeleton
    left, right = (sk.index(name) for name in sk.shoulder[:2])
    chest = measurer.chest_point(joints)
    ring = loop_ring(trimesh.Trimesh(vertices, measurer.model.faces, process=False), chest,
                     np.array([0.0, 1.0, 0.0]), chest)
    return float((ring[:, 0].max() - ring[:, 0].min()) / abs(joints[left, 0] - joints[right, 0]))


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
        merged += [chest_loop_span(measurer, v, j) > MERGED_SPAN for v, j in zip(vertices, joints)]
    errors, merged = np.concatenate(errors), np.array(merged)
    print(f"{len(errors)} subjects; chest label loop takes in the arms: {merged.sum()} ({100 * merged.mean():.1f} %)")
    print(f"net chest error: mean {errors.mean():.1f} mm; without them {errors[~merged].mean():.1f} mm "
          f"(median {np.median(errors[~merged]):.1f}, TP90 {np.percentile(errors[~merged], 90):.1f}); "
          f"on them {errors[merged].mean():.1f} mm")


if __name__ == "__main__":
    main()
