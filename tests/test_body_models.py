"""Body model backends: the smpl path on a generated model, Anny, capture-pose mapping."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from body_models import BodyModelSource, ShapePrior, SynthError, availability, create
from body_models.capture_pose import POSE_DOFS, CapturePoseMapper


def _capture(**degrees: float) -> np.ndarray:
    pose = np.zeros((1, len(POSE_DOFS)))
    for name, value in degrees.items():
        pose[0, POSE_DOFS.index(name)] = np.radians(value)
    return pose


def _arm_angles(model, capture: np.ndarray) -> tuple[float, float]:
    """Angles (deg) of the left and right upper arms from straight down, after posing."""
    mapper = CapturePoseMapper(model)
    native = torch.from_numpy(mapper.to_native(capture))
    joints = model.forward(torch.from_numpy(model.neutral_shape())[None], native).joints[0].numpy()
    sk = model.skeleton
    out = []
    for side in (0, 1):
        arm = joints[sk.index(sk.elbow[side])] - joints[sk.index(sk.shoulder[side])]
        out.append(np.degrees(np.arctan2(abs(arm[0]), -arm[1])))
    return out[0], out[1]


def test_smpl_backend_runs_on_generated_model(smpl_model):
    assert smpl_model.name == "smpl" and smpl_model.shape_space.size == 10
    assert smpl_model.pose_space.size == 72
    shapes = np.zeros((3, 10), np.float32)
    shapes[1, 0] = 2.0  # beta0 of the fixture makes the body taller
    out = smpl_model.forward(torch.from_numpy(shapes), torch.zeros(3, 72))
    assert out.vertices.shape == (3, 6890, 3) and out.joints.shape == (3, 24, 3)
    heights = out.vertices[:, :, 1].amax(1) - out.vertices[:, :, 1].amin(1)
    assert heights[1] > heights[0] * 1.05


def _smpl_source(anny_source, model_path, gender: str) -> BodyModelSource:
    return BodyModelSource(anny_cache=anny_source.anny_cache, model_path=model_path, gender=gender)


def test_mixed_gender_poses_each_body_with_its_own_file(smpl_dir, anny_source):
    mixed = create("smpl", _smpl_source(anny_source, smpl_dir, "mixed"))
    female, male = (create("smpl", _smpl_source(anny_source, smpl_dir, g)) for g in ("female", "male"))
    assert mixed.shape_space.labels[-1] == "female" and mixed.shape_space.size == 11
    assert "mixed" in mixed.version and mixed.version not in (female.version, male.version)
    shapes = mixed.sample_shapes([np.random.default_rng(k) for k in range(64)], ShapePrior())
    flags = shapes[:, -1]
    assert set(flags) == {0.0, 1.0} and 0.25 < flags.mean() < 0.75
    alone = np.concatenate([mixed.sample_shapes([np.random.default_rng(k)], ShapePrior()) for k in range(64)])
    assert np.array_equal(shapes, alone)
    pose = torch.zeros(64, 72)
    out = mixed.forward(torch.from_numpy(shapes), pose).vertices
    by_file = {1.0: female.forward(torch.from_numpy(shapes[:, :-1]), pose).vertices,
               0.0: male.forward(torch.from_numpy(shapes[:, :-1]), pose).vertices}
    for i, flag in enumerate(flags):
        assert torch.equal(out[i], by_file[float(flag)][i])
        assert mixed.female_fraction(shapes[i]) == flag


def test_mixed_gender_needs_both_files_of_one_mesh(tmp_path, anny_source):
    from smpl_fixture import smpl_arrays, write_plain_pickle

    write_plain_pickle(tmp_path / "smpl" / "SMPL_FEMALE.pkl", smpl_arrays())
    source = _smpl_source(anny_source, tmp_path, "mixed")
    state = availability("smpl", source)
    assert not state.usable and "SMPL_MALE" in state.detail
    with pytest.raises(SynthError, match="SMPL_MALE"):
        create("smpl", source)
    other = smpl_arrays()
    other["f"] = other["f"][:, ::-1].copy()  # same vertices, other triangles
    write_plain_pickle(tmp_path / "smpl" / "SMPL_MALE.pkl", other)
    assert availability("smpl", source).usable
    with pytest.raises(SynthError, match="different meshes"):
        create("smpl", source)


@pytest.mark.parametrize("backend", ["smpl_model", "anny_model"])
def test_capture_pose_means_the_same_on_every_backend(backend, request):
    model = request.getfixturevalue(backend)
    for target in (20.0, 40.0):
        left, right = _arm_angles(model, _capture(shoulder_abduction_l=target, shoulder_abduction_r=target))
        assert left == pytest.approx(target, abs=1.5) and right == pytest.approx(target, abs=1.5)


def test_anny_frame_is_y_up_facing_z(anny_model):
    out = anny_model.forward(torch.from_numpy(anny_model.neutral_shape())[None],
                             torch.from_numpy(anny_model.rest_pose())[None])
    v = out.vertices[0].numpy()
    sk = anny_model.skeleton
    joints = out.joints[0].numpy()
    head, foot = joints[sk.index("head")], joints[sk.index(sk.ankle[0])]
    assert head[1] - foot[1] > 1.2  # +y is up
    assert joints[sk.index(sk.shoulder[0])][0] > 0  # left is +x
    nose_side = v[v[:, 1] > head[1]]  # the face bulges toward +z
    assert nose_side[:, 2].max() > -nose_side[:, 2].min()


def test_anny_shapes_are_reproducible_and_in_range(anny_model):
    prior = ShapePrior(age_years=(20.0, 60.0))
    a = anny_model.sample_shapes([np.random.default_rng(k) for k in range(32)], prior)
    b = anny_model.sample_shapes([np.random.default_rng(k) for k in range(32)], prior)
    low, high = anny_model.shape_space.bounds()
    assert np.array_equal(a, b) and a.shape == (32, 35) and anny_model.version.endswith("/body-2")
    assert (a >= low).all() and (a <= high).all() and a.std(0).min() > 0.01
    assert low[11:].max() == -1 and high[:11].max() == 1  # local targets in [-1, 1], phenotypes in [0, 1]


def test_anny_body_space_contains_the_phenotype_space(anny_model, anny_source):
    """The default body space at cupsize/firmness 0.5, even ancestry and local targets 0 is the
    6-phenotype model, vertex for vertex; the phenotype space is still available."""
    phenotypes = create("anny", dataclasses.replace(anny_source, anny_space="phenotypes"))
    assert phenotypes.shape_space.size == 6 and phenotypes.version == anny_model.version.split("/")[0]
    six = np.random.default_rng(0).random((3, 6)).astype(np.float32)
    body = np.concatenate([six, np.full((3, 5), 0.5), np.zeros((3, 24))], 1).astype(np.float32)
    rest = torch.zeros(3, anny_model.pose_space.size)
    assert torch.allclose(phenotypes.forward(torch.from_numpy(six), rest).vertices,
                          anny_model.forward(torch.from_numpy(body), rest).vertices, atol=1e-6)
    with pytest.raises(SynthError, match="expected one of body, phenotypes"):
        create("anny", dataclasses.replace(anny_source, anny_space="faces"))


def test_a_shape_row_depends_only_on_its_own_generator(anny_model):
    prior = ShapePrior(age_years=(20.0, 60.0))
    together = anny_model.sample_shapes([np.random.default_rng(k) for k in range(8)], prior)
    alone = np.concatenate([anny_model.sample_shapes([np.random.default_rng(k)], prior) for k in range(8)])
    reordered = anny_model.sample_shapes([np.random.default_rng(k) for k in reversed(range(8))], prior)
    assert np.array_equal(together, alone) and np.array_equal(together, reordered[::-1])


@pytest.mark.parametrize("share", [0.0, 0.2, 0.5, 1.0])
def test_female_share_sets_the_sex_ratio(anny_model, smpl_dir, anny_source, share):
    prior = ShapePrior(female_share=share)
    rngs = [np.random.default_rng(k) for k in range(2000)]
    genders = anny_model.sample_shapes(rngs, prior)[:, anny_model.shape_space.labels.index("gender")]
    assert abs((genders > 0.5).mean() - share) < 0.04 and genders.min() >= 0 and genders.max() <= 1
    halves = [g for g in (genders[genders <= 0.5], genders[genders > 0.5] - 0.5) if g.size > 50]
    assert all(abs(h.mean() - 0.25) < 0.04 for h in halves)  # uniform within each half
    mixed = create("smpl", _smpl_source(anny_source, smpl_dir, "mixed"))
    flags = mixed.sample_shapes([np.random.default_rng(k) for k in range(2000)], prior)[:, -1]
    assert abs(flags.mean() - share) < 0.04


def test_missing_smpl_file_names_where_it_looked(tmp_path, anny_source):
    source = BodyModelSource(anny_cache=anny_source.anny_cache, model_path=tmp_path)
    with pytest.raises(SynthError) as err:
        create("smplx", source)
    message = str(err.value)
    assert str(tmp_path / "smplx" / "SMPLX_NEUTRAL.npz") in message and "smpl-x.is.tue.mpg.de" in message
    state = availability("smplx", source)
    assert not state.usable and "SMPLX_NEUTRAL" in state.detail


def test_unknown_backend_is_refused(anny_source):
    with pytest.raises(SynthError, match="available: anny"):
        create("mano", anny_source)
