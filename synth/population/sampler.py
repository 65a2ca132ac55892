"""Shape samplers: the body model's own prior, or a population calibrated to real people.

`CalibratedSampler` makes each body from its own generator, in this order:
1. a style shape from the body space's prior (`AnnyBody.sample_shapes`: sex, age,
   muscle, proportions, ancestry, cupsize, local-target noise);
2. two uniforms u_h, u_b: target height = the reference's height quantile at u_h and
   target BMI its BMI quantile at u_b, for the body's sex (height and BMI drawn
   independently: in adults BMI is nearly uncorrelated with height), so weight = BMI x
   height^2;
3. with a girth model (`synth.population.girths`, fitted on measured people: ANSUR II by
   default), one standard normal per girth: the chest, waist (navel), hip, neck, thigh and
   calf that people of that sex, height, weight and age have, with their correlated spread;
4. the levers (`synth.population.levers`: height, adiposity, shaping targets) are fitted
   so that the surrogate's predicted measurements hit every target (`synth.population.fit`);
5. where a style cannot reach its targets (too muscular or slight for its size, its
   shaping targets at their bounds), a new style is drawn from the same generator (same
   sex), up to `synth.population.fit.REDRAWS` times; what then remains is kept and counted
   in the report.
NHANES thus sets the marginals (height, weight, BMI) and measured people the shape at a
given size (the joint distribution). A body's shape depends only on (spec, its
generator): any worker count, shard order or resume gives the same dataset.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from body_models import BodyModel, ShapePrior, SynthError
from synth.population.fit import Fit, LeverFitter, fit_redrawing
from synth.population.girths import GIRTHS, GirthModel
from synth.population.levers import LeverMap
from synth.population.people import People, load_people
from synth.population.reference import NO_REFERENCE, SEXES, Marginal, ReferenceTable
from synth.population.surrogate import Surrogate



class ShapeSampler(Protocol):
    def sample(self, rngs: Sequence[np.random.Generator], indices: Sequence[int] | None = None) -> np.ndarray:
        """Shapes (len(rngs), S) float32, row i drawn from `rngs[i]` only; `indices`: the
        subjects' indices (used by samplers of given people)."""


class PriorSampler:
    """The body model's own shape prior (no reference)."""

    def __init__(self, model: BodyModel, prior: ShapePrior) -> None:
        self.model, self.prior = model, prior

    def sample(self, rngs: Sequence[np.random.Generator], indices: Sequence[int] | None = None) -> np.ndarray:
        return self.model.sample_shapes(rngs, self.prior)


class CalibratedSampler:
    """Shapes whose measured height, weight and BMI follow `reference` per sex, and whose
    girths at that size follow `girths` (None: height and BMI only)."""

    def __init__(self, model: BodyModel, prior: ShapePrior, reference: ReferenceTable, surrogate: Surrogate,
                 girths: GirthModel | None) -> None:
        if surrogate.version != model.version:
            raise SynthError(f"the population surrogate was fitted for {surrogate.version}, not {model.version}")
        self.model, self.prior, self.reference, self.girths = model, prior, reference, girths
        self.levers = LeverMap(model)
        self.fitter = LeverFitter(surrogate, self.levers)
        self.marginals = {sex: (self._needed(sex, "height_m"), self._needed(sex, "bmi_kg_m2")) for sex in SEXES}

    def _needed(self, sex: str, measure: str) -> Marginal:
        marginal = self.reference.marginal(sex, measure)
        if marginal is None or len(marginal.values) < 2:
            raise SynthError(f"reference table {self.reference.path}: sampling needs at least two percentiles (or "
                             f"shares) of {measure} for {sex}s")
        return marginal

    def sample(self, rngs: Sequence[np.random.Generator], indices: Sequence[int] | None = None) -> np.ndarray:
        """Shapes (len(rngs), S) float32; row i from `rngs[i]` only."""
        return self.draw(rngs).shapes.astype(np.float32)

    def targets(self, style: np.ndarray, uniforms: np.ndarray, normals: np.ndarray) -> dict[str, np.ndarray]:
        """Each body's targets (name -> (N,)): height and BMI from the reference's quantiles at
        `uniforms` (N, 2), and with a girth model the girths at that size and the style's
        age, from `normals` (N, G)."""
        sexes = np.where(self.levers.is_female(style), "female", "male")
        height, bmi = np.empty(len(style)), np.empty(len(style))
        girths = np.full((len(style), len(GIRTHS)), np.nan)
        age = self.model.age_years(style)
        for sex in SEXES:
            rows = sexes == sex
            heights, bmis = self.marginals[sex]
            height[rows] = heights.quantile(uniforms[rows, 0])
            bmi[rows] = bmis.quantile(uniforms[rows, 1])
            if self.girths is not None and rows.any():
                girths[rows] = self.girths.draw(sex, height[rows], bmi[rows] * height[rows] ** 2, age[rows],
                                                normals[rows])
        targets = {"height_m": height, "bmi_kg_m2": bmi}
        if self.girths is not None:
            targets.update(dict(zip(GIRTHS, girths.T)))
        return targets

    def draw(self, rngs: Sequence[np.random.Generator]) -> Fit:
        """The fitted bodies of `rngs` (see the module docstring)."""
        style = self.model.sample_shapes(rngs, self.prior)
        uniforms = np.array([rng.uniform(size=2) for rng in rngs]).reshape(len(rngs), 2)
        normals = np.array([rng.standard_normal(len(GIRTHS)) for rng in rngs]).reshape(len(rngs), len(GIRTHS))

        def redraw(picked: np.ndarray) -> np.ndarray:  # a new style from the same generators, same sex
            fresh = self.model.sample_shapes([rngs[i] for i in picked], self.prior)
            fresh[:, self.levers.female] = style[picked, self.levers.female]
            return fresh

        return fit_redrawing(self.fitter, style, lambda moved, picked: self.targets(moved, uniforms[picked],
                                                                                    normals[picked]), redraw)[1]


def shape_sampler(model: BodyModel, prior: ShapePrior, reference: str, girths: str = NO_REFERENCE,
                  people: People | None = None) -> ShapeSampler:
    """The sampler a job asks for: `people` the measured people to build (one subject per
    row); else `reference` "none" is the model's own prior, anything else a reference table
    (bundled name or CSV path) to calibrate to, with `girths` a people table whose girths at
    fixed size the bodies follow ("none": height and BMI only)."""
    from synth.population.surrogate import load_surrogate

    if people is not None:
        from synth.population.people_sampler import PeopleSampler

        return PeopleSampler(model, prior, people, load_surrogate(model.version))
    if reference == NO_REFERENCE:
        return PriorSampler(model, prior)
    from synth.population.girths import fit_girths
    from synth.population.reference import load_reference

    model_of_girths = None if girths == NO_REFERENCE else fit_girths(load_people(girths))
    return CalibratedSampler(model, prior, load_reference(reference), load_surrogate(model.version), model_of_girths)
