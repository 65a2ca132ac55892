"""`synth build`: determinism, resume after a kill, verify, loaders, projection, preview."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner
from threadpoolctl import threadpool_info

from body_models import BodyModelSource, SynthError, create
from synth.build import BuildOptions, run_build
from synth.camera import project
from synth.cli import main
from synth.config import load_spec
from synth.dataset.reader import repose_row, row_cameras, row_silhouettes
from synth.dataset.verify import verify_dataset
from synth.plan import plan_shards
from synth.storage import Store, exclusive
from processes import ray_processes

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "jobs" / "smoke.toml"


def shard_hashes(folder: Path) -> dict[str, str]:
    manifest = json.loads((folder / "dataset.json").read_text())
    return {entry["file"]: entry["sha256"] for entry in manifest["shards"]}


def rasterize(uv: np.ndarray, faces: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Fill projected triangles with PIL (independent of OpenGL). PIL puts pixel centres
    at +0.5, OpenCV at integers, hence the shift."""
    from PIL import Image, ImageDraw

    image = Image.new("1", (shape[1], shape[0]))
    draw = ImageDraw.Draw(image)
    for triangle in uv[faces] + 0.5:
        draw.polygon([tuple(p) for p in triangle], fill=1)
    return np.asarray(image)


def coverage(drawn: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(silhouette pixels no triangle covers, covered pixels > 1 px from the silhouette), as fractions."""
    from scipy.ndimage import binary_dilation

    return (mask & ~drawn).sum() / mask.sum(), (drawn & ~binary_dilation(mask)).sum() / drawn.sum()


def test_smoke_build_is_complete_and_verifies(smoke_dataset, smoke_spec):
    manifest = json.loads((smoke_dataset / "dataset.json").read_text())
    assert manifest["complete"] and manifest["spec_hash"] == smoke_spec.content_hash()
    assert sum(e["num_rows"] for e in manifest["shards"]) == smoke_spec.job.subjects
    assert {e["split"] for e in manifest["shards"]} == set(smoke_spec.job.splits)
    card = (smoke_dataset / "README.md").read_text()
    assert card.startswith("---\n") and "\n---\n\n# smoke" in card
    problems, checked = verify_dataset(smoke_dataset)
    assert problems == [] and checked == len(manifest["shards"])


def assert_rows_project_onto_their_silhouettes(dataset: Path, model, rows: int) -> list[dict]:
    """Re-pose `rows` rows of each split, project with the stored cameras, compare with the
    stored silhouettes (an independent PIL rasteriser); returns the rows checked."""
    checked = []
    for shard in sorted(dataset.glob("*-00000-of-*.parquet")):
        for row in pq.read_table(shard).to_pylist()[:rows]:
            vertices, joints = repose_row(row, model)
            assert np.allclose(joints.reshape(-1), row["joints_3d_m"], atol=1e-6)
            for camera, mask, joints_2d in zip(row_cameras(row), row_silhouettes(row), row["joints_2d_px"]):
                uv, _ = project(vertices, camera)
                missed, spilled = coverage(rasterize(uv, model.faces, mask.shape), mask)
                assert missed < 0.005 and spilled < 0.06
                assert coverage(rasterize(uv + 1.0, model.faces, mask.shape), mask)[0] > 0.01  # 1 px off fails
                assert np.allclose(project(joints, camera)[0].reshape(-1), joints_2d, atol=1e-3)
            checked.append(row)
    return checked


def test_rows_repose_and_project_onto_their_silhouettes(smoke_dataset, anny_model):
    assert_rows_project_onto_their_silhouettes(smoke_dataset, anny_model, rows=1)


def test_smpl_build_with_mixed_genders(tmp_path, smpl_dir, anny_source):
    """The SMPL path end to end on generated model files: each body posed with its own file."""
    spec = load_spec(SMOKE, ['body_model.name="smpl"', 'body_model.gender="mixed"', 'shape.reference="none"',
                             "job.subjects=16", "labels.measurements=false"])
    source = BodyModelSource(anny_cache=anny_source.anny_cache, model_path=smpl_dir, gender="mixed")
    run_build(spec, BuildOptions(out=tmp_path, source=source, workers=0, progress=False))
    assert verify_dataset(tmp_path)[0] == []
    rows = assert_rows_project_onto_their_silhouettes(tmp_path, create("smpl", source), rows=4)
    assert {row["shape"][-1] for row in rows} == {0.0, 1.0}


def test_shards_are_computed_on_one_thread_whatever_the_caller_uses(smoke_spec, anny_source, monkeypatch):
    """The same arithmetic in every execution mode: torch (MKL) and numpy's BLAS run one
    thread while a shard is built, and the caller's setting comes back after."""
    import synth.shard

    seen = []
    posing = synth.shard.pose_subjects

    def spy(*args, **kwargs):
        seen.append((torch.get_num_threads(), max(lib["num_threads"] for lib in threadpool_info())))
        return posing(*args, **kwargs)

    monkeypatch.setattr(synth.shard, "pose_subjects", spy)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        builder = synth.shard.ShardBuilder(smoke_spec, anny_source)
        builder.build(plan_shards(smoke_spec)[0])
        builder.close()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert seen and set(seen) == {(1, 1)}


def test_killed_build_resumes_to_identical_dataset(tmp_path, anny_source):
    overrides = ["job.shard_size=2", "job.subjects=24"]
    reference = tmp_path / "reference"
    run_build(load_spec(SMOKE, overrides), BuildOptions(out=reference, source=anny_source, workers=0, progress=False))
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "synth.cli", "build", str(SMOKE), "--out", str(out), "--workers", "0",
               "--no-progress"] + [f"--set={o}" for o in overrides]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (out / "dataset.json").exists() and len(shard_hashes(out)) >= 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = shard_hashes(out)
    assert 2 <= len(done) < 12, "the build should have been killed mid-way"
    problems, _ = verify_dataset(out)
    assert problems and all(p.endswith("(resume the build)") for p in problems), problems
    result = CliRunner().invoke(main, ["build", str(SMOKE), "--out", str(out), "--workers", "0", "--no-progress"]
                                + [f"--set={o}" for o in overrides])
    assert result.exit_code == 0, result.output
    assert f"({len(done)} already done)" in result.output
    assert shard_hashes(out) == shard_hashes(reference)
    assert verify_dataset(out)[0] == []


