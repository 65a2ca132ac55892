"""Size against shape: a dataset's circumferences at fixed height and weight beside measured people's.

Marginals (height, weight, BMI) say nothing about whether a synthetic body of a given
size has the chest, waist, hip and neck a real person of that size has. For each sex and
each circumference both sides have, a least-squares regression of the circumference on
height, weight, BMI and BMI^2 (and age, where both sides have it) is fitted on the
synthetic bodies and on the real people:

- bias (mm): the synthetic-fitted regression applied to the real people, minus what was
  measured on them, averaged: what a body from the generator gets wrong at a real
  person's size;
- RMSE ratio: that regression's RMSE on the real people over the real-fitted one's
  (5-fold cross-validated): 1 when the generator relates size to shape as people do;
- spread ratio: the residual SD of the synthetic bodies about their own regression over
  the real people's about theirs: the shape variety at fixed size, 1 when it matches.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from body_models import SynthError
from synth.dataset.atomic import atomic_write_bytes, atomic_write_figure
from synth.population.girths import GIRTHS
from synth.population.measured import Measured
from synth.population.people import People
from synth.population.reference import SEXES

COMPARED = GIRTHS
"""The circumferences compared: the girths the sampler follows (`synth.population.girths`)."""
BARS = {"bias_mm": 10.0, "rmse_ratio": 1.15, "spread_ratio": (0.8, 1.25)}
"""What 'matches' means in the table's ok column (the realism issue's targets)."""
FOLDS = 5
MINIMUM_ROWS = 20


@dataclass(frozen=True)
class ConditionalRow:
    """One sex and circumference: counts, bias (mm), RMSEs (mm) and spreads (mm) as in the
    module docstring."""

    sex: str
    measure: str
    real: int
    synthetic: int
    bias_mm: float
    rmse_mm: float
    rmse_real_mm: float
    rmse_ratio: float
    spread_mm: float
    spread_real_mm: float
    spread_ratio: float

    @property
    def ok(self) -> bool:
        low, high = BARS["spread_ratio"]
        return abs(self.bias_mm) <= BARS["bias_mm"] and self.rmse_ratio <= BARS["rmse_ratio"] and \
            low <= self.spread_ratio <= high


@dataclass(frozen=True)
class ConditionalReport:
    reference: str
    citation: str
    with_age: bool
    rows: list[ConditionalRow]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def design(height_m: np.ndarray, mass_kg: np.ndarray, age_years: np.ndarray | None) -> np.ndarray:
    """(N, 5 or 6) regressors: 1, height, weight, BMI, BMI^2 (and age)."""
    bmi = mass_kg / height_m**2
    columns = [np.ones_like(bmi), height_m, mass_kg, bmi, bmi**2]
    return np.stack(columns + ([age_years] if age_years is not None else []), 1)


def _fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(x, y, rcond=None)[0]


def _cross_validated_rmse(x: np.ndarray, y: np.ndarray) -> float:
    folds = np.arange(len(y)) % FOLDS
    errors = np.empty(len(y))
    for fold in range(FOLDS):
        held = folds == fold
        errors[held] = x[held] @ _fit(x[~held], y[~held]) - y[held]
    return float(np.sqrt(np.mean(errors**2)))


def compare_people(measured: Measured, people: People) -> ConditionalReport:
    """The dataset's measured bodies beside the people of `people`, per sex and circumference."""
    with_age = "age_years" in measured.values and np.isfinite(measured.values["age_years"]).any() and \
        np.isfinite(people.age_years).any()
    rows = []
    for sex in SEXES:
        for measure in COMPARED:
            if measure not in people.values or measure not in measured.values:
                continue
            real = _columns(people.values, people.age_years if with_age else None, measure, people.sex == sex)
            synthetic = _columns(measured.values, measured.values["age_years"] if with_age else None, measure,
                                 measured.sexes == sex)
            if real is None or synthetic is None:
                continue
            (xr, yr), (xs, ys) = real, synthetic
            fitted = _fit(xs, ys)
            errors = xr @ fitted - yr
            rmse_real = _cross_validated_rmse(xr, yr)
            spread, spread_real = np.std(ys - xs @ fitted), np.std(yr - xr @ _fit(xr, yr))
            rmse = float(np.sqrt(np.mean(errors**2)))
            rows.append(ConditionalRow(sex, measure, len(yr), len(ys), 1000 * float(errors.mean()), 1000 * rmse,
                                       1000 * rmse_real, rmse / rmse_real, 1000 * float(spread),
                                       1000 * float(spread_real), float(spread / spread_real)))
    if not rows:
        raise SynthError(f"the people table {people.path} and the dataset share no circumference measured on "
                         f"{MINIMUM_ROWS} or more people of one sex on both sides ({', '.join(COMPARED)}); compare a "
                         "bigger build or table")
    return ConditionalReport(people.name, people.citation, bool(with_age), rows)


