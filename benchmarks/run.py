"""One benchmark run: the default job as shipped against the render floor, with and without
labels, cost split per stage, the naive loop, driver bytes, scaling, memory, trainer input.

    python benchmarks/run.py [--size full|quick|smoke] [--max-workers N] [--out benchmarks/results]

The default job is `jobs/quickstart.toml` as shipped: 4 views at 256 px, measurement
labels on, the calibrated population (NHANES sizes, ANSUR II shapes). Everything is
measured in this one run on this machine, and reported as ratios beside the raw figures,
in `<out>/<host>.json` and `<out>/<host>.md`. Goals (reported, not asserted): the default
job <= 2x the render floor per view, >= 3x the naive loop, 2-worker scaling efficiency
>= 0.85, flat driver memory.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import multiprocessing
import os
import platform
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import psutil  # noqa: E402
import torch  # noqa: E402

from body_models import create, source_from_env  # noqa: E402
from body_models.capture_pose import CapturePoseMapper  # noqa: E402
from synth.build import BuildOptions, run_build  # noqa: E402
from synth.config import load_spec  # noqa: E402
from synth.plan import plan_shards  # noqa: E402
from synth.shard import ShardBuilder  # noqa: E402
from synth.population.sampler import shape_sampler  # noqa: E402
from synth.subjects import generate_subjects, shape_prior  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "jobs" / "quickstart.toml"


def _spec(subjects: int, views: int = 4, measurements: bool = True, shard_size: int = 64):
    names = ["front", "left", "back", "right"][:views]
    yaws = [0.0, 90.0, 180.0, 270.0][:views]
    return load_spec(QUICKSTART, [f"job.subjects={subjects}", f"job.shard_size={shard_size}",
                                  "job.splits={train=1.0}", f"views.names={json.dumps(names)}",
                                  f"views.yaw_deg={json.dumps(yaws)}", f"labels.measurements={str(measurements).lower()}"])


def naive_loop(spec, model, shapes, subjects: int) -> float:
    """Subjects/s of the loop users write: per subject a forward pass, a trimesh, a new
    pyrender.Mesh, a render per view, PNG encoding. Same body, views, cameras, size;
    `model` and `shapes` (its shape sampler) are loaded by the caller, outside the timing."""
    import pyrender
    import trimesh
    from PIL import Image

    from synth.render.pyrender_internals import delete_renderer
    from synth.render.renderer import camera_pose

    mapper = CapturePoseMapper(model)
    renderer = pyrender.OffscreenRenderer(spec.camera.width, spec.camera.height)
    started = time.perf_counter()
    for index in range(subjects):
        subject = generate_subjects(spec, model, mapper, shapes, [index])[0]
        mesh = pyrender.Mesh.from_trimesh(trimesh.Trimesh(subject.vertices, model.faces, process=False))
        for view in subject.views:
            scene = pyrender.Scene()
            scene.add(mesh)
            K = view.camera.K
            scene.add(pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5, znear=0.05,
                                                zfar=100.0), pose=camera_pose(view.camera))
            depth = renderer.render(scene, flags=pyrender.RenderFlags.DEPTH_ONLY)
            buffer = io.BytesIO()
            Image.fromarray(depth > 0).save(buffer, format="PNG")
    elapsed = time.perf_counter() - started
    delete_renderer(renderer)  # pyrender's delete() would end the EGL display of every later renderer
    return subjects / elapsed


@dataclass(frozen=True)
class PipelineRun:
    """subjects_per_s and s_per_view: the whole per-shard work plus the shard's commit;
    cost_ms: milliseconds a subject per stage (`synth.shard.STAGES` + write); table_bytes:
    a shard's Arrow table (what a driver received per shard when actors returned tables);
    entry_bytes: its pickled `ShardEntry` (what the driver receives now)."""

    subjects_per_s: float
    s_per_view: float
    cost_ms: dict[str, float]
    table_bytes: int
    entry_bytes: int


def pipeline_in_process(spec, floor: RenderFloor, floor_renders: int) -> PipelineRun:
    """The pipeline's per-shard work plus committing each shard as the build does
    (Parquet, fsync, atomic rename), in one process, after a warm-up shard; after each shard
    (outside its timing) a block of the render floor, so both sides of the ratio are timed
    in the same moments of a shared machine."""
    import pickle

    from synth.dataset.writer import commit_shard
    from synth.shard import StageCosts
    from synth.storage import Store

    builder = ShardBuilder(spec, source_from_env())
    plans = plan_shards(spec)
    builder.build(plans[0])  # warm-up: GL context, first upload
    builder.costs = StageCosts()
    write = elapsed = 0.0
    with tempfile.TemporaryDirectory(prefix="bench_shards_") as folder:
        store = Store.open(folder)
        for plan in plans[1:]:
            started = time.perf_counter()
            table = builder.build(plan)
            before = time.perf_counter()
            entry = commit_shard(store, plan, table, write_png=False)
            write += time.perf_counter() - before
            elapsed += time.perf_counter() - started
            floor.block(max(1, floor_renders // (len(plans) - 1)))
    builder.close()
    done = builder.costs.subjects
    cost = {stage: 1000 * seconds / done for stage, seconds in builder.costs.seconds.items()}
    cost["write"] = 1000 * write / done
    cost["other"] = 1000 * elapsed / done - sum(cost.values())
    return PipelineRun(done / elapsed, elapsed / (done * len(spec.views.names)), cost, table.nbytes,
                       len(pickle.dumps(entry)))


class RenderFloor:
    """Re-renders of an already uploaded body from its four cameras, timed in blocks
    (`block`); `s_per_view` over all blocks so far.

    stock=False: the floor, the cheapest render of the same triangles here: the
    pipeline's renderer (single sample, colour writes off, depth read back as the mask).
    stock=True: pyrender as shipped (4x multisampled colour and depth, resolved), for
    reference. Nothing is uploaded; nothing is read back beyond what render() does."""

    def __init__(self, spec, faces, subject, stock: bool) -> None:
        """faces: the body model's (F, 3); subject: a posed, framed `Subject` of `spec`."""
        import pyrender

        from synth.render.pyrender_internals import delete_renderer
        from synth.render.renderer import SilhouetteRenderer, camera_pose

        self.cameras = [v.camera for v in subject.views]
        if stock:
            import trimesh

            scene = pyrender.Scene()
            scene.add(pyrender.Mesh.from_trimesh(trimesh.Trimesh(subject.vertices, faces, process=False)))
            K = self.cameras[0].K
            node = scene.add(pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2], K[1, 2], znear=0.05, zfar=100.0))
            offscreen = pyrender.OffscreenRenderer(spec.camera.width, spec.camera.height)

            def render(camera) -> None:
                scene.set_pose(node, camera_pose(camera))
                offscreen.render(scene, flags=pyrender.RenderFlags.DEPTH_ONLY)

            self.render, self.close = render, partial(delete_renderer, offscreen)
        else:
            renderer = SilhouetteRenderer(spec.camera.width, spec.camera.height, faces, len(subject.vertices))
            renderer.set_vertices(subject.vertices)
            self.render, self.close = renderer.render, renderer.close
        for camera in self.cameras:
            self.render(camera)
        self.seconds, self.renders = 0.0, 0

    def block(self, renders: int) -> None:
        started = time.perf_counter()
        for k in range(renders):
            self.render(self.cameras[k % len(self.cameras)])
        self.seconds += time.perf_counter() - started
        self.renders += renders

    @property
    def s_per_view(self) -> float:
        return self.seconds / self.renders


