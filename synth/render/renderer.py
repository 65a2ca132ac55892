"""A long-lived offscreen renderer of binary silhouettes for one mesh topology.

It owns one EGL context, one scene, one mesh primitive and one camera; each call
replaces the vertex positions in place and moves the camera. Rendering is single-sample
with colour writes off (the mask is read from depth): a pixel is body exactly when its
centre is covered by a triangle.
"""
from __future__ import annotations

import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402
import pyrender  # noqa: E402
from OpenGL.GL import GL_FALSE, GL_RENDERER, glColorMask, glGetString  # noqa: E402

from synth.camera import Camera  # noqa: E402
from synth.render.pyrender_internals import (  # noqa: E402
    delete_renderer, read_silhouettes_only, replace_positions, use_single_sample_framebuffer)

_GL_TRIANGLES = 4
_OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])


def camera_pose(camera: Camera) -> np.ndarray:
    """pyrender camera-to-world pose (4, 4) of an OpenCV world-to-camera [R|t]."""
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = camera.R
    extrinsic[:3, 3] = camera.t
    return np.linalg.inv(extrinsic) @ _OPENCV_TO_OPENGL


def aim(scene: pyrender.Scene, node: pyrender.Node, camera: Camera) -> None:
    """Give the pyrender IntrinsicsCamera at `node` the intrinsics and pose of `camera` (OpenCV)."""
    K = camera.K.astype(np.float64)
    # OpenCV puts pixel centres on integers, OpenGL on half-integers.
    node.camera.fx, node.camera.fy = K[0, 0], K[1, 1]
    node.camera.cx, node.camera.cy = K[0, 2] + 0.5, K[1, 2] + 0.5
    scene.set_pose(node, camera_pose(camera))


class SilhouetteRenderer:
    """Renders (H, W) bool silhouettes of meshes with fixed `faces` (F, 3)."""

    def __init__(self, width: int, height: int, faces: np.ndarray, vertex_count: int) -> None:
        self.width, self.height = width, height
        self._primitive = pyrender.Primitive(
            positions=np.zeros((vertex_count, 3), np.float32), indices=faces.astype(np.uint32), mode=_GL_TRIANGLES)
        self._scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0])
        self._scene.add(pyrender.Mesh([self._primitive]))
        self._camera_node = self._scene.add(pyrender.IntrinsicsCamera(1.0, 1.0, 0.0, 0.0, znear=0.05, zfar=100.0))
        self._renderer = pyrender.OffscreenRenderer(width, height)
        self._renderer.render(self._scene, flags=pyrender.RenderFlags.DEPTH_ONLY)  # uploads the buffers
        use_single_sample_framebuffer(self._renderer._renderer)
        read_silhouettes_only(self._renderer._renderer)
        glColorMask(GL_FALSE, GL_FALSE, GL_FALSE, GL_FALSE)  # context state; ~10 % of a view on llvmpipe

    @property
    def gl_renderer(self) -> str:
        """The OpenGL renderer string of this context ('llvmpipe ...' on Mesa's CPU rasteriser)."""
        self._renderer._platform.make_current()
        return glGetString(GL_RENDERER).decode()

    def set_vertices(self, vertices: np.ndarray) -> None:
        """Replace the mesh's vertices (V, 3), world frame, meters."""
        self._renderer._platform.make_current()
        replace_positions(self._primitive, vertices)

    def render(self, camera: Camera) -> np.ndarray:
        """Silhouette (H, W) bool of the current vertices seen by `camera` (OpenCV)."""
        if (camera.width, camera.height) != (self.width, self.height):
            raise ValueError(f"camera is {camera.width}x{camera.height}, renderer {self.width}x{self.height}")
        aim(self._scene, self._camera_node, camera)
        return np.ascontiguousarray(self._renderer.render(self._scene, flags=pyrender.RenderFlags.DEPTH_ONLY))

    def close(self) -> None:
        delete_renderer(self._renderer)
