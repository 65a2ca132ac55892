"""The dataset card (`README.md`) written beside the shards: YAML front matter the Hugging
Face Hub reads (splits and their file patterns, licence, task, size, tags), then markdown
for people."""
from __future__ import annotations

from typing import Any

import yaml

from synth.storage import Store

CARD = "README.md"
TAGS = ("synthetic", "human-body", "silhouettes", "3d-human-shape", "anthropometry", "body-measurements")
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"))
CITATION = """@software{silhouette_synth,
  title = {silhouette-synth: synthetic silhouettes and labels for silhouette-to-3D-body networks},
  year = {2026},
  note = {Body model: Anny (NAVER, Apache-2.0) or SMPL-family models under their own licences}
}"""


def size_category(rows: int) -> str:
    return next((name for limit, name in _SIZES if rows < limit), "n>10M")


def front_matter(manifest: dict[str, Any]) -> dict[str, Any]:
    """The card's YAML header: one `configs` entry whose splits are the split shards' file
    patterns (`datasets.load_dataset(DIR)` and the Hub's viewer read them), the licence
    (Apache-2.0 for Anny's bodies; other models' data follow their model licences), the
    task, the size category and tags."""
    rows = sum(entry["num_rows"] for entry in manifest["shards"])
    anny = manifest["body_model"]["name"] == "anny"
    header = {
        "pretty_name": manifest["name"],
        "license": "apache-2.0" if anny else "other",
        **({} if anny else {"license_name": f"{manifest['body_model']['name']}-model-license"}),
        "task_categories": ["image-to-3d"],
        "size_categories": [size_category(rows)],
        "tags": list(TAGS),
        "configs": [{"config_name": "default",
                     "data_files": [{"split": name, "path": f"{name}-*.parquet"} for name in manifest["splits"]]}],
    }
    return header


def render_card(manifest: dict[str, Any]) -> str:
    """The card: YAML front matter, then markdown describing a dataset from its manifest."""
    spec = manifest["spec"]
    model = manifest["body_model"]
    rows = sum(entry["num_rows"] for entry in manifest["shards"])
    size = sum(entry["bytes"] for entry in manifest["shards"])
    lines = [
        "---",
        yaml.safe_dump(front_matter(manifest), sort_keys=False).rstrip(),
        "---",
        "",
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
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return "\n".join(lines)


def write_card(store: Store, manifest: dict[str, Any]) -> None:
    store.write_atomic(CARD, render_card(manifest).encode())
