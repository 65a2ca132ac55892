"""Population: reference tables, the calibrated sampler, the surrogate, the report and preview,
and valid meshes at the corners of the sampled range."""
from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner
from PIL import Image
from shapely.ops import unary_union

from body_models import ShapePrior, SynthError
from synth.cli import main
from synth.config import spec_from_dict
from synth.measurements import BodyMeasurer, body_mass_kg, loop_length, section_hull, siri_density_kg_m3
from synth.population.body_fat import DXA_MEAN_PCT, check_body_fat
from synth.population.conditional import compare_people
from synth.population.girths import GIRTHS, fit_girths
from synth.population.measured import Measured
from synth.population.people import load_people
from synth.population.reference import DEFAULT_REFERENCE, SEXES, TAIL_PROBABILITY, load_reference
from synth.population.sampler import shape_sampler
from synth.population.surrogate import DERIVED_FROM, PRIMITIVES, log_measures, with_derived

HEADER = "sex,measure,statistic,value\n"
FOLDED_FACES = 0.003  # share of triangles facing away from their neutral-body direction
SELF_OVERLAP = 0.02  # share of the volume enclosed twice (see _self_overlap)
BAD_TABLES = [
    ("sex,measure,statistic\nmale,height_m,p50\n", "header is sex,measure,statistic"),
    (HEADER + "man,height_m,p50,1.7\n", "sex 'man'"),
    (HEADER + "male,height_cm,p50,170\n", "unknown measure 'height_cm'"),
    (HEADER + "male,height_m,p50,tall\n", "'tall' is not a number"),
    (HEADER + "male,bmi_kg_m2,share_ge_30,39\n", r"fraction in \[0, 1\]"),
    (HEADER + "male,height_m,p5,1.8\nmale,height_m,p50,1.7\n", "not increasing"),
    (HEADER + "male,height_m,p50,1.7\nmale,height_m,p50,1.8\n", "given twice"),
    (HEADER + "male,height_m,median,1.7\n", "statistic 'median'"),
    (HEADER + "male,height_m,p50,1.7,extra\n", "5 fields"),
    (HEADER + "male,height_m,p150,1.7\n", "p0 to p100"),
    (HEADER, "no data rows"),
    ("# only a comment\n", "no rows"),
]


@pytest.mark.parametrize("text,words", BAD_TABLES)
def test_bad_reference_table_is_one_line(tmp_path, text, words):
    path = tmp_path / "ref.csv"
    path.write_text(text)
    with pytest.raises(SynthError, match=words) as err:
        load_reference(str(path))
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_unreadable_or_missing_reference_is_one_line(tmp_path):
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(SynthError, match="UTF-8"):
        load_reference(str(binary))
    with pytest.raises(SynthError, match=f"bundled name \\({DEFAULT_REFERENCE}\\)"):
        load_reference(str(tmp_path / "missing.csv"))


def test_bundled_reference_quantiles_pass_through_their_anchors():
    table = load_reference(DEFAULT_REFERENCE)
    assert "doi:10.15620/cdc/174595" in table.citation
    for sex in SEXES:
        for measure in table.measures():
            marginal = table.marginal(sex, measure)
            assert np.allclose(marginal.quantile(np.array(marginal.probabilities)), marginal.values)
            u = np.linspace(0.01, 0.99, 50)
            values = marginal.quantile(u)
            if len(marginal.values) > 1:
                assert np.all(np.diff(values) > 0)
    bmi = table.marginal("female", "bmi_kg_m2")
    assert bmi.quantile(np.array([1 - 0.413]))[0] == pytest.approx(30.0)  # share_ge_30 became an anchor


def test_job_with_a_bad_reference_is_one_cli_line(tmp_path):
    bad = tmp_path / "ref.csv"
    bad.write_text(HEADER + "male,height_m,p50,abc\n")
    result = CliRunner().invoke(main, ["build", "jobs/smoke.toml", "--out", str(tmp_path / "out"), "--workers", "0",
                                       "--set", f'shape.reference="{bad}"'])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "shape.reference" in result.output and "'abc' is not a number" in result.output


