"""A training-curve PNG from metrics.jsonl, drawn with Pillow (no plotting dependency)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

_PANEL_W, _PANEL_H, _PAD = 480, 260, 40


def _panel(draw: ImageDraw.ImageDraw, left: int, title: str, xs: np.ndarray, ys: np.ndarray, colour: str) -> None:
    draw.rectangle([left + _PAD, _PAD, left + _PANEL_W - 10, _PANEL_H - _PAD], outline="black")
    draw.text((left + _PAD, 10), title, fill="black")
    if len(xs) < 1:
        return
    lo, hi = float(np.min(ys)), float(np.max(ys))
    hi = hi if hi > lo else lo + 1.0
    width, height = _PANEL_W - 10 - 2 * _PAD, _PANEL_H - 2 * _PAD
    span = max(float(xs.max() - xs.min()), 1.0)
    points = [(left + _PAD + (x - xs.min()) / span * width, _PANEL_H - _PAD - (y - lo) / (hi - lo) * height)
              for x, y in zip(xs, ys)]
    if len(points) > 1:
        draw.line(points, fill=colour, width=2)
    else:
        draw.ellipse([points[0][0] - 2, points[0][1] - 2, points[0][0] + 2, points[0][1] + 2], fill=colour)
    draw.text((left + 2, _PAD - 6), f"{hi:.3g}", fill="black")
    draw.text((left + 2, _PANEL_H - _PAD - 6), f"{lo:.3g}", fill="black")
    draw.text((left + _PANEL_W - 60, _PANEL_H - _PAD + 6), f"step {int(xs.max())}", fill="black")


def plot_curves(metrics: Path, png: Path) -> None:
    """Training loss and validation PVE-T (mm) against step, side by side."""
    records = [json.loads(line) for line in Path(metrics).read_text().splitlines() if line.strip()]
    steps = np.array([r["step"] for r in records], float)
    loss = np.array([r["loss"] for r in records], float)
    val = [(r["step"], r["val_pve_t_mm"]) for r in records if "val_pve_t_mm" in r]
    image = Image.new("RGB", (2 * _PANEL_W, _PANEL_H), "white")
    draw = ImageDraw.Draw(image)
    _panel(draw, 0, "training loss", steps, loss, "navy")
    _panel(draw, _PANEL_W, "validation PVE-T (mm)", np.array([v[0] for v in val], float),
           np.array([v[1] for v in val], float), "darkred")
    image.save(png)