def gl_renderer_name() -> str:
    """The OpenGL renderer pyrender gets here (e.g. 'llvmpipe ...' on CPU, the GPU's name on NVIDIA EGL)."""
    import numpy as np

    from synth.render.renderer import SilhouetteRenderer

    renderer = SilhouetteRenderer(1, 1, np.zeros((1, 3), np.uint32), 3)
    try:
        return renderer.gl_renderer
    finally:
        renderer.close()


def worker_counts(cpus: int) -> list[int]:
    """1, 2, 4, ... up to `cpus`, and `cpus` itself."""
    counts = [1]
    while counts[-1] * 2 <= cpus:
        counts.append(counts[-1] * 2)
    return counts if counts[-1] == cpus or cpus < 2 else [*counts, cpus]


def _ray_workers() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "ShardActor" in cmd:
            found.append(proc)
    return found


def build_with_memory(spec, workers: int) -> dict[str, Any]:
    """A Ray build, sampling driver and worker RSS; returns rate and RSS at 25/50/100 %."""
    scratch = tempfile.TemporaryDirectory(prefix="bench_")
    out = Path(scratch.name)
    driver = psutil.Process()
    samples: list[tuple[float, float]] = []  # (fraction done, driver RSS MB)
    worker_peaks: dict[int, float] = {}  # pid -> peak RSS MB
    stop = threading.Event()
    total = spec.job.subjects

    def take_sample() -> None:
        manifest = out / "dataset.json"
        try:
            done = sum(e["num_rows"] for e in json.loads(manifest.read_text())["shards"]) / total
        except (OSError, ValueError, KeyError):
            done = 0.0
        for proc in _ray_workers():
            try:
                rss = proc.memory_info().rss / 2**20
            except psutil.Error:
                continue
            worker_peaks[proc.pid] = max(rss, worker_peaks.get(proc.pid, 0.0))
        samples.append((done, driver.memory_info().rss / 2**20))

    def sample() -> None:
        while not stop.is_set():
            take_sample()
            stop.wait(0.5)
        take_sample()  # the finished build

    with scratch:
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        summary = run_build(spec, BuildOptions(out=out, source=source_from_env(), workers=workers, progress=False))
        stop.set()
        thread.join()

    def driver_at(fraction: float) -> float:
        eligible = [s[1] for s in samples if s[0] >= fraction]
        return eligible[0] if eligible else samples[-1][1]

    return {
        "workers": workers,
        "subjects": total,
        "seconds": summary.seconds,
        "subjects_per_s": summary.subjects_per_second,
        "steady_subjects_per_s": summary.steady_subjects_per_second,
        "driver_rss_mb": {f"{int(f * 100)}%": round(driver_at(f), 1) for f in (0.25, 0.5, 1.0)},
        "driver_peak_mb": round(max(s[1] for s in samples), 1),
        "worker_peak_mb": [round(peak, 1) for peak in worker_peaks.values()],
        "bytes": summary.bytes,
        "driver_bytes_per_shard": summary.driver_bytes / max(1, summary.shards),
    }