def test_reference_needs_anny_body_space():
    with pytest.raises(SynthError, match='shape.reference = "none"'):
        spec_from_dict({"body_model": {"name": "smpl"}})
    with pytest.raises(SynthError, match="calibrates Anny's body shape space only"):
        spec_from_dict({"body_model": {"shape_space": "phenotypes"}})
    assert spec_from_dict({"body_model": {"name": "smpl"}, "shape": {"reference": "none"}}).shape.reference == "none"


@pytest.fixture(scope="module")
def calibrated(anny_model):
    return shape_sampler(anny_model, ShapePrior(age_years=(18.0, 80.0)), DEFAULT_REFERENCE, "ansur2")


def _rngs(indices) -> list[np.random.Generator]:
    return [np.random.Generator(np.random.Philox(np.random.SeedSequence(3, spawn_key=(i,)))) for i in indices]


def test_calibrated_row_depends_only_on_its_own_generator(calibrated):
    together = calibrated.sample(_rngs(range(12)))
    alone = np.concatenate([calibrated.sample(_rngs([i])) for i in range(12)])
    reordered = calibrated.sample(_rngs(reversed(range(12))))
    assert np.array_equal(together, alone) and np.array_equal(together, reordered[::-1])
    assert np.array_equal(together, calibrated.sample(_rngs(range(12))))


def test_calibrated_sampler_hits_both_references_on_its_surrogate(calibrated):
    """The solver's part, measured with the surrogate (the measured 4,000-body build is in the
    README): NHANES marginals within 3 %, ANSUR II girths at fixed size within the bars."""
    fit = calibrated.draw(_rngs(range(2000)))
    predicted = fit.predicted
    female = calibrated.levers.is_female(fit.shapes)
    table = calibrated.reference
    for sex, rows in (("male", ~female), ("female", female)):
        for measure in ("height_m", "bmi_kg_m2"):
            for percent, value in table.percentiles[(sex, measure)].items():
                assert np.percentile(predicted[measure][rows], percent) == pytest.approx(value, rel=0.03)
        for threshold, share in table.shares[(sex, "bmi_kg_m2")].items():
            assert abs((predicted["bmi_kg_m2"][rows] >= threshold).mean() - share) < 0.03
    values = {**predicted, "age_years": calibrated.model.age_years(fit.shapes)}
    report = compare_people(Measured(np.where(female, "female", "male"), values), load_people("ansur2"))
    assert {(r.sex, r.measure) for r in report.rows} == {(sex, g) for sex in SEXES for g in GIRTHS}
    assert all(r.ok for r in report.rows), [r for r in report.rows if not r.ok]
    assert fit.reached(2.0).mean() > 0.85


def test_fit_slopes_equal_differencing_every_measure_again(calibrated):
    """log_measures reuses the derived measures where a differenced primitive does not move
    them, and leaves the Navy estimate out unless asked: the same bits as recomputing all."""
    surrogate = calibrated.fitter.surrogate
    shapes = calibrated.sample(_rngs(range(8))).astype(np.float64)
    female = calibrated.levers.is_female(shapes)
    tangents = np.random.default_rng(0).normal(size=(len(shapes), shapes.shape[1], 3))
    logs, slopes = surrogate.log_primitives(shapes, tangents)

    def every_measure(point, names):
        values = with_derived(dict(zip(PRIMITIVES, np.exp(point).T)), female)
        return np.log(np.maximum(np.stack([values[n] for n in names], 1), 1e-12))

    for names in (("height_m", "bmi_kg_m2", *GIRTHS),
                  ("mass_kg", "body_fat_pct", "body_fat_navy_pct", "hip_circumference_m")):
        chain = np.zeros((len(shapes), len(names), len(PRIMITIVES)))
        for p, primitive in enumerate(PRIMITIVES):
            step = np.where(np.arange(len(PRIMITIVES)) == p, 1e-6, 0.0)
            if primitive in DERIVED_FROM:
                chain[:, :, p] = (every_measure(logs + step, names) - every_measure(logs - step, names)) / 2e-6
            else:
                chain[:, [k for k, n in enumerate(names) if n == primitive], p] = 1.0
        out, derivatives = log_measures(logs, female, names, slopes)
        assert np.array_equal(out, every_measure(logs, names))
        assert np.array_equal(derivatives, np.einsum("ntp,npl->ntl", chain, slopes))


