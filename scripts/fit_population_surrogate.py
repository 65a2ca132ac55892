"""Refit the population surrogate (synth/population/surrogate.py) for Anny's body shape space.

Draws bodies over the whole range that calibration and fitting visit (style shapes from
the body space's own prior, then the levers of synth.population.levers: height U(0, 1),
adiposity U(-0.8, 2.0), each shaping target offset N(0, SHAPING_SIGMA^2)), measures each
with BodyMeasurer, fits, and writes synth/population/data/surrogate-<version>.npz plus the
measured sample (.npz) in --out. About 8 ms a body and core: 60,000 bodies take ~5
minutes on 2 processes, the training (200 epochs, CPU) ~8 more.

    ~/.cache/synth/venv/bin/python scripts/fit_population_surrogate.py [--bodies 60000] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from synth.population.levers import ADIPOSITY_RANGE, HEIGHT_RANGE

SHAPING_SIGMA = 0.4


def _source():
    from body_models import BodyModelSource

    return BodyModelSource(anny_cache=Path(os.environ.get("ANNY_CACHE_DIR", Path.home() / ".cache" / "anny")))


def _measure_chunk(args: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    import torch

    from body_models import ShapePrior, create
    from synth.measurements import BodyMeasurer
    from synth.population.levers import LeverMap
    from synth.population.surrogate import PRIMITIVES

    torch.set_num_threads(1)
    seed, start, stop = args
    model = create("anny", _source())
    measurer, levers = BodyMeasurer(model), LeverMap(model)
    rngs = [np.random.Generator(np.random.Philox(np.random.SeedSequence(seed, spawn_key=(i,))))
            for i in range(start, stop)]
    style = model.sample_shapes(rngs, ShapePrior(age_years=(18.0, 80.0)))
    z = np.array([np.concatenate([[rng.uniform(*HEIGHT_RANGE), rng.uniform(*ADIPOSITY_RANGE)],
                                  rng.normal(0.0, SHAPING_SIGMA, levers.size - 2)]) for rng in rngs])
    shapes = levers.apply(style, z).astype(np.float32)
    measured = [measurer.measure_shapes(shapes[k:k + 32]) for k in range(0, len(shapes), 32)]
    values = np.array([[getattr(m, name) for name in PRIMITIVES] for batch in measured for m in batch])
    return shapes, values


def fit_surrogate(version: str, shapes: np.ndarray, measured: np.ndarray, seed: int, epochs: int,
                  width: int = 256, holdout: float = 0.1):
    """Train the surrogate's perceptron (torch, CPU, seeded) on log measurements; the last
    `holdout` share of rows scores it."""
    import torch

    from synth.population.surrogate import Surrogate

    torch.manual_seed(seed)
    keep = np.isfinite(measured).all(1) & (measured > 0).all(1)
    x, y = shapes[keep].astype(np.float64), np.log(measured[keep])
    split = int(len(x) * (1.0 - holdout))
    shift, scale = x[:split].mean(0), x[:split].std(0) + 1e-6
    log_mean, log_scale = y[:split].mean(0), y[:split].std(0)
    inputs = torch.tensor((x - shift) / scale, dtype=torch.float32)
    outputs = torch.tensor((y - log_mean) / log_scale, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], width), torch.nn.SiLU(), torch.nn.Linear(width, width),
                              torch.nn.SiLU(), torch.nn.Linear(width, y.shape[1]))
    batch = 256
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 3e-3, total_steps=epochs * ((split - 1) // batch + 1))
    for _ in range(epochs):
        order = torch.randperm(split)
        for start in range(0, split, batch):
            rows = order[start:start + batch]
            loss = ((net(inputs[rows]) - outputs[rows]) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    layers = tuple((m.weight.detach().double().numpy(), m.bias.detach().double().numpy())
                   for m in net if isinstance(m, torch.nn.Linear))
    surrogate = Surrogate(version, shift, scale, layers, log_mean, log_scale, np.zeros(y.shape[1]))
    held = np.sqrt(((surrogate.log_primitives(x[split:]) - y[split:]) ** 2).mean(0))
    return Surrogate(version, shift, scale, layers, log_mean, log_scale, held)


def main() -> None:
    from body_models import create
    from synth.population.surrogate import PRIMITIVES, save_surrogate, surrogate_path

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=60000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--samples", type=Path, nargs="*", default=[],
                        help="measured samples (sample.npz of earlier runs) to train on instead of measuring")
    parser.add_argument("--out", type=Path, default=Path("outputs/population_surrogate"))
    args = parser.parse_args()
    if args.samples:
        loaded = [np.load(path) for path in args.samples]
        shapes = np.concatenate([d["shapes"] for d in loaded])
        measured = np.concatenate([d["measured"] for d in loaded])
    else:
        chunk = 250
        jobs = [(args.seed, s, min(s + chunk, args.bodies)) for s in range(0, args.bodies, chunk)]
        with ProcessPoolExecutor(args.workers) as pool:
            parts = list(pool.map(_measure_chunk, jobs))
        shapes = np.concatenate([p[0] for p in parts])
        measured = np.concatenate([p[1] for p in parts])
        args.out.mkdir(parents=True, exist_ok=True)
        np.savez(args.out / "sample.npz", shapes=shapes, measured=measured, primitives=np.array(PRIMITIVES))
    version = create("anny", _source()).version
    surrogate = fit_surrogate(version, shapes, measured, args.seed, args.epochs)
    save_surrogate(surrogate, surrogate_path(version))
    for name, error in zip(PRIMITIVES, surrogate.rms_log_error):
        print(f"{name:30s} held-out RMS relative error {100 * error:.2f} %")
    print(f"wrote {surrogate_path(version)} from {len(shapes)} bodies")


if __name__ == "__main__":
    main()
