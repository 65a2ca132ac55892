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
log = logging.getLogger(__name__)


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
    if address is None:
        # A local Ray binds to 127.0.0.1 rather than the machine's address (read when ray is imported).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    env = worker_env(workers)
    started_here = not ray.is_initialized()
    if started_here:
        # Ray turns token authentication on for a new local cluster and warns on every build.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        # "local": always a fresh embedded Ray, never a stale one found in /tmp/ray.
        ray.init(address=address or "local", runtime_env={"env_vars": env}, logging_level=logging.WARNING,
                 log_to_driver=False, include_dashboard=False,
                 **({} if address else {"num_cpus": max(workers, os.cpu_count() or 1)}))
    try:
        actor = _actor_class()
        threads = int(env["OMP_NUM_THREADS"])
        actors = [actor.options(num_cpus=1, scheduling_strategy="SPREAD").remote(spec, source, threads)
                  for _ in range(min(workers, len(plans)))]
        queue = list(reversed(plans))
        pending = {}
        failures: dict[str, int] = {}

        def submit(worker) -> None:
            if queue:
                plan = queue.pop()
                pending[worker.build.remote(plan)] = (plan, worker)

        for worker in actors:
            for _ in range(IN_FLIGHT_PER_ACTOR):
                submit(worker)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            plan, worker = pending.pop(done[0])
            try:
                table = ray.get(done[0])
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as err:
                # The worker (or its node) died mid-shard: Ray restarts the actor; run the shard again.
                failures[plan.file] = failures.get(plan.file, 0) + 1
                if failures[plan.file] > RETRIES:
                    raise SynthError(f"shard {plan.file} failed {RETRIES + 1} times, its worker was lost each "
                                     f"time ({type(err).__name__}); check the cluster and re-run to resume") from None
                log.warning("worker lost while building %s (%s); retrying", plan.file, type(err).__name__)
                queue.append(plan)
                submit(worker)
                continue
            except ray.exceptions.RayTaskError as err:  # an error raised inside our code on the worker
                raise _unwrap(err) from None
            submit(worker)
            yield plan, table
    finally:
        if started_here:
            ray.shutdown()
