"""Photo-like renders, segmentation, capture checks and `synth predict --photos` (the [photo] extra)."""
from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image, ImageFilter

from synth.cli import main
from synth.images import decode_silhouette

VIEWS = {"names": ("front", "left"), "yaw_deg": (0.0, 90.0)}


def _build(spec, out: Path, source) -> Path:
    from synth.build import BuildOptions, run_build

    run_build(spec, BuildOptions(out=out, source=source, workers=0, progress=False))
    return out


def _photo_spec(smoke_spec, **pose):
    """The smoke job at 256 px, front and left, with photos (the same subjects as the smoke build)."""
    return dataclasses.replace(
        smoke_spec, camera=dataclasses.replace(smoke_spec.camera, width=256, height=256),
        views=dataclasses.replace(smoke_spec.views, **VIEWS), photo=dataclasses.replace(smoke_spec.photo, enabled=True),
        pose=dataclasses.replace(smoke_spec.pose, **pose))


def _rows(dataset: Path) -> list[dict]:
    return [row for path in sorted(dataset.rglob("*.parquet")) for row in pq.read_table(path).to_pylist()]


def _photo(row: dict, view: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(row["photos"][row["view_names"].index(view)]["bytes"])).convert("RGB"))


@pytest.fixture(scope="module")
def photo_dataset(smoke_spec, anny_source, tmp_path_factory) -> Path:
    return _build(_photo_spec(smoke_spec), tmp_path_factory.mktemp("photos") / "data", anny_source)


@pytest.fixture(scope="module")
def arms_down_dataset(smoke_spec, anny_source, tmp_path_factory) -> Path:
    spec = _photo_spec(smoke_spec, shoulder_abduction_deg=(0.0, 5.0))
    spec = dataclasses.replace(spec, job=dataclasses.replace(spec.job, subjects=8, shard_size=8,
                                                                  splits={"test": 1.0}))
    return _build(spec, tmp_path_factory.mktemp("arms_down") / "data", anny_source)


def test_photos_are_stored_beside_unchanged_silhouettes(photo_dataset, smoke_spec, anny_source, tmp_path):
    from synth.dataset.verify import verify_dataset

    assert verify_dataset(photo_dataset) == ([], 4)
    rows = _rows(photo_dataset)
    first = rows[0]
    assert [p["path"] for p in first["photos"]] == [f"{first['subject_id']}_front.jpg", f"{first['subject_id']}_left.jpg"]
    assert _photo(first, "front").shape == (256, 256, 3)
    assert len({row["photos"][0]["bytes"] for row in rows}) == len(rows)  # every subject looks different
    # photos come from their own generator: the same job without them has the same silhouettes
    plain = dataclasses.replace(_photo_spec(smoke_spec), photo=dataclasses.replace(smoke_spec.photo, enabled=False))
    plain_rows = _rows(_build(plain, tmp_path / "plain", anny_source))
    assert "photos" not in plain_rows[0]
    assert [r["silhouettes"] for r in plain_rows] == [r["silhouettes"] for r in rows]
    # and they are deterministic
    again = _rows(_build(_photo_spec(smoke_spec), tmp_path / "again", anny_source))
    assert [r["photos"] for r in again] == [r["photos"] for r in rows]


def test_segmentation_recovers_the_true_silhouettes(photo_dataset):
    from synth.photo.segment import Segmenter

    segmenter = Segmenter()
    ious = []
    for row in _rows(photo_dataset)[:8]:
        for view in VIEWS["names"]:
            mask = segmenter.segment(_photo(row, view)).mask
            truth = decode_silhouette(row["silhouettes"][row["view_names"].index(view)]["bytes"])
            ious.append((mask & truth).sum() / (mask | truth).sum())
    segmenter.close()
    assert min(ious) > 0.75 and np.mean(ious) > 0.88, ious


def _save(rgb: np.ndarray, path: Path) -> Path:
    Image.fromarray(rgb).save(path, quality=92)
    return path


def _bad_photo(problem: str, rows: list[dict], arms_down: list[dict], folder: Path) -> tuple[Path, str | None]:
    """A photo with `problem`, and the view `synth segment --view` is told to expect."""
    front = _photo(rows[0], "front")
    if problem == "no_person":
        return _save(np.asarray(Image.fromarray(front[:40, :40]).resize((256, 256))), folder / "wall.jpg"), None
    if problem == "several_people":
        # the same person twice, side by side: two people of one size, whatever the sampler drew
        return _save(np.concatenate([front, front[:, ::-1]], axis=1), folder / "two.jpg"), None
    if problem == "cut_off":
        return _save(front[:150], folder / "cut.jpg"), None
    if problem == "too_small":
        canvas = np.empty((640, 640, 3), np.uint8)
        canvas[:] = np.median(front.reshape(-1, 3), axis=0)
        canvas[200:456, 200:456] = front
        return _save(canvas, folder / "far.jpg"), None
    if problem == "too_blurry":
        return _save(np.asarray(Image.fromarray(front).filter(ImageFilter.GaussianBlur(1.6))), folder / "blur.jpg"), None
    if problem == "wrong_view":
        return _save(_photo(rows[0], "left"), folder / "side.jpg"), "front"
    if problem == "arms_down":
        return _save(_photo(arms_down[0], "front"), folder / "arms.jpg"), "front"
    path = folder / "huge.png"  # "oversized": a header claiming 9000 x 6000 pixels
    Image.new("1", (9000, 6000)).save(path)
    return path, None


