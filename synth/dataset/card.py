"""The human-readable dataset card (`README.md`) written beside the shards."""
from __future__ import annotations

from typing import Any

from synth.storage import Store

CARD = "README.md"


def render_card(manifest: dict[str, Any]) -> str:
    """Markdown describing a dataset from its manifest."""
    spec = manifest["spec"]
    model = manifest["body_model"]
    rows = sum(entry["num_rows"] for entry in manifest["shards"])
    size = sum(entry["bytes"] for entry in manifest["shards"])
    lines = [
        f"# {manifest['name']}",
        "",
        "Synthetic binary silhouettes of parametric human bodies, with every label needed to",
        "re-pose each body and re-project it onto each silhouette. Built by `synth build`.",
        "",
        f"- status: {'complete' if manifest['complete'] else 'INCOMPLETE (resume with the same command)'}",
        f"- subjects: {rows} rows in {len(manifest['shards'])} shards, {size / 1e6:.1f} MB",
        f"- body model: `{model['name']}` ({model['version']}); frame: {model['frame']}",
        f"- views: {', '.join(spec['views']['names'])} at azimuths {spec['views']['yaw_deg']} deg; "
        f"{spec['camera']['width']}x{spec['camera']['height']} px",
        f"- seed: {manifest['seed']}; spec hash `{manifest['spec_hash'][:16]}`",
        "",
        "## Splits",
        "",
        "| split | subjects | shards |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {info['subjects']} | {info['shards']} |" for name, info in manifest["splits"].items()]
    if manifest.get("measurements"):
        lines += ["", "## Body measurements (neutral pose)", "", "| measurement | min | mean | max |", "|---|---|---|---|"]
        lines += [f"| `{name}` | {s['min']:.3f} | {s['mean']:.3f} | {s['max']:.3f} |"
                  for name, s in manifest["measurements"].items()]
    if manifest.get("people_fit"):
        lines += ["", f"## Measured people ({manifest['spec']['shape']['people']})", "",
                  manifest["people_fit"]["markdown"], "", "Picture of the worst fits: `synth preview DIR`."]
    if manifest.get("population"):
        lines += ["", "## Population vs reference (per sex)", "", manifest["population"]["markdown"],
                  "", "Recompute, with a plot, by `synth population DIR`."]
    lines += ["", "## Columns (one row per subject)", "", "| column | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {doc} |" for name, doc in manifest["columns"].items()]
    lines += [
        "",
        "Cameras follow OpenCV: x right, y down, z forward; `x_cam = R @ x_world + t`, pixels = K @ x_cam.",
        "`synth.dataset.reader.repose_row` rebuilds a row's mesh from `shape`, `pose` and `translation_m`.",
        "",
        "## Loading",
        "",
        "```python",
        "import datasets; ds = datasets.load_dataset('parquet', data_files='train-*.parquet')['train']",
        "import ray; ds = ray.data.read_parquet('.')",
        "import pyarrow.dataset as pads; table = pads.dataset('.', format='parquet').to_table()",
        "```",
        "",
        "Check integrity with `synth verify DIR`; look at it with `synth preview DIR`.",
        "",
    ]
    return "\n".join(lines)


def write_card(store: Store, manifest: dict[str, Any]) -> None:
    store.write_atomic(CARD, render_card(manifest).encode())
