"""Reference populations: per-sex percentiles and shares of body measurements, from CSV.

A table is a CSV with columns `sex,measure,statistic,value` (lines starting with `#` are
its citation and notes):
- sex: `male` or `female`;
- measure: a dataset measurement column (`synth.measurements.MEASUREMENT_NAMES`, SI units:
  `height_m`, `mass_kg`, `bmi_kg_m2`, `waist_iliac_circumference_m`, ...);
- statistic: `pN` (the N-th percentile, 0 < N < 100) or `share_ge_X` (the fraction of
  people whose value is at least X, e.g. `share_ge_30` for BMI >= 30);
- value: the percentile's value, or the share as a fraction in [0, 1].

Bundled tables live in `data/` and are named by file stem (`BUNDLED`); any other
argument is read as a path. Every problem is one `SynthError` line naming the file,
the line and what to fix.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import ndtri

from body_models import SynthError
from synth.measurements import MEASUREMENT_NAMES

DATA_DIR = Path(__file__).with_name("data")
BUNDLED: tuple[str, ...] = tuple(sorted(p.stem for p in DATA_DIR.glob("*.csv")))
DEFAULT_REFERENCE = "nhanes-2021-2023"
NO_REFERENCE = "none"  # shape.reference value: the body model's own prior, no calibration
SEXES = ("male", "female")
COLUMNS = ("sex", "measure", "statistic", "value")
TAIL_PROBABILITY = 0.005  # quantiles are drawn in [0.5 %, 99.5 %]: no extrapolation past them
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")
_SHARE = re.compile(r"^share_ge_(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Marginal:
    """One measure's distribution for one sex, as anchors of its quantile function.

    probabilities: (K,) increasing, in (0, 1); values: (K,) non-decreasing, the measure's
    unit. Percentile rows give (N / 100, value); a share row `share_ge_X = s` gives
    (1 - s, X).
    """

    measure: str
    probabilities: tuple[float, ...]
    values: tuple[float, ...]

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Values at probabilities `u`: log-value piecewise linear in the normal score
        between anchors, extended with the end segments' slopes (one anchor: constant)."""
        z = ndtri(np.clip(np.asarray(u, np.float64), TAIL_PROBABILITY, 1.0 - TAIL_PROBABILITY))
        knots, logs = ndtri(np.array(self.probabilities)), np.log(np.array(self.values))
        if len(knots) == 1:
            return np.full_like(z, self.values[0])
        inner = np.interp(z, knots, logs)
        low = logs[0] + (z - knots[0]) * (logs[1] - logs[0]) / (knots[1] - knots[0])
        high = logs[-1] + (z - knots[-1]) * (logs[-1] - logs[-2]) / (knots[-1] - knots[-2])
        return np.exp(np.where(z < knots[0], low, np.where(z > knots[-1], high, inner)))


@dataclass(frozen=True)
class ReferenceTable:
    """A reference population: name, where it came from, its citation, and the rows."""

    name: str
    path: Path
    citation: str
    percentiles: dict[tuple[str, str], dict[float, float]]  # (sex, measure) -> {percent: value}
    shares: dict[tuple[str, str], dict[float, float]]  # (sex, measure) -> {threshold: fraction >= it}

    def marginal(self, sex: str, measure: str) -> Marginal | None:
        """The quantile anchors of `measure` for `sex`, None if the table has none."""
        anchors = {p / 100.0: v for p, v in self.percentiles.get((sex, measure), {}).items()}
        anchors.update({1.0 - s: x for x, s in self.shares.get((sex, measure), {}).items() if 0.0 < s < 1.0})
        if not anchors:
            return None
        probabilities = sorted(anchors)
        return Marginal(measure, tuple(probabilities), tuple(anchors[p] for p in probabilities))

    def measures(self) -> list[str]:
        """Measures with at least one row, in dataset column order."""
        named = {m for _, m in (*self.percentiles, *self.shares)}
        return [m for m in MEASUREMENT_NAMES if m in named]


