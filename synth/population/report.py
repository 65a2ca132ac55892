"""`synth population`: a built dataset's measured population beside a reference, per sex.

For every (sex, measure, statistic) of the reference table the report gives the
dataset's value: the same percentile of the measured column, or the share at or above
the threshold. Percentiles are compared relatively (%), shares in percentage points.
The body-fat label is set beside DXA (`synth.population.body_fat`). A PNG plots each
measure's percentile curve per sex over the reference's points, and body fat against BMI.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synth.dataset.atomic import atomic_write_bytes, atomic_write_figure
from synth.dataset.manifest import read_manifest
from synth.population.body_fat import (DXA_HEAVY_BAND_PCT, DXA_MEAN_PCT, DXA_TOP_PCT, HEAVY_BMI, BodyFatCheck,
                                       check_body_fat)
from synth.population.body_fat import markdown as body_fat_markdown
from synth.population.measured import Measured, read_measured
from synth.population.reference import SEXES, ReferenceTable
from synth.storage import Store

BMI_CLASSES = ((0.0, 18.5, "underweight"), (18.5, 25.0, "normal"), (25.0, 30.0, "overweight"),
               (30.0, 40.0, "obese I-II"), (40.0, float("inf"), "obese III"))


@dataclass(frozen=True)
class Comparison:
    """One reference cell beside the dataset: statistic is "pN" or "share_ge_X";
    difference is relative (synthetic / reference - 1) for percentiles and in
    percentage points (synthetic - reference, x100) for shares."""

    sex: str
    measure: str
    statistic: str
    reference: float
    synthetic: float
    difference: float
    unit: str


@dataclass(frozen=True)
class PopulationReport:
    reference: str
    citation: str
    subjects: dict[str, int]  # sex -> measured subjects
    rows: list[Comparison]
    bmi_classes: dict[str, dict[str, float]]  # sex -> class -> share of the dataset
    body_fat: list[BodyFatCheck]  # empty for a dataset without the label

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def report_measures(reference: ReferenceTable) -> list[str]:
    """The measured columns a report against `reference` reads."""
    return sorted(set(reference.measures()) | {"bmi_kg_m2", "body_fat_pct"})


def compare(measured: Measured, reference: ReferenceTable) -> PopulationReport:
    """A dataset's measured rows beside `reference` (see `Comparison`)."""
    sexes, values = measured.sexes, measured.values
    rows = []
    for sex in SEXES:
        mine = sexes == sex
        for measure in reference.measures():
            data = values[measure][mine]
            data = data[np.isfinite(data)]
            if not data.size:
                continue
            unit = measure.rsplit("_", 1)[-1] if measure != "bmi_kg_m2" else "kg/m^2"
            for percent, ref in sorted(reference.percentiles.get((sex, measure), {}).items()):
                syn = float(np.percentile(data, percent))
                rows.append(Comparison(sex, measure, f"p{percent:g}", ref, syn, syn / ref - 1.0, unit))
            for threshold, ref in sorted(reference.shares.get((sex, measure), {}).items()):
                syn = float((data >= threshold).mean())
                rows.append(Comparison(sex, measure, f"share_ge_{threshold:g}", ref, syn, 100.0 * (syn - ref),
                                       "share"))
    bmi = values["bmi_kg_m2"]
    classes = {sex: {name: float(((bmi >= lo) & (bmi < hi))[sexes == sex].mean()) if (sexes == sex).any() else 0.0
                     for lo, hi, name in BMI_CLASSES} for sex in SEXES}
    counts = {sex: int(((sexes == sex) & np.isfinite(bmi)).sum()) for sex in SEXES}
    return PopulationReport(reference.name, reference.citation, counts, rows, classes,
                            check_body_fat(measured))


def markdown(report: PopulationReport) -> str:
    """The comparison as a markdown table (percentiles within 3 % and shares within 3 points
    are marked ok)."""
    lines = [f"Population vs reference `{report.reference}` ({report.subjects['male']} men, "
             f"{report.subjects['female']} women measured)", "",
             "| sex | measure | statistic | reference | dataset | difference | within 3 |",
             "|---|---|---|---|---|---|---|"]
    for row in report.rows:
        share = row.statistic.startswith("share")
        diff = f"{row.difference:+.1f} pp" if share else f"{100 * row.difference:+.1f} %"
        ok = abs(row.difference) <= (3.0 if share else 0.03)
        fmt = (lambda v: f"{100 * v:.1f} %") if share else (lambda v: f"{v:.3f}")
        lines.append(f"| {row.sex} | {row.measure} | {row.statistic} | {fmt(row.reference)} | {fmt(row.synthetic)} "
                     f"| {diff} | {'ok' if ok else 'NO'} |")
    lines += ["", "| sex | " + " | ".join(name for _, _, name in BMI_CLASSES) + " |",
              "|---|" + "---|" * len(BMI_CLASSES)]
    for sex, shares in report.bmi_classes.items():
        lines.append(f"| {sex} | " + " | ".join(f"{100 * shares[name]:.1f} %" for _, _, name in BMI_CLASSES) + " |")
    if report.body_fat:
        lines += ["", body_fat_markdown(report.body_fat)]
    return "\n".join(lines)


