"""Shape samplers: the body model's own prior, or a population calibrated to a reference.

`CalibratedSampler` makes each body from its own generator, in this order:
1. a style shape from the body space's prior (`AnnyBody.sample_shapes`: sex, age,
   muscle, proportions, ancestry, cupsize, local-target noise);
2. two uniforms u_h, u_b: target height = the reference's height quantile at u_h and
   target BMI its BMI quantile at u_b, for the body's sex (height and BMI drawn
   independently: in adults BMI is nearly uncorrelated with height);
3. the height and adiposity levers (`synth.population.levers`) are solved so that the
   surrogate's predicted height and BMI hit the targets (alternating bisection: each is
   monotone in its lever), with the sex's waist and hip offsets applied;
4. where a style cannot reach its targets within 1 % (its fat targets all at their bounds),
   a new style is drawn from the same generator (same sex), up to `_REDRAWS` times.
The per-sex waist and hip offsets are set once, before any body is drawn, so that the
predicted medians of the waist at the iliac crest and of the hip circumference over a
fixed virtual population (its own seed) equal the reference's P50 (when the table has
them). A body's shape thus depends only on (spec, its generator): any worker count,
shard order or resume gives the same dataset.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from body_models import BodyModel, ShapePrior, SynthError
from synth.population.levers import LeverMap, Levers
from synth.population.reference import NO_REFERENCE, SEXES, Marginal, ReferenceTable
from synth.population.surrogate import Surrogate

HEIGHT_RANGE = (0.0, 1.0)
ADIPOSITY_RANGE = (-0.8, 2.0)  # the ranges the surrogate was fitted on
OFFSET_RANGE = (-1.0, 1.0)
_BISECTIONS = 20
_ROUNDS = 3
_VIRTUAL_BODIES = 800  # per sex, for the waist/hip offsets
_OFFSET_STEPS = 5
_REDRAWS = 8
_REACHED = 0.01
_VIRTUAL_SEED = 0x5EED_CA11


@dataclass(frozen=True)
class Targets:
    """Per-body targets, each (N,): height (m) and BMI (kg/m^2)."""

    height_m: np.ndarray
    bmi_kg_m2: np.ndarray


class ShapeSampler(Protocol):
    def sample(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Shapes (len(rngs), S) float32, row i drawn from `rngs[i]` only."""