def resolve_reference_path(name: str) -> Path:
    """The CSV behind a bundled name or a path; SynthError if neither exists."""
    if name in BUNDLED:
        return DATA_DIR / f"{name}.csv"
    path = Path(name).expanduser()
    if not path.is_file():
        raise SynthError(f"reference table {name!r} not found: give a bundled name ({', '.join(BUNDLED)}) or the "
                         f"path of a CSV with columns {','.join(COLUMNS)}")
    return path


def load_reference(name: str) -> ReferenceTable:
    """Read and validate a reference table (bundled name or CSV path)."""
    path = resolve_reference_path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SynthError(f"reference table {path}: cannot read it as UTF-8 text ({err})") from err
    lines = text.splitlines()
    citation = "\n".join(line.lstrip("# ").rstrip() for line in lines if line.startswith("#"))
    numbered = [(k + 1, line) for k, line in enumerate(lines) if line.strip() and not line.startswith("#")]
    if not numbered:
        raise SynthError(f"reference table {path}: no rows; expected a header {','.join(COLUMNS)} and data rows")
    header = [c.strip() for c in next(csv.reader([numbered[0][1]]))]
    if header != list(COLUMNS):
        raise SynthError(f"reference table {path}: line {numbered[0][0]}: header is {','.join(header)}; expected "
                         f"{','.join(COLUMNS)}")
    percentiles: dict[tuple[str, str], dict[float, float]] = {}
    shares: dict[tuple[str, str], dict[float, float]] = {}
    for number, line in numbered[1:]:
        _parse_row(path, number, [c.strip() for c in next(csv.reader([line]))], percentiles, shares)
    if not percentiles and not shares:
        raise SynthError(f"reference table {path}: a header but no data rows")
    table = ReferenceTable(Path(name).stem if name not in BUNDLED else name, path, citation, percentiles, shares)
    _check_order(table)
    return table


def _parse_row(path: Path, number: int, cells: list[str], percentiles: dict, shares: dict) -> None:
    where = f"reference table {path}: line {number}"
    if len(cells) != len(COLUMNS):
        raise SynthError(f"{where}: {len(cells)} fields; expected {len(COLUMNS)} ({','.join(COLUMNS)})")
    sex, measure, statistic, raw = cells
    if sex not in SEXES:
        raise SynthError(f"{where}: sex {sex!r}; expected male or female")
    if measure not in MEASUREMENT_NAMES:
        raise SynthError(f"{where}: unknown measure {measure!r}; expected one of {', '.join(MEASUREMENT_NAMES)}")
    try:
        value = float(raw)
    except ValueError:
        raise SynthError(f"{where}: value {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SynthError(f"{where}: value {raw!r} is not finite")
    if (match := _PERCENTILE.match(statistic)) is not None:
        percent = float(match.group(1))
        if not 0.0 < percent < 100.0 or value <= 0.0:
            raise SynthError(f"{where}: {statistic} = {raw}: percentiles run from p0 to p100 exclusive and values "
                             "must be positive (SI units: meters, kilograms)")
        target = percentiles.setdefault((sex, measure), {})
        key = percent
    elif (match := _SHARE.match(statistic)) is not None:
        if not 0.0 <= value <= 1.0:
            raise SynthError(f"{where}: {statistic} = {raw}: a share is a fraction in [0, 1] (0.39, not 39)")
        target = shares.setdefault((sex, measure), {})
        key = float(match.group(1))
    else:
        raise SynthError(f"{where}: statistic {statistic!r}; expected pN (e.g. p50) or share_ge_X (e.g. share_ge_30)")
    if key in target:
        raise SynthError(f"{where}: {sex} {measure} {statistic} is given twice")
    target[key] = value


def _check_order(table: ReferenceTable) -> None:
    """Percentiles and shares of one measure must describe one increasing quantile function."""
    for sex in SEXES:
        for measure in table.measures():
            marginal = table.marginal(sex, measure)
            if marginal is not None and any(b < a for a, b in zip(marginal.values, marginal.values[1:])):
                pairs = ", ".join(f"P{100 * p:g}={v:g}" for p, v in zip(marginal.probabilities, marginal.values))
                raise SynthError(f"reference table {table.path}: {sex} {measure} is not increasing with the "
                                 f"percentile ({pairs}); check the values and shares")
