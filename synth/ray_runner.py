"""Run shard plans on Ray actors, each owning one `ShardBuilder`.

The Ray layer moves shard plans in and Arrow tables out; it knows nothing of
bodies. At most `IN_FLIGHT_PER_ACTOR` shards are queued per actor, so driver memory
does not grow with the dataset. Killed actors are restarted and their shards retried.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pyarrow as pa

from body_models import BodyModelSource, SynthError
from synth.config import JobSpec
from synth.plan import ShardPlan

IN_FLIGHT_PER_ACTOR = 2
RETRIES = 3


def worker_env(workers: int) -> dict[str, str]:
    """Environment of every actor: headless EGL, and the machine's cores shared out."""
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    return {
        "PYOPENGL_PLATFORM": "egl",
        "LP_NUM_THREADS": str(threads),  # Mesa llvmpipe rasteriser threads
        "OMP_NUM_THREADS": str(threads),
        "PYTHONWARNINGS": "ignore",
    }


def _actor_class():
    import ray

    @ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)
    class ShardActor:
        def __init__(self, spec: JobSpec, source: BodyModelSource, threads: int) -> None:
            import torch

            from synth.shard import ShardBuilder

            torch.set_num_threads(threads)
            self.builder = ShardBuilder(spec, source)

        def build(self, plan: ShardPlan) -> pa.Table:
            return self.builder.build(plan)

    return ShardActor


def _unwrap(err: Exception) -> Exception:
    cause = getattr(err, "cause", None)
    return cause if isinstance(cause, SynthError) else err


def run_on_ray(spec: JobSpec, source: BodyModelSource, plans: list[ShardPlan], workers: int,
               address: str | None) -> Iterator[tuple[ShardPlan, pa.Table]]:
    """Yield (plan, table) as shards finish, in completion order."""
    import ray

    env = worker_env(workers)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, runtime_env={"env_vars": env}, logging_level=logging.WARNING,
                 log_to_driver=False, include_dashboard=False,
                 **({} if address else {"num_cpus": max(workers, os.cpu_count() or 1)}))
    try:
        actor = _actor_class()
        threads = int(env["OMP_NUM_THREADS"])
        actors = [actor.options(num_cpus=1).remote(spec, source, threads) for _ in range(min(workers, len(plans)))]
        queue = list(reversed(plans))
        pending = {}
        for worker in actors:
            for _ in range(IN_FLIGHT_PER_ACTOR):
                if queue:
                    plan = queue.pop()
                    pending[worker.build.remote(plan)] = (plan, worker)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            plan, worker = pending.pop(done[0])
            try:
                table = ray.get(done[0])
            except Exception as err:  # Ray wraps worker errors; surface ours as they are
                raise _unwrap(err) from None
            if queue:
                next_plan = queue.pop()
                pending[worker.build.remote(next_plan)] = (next_plan, worker)
            yield plan, table
    finally:
        if started_here:
            ray.shutdown()
