"""How well a people build's bodies match their people: coverage, misses, worst fits.

Every row of a `--people` build carries the person's measurements and the body's
residuals (label minus measurement). A person is covered when every measurement the
table gives is met within `TOLERANCE` (stature 5 mm, weight 1 kg, each circumference
10 mm); the report gives that share overall and over `CORE` (the six measures most tables
have), each measure's share within tolerance and its median and P95 miss, and the worst
fits with the measure each misses most. `people_fit.{md,json}` go beside the shards and
`people_fit.png` (the worst fits' silhouettes beside their targets) into a local folder.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synth.dataset.atomic import atomic_write_figure
from synth.dataset.manifest import built_manifest, read_shards
from synth.labels import silhouette_bbox
from synth.population.people import MEASURES
from synth.storage import Store

TOLERANCE: dict[str, float] = {"height_m": 0.005, "mass_kg": 1.0}
"""Misses within these count as met (SI units); every circumference: `GIRTH_TOLERANCE_M`."""
GIRTH_TOLERANCE_M = 0.010
CORE = ("height_m", "mass_kg", "chest_circumference_m", "waist_navel_circumference_m", "hip_circumference_m",
        "neck_circumference_m")
WORST = 8


def allowed_miss(name: str) -> float:
    return TOLERANCE.get(name, GIRTH_TOLERANCE_M)


@dataclass(frozen=True)
class MeasureFit:
    """One measure over the people measured on it: count, share within tolerance, median and
    P95 |residual| (SI units)."""

    measure: str
    people: int
    within: float
    median: float
    p95: float


@dataclass(frozen=True)
class PeopleFitReport:
    people: int
    covered: float  # share within tolerance on every measure the table gives them
    covered_core: float  # ... on the CORE measures they have
    measures: list[MeasureFit]
    worst: list[dict[str, Any]]  # id, subject_id, worst measure, its target and residual

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_report(ids: np.ndarray, subjects: np.ndarray, targets: np.ndarray, residuals: np.ndarray) -> PeopleFitReport:
    """The report of people `ids` (N,) built as `subjects` (N,), from their targets and residuals
    (N, len(MEASURES)), NaN where not measured."""
    limit = np.array([allowed_miss(m) for m in MEASURES])
    scaled = np.abs(residuals) / limit
    given = np.isfinite(targets)
    met = ~given | (scaled <= 1.0)
    core = np.array([m in CORE for m in MEASURES])
    measures = [MeasureFit(name, int(given[:, k].sum()), float(met[given[:, k], k].mean()),
                           float(np.median(np.abs(residuals[given[:, k], k]))),
                           float(np.percentile(np.abs(residuals[given[:, k], k]), 95)))
                for k, name in enumerate(MEASURES) if given[:, k].any()]
    worst_of = np.nanmax(np.where(given, scaled, np.nan), axis=1)
    worst = []
    for row in np.argsort(-np.nan_to_num(worst_of, nan=-1.0))[:WORST]:
        k = int(np.nanargmax(np.where(given[row], scaled[row], np.nan)))
        worst.append({"id": str(ids[row]), "subject_id": str(subjects[row]), "measure": MEASURES[k],
                      "target": float(targets[row, k]), "residual": float(residuals[row, k]),
                      "tolerances": float(scaled[row, k])})
    return PeopleFitReport(len(ids), float(met.all(1).mean()), float(met[:, core].all(1).mean()), measures, worst)


def markdown(report: PeopleFitReport) -> str:
    core = ", ".join(m.removesuffix("_circumference_m") for m in CORE)
    lines = [f"{report.people} people: {100 * report.covered:.1f} % within tolerance on every measurement given, "
             f"{100 * report.covered_core:.1f} % on {core} (stature 5 mm, weight 1 kg, circumferences 10 mm).", "",
             "| measure | people | within tolerance | median miss | P95 miss |", "|---|---|---|---|---|"]
    for m in report.measures:
        unit, scale = ("kg", 1.0) if m.measure == "mass_kg" else ("mm", 1000.0)
        lines.append(f"| {m.measure} | {m.people} | {100 * m.within:.1f} % | {scale * m.median:.1f} {unit} "
                     f"| {scale * m.p95:.1f} {unit} |")
    lines += ["", "Worst fits:", "", "| person | subject | measure | target | miss |", "|---|---|---|---|---|"]
    for w in report.worst:
        unit, scale = ("kg", 1.0) if w["measure"] == "mass_kg" else ("mm", 1000.0)
        lines.append(f"| {w['id']} | {w['subject_id']} | {w['measure']} | {scale * w['target']:.0f} {unit} "
                     f"| {scale * w['residual']:+.0f} {unit} |")
    return "\n".join(lines)


def read_fits(store: Store) -> PeopleFitReport:
    """The report of the people build in `store`."""
    manifest = built_manifest(store)
    table = read_shards(store, manifest, ["subject_id", "person_id", "person_targets", "person_residuals"])
    ids = np.array(table.column("person_id").to_pylist())
    subjects = np.array(table.column("subject_id").to_pylist())
    targets = np.array(table.column("person_targets").to_pylist(), np.float64)
    residuals = np.array(table.column("person_residuals").to_pylist(), np.float64)
    return fit_report(ids, subjects, targets, residuals)


def write_people_fit(store: Store) -> tuple[PeopleFitReport, str]:
    """Write people_fit.{md,json} beside the shards; return the report and its markdown."""
    report = read_fits(store)
    text = markdown(report)
    store.write_atomic("people_fit.md", (text + "\n").encode())
    store.write_atomic("people_fit.json", json.dumps(report.to_dict(), indent=2).encode())
    return report, text


def _cropped(mask: np.ndarray, margin: int = 4) -> np.ndarray:
    """The (H, W) mask cut to its body's box (`silhouette_bbox`) plus `margin` pixels."""
    if not mask.any():
        return mask
    x0, y0, x1, y1 = silhouette_bbox(mask).astype(int)
    return np.pad(mask, margin)[y0:y1 + 2 * margin, x0:x1 + 2 * margin]


