"""`synth morph`: body-fat targets reached with the height kept, monotone, clear refusals."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.dataset as pads
import pytest
import trimesh
from click.testing import CliRunner
from PIL import Image

from body_models import SynthError
from body_models.anny_backend import LOCAL_CHANGE_MAX
from synth.cli import main
from synth.measurements import DENSITY_FAT_RANGE_PCT
from synth.morph.solve import BODY_FAT_TOLERANCE_PCT, EXTENDED_HEAVY_END, HEIGHT_TOLERANCE_M, BodyFatMorpher


def _subjects(dataset, female: bool) -> list[dict]:
    """The women (or men) of the dataset with a body-fat label, leanest first."""
    table = pads.dataset(sorted(map(str, dataset.glob("*.parquet"))), format="parquet").to_table(
        columns=["subject_id", "shape", "body_fat_pct", "body_model_version"]).to_pylist()
    return sorted((r for r in table if np.isfinite(r["body_fat_pct"]) and (r["shape"][0] > 0.5) == female),
                  key=lambda r: r["body_fat_pct"])


def _median_subject(dataset) -> dict:
    """The woman of median body fat (men's RFM tops out in the low 40s: a +6 morph of a heavy
    man can be out of any body's reach)."""
    rows = _subjects(dataset, female=True)
    return rows[len(rows) // 2]


def _reach_top(refused: pytest.ExceptionInfo) -> float:
    """The heavy end (%) an out-of-reach refusal names ("... reaches L to H % (source ...")."""
    return float(str(refused.value).split(" % (source")[0].rsplit(" to ", 1)[1])


def _morph(args: list[str]):
    return CliRunner().invoke(main, ["morph", *args])


def test_morph_reaches_targets_keeps_height_and_grows_monotonically(smoke_dataset, tmp_path):
    subject = _median_subject(smoke_dataset)
    result = _morph([str(smoke_dataset), "--subject", subject["subject_id"], "--body-fat=-6,-3,+3,+6",
                     "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    table = json.loads((tmp_path / "morph.json").read_text())
    assert "Relative Fat Mass" in table["note"] and subject["subject_id"] in table["source"]
    source, *levels = table["levels"]
    assert source["measurements"]["body_fat_pct"] == pytest.approx(subject["body_fat_pct"], abs=1e-3)
    assert not any(level["extrapolated"] for level in table["levels"])  # all inside the body model's range
    for level in levels:
        m = level["measurements"]
        assert abs(m["body_fat_pct"] - level["target_body_fat_pct"]) < BODY_FAT_TOLERANCE_PCT <= 0.5
        assert abs(m["height_m"] - source["measurements"]["height_m"]) <= HEIGHT_TOLERANCE_M
        mesh = trimesh.load(tmp_path / level["mesh"], process=False)
        assert len(mesh.vertices) == 13718 and mesh.bounds[0][1] == pytest.approx(0.0, abs=1e-5)
    ordered = sorted(table["levels"], key=lambda level: level["measurements"]["body_fat_pct"])
    for name in ("waist_circumference_m", "mass_kg", "hip_circumference_m"):
        values = [level["measurements"][name] for level in ordered]
        assert all(b > a for a, b in zip(values, values[1:])), name
    assert Image.open(tmp_path / "morph.png").size == (5 * 300, 2 * 360 + 34)


def test_morph_from_a_prediction_json_with_absolute_targets(smoke_dataset, anny_model, tmp_path):
    subject = _median_subject(smoke_dataset)
    prediction = tmp_path / "prediction.json"
    prediction.write_text(json.dumps({"body_model": subject["body_model_version"],
                                      "shape": dict(zip(anny_model.shape_space.labels, subject["shape"]))}))
    target = round(subject["body_fat_pct"] + 4.0, 1)
    result = _morph([str(prediction), "--absolute", f"--body-fat={target}", "--out", str(tmp_path / "out"),
                     "--format", "ply"])
    assert result.exit_code == 0, result.output
    level = json.loads((tmp_path / "out" / "morph.json").read_text())["levels"][1]
    assert abs(level["measurements"]["body_fat_pct"] - target) < BODY_FAT_TOLERANCE_PCT
    assert (tmp_path / "out" / level["mesh"]).suffix == ".ply"


def test_a_target_past_the_models_range_is_reached_by_extrapolating_fat_and_says_so(smoke_dataset, anny_model):
    """The heaviest man: a target the body model's range cannot reach is solved on the extension
    (fat targets past it, up to EXTENDED_HEAVY_END), marked; one it can reach never is."""
    man = _subjects(smoke_dataset, female=False)[-1]
    shape = np.asarray(man["shape"], np.float32)
    with pytest.raises(SynthError, match="out of reach") as refused:
        BodyFatMorpher(anny_model, extend=False).morph(shape, [90.0], absolute=True)
    model_high = _reach_top(refused)
    morpher = BodyFatMorpher(anny_model)
    source, inside, past = morpher.morph(shape, [model_high - 1.0, model_high + 0.5], absolute=True)
    assert not source.extrapolated and not inside.extrapolated and inside.shape.max() <= LOCAL_CHANGE_MAX
    assert past.extrapolated and LOCAL_CHANGE_MAX < past.shape.max() <= max(EXTENDED_HEAVY_END.values())
    assert past.step > inside.step  # the extension carries on from the range's heavy end
    for level in (inside, past):
        assert abs(level.measurements.body_fat_pct - level.target_body_fat_pct) < BODY_FAT_TOLERANCE_PCT
        assert abs(level.measurements.height_m - source.measurements.height_m) <= HEIGHT_TOLERANCE_M
    assert past.measurements.mass_kg > inside.measurements.mass_kg
    with pytest.raises(SynthError, match="out of reach") as refused:
        morpher.morph(shape, [90.0], absolute=True)
    assert model_high + 0.5 <= _reach_top(refused) <= DENSITY_FAT_RANGE_PCT[1]


def test_out_of_reach_target_is_one_line_and_writes_nothing(smoke_dataset, tmp_path):
    subject = _median_subject(smoke_dataset)
    result = _morph([str(smoke_dataset), "--subject", subject["subject_id"], "--body-fat=+5,+90",
                     "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "+90" in result.output and "out of reach" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case,words", [
    ("missing", "not found"),
    ("not_json", "not a prediction.json"),
    ("no_subject", "--subject ID"),
    ("unknown_subject", "has no subject 99999"),
    ("bad_values", "'lots' is not a number"),
    ("smpl_prediction", "takes Anny predictions"),
])
def test_bad_source_or_values_is_one_line(smoke_dataset, tmp_path, case, words):
    garbage = tmp_path / "prediction.json"
    garbage.write_text("this is not json" if case == "not_json" else
                       json.dumps({"body_model": "smpl-abc", "shape": {"beta0": 0.1}}))
    args = {
        "missing": [str(tmp_path / "nope.json"), "--body-fat=+5"],
        "not_json": [str(garbage), "--body-fat=+5"],
        "no_subject": [str(smoke_dataset), "--body-fat=+5"],
        "unknown_subject": [str(smoke_dataset), "--subject", "99999", "--body-fat=+5"],
        "bad_values": [str(smoke_dataset), "--subject", "0", "--body-fat=+5,lots"],
        "smpl_prediction": [str(garbage), "--body-fat=+5"],
    }[case]
    result = _morph([*args, "--out", str(tmp_path / "out")])
    assert result.exit_code != 0 and "Traceback" not in result.output and words in result.output
    assert len(result.output.strip().splitlines()) == 1