def trainer_input(dataset: Path, batches: int) -> dict[str, Any]:
    """Decoded samples/s of the streaming loader vs samples/s through training steps
    (on CUDA when visible, else CPU)."""
    from torch.utils.data import DataLoader

    from synth.train.config import config_from_dict
    from synth.measurements import MEASUREMENT_NAMES
    from synth.train.loop import batch_to, losses, pick_device, stream, target_stats, vertex_loss_model
    from synth.train.model import NetConfig, SilhouetteNet, run_net

    device = pick_device("auto")
    config = config_from_dict({"data": {"uri": str(dataset), "val_split": "train", "num_workers": 1,
                                        "views": ["front", "left"]},
                               "optim": {"batch_size": 32}, "run": {"device": device}})
    source = stream(config, "train", train=True)
    loader = DataLoader(source, batch_size=32, num_workers=1, persistent_workers=True)
    iterator = iter(loader)
    next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    loader_rate = batches * 32 / (time.perf_counter() - started)
    model = create("anny", source_from_env())
    stats = target_stats(source, 256, config.data.views, config.model.measurements).to(device)
    net = SilhouetteNet(NetConfig(views=2, shape_size=model.shape_space.size, pose_size=14,
                                  width=config.model.width, grid=config.model.grid,
                                  skip_pixels=config.model.skip_pixels,
                                  measurement_size=len(MEASUREMENT_NAMES) * config.model.measurements)).to(device)
    body = vertex_loss_model(model, stats, config, device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    batch = batch_to(next(iterator), device)
    started = time.perf_counter()
    for _ in range(batches):
        parts = losses(run_net(net, batch), batch, stats, body, config)
        optimizer.zero_grad()
        parts["loss"].backward()
        optimizer.step()
    float(parts["loss"])  # waits for queued GPU work
    step_rate = batches * 32 / (time.perf_counter() - started)
    return {"device": device, "loader_samples_per_s": loader_rate, "train_samples_per_s": step_rate,
            "loader_headroom": loader_rate / step_rate}


def markdown(results: dict[str, Any]) -> str:
    r = results
    d, off = r["default"], r["labels_off"]
    stages = ", ".join(d["cost_ms_per_subject"])
    lines = [f"# Benchmarks on {r['machine']}", "", f"{r['date']}; {r['cpus']} CPUs; OpenGL: {r['gl_renderer']}; "
             f"the default job (`jobs/quickstart.toml` as shipped: {r['views']} views at {r['resolution']} px, labels "
             "on, calibrated population) unless stated.", "",
             "| what | figure | goal |", "|---|---|---|",
             f"| render floor per view (re-render of an uploaded mesh: single sample, colour writes off, mask read back; timed between the default job's shards) | {r['floor_ms_per_view']:.2f} ms | |",
             f"| **default job** per view, 1 process (sample, pose, labels, render, encode, write) | {d['ms_per_view']:.2f} ms = **{d['ratio_to_floor']:.2f}x the floor**, {d['subjects_per_s']:.1f} subjects/s | <= 2x |",
             f"| the same with labels off (`labels.measurements=false`) | {off['ms_per_view']:.2f} ms = {off['ratio_to_floor']:.2f}x the floor (timed between its shards: {off['floor_ms_per_view']:.2f} ms), {off['subjects_per_s']:.1f} subjects/s | |",
             f"| cost split, default job, ms a subject ({stages}) | "
             + " / ".join(f"{v:.2f}" for v in d["cost_ms_per_subject"].values()) + " | |",
             "| cost split, labels off | " + " / ".join(f"{v:.2f}" for v in off["cost_ms_per_subject"].values()) + " | |",
             f"| stock pyrender re-render of an uploaded mesh per view (4x multisampled; reference) | {r['stock_rerender_ms_per_view']:.2f} ms | |",
             f"| naive loop (per subject: forward pass, trimesh, new pyrender.Mesh, render, PNG; labels off) | {r['naive_subjects_per_s']:.1f} subjects/s | |",
             f"| default job / naive loop | **{r['speedup_vs_naive']:.2f}x** | >= 3x |",
             f"| driver bytes per shard ({r['shard_subjects']} subjects): Arrow table (actors returning tables) -> "
             f"manifest entry (actors committing shards) | {r['table_bytes_per_shard']:,} -> "
             f"**{r['entry_bytes_per_shard']:,}** | the entry only |"]
    for s in r["scaling"]:
        lines.append(f"| Ray build, {s['workers']} worker(s), {s['subjects']} subjects | {s['subjects_per_s']:.1f} "
                     f"subjects/s overall ({s['seconds']:.1f} s), {s['steady_subjects_per_s']:.1f} after the first "
                     f"shard = {s['steady_silhouettes_per_s']:.0f} silhouettes/s; efficiency "
                     f"**{s['efficiency']:.2f}**; driver received {s['driver_bytes_per_shard']:.0f} bytes a shard "
                     "| >= 0.85 at 2 |")
    if "memory" in r:
        m = r["memory"]
        lines += [f"| driver RSS at 25/50/100 % of {m['subjects']} subjects x 1 view | "
                  f"{' / '.join(str(v) for v in m['driver_rss_mb'].values())} MB (peak {m['driver_peak_mb']}) | flat |",
                  f"| peak RSS of each worker | {' / '.join(str(v) for v in m['worker_peak_mb'])} MB | |"]
    if "trainer" in r:
        t = r["trainer"]
        lines += [f"| loader (1 worker) | {t['loader_samples_per_s']:.0f} samples/s | |",
                  f"| training steps ({t['device']}) | {t['train_samples_per_s']:.0f} samples/s | |",
                  f"| loader / training | **{t['loader_headroom']:.1f}x** | > 1 |"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does (subjects, renders, batches)."""

    pipeline_subjects: int
    shard_size: int
    naive_subjects: int
    floor_renders: int
    scaling_subjects: int
    memory_subjects: int
    trainer_subjects: int
    trainer_batches: int


SIZES = {
    "full": Sizes(512, 64, 64, 1000, 2048, 20000, 256, 30),
    "quick": Sizes(128, 64, 16, 200, 256, 2000, 256, 10),
    "smoke": Sizes(32, 16, 2, 10, 32, 64, 32, 2),  # checks the harness end to end; figures are noise
}


def run(sizes: Sizes, max_workers: int, memory: bool) -> dict[str, Any]:
    """Every measurement, as one results dict (see `markdown`)."""
    spec = _spec(subjects=sizes.pipeline_subjects, shard_size=sizes.shard_size)
    results: dict[str, Any] = {
        "machine": platform.node(), "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
        "resolution": f"{spec.camera.width}x{spec.camera.height}", "views": len(spec.views.names),
        "gl_renderer": gl_renderer_name(),
    }
    model = create(spec.body_model.name, source_from_env())
    shapes = shape_sampler(model, shape_prior(spec), spec.shape.reference, spec.shape.girths)
    results["naive_subjects_per_s"] = naive_loop(spec, model, shapes, sizes.naive_subjects)
    subject = generate_subjects(spec, model, CapturePoseMapper(model), shapes, [0])[0]
    stock = RenderFloor(spec, model.faces, subject, stock=True)
    stock.block(sizes.floor_renders)
    stock.close()
    results["stock_rerender_ms_per_view"] = stock.s_per_view * 1000
    for key, job in (("default", spec), ("labels_off", _spec(subjects=sizes.pipeline_subjects,
                                                               shard_size=sizes.shard_size, measurements=False))):
        floor = RenderFloor(spec, model.faces, subject, stock=False)
        pipeline = pipeline_in_process(job, floor, sizes.floor_renders)
        floor.close()
        results[key] = {"subjects_per_s": pipeline.subjects_per_s, "ms_per_view": pipeline.s_per_view * 1000,
                        "floor_ms_per_view": floor.s_per_view * 1000,
                        "ratio_to_floor": pipeline.s_per_view / floor.s_per_view,
                        "cost_ms_per_subject": pipeline.cost_ms}
    results["floor_ms_per_view"] = results["default"]["floor_ms_per_view"]
    results["speedup_vs_naive"] = results["default"]["subjects_per_s"] / results["naive_subjects_per_s"]
    results["shard_subjects"] = sizes.shard_size
    results["table_bytes_per_shard"] = pipeline.table_bytes
    results["entry_bytes_per_shard"] = pipeline.entry_bytes
    scale_spec = _spec(subjects=sizes.scaling_subjects, shard_size=sizes.shard_size)
    results["scaling"] = [build_with_memory(scale_spec, w) for w in worker_counts(max_workers)]
    one = results["scaling"][0]["steady_subjects_per_s"]
    for entry in results["scaling"]:
        entry["efficiency"] = entry["steady_subjects_per_s"] / (entry["workers"] * one)
        entry["steady_silhouettes_per_s"] = entry["steady_subjects_per_s"] * results["views"]
    if memory:
        # In a fresh process, so the driver's RSS is a build driver's, not this one's (which
        # holds the models and GL contexts of the measurements above).
        spawn = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as fresh:
            results["memory"] = fresh.submit(build_with_memory, _spec(
                subjects=sizes.memory_subjects, views=1, shard_size=4 * sizes.shard_size), max(2, max_workers)).result()
        with tempfile.TemporaryDirectory(prefix="bench_train_") as dataset:
            run_build(_spec(subjects=sizes.trainer_subjects, shard_size=sizes.shard_size),
                      BuildOptions(out=Path(dataset), source=source_from_env(), workers=min(2, max_workers), progress=False))
            results["trainer"] = trainer_input(Path(dataset), sizes.trainer_batches)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full",
                        help="full (about 5 minutes on 2 CPUs), quick (about 2), smoke (checks the harness).")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--skip-memory", action="store_true", help="Leave out the memory and trainer-input runs.")
    parser.add_argument("--max-workers", type=int, default=os.cpu_count() or 1,
                        help="Largest worker count in the scaling runs (default: all CPUs).")
    args = parser.parse_args()
    results = run(SIZES[args.size], args.max_workers, memory=not args.skip_memory)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / platform.node()
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