def plot_worst(store: Store, report: PeopleFitReport, png: Path) -> Path:
    """The worst fits' first two silhouettes, each captioned with its targets and misses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyarrow.compute as pc
    import pyarrow as pa

    from synth.images import decode_silhouette

    manifest = built_manifest(store)
    wanted = [w["subject_id"] for w in report.worst]
    rows = {r["subject_id"]: r for r in read_shards(
        store, manifest, ["subject_id", "person_id", "silhouettes", "person_targets", "person_residuals"],
        filter=pc.is_in(pc.field("subject_id"), pa.array(wanted))).to_pylist()}
    figure, axes = plt.subplots(1, len(wanted), figsize=(2.3 * len(wanted), 5.0), squeeze=False)
    for ax, subject in zip(axes[0], wanted):
        row = rows[subject]
        views = [_cropped(decode_silhouette(view["bytes"])) for view in row["silhouettes"][:2]]
        height = max(v.shape[0] for v in views)
        ax.imshow(np.concatenate([np.pad(v, ((0, height - v.shape[0]), (0, 0))) for v in views], 1), cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        lines = [f"person {row['person_id']}"]
        for name, target, miss in zip(MEASURES, row["person_targets"], row["person_residuals"]):
            if target is None or not np.isfinite(target):
                continue
            scale, unit = (1.0, "kg") if name == "mass_kg" else (100.0, "cm")
            flag = " !" if abs(miss) > allowed_miss(name) else ""
            label = name.removesuffix("_circumference_m").removesuffix("_m").removesuffix("_kg")
            lines.append(f"{label}: {scale * target:.1f} {unit} {1000 * miss if unit == 'cm' else miss:+.0f}"
                         f"{' mm' if unit == 'cm' else ' kg'}{flag}")
        ax.set_title("\n".join(lines), fontsize=6.5, loc="left", family="monospace")
    figure.tight_layout()
    return atomic_write_figure(Path(png), figure, dpi=100)
