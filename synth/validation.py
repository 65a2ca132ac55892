"""Validation of TOML documents into frozen dataclass sections, one line per problem.

A limits table maps "section.field" to (kind, low, high). Kinds: bool; str (length
low..high); int and float (value low..high); range ([low, high] pair inside the
limits); names (low..high distinct identifiers); floats (list of numbers in
low..high); splits ({name = fraction} summing to 1).
"""
from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from body_models import SynthError

Limits = dict[str, tuple[str, float, float]]


def plain_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON-ready nested dicts (tuples become lists), as it is stored."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; SynthError naming `what` when missing or malformed."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError as err:
        raise SynthError(f"{what} {path} not found; see jobs/ for examples") from err
    except IsADirectoryError as err:
        raise SynthError(f"{what} {path} is a folder; give a .toml file") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SynthError(f"{what} {path} is not valid TOML: {err}") from err


def check_field(key: str, value: Any, limits: dict[str, tuple[str, float, float]]) -> tuple[Any, str | None]:
    """(converted value, None) or (None, one-line problem) for one field."""
    kind, low, high = limits[key]
    number = (int, float)
    if kind == "bool":
        return (value, None) if isinstance(value, bool) else (None, f"{key} = {value!r}: expected true or false")
    if kind == "str":
        if not isinstance(value, str) or not low <= len(value) <= high:
            return None, f"{key} = {value!r}: expected a string of {int(low)}..{int(high)} characters"
        return value, None
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return None, f"{key} = {value!r}: expected an integer in {int(low)}..{int(high)}"
        return value, None
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, number) or not low <= value <= high:
            return None, f"{key} = {value!r}: expected a number in {low:g}..{high:g}"
        return float(value), None
    if kind == "range":
        ok = (isinstance(value, (list, tuple)) and len(value) == 2
              and all(isinstance(v, number) and not isinstance(v, bool) for v in value))
        if not ok or not low <= value[0] <= value[1] <= high:
            return None, f"{key} = {value!r}: expected [low, high] with {low:g} <= low <= high <= {high:g}"
        return (float(value[0]), float(value[1])), None
    if kind == "names":
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) and v.isidentifier() for v in value)
        if not ok or not low <= len(value) <= high or len(set(value)) != len(value):
            return None, f"{key} = {value!r}: expected {int(low)}..{int(high)} distinct names (letters, digits, _)"
        return tuple(value), None
    if kind == "floats":
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, number) and not isinstance(v, bool) for v in value)
        if not ok or not all(low <= v <= high for v in value):
            return None, f"{key} = {value!r}: expected a list of numbers in {low:g}..{high:g}"
        return tuple(float(v) for v in value), None
    # splits
    ok = (isinstance(value, dict) and value and all(isinstance(k, str) and k.isidentifier() for k in value)
          and all(isinstance(v, number) and not isinstance(v, bool) and v >= 0 for v in value.values()))
    if not ok or not math.isclose(sum(value.values()), 1.0, abs_tol=1e-6):
        return None, f"{key} = {value!r}: expected {{name = fraction, ...}} with fractions >= 0 summing to 1"
    return {k: float(v) for k, v in value.items()}, None


def build_sections(raw: dict[str, Any], classes: dict[str, type], limits: Limits, what: str) -> dict[str, Any]:
    """Section name -> dataclass instance; SynthError listing every problem at once."""
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for name, body in raw.items():
        if name not in classes:
            problems.append(f"[{name}]: unknown section; expected one of {', '.join(classes)}")
            continue
        if not isinstance(body, dict):
            problems.append(f"{name} = {body!r}: expected a [{name}] table")
            continue
        cls = classes[name]
        known = {f.name for f in dataclasses.fields(cls)}
        values = {}
        for key, value in body.items():
            if key not in known:
                problems.append(f"{name}.{key}: unknown field; expected one of {', '.join(sorted(known))}")
                continue
            checked, problem = check_field(f"{name}.{key}", value, limits)
            if problem:
                problems.append(problem)
            else:
                values[key] = checked
        sections[name] = cls(**values)
    if problems:
        raise SynthError(f"invalid {what}:\n  " + "\n  ".join(problems))
    return sections


def parse_override(text: str) -> tuple[str, str, Any]:
    """'section.key=VALUE' (VALUE in TOML syntax, bare words as strings) -> parts."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise SynthError(f"--set {text!r}: expected section.key=value, e.g. --set camera.width=512")
    path, raw_value = text.split("=", 1)
    section, key = path.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw_value}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw_value
    return section, key, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> None:
    """Set each `section.key=value` of `overrides` in the parsed document `raw`."""
    for override in overrides:
        section, key, value = parse_override(override)
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise SynthError(f"--set {override!r}: {section} is not a table")
        table[key] = value