@pytest.mark.parametrize("problem, expected", [
    ("no_person", "no person found"), ("several_people", "more than one person"), ("cut_off", "cut off by the frame"),
    ("too_small", "only"), ("too_blurry", "too blurry"), ("wrong_view", "expected a front view"),
    ("arms_down", "arms hang down or lie against the torso"), ("oversized", "more than the 50 megapixels")])
def test_capture_checks_refuse_in_one_line(problem, expected, photo_dataset, arms_down_dataset, tmp_path):
    path, view = _bad_photo(problem, _rows(photo_dataset), _rows(arms_down_dataset), tmp_path)
    run = CliRunner().invoke(main, ["segment", str(path), "--out", str(tmp_path / "seg"),
                                    *(["--view", view] if view else [])])
    assert run.exit_code == 1 and expected in run.output and "Traceback" not in run.output, run.output
    assert str(path) in run.output and len(run.output.strip().splitlines()) == 1
    assert not (tmp_path / "seg").exists()


def test_segment_writes_silhouettes_and_names_the_view(photo_dataset, tmp_path):
    row = _rows(photo_dataset)[0]
    paths = [_save(_photo(row, view), tmp_path / f"{view}.jpg") for view in VIEWS["names"]]
    run = CliRunner().invoke(main, ["segment", *map(str, paths), "--out", str(tmp_path / "seg")])
    assert run.exit_code == 0, run.output
    assert "front.jpg: front view" in run.output and "left.jpg: side view" in run.output
    mask = decode_silhouette((tmp_path / "seg" / "front_silhouette.png").read_bytes())
    truth = decode_silhouette(row["silhouettes"][0]["bytes"])
    assert (mask & truth).sum() / (mask | truth).sum() > 0.8


def test_predict_from_photos_end_to_end(trained, photo_dataset, tmp_path):
    _, result = trained
    row = _rows(photo_dataset)[0]
    paths = [_save(_photo(row, view), tmp_path / f"{view}.jpg") for view in VIEWS["names"]]
    out = tmp_path / "pred"
    run = CliRunner().invoke(main, ["predict", "--checkpoint", str(result.out / "best.pt"), "--photos",
                                    *map(str, paths), "--out", str(out)])
    assert run.exit_code == 0, run.output
    report = json.loads((out / "prediction.json").read_text())
    assert report["input_kind"] == "photos" and 1.0 < report["measurements"]["height_m"] < 2.3
    assert (out / "body.obj").exists() and (out / "body_neutral.obj").exists()
    overlay = np.asarray(Image.open(out / "overlay.png").convert("RGB")).astype(int)
    assert overlay.shape[0] == 512 + 48 and overlay.shape[1] == 2 * 512
    for colour in ((40, 230, 90), (230, 40, 200)):  # the segmented outline; the predicted body (blended)
        close = np.abs(overlay - colour).sum(-1) < 120
        assert close[48:, :512].sum() > 200 and close[48:, 512:].sum() > 200, colour
    # the same photos in the wrong order: the side photo is not a front view
    swapped = CliRunner().invoke(main, ["predict", "--checkpoint", str(result.out / "best.pt"), "--photos",
                                        str(paths[1]), str(paths[0]), "--out", str(tmp_path / "swapped")])
    assert swapped.exit_code == 1 and "expected a front view" in swapped.output, swapped.output


def test_arms_down_silhouettes_are_refused(trained, arms_down_dataset, smoke_dataset, tmp_path):
    from synth.arms import MIN_ARM_REACH, arm_reach

    _, result = trained
    for row in _rows(smoke_dataset):  # the capture pose passes, every subject of the build
        assert arm_reach(decode_silhouette(row["silhouettes"][0]["bytes"])) > MIN_ARM_REACH
    row = _rows(arms_down_dataset)[0]
    paths = []
    for view in VIEWS["names"]:
        paths.append(tmp_path / f"{view}.png")
        paths[-1].write_bytes(row["silhouettes"][row["view_names"].index(view)]["bytes"])
    run = CliRunner().invoke(main, ["predict", "--checkpoint", str(result.out / "best.pt"), *map(str, paths),
                                    "--out", str(tmp_path / "pred")])
    assert run.exit_code == 1 and "front.png: the arms hang down" in run.output, run.output
    assert not (tmp_path / "pred").exists()