def test_other_spec_is_refused_unless_overwrite(tmp_path, smoke_dataset, anny_source):
    out = tmp_path / "d"
    run_build(load_spec(SMOKE, ["job.subjects=4", "job.shard_size=4", "job.splits={train=1.0}"]),
              BuildOptions(out=out, source=anny_source, workers=0, progress=False))
    other = load_spec(SMOKE, ["job.subjects=4", "job.shard_size=4", "job.splits={train=1.0}", "job.seed=8"])
    with pytest.raises(SynthError, match="different job spec"):
        run_build(other, BuildOptions(out=out, source=anny_source, workers=0, progress=False))
    run_build(other, BuildOptions(out=out, source=anny_source, workers=0, progress=False, overwrite=True))
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["seed"] == 8
    del manifest["labels_version"]  # as a synth from before labels were versioned wrote it
    (out / "dataset.json").write_text(json.dumps(manifest))
    with pytest.raises(SynthError, match="labelled by another synth .*version [0-9]+, this one makes 3"):
        run_build(other, BuildOptions(out=out, source=anny_source, workers=0, progress=False))


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_every_reader_names_a_damaged_shard_in_one_line(tmp_path, smoke_dataset, damage):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(smoke_dataset, copy)
    victim = sorted(copy.glob("*.parquet"))[1]
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    else:
        victim.unlink()
    result = CliRunner().invoke(main, ["verify", str(copy)])
    assert result.exit_code == 1
    assert victim.name in result.output and "Traceback" not in result.output
    for command in (["preview", str(copy)], ["population", str(copy), "--out", str(tmp_path / "report")],
                    ["morph", str(copy), "--subject", "3", "--body-fat=+5", "--out", str(tmp_path / "morph")]):
        result = CliRunner().invoke(main, command)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, (command[0], result.output)
        assert lines[0].startswith("error: shard") and victim.name in lines[0] and "synth verify" in lines[0]
    assert CliRunner().invoke(main, ["verify", str(smoke_dataset)]).exit_code == 0


def test_verify_tells_an_unlisted_planned_shard_from_a_foreign_file(tmp_path, smoke_dataset):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(smoke_dataset, copy)
    manifest = json.loads((copy / "dataset.json").read_text())
    unlisted = manifest["shards"].pop(0)["file"]  # as a build stopped between writing a shard and listing it leaves it
    (copy / "dataset.json").write_text(json.dumps(manifest))
    shutil.copy(copy / unlisted, copy / "extra-00000-of-00001.parquet")
    problems, built = verify_dataset(copy)
    assert built == len(manifest["shards"])
    assert problems == [f"{unlisted}: written but not listed (its build was stopped) (resume the build)",
                        "extra-00000-of-00001.parquet: not listed in the manifest"]


def test_second_build_into_the_same_folder_is_locked_out(tmp_path):
    store = Store.open(tmp_path)
    with exclusive(store):
        with pytest.raises(SynthError, match="another synth build"):
            with exclusive(store):
                pass


