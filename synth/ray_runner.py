"""Run shard plans on Ray actors, each owning one `ShardBuilder`.

The Ray layer moves shard plans in and shard entries out: each actor commits its
shards to the dataset's store itself, so no shard's bytes pass through the driver. It
knows nothing of bodies. At most `IN_FLIGHT_PER_ACTOR` shards are queued per actor.
Killed actors are restarted and their shards retried. With `render.gpus_per_worker`
> 0 each actor asks Ray for that share of a GPU and renders on the EGL device of the
GPU Ray gave it (`synth.render.gpu`).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psutil

from body_models import BodyModelSource, SynthError
from synth.config import JobSpec
from synth.dataset.writer import ShardEntry
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

    # An actor may be lost any number of times over a long build (a preempted node, a rare
    # fault in a native library: one GL abort in a 20,000-subject build was seen here); Ray
    # restarts it every time, and a shard whose worker is lost more than RETRIES times stops
    # the build (`_schedule`).
    @ray.remote(max_restarts=-1, max_task_retries=RETRIES)
    class ShardActor:
        def __init__(self, spec: JobSpec, source: BodyModelSource, out: str) -> None:
            from synth.shard import ShardBuilder
            from synth.storage import Store

            gpu_ids = ray.get_gpu_ids() if spec.render.gpus_per_worker > 0 else None
            if gpu_ids is not None:
                from synth.render.gpu import use_ray_gpu

                use_ray_gpu(gpu_ids)
            self.builder = ShardBuilder(spec, source, gpu_ids)
            self.store = Store.open(out)
            self.write_png = spec.job.write_png

        def build(self, plan: ShardPlan) -> ShardEntry:
            from synth.dataset.writer import commit_shard

            return commit_shard(self.store, plan, self.builder.build(plan), self.write_png)

    return ShardActor


def _unwrap(err: Exception) -> Exception:
    cause = getattr(err, "cause", None)
    return cause if isinstance(cause, SynthError) else err


def gpu_shortfall(workers: int, gpus_per_worker: float, cluster_gpus: float) -> str | None:
    """Why `workers` actors of `gpus_per_worker` cannot all be placed on the cluster's GPUs
    now (they would wait for GPUs), or None."""
    need = workers * gpus_per_worker
    if gpus_per_worker <= 0 or need <= cluster_gpus + 1e-9:
        return None
    return (f"{workers} workers x render.gpus_per_worker={gpus_per_worker:g} need {need:g} GPUs, the Ray cluster "
            f"has {cluster_gpus:g}; lower --workers, lower the share (e.g. 0.25 = four actors per GPU) or add GPU nodes")


def _descendants() -> dict[int, psutil.Process]:
    """This process's child processes, recursively, by PID."""
    return {child.pid: child for child in psutil.Process().children(recursive=True)}


REAP_SECONDS = 5.0


@contextmanager
def ray_session(address: str | None, env: dict[str, str], workers: int) -> Iterator[bool]:
    """Connect to Ray (a fresh local one without `address`) unless this process already is,
    and disconnect after; yields whether it connected here. Every process the session
    started (raylet, GCS, the autoscaler monitor, workers) is gone when the block ends,
    however it ends: what `ray.shutdown` leaves is killed after `REAP_SECONDS` (the
    monitor sometimes hangs and ignores SIGTERM)."""
    if address is None:
        # A local Ray binds to 127.0.0.1 rather than the machine's address (read when ray is imported).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if ray.is_initialized():
        yield False
        return
    before = set(_descendants())
    try:
        # Ray turns token authentication on for a new local cluster and warns on every build.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        # "local": always a fresh embedded Ray, never a stale one found in /tmp/ray.
        ray.init(address=address or "local", runtime_env={"env_vars": env}, logging_level=logging.WARNING,
                 log_to_driver=False, include_dashboard=False,
                 **({} if address else {"num_cpus": max(workers, os.cpu_count() or 1)}))
        yield True
    finally:
        started = [proc for pid, proc in _descendants().items() if pid not in before]
        ray.shutdown()
        _, alive = psutil.wait_procs(started, timeout=REAP_SECONDS)
        for proc in alive:
            log.debug("killing Ray process %d left after shutdown", proc.pid)
            with suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=REAP_SECONDS)


def run_on_ray(spec: JobSpec, source: BodyModelSource, plans: list[ShardPlan], out: str, workers: int,
               address: str | None) -> Iterator[ShardEntry]:
    """Build `plans` into the store at `out`; yield each shard's entry, in completion order."""
    with ray_session(address, worker_env(workers), workers) as started_here:
        yield from _run_actors(spec, source, plans, out, workers, started_here)


def _run_actors(spec: JobSpec, source: BodyModelSource, plans: list[ShardPlan], out: str, workers: int,
                started_here: bool) -> Iterator[ShardEntry]:
    import ray

    actor = _actor_class()
    count = min(workers, len(plans))
    gpus = spec.render.gpus_per_worker
    shortfall = gpu_shortfall(count, gpus, ray.cluster_resources().get("GPU", 0.0))
    if shortfall and started_here:
        raise SynthError(shortfall)
    if shortfall:  # a joined cluster may be autoscaling: its actors wait for GPU nodes
        log.warning(shortfall)
    actors = [actor.options(num_cpus=1, num_gpus=gpus, scheduling_strategy="SPREAD").remote(
        spec, source, out) for _ in range(count)]
    try:
        yield from _schedule(actors, plans)
    finally:
        for worker in actors:  # no task of this build outlives it, nor reports to a driver that has moved on
            ray.kill(worker, no_restart=True)


def _schedule(actors: list, plans: list[ShardPlan]) -> Iterator[ShardEntry]:
    """Keep `IN_FLIGHT_PER_ACTOR` shards queued on each actor; retry shards whose worker died."""
    import ray

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
            entry = ray.get(done[0])
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
        yield entry
