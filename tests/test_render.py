"""The renderer: in-place vertex updates, projections landing on silhouettes, and the
silhouettes' PNG encoding."""
from __future__ import annotations

import io
import subprocess
import sys
from contextlib import contextmanager

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image
from scipy.ndimage import binary_dilation

from synth.camera import Camera, intrinsics, look_at, project
from synth.images import decode_silhouette, encode_silhouette
from synth.labels import silhouette_bbox


@contextmanager
def renderer(width, height, faces, count):
    """One renderer at a time: pyrender's EGL teardown ends every context of the display."""
    from synth.render.renderer import SilhouetteRenderer

    made = SilhouetteRenderer(width, height, faces, count)
    try:
        yield made
    finally:
        made.close()


def _camera(width: int, height: int, eye, target) -> Camera:
    rotation = look_at(np.asarray(eye, float), np.asarray(target, float))
    return Camera(intrinsics(width, height, np.radians(50)), rotation.astype(np.float32),
                  (-rotation @ np.asarray(eye, float)).astype(np.float32), width, height)


def test_replacing_vertices_in_place_matches_a_fresh_upload():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    camera = _camera(96, 64, [0, 0, 2.5], [0, 0, 0])
    moved = sphere.vertices + [0.4, 0.1, 0.0]
    with renderer(96, 64, sphere.faces, len(sphere.vertices)) as reused:
        reused.set_vertices(sphere.vertices)
        first = reused.render(camera)
        reused.set_vertices(moved)
        second = reused.render(camera)
    with renderer(96, 64, sphere.faces, len(sphere.vertices)) as fresh:
        fresh.set_vertices(moved)
        third = fresh.render(camera)
    assert not np.array_equal(first, second)
    assert np.array_equal(second, third)


EYES = ([0.3, 1.2, 3.0], [3.0, 1.4, 0.5], [-2.0, 0.8, -2.5])


def test_rendered_silhouette_matches_projection(anny_model):
    body = anny_model.forward(torch.from_numpy(anny_model.neutral_shape())[None],
                              torch.from_numpy(anny_model.rest_pose())[None])
    vertices = body.vertices[0].numpy().astype(np.float32) + np.float32([0, 0.9, 0])
    with renderer(160, 200, anny_model.faces, len(vertices)) as silhouettes:
        silhouettes.set_vertices(vertices)
        masks = [silhouettes.render(_camera(160, 200, eye, [0, 0.9, 0])) for eye in EYES]
    for eye, mask in zip(EYES, masks):
        camera = _camera(160, 200, eye, [0, 0.9, 0])
        uv, depth = project(vertices, camera)
        assert depth.min() > 0
        pixels = np.round(uv).astype(int)
        near = binary_dilation(mask, iterations=1)
        assert near[pixels[:, 1], pixels[:, 0]].mean() > 0.99
        shifted = np.clip(pixels + 3, 0, [159, 199])  # a 3-pixel misregistration is caught
        assert near[shifted[:, 1], shifted[:, 0]].mean() < 0.95
        box = silhouette_bbox(mask)
        expected = [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max() + 1, uv[:, 1].max() + 1]
        assert np.allclose(box, expected, atol=1.5)


@pytest.mark.parametrize("shape", [(256, 256), (480, 270), (5, 9), (1, 1)])
def test_silhouette_png_is_a_valid_one_bit_png_of_the_mask(shape):
    mask = np.random.default_rng(0).random(shape) < 0.4
    mask[0, 0] = True  # the corner bit: rows are packed from their most significant bit
    data = encode_silhouette(mask)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # signature, chunk CRCs
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "1" and image.size == (shape[1], shape[0])
        assert np.array_equal(np.asarray(image), mask)
    assert np.array_equal(decode_silhouette(data), mask)


def test_the_body_model_loads_after_a_gl_context_exists():
    """A process that renders first and loads Anny after (the benchmark does) must not crash:
    with torch's CUDA builds, triton's LLVM loaded after llvmpipe's segfaulted the import."""
    script = ("import numpy as np\n"
              "from synth.render.renderer import SilhouetteRenderer\n"
              "renderer = SilhouetteRenderer(8, 8, np.array([[0, 1, 2]]), 3)\n"
              "import anny, torch._dynamo\n"
              "renderer.close()\n"
              "print('ok')\n")
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