def test_surrogate_agrees_with_the_measurer(calibrated, anny_model):
    shapes = calibrated.sample(_rngs(range(100, 124)))
    measured = BodyMeasurer(anny_model).measure_shapes(shapes)
    predicted = calibrated.fitter.surrogate.predict(shapes.astype(np.float64), calibrated.levers.is_female(shapes))
    for name in ("height_m", "mass_kg", "body_fat_pct", *GIRTHS):
        truth = np.array([getattr(m, name) for m in measured])
        error = np.abs(np.log(predicted[name] / truth))
        assert np.isfinite(truth).all() and error.mean() < 0.015 and error.max() < 0.05, (name, error.max())


def _extreme_bodies(calibrated, model) -> tuple[np.ndarray, np.ndarray]:
    """Two men and two women, each at the reference's extreme heights and BMIs (P0.5 and
    P99.5: the corners of the sampled range) with the girths of their size. Returns shapes
    (16, S) and their height and BMI targets (16, 2)."""
    style = model.sample_shapes(_rngs(range(4)), ShapePrior())
    style[:, model.shape_space.labels.index("gender")] = [0.1, 0.4, 0.6, 0.9]
    rows = np.repeat(style, 4, axis=0)
    corners = np.array([[u, v] for u in (TAIL_PROBABILITY, 1 - TAIL_PROBABILITY)
                        for v in (TAIL_PROBABILITY, 1 - TAIL_PROBABILITY)] * 4)
    targets = calibrated.targets(rows, corners, np.zeros((len(rows), len(GIRTHS))))
    fit = calibrated.fitter.fit(rows, targets)
    return fit.shapes.astype(np.float32), np.stack([targets["height_m"], targets["bmi_kg_m2"]], 1)


def _self_overlap(mesh: trimesh.Trimesh, levels: int = 60) -> float:
    """Share of the body's volume enclosed twice: over horizontal slices, the area where the
    section's loops overlap each other over the area of their union (0 for a surface without
    self-intersections, up to slicing noise through fingers)."""
    low, high = mesh.bounds[:, 1]
    sections = mesh.section_multiplane([0, 0, 0], [0, 1.0, 0], np.linspace(low + 0.005, high - 0.005, levels))
    union_area = overlap_area = 0.0
    for section in sections:
        if section is None:
            continue
        loops = [p.buffer(0) for p in section.polygons_closed if p is not None]
        union = unary_union(loops).area
        union_area, overlap_area = union_area + union, overlap_area + sum(p.area for p in loops) - union
    return overlap_area / union_area


def test_meshes_stay_valid_at_the_corners_of_the_sampled_range(calibrated, anny_model):
    shapes, targets = _extreme_bodies(calibrated, anny_model)
    measurer = BodyMeasurer(anny_model)
    vertices, _ = measurer.rest_bodies(shapes)
    neutral = trimesh.Trimesh(measurer.rest_bodies(anny_model.neutral_shape()[None])[0][0], anny_model.faces,
                              process=False)
    assert measurer.topology.watertight  # the topology is closed; the checks below are about the geometry
    for body in vertices:
        mesh = trimesh.Trimesh(body, anny_model.faces, process=False)
        flipped = (np.einsum("ij,ij->i", mesh.face_normals, neutral.face_normals) < -0.5).mean()
        assert flipped < FOLDED_FACES  # no folded-over (exploded or inside-out) patches
        assert _self_overlap(mesh) < SELF_OVERLAP  # no interpenetrating thighs, belly or arms
    measured = measurer.measure_shapes(shapes)
    predicted = calibrated.fitter.surrogate.predict(shapes.astype(np.float64), calibrated.levers.is_female(shapes))
    for k, m in enumerate(measured):
        assert np.isfinite([m.height_m, m.waist_iliac_circumference_m, m.hip_circumference_m, m.mass_kg]).all()
        assert 12.0 < m.bmi_kg_m2 < 75.0 and 1.3 < m.height_m < 2.1
        # the surrogate still steers correctly out here (a style that cannot reach a target is redrawn in sampling)
        assert m.height_m == pytest.approx(predicted["height_m"][k], rel=0.03)
        assert m.bmi_kg_m2 == pytest.approx(predicted["bmi_kg_m2"][k], rel=0.12)
    reached = np.array([[m.height_m, m.bmi_kg_m2] for m in measured]) / targets
    assert np.median(np.abs(reached - 1.0)) < 0.05


