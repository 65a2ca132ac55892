"""Draw the measurement labels' tapes on bodies of a dataset: docs/images/labels.png.

Front and side views of the leanest and heaviest woman and man among the first rows of
DATASET, every circumference's tape (its convex hull on its plane, from
`synth.measurements.ReferenceMeasurer.tapes`) drawn over the body's vertices.

    ~/.cache/synth/venv/bin/python scripts/draw_tapes.py DATASET [--rows 200] [--out docs/images/labels.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from body_models import source_from_env  # noqa: E402
from synth.dataset.manifest import read_shards  # noqa: E402
from synth.measurements import CIRCUMFERENCES, BodyMeasurer, ReferenceMeasurer  # noqa: E402
from synth.storage import Store  # noqa: E402
from synth.train.bodies import dataset_body_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs/images/labels.png")
    args = parser.parse_args()
    model, manifest = dataset_body_model(args.dataset, source_from_env())
    rows = read_shards(Store.open(args.dataset), manifest, ["shape", "bmi_kg_m2"], head=args.rows).to_pylist()
    shapes = np.array([r["shape"] for r in rows], np.float32)
    bmi = np.array([r["bmi_kg_m2"] for r in rows])
    female = np.array([model.female_fraction(s) for s in shapes])
    chosen = []
    for sex in (1.0, 0.0):
        mine = np.flatnonzero(female == sex)
        chosen += [mine[np.argmin(bmi[mine])], mine[np.argmax(bmi[mine])]]
    measurer = BodyMeasurer(model)
    reference = ReferenceMeasurer(model, measurer.topology)
    vertices, joints = measurer.rest_bodies(shapes[chosen])
    colors = dict(zip(CIRCUMFERENCES, plt.get_cmap("tab10").colors))
    fig, axes = plt.subplots(1, 2 * len(chosen), figsize=(3.3 * len(chosen), 4.3), gridspec_kw={"wspace": 0.04})
    for n, (v, j, row) in enumerate(zip(vertices, joints, chosen)):
        v, j = v - [0.0, v[:, 1].min(), 0.0], j - [0.0, v[:, 1].min(), 0.0]
        tapes = reference.tapes(v, j, female[row])
        for view, ax in enumerate(axes[2 * n:2 * n + 2]):
            across = 0 if view == 0 else 2
            ax.scatter(v[::3, across], v[::3, 1], s=0.2, c="0.75", rasterized=True)
            for name, loop in tapes.items():
                closed = np.vstack([loop, loop[:1]])
                ax.plot(closed[:, across], closed[:, 1], lw=1.2, color=colors[name],
                        label=name.removesuffix("_circumference_m").replace("_", " ") if n == 0 and view == 0 else None)
            middle = 0.5 * (v[:, across].min() + v[:, across].max())
            ax.set_xlim(middle - 0.55, middle + 0.55)
            ax.set_ylim(-0.02, 2.0)
            ax.set_aspect("equal")
            ax.set_xticks([])
            if n or view:
                ax.set_yticks([])
            ax.set_title(f"{'woman' if female[row] else 'man'}, BMI {bmi[row]:.0f}\n{'front' if view == 0 else 'side'}",
                         fontsize=9)
    axes[0].set_ylabel("height above the soles (m)")
    fig.legend(loc="lower center", ncol=len(CIRCUMFERENCES), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.05, right=0.995, top=0.88, bottom=0.09)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
