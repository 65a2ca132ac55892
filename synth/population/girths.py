"""Girths at a given size, as measured people have them: the shape half of the joint distribution.

Per sex, fitted on a table of measured people (ANSUR II, `synth.population.people`) for
the circumferences of `GIRTHS`: log girth = a + b log height + c log weight + d age + e,
with e ~ N(0, covariance of the people's residuals), so girths vary together at fixed
size as people's do (in ANSUR II, wide hips go with wide thighs, r = 0.55 in men and 0.62
in women, and a big chest with slimmer thighs, r = -0.37 and -0.43: pears and apples).
Height and weight themselves come from the reference population's marginals (NHANES);
this model only says what shape a body of that size and age has.

ANSUR II is young (17-58 years) and screened for Army fitness (few BMIs above 40): the
log-linear form is a power law in height and weight, which extrapolates smoothly to the
heaviest bodies (a BMI-quadratic fit on the same people fits them equally well, 5-fold,
but bends beyond them), and the age term is extended linearly to 80, as the waist keeps
growing with age at fixed BMI in adults; the population report checks the result against
NHANES' waist and hip medians, which cover both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from body_models import SynthError
from synth.population.people import People
from synth.population.rowwise import rowwise

DEFAULT_GIRTHS = "ansur2"
GIRTHS: tuple[str, ...] = ("chest_circumference_m", "waist_navel_circumference_m", "hip_circumference_m",
                           "neck_circumference_m", "thigh_circumference_m", "calf_circumference_m")


@dataclass(frozen=True)
class GirthModel:
    """coefficients: sex -> (4, G) on [1, log height, log weight, age]; cholesky: sex -> (G, G)
    lower factor of the residuals' covariance (log units); source: the people table's name."""

    coefficients: dict[str, np.ndarray]
    cholesky: dict[str, np.ndarray]
    source: str

    def mean(self, sex: str, height_m: np.ndarray, mass_kg: np.ndarray, age_years: np.ndarray) -> np.ndarray:
        """(N, G) log girths of people of `sex` with these heights, weights and ages."""
        x = np.stack([np.ones_like(height_m), np.log(height_m), np.log(mass_kg), age_years], 1)
        return rowwise(x, self.coefficients[sex])

    def draw(self, sex: str, height_m: np.ndarray, mass_kg: np.ndarray, age_years: np.ndarray,
             normals: np.ndarray) -> np.ndarray:
        """(N, G) girths (m): the conditional mean moved by correlated residuals from standard
        normal draws `normals` (N, G)."""
        return np.exp(self.mean(sex, height_m, mass_kg, age_years) + rowwise(normals, self.cholesky[sex].T))


def fit_girths(people: People) -> GirthModel:
    """The model fitted on the people of `people` measured on every girth, with age."""
    missing = [g for g in GIRTHS if g not in people.values]
    if missing:
        raise SynthError(f"people table {people.path} lacks {', '.join(missing)}; the girth model needs every one of "
                         f"{', '.join(GIRTHS)}")
    coefficients, cholesky = {}, {}
    for sex in ("male", "female"):
        y = np.log(np.stack([people.values[g] for g in GIRTHS], 1))
        keep = (people.sex == sex) & np.isfinite(y).all(1) & np.isfinite(people.age_years)
        if keep.sum() < 50:
            raise SynthError(f"people table {people.path} has {keep.sum()} {sex}s measured on every girth with age; the "
                             "girth model needs at least 50")
        h, w = people.values["height_m"][keep], people.values["mass_kg"][keep]
        x = np.stack([np.ones_like(h), np.log(h), np.log(w), people.age_years[keep]], 1)
        beta = np.linalg.lstsq(x, y[keep], rcond=None)[0]
        residuals = y[keep] - x @ beta
        coefficients[sex] = beta
        cholesky[sex] = np.linalg.cholesky(np.cov(residuals, rowvar=False))
    return GirthModel(coefficients, cholesky, people.name)
