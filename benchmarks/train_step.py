"""Where a CPU training step's time goes, for a training recipe on a dataset.

    python benchmarks/train_step.py DATASET [--config jobs/train_cpu.toml] [--set k=v]... [--repeats 10]

Times, on one batch of the recipe's size: the loader's work per sample (decode, corrupt,
frame; one core), the net's forward, backward and optimizer step alone, the vertex loss
(forward and backward) through the linearised body and through the body model on
`optim.vertex_rows` rows (the batch when 0), and a whole step either way. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

from body_models import source_from_env
from synth.train.bodies import dataset_body_model, linearise, mean_vertex_error, neutral_vertices
from synth.train.config import load_train_config
from synth.train.loop import build_net, losses, stream, target_stats
from synth.train.model import run_net

ROOT = Path(__file__).resolve().parents[1]


def seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--config", type=Path, default=ROOT / "jobs" / "train_cpu.toml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    settings = [*args.overrides, f'data.uri="{args.dataset}"']
    config = load_train_config(args.config, settings)
    model, manifest = dataset_body_model(config.data.uri, source_from_env())
    source = stream(config, config.data.train_split, train=True)
    rows = [row for _, row in zip(range(4 * config.optim.batch_size), source.rows())]
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    samples = [source.sample(row, rng) for row in rows]
    sample_ms = (time.perf_counter() - started) / len(rows) * 1000
    batch = default_collate(samples[:config.optim.batch_size])
    stats = target_stats(source, 4 * config.optim.batch_size, config.data.views, config.model.measurements)
    net = build_net(config, model, manifest)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.optim.lr)
    linear = linearise(model, stats.shape_mean)
    exact_rows = config.optim.vertex_rows or config.optim.batch_size
    off = batch["shape"] + 0.05 * stats.shape_std

    def net_step() -> None:
        loss = sum(v.pow(2).mean() for v in run_net(net, batch).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def linear_loss() -> None:
        shape = off.clone().requires_grad_(True)
        linear.vertex_error(shape, batch["shape"]).mean().backward()

    def exact_loss() -> None:
        shape = off[:exact_rows].clone().requires_grad_(True)
        with torch.no_grad():
            truth = neutral_vertices(model, batch["shape"][:exact_rows])
        mean_vertex_error(neutral_vertices(model, shape), truth).mean().backward()

    def step(body, recipe) -> None:
        parts = losses(run_net(net, batch), batch, stats, body, recipe)
        optimizer.zero_grad()
        parts["loss"].backward()
        optimizer.step()

    exact_config = load_train_config(args.config, [*settings, 'optim.vertex_loss="exact"'])
    figures = {
        "batch_size": config.optim.batch_size, "views": list(config.data.views), "threads": torch.get_num_threads(),
        "loader_ms_per_sample": sample_ms,
        "loader_s_per_batch_one_core": sample_ms * config.optim.batch_size / 1000,
        "net_step_s": seconds(net_step, args.repeats),
        "vertex_loss_linear_s": seconds(linear_loss, args.repeats),
        f"vertex_loss_exact_{exact_rows}_rows_s": seconds(exact_loss, args.repeats),
        "step_linear_s": seconds(lambda: step(linear, config), args.repeats),
        "step_exact_s": seconds(lambda: step(model, exact_config), args.repeats),
    }
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
