"""The same person at other body-fat levels, solved through the real body model and labels.

A body is moved along one documented direction of Anny's body shape space: the
adiposity lever of `synth.population.levers` (every fat and girth local target and the
weight phenotype), so bones, proportions, sex, age and style stay as they were. At each
trial step the height phenotype is re-solved so the neutral-pose height stays within
`HEIGHT_TOLERANCE_M` of the source, then the body is measured with `BodyMeasurer`; the
step is found by false position (Illinois) until the body-fat label (the Relative Fat Mass,
an anthropometric estimate of DXA body fat, not a measurement) is within
`BODY_FAT_TOLERANCE_PCT` of the target.

A target past the heavy end of the body model's range (fat targets at 1.5, where Anny's
shape space stops: a man there is at BMI 57-62 and about 38-42 % body fat) is solved on an
extension: from that heavy-end body the shape moves in a straight line towards
`EXTENDED_HEAVY_END`, where the fat and girth targets are extrapolated to 2.0 and the three
that carry the waist at the iliac crest (where the label measures) to 2.5, the chest's two
stay at the range's end (extrapolated, they fold into a shelf first), the belly sags
(stomach tone at its low end) and the hips widen (to the range's end); the weight phenotype
stays inside its range. That adds 4-8 points; far out, the surface creases much less than
with every target extrapolated alike (docs/people.md). A target beyond is refused. Targets
the model's range reaches never take the extension; a level that does says so
(`MorphLevel.extrapolated`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from body_models import BodyModel, SynthError
from synth.measurements import DENSITY_FAT_RANGE_PCT, BodyMeasurer, Measurements
from synth.population.levers import ADIPOSITY, LeverMap

EXTENDED_HEAVY_END: dict[str, float] = {  # where the extension past the model's heavy end leads (see module doc)
    **{label: 2.0 for label in ADIPOSITY},
    "stomach-pregnant-incr": 2.5, "measure-waist-circ-incr": 2.5, "hip-scale-depth-incr": 2.5,
    "measure-bust-circ-incr": 1.5, "measure-underbust-circ-incr": 1.5,
    "stomach-tone-incr": -1.0, "hip-scale-horiz-incr": 1.5}
STEP_RANGE = (-2.0, 4.0)  # adiposity steps searched (clipping to the shape space's bounds saturates beyond)
BODY_FAT_TOLERANCE_PCT = 0.2
HEIGHT_TOLERANCE_M = 0.002
_HEIGHT_TOLERANCE_SOLVE = 0.0005
_REACH_BISECTIONS = 8


@dataclass(frozen=True)
class MorphLevel:
    """One body of a morph. label: "source" or the requested change ("+5", "-10", or "30"
    with absolute targets); target_body_fat_pct: None for the source; step: adiposity
    lever change from the source (on the extension: the heavy end's step plus the fraction of
    the way to `EXTENDED_HEAVY_END`); shape: (S,) float32; vertices: (V, 3) float32 neutral
    pose, meters, feet on y = 0; extrapolated: solved on the extension past the body model's
    range (see the module doc)."""

    label: str
    target_body_fat_pct: float | None
    step: float
    shape: np.ndarray
    vertices: np.ndarray
    measurements: Measurements
    extrapolated: bool


class _Path(NamedTuple):
    """One way a body is moved: trial and fat as from `BodyFatMorpher._trials`, the step and
    body fat (%) of its heavy end, and the adiposity step at its own step 0."""

    trial: Callable
    fat: Callable[[float], float]
    top_step: float
    top_pct: float
    start: float


class BodyFatMorpher:
    """Finds, for one source shape, the bodies at other body-fat levels (see module doc);
    `extend`: False keeps every body inside the body model's range."""

    def __init__(self, model: BodyModel, extend: bool = True) -> None:
        try:
            self.levers = LeverMap(model)
        except SynthError as err:
            raise SynthError("synth morph needs Anny's body shape space (a dataset or checkpoint built with "
                             "body_model.shape_space = \"body\"); this source uses "
                             f"{model.name} {model.version}") from err
        self.model = model
        self.measurer = BodyMeasurer(model)
        self.extend = extend
        self._extended = ([self.levers.labels.index(label) for label in EXTENDED_HEAVY_END],
                          np.array(list(EXTENDED_HEAVY_END.values())))

    def _neutral(self, shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.measurer.rest_bodies(shapes.astype(np.float32))

    def _heights(self, shapes: np.ndarray) -> np.ndarray:
        vertices, _ = self._neutral(shapes)
        return vertices[:, :, 1].max(1) - vertices[:, :, 1].min(1)

    def _with_height(self, shape: np.ndarray, height_m: float) -> np.ndarray:
        """`shape` with its height phenotype re-solved so that its neutral height is `height_m`
        (as near as the phenotype's range allows)."""
        shape = shape.copy()

        def height_error(phenotype: float) -> float:
            shape[self.levers.height] = phenotype
            return float(self._heights(shape[None])[0]) - height_m

        shape[self.levers.height] = illinois(height_error, 0.0, 1.0, _HEIGHT_TOLERANCE_SOLVE)
        return shape

    def _measure(self, shape: np.ndarray) -> tuple[np.ndarray, Measurements]:
        vertices, joints = self._neutral(shape[None])
        female = self.model.female_fraction(shape.astype(np.float32))
        return vertices[0], self.measurer.measure(vertices[0], joints[0], female)

    def _trials(self, shape_at, height_m: float):
        """A memoised trial(step) -> (shape, neutral vertices, measurements) of `shape_at(step)`
        with its height re-solved, and fat(step): its body fat (%), NaN where the estimate is
        undefined or the height cannot be kept. Each step is built and measured once (the reach
        search, the solver and the level written share them)."""
        done: dict[float, tuple[np.ndarray, np.ndarray, Measurements]] = {}

        def trial(step: float) -> tuple[np.ndarray, np.ndarray, Measurements]:
            if step not in done:
                shape = self._with_height(shape_at(step), height_m)
                done[step] = (shape, *self._measure(shape))
            return done[step]

        def fat(step: float) -> float:
            measured = trial(step)[2]
            return measured.body_fat_pct if abs(measured.height_m - height_m) <= HEIGHT_TOLERANCE_M else float("nan")

        return trial, fat

    def _extended_end(self, heavy: np.ndarray) -> np.ndarray:
        """The shape the extension leads to from the heavy-end shape `heavy`."""
        end = heavy.copy()
        indices, values = self._extended
        end[indices] = values
        return end

    @staticmethod
    def reach(fat, ends: Sequence[float] = STEP_RANGE) -> list[tuple[float, float]]:
        """[(step, body fat %)] at each of `ends` (by default the lean and the heavy end of
        STEP_RANGE) of what a body reaches from step 0 (`fat` as from `_trials`): the end itself,
        or where the estimate stops being defined (the height cannot be kept) before it."""
        reached = []
        for end in ends:
            inside, outside = 0.0, end
            if np.isfinite(fat(end)):
                reached.append((end, fat(end)))
                continue
            for _ in range(_REACH_BISECTIONS):
                middle = 0.5 * (inside + outside)
                inside, outside = (middle, outside) if np.isfinite(fat(middle)) else (inside, middle)
            reached.append((inside, fat(inside)))
        return reached

    def morph(self, source: np.ndarray, values: Sequence[float], absolute: bool = False) -> list[MorphLevel]:
        """The source level, then one level per value: a body-fat change in percentage points
        (or, `absolute`, a body fat in %). SynthError naming the reachable range if any target
        lies outside it (checked before any level is solved)."""
        source = np.asarray(source, np.float64)
        vertices, measured = self._measure(source)
        if not np.isfinite(measured.body_fat_pct):
            raise SynthError("this body's body-fat estimate is undefined (no waist at the iliac crest); it cannot be "
                             "morphed by body fat")
        targets = [(f"{v:g} %" if absolute else f"{v:+g}", v if absolute else measured.body_fat_pct + v)
                   for v in values]
        trial, fat = self._trials(
            lambda step: np.clip(source + step * self.levers.direction, self.levers.low, self.levers.high),
            measured.height_m)
        (lean_step, low), (heavy_step, high) = self.reach(fat)
        paths = [_Path(trial, fat, heavy_step, high, 0.0)]
        if self.extend and any(target > high for _, target in targets):
            heavy = trial(heavy_step)[0]
            end = self._extended_end(heavy)
            trial, fat = self._trials(lambda t: heavy + t * (end - heavy), measured.height_m)
            [(t_end, high)] = self.reach(fat, (1.0,))
            paths.append(_Path(trial, fat, t_end, high, heavy_step))
        low = max(low, DENSITY_FAT_RANGE_PCT[0])  # leaner than the labels' own floor is no body
        high = min(high, DENSITY_FAT_RANGE_PCT[1])  # nor fatter than their ceiling
        outside = [f"{label} ({target:.1f} %)" for label, target in targets if not low <= target <= high]
        if outside:
            raise SynthError(f"body-fat target {', '.join(outside)} is out of reach for this body: along its fat "
                             f"direction, with its height kept, it reaches {low:.1f} to {high:.1f} % (source "
                             f"{measured.body_fat_pct:.1f} %); choose targets inside that range")
        levels = [MorphLevel("source", None, 0.0, source.astype(np.float32), _placed(vertices), measured, False)]
        for label, target in targets:
            extended = target > paths[0].top_pct
            path = paths[-1] if extended else paths[0]
            bracket = (lean_step, 0.0) if target < measured.body_fat_pct else (0.0, path.top_step)
            step = illinois(lambda x: path.fat(x) - target, *bracket, BODY_FAT_TOLERANCE_PCT)
            shape, vertices, reached = path.trial(step)
            if not (abs(reached.body_fat_pct - target) < BODY_FAT_TOLERANCE_PCT
                    and abs(reached.height_m - measured.height_m) <= HEIGHT_TOLERANCE_M):
                raise SynthError(f"body fat {target:.1f} % ({label}) was not reached within {BODY_FAT_TOLERANCE_PCT} "
                                 f"points at a height within {1000 * HEIGHT_TOLERANCE_M:g} mm: the estimate is not "
                                 "monotone along this body's fat direction there; choose a smaller change")
            levels.append(MorphLevel(label, target, path.start + step, shape.astype(np.float32), _placed(vertices),
                                     reached, extended))
        return levels


def illinois(f, low: float, high: float, tolerance: float, iterations: int = 40) -> float:
    """A root of the increasing `f` in [low, high] (false position with the Illinois
    correction): the first x with |f(x)| < tolerance, else the best found; the nearer end if
    the root lies outside."""
    f_low, f_high = f(low), f(high)
    if f_low >= 0 or f_high <= 0:
        return low if abs(f_low) <= abs(f_high) else high
    best = (abs(f_low), low) if abs(f_low) < abs(f_high) else (abs(f_high), high)
    side = 0
    for _ in range(iterations):
        x = high - f_high * (high - low) / (f_high - f_low)
        value = f(x)
        best = min(best, (abs(value), x))
        if abs(value) < tolerance:
            return x
        if value < 0:
            low, f_low = x, value
            f_high = 0.5 * f_high if side == -1 else f_high
            side = -1
        else:
            high, f_high = x, value
            f_low = 0.5 * f_low if side == 1 else f_low
            side = 1
    return best[1]


def _placed(vertices: np.ndarray) -> np.ndarray:
    """Vertices (V, 3) float32 with the soles on y = 0 and the body centred over x = z = 0."""
    offset = np.array([-vertices[:, 0].mean(), -vertices[:, 1].min(), -vertices[:, 2].mean()])
    return (vertices + offset).astype(np.float32)


def parse_changes(text: str) -> list[float]:
    """"-10,-5,+5,+10" -> [-10.0, -5.0, 5.0, 10.0]; SynthError for anything else."""
    values = []
    for item in (part.strip() for part in text.split(",")):
        try:
            value = float(item)
        except ValueError:
            raise SynthError(f"--body-fat {text!r}: {item!r} is not a number; give comma-separated body-fat "
                             "values in percentage points, e.g. -10,-5,+5,+10") from None
        if not np.isfinite(value):
            raise SynthError(f"--body-fat {text!r}: {item!r} is not a finite number")
        values.append(value)
    return values
