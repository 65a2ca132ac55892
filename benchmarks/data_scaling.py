"""What more synthetic data buys: test error against the number of training subjects.

    python benchmarks/data_scaling.py DATASET TESTSET [--rows 1000,4000,16000]
        [--config jobs/train_cpu.toml] [--set k=v]... [--out benchmarks/results/scaling]

For each N: `synth train CONFIG` on the first N training subjects of DATASET
(`data.train_rows=N`; a run already finished in OUT is kept), then `synth eval` on
TESTSET's test split (a build with another seed) with the ridge baselines fitted on the
same N subjects of DATASET. Writes per run its
checkpoint and eval report, and `scaling.{json,md,png}`: net and baselines, mean test
error per metric, against N.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import synth  # noqa: F401  (first: its OpenMP setting must come before torch loads, see synth/__init__.py)
import numpy as np

from body_models import source_from_env
from synth.train.config import load_train_config
from synth.train.evaluate import evaluate, write_report
from synth.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("pve_t_mm", "chest_circumference_mm", "waist_circumference_mm", "hip_circumference_mm", "body_fat_pts")


def _finished(folder: Path, steps: int) -> bool:
    metrics = folder / "metrics.jsonl"
    return metrics.exists() and json.loads(metrics.read_text().splitlines()[-1])["step"] >= steps


def _means(method: dict) -> dict[str, float]:
    """Mean error per metric (None for a metric the method does not predict: a ridge to
    measurements has no mesh, so no PVE-T)."""
    return {m: method[m]["mean"] if m in method else None for m in METRICS}


def run(dataset: str, testset: str, rows: list[int], config: Path, overrides: list[str], out: Path) -> list[dict]:
    results = []
    for count in rows:
        folder = out / f"n{count}"
        settings = [*overrides, f'data.uri="{dataset}"', f"data.train_rows={count}", f'run.out="{folder}"']
        recipe = load_train_config(config, settings)
        if not _finished(folder, recipe.optim.steps):  # a resumed study keeps its finished runs and reports
            (folder / "eval.json").unlink(missing_ok=True)
            train(recipe, source_from_env(), progress=False)
        if (folder / "eval.json").exists():
            report = json.loads((folder / "eval.json").read_text())
        else:
            report = evaluate(folder / "best.pt", testset, "test", source_from_env(), baseline_rows=count, train_uri=dataset)
            write_report(report, folder)
        last = json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])
        results.append({"train_rows": count, "train_seconds": round(last["seconds"]), "steps": last["step"],
                        "test_subjects": report["subjects"],
                        "net": _means(report["model"]),
                        **{name: _means(values) for name, values in report["baselines"].items()}})
    return results


def markdown(results: list[dict]) -> str:
    methods = [k for k in results[0] if isinstance(results[0][k], dict)]
    lines = ["| training subjects | method | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    for entry in results:
        for method in methods:
            lines.append(f"| {entry['train_rows']:,} | {method} | "
                         + " | ".join("–" if entry[method][m] is None else f"{entry[method][m]:.1f}"
                                      for m in METRICS) + " |")
    lines.append("")
    lines.append("Training time per run (steps only, from metrics.jsonl): " + ", ".join(f"{e['train_rows']:,}: {e['train_seconds']} s ({e['steps']} "
                                                       "steps)" for e in results)
                 + f"; test subjects: {results[0]['test_subjects']}.")
    return "\n".join(lines) + "\n"


def plot(results: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [k for k in results[0] if isinstance(results[0][k], dict)]
    counts = [e["train_rows"] for e in results]
    figure, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.4))
    for axis, metric in zip(axes, METRICS):
        for method in methods:
            axis.plot(counts, np.array([e[method][metric] for e in results], float), marker="o", label=method)
        axis.set_xscale("log")
        axis.set_xlabel("training subjects")
        axis.set_title(metric.replace("_circumference", "").replace("_", " "))
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("mean test error (mm; body fat: %BF points)")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(png, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("testset")
    parser.add_argument("--rows", default="1000,4000,16000")
    parser.add_argument("--config", type=Path, default=ROOT / "jobs" / "train_cpu.toml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scaling")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(args.dataset, args.testset, [int(r) for r in args.rows.split(",")], args.config, args.overrides,
                  args.out)
    (args.out / "scaling.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "scaling.md").write_text(markdown(results))
    plot(results, args.out / "scaling.png")
    print(markdown(results))


if __name__ == "__main__":
    main()
