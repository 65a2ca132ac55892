"""Parametric body model backends behind one typed interface (see `base`)."""
from body_models.base import BodyModel, BodyOutput, ParamSpace, ShapePrior, Skeleton
from body_models.errors import SynthError
from body_models.registry import (BACKENDS, DEFAULT_BACKEND, BodyModelSource, availability, create,
                                  source_from_env)

__all__ = [
    "BACKENDS", "DEFAULT_BACKEND", "BodyModel", "BodyModelSource", "BodyOutput", "ParamSpace",
    "ShapePrior", "Skeleton", "SynthError", "availability", "create", "source_from_env",
]