def test_mass_is_siri_density_times_tissue_volume():
    assert siri_density_kg_m3(20.0) == pytest.approx(495000 / 470)
    assert siri_density_kg_m3(float("nan")) == siri_density_kg_m3(2.0) == siri_density_kg_m3(-5.0)
    assert siri_density_kg_m3(90.0) == siri_density_kg_m3(60.0)
    densities = siri_density_kg_m3(np.array([5.0, 15.0, 30.0, 45.0]))
    assert np.all(np.diff(densities) < 0)  # fatter bodies float
    assert body_mass_kg(0.0724, 20.0) == pytest.approx(0.07 * 495000 / 470)  # 2.4 L of lung gas is not tissue


def test_iliac_waist_is_the_trunk_tape_at_the_iliac_level(calibrated, anny_model):
    shapes = calibrated.sample(_rngs(range(200, 206)))
    measurer = BodyMeasurer(anny_model)
    vertices, joints = measurer.rest_bodies(shapes)
    sk = anny_model.skeleton
    trunk = measurer.topology.faces["trunk"]
    for body, joint, shape in zip(vertices, joints, shapes):
        m = measurer.measure(body, joint, anny_model.female_fraction(shape))
        hip_y = joint[[sk.index(n) for n in sk.hip], 1].mean()
        shoulder_y = joint[[sk.index(n) for n in sk.shoulder], 1].mean()
        level = hip_y + 0.27 * (shoulder_y - hip_y)
        assert 0.56 < (level - body[:, 1].min()) / m.height_m < 0.63  # iliac crest: ~0.60 of stature
        tape = section_hull(trimesh.Trimesh(body, trunk, process=False), np.array([0, level, 0]), np.array([0, 1.0, 0]))
        assert loop_length(tape) == pytest.approx(m.waist_iliac_circumference_m, abs=1e-4)  # qhull's hull
        assert m.waist_iliac_circumference_m < m.hip_circumference_m * 1.3


def test_people_tables_read_the_public_ansur_files_as_they_are():
    people = load_people("ansur2")
    assert len(people) == 6068 and (people.sex == "male").sum() == 4082
    assert people.values["height_m"].mean() == pytest.approx(1.714, abs=0.01)  # stature in mm -> m
    assert people.values["mass_kg"].mean() == pytest.approx(79.7, abs=0.5)  # weightkg in tenths of a kg
    assert set(GIRTHS) <= set(people.values)


BAD_PEOPLE = [
    ("height_m,mass_kg\n1.7,70\n", "no sex column"),
    ("sex,height_m\nmale,1.7\n", "no mass_kg"),
    ("sex,height_m,mass_kg\nmale,170,70\n", "row 2 .*column height_m: 170 .*check the unit"),
    ("Gender,stature,weightkg\nMale,1750,815\nFemale,175,600\n", "row 3 .*column stature: 175 .*mm"),
    ("sex,height_m,mass_kg,chest_circumference_m\nmale,1.7,70,-1\n", "column chest_circumference_m"),
    ("sex,height_m,mass_kg\nrobot,1.7,70\n", "'robot' is not a sex"),
    ("sex,height_m,mass_kg\nfemale,1.6,\n", "column mass_kg: empty"),
    ("sex,height_m,mass_kg\nfemale,1.6,heavy\n", "'heavy' is not a number"),
]


@pytest.mark.parametrize("text,words", BAD_PEOPLE)
def test_bad_people_table_is_one_line_naming_row_and_column(tmp_path, text, words):
    path = tmp_path / "people.csv"
    path.write_text(text)
    with pytest.raises(SynthError, match=words) as err:
        load_people(path)
    assert "\n" not in str(err.value)