def _columns(values: dict[str, np.ndarray], age: np.ndarray | None, measure: str,
             rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(design, circumference) of the complete rows among `rows`; None if fewer than `MINIMUM_ROWS`."""
    height, mass, y = values["height_m"], values["mass_kg"], values[measure]
    keep = rows & np.isfinite(height) & np.isfinite(mass) & np.isfinite(y)
    if age is not None:
        keep &= np.isfinite(age)
    if keep.sum() < MINIMUM_ROWS:
        return None
    return design(height[keep], mass[keep], age[keep] if age is not None else None), y[keep]


def markdown(report: ConditionalReport) -> str:
    """The comparison as a markdown table (ok: |bias| <= 10 mm, RMSE ratio <= 1.15, spread
    ratio in 0.8-1.25)."""
    given = "height, weight, BMI, BMI^2" + (" and age" if report.with_age else "")
    lines = [f"Circumferences at fixed size vs `{report.reference}` (regressions on {given})", "",
             "| sex | circumference | real / synthetic | bias mm | RMSE synthetic-fitted / real-fitted mm | RMSE ratio "
             "| spread synthetic / real mm | spread ratio | ok |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report.rows:
        lines.append(f"| {r.sex} | {r.measure.removesuffix('_circumference_m')} | {r.real} / {r.synthetic} "
                     f"| {r.bias_mm:+.0f} | {r.rmse_mm:.0f} / {r.rmse_real_mm:.0f} | {r.rmse_ratio:.2f} "
                     f"| {r.spread_mm:.0f} / {r.spread_real_mm:.0f} | {r.spread_ratio:.2f} | {'ok' if r.ok else 'NO'} |")
    return "\n".join(lines)


def plot(measured: Measured, people: People, png: Path) -> Path:
    """Each compared circumference against BMI, per sex: the real people (grey points) and
    the dataset's bodies (blue points), with both sides' medians in BMI bins."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measures = [m for m in COMPARED if m in people.values and m in measured.values]
    figure, axes = plt.subplots(len(SEXES), len(measures), figsize=(3.1 * len(measures), 6.2), squeeze=False)
    bins = np.arange(15.0, 61.0, 2.5)
    for row, sex in enumerate(SEXES):
        for col, measure in enumerate(measures):
            ax = axes[row, col]
            for values, rows, color, name in ((people.values, people.sex == sex, "0.55", people.name),
                                              (measured.values, measured.sexes == sex, "tab:blue", "dataset")):
                bmi = values["mass_kg"] / values["height_m"] ** 2
                keep = rows & np.isfinite(bmi) & np.isfinite(values[measure])
                x, y = bmi[keep], 100 * values[measure][keep]
                ax.scatter(x, y, s=1.5, color=color, alpha=0.25, linewidths=0, rasterized=True)
                where = np.digitize(x, bins)
                centres = [(bins[k - 1] + bins[k]) / 2 for k in range(1, len(bins)) if (where == k).sum() >= 15]
                medians = [np.median(y[where == k]) for k in range(1, len(bins)) if (where == k).sum() >= 15]
                ax.plot(centres, medians, "-o", ms=3, color="black" if color == "0.55" else color,
                        label=f"{name} (n={keep.sum()})")
            ax.set_title(f"{sex}: {measure.removesuffix('_circumference_m')}", fontsize=9)
            ax.set_xlabel("BMI (kg/m²)", fontsize=8)
            ax.set_ylabel("cm", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.legend(fontsize=7, loc="upper left", markerscale=2)
    figure.tight_layout()
    return atomic_write_figure(Path(png), figure, dpi=90)


def write_conditional(measured: Measured, people: People, out: Path) -> tuple[ConditionalReport, list[Path]]:
    """Compare and write conditional_<reference>.{md,json,png} into the local folder `out`."""
    report = compare_people(measured, people)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"conditional_{people.name}"
    md, js = stem.with_suffix(".md"), stem.with_suffix(".json")
    atomic_write_bytes(md, (markdown(report) + "\n").encode())
    atomic_write_bytes(js, json.dumps(report.to_dict(), indent=2).encode())
    return report, [md, js, plot(measured, people, stem.with_suffix(".png"))]
