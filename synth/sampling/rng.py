"""Per-subject random generators derived from (job seed, subject index)."""
from __future__ import annotations

import numpy as np


def subject_rng(seed: int, subject_index: int) -> np.random.Generator:
    """The generator for one subject: Philox keyed by SeedSequence(seed, spawn_key=(index,)).

    It depends on nothing but its two arguments, so any subject can be regenerated
    alone, whatever the worker count or order.
    """
    return np.random.Generator(np.random.Philox(np.random.SeedSequence(seed, spawn_key=(subject_index,))))


def photo_rng(seed: int, subject_index: int) -> np.random.Generator:
    """The generator of one subject's photo-like renders (its look, lights, room, noise):
    SeedSequence(seed, spawn_key=(index, 1)), independent of `subject_rng`, so turning
    photos on or off changes nothing else."""
    return np.random.Generator(np.random.Philox(np.random.SeedSequence(seed, spawn_key=(subject_index, 1))))
