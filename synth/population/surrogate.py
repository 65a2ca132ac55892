"""A fast stand-in for `BodyMeasurer` on shape vectors: a quadratic ridge regression.

Measuring a body takes ~60 ms (forward pass, plane sections); calibration needs the
measurements of thousands of candidate shapes per build, so it asks this surrogate
instead. It predicts the log of the primitive measurements (`PRIMITIVES`) from the shape
vector (all linear and pairwise terms, plus cubic terms of the six default phenotypes,
which shape the body most) and derives body fat, mass and BMI from them with
the same formulas as the labels (`synth.measurements`). The stored labels always come
from `BodyMeasurer`; the surrogate only steers sampling.

One fitted surrogate per (body model version, shape space) ships in `data/`
(`surrogate_path`); `scripts/fit_population_surrogate.py` measures fresh bodies and
refits it, and a test checks it against the measurer.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from body_models import SynthError
from synth.measurements import body_mass_kg, navy_body_fat_pct

DATA_DIR = Path(__file__).with_name("data")
PRIMITIVES: tuple[str, ...] = ("height_m", "volume_m3", "neck_circumference_m", "waist_circumference_m",
                               "waist_iliac_circumference_m", "hip_circumference_m")
RIDGE = 1e-5


def surrogate_path(model_version: str) -> Path:
    return DATA_DIR / f"surrogate-{model_version.replace('/', '-')}.npz"


_CUBIC = 6  # the first components (Anny's default phenotypes) also get all cubic terms
_TRIPLES = np.array(list(itertools.combinations_with_replacement(range(_CUBIC), 3)))


def _features(shapes: np.ndarray) -> np.ndarray:
    """(N, 1 + S + S(S+1)/2 + 56): constant, linear, pairwise (upper-triangle) and the cubic
    terms of the first `_CUBIC` components."""
    x = np.asarray(shapes, np.float64)
    rows, cols = np.triu_indices(x.shape[1])
    cubic = x[:, _TRIPLES[:, 0]] * x[:, _TRIPLES[:, 1]] * x[:, _TRIPLES[:, 2]]
    return np.concatenate([np.ones((len(x), 1)), x, x[:, rows] * x[:, cols], cubic], 1)


@dataclass(frozen=True)
class Surrogate:
    """coefficients: (F, len(PRIMITIVES)) on `_features`, predicting log measurements;
    version: the body model version it was fitted for; rms_log_error: (len(PRIMITIVES),)
    held-out RMS error of the log prediction (about the relative error)."""

    version: str
    coefficients: np.ndarray
    rms_log_error: np.ndarray

    @functools.cached_property
    def _terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The coefficients regrouped as constant (P,), linear (S, P), quadratic (S, S * P) with
        [i, j * P + p] the x_i x_j term (i <= j, else 0) and cubic (T, P)."""
        size = int(round((-3 + np.sqrt(9 + 8 * (len(self.coefficients) - 1 - len(_TRIPLES)))) / 2))
        outputs = self.coefficients.shape[1]
        rows, cols = np.triu_indices(size)
        quadratic = np.zeros((size, size, outputs))
        quadratic[rows, cols] = self.coefficients[1 + size:1 + size + len(rows)]
        return (self.coefficients[0], self.coefficients[1:1 + size], quadratic.reshape(size, size * outputs),
                self.coefficients[1 + size + len(rows):])

    def primitives(self, shapes: np.ndarray) -> dict[str, np.ndarray]:
        """Predicted primitive measurements, each (N,), meters / m^3 (the same numbers as
        `_features(shapes) @ coefficients`, without building the feature matrix)."""
        x = np.asarray(shapes, np.float64)
        constant, linear, quadratic, cubic = self._terms
        pairs = np.einsum("nj,njp->np", x, (x @ quadratic).reshape(len(x), x.shape[1], -1))
        triples = x[:, _TRIPLES[:, 0]] * x[:, _TRIPLES[:, 1]] * x[:, _TRIPLES[:, 2]]
        predicted = np.exp(constant + x @ linear + pairs + triples @ cubic)
        return dict(zip(PRIMITIVES, predicted.T))

    def predict(self, shapes: np.ndarray, female: np.ndarray) -> dict[str, np.ndarray]:
        """Primitives plus body_fat_pct, mass_kg and bmi_kg_m2 (each (N,)); `female` (N,) 0..1."""
        p = self.primitives(shapes)
        raw_fat = navy_body_fat_pct(p["neck_circumference_m"], p["waist_circumference_m"], p["hip_circumference_m"],
                                    p["height_m"], female, bounded=False)
        mass = body_mass_kg(p["volume_m3"], raw_fat)
        return {**p, "body_fat_pct": raw_fat, "mass_kg": mass, "bmi_kg_m2": mass / p["height_m"] ** 2}


def fit_surrogate(version: str, shapes: np.ndarray, measured: np.ndarray, holdout: float = 0.2) -> Surrogate:
    """Fit on `shapes` (N, S) and `measured` (N, len(PRIMITIVES)); the last `holdout` share of
    rows scores it, then all rows refit it."""
    keep = np.isfinite(measured).all(1) & (measured > 0).all(1)
    x, y = _features(shapes[keep]), np.log(measured[keep])
    split = int(len(x) * (1.0 - holdout))

    def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.solve(a.T @ a + RIDGE * len(a) * np.eye(a.shape[1]), a.T @ b)

    held = np.sqrt(((x[split:] @ solve(x[:split], y[:split]) - y[split:]) ** 2).mean(0))
    return Surrogate(version, solve(x, y), held)


def save_surrogate(surrogate: Surrogate, path: Path) -> None:
    np.savez(path, version=surrogate.version, coefficients=surrogate.coefficients,
             rms_log_error=surrogate.rms_log_error, primitives=np.array(PRIMITIVES))


def load_surrogate(model_version: str) -> Surrogate:
    """The shipped surrogate for `model_version`; SynthError if there is none."""
    path = surrogate_path(model_version)
    if not path.is_file():
        raise SynthError(f"no population surrogate for body model {model_version} (looked for {path}); run "
                         "scripts/fit_population_surrogate.py, or set shape.reference = \"none\"")
    with np.load(path) as data:
        if tuple(data["primitives"]) != PRIMITIVES or str(data["version"]) != model_version:
            raise SynthError(f"{path} was fitted for another model or measurement set; refit it with "
                             "scripts/fit_population_surrogate.py")
        return Surrogate(str(data["version"]), data["coefficients"], data["rms_log_error"])