def test_conditional_comparison_finds_a_known_bias_and_spread():
    """Real people against themselves: no bias, ratios 1; with every chest 30 mm larger and the
    hip residuals doubled, the table says exactly that."""
    people = load_people("ansur2")
    same = Measured(people.sex, {**people.values, "age_years": people.age_years})
    for row in compare_people(same, people).rows:
        assert abs(row.bias_mm) < 0.5 and row.spread_ratio == pytest.approx(1.0) and row.rmse_ratio < 1.01
    values = dict(same.values)
    values["chest_circumference_m"] = values["chest_circumference_m"] + 0.03
    hip = values["hip_circumference_m"]
    for sex in SEXES:
        rows = people.sex == sex
        x = np.stack([np.ones(rows.sum()), values["height_m"][rows], values["mass_kg"][rows]], 1)
        fitted = x @ np.linalg.lstsq(x, hip[rows], rcond=None)[0]
        hip = hip.copy()
        hip[rows] = fitted + 2.0 * (hip[rows] - fitted)
    values["hip_circumference_m"] = hip
    report = {(r.sex, r.measure): r for r in compare_people(Measured(people.sex, values), people).rows}
    for sex in SEXES:
        assert report[(sex, "chest_circumference_m")].bias_mm == pytest.approx(30.0, abs=0.5)
        assert 1.9 < report[(sex, "hip_circumference_m")].spread_ratio < 2.1
        assert not report[(sex, "chest_circumference_m")].ok


def test_girth_model_draws_the_people_own_spread_and_correlation():
    people = load_people("ansur2")
    model = fit_girths(people)
    rng = np.random.default_rng(0)
    n = 20000
    drawn = model.draw("male", np.full(n, 1.76), np.full(n, 85.0), np.full(n, 30.0), rng.standard_normal((n, 6)))
    logs = np.log(drawn)
    covariance = model.cholesky["male"] @ model.cholesky["male"].T
    assert np.cov(logs, rowvar=False) == pytest.approx(covariance, abs=2e-4)
    correlation = np.corrcoef(logs, rowvar=False)
    assert correlation[2, 4] > 0.4 and correlation[0, 4] < -0.2  # at one size: hips with thighs, chest against them
    chest = np.exp(model.mean("male", np.array([1.76]), np.array([85.0]), np.array([30.0])))[0, 0]
    assert 0.95 < chest < 1.1


def test_body_fat_check_holds_labels_to_dxa():
    """Labels scattered about DXA's means pass; a sex 4 points too fat, a heavy median out of
    its band or one label above 60 % fails; a dataset without the label has no check."""
    rng = np.random.default_rng(0)
    sexes = np.repeat(np.array(SEXES), 500)
    bmi = np.tile(np.linspace(18.0, 45.0, 500), 2)
    fat = 0.5 * (bmi - 30.0) + rng.normal(0, 1, 1000)
    for sex in SEXES:  # each sex's mean exactly DXA's
        fat[sexes == sex] += DXA_MEAN_PCT[sex] - fat[sexes == sex].mean()

    def checks(values):
        return {c.sex: c for c in check_body_fat(Measured(sexes, {"bmi_kg_m2": bmi, "body_fat_pct": values}))}

    good = checks(fat)
    assert all(c.ok for c in good.values()) and good["male"].mean_pct == pytest.approx(28.1)
    heavy = (sexes == "female") & (bmi >= 38.0) & (bmi <= 42.0)
    assert good["female"].heavy_subjects == heavy.sum()
    assert good["female"].heavy_median_pct == pytest.approx(np.median(fat[heavy]))
    fatter = checks(fat + 4.0 * (sexes == "female"))
    assert not fatter["female"].ok and fatter["male"].ok
    assert not checks(np.where(heavy, fat + 8.0, fat))["female"].ok  # its mean moves less than 3 points
    assert not checks(np.where(np.arange(1000) == 0, 61.0, fat))["male"].ok
    assert check_body_fat(Measured(sexes, {"bmi_kg_m2": bmi, "body_fat_pct": np.full(1000, np.nan)})) == []
    lean = checks(np.where(bmi < 38.0, fat, np.nan))  # no body at BMI 38-42: no median, nothing to judge there
    assert lean["male"].heavy_subjects == 0 and lean["male"].heavy_median_pct is None and lean["male"].ok


