"""`synth build --people`: bodies of measured people, their residuals, bad tables, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pytest
from click.testing import CliRunner

from synth.cli import main
from synth.dataset.verify import verify_dataset
from synth.population.people import MEASURES
from synth.storage import Store
from s3_server import s3_hashes, s3_uri
from test_build import shard_hashes

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "jobs" / "smoke.toml"
# three ANSUR II people (ids, sexes and measurements of the public file) and one given in the
# labels' own names and units, with only some tape measurements
ANSUR_ROWS = """subjectid,Gender,Age,stature,weightkg,chestcircumference,waistcircumference,buttockcircumference,neckcircumference
10027,Male,41,1776,815,1074,933,1054,400
10032,Male,35,1702,726,1021,870,1002,380
29247,Female,25,1645,630,942,835,1004,329
"""
LABEL_ROWS = """id,sex,height_m,mass_kg,hip_circumference_m
a,female,1.58,71.0,1.09
"""
SMOKE_PEOPLE = ["--set=job.shard_size=2", "--set=job.splits={train=1.0}", "--set=camera.width=64",
                "--set=camera.height=64", "--set=views.names=[\"front\",\"left\"]", "--set=views.yaw_deg=[0.0,90.0]"]


def _build(table: Path, out: Path, workers: int) -> CliRunner:
    return CliRunner().invoke(main, ["build", str(SMOKE), "--people", str(table), "--out", str(out), "--workers",
                                     str(workers), "--no-progress", *SMOKE_PEOPLE])


@pytest.fixture(scope="module")
def people_table(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("people") / "ansur.csv"
    path.write_text(ANSUR_ROWS)
    return path


@pytest.fixture(scope="module")
def people_build(people_table, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("people_build") / "data"
    result = _build(people_table, out, 0)
    assert result.exit_code == 0, result.output
    return out


def _rows(folder: Path) -> list[dict]:
    return pads.dataset(sorted(map(str, folder.glob("*.parquet"))), format="parquet").to_table().to_pylist()


def test_people_build_fits_each_person_and_records_the_residuals(people_build):
    rows = _rows(people_build)
    assert [r["person_id"] for r in rows] == ["10027", "10032", "29247"]
    assert verify_dataset(people_build)[0] == []
    for row in rows:
        targets, residuals = np.array(row["person_targets"]), np.array(row["person_residuals"])
        for k, name in enumerate(MEASURES):
            if np.isfinite(targets[k]):  # the residual is the label minus the person's measurement
                assert residuals[k] == pytest.approx(row[name] - targets[k], abs=1e-5), name
            else:
                assert np.isnan(residuals[k])
        assert (row["shape"][0] > 0.5) == (row["person_id"] == "29247")  # the person's sex
        assert abs(residuals[MEASURES.index("height_m")]) < 0.005  # stature within 5 mm
        assert abs(residuals[MEASURES.index("mass_kg")]) < 1.5  # weight within 1.5 kg
        for name in ("chest_circumference_m", "waist_navel_circumference_m", "hip_circumference_m",
                     "neck_circumference_m"):
            assert abs(residuals[MEASURES.index(name)]) < 0.02, name
    assert rows[0]["age_years"] == pytest.approx(41.0, abs=0.5)  # the table's age
    manifest = json.loads((people_build / "dataset.json").read_text())
    assert "people_sha256" in manifest and "people_fit" in manifest
    report = json.loads((people_build / "people_fit.json").read_text())
    assert report["people"] == 3 and 0.0 <= report["covered"] <= 1.0
    card = (people_build / "README.md").read_text()
    assert "Measured people" in card and "within tolerance" in card


def test_people_build_is_the_same_on_ray_and_resumes(people_table, people_build, tmp_path):
    ray_out = tmp_path / "ray"
    result = _build(people_table, ray_out, 2)
    assert result.exit_code == 0, result.output
    assert shard_hashes(ray_out) == shard_hashes(people_build)
    first = sorted(ray_out.glob("*.parquet"))[0]
    first.unlink()  # a lost shard is rebuilt from the same rows, to the same bytes
    assert _build(people_table, ray_out, 0).exit_code == 0
    assert shard_hashes(ray_out) == shard_hashes(people_build)


def test_people_build_to_object_storage_is_the_same(people_table, people_build, s3):
    uri = s3_uri(s3, "people")
    result = CliRunner().invoke(main, ["build", str(SMOKE), "--people", str(people_table), "--out", uri,
                                       "--workers", "0", "--no-progress", *SMOKE_PEOPLE])
    assert result.exit_code == 0, result.output
    assert s3_hashes(uri) == shard_hashes(people_build)
    assert json.loads(Store.open(uri).read_bytes("people_fit.json")) == json.loads(
        (people_build / "people_fit.json").read_text())
    verified = CliRunner().invoke(main, ["verify", uri])
    assert verified.exit_code == 0, verified.output


def test_label_named_table_with_some_measurements(tmp_path):
    table = tmp_path / "people.csv"
    table.write_text(LABEL_ROWS)
    out = tmp_path / "data"
    result = _build(table, out, 0)
    assert result.exit_code == 0, result.output
    (row,) = _rows(out)
    targets = np.array(row["person_targets"])
    assert np.isfinite(targets).sum() == 3  # height, weight, hip: nothing else was measured
    assert abs(row["hip_circumference_m"] - 1.09) < 0.02 and abs(row["height_m"] - 1.58) < 0.005


@pytest.mark.parametrize("text,words", [
    ("sex,height_m,mass_kg\nmale,1.8,800\n", "row 2 (id 1), column mass_kg: 800"),
    ("Gender,stature,weightkg\nMale,175.6,81.5\n", "column stature: 175.6 is 0.1756 m"),
    ("sex,weightkg\nmale,815\n", "no height_m"),
])
def test_bad_people_table_is_one_cli_line(tmp_path, text, words):
    table = tmp_path / "people.csv"
    table.write_text(text)
    result = _build(table, tmp_path / "out", 0)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and words in result.output, result.output
    assert not (tmp_path / "out").exists()