class PriorSampler:
    """The body model's own shape prior (no reference)."""

    def __init__(self, model: BodyModel, prior: ShapePrior) -> None:
        self.model, self.prior = model, prior

    def sample(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        return self.model.sample_shapes(rngs, self.prior)


class CalibratedSampler:
    """Shapes whose measured height, weight and BMI follow `reference`, per sex."""

    def __init__(self, model: BodyModel, prior: ShapePrior, reference: ReferenceTable, surrogate: Surrogate) -> None:
        if surrogate.version != model.version:
            raise SynthError(f"the population surrogate was fitted for {surrogate.version}, not {model.version}")
        self.model, self.prior, self.reference, self.surrogate = model, prior, reference, surrogate
        self.levers = LeverMap(model)
        self.marginals = {sex: (self._needed(sex, "height_m"), self._needed(sex, "bmi_kg_m2")) for sex in SEXES}
        self.offsets = {sex: self._calibrate_offsets(sex) for sex in SEXES}

    def _needed(self, sex: str, measure: str) -> Marginal:
        marginal = self.reference.marginal(sex, measure)
        if marginal is None or len(marginal.values) < 2:
            raise SynthError(f"reference table {self.reference.path}: sampling needs at least two percentiles (or "
                             f"shares) of {measure} for {sex}s")
        return marginal

    def sample(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Shapes (len(rngs), S) float32; row i from `rngs[i]` only."""
        style, levers = self._draw(rngs, self.prior, self.offsets)
        return self.levers.apply(style, levers).astype(np.float32)

    def shapes_for(self, style: np.ndarray, targets: Targets) -> np.ndarray:
        """Shapes (N, S) float64: each `style` row moved to its height and BMI `targets` (with its
        sex's waist and hip offsets; clamped where out of reach, no redraw)."""
        return self.levers.apply(style, self._solve(style, targets, *self._offsets(style, self.offsets)))

    def _offsets(self, style: np.ndarray, offsets: dict[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Each row's (waist, hip) lever offsets (N,), by its sex."""
        per_row = np.array([offsets["female" if f else "male"] for f in self.levers.is_female(style)])
        per_row = per_row.reshape(len(style), 2)
        return per_row[:, 0], per_row[:, 1]

    def _draw(self, rngs: Sequence[np.random.Generator], prior: ShapePrior,
              offsets: dict[str, tuple[float, float]]) -> tuple[np.ndarray, Levers]:
        """Style shapes and solved levers. A body whose style cannot reach its targets (too
        muscular or slight for its BMI: every fat target already at its bound) gets a new
        style from its own generator, keeping its sex, up to `_REDRAWS` times."""
        style = self.model.sample_shapes(rngs, prior)
        uniforms = np.array([rng.uniform(size=2) for rng in rngs]).reshape(len(rngs), 2)
        sexes = np.where(self.levers.is_female(style), "female", "male")
        targets = Targets(np.empty(len(style)), np.empty(len(style)))
        for sex in SEXES:
            rows = sexes == sex
            height, bmi = self.marginals[sex]
            targets.height_m[rows] = height.quantile(uniforms[rows, 0])
            targets.bmi_kg_m2[rows] = bmi.quantile(uniforms[rows, 1])
        waist, hip = self._offsets(style, offsets)
        levers = self._solve(style, targets, waist, hip)
        for _ in range(_REDRAWS):
            missed = np.flatnonzero(~self._reached(style, levers, targets))
            if not missed.size:
                break
            fresh = self.model.sample_shapes([rngs[i] for i in missed], prior)
            fresh[:, self.levers.female] = style[missed, self.levers.female]
            style[missed] = fresh
            again = self._solve(style[missed], Targets(targets.height_m[missed], targets.bmi_kg_m2[missed]),
                                waist[missed], hip[missed])
            for name in ("height", "adiposity"):
                getattr(levers, name)[missed] = getattr(again, name)
        return style, levers

    def _reached(self, style: np.ndarray, levers: Levers, targets: Targets) -> np.ndarray:
        """(N,) bool: predicted height and BMI within `_REACHED` (relative) of their targets."""
        predicted = self._predict(style, levers)
        return ((np.abs(predicted["height_m"] / targets.height_m - 1.0) < _REACHED)
                & (np.abs(predicted["bmi_kg_m2"] / targets.bmi_kg_m2 - 1.0) < _REACHED))

    def _predict(self, style: np.ndarray, levers: Levers) -> dict[str, np.ndarray]:
        shapes = self.levers.apply(style, levers)
        return self.surrogate.predict(shapes, shapes[:, self.levers.female])

    def _solve(self, style: np.ndarray, targets: Targets, waist: np.ndarray, hip: np.ndarray) -> Levers:
        """Height and adiposity levers whose predicted height and BMI hit `targets` (clamped to
        the lever ranges where a target is out of reach)."""
        n = len(style)
        height, adiposity = np.full(n, 0.5), np.zeros(n)
        for _ in range(_ROUNDS):
            height = self._bisect(lambda h: self._predict(style, Levers(h, adiposity, waist, hip))["height_m"],
                                  targets.height_m, HEIGHT_RANGE, n)
            adiposity = self._bisect(lambda a: self._predict(style, Levers(height, a, waist, hip))["bmi_kg_m2"],
                                     targets.bmi_kg_m2, ADIPOSITY_RANGE, n)
        return Levers(height, adiposity, waist, hip)

    @staticmethod
    def _bisect(predict, target: np.ndarray, bounds: tuple[float, float], n: int) -> np.ndarray:
        """Per row, the lever value in `bounds` where the increasing `predict` meets `target`."""
        low, high = np.full(n, bounds[0]), np.full(n, bounds[1])
        for _ in range(_BISECTIONS):
            middle = 0.5 * (low + high)
            below = predict(middle) < target
            low, high = np.where(below, middle, low), np.where(below, high, middle)
        return 0.5 * (low + high)

    def _calibrate_offsets(self, sex: str) -> tuple[float, float]:
        """Waist and hip offsets for `sex` whose virtual population's predicted median waist at
        the iliac crest and hip equal the reference P50 ((0, 0) where the table lacks them)."""
        goals = [self.reference.percentiles.get((sex, m), {}).get(50.0)
                 for m in ("waist_iliac_circumference_m", "hip_circumference_m")]
        if None in goals:
            return 0.0, 0.0
        share = 1.0 if sex == "female" else 0.0
        prior = ShapePrior(age_years=self.prior.age_years, beta_sigma=self.prior.beta_sigma, female_share=share)

        def medians(offsets: np.ndarray) -> np.ndarray:
            rngs = [np.random.Generator(np.random.Philox(np.random.SeedSequence(_VIRTUAL_SEED, spawn_key=(k,))))
                    for k in range(_VIRTUAL_BODIES)]
            predicted = self._predict(*self._draw(rngs, prior, dict.fromkeys(SEXES, tuple(offsets))))
            return np.log([np.median(predicted["waist_iliac_circumference_m"]),
                           np.median(predicted["hip_circumference_m"])])

        offsets, goal = np.zeros(2), np.log(goals)
        now = medians(offsets)
        jacobian = np.stack([(medians(offsets + 0.1 * e) - now) / 0.1 for e in np.eye(2)], 1)
        for _ in range(_OFFSET_STEPS):  # chord steps: the Jacobian at zero offsets, reused
            offsets = np.clip(offsets + np.linalg.solve(jacobian, goal - now), *OFFSET_RANGE)
            now = medians(offsets)
        return float(offsets[0]), float(offsets[1])


def shape_sampler(model: BodyModel, prior: ShapePrior, reference: str) -> PriorSampler | CalibratedSampler:
    """The sampler a job asks for: `reference` "none" is the model's own prior, anything else
    a reference table (bundled name or CSV path) to calibrate to."""
    if reference == NO_REFERENCE:
        return PriorSampler(model, prior)
    from synth.population.reference import load_reference
    from synth.population.surrogate import load_surrogate

    return CalibratedSampler(model, prior, load_reference(reference), load_surrogate(model.version))
