"""Bodies of measured people: one subject per row of a people table (`synth build --people`).

Each person's body is found in the shape space: a style shape is drawn from the
subject's own generator with the person's sex and (where the table gives it) age; the
levers (`synth.population.levers`) are fitted on the surrogate to the person's stature,
weight and every tape measurement the row has (`synth.population.fit`), redrawing the
style where it cannot reach them (as calibrated sampling does); then the fit is checked
on the real measurer and corrected: each target is moved by the surrogate's own miss on
that body (prediction / measurement) and the levers refitted, `REFINEMENTS` times. The
shard rows carry the person's id, targets and residuals (label minus target).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from body_models import BodyModel, ShapePrior, SynthError
from synth.measurements import BodyMeasurer
from synth.population.fit import Fit, LeverFitter, fit_redrawing
from synth.population.levers import LeverMap
from synth.population.people import MEASURES, People
from synth.population.surrogate import Surrogate

REFINEMENTS = 2


class PeopleSampler:
    """Shapes of the people of `people`, subject index i = row i."""

    def __init__(self, model: BodyModel, prior: ShapePrior, people: People, surrogate: Surrogate) -> None:
        if surrogate.version != model.version:
            raise SynthError(f"the population surrogate was fitted for {surrogate.version}, not {model.version}")
        self.model, self.prior, self.people = model, prior, people
        self.levers = LeverMap(model)
        self.fitter = LeverFitter(surrogate, self.levers)
        self.measurer = BodyMeasurer(model)

    def targets(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """The people's measurements as fit targets, name -> (N,) SI, NaN where not measured."""
        rows = np.asarray(indices)
        return {name: self.people.values[name][rows] for name in MEASURES if name in self.people.values}

    def _style(self, rngs: Sequence[np.random.Generator], rows: np.ndarray) -> np.ndarray:
        """Style shapes from the generators, moved into each person's sex (the gender phenotype
        mirrored into the right half, so it stays uniform there) and age."""
        style = self.model.sample_shapes(rngs, self.prior)
        gender = self.levers.female
        female = self.people.sex[rows] == "female"
        style[:, gender] = np.where(female == (style[:, gender] > 0.5), style[:, gender], 1.0 - style[:, gender])
        return self.model.with_age(style, self.people.age_years[rows])

    def sample(self, rngs: Sequence[np.random.Generator], indices: Sequence[int] | None = None) -> np.ndarray:
        """Shapes (len(rngs), S) float32 of the people at `indices` (required)."""
        return self.draw(rngs, indices).shapes.astype(np.float32)

    def draw(self, rngs: Sequence[np.random.Generator], indices: Sequence[int] | None) -> Fit:
        if indices is None or len(indices) != len(rngs):
            raise ValueError("a people sampler needs the subject indices (the table's rows) of its generators")
        rows = np.asarray(indices)
        targets = self.targets(rows)
        style, fit = fit_redrawing(self.fitter, self._style(rngs, rows),
                                   lambda moved, picked: {n: v[picked] for n, v in targets.items()},
                                   lambda picked: self._style([rngs[i] for i in picked], rows[picked]))
        for _ in range(REFINEMENTS):
            measured = self.measurer.measure_shapes(fit.shapes.astype(np.float32))
            corrected = {name: goal * fit.predicted[name] / np.array([getattr(m, name) for m in measured])
                         for name, goal in targets.items()}
            fit = self.fitter.fit(style, corrected, start=fit.levers)
        return fit
