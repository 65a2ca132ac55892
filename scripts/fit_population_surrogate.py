"""Refit the population surrogate (synth/population/surrogate.py) for Anny's body shape space.

Draws bodies over the whole range that calibration visits (style shapes from the body
space's own prior, then height lever U(0, 1), adiposity U(-0.8, 2.0), waist and hip
offsets U(-1, 1): synth.population.sampler's ranges), measures each with BodyMeasurer, fits, and writes
synth/population/data/surrogate-<version>.npz plus the measured sample (.npz) beside it
in --out. About 60 ms a body and core: 6,000 bodies take ~3 minutes on 2 processes.

    ~/.cache/synth/venv/bin/python scripts/fit_population_surrogate.py [--bodies 6000] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from synth.population.sampler import ADIPOSITY_RANGE, HEIGHT_RANGE, OFFSET_RANGE  # noqa: E402

PROPOSAL = {"height": HEIGHT_RANGE, "adiposity": ADIPOSITY_RANGE, "waist": OFFSET_RANGE, "hip": OFFSET_RANGE}


def _source():
    from body_models import BodyModelSource

    return BodyModelSource(anny_cache=Path(os.environ.get("ANNY_CACHE_DIR", Path.home() / ".cache" / "anny")))


def _measure_chunk(args: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    import torch

    from body_models import ShapePrior, create
    from synth.measurements import BodyMeasurer
    from synth.population.levers import LeverMap, Levers
    from synth.population.surrogate import PRIMITIVES

    torch.set_num_threads(1)
    seed, start, stop = args
    model = create("anny", _source())
    measurer, levers = BodyMeasurer(model), LeverMap(model)
    rngs = [np.random.Generator(np.random.Philox(np.random.SeedSequence(seed, spawn_key=(i,))))
            for i in range(start, stop)]
    style = model.sample_shapes(rngs, ShapePrior(age_years=(18.0, 80.0)))
    draws = {k: np.array([rng.uniform(*PROPOSAL[k]) for rng in rngs]) for k in PROPOSAL}
    shapes = levers.apply(style, Levers(**draws)).astype(np.float32)
    measured = [measurer.measure_shapes(shapes[k:k + 32]) for k in range(0, len(shapes), 32)]
    values = np.array([[getattr(m, name) for name in PRIMITIVES] for batch in measured for m in batch])
    return shapes, values


def main() -> None:
    from body_models import create
    from synth.population.surrogate import PRIMITIVES, fit_surrogate, save_surrogate, surrogate_path

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--out", type=Path, default=Path("outputs/population_surrogate"))
    args = parser.parse_args()
    chunk = 250
    jobs = [(args.seed, s, min(s + chunk, args.bodies)) for s in range(0, args.bodies, chunk)]
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(pool.map(_measure_chunk, jobs))
    shapes = np.concatenate([p[0] for p in parts])
    measured = np.concatenate([p[1] for p in parts])
    version = create("anny", _source()).version
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "sample.npz", shapes=shapes, measured=measured, primitives=np.array(PRIMITIVES))
    surrogate = fit_surrogate(version, shapes, measured)
    save_surrogate(surrogate, surrogate_path(version))
    for name, error in zip(PRIMITIVES, surrogate.rms_log_error):
        print(f"{name:30s} held-out RMS relative error {100 * error:.2f} %")
    print(f"wrote {surrogate_path(version)} from {len(shapes)} bodies")


if __name__ == "__main__":
    main()
