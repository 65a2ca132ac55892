"""Camera framing: the half-space test agrees with projecting every vertex."""
from __future__ import annotations

import numpy as np
import pytest

from synth.camera import cross, project
from synth.sampling.camera import bounding_box_corners, draw_camera, frame_planes, frames_subject


def _framed_by_projection(camera, vertices, margin_px) -> bool:
    uv, depth = project(vertices, camera)
    inside = ((uv >= margin_px) & (uv <= np.array([camera.width, camera.height]) - 1 - margin_px)).all(1)
    return bool((depth >= 0.05).all() and inside.all())


@pytest.mark.parametrize("margin_px", [0, 2, 12])
def test_half_space_framing_matches_projection(smoke_spec, margin_px):
    section = smoke_spec.camera
    rng = np.random.default_rng(0)
    body = rng.normal(0.0, [0.25, 0.5, 0.15], (2000, 3)) + [0.0, 0.9, 0.0]
    outcomes = []
    for _ in range(300):
        camera = draw_camera(rng, section, rng.uniform(0, 2 * np.pi), np.array([0.0, rng.uniform(0.3, 1.5), 0.0]))
        scale = rng.uniform(0.2, 1.5)  # bodies from well inside to well outside the frame
        points = (body * scale).astype(np.float32)
        outcomes.append(frames_subject(camera, points, margin_px))
        assert outcomes[-1] == _framed_by_projection(camera, points, margin_px)
    assert 0.1 < np.mean(outcomes) < 0.9  # both answers were exercised


def test_the_bounding_box_shortcut_gives_the_full_tests_answer(smoke_spec):
    """Bodies from well inside to just across a frame edge: with the box, the same answer as
    the full test; the box decides alone on some (it is used), not on all (it is a shortcut)."""
    section = smoke_spec.camera
    rng = np.random.default_rng(3)
    body = rng.normal(0.0, [0.25, 0.5, 0.15], (2000, 3))
    decided = []
    for _ in range(400):
        camera = draw_camera(rng, section, rng.uniform(0, 2 * np.pi), np.array([0.0, 0.9, 0.0]))
        points = (body * rng.uniform(0.2, 1.2) + [0.0, 0.9, 0.0]).astype(np.float32)
        box = bounding_box_corners(points)
        normals, offsets = frame_planes(camera, 2)
        decided.append(bool(np.all((normals @ box.T).min(1) + offsets > 0.0)))
        assert frames_subject(camera, points, 2, box) == frames_subject(camera, points, 2)
    assert 0.1 < np.mean(decided) < 0.9


def test_a_point_behind_the_camera_is_not_framed(smoke_spec):
    section = smoke_spec.camera
    camera = draw_camera(np.random.default_rng(1), section, 0.0, np.array([0.0, 0.9, 0.0]))
    behind = camera.center + 0.5 * (camera.center - np.array([0.0, 0.9, 0.0]))
    # Far behind, it projects (mirrored) near the image centre, so only the depth test catches it.
    assert _framed_by_projection(camera, np.array([[0.0, 0.9, 0.0]]), 0)
    assert not frames_subject(camera, np.array([[0.0, 0.9, 0.0], behind]), 0)


def _unproject(camera, u: float, v: float, depth_m: float) -> np.ndarray:
    K, R, t = (a.astype(np.float64) for a in (camera.K, camera.R, camera.t))
    return R.T @ (depth_m * np.linalg.solve(K, [u, v, 1.0]) - t)


@pytest.mark.parametrize("margin_px", [0, 5])
def test_framing_edges_are_exact_to_a_tenth_of_a_pixel(smoke_spec, margin_px):
    section = smoke_spec.camera
    camera = draw_camera(np.random.default_rng(2), section, 0.3, np.array([0.0, 0.9, 0.0]))
    centre_u, centre_v = (camera.width - 1) / 2, (camera.height - 1) / 2
    last_u, last_v = camera.width - 1 - margin_px, camera.height - 1 - margin_px
    for u, v in [(margin_px, centre_v), (last_u, centre_v), (centre_u, margin_px), (centre_u, last_v)]:
        inward = np.sign([centre_u - u, centre_v - v]) * 0.1
        inside = _unproject(camera, u + inward[0], v + inward[1], 2.5)
        outside = _unproject(camera, u - inward[0], v - inward[1], 2.5)
        assert frames_subject(camera, inside[None], margin_px)
        assert not frames_subject(camera, outside[None], margin_px)


def test_cross_product_rounds_as_numpy_does():
    """look_at's cameras are stored in datasets: its cross product must give np.cross's bits."""
    rng = np.random.default_rng(2)
    for k in range(2000):
        a = rng.normal(size=3) * 10.0 ** rng.uniform(-4, 4)
        b = np.array([0.0, 1.0, 0.0]) if k % 3 == 0 else rng.normal(size=3)
        a[k % 3] = (-0.0, 0.0)[k % 2] if k % 5 == 0 else a[k % 3]
        assert cross(a, b).tobytes() == np.cross(a, b).tobytes()
