"""The render stage alone, per process and over processes: silhouettes (and photo-like
pictures) per second of pre-posed bodies, on whatever EGL device this machine has.

    python benchmarks/render_stage.py export DATASET bodies.npz [--rows 48]
    python benchmarks/render_stage.py run bodies.npz [--procs 1,4,8,16] [--photos] [--seconds 8]

`export` (needs the body model) re-poses the first rows of DATASET and saves their
vertices, joints, faces, cameras and skeleton, so `run` needs only numpy, pyrender and
this checkout: it can go to a bare GPU machine. Each process owns one renderer, like a
Ray actor, and renders the bodies' views in turn for `--seconds`; the sum of the
processes' rates is printed with the OpenGL renderer string (an NVIDIA name, or
llvmpipe for Mesa on CPUs). Posing, labels, encoding and writing are not included:
`benchmarks/run.py` measures the whole pipeline.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def export(dataset: str, out: Path, rows: int) -> None:
    import pyarrow.parquet as pq

    from body_models import create, source_from_env
    from synth.dataset.reader import repose_row
    from synth.train.data import list_shards

    model = create("anny", source_from_env())
    filesystem, files = list_shards(dataset, "train")
    picked = pq.read_table(files[0], filesystem=filesystem).to_pylist()[:rows]
    posed = [repose_row(row, model) for row in picked]
    np.savez(out, vertices=np.stack([v for v, _ in posed]), joints=np.stack([j for _, j in posed]),
             faces=model.faces.astype(np.int32), K=np.array([r["K"] for r in picked], np.float32),
             R=np.array([r["R"] for r in picked], np.float32), t=np.array([r["t"] for r in picked], np.float32),
             size=np.array([picked[0]["image_width"], picked[0]["image_height"]]),
             skeleton=json.dumps(dataclasses.asdict(model.skeleton)))


def _cameras(bodies) -> list[list]:
    """Per body, its cameras (the arrays laid out as dataset rows)."""
    from synth.dataset.reader import row_cameras

    width, height = (int(v) for v in bodies["size"])
    return [row_cameras({"K": K, "R": R, "t": t, "image_width": width, "image_height": height})
            for K, R, t in zip(bodies["K"], bodies["R"], bodies["t"])]


def _silhouettes(path: Path, seconds: float, out) -> None:
    from synth.render.renderer import SilhouetteRenderer

    bodies = np.load(path)
    cameras = _cameras(bodies)
    vertices = bodies["vertices"]
    renderer = SilhouetteRenderer(cameras[0][0].width, cameras[0][0].height, bodies["faces"], vertices.shape[1])
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        body = done % len(vertices)
        renderer.set_vertices(vertices[body])
        for camera in cameras[body]:
            renderer.render(camera)
        done += len(cameras[body])
    out.put((renderer.gl_renderer, done / (time.perf_counter() - started)))
    renderer.close()


def _photos(path: Path, seconds: float, out) -> None:
    from body_models import Skeleton
    from synth.photo.render import PhotoRenderer
    from synth.sampling.rng import photo_rng

    bodies = np.load(path)
    cameras = _cameras(bodies)
    skeleton = Skeleton(**{k: tuple(v) for k, v in json.loads(str(bodies["skeleton"])).items()})
    renderer = PhotoRenderer(cameras[0][0].width, cameras[0][0].height, bodies["faces"], skeleton)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        body = done % len(cameras)
        renderer.render_subject(photo_rng(0, done), bodies["vertices"][body], bodies["joints"][body], cameras[body],
                                0.6, (0.0, 6.0), (60, 95))
        done += len(cameras[body])
    out.put(("photos", done / (time.perf_counter() - started)))
    renderer.close()


def run(path: Path, procs: list[int], photos: bool, seconds: float) -> None:
    spawn = multiprocessing.get_context("spawn")
    target = _photos if photos else _silhouettes
    for count in procs:
        queue = spawn.Queue()
        workers = [spawn.Process(target=target, args=(path, seconds, queue)) for _ in range(count)]
        for worker in workers:
            worker.start()
        results = [queue.get(timeout=seconds + 120) for _ in workers]
        for worker in workers:
            worker.join()
        what = "photo-like pictures" if photos else "silhouettes"
        print(f"{count} processes: {sum(rate for _, rate in results):.0f} {what}/s ({results[0][0]})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    exporting = commands.add_parser("export")
    exporting.add_argument("dataset")
    exporting.add_argument("out", type=Path)
    exporting.add_argument("--rows", type=int, default=48)
    running = commands.add_parser("run")
    running.add_argument("bodies", type=Path)
    running.add_argument("--procs", default="1,4,8,16")
    running.add_argument("--photos", action="store_true")
    running.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    if args.command == "export":
        export(args.dataset, args.out, args.rows)
    else:
        run(args.bodies, [int(p) for p in args.procs.split(",")], args.photos, args.seconds)


if __name__ == "__main__":
    main()
