"""A fast stand-in for `BodyMeasurer` on shape vectors: a small neural network.

Measuring a body takes milliseconds (forward pass, plane sections); calibration and
fitting need the measurements, and their derivatives, of many candidate shapes per body,
so they ask this surrogate instead. A perceptron (two hidden layers of SiLU units)
predicts the log of the primitive measurements (`PRIMITIVES`) from the shape vector;
body fat, mass and BMI follow from them with the labels' own formulas
(`synth.measurements.derived`). It runs in numpy and gives its Jacobian in closed form.
The stored labels always come from `BodyMeasurer`; the surrogate only steers sampling.

One fitted surrogate per (body model version, shape space) ships in `data/`
(`surrogate_path`); `scripts/fit_population_surrogate.py` measures fresh bodies and
refits it, and a test checks it against the measurer.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from body_models import SynthError
from synth.measurements import derived
from synth.population.rowwise import rowwise

DATA_DIR = Path(__file__).with_name("data")
PRIMITIVES: tuple[str, ...] = ("height_m", "volume_m3", "neck_circumference_m", "chest_circumference_m",
                               "waist_circumference_m", "waist_navel_circumference_m", "waist_iliac_circumference_m",
                               "hip_circumference_m", "thigh_circumference_m", "calf_circumference_m",
                               "upper_arm_circumference_m")
FORMAT = "mlp-1"
RFM_FROM = ("height_m", "volume_m3", "waist_iliac_circumference_m")
"""The primitives body fat (RFM), mass and BMI move with (`synth.measurements.derived`)."""
NAVY_FROM = ("height_m", "neck_circumference_m", "waist_circumference_m", "waist_navel_circumference_m",
             "hip_circumference_m")
"""The primitives the Navy estimate moves with."""
DERIVED_FROM = RFM_FROM + NAVY_FROM[1:]
_DERIVED_STEP = 1e-6


def surrogate_path(model_version: str) -> Path:
    return DATA_DIR / f"surrogate-{model_version.replace('/', '-')}.npz"


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def _silu_slope(x: np.ndarray) -> np.ndarray:
    s = 1.0 / (1.0 + np.exp(-x))
    return s * (1.0 + x * (1.0 - s))


@dataclass(frozen=True)
class Surrogate:
    """version: the body model version it was fitted for; shift, scale: (S,) input
    standardisation; layers: [(W (out, in), b (out,)), ...] with SiLU between them;
    log_mean, log_scale: (P,) output de-standardisation of the log primitives;
    rms_log_error: (P,) held-out RMS error of the log prediction (about the relative error)."""

    version: str
    shift: np.ndarray
    scale: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    log_mean: np.ndarray
    log_scale: np.ndarray
    rms_log_error: np.ndarray

    def log_primitives(self, shapes: np.ndarray, tangents: np.ndarray | None = None):
        """Predicted log primitives (N, P); with `tangents` (N, S, L) directions in shape
        space, also their derivatives along them (N, P, L) (forward mode, exact)."""
        h = (np.asarray(shapes, np.float64) - self.shift) / self.scale
        if tangents is not None:
            dh = tangents / self.scale[None, :, None]
        for k, (weight, bias) in enumerate(self.layers):
            a = rowwise(h, weight.T) + bias
            if tangents is not None:
                dh = np.matmul(weight, dh)  # one product per body (see synth.population.rowwise)
            if k < len(self.layers) - 1:
                if tangents is not None:
                    dh = _silu_slope(a)[..., None] * dh
                a = _silu(a)
            h = a
        logs = h * self.log_scale + self.log_mean
        return logs if tangents is None else (logs, dh * self.log_scale[None, :, None])

    def primitives(self, shapes: np.ndarray) -> dict[str, np.ndarray]:
        """Predicted primitive measurements, each (N,), meters / m^3."""
        return dict(zip(PRIMITIVES, np.exp(self.log_primitives(shapes)).T))

    def predict(self, shapes: np.ndarray, female: np.ndarray) -> dict[str, np.ndarray]:
        """Primitives plus what the labels derive from them (`synth.measurements.derived`: body
        fat, mass, BMI), each (N,); `female` (N,) 0..1."""
        return with_derived(self.primitives(shapes), female)


def with_derived(primitives: dict[str, np.ndarray], female: np.ndarray, navy: bool = True) -> dict[str, np.ndarray]:
    """Primitive measurements (name -> (N,)) plus the derived labels (the Navy estimate only
    with `navy`)."""
    return {**primitives, **derived(primitives["height_m"], primitives["volume_m3"], primitives, female, navy)}


def log_measures(logs: np.ndarray, female: np.ndarray, names: tuple[str, ...],
                 slopes: np.ndarray | None = None):
    """The log of the measures `names` (primitives or derived) from log primitives (N, P),
    (N, T); with `slopes` (N, P, L), also their derivatives (N, T, L) (by central
    differences in the log primitives the derived measures read, `DERIVED_FROM`; the
    derived measures are computed again only where the differenced primitive moves them,
    and the Navy estimate only when it is asked for)."""
    navy = "body_fat_navy_pct" in names
    at_logs = with_derived(dict(zip(PRIMITIVES, np.exp(logs).T)), female, navy)

    def logged(values: dict[str, np.ndarray]) -> np.ndarray:
        return np.log(np.maximum(np.stack([values[n] for n in names], 1), 1e-12))

    def measures(point: np.ndarray, derive: bool) -> np.ndarray:
        values = dict(zip(PRIMITIVES, np.exp(point).T))
        return logged(with_derived(values, female, navy) if derive else {**at_logs, **values})

    out = logged(at_logs)
    if slopes is None:
        return out
    chain = np.zeros((len(logs), len(names), len(PRIMITIVES)))
    for p, primitive in enumerate(PRIMITIVES):
        if primitive not in DERIVED_FROM:  # moves nothing but itself
            chain[:, [k for k, n in enumerate(names) if n == primitive], p] = 1.0
            continue
        derive = primitive in RFM_FROM or (navy and primitive in NAVY_FROM)
        step = np.zeros(len(PRIMITIVES))
        step[p] = _DERIVED_STEP
        chain[:, :, p] = (measures(logs + step, derive) - measures(logs - step, derive)) / (2 * _DERIVED_STEP)
    return out, np.einsum("ntp,npl->ntl", chain, slopes)


def save_surrogate(surrogate: Surrogate, path: Path) -> None:
    arrays = {f"w{k}": w for k, (w, _) in enumerate(surrogate.layers)} | \
        {f"b{k}": b for k, (_, b) in enumerate(surrogate.layers)}
    np.savez(path, format=FORMAT, version=surrogate.version, shift=surrogate.shift, scale=surrogate.scale,
             log_mean=surrogate.log_mean, log_scale=surrogate.log_scale, rms_log_error=surrogate.rms_log_error,
             primitives=np.array(PRIMITIVES), **arrays)


def load_surrogate(model_version: str) -> Surrogate:
    """The shipped surrogate for `model_version`; SynthError if there is none."""
    path = surrogate_path(model_version)
    if not path.is_file():
        raise SynthError(f"no population surrogate for body model {model_version} (looked for {path}); run "
                         "scripts/fit_population_surrogate.py, or set shape.reference = \"none\"")
    with np.load(path) as data:
        if ("format" not in data or str(data["format"]) != FORMAT or tuple(data["primitives"]) != PRIMITIVES
                or str(data["version"]) != model_version):
            raise SynthError(f"{path} was fitted for another model, measurement set or surrogate format; refit it "
                             "with scripts/fit_population_surrogate.py")
        count = sum(1 for key in data.files if key.startswith("w"))
        layers = tuple((data[f"w{k}"], data[f"b{k}"]) for k in range(count))
        return Surrogate(str(data["version"]), data["shift"], data["scale"], layers, data["log_mean"],
                         data["log_scale"], data["rms_log_error"])
