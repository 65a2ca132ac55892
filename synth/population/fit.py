"""Bodies that hit given measurements: damped Gauss-Newton on the population surrogate.

Given style shapes (N, S) and per-body targets (height, BMI or weight, any of the
surrogate's circumferences; NaN where a body has no target for a measure), find the lever
vectors z (`synth.population.levers`: height phenotype, adiposity, one offset per shaping
target) whose surrogate-predicted measurements hit them. Each target's miss is counted
in its own tolerance (`TOLERANCE`, relative), and a small prior keeps the levers near
the style's own shape (`COST`), so of the many ways to reach a set of girths the one that
changes the body least is taken, and adiposity (fat everywhere, as real weight gain) is
preferred to any single girth target. Steps are Levenberg-Marquardt, per body, with the
surrogate's exact Jacobian, taken again only for the bodies whose levers moved; every
body's arithmetic is its own, whichever bodies share the call.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synth.population.levers import ADIPOSITY_RANGE, HEIGHT_RANGE, LeverMap
from synth.population.surrogate import Surrogate, log_measures

TOLERANCE: dict[str, float] = {"height_m": 0.002, "bmi_kg_m2": 0.01, "mass_kg": 0.01}
"""Relative miss counted as one unit, per target (circumferences: `GIRTH_TOLERANCE`)."""
GIRTH_TOLERANCE = 0.005
COST = (1e-4, 0.02, 0.08)
"""Prior weight (per tolerance unit squared) of moving the height phenotype from 0.5, of
adiposity and of each shaping offset from 0."""
SHAPING_RANGE = (-2.0, 2.0)
ITERATIONS = 12
START_GRID = np.linspace(ADIPOSITY_RANGE[0], ADIPOSITY_RANGE[1], 8)
REDRAWS = 4
REACHED = 2.0
"""A body has reached its targets when every miss is within this many tolerances
(`TOLERANCE`: 0.4 % of height, 2 % of BMI, 1 % of a girth)."""


@dataclass(frozen=True)
class Fit:
    """levers (N, L); shapes (N, S) float64; predicted: the surrogate's measurements of the
    shapes, each (N,); misses (N, T): each target's miss in its tolerance units (0 where a
    body had no target), for `names` (T,)."""

    levers: np.ndarray
    shapes: np.ndarray
    predicted: dict[str, np.ndarray]
    misses: np.ndarray
    names: tuple[str, ...]

    def reached(self, within: float = 1.0) -> np.ndarray:
        """(N,) bool: every target of the body met within `within` tolerances."""
        return (np.abs(self.misses) <= within).all(1)


def tolerance(name: str) -> float:
    return TOLERANCE.get(name, GIRTH_TOLERANCE)


class LeverFitter:
    """Fits levers of one body model's shape space on its surrogate."""

    def __init__(self, surrogate: Surrogate, levers: LeverMap) -> None:
        self.surrogate, self.levers = surrogate, levers
        self.low = np.array([HEIGHT_RANGE[0], ADIPOSITY_RANGE[0]] + [SHAPING_RANGE[0]] * (levers.size - 2))
        self.high = np.array([HEIGHT_RANGE[1], ADIPOSITY_RANGE[1]] + [SHAPING_RANGE[1]] * (levers.size - 2))
        self.cost = np.array([COST[0], COST[1]] + [COST[2]] * (levers.size - 2))

    def predict(self, style: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        shapes = self.levers.apply(style, z)
        return shapes, self.surrogate.predict(shapes, shapes[:, self.levers.female] > 0.5)

    def _misses(self, style: np.ndarray, z: np.ndarray, goal: np.ndarray, names: tuple[str, ...],
                scale: np.ndarray, slopes: bool = False):
        """Each target's miss (N, T) in tolerance units (0 where no target); with `slopes`,
        also their derivatives in the levers (N, T, L)."""
        shapes = self.levers.apply(style, z)
        female = shapes[:, self.levers.female] > 0.5
        missing = ~np.isfinite(goal)
        if not slopes:
            logs = log_measures(self.surrogate.log_primitives(shapes), female, names)
            return np.where(missing, 0.0, (logs - goal) / scale)
        logs, derivatives = self.surrogate.log_primitives(shapes, self.levers.tangents(style, z))
        logs, derivatives = log_measures(logs, female, names, derivatives)
        return (np.where(missing, 0.0, (logs - goal) / scale),
                np.where(missing[..., None], 0.0, derivatives / scale[None, :, None]))

    def _start(self, style: np.ndarray, targets: dict[str, np.ndarray]) -> np.ndarray:
        """Neutral levers, with the adiposity read off the surrogate's BMI (or weight) along
        `START_GRID` where that is a target: a start near the answer on the one lever that
        moves the body most."""
        z = self.levers.neutral(len(style))
        name = next((n for n in ("bmi_kg_m2", "mass_kg") if n in targets), None)
        if name is None:
            return z
        along = []
        for a in START_GRID:
            z[:, 1] = a
            along.append(np.log(self.predict(style, z)[1][name]))
        along = np.maximum.accumulate(np.stack(along, 1), axis=1)  # (N, G), made non-decreasing
        goal = np.log(targets[name])
        z[:, 1] = [np.interp(g, row, START_GRID) if np.isfinite(g) else 0.0 for g, row in zip(goal, along)]
        return z

    def fit(self, style: np.ndarray, targets: dict[str, np.ndarray], start: np.ndarray | None = None) -> Fit:
        """Levers for `style` (N, S) hitting `targets` (name -> (N,), NaN: none), from `start`
        (N, L) or the neutral levers."""
        names = tuple(targets)
        goal = np.log(np.stack([targets[n] for n in names], 1))
        scale = np.array([tolerance(n) for n in names])
        z = self._start(style, targets) if start is None else start.copy()
        prior = self.levers.neutral(len(style))
        damping = np.full(len(style), 1e-2)

        def objective(z: np.ndarray, misses: np.ndarray) -> np.ndarray:
            return (misses**2).sum(1) + (self.cost * (z - prior) ** 2).sum(1)

        misses, jacobian = self._misses(style, z, goal, names, scale, slopes=True)  # (N, T), (N, T, L)
        current = objective(z, misses)
        for iteration in range(ITERATIONS):
            normal = np.einsum("ntl,ntm->nlm", jacobian, jacobian) + np.diag(self.cost)[None]
            gradient = np.einsum("ntl,nt->nl", jacobian, misses) + self.cost * (z - prior)
            step = -np.linalg.solve(normal + damping[:, None, None] * np.eye(self.levers.size)[None],
                                    gradient[..., None])[..., 0]
            trial = np.clip(z + step, self.low, self.high)
            trial_misses = self._misses(style, trial, goal, names, scale)
            better = objective(trial, trial_misses) < current
            z = np.where(better[:, None], trial, z)
            misses = np.where(better[:, None], trial_misses, misses)
            current = objective(z, misses)
            damping = np.where(better, damping / 3.0, damping * 4.0)
            moved = np.flatnonzero(better)
            if moved.size and iteration < ITERATIONS - 1:  # slopes where the levers moved (each row on its own)
                jacobian[moved] = self._misses(style[moved], z[moved], goal[moved], names, scale, slopes=True)[1]
        shapes, predicted = self.predict(style, z)
        return Fit(z, shapes, predicted, misses, names)


def fit_redrawing(fitter: LeverFitter, style: np.ndarray,
                  targets_of: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]],
                  redraw: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, Fit]:
    """Fit every `style` row to `targets_of(style rows, their indices)`; a body that misses
    (`REACHED`) gets the style `redraw(indices)` makes, up to `REDRAWS` times, and keeps
    whichever fit missed less. Returns the styles and the fit."""
    style = style.copy()
    fit = fitter.fit(style, targets_of(style, np.arange(len(style))))
    for _ in range(REDRAWS):
        missed = np.flatnonzero(~fit.reached(REACHED))
        if not missed.size:
            break
        fresh = redraw(missed)
        again = fitter.fit(fresh, targets_of(fresh, missed))
        better = (again.misses**2).sum(1) < (fit.misses[missed] ** 2).sum(1)
        style[missed[better]] = fresh[better]
        fit = _replace(fit, missed[better], again, np.flatnonzero(better))
    return style, fit


def _replace(fit: Fit, rows: np.ndarray, other: Fit, picks: np.ndarray) -> Fit:
    """`fit` with its `rows` taken from `other`'s `picks`."""
    levers, shapes, misses = fit.levers.copy(), fit.shapes.copy(), fit.misses.copy()
    levers[rows], shapes[rows], misses[rows] = other.levers[picks], other.shapes[picks], other.misses[picks]
    predicted = {}
    for name, values in fit.predicted.items():
        predicted[name] = values.copy()
        predicted[name][rows] = other.predicted[name][picks]
    return Fit(levers, shapes, predicted, misses, fit.names)