def test_dataset_card_front_matter_is_what_the_hub_reads(smoke_dataset, smoke_spec):
    """The card's YAML header names the splits' shards, licence, task, size and tags, and
    `datasets.load_dataset(DIR)` loads the folder by it, one split per job split."""
    import datasets
    import yaml

    card = (smoke_dataset / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["license"] == "apache-2.0" and header["task_categories"] == ["image-to-3d"]
    assert header["size_categories"] == ["n<1K"] and "synthetic" in header["tags"]
    (config,) = header["configs"]
    assert {f["split"]: f["path"] for f in config["data_files"]} == {s: f"{s}-*.parquet" for s in smoke_spec.job.splits}
    assert "```bibtex" in card
    loaded = datasets.load_dataset(str(smoke_dataset))
    assert set(loaded) == set(smoke_spec.job.splits)
    assert sum(len(loaded[s]) for s in loaded) == smoke_spec.job.subjects
    assert loaded["test"].features["silhouettes"].feature.__class__.__name__ == "Image"


def test_hugging_face_datasets_decodes_images(smoke_dataset):
    import datasets

    files = sorted(str(p) for p in smoke_dataset.glob("train-*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    assert isinstance(ds.features["silhouettes"].feature, datasets.Image)
    image = ds[0]["silhouettes"][0]
    assert image.size == (128, 128) and np.asarray(image.convert("L")).max() > 0


def test_ray_data_reads_the_shards(smoke_dataset):
    import ray

    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        ds = ray.data.read_parquet(str(smoke_dataset), file_extensions=["parquet"])
        assert ds.count() == 32
        assert set(ds.schema().names) >= {"silhouettes", "K", "R", "t", "shape"}
    finally:
        ray.shutdown()


def test_duckdb_and_polars_read_the_shards(smoke_dataset):
    import duckdb
    import polars as pl

    from synth.images import decode_silhouette

    expected: dict[str, int] = {}
    for entry in json.loads((smoke_dataset / "dataset.json").read_text())["shards"]:
        expected[entry["split"]] = expected.get(entry["split"], 0) + entry["num_rows"]
    pattern = str(smoke_dataset / "*.parquet")
    assert dict(duckdb.sql(f"SELECT split, count(*) FROM '{pattern}' GROUP BY split").fetchall()) == expected
    ((png,),) = duckdb.sql(f"SELECT silhouettes[1].bytes FROM '{pattern}' WHERE subject_index = 0").fetchall()
    row = pl.scan_parquet(pattern).filter(pl.col("subject_index") == 0).select("silhouettes", "K").collect()
    assert row["silhouettes"][0][0]["bytes"] == png and decode_silhouette(png).any()
    assert len(row["K"][0][0]) == 9


def test_png_tree_and_preview(tmp_path, anny_source):
    out = tmp_path / "png"
    spec = load_spec(SMOKE, ["job.subjects=4", "job.shard_size=2", "job.splits={train=1.0}", "job.write_png=true"])
    run_build(spec, BuildOptions(out=out, source=anny_source, workers=0, progress=False))
    pngs = sorted((out / "png" / "train").glob("*/*.png"))
    assert len(pngs) == 16 and {p.stem for p in pngs} == {"front", "left", "back", "right"}
    result = CliRunner().invoke(main, ["preview", str(out)])
    assert result.exit_code == 0 and "silhouette fill" in result.output
    from PIL import Image

    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.size[0] == 4 * 128 and np.asarray(sheet).max() == 255


def test_cli_ray_build_prints_only_its_summary_and_leaves_no_process(tmp_path):
    """What a user sees: one summary line, no library banners or warnings on stderr; and
    every Ray process the build started is gone when it returns."""
    before = ray_processes()
    command = [sys.executable, "-m", "synth.cli", "build", str(SMOKE), "--out", str(tmp_path / "out"),
               "--workers", "2", "--no-progress", "--set=job.subjects=8"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("built 8 subjects") and len(done.stdout.splitlines()) == 1
    assert done.stderr.strip() == ""
    assert ray_processes() - before == set()


def test_ray_build_ending_in_an_error_or_ctrl_c_leaves_no_process(tmp_path):
    before = ray_processes()
    unframeable = ["--set=camera.vertical_fov_deg=[20.0, 70.0]", "--set=camera.distance_m=[1.7, 1.8]",
                   "--set=camera.max_attempts=1"]
    command = [sys.executable, "-m", "synth.cli", "build", str(SMOKE), "--workers", "2", "--no-progress"]
    failed = subprocess.run(command + ["--out", str(tmp_path / "failed"), *unframeable], capture_output=True,
                            text=True, timeout=300, check=False)
    assert failed.returncode == 1 and failed.stderr.startswith("error: subject"), failed.stderr
    assert ray_processes() - before == set()

    out = tmp_path / "interrupted"
    build = subprocess.Popen(command + ["--out", str(out), "--set=job.subjects=64"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not ((out / "dataset.json").exists() and shard_hashes(out)):
        assert time.time() < deadline and build.poll() is None, build.communicate()
        time.sleep(0.05)
    build.send_signal(signal.SIGINT)
    _, stderr = build.communicate(timeout=120)
    assert build.returncode == 130 and stderr.decode().startswith("interrupted"), stderr.decode()
    assert ray_processes() - before == set()
