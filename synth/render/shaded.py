"""Shaded, front-lit pictures of bodies for figures (morph strips), not for datasets.

Orthographic views along the world -z axis (the subject faces +z), the body turned by a
yaw first; one light shines from the camera. All views of one renderer share one scale,
so bodies drawn side by side compare in size.
"""
from __future__ import annotations

import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402
import pyrender  # noqa: E402
import trimesh  # noqa: E402

from synth.render.pyrender_internals import delete_renderer  # noqa: E402

_SKIN = (0.78, 0.66, 0.58, 1.0)
_BACKGROUND = (1.0, 1.0, 1.0, 1.0)


class ShadedRenderer:
    """Renders (height, width, 3) uint8 pictures; the frame spans `span_m` meters vertically
    from the ground (y = 0) up."""

    def __init__(self, width: int, height: int, span_m: float) -> None:
        self.width, self.height, self.span_m = width, height, span_m
        self._renderer = pyrender.OffscreenRenderer(width, height)
        self._material = pyrender.MetallicRoughnessMaterial(baseColorFactor=_SKIN, metallicFactor=0.0,
                                                           roughnessFactor=0.8)

    def render(self, vertices: np.ndarray, faces: np.ndarray, yaw_deg: float) -> np.ndarray:
        """The body `vertices` (V, 3), meters, feet on y = 0, turned by `yaw_deg` about +y
        (90 shows its left side), seen from the front."""
        turn = trimesh.transformations.rotation_matrix(np.radians(yaw_deg), [0.0, 1.0, 0.0])[:3, :3]
        mesh = trimesh.Trimesh(vertices @ turn.T, faces, process=False)
        scene = pyrender.Scene(bg_color=_BACKGROUND, ambient_light=(0.25, 0.25, 0.25))
        scene.add(pyrender.Mesh.from_trimesh(mesh, material=self._material, smooth=True))
        half = 0.5 * self.span_m
        pose = np.eye(4)
        pose[:3, 3] = [0.0, half, 10.0]
        camera = pyrender.OrthographicCamera(xmag=half * self.width / self.height, ymag=half, znear=0.1, zfar=20.0)
        scene.add(camera, pose=pose)
        scene.add(pyrender.DirectionalLight(intensity=3.0), pose=pose)
        colour, _ = self._renderer.render(scene)
        return np.asarray(colour[..., :3], np.uint8)

    def close(self) -> None:
        delete_renderer(self._renderer)