def test_population_report_plot_card_and_extremes(smoke_dataset, tmp_path):
    result = CliRunner().invoke(main, ["population", str(smoke_dataset), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "population.json").read_text())
    table = load_reference(DEFAULT_REFERENCE)
    cells = sum(len(v) for v in table.percentiles.values()) + sum(len(v) for v in table.shares.values())
    assert len(report["rows"]) == cells and report["subjects"]["male"] + report["subjects"]["female"] == 32
    import pyarrow.dataset as pads

    data = pads.dataset(sorted(map(str, smoke_dataset.glob("*.parquet"))), format="parquet").to_table(
        columns=["shape", "height_m"])
    female = np.asarray(data.column("shape").to_pylist())[:, 0] > 0.5
    heights = data.column("height_m").to_numpy()
    row = next(r for r in report["rows"] if r["sex"] == "male" and r["measure"] == "height_m"
               and r["statistic"] == "p50")
    assert row["synthetic"] == pytest.approx(np.percentile(heights[~female], 50))
    fat = pads.dataset(sorted(map(str, smoke_dataset.glob("*.parquet"))), format="parquet").to_table(
        columns=["body_fat_pct"]).column("body_fat_pct").to_numpy()
    means = {c["sex"]: c["mean_pct"] for c in report["body_fat"]}
    assert means == {"male": pytest.approx(np.nanmean(fat[~female])), "female": pytest.approx(np.nanmean(fat[female]))}
    assert "vs NHANES DXA" in (tmp_path / "population.md").read_text()
    assert Image.open(tmp_path / "population.png").size[0] > 500
    assert "Population vs reference" in (smoke_dataset / "README.md").read_text()
    preview = CliRunner().invoke(main, ["preview", str(smoke_dataset), "--out", str(tmp_path / "sheet.png")])
    assert preview.exit_code == 0 and (tmp_path / "sheet_bmi_extremes.png").is_file()
    assert Image.open(tmp_path / "sheet_bmi_extremes.png").size[1] == 8 * (128 + 14)


def test_population_against_measured_people_writes_table_plot_and_refuses_too_few(tmp_path):
    out = tmp_path / "data"
    built = CliRunner().invoke(main, ["build", "jobs/smoke.toml", "--out", str(out), "--workers", "0", "--no-progress",
                                      "--set", "job.subjects=60", "--set", "job.shard_size=30",
                                      "--set", "job.splits={train=1.0}", "--set", "camera.width=64",
                                      "--set", "camera.height=64", "--set", 'views.names=["front"]',
                                      "--set", "views.yaw_deg=[0.0]"])
    assert built.exit_code == 0, built.output
    result = CliRunner().invoke(main, ["population", str(out), "--reference", "ansur2", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "conditional_ansur2.json").read_text())
    assert report["with_age"] and {r["measure"] for r in report["rows"]} == set(GIRTHS)
    assert all(r["real"] > 1000 and r["synthetic"] >= 20 for r in report["rows"])
    assert "| male | chest |" in result.output
    assert Image.open(tmp_path / "r" / "conditional_ansur2.png").size[0] > 1000
    few = tmp_path / "few.csv"
    few.write_text("sex,height_m,mass_kg,hip_circumference_m\nmale,1.8,80,1.0\nfemale,1.6,60,1.0\n")
    result = CliRunner().invoke(main, ["population", str(out), "--reference", str(few), "--out", str(tmp_path / "f")])
    assert result.exit_code == 1 and "share no circumference" in result.output and "Traceback" not in result.output


def test_population_refuses_a_dataset_without_measurements(tmp_path):
    out = tmp_path / "data"
    built = CliRunner().invoke(main, ["build", "jobs/smoke.toml", "--out", str(out), "--workers", "0", "--no-progress",
                                      "--set", "labels.measurements=false", "--set", "job.subjects=4",
                                      "--set", "job.shard_size=4", "--set", "job.splits={train=1.0}"])
    assert built.exit_code == 0, built.output
    result = CliRunner().invoke(main, ["population", str(out)])
    assert result.exit_code == 1 and "labels.measurements" in result.output and "Traceback" not in result.output
