"""What `synth morph` writes: one mesh per level, a JSON table and a PNG strip."""
from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from synth.dataset.atomic import atomic_write_bytes, atomic_write_mesh
from synth.morph.solve import MorphLevel

BODY_FAT_NOTE = ("body fat is the project's label, the Relative Fat Mass (synth.measurements: Woolcott & Bergman "
                 "2018, fitted on NHANES DXA), an anthropometric estimate, not a clinical measurement")
_VIEW_W, _VIEW_H, _CAPTION = 300, 360, 34


def _mesh_name(level: MorphLevel, mesh_format: str) -> str:
    tag = level.label.replace(" %", "pct").replace("+", "plus").replace("-", "minus")
    return f"body_{tag}.{mesh_format}"


def table(levels: list[MorphLevel], source: str, mesh_format: str) -> dict[str, Any]:
    """The JSON document: source, note, one entry per level with its measurements."""
    return {
        "source": source,
        "note": BODY_FAT_NOTE,
        "levels": [{
            "label": level.label,
            "target_body_fat_pct": level.target_body_fat_pct,
            "adiposity_step": level.step,
            "extrapolated": level.extrapolated,
            "mesh": _mesh_name(level, mesh_format),
            "measurements": dataclasses.asdict(level.measurements),
        } for level in levels],
    }


def strip(levels: list[MorphLevel], faces: np.ndarray) -> Image.Image:
    """The bodies side by side from lean to heavy, front over side, shaded, with body fat and
    waist under each."""
    from synth.render.shaded import ShadedRenderer

    span = 1.08 * max(float(level.vertices[:, 1].max()) for level in levels)
    renderer = ShadedRenderer(_VIEW_W, _VIEW_H, span)
    try:
        sheet = Image.new("RGB", (_VIEW_W * len(levels), 2 * _VIEW_H + _CAPTION), "white")
        draw = ImageDraw.Draw(sheet)
        for k, level in enumerate(sorted(levels, key=lambda lv: lv.measurements.body_fat_pct)):
            for row, yaw in enumerate((0.0, 90.0)):
                sheet.paste(Image.fromarray(renderer.render(level.vertices, faces, yaw)), (k * _VIEW_W, row * _VIEW_H))
            m = level.measurements
            name = "source" if level.target_body_fat_pct is None else level.label
            draw.text((k * _VIEW_W + 6, 2 * _VIEW_H + 2), f"{name}: body fat {m.body_fat_pct:.1f} %"
                      + (" (extrapolated)" if level.extrapolated else ""), fill="black")
            draw.text((k * _VIEW_W + 6, 2 * _VIEW_H + 17),
                      f"waist {100 * m.waist_circumference_m:.0f} cm, {m.mass_kg:.0f} kg", fill="black")
    finally:
        renderer.close()
    return sheet


def write_outputs(levels: list[MorphLevel], faces: np.ndarray, out: Path, source: str,
                  mesh_format: str) -> list[Path]:
    """Meshes, morph.json and morph.png in `out` (each written atomically)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for level in levels:
        paths.append(out / _mesh_name(level, mesh_format))
        atomic_write_mesh(paths[-1], level.vertices, faces)
    atomic_write_bytes(out / "morph.json", json.dumps(table(levels, source, mesh_format), indent=2).encode())
    buffer = io.BytesIO()
    strip(levels, faces).save(buffer, format="png")
    atomic_write_bytes(out / "morph.png", buffer.getvalue())
    return [*paths, out / "morph.json", out / "morph.png"]
