"""Split subjects into splits and shards: a pure function of the spec."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synth.config import JobSpec


@dataclass(frozen=True)
class ShardPlan:
    """Subjects [first_subject, first_subject + num_subjects) of `split`, written to `file`."""

    split: str
    shard: int
    shard_count: int
    first_subject: int
    num_subjects: int

    @property
    def file(self) -> str:
        return f"{self.split}-{self.shard:05d}-of-{self.shard_count:05d}.parquet"

    @property
    def subject_indices(self) -> list[int]:
        return list(range(self.first_subject, self.first_subject + self.num_subjects))


def split_ranges(spec: JobSpec) -> dict[str, tuple[int, int]]:
    """split -> [start, stop) subject indices; contiguous, in spec order, by rounded fraction."""
    names = list(spec.job.splits)
    bounds = np.round(np.cumsum([0.0] + [spec.job.splits[n] for n in names]) * spec.job.subjects).astype(int)
    bounds[-1] = spec.job.subjects
    return {name: (int(bounds[i]), int(bounds[i + 1])) for i, name in enumerate(names)}


def plan_shards(spec: JobSpec) -> list[ShardPlan]:
    """Every shard of the dataset, in split then subject order."""
    plans = []
    size = spec.job.shard_size
    for split, (start, stop) in split_ranges(spec).items():
        count = math.ceil((stop - start) / size)
        for shard in range(count):
            first = start + shard * size
            plans.append(ShardPlan(split, shard, count, first, min(size, stop - first)))
    return plans
