"""`synth preview`: a contact sheet (subjects x views) and summary statistics."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image, ImageDraw

from synth.dataset.manifest import built_manifest, read_shards
from synth.dataset.stats import measurement_summary
from synth.images import decode_silhouette
from synth.storage import Store


EXTREMES_PER_END = 4


def _sheet(rows: list[dict], captions: list[str] | None = None) -> Image.Image:
    views = len(rows[0]["view_names"])
    w, h = rows[0]["image_width"], rows[0]["image_height"]
    label = 14
    sheet = Image.new("L", (views * w, len(rows) * (h + label)), 40)
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        top = r * (h + label)
        for v, (name, image) in enumerate(zip(row["view_names"], row["silhouettes"])):
            mask = decode_silhouette(image["bytes"])
            sheet.paste(Image.fromarray((mask * 255).astype(np.uint8)), (v * w, top + label))
            caption = captions[r] if captions and v == 0 else ""
            draw.text((v * w + 3, top + 1), f"{row['subject_id']} {name} {caption}".rstrip(), fill=230)
    return sheet


def _extremes(store: Store, manifest: dict[str, Any], path: Path) -> Path | None:
    """Contact sheet of the EXTREMES_PER_END lowest- then highest-BMI subjects; None without BMI."""
    table = read_shards(store, manifest, ["subject_index", "bmi_kg_m2"])
    bmi = table.column("bmi_kg_m2").to_numpy(zero_copy_only=False).astype(np.float64)
    if not np.isfinite(bmi).any():
        return None
    index = table.column("subject_index").to_numpy()
    finite = np.flatnonzero(np.isfinite(bmi))
    order = finite[np.argsort(bmi[finite], kind="stable")]
    chosen = list(dict.fromkeys([*order[:EXTREMES_PER_END], *order[-EXTREMES_PER_END:]]))
    wanted = pc.is_in(pc.field("subject_index"), pa.array(index[chosen]))
    rows = {r["subject_index"]: r for r in read_shards(
        store, manifest, ["subject_index", "subject_id", "view_names", "silhouettes", "image_width", "image_height",
                          "height_m", "mass_kg", "bmi_kg_m2"], filter=wanted).to_pylist()}
    ordered = [rows[i] for i in index[chosen]]
    captions = [f"BMI {r['bmi_kg_m2']:.1f}, {r['height_m']:.2f} m, {r['mass_kg']:.0f} kg" for r in ordered]
    _sheet(ordered, captions).save(path)
    return path


def write_preview(location: str | Path, sheet_path: Path, subjects: int) -> tuple[Path, list[str]]:
    """Write the contact sheet of the first `subjects` rows of the dataset at `location`
    (folder or URI) to the local `sheet_path`; return it and summary lines."""
    store = Store.open(location)
    manifest = built_manifest(store)
    rows = read_shards(store, manifest, ["subject_id", "view_names", "silhouettes", "image_width", "image_height"],
                       head=subjects).to_pylist()
    sheet_path = Path(sheet_path)
    sheet_path.parent.mkdir(parents=True, exist_ok=True)
    _sheet(rows).save(sheet_path)
    extremes = _extremes(store, manifest, sheet_path.with_name(sheet_path.stem + "_bmi_extremes.png"))
    table = read_shards(store, manifest, ["split", "silhouette_fill", "shape"])
    lines = [f"{manifest['name']}: {table.num_rows} subjects, body model {manifest['body_model']['version']}"]
    for split, count in zip(*np.unique(table.column("split").to_numpy(zero_copy_only=False), return_counts=True)):
        lines.append(f"  {split}: {count} rows")
    fill = pc.list_flatten(table.column("silhouette_fill")).to_numpy()
    lines.append(f"  silhouette fill: mean {fill.mean():.3f}, min {fill.min():.3f}, max {fill.max():.3f}")
    shapes = np.asarray(table.column("shape").to_pylist(), np.float32)
    for k, label in enumerate(manifest["body_model"]["shape_labels"]):
        lines.append(f"  shape {label}: {shapes[:, k].min():+.3f} .. {shapes[:, k].max():+.3f} "
                     f"(mean {shapes[:, k].mean():+.3f})")
    for name, stats in measurement_summary(store, manifest).items():
        lines.append(f"  {name}: {stats['min']:.3f} .. {stats['max']:.3f} (mean {stats['mean']:.3f})")
    if extremes is not None:
        lines.append(f"  BMI extremes ({EXTREMES_PER_END} lowest, then {EXTREMES_PER_END} highest): {extremes}")
    if manifest["spec"].get("shape", {}).get("people"):
        from synth.population.people_report import plot_worst, read_fits

        report = read_fits(store)
        worst = plot_worst(store, report, sheet_path.with_name(sheet_path.stem + "_people_worst.png"))
        lines.append(f"  people: {100 * report.covered:.1f} % within tolerance on every measurement; worst fits: {worst}")
    return sheet_path, lines
