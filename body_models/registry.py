"""The one place that maps a backend name to its class."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from body_models.base import BodyModel
from body_models.errors import SynthError
from body_models.smpl_family import MIXED

BACKENDS: tuple[str, ...] = ("anny", "smpl", "smplh", "smplx")
"""Every backend name, the default first."""

DEFAULT_BACKEND = "anny"


@dataclass(frozen=True)
class BodyModelSource:
    """Where a backend's data lives.

    anny_cache: Anny's build cache folder. anny_space: Anny's shape space ("body" or
    "phenotypes", see `body_models.anny_backend`). model_path: a SMPL-family file, or a
    folder holding `<type>/<TYPE>_<GENDER>.{npz,pkl}`. gender / num_betas: SMPL family only.
    """

    anny_cache: Path
    model_path: Path | None = None
    gender: str = "neutral"  # or "mixed": female and male files, chosen per body
    num_betas: int = 10
    anny_space: str = "body"


def source_from_env(model_path: str | None = None, anny_cache: str | None = None, gender: str = "neutral",
                    num_betas: int = 10, anny_space: str = "body") -> BodyModelSource:
    """A source from explicit paths, else $SYNTH_MODEL_PATH and $ANNY_CACHE_DIR (default
    ~/.cache/anny)."""
    path = model_path or os.environ.get("SYNTH_MODEL_PATH") or None
    cache = anny_cache or os.environ.get("ANNY_CACHE_DIR") or Path.home() / ".cache" / "anny"
    return BodyModelSource(anny_cache=Path(cache), model_path=Path(path) if path else None,
                           gender=gender, num_betas=num_betas, anny_space=anny_space)


def create(name: str, source: BodyModelSource) -> BodyModel:
    """Build the backend called `name`; SynthError for an unknown name or missing files."""
    if name == "anny":
        from body_models.anny_backend import AnnyBody

        return AnnyBody(source.anny_cache, source.anny_space)
    if name in BACKENDS and source.gender == MIXED:
        from body_models.smpl_mixed import SMPLFamilyMixedBody

        return SMPLFamilyMixedBody(name, source.model_path, source.num_betas)
    if name in BACKENDS:
        from body_models.smpl_family import SMPLFamilyBody

        return SMPLFamilyBody(name, source.model_path, source.gender, source.num_betas)
    raise SynthError(f"Unknown body model {name!r}; available: {', '.join(BACKENDS)}.")


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here, and why not."""

    name: str
    usable: bool
    detail: str


def availability(name: str, source: BodyModelSource) -> Availability:
    """Check a backend without building it (no Anny build, no model load)."""
    if name == "anny":
        from body_models.anny_backend import anny_cache_is_built

        state = "cache built" if anny_cache_is_built(source.anny_cache) else "cache not built yet (first use builds it, ~2 min)"
        return Availability(name, True, f"bundled (Apache-2.0); {state} at {source.anny_cache}")
    from body_models.smpl_family import find_model_file

    genders = ("female", "male") if source.gender == MIXED else (source.gender,)
    try:
        paths = [find_model_file(name, gender, source.model_path) for gender in genders]
    except SynthError as err:
        return Availability(name, False, str(err))
    return Availability(name, True, "; ".join(f"{g} model file {p}" for g, p in zip(genders, paths)))
