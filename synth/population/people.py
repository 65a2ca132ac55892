"""Tables of measured people: one row per person, sex, stature, weight and tape measurements.

A table is a CSV (optionally gzip-compressed; lines starting with `#` are its citation
and notes). Columns are named either as the dataset's labels, in SI units (`sex`,
`height_m`, `mass_kg`, `chest_circumference_m`, ...; `id` and `age_years` optional), or
as the public ANSUR II files name them (`Gender`, `stature` and circumferences in mm,
`weightkg` in tenths of a kilogram, `subjectid` / `SubjectId`, `Age`), so those files
work as they are. Sex, stature and weight are required; every other measurement is
optional, per column and per row (an empty cell is "not measured").

`ansur2` is bundled (`data/ansur2.csv.gz`: the columns of the public release that match
the labels, for its 6,068 adults). Every problem is one `SynthError` line naming the
file, the row and the column, and what to do.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from body_models import SynthError

DATA_DIR = Path(__file__).with_name("data")
BUNDLED_PEOPLE: dict[str, Path] = {"ansur2": DATA_DIR / "ansur2.csv.gz"}
SEXES = ("male", "female")

# label -> (ANSUR II column, factor to SI)
ANSUR_NAMES: dict[str, tuple[str, float]] = {
    "height_m": ("stature", 1e-3),
    "mass_kg": ("weightkg", 0.1),
    "neck_circumference_m": ("neckcircumference", 1e-3),
    "chest_circumference_m": ("chestcircumference", 1e-3),
    "waist_navel_circumference_m": ("waistcircumference", 1e-3),
    "hip_circumference_m": ("buttockcircumference", 1e-3),
    "thigh_circumference_m": ("thighcircumference", 1e-3),
    "calf_circumference_m": ("calfcircumference", 1e-3),
}
# label -> plausible range for an adult, SI; a value outside is a wrong unit or a typo
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "height_m": (1.2, 2.3),
    "mass_kg": (30.0, 300.0),
    "neck_circumference_m": (0.22, 0.65),
    "chest_circumference_m": (0.6, 1.9),
    "waist_circumference_m": (0.45, 2.0),
    "waist_navel_circumference_m": (0.45, 2.0),
    "waist_iliac_circumference_m": (0.45, 2.0),
    "hip_circumference_m": (0.6, 2.0),
    "thigh_circumference_m": (0.3, 1.1),
    "calf_circumference_m": (0.2, 0.7),
    "upper_arm_circumference_m": (0.15, 0.7),
}
MEASURES: tuple[str, ...] = tuple(PLAUSIBLE)
_SEX_WORDS = {"male": "male", "m": "male", "man": "male", "female": "female", "f": "female", "woman": "female"}
_AGE_RANGE = (16.0, 100.0)


@dataclass(frozen=True)
class People:
    """A table of measured people. ids, sex ("male" / "female"): (N,) str; age_years: (N,)
    float64, NaN where not given; values: label -> (N,) float64 in SI units, NaN where not
    measured (only labels the table has a column for)."""

    name: str
    path: Path
    citation: str
    ids: np.ndarray
    sex: np.ndarray
    age_years: np.ndarray
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)

    def targets(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), len(MEASURES)) the measurements of the people at `rows` in `MEASURES`
        order, SI units, NaN where not measured."""
        return np.stack([self.values[name][rows] if name in self.values else np.full(len(rows), np.nan)
                         for name in MEASURES], 1)

    def subset(self, rows: np.ndarray) -> People:
        """The people at `rows` (indices or a boolean mask), same columns."""
        return People(self.name, self.path, self.citation, self.ids[rows], self.sex[rows], self.age_years[rows],
                      {k: v[rows] for k, v in self.values.items()})


def resolve_people_path(name: str | Path) -> Path:
    """The file behind a bundled name (`ansur2`) or a path; SynthError if neither exists."""
    if str(name) in BUNDLED_PEOPLE:
        return BUNDLED_PEOPLE[str(name)]
    path = Path(name).expanduser()
    if not path.is_file():
        raise SynthError(f"people table {name} not found: give a bundled name ({', '.join(BUNDLED_PEOPLE)}) or the "
                         "path of a CSV with sex, stature and weight columns")
    return path


