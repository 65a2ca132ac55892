"""Trainer end to end on the smoke dataset: loss falls, eval and predict run, bad input refused."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torch.utils.data import DataLoader

from body_models import SynthError
from synth.cli import main
from synth.images import decode_silhouette
from synth.train.augment import AugmentConfig, corrupt, reported_height, reported_weight
from synth.train.baselines import fit_baselines
from synth.train.bodies import LINEAR_STRIDE, clamp_shape, linearise, mean_vertex_error, neutral_vertices
from synth.train.config import config_from_dict
from synth.train.data import SilhouetteStream, StreamConfig
from synth.measurements import MEASUREMENT_NAMES
from synth.train.evaluate import scale_corrected
from synth.train.framing import MARGIN, PLAIN, TEST_FRAMINGS, frame_silhouette, frame_views, inference_framings
from synth.train.loop import losses, measurement_loss, train
from synth.train.checkpoint import TargetStats, load_checkpoint, save_checkpoint
from synth.train.model import NetConfig, SilhouetteNet, average_framings, run_net
from synth.train.ridge import RIDGES

ROOT = Path(__file__).resolve().parents[1]


def test_loss_falls_and_run_outputs_exist(trained):
    config, result = trained
    records = [json.loads(line) for line in (result.out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 80 and result.steps == 80
    first, last = np.mean([r["loss"] for r in records[:5]]), np.mean([r["loss"] for r in records[-5:]])
    assert last < 0.85 * first
    assert {"best.pt", "last.pt", "curve.png", "metrics.jsonl"} <= {p.name for p in result.out.iterdir()}
    assert np.isfinite(result.best_val_pve_t_mm)


def test_resume_continues_from_last_checkpoint(trained, anny_source):
    config, result = trained
    longer = config_from_dict({**config.to_dict(), "optim": {**config.to_dict()["optim"], "steps": 85}})
    resumed = train(longer, anny_source, resume=True, progress=False)
    steps = [json.loads(line)["step"] for line in (result.out / "metrics.jsonl").read_text().splitlines()]
    assert resumed.steps == 85 and steps[-5:] == [81, 82, 83, 84, 85]


def test_eval_reports_millimetres_beside_mean_body(trained, smoke_dataset, tmp_path):
    _, result = trained
    run = CliRunner().invoke(main, ["eval", "--checkpoint", str(result.out / "best.pt"), "--data",
                                    str(smoke_dataset), "--split", "test", "--out", str(tmp_path)])
    assert run.exit_code == 0, run.output
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["subjects"] == 8
    ridge = report["baselines"]["ridge on silhouettes"]
    for method in (report["model"], report["mean_body"], ridge):
        for metric in ("pve_t_mm", "pve_t_sc_mm", "pve_mm", "height_mm", "waist_circumference_mm", "body_fat_pts"):
            assert 0 < method[metric]["mean"] < 500 and method[metric]["median"] <= method[metric]["tp90"]
    assert ridge["ridge"] in RIDGES
    # the net's measurements come from its heads and mesh, stacked, compared with a ridge to measurements;
    # its mesh's stand beside
    assert report["measurements_from"] == "measurement heads and mesh, stacked"
    direct = report["baselines"]["ridge on silhouettes, to measurements"]
    assert "pve_t_mm" not in direct and 0 < direct["waist_circumference_mm"]["mean"] < 500
    assert "pve_t_mm" not in report["model_mesh"]
    assert report["model_mesh"]["waist_circumference_mm"]["mean"] != report["model"]["waist_circumference_mm"]["mean"]
    table = (tmp_path / "eval.md").read_text()
    assert "| pve_t_mm |" in table and "ridge on silhouettes mean" in table and "net vs best baseline" in table
    assert "net mesh mean" in table


def test_scale_corrected_error_ignores_size_but_not_shape():
    truth = torch.randn(2, 50, 3)
    scaled, reference = scale_corrected(1.1 * truth + 0.3, truth)
    assert torch.allclose(scaled, reference, atol=1e-5)  # a bigger copy, shifted: no error once corrected
    bent = truth.clone()
    bent[:, :10, 0] += 0.2
    assert (mean_vertex_error(*scale_corrected(bent, truth)) > 0.01).all()


def test_baselines_use_the_scalars_the_net_takes(smoke_dataset):
    stream = SilhouetteStream(StreamConfig(uri=str(smoke_dataset), split="train", views=("front", "left"),
                                           input_size=64, augment=AugmentConfig(enabled=False), shuffle_buffer=1,
                                           repeat=False))
    without = fit_baselines(stream, NetConfig(views=2, shape_size=35, pose_size=14), rows=24)
    with_height = fit_baselines(stream, NetConfig(views=2, shape_size=35, pose_size=14, known_height=True), rows=24)
    both = fit_baselines(stream, NetConfig(views=2, shape_size=35, pose_size=14, known_height=True,
                                           known_weight=True), rows=24)
    assert [b.name for b in without] == ["ridge on silhouettes"]
    assert [b.name for b in with_height] == ["ridge on height", "ridge on silhouettes + height"]
    assert [b.name for b in both] == ["ridge on height + weight", "ridge on silhouettes + height + weight"]
    batch = next(iter(DataLoader(stream, batch_size=4)))
    assert with_height[0].predict(batch).shape == (4, len(batch["shape"][0]))
    taller = dict(batch, height_input_m=batch["height_input_m"] + 0.2)
    assert not torch.equal(with_height[0].predict(batch), with_height[0].predict(taller))
    heads = fit_baselines(stream, NetConfig(views=2, shape_size=35, pose_size=14, known_height=True,
                                            measurement_size=len(MEASUREMENT_NAMES)), rows=24)
    assert [(b.name, b.target) for b in heads] == [
        ("ridge on height", "shape"), ("ridge on silhouettes + height", "shape"),
        ("ridge on height, to measurements", "measurements"),
        ("ridge on silhouettes + height, to measurements", "measurements")]
    direct = heads[-1].predict(batch).numpy()
    height = MEASUREMENT_NAMES.index("height_m")
    assert direct.shape == (4, len(MEASUREMENT_NAMES)) and np.isfinite(direct[:, height]).all()
    assert np.abs(direct[:, height] - batch["measurements"][:, height].numpy()).max() < 0.05


def test_measurement_loss_leaves_out_missing_labels():
    stats = TargetStats(*(torch.zeros(n) for n in (5, 5, 3, 3)), torch.zeros(2, 3), torch.ones(2, 3),
                        torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 0.5, 2.0]))
    batch = {"measurements": torch.tensor([[1.5, float("nan"), 3.0], [1.0, 2.5, float("nan")]])}
    exact = {"shape": torch.zeros(2, 5), "measurements": torch.tensor([[1.0, 7.0, 0.0], [0.0, 1.0, -9.0]])}
    assert float(measurement_loss(exact, batch, stats)) == 0.0  # the NaN labels' outputs do not count
    off = {"shape": torch.zeros(2, 5), "measurements": torch.tensor([[2.0, 7.0, 0.0], [0.0, 1.0, -9.0]])}
    assert float(measurement_loss(off, batch, stats)) == pytest.approx(1.0 / 4)
    assert float(measurement_loss({"shape": torch.zeros(2, 5)}, batch, stats)) == 0.0  # a net without heads


def test_pose_weight_scales_the_capture_pose_error_alone(anny_model):
    stats = TargetStats(torch.full((35,), 0.5), torch.ones(35), torch.zeros(14), torch.ones(14),
                        torch.zeros(2, 3), torch.ones(2, 3))
    batch = {"shape": torch.full((2, 35), 0.5), "capture_pose": torch.zeros(2, 14), "camera": torch.zeros(2, 2, 3)}
    outputs = {"shape": torch.zeros(2, 35), "capture_pose": torch.full((2, 14), 0.5), "camera": torch.zeros(2, 2, 3)}
    body = linearise(anny_model, stats.shape_mean)
    for weight in (1.0, 0.1, 0.0):
        parts = losses(outputs, batch, stats, body, config_from_dict({"optim": {"pose_weight": weight}}))
        assert float(parts["param"]) == pytest.approx(0.25 * weight)
        assert float(parts["pve_t_m"]) == pytest.approx(0.0, abs=1e-9)
    outputs["shape"] = torch.full((2, 35), 0.5)  # a shape error counts whatever the pose weight
    parts = losses(outputs, batch, stats, body, config_from_dict({"optim": {"pose_weight": 0.0}}))
    assert float(parts["param"]) == pytest.approx(0.25)


@pytest.fixture(scope="module")
def trained_with_height(smoke_dataset, tmp_path_factory, anny_source):
    out = tmp_path_factory.mktemp("run_height")
    config = config_from_dict({
        "data": {"uri": str(smoke_dataset), "val_split": "test", "views": ["front", "left"], "input_size": 64,
                 "num_workers": 0, "shuffle_buffer": 8},
        "model": {"width": 8, "known_height": True},
        "optim": {"batch_size": 8, "steps": 10},
        "run": {"out": str(out), "device": "cpu", "eval_every": 10, "val_batches": 1, "stats_rows": 24},
    })
    return train(config, anny_source, progress=False)


def _predict(checkpoint: Path, images: list[Path], out: Path, *extra: str):
    return CliRunner().invoke(main, ["predict", "--checkpoint", str(checkpoint), *map(str, images),
                                     "--out", str(out), *extra])


def test_height_conditioned_checkpoint_needs_and_uses_the_height(trained_with_height, smoke_dataset, tmp_path):
    checkpoint = trained_with_height.out / "best.pt"
    images = _silhouette_files(smoke_dataset, tmp_path)
    run = _predict(checkpoint, images, tmp_path / "none")
    assert run.exit_code == 1 and "pass --height-m" in run.output
    run = _predict(checkpoint, images, tmp_path / "cm", "--height-m", "178")
    assert run.exit_code == 1 and "standing height in meters" in run.output
    shapes = [_predicted_shape(checkpoint, images, tmp_path, "--height-m", height, "given_height_m")
              for height in (1.55, 1.95)]
    assert shapes[0] != shapes[1]
    report = _evaluate(checkpoint, smoke_dataset, tmp_path / "eval")
    assert report["known_height"] is True
    assert "given each true height" in (tmp_path / "eval" / "eval.md").read_text()


def _predicted_shape(checkpoint, images, tmp_path, option: str, value: float, key: str, *extra: str) -> dict:
    """The shape predicted with `option value`, after checking the report echoes `value` under `key`."""
    run = _predict(checkpoint, images, tmp_path / f"{option}{value}", *extra, option, str(value))
    assert run.exit_code == 0, run.output
    report = json.loads((tmp_path / f"{option}{value}" / "prediction.json").read_text())
    assert report[key] == value
    return report["shape"]


def _evaluate(checkpoint, dataset, out) -> dict:
    run = CliRunner().invoke(main, ["eval", "--checkpoint", str(checkpoint), "--data", str(dataset),
                                    "--split", "test", "--out", str(out)])
    assert run.exit_code == 0, run.output
    return json.loads((out / "eval.json").read_text())


def test_a_checkpoint_without_height_refuses_one(trained, smoke_dataset, tmp_path):
    _, result = trained
    images = _silhouette_files(smoke_dataset, tmp_path)
    run = _predict(result.out / "best.pt", images, tmp_path / "p", "--height-m", "1.7")
    assert run.exit_code == 1 and "leave out --height-m" in run.output
    run = _predict(result.out / "best.pt", images, tmp_path / "p", "--weight-kg", "70")
    assert run.exit_code == 1 and "leave out --weight-kg" in run.output


def test_weight_conditioned_checkpoint_needs_and_uses_the_weight(smoke_dataset, tmp_path, anny_source):
    config = config_from_dict({
        "data": {"uri": str(smoke_dataset), "val_split": "test", "views": ["front", "left"], "input_size": 64,
                 "num_workers": 0, "shuffle_buffer": 8},
        "model": {"width": 8, "known_height": True, "known_weight": True},
        "optim": {"batch_size": 8, "steps": 10},
        "run": {"out": str(tmp_path / "run"), "device": "cpu", "eval_every": 10, "val_batches": 1, "stats_rows": 24},
    })
    checkpoint = train(config, anny_source, progress=False).out / "best.pt"
    images = _silhouette_files(smoke_dataset, tmp_path)
    run = _predict(checkpoint, images, tmp_path / "none", "--height-m", "1.7")
    assert run.exit_code == 1 and "pass --weight-kg" in run.output
    run = _predict(checkpoint, images, tmp_path / "lbs", "--height-m", "1.7", "--weight-kg", "900")
    assert run.exit_code == 1 and "body weight in kilograms" in run.output and "Traceback" not in run.output
    shapes = [_predicted_shape(checkpoint, images, tmp_path, "--weight-kg", weight, "given_weight_kg",
                               "--height-m", "1.7") for weight in (55.0, 120.0)]
    assert shapes[0] != shapes[1]
    report = _evaluate(checkpoint, smoke_dataset, tmp_path / "eval")
    assert report["known_weight"] is True and "ridge on height + weight" in report["baselines"]
    assert "given each true weight" in (tmp_path / "eval" / "eval.md").read_text()


def test_reported_weight_is_noisy_only_when_augmenting():
    rng = np.random.default_rng(0)
    noisy = np.array([reported_weight(80.0, rng, AugmentConfig()) for _ in range(4000)])
    assert abs(noisy.std() - AugmentConfig().weight_noise_kg) < 0.05 and abs(noisy.mean() - 80.0) < 0.1
    assert reported_weight(80.0, rng, AugmentConfig(enabled=False)) == 80.0


def test_known_height_needs_height_labels(tmp_path, anny_source):
    from synth.build import BuildOptions, run_build
    from synth.config import load_spec

    spec = load_spec(ROOT / "jobs" / "smoke.toml", ["job.subjects=8", "labels.measurements=false"])
    run_build(spec, BuildOptions(out=tmp_path / "data", source=anny_source, workers=0, progress=False))
    config = config_from_dict({"data": {"uri": str(tmp_path / "data"), "num_workers": 0},
                               "model": {"known_height": True}, "run": {"out": str(tmp_path / "run")}})
    with pytest.raises(SynthError, match="labels.measurements = false"):
        train(config, anny_source, progress=False)


def test_a_view_the_dataset_lacks_is_one_line(smoke_dataset, tmp_path):
    config = tmp_path / "train.toml"
    config.write_text(f'[data]\nuri = "{smoke_dataset}"\nviews = ["front", "top"]\n[run]\nout = "{tmp_path / "run"}"\n')
    result = CliRunner().invoke(main, ["train", str(config), "--no-progress"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "data.views asks for top" in result.output and "front, left, back, right" in result.output


def test_reported_height_is_noisy_only_when_augmenting():
    rng = np.random.default_rng(0)
    reported = np.array([reported_height(1.7, rng, AugmentConfig()) for _ in range(4000)])
    assert abs(reported.mean() - 1.7) < 0.002 and 0.013 < reported.std() < 0.017
    assert reported_height(1.7, rng, AugmentConfig(enabled=False)) == 1.7


def _silhouette_files(dataset: Path, folder: Path) -> list[Path]:
    import pyarrow.parquet as pq

    row = pq.read_table(sorted(dataset.glob("test-*.parquet"))[0]).slice(0, 1).to_pylist()[0]
    paths = []
    for name in ("front", "left"):
        path = folder / f"{name}.png"
        path.write_bytes(row["silhouettes"][row["view_names"].index(name)]["bytes"])
        paths.append(path)
    return paths


def test_predict_writes_mesh_and_json(trained, smoke_dataset, tmp_path, anny_model):
    _, result = trained
    images = _silhouette_files(smoke_dataset, tmp_path)
    out = tmp_path / "pred"
    run = CliRunner().invoke(main, ["predict", "--checkpoint", str(result.out / "best.pt"), *map(str, images),
                                    "--out", str(out)])
    assert run.exit_code == 0, run.output
    import trimesh

    mesh = trimesh.load(out / "body.obj", process=False)
    assert len(mesh.vertices) == 13718 and mesh.bounds[0][1] == pytest.approx(0, abs=1e-4)
    report = json.loads((out / "prediction.json").read_text())
    assert list(report["shape"]) == list(anny_model.shape_space.labels)  # the dataset's (body) shape space
    assert 1.0 < report["measurements"]["height_m"] < 2.3
    assert report["measurements_from"] == "measurement heads and mesh, stacked"
    assert 1.0 < report["mesh_measurements"]["height_m"] < 2.3
    assert report["measurements"]["waist_circumference_m"] != report["mesh_measurements"]["waist_circumference_m"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front.png", "left.png", "pred"]  # inputs not copied


@pytest.mark.parametrize("shape", ["ellipse", "rectangle"])
def test_predict_refuses_shapes_that_are_not_a_person(trained, smoke_dataset, tmp_path, shape):
    from PIL import ImageDraw

    _, result = trained
    images = _silhouette_files(smoke_dataset, tmp_path)
    canvas = Image.new("L", (128, 128), 0)
    draw = ImageDraw.Draw(canvas)
    (draw.ellipse if shape == "ellipse" else draw.rectangle)([44, 10, 84, 118], fill=255)
    canvas.save(images[0])
    run = CliRunner().invoke(main, ["predict", "--checkpoint", str(result.out / "best.pt"), *map(str, images),
                                    "--out", str(tmp_path / "pred")])
    assert run.exit_code == 1 and "the front silhouette does not look like a person" in run.output, run.output
    assert not (tmp_path / "pred").exists()


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height 1-bit pixels, with no pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


@pytest.mark.parametrize("problem", ["photo", "empty", "inverted", "count", "not_image", "bomb", "oversized"])
def test_predict_refuses_bad_images(trained, smoke_dataset, tmp_path, problem):
    _, result = trained
    images = _silhouette_files(smoke_dataset, tmp_path)
    rng = np.random.default_rng(0)
    expected = {"photo": "not a binary silhouette", "empty": "empty", "inverted": "inverted",
                "count": "expects 2 silhouettes", "not_image": "not a readable image",
                "bomb": "too large to open safely", "oversized": "9000x6000 pixels is more than the 50"}[problem]
    if problem == "photo":
        Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(images[0])
    elif problem == "empty":
        Image.fromarray(np.zeros((128, 128), np.uint8)).save(images[0])
    elif problem == "inverted":
        Image.fromarray(255 - np.asarray(Image.open(images[0]).convert("L"))).save(images[0])
    elif problem == "count":
        images = images[:1]
    elif problem == "bomb":
        _png_header_only(images[0], 20000, 20000)  # 400 megapixels: Pillow refuses it at open
    elif problem == "oversized":
        _png_header_only(images[0], 9000, 6000)  # 54 megapixels: refused from the header, nothing decoded
    else:
        images[0].write_text("hello")
    run = CliRunner().invoke(main, ["predict", "--checkpoint", str(result.out / "best.pt"), *map(str, images),
                                    "--out", str(tmp_path / "pred")])
    assert run.exit_code == 1 and expected in run.output and "Traceback" not in run.output
    assert not (tmp_path / "pred").exists()


def test_streams_split_row_groups_across_consumers(smoke_dataset):
    config = StreamConfig(uri=str(smoke_dataset), split="train", views=("front",), input_size=32,
                          augment=AugmentConfig(enabled=False), repeat=False)
    whole = [r["subject_index"] for r in SilhouetteStream(config).rows()]
    assert sorted(whole) == list(range(24))

    class Part(SilhouetteStream):
        def __init__(self, me, consumers):
            super().__init__(config)
            self.me, self.consumers = me, consumers

        def _consumer(self):
            return self.me, self.consumers

    parts = [[r["subject_index"] for r in Part(k, 2).rows()] for k in range(2)]
    assert sorted(parts[0] + parts[1]) == list(range(24)) and not set(parts[0]) & set(parts[1])


@pytest.mark.parametrize(("max_rows", "expected"), [(1, 8), (8, 8), (9, 16), (100, 24)])
def test_train_rows_takes_the_first_whole_row_groups(smoke_dataset, max_rows, expected):
    config = StreamConfig(uri=str(smoke_dataset), split="train", views=("front",), input_size=32,
                          augment=AugmentConfig(enabled=False), repeat=False, max_rows=max_rows)
    assert [r["subject_index"] for r in SilhouetteStream(config).rows()] == list(range(expected))


def test_linear_path_reads_the_pooled_silhouettes_and_scalars():
    torch.manual_seed(0)
    net = SilhouetteNet(NetConfig(views=2, shape_size=5, pose_size=3, width=4, input_size=32, known_height=True,
                                  grid=2, skip_pixels=8)).eval()
    silhouettes, height = torch.rand(3, 2, 32, 32), torch.full((3,), 1.8)
    with torch.no_grad():
        for layer in (net.shape_head, net.pose_head, net.camera_head):  # silence the deep path
            layer.weight.zero_()
            layer.bias.zero_()
        out = net(silhouettes, height)
        pooled = torch.nn.functional.adaptive_avg_pool2d(silhouettes, 8).reshape(3, -1)
        direct = net.linear(torch.cat([pooled, ((height - 1.7) / 0.1)[:, None]], 1))
    assert torch.allclose(out["shape"], direct[:, :5]) and torch.allclose(out["camera"].reshape(3, -1), direct[:, 8:])
    assert not torch.allclose(out["shape"], torch.zeros_like(out["shape"]))


def test_checkpoints_from_before_the_linear_path_still_load(tmp_path):
    net = SilhouetteNet(NetConfig(views=2, shape_size=5, pose_size=3, width=4, input_size=32))
    stats = TargetStats(*(torch.zeros(n) for n in (5, 5, 3, 3)), torch.zeros(2, 3), torch.ones(2, 3))
    save_checkpoint(tmp_path / "old.pt", net, stats, {})
    state = torch.load(tmp_path / "old.pt", weights_only=False)
    for key in ("grid", "skip_pixels", "measurement_size"):  # written by a version without these fields
        del state["net_config"][key]
    for key in ("measurement_mean", "measurement_std"):
        del state["stats"][key]
    del state["stack"]
    torch.save(state, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded["model"].config.grid == 1 and loaded["model"].linear is None
    assert loaded["model"].measurement_head is None and loaded["stats"].measurement_mean is None
    assert loaded["stack"] is None and loaded["framings"] == ()  # written before stacks: the heads report


def test_framing_keeps_each_rows_width_to_a_twentieth_of_a_pixel():
    """Every framed row holds the body's mean width over the source rows it spans (sampling
    each pixel at one point reads it to about a quarter of a pixel: widths are what
    circumferences are made of)."""
    mask = np.zeros((256, 256), bool)
    widths = (40 + 25 * np.sin(np.arange(256) / 9.0)).astype(int)
    for y in range(20, 236):
        mask[y, 100 - widths[y] // 2: 100 - widths[y] // 2 + widths[y]] = True
    framed = frame_silhouette(mask, 64)
    side = 216 * (1 + 2 * MARGIN)  # the box is 216 rows tall, centred on row 128
    edges = 128 - side / 2 + np.arange(65) * side / 64
    rows = np.arange(256)
    expected = [(np.clip(np.minimum(rows + 1, hi) - np.maximum(rows, lo), 0, None) * mask.sum(1)).sum() / (hi - lo)
                for lo, hi in zip(edges[:-1], edges[1:])]
    assert np.abs(framed.sum(1) * side / 64 - expected).max() < 0.05 * side / 64


@pytest.mark.parametrize("old,words", [("synth-checkpoint/1", "point-sampled"), ("synth-checkpoint/2", "labels version 2")])
def test_a_checkpoint_of_older_frames_or_labels_is_refused_in_one_line(trained, smoke_dataset, tmp_path, old, words):
    _, result = trained
    state = torch.load(result.out / "best.pt", weights_only=False)
    torch.save({**state, "format": old}, tmp_path / "old.pt")
    run = CliRunner().invoke(main, ["eval", "--checkpoint", str(tmp_path / "old.pt"), "--data", str(smoke_dataset),
                                    "--split", "test", "--baseline-rows", "0", "--out", str(tmp_path)])
    assert run.exit_code != 0 and "Traceback" not in run.output and len(run.output.strip().splitlines()) == 1
    assert words in run.output and "retrain" in run.output


def test_corruption_changes_masks_but_keeps_a_body():
    mask = np.zeros((64, 64), bool)
    mask[10:54, 24:40] = True
    rng = np.random.default_rng(1)
    config = AugmentConfig(morphology=1, boundary_noise=1, occluder=1, missing_limb=1)
    corrupted = [corrupt(mask, rng, config) for _ in range(5)]
    assert all(c.any() and not np.array_equal(c, mask) for c in corrupted)
    assert np.array_equal(corrupt(mask, rng, AugmentConfig(enabled=False)), mask)
    clean = AugmentConfig(morphology=1, boundary_noise=1, occluder=1, missing_limb=1).with_corruption(0.0)
    assert all(np.array_equal(corrupt(mask, rng, clean), mask) for _ in range(5))
    assert clean.scale_jitter == AugmentConfig().scale_jitter and clean.height_noise_m > 0  # the rest stays
    assert AugmentConfig().with_corruption(0.5).morphology == 0.5 * AugmentConfig().morphology


def test_eval_on_corrupted_inputs_is_its_own_report(trained, smoke_dataset, tmp_path):
    _, result = trained
    reports = []
    for flags in ([], ["--corrupt"], ["--corrupt"]):
        run = CliRunner().invoke(main, ["eval", "--checkpoint", str(result.out / "best.pt"), "--data",
                                        str(smoke_dataset), "--split", "test", "--baseline-rows", "0",
                                        "--out", str(tmp_path), *flags])
        assert run.exit_code == 0, run.output
        reports.append(json.loads((tmp_path / ("eval_corrupted.json" if flags else "eval.json")).read_text()))
    clean, corrupted, again = reports
    assert not clean["corrupted"] and corrupted["corrupted"] and corrupted["subjects"] == clean["subjects"]
    assert corrupted["model"]["pve_t_mm"] != clean["model"]["pve_t_mm"]  # other inputs, other errors
    assert again["model"] == corrupted["model"]  # seeded: the same corruptions every run
    assert "inputs corrupted as in training" in (tmp_path / "eval_corrupted.md").read_text()


def test_eval_on_a_truncated_shard_is_one_clear_line(trained, smoke_dataset, tmp_path):
    import shutil

    _, result = trained
    copy = tmp_path / "copy"
    shutil.copytree(smoke_dataset, copy)
    victim = sorted(copy.glob("test-*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:300])
    run = CliRunner().invoke(main, ["eval", "--checkpoint", str(result.out / "best.pt"), "--data", str(copy),
                                    "--out", str(tmp_path / "report")])
    assert run.exit_code == 1 and victim.name in run.output and "Traceback" not in run.output
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("recipe", ["train_cpu.toml", "train_gpu.toml"])
def test_shipped_recipes_validate(recipe):
    from synth.train.config import load_train_config

    config = load_train_config(ROOT / "jobs" / recipe)
    assert config.model.known_height and config.model.known_weight and config.model.skip_pixels > 0
    assert config.model.measurements and config.optim.vertex_loss == "linear"


def test_a_vertex_loss_that_does_not_exist_is_one_line():
    with pytest.raises(SynthError, match="optim.vertex_loss = 'fast': expected one of linear, exact"):
        config_from_dict({"optim": {"vertex_loss": "fast"}})


def test_linearised_body_matches_the_body_model_near_its_shape(anny_model):
    mean = torch.from_numpy(sum(anny_model.shape_space.bounds()) / 2)  # phenotypes at 0.5, local changes at 0
    body = linearise(anny_model, mean)
    assert body.jacobian.shape == (len(mean), 3 * len(range(0, 13718, LINEAR_STRIDE)))
    near = clamp_shape(anny_model, mean + 0.05 * torch.randn(4, len(mean), generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        exact = mean_vertex_error(neutral_vertices(anny_model, near), neutral_vertices(anny_model, mean[None]))
    linear = body.vertex_error(near, mean[None].expand(4, -1))
    ratio = linear.double() / exact.double()
    assert (exact > 1e-3).all() and (ratio > 0.6).all() and (ratio < 1.2).all()  # each body within its kinks
    assert 0.9 < float(linear.sum() / exact.sum()) < 1.1  # and the loss it stands in for, over a batch



def test_inference_framings_are_fixed_and_inside_the_training_jitter():
    augment = AugmentConfig()
    framings = inference_framings(augment.scale_jitter, augment.shift_jitter)
    assert framings == inference_framings(augment.scale_jitter, augment.shift_jitter) and len(framings) == TEST_FRAMINGS
    for scale, x, y in framings:
        assert abs(scale - 1) <= augment.scale_jitter and max(abs(x), abs(y)) <= augment.shift_jitter
    assert len(set(framings)) == len(framings) and (1.0, 0.0, 0.0) not in framings


def test_a_stream_with_framings_frames_each_mask_each_way(smoke_dataset):
    framings = ((0.95, 0.02, -0.01), (1.05, -0.03, 0.0))
    config = StreamConfig(uri=str(smoke_dataset), split="test", views=("front", "left"), input_size=32,
                          augment=AugmentConfig(enabled=False), shuffle_buffer=1, repeat=False, framings=framings)
    row = next(SilhouetteStream(config).rows())
    sample = SilhouetteStream(config).sample(row, np.random.default_rng(0))
    masks = [decode_silhouette(row["silhouettes"][row["view_names"].index(v)]["bytes"]) for v in ("front", "left")]
    assert sample["reframed"].shape == (2, 2, 32, 32)
    assert np.array_equal(torch.cat([sample["silhouettes"][None], sample["reframed"]]).numpy(),
                          frame_views(masks, 32, (PLAIN, *framings)))
    assert not np.array_equal(sample["reframed"][0].numpy(), sample["silhouettes"].numpy())


def test_averaging_framings_of_one_frame_is_the_nets_output():
    torch.manual_seed(0)
    net = SilhouetteNet(NetConfig(views=2, shape_size=5, pose_size=3, width=4, input_size=32, known_height=True,
                                  skip_pixels=8, measurement_size=4)).eval()
    frames, height = torch.rand(3, 2, 32, 32), torch.tensor([1.6, 1.7, 1.8])
    with torch.no_grad():
        single = net(frames, height)
        same = average_framings(net, frames[:, None].expand(-1, 3, -1, -1, -1), height)
        mixed = run_net(net, {"silhouettes": frames, "reframed": torch.rand(3, 2, 2, 32, 32), "height_input_m": height})
    for name in single:
        assert torch.allclose(same[name], single[name], atol=1e-5) and same[name].shape == single[name].shape
    assert not torch.allclose(mixed["shape"], single["shape"])


def test_training_ends_with_a_stack_and_framings_follow_the_augmentation(trained, trained_with_height):
    _, result = trained
    plain, augmented = load_checkpoint(result.out / "best.pt"), load_checkpoint(trained_with_height.out / "best.pt")
    assert plain["framings"] == () and len(augmented["framings"]) == TEST_FRAMINGS
    assert plain["stack"].rows == 24 and augmented["stack"].rows == 24  # the smoke build's training rows
    assert plain["stack"].fit.weights.shape == (2 * len(MEASUREMENT_NAMES), len(MEASUREMENT_NAMES))
    assert load_checkpoint(result.out / "last.pt")["stack"] is None  # resume state, not a finished net


_NARROW_SKIP = """
import torch
from synth.train.model import _Block

torch.manual_seed(0)
torch.set_num_threads(2)
block = _Block(4, 8, 2).to(memory_format=torch.channels_last)
conv = block.skip[0]
for _ in range(10):
    conv.weight.grad = None
    x = torch.randn(32, 4, 32, 32).to(memory_format=torch.channels_last)
    y = conv(x)
    g = torch.randn_like(y)
    y.backward(g)
    want = torch.einsum("bohw,bihw->oi", g.double(), x[:, :, ::2, ::2].double())
    assert torch.allclose(conv.weight.grad[:, :, 0, 0].double(), want, atol=1e-3), "wrong weight gradient"
print("ok")
"""


def test_a_narrow_nets_downsampling_skip_gets_right_gradients():
    """The 1x1 stride-2 skip of a 4-channel stage, NHWC, two threads: called as a strided
    convolution, oneDNN's kernel hung here (and gives wrong gradients on other CPUs); in a
    subprocess, so a hang fails the test instead of the suite."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _NARROW_SKIP], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
