"""Measurements: tape circumferences on closed-form shapes, the body-fat equations, the batched
measurer against the reference one, and monotonic sanity on bodies."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial import ConvexHull
import trimesh

from body_models import BodyModel, ParamSpace, ShapePrior, Skeleton
from synth.measurements import (MEASUREMENT_NAMES, BodyMeasurer, ReferenceMeasurer, body_mass_kg, loop_length,
                                navy_body_fat_pct, rfm_body_fat_pct, section_hull, signed_volumes)
from synth.measurements.hull import hull_perimeters

UP = np.array([0.0, 1.0, 0.0])


def _ellipse_perimeter(a: float, b: float) -> float:
    h = ((a - b) / (a + b)) ** 2  # Ramanujan
    return math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))


def test_tape_around_a_cylinder_and_an_ellipsoid():
    cylinder = trimesh.creation.cylinder(radius=0.15, height=1.0, sections=128)
    z = np.array([0, 0, 1.0])
    assert loop_length(section_hull(cylinder, np.zeros(3), z)) == pytest.approx(2 * math.pi * 0.15, rel=0.005)
    a, b, c = 0.16, 0.11, 0.3
    ellipsoid = trimesh.creation.icosphere(subdivisions=5)
    ellipsoid.apply_scale([a, b, c])
    assert loop_length(section_hull(ellipsoid, np.zeros(3), z)) == pytest.approx(_ellipse_perimeter(a, b), rel=0.005)
    volume = signed_volumes(ellipsoid.vertices[None], ellipsoid.faces)[0]
    assert volume == pytest.approx(4 / 3 * math.pi * a * b * c, rel=0.005)


def test_tape_bridges_hollows():
    """A star-shaped prism (five points 0.2 m out, hollows 0.08 m in): the tape runs around the
    points, a regular pentagon, never into the hollows."""
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 0.2, 0.08)
    ring = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    vertices = np.concatenate([np.c_[ring, np.zeros(10)], np.c_[ring, np.ones(10)], [[0, 0, 0], [0, 0, 1]]])
    k, after = np.arange(10), (np.arange(10) + 1) % 10
    faces = np.concatenate([np.stack([k, after, 10 + after], 1), np.stack([k, 10 + after, 10 + k], 1),
                            np.stack([np.full(10, 20), after, k], 1), np.stack([np.full(10, 21), 10 + k, 10 + after], 1)])
    star = trimesh.Trimesh(vertices, faces, process=False)
    tape = loop_length(section_hull(star, np.array([0, 0, 0.5]), np.array([0, 0, 1.0])))
    assert tape == pytest.approx(10 * 0.2 * math.sin(math.pi / 5), rel=1e-6)  # the pentagon's perimeter


def test_batched_hull_perimeters_match_qhull():
    rng = np.random.default_rng(3)
    sets = [rng.normal(size=(n, 2)) * [0.15, 0.1] for n in (3, 17, 240, 2)]
    points = np.concatenate(sets)
    sections = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    batched = hull_perimeters(points, sections, len(sets))
    for got, one in zip(batched[:3], sets[:3]):
        assert got == pytest.approx(loop_length(one[ConvexHull(one).vertices]), abs=4e-5)  # qhull's hull
    assert math.isnan(batched[3])  # two points are no loop


def test_rfm_and_navy_equations_match_published_examples():
    # RFM (Woolcott & Bergman 2018): 64 - 20 height / waist + 12 female
    assert rfm_body_fat_pct(1.78, 0.90, 0.0) == pytest.approx(64 - 20 * 1.78 / 0.90)
    assert rfm_body_fat_pct(1.65, 0.80, 1.0) == pytest.approx(76 - 20 * 1.65 / 0.80)
    assert math.isnan(rfm_body_fat_pct(1.7, 0.0, 0.0))
    # Navy: man neck 38, abdomen 90, height 178 cm -> about 20 %; woman neck 33, waist 76, hip 100, 165 cm -> ~30 %
    assert navy_body_fat_pct(0.38, 0.90, 0.80, 1.00, 1.78, female=0.0) == pytest.approx(20.1, abs=0.3)
    assert navy_body_fat_pct(0.33, 0.90, 0.76, 1.00, 1.65, female=1.0) == pytest.approx(30.0, abs=1.0)
    assert np.isnan(navy_body_fat_pct(0.40, 0.38, 0.38, 0.45, 1.75, female=0.0))  # abdomen narrower than neck


def _measure_varying(model, base: np.ndarray, component: int, values) -> list:
    shapes = np.tile(base, (len(values), 1)).astype(np.float32)
    shapes[:, component] = values
    return BodyMeasurer(model).measure_shapes(shapes)


def test_heavier_anny_has_larger_girths_mass_and_body_fat(anny_model):
    weight = anny_model.shape_space.labels.index("weight")
    light, heavy = _measure_varying(anny_model, anny_model.neutral_shape(), weight, [0.2, 0.9])
    assert heavy.waist_navel_circumference_m > light.waist_navel_circumference_m + 0.03
    assert heavy.mass_kg > light.mass_kg and heavy.body_fat_pct > light.body_fat_pct
    for name in MEASUREMENT_NAMES:
        if name != "body_fat_navy_pct":
            assert math.isfinite(getattr(light, name)) and getattr(light, name) > 0, name
    assert 0.5 < light.waist_circumference_m < light.waist_navel_circumference_m + 0.05 < 1.4


def test_wider_smpl_has_larger_waist(smpl_model):
    narrow, wide = _measure_varying(smpl_model, smpl_model.neutral_shape(), 1, [0.0, 3.0])
    assert wide.waist_circumference_m > narrow.waist_circumference_m
    assert wide.volume_m3 > narrow.volume_m3 > 0


def test_batched_measurer_matches_the_reference_on_sampled_bodies(anny_model):
    """Every label of the batched measurer within 0.5 mm (volume 0.1 %, body fat 0.05
    points) of the one-body reference, on bodies from lean to the heaviest the levers make."""
    from synth.population.levers import LeverMap
    from synth.sampling.rng import subject_rng

    levers = LeverMap(anny_model)
    rngs = [subject_rng(11, i) for i in range(24)]
    style = anny_model.sample_shapes(rngs, ShapePrior(age_years=(18.0, 80.0)))
    z = levers.neutral(len(style))
    z[:, 0] = np.linspace(0.0, 1.0, len(style))
    z[:, 1] = np.linspace(-0.8, 2.0, len(style))  # BMI ~14 to beyond 50
    shapes = levers.apply(style, z).astype(np.float32)
    fast = BodyMeasurer(anny_model)
    reference = ReferenceMeasurer(anny_model, fast.topology)
    vertices, joints = fast.rest_bodies(shapes)
    female = np.array([anny_model.female_fraction(s) for s in shapes])
    batched = fast.measure_bodies(vertices, joints, female)
    assert min(m.bmi_kg_m2 for m in batched) < 17 and max(m.bmi_kg_m2 for m in batched) > 45
    for got, v, j, f in zip(batched, vertices, joints, female):
        want = reference.measure(v, j, f)
        for name in MEASUREMENT_NAMES:
            a, b = getattr(got, name), getattr(want, name)
            if name.endswith("_m"):
                assert a == pytest.approx(b, abs=5e-4), name
            elif name == "volume_m3":
                assert a == pytest.approx(b, rel=1e-3), name
            elif name.endswith("_pct"):
                assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=0.05), name


def test_chest_tape_leaves_arms_that_touch_the_torso_out(anny_model):
    """The heaviest body's arms meet its torso at the bust in the rest pose; the chest tape
    goes around the torso only (the arms are another region), as a tape under the arms does."""
    from synth.population.levers import LeverMap

    levers = LeverMap(anny_model)
    z = levers.neutral(1)
    z[0, 1] = 2.0
    shape = levers.apply(anny_model.neutral_shape()[None], z)
    measurer = BodyMeasurer(anny_model)
    reference = ReferenceMeasurer(anny_model, measurer.topology)
    vertices, joints = measurer.rest_bodies(shape)
    tape = reference.tapes(vertices[0], joints[0], 0.0)["chest_circumference_m"]
    level = tape[:, 1].mean()
    whole = section_hull(trimesh.Trimesh(vertices[0], anny_model.faces, process=False), np.array([0, level, 0]), UP)
    assert loop_length(whole) > loop_length(tape) + 0.1  # the body's whole section takes the arms in
    arms = measurer.topology.regions["trunk"] == 0
    assert np.ptp(tape[:, 0]) < np.ptp(vertices[0][arms & (np.abs(vertices[0][:, 1] - level) < 0.01), 0])


class _TwoPrismTorso(BodyModel):
    """A closed-form 'body': an ellipsoidal pelvis (radii 0.18 x 0.12 x 0.14 m, centre at
    y = 0.80, so its equator at the back is the rearmost surface) inside the bottom of an
    elliptic torso prism (y 0.70-1.50, radii 0.15 x 0.10 m). Joints: hips at y = 0.85,
    shoulders at 1.45, spine inside the torso; every vertex skinned to the spine."""

    name, version = "prisms", "test"
    PELVIS, TORSO = (0.18, 0.14), (0.15, 0.10)

    def __init__(self) -> None:
        pelvis = trimesh.creation.icosphere(subdivisions=5)
        pelvis.apply_scale([self.PELVIS[0], 0.12, self.PELVIS[1]])
        pelvis.apply_translation([0.0, 0.80, 0.0])
        torso = trimesh.creation.cylinder(radius=1.0, height=0.80, sections=512)
        torso.apply_scale([self.TORSO[0], self.TORSO[1], 1.0])
        torso.apply_transform(trimesh.transformations.rotation_matrix(-math.pi / 2, [1, 0, 0]))
        torso.apply_translation([0.0, 1.10, 0.0])
        body = trimesh.util.concatenate([pelvis, torso])
        self._vertices = torch.tensor(body.vertices, dtype=torch.float32)
        self.faces = np.asarray(body.faces, np.int64)
        names = ("spine", "hip.L", "hip.R", "knee.L", "knee.R", "shoulder.L", "shoulder.R", "elbow.L", "elbow.R",
                 "neck", "head", "wrist.L", "wrist.R", "ankle.L", "ankle.R")
        parents = {"spine": -1, "hip.L": 0, "hip.R": 0, "knee.L": 1, "knee.R": 2, "shoulder.L": 0, "shoulder.R": 0,
                   "elbow.L": 5, "elbow.R": 6, "neck": 0, "head": 9, "wrist.L": 7, "wrist.R": 8, "ankle.L": 3,
                   "ankle.R": 4}
        spots = {"hip.L": (0.08, 0.85), "hip.R": (-0.08, 0.85), "knee.L": (0.08, 0.45), "knee.R": (-0.08, 0.45),
                 "shoulder.L": (0.14, 1.45), "shoulder.R": (-0.14, 1.45), "elbow.L": (0.3, 1.2),
                 "elbow.R": (-0.3, 1.2), "spine": (0.0, 1.2), "neck": (0.0, 1.5), "head": (0.0, 1.6)}
        self._joints = torch.tensor([[spots.get(n, (0.0, 0.1))[0], spots.get(n, (0.0, 0.1))[1], 0.0] for n in names])
        self.joint_parents = np.array([parents[n] for n in names])
        self.skin_joints = np.zeros(len(body.vertices), np.int64)
        self.skeleton = Skeleton(names, ("shoulder.L", "shoulder.R"), ("elbow.L", "elbow.R"), ("wrist.L", "wrist.R"),
                                 ("hip.L", "hip.R"), ("knee.L", "knee.R"), ("ankle.L", "ankle.R"), ("spine",),
                                 ("neck", "head"))
        self.shape_space = ParamSpace("shape", ("size",), 0.0, 1.0, "unitless")
        self.pose_space = ParamSpace("pose", ("none",), 0.0, 0.0, "radians")
        self.native_to_world = np.eye(3)

    def _forward_native(self, shape, pose):
        return self._vertices.expand(len(shape), -1, -1), self._joints.expand(len(shape), -1, -1)

    def sample_shapes(self, rngs, prior):
        return np.zeros((len(rngs), 1), np.float32)

    def female_fraction(self, shape):
        return 0.0


def test_iliac_waist_and_buttock_hip_on_closed_form_prisms():
    model = _TwoPrismTorso()
    m = BodyMeasurer(model).measure_shapes(np.zeros((1, 1), np.float32))[0]
    # iliac level: 0.85 + 0.27 * (1.45 - 0.85) = 1.012 m, inside the torso prism
    assert m.waist_iliac_circumference_m == pytest.approx(_ellipse_perimeter(*model.TORSO), rel=0.002)
    # hip: at the rearmost point between the hip joints, the pelvis's equator
    assert m.hip_circumference_m == pytest.approx(_ellipse_perimeter(*model.PELVIS), rel=0.005)
    assert m.mass_kg == pytest.approx(body_mass_kg(m.volume_m3, m.body_fat_pct), rel=1e-9)
    assert m.body_fat_pct == pytest.approx(rfm_body_fat_pct(m.height_m, m.waist_iliac_circumference_m, 0.0))