def is_people_table(name: str | Path) -> bool:
    """Whether `name` is a bundled people table or a file whose header is not a marginal
    reference table's (`sex,measure,statistic,value`)."""
    if str(name) in BUNDLED_PEOPLE:
        return True
    path = Path(name).expanduser()
    if not path.is_file():
        return False
    lines = [line for line in _read_text(path).splitlines() if line.strip() and not line.startswith("#")]
    return bool(lines) and [c.strip() for c in lines[0].split(",")] != ["sex", "measure", "statistic", "value"]


def _read_text(path: Path) -> str:
    """The file's text, gunzipped if it is gzip; UTF-8, else Latin-1 (the ANSUR II files have a
    few Latin-1 free-text fields)."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise SynthError(f"people table {path}: cannot read it ({err})") from err
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _column(header: list[str], *names: str) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name.lower() in lowered:
            return lowered.index(name.lower())
    return None


def load_people(name: str | Path) -> People:
    """Read and validate a people table (bundled name or CSV path)."""
    path = resolve_people_path(name)
    lines = _read_text(path).splitlines()
    citation = "\n".join(line.lstrip("# ").rstrip() for line in lines if line.startswith("#"))
    body = [line for line in lines if not line.startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(body))))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise SynthError(f"people table {path}: no data rows; expected a header and one row per person")
    header, data = rows[0], rows[1:]
    where = f"people table {path}"
    sex_col = _column(header, "sex", "gender")
    if sex_col is None:
        raise SynthError(f"{where}: no sex column; add `sex` (male / female) or ANSUR II's `Gender`")
    columns: dict[str, tuple[int, float, str]] = {}
    for label, (ansur, factor) in ANSUR_NAMES.items():
        for column, scale in ((label, 1.0), (ansur, factor)):
            index = _column(header, column)
            if index is not None:
                columns[label] = (index, scale, header[index].strip())
                break
    for label in PLAUSIBLE:
        if label not in columns and (index := _column(header, label)) is not None:
            columns[label] = (index, 1.0, header[index].strip())
    missing = [needed for needed in ("height_m", "mass_kg") if needed not in columns]
    if missing:
        wanted = " and ".join(f"{m} (or ANSUR II's {ANSUR_NAMES[m][0]})" for m in missing)
        raise SynthError(f"{where}: no {wanted} column; stature and weight are required")
    id_col = _column(header, "id", "subjectid")
    age_col = _column(header, "age_years", "age")
    ids, sexes, ages = [], [], []
    values = {label: np.full(len(data), np.nan) for label in columns}
    for number, row in enumerate(data, start=2):
        person = row[id_col].strip() if id_col is not None and id_col < len(row) else str(number - 1)
        at = f"{where}: row {number} (id {person})"
        word = row[sex_col].strip().lower() if sex_col < len(row) else ""
        if word not in _SEX_WORDS:
            raise SynthError(f"{at}, column {header[sex_col].strip()}: {word!r} is not a sex; use male or female")
        ids.append(person)
        sexes.append(_SEX_WORDS[word])
        ages.append(_number(row, age_col, header, at, 1.0, _AGE_RANGE, "years") if age_col is not None else np.nan)
        for label, (index, scale, column) in columns.items():
            values[label][number - 2] = _number(row, index, header, at, scale, PLAUSIBLE[label],
                                                "m" if label.endswith("_m") else "kg")
        for needed in ("height_m", "mass_kg"):
            if not np.isfinite(values[needed][number - 2]):
                raise SynthError(f"{at}, column {columns[needed][2]}: empty; stature and weight are required")
    return People(Path(str(name)).name.split(".")[0] if str(name) not in BUNDLED_PEOPLE else str(name), path,
                  citation, np.array(ids), np.array(sexes), np.array(ages, np.float64), values)


def _number(row: list[str], index: int, header: list[str], at: str, scale: float, plausible: tuple[float, float],
            unit: str) -> float:
    """The cell at `index` in SI units (NaN if empty), or a SynthError naming the row and column."""
    cell = row[index].strip() if index < len(row) else ""
    if not cell:
        return float("nan")
    column = header[index].strip()
    try:
        value = float(cell) * scale
    except ValueError:
        raise SynthError(f"{at}, column {column}: {cell!r} is not a number") from None
    low, high = plausible
    if not math.isfinite(value) or not low <= value <= high:
        hint = (" (ANSUR II's columns are in mm, weightkg in tenths of a kg)" if scale != 1.0
                else " (label columns are SI: meters and kilograms)")
        raise SynthError(f"{at}, column {column}: {cell} is {value:g} {unit}, outside {low:g}-{high:g} {unit} for "
                         f"an adult; check the unit{hint}")
    return value
