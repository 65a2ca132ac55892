"""Job-spec validation: every wrong field named on its own line, nothing runs before."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from body_models import SynthError
from synth.cli import main
from synth.config import JobSpec, load_spec, spec_from_dict

JOBS = Path(__file__).resolve().parents[1] / "jobs"


@pytest.mark.parametrize("job", sorted(p.name for p in JOBS.glob("*.toml")))
def test_shipped_jobs_are_valid(job):
    if job.startswith("train_"):
        from synth.train.config import load_train_config

        assert load_train_config(JOBS / job).optim.steps > 0
    else:
        assert load_spec(JOBS / job).job.subjects > 0


@pytest.mark.parametrize("raw, fragment", [
    ({"job": {"subjects": "many"}}, "job.subjects = 'many': expected an integer"),
    ({"job": {"subjects": 0}}, "job.subjects = 0: expected an integer in 1.."),
    ({"job": {"colour": 1}}, "job.colour: unknown field"),
    ({"jobs": {}}, "[jobs]: unknown section"),
    ({"job": {"splits": {"train": 0.5}}}, "fractions >= 0 summing to 1"),
    ({"camera": {"distance_m": [3.0, 2.0]}}, "camera.distance_m = [3.0, 2.0]: expected [low, high]"),
    ({"camera": {"width": True}}, "camera.width = True"),
    ({"views": {"names": ["front", "front"]}}, "distinct names"),
    ({"views": {"names": ["front"], "yaw_deg": [0.0, 90.0]}}, "give one azimuth per view"),
    ({"body_model": {"name": "smpl9"}}, "body_model.name = 'smpl9': expected one of anny"),
    ({"shape": {"female_share": 1.5}}, "shape.female_share = 1.5"),
    ({"body_model": {"gender": "both"}}, "body_model.gender = 'both': expected one of neutral, female, male, mixed"),
    ({"camera": {"vertical_fov_deg": [10.0, 12.0], "distance_m": [1.0, 2.0]}}, "less than a 2.1 m subject"),
    ({"pose": {"knee_flexion_deg": 5}}, "pose.knee_flexion_deg = 5"),
])
def test_bad_fields_are_named_with_value_and_range(raw, fragment):
    with pytest.raises(SynthError) as err:
        spec_from_dict(raw)
    assert fragment in str(err.value)


def test_all_problems_reported_at_once():
    with pytest.raises(SynthError) as err:
        spec_from_dict({"job": {"seed": -1, "subjects": 1.5}, "camera": {"width": 5}})
    assert len(str(err.value).splitlines()) == 4  # header + 3 problems


def test_overrides_apply_and_are_validated(tmp_path):
    spec = load_spec(JOBS / "smoke.toml", ["job.subjects=12", "camera.distance_m=[2.5, 3.0]"])
    assert spec.job.subjects == 12 and spec.camera.distance_m == (2.5, 3.0)
    with pytest.raises(SynthError, match="job.subjects = -3"):
        load_spec(JOBS / "smoke.toml", ["job.subjects=-3"])
    with pytest.raises(SynthError, match="expected section.key=value"):
        load_spec(JOBS / "smoke.toml", ["subjects=3"])


def test_spec_hash_tracks_content():
    assert JobSpec().content_hash() == JobSpec().content_hash()
    assert spec_from_dict({"job": {"seed": 1}}).content_hash() != JobSpec().content_hash()


def test_cli_prints_one_line_per_problem_and_starts_nothing(tmp_path):
    job = tmp_path / "bad.toml"
    job.write_text("[job]\nsubjects = -1\n[camera]\nwidth = 'wide'\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(job), "--out", str(out)])
    assert result.exit_code == 1
    assert "job.subjects = -1" in result.output and "camera.width = 'wide'" in result.output
    assert "Traceback" not in result.output and not out.exists()
    broken = tmp_path / "broken.toml"
    broken.write_text("[job\n")
    result = CliRunner().invoke(main, ["build", str(broken)])
    assert result.exit_code == 1 and "not valid TOML" in result.output