def plot(measured: Measured, reference: ReferenceTable, png: Path) -> Path:
    """Percentile curves (dataset, lines) over the reference (points, dashed interpolation),
    one panel per measure and sex; then, where the dataset has the label, body fat against
    BMI beside DXA's mean and its band at BMI 38-42."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measures, sexes, values = reference.measures(), measured.sexes, measured.values
    fat = np.isfinite(values["body_fat_pct"]).any()
    figure, axes = plt.subplots(len(measures) + fat, 2, figsize=(10, 2.6 * (len(measures) + fat)), squeeze=False)
    percents = np.linspace(1, 99, 99)
    for col, sex in enumerate(SEXES):
        for row, measure in enumerate(measures):
            ax = axes[row, col]
            data = values[measure][sexes == sex]
            data = data[np.isfinite(data)]
            if data.size:
                ax.plot(percents, np.percentile(data, percents), color="tab:blue", label=f"dataset (n={data.size})")
            marginal = reference.marginal(sex, measure)
            if marginal is not None:
                if len(marginal.values) > 1:
                    ax.plot(percents, marginal.quantile(percents / 100.0), "--", color="tab:orange", lw=1,
                            label="reference, interpolated")
                ax.plot(100 * np.array(marginal.probabilities), marginal.values, "o", color="tab:orange",
                        label=f"reference ({reference.name})")
            if measure == "bmi_kg_m2":
                for line in (30.0, 40.0):
                    ax.axhline(line, color="grey", lw=0.6, ls=":")
            _style(ax, f"{sex}: {measure}", "percentile", "upper left" if row == 0 else None)
        if fat:
            _body_fat_panel(axes[-1, col], sex, values["bmi_kg_m2"][sexes == sex], values["body_fat_pct"][sexes == sex])
    figure.tight_layout()
    return atomic_write_figure(Path(png), figure, dpi=90)


def _body_fat_panel(ax, sex: str, bmi: np.ndarray, fat: np.ndarray) -> None:
    ax.scatter(bmi, fat, s=2, alpha=0.3, color="tab:blue", label=f"dataset (n={np.isfinite(fat).sum()})")
    ax.axhline(DXA_MEAN_PCT[sex], color="tab:orange", ls="--", lw=1, label="DXA mean (NHANES 1999-2004)")
    low, high = DXA_HEAVY_BAND_PCT[sex]
    ax.fill_between(HEAVY_BMI, low, high, color="tab:orange", alpha=0.3, label="DXA at BMI 38-42")
    ax.axhline(DXA_TOP_PCT, color="grey", lw=0.6, ls=":", label="highest DXA")
    _style(ax, f"{sex}: body_fat_pct against bmi_kg_m2", "BMI (kg/m^2)", "lower right")


def _style(ax, title: str, xlabel: str, legend: str | None) -> None:
    """Title, axis label, grid and (at `legend`, a matplotlib location) the legend."""
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7, loc=legend)


def write_population(location: str | Path, reference: str | None, out: Path) -> tuple[str, list[Path]]:
    """Compare the dataset at `location` (folder or URI) with `reference` and write the report
    into the local folder `out`; return its markdown and the files written.

    A reference of per-person measurements (`ansur2`, or a CSV with sex, stature and weight
    columns: `synth.population.people`) is compared conditionally, at fixed height and
    weight (`synth.population.conditional`: conditional_<name>.{md,json,png}); a table of
    percentiles and shares (`synth.population.reference`; None: the one the dataset was
    built with, else the default) marginally (population.{md,json,png})."""
    from synth.population.conditional import COMPARED, write_conditional
    from synth.population.conditional import markdown as conditional_markdown
    from synth.population.people import is_people_table, load_people
    from synth.population.reference import DEFAULT_REFERENCE, NO_REFERENCE, load_reference

    store = Store.open(location)
    out = Path(out)
    if reference is not None and is_people_table(reference):
        measured = read_measured(store, ["height_m", "mass_kg", "bmi_kg_m2", "age_years", *COMPARED])
        report, paths = write_conditional(measured, load_people(reference), out)
        return conditional_markdown(report), paths
    if reference is None:
        manifest = read_manifest(store)
        built = (manifest or {}).get("spec", {}).get("shape", {}).get("reference", NO_REFERENCE)
        reference = DEFAULT_REFERENCE if built == NO_REFERENCE else built
    table = load_reference(reference)
    measured = read_measured(store, report_measures(table))
    report = compare(measured, table)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "population.md", out / "population.json"
    atomic_write_bytes(md, (markdown(report) + "\n").encode())
    atomic_write_bytes(js, json.dumps(report.to_dict(), indent=2).encode())
    return markdown(report), [md, js, plot(measured, table, out / "population.png")]
