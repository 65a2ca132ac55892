"""Photo-like pictures of a posed dataset subject: shaded, dressed (`appearance`), over
a procedural room (`background`), with sampled lighting, camera noise and JPEG
compression.

The person is drawn by pyrender with 4x multisampling into a transparent frame and
composited over the room by its coverage. Every choice comes from the subject's own
photo generator (`photo_rng`), separate from the one that drew its shape, pose and
cameras: turning photos on changes no silhouette.
"""
from __future__ import annotations

import io
import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402
import pyrender  # noqa: E402
import trimesh  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

from body_models import Skeleton  # noqa: E402
from synth.camera import Camera  # noqa: E402
from synth.photo.appearance import body_parts, hair_volume, sample_appearance  # noqa: E402
from synth.photo.background import room  # noqa: E402
from synth.render.pyrender_internals import delete_renderer  # noqa: E402
from synth.render.renderer import aim  # noqa: E402

def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def _light(rng: np.random.Generator, camera: Camera) -> tuple[pyrender.DirectionalLight, np.ndarray]:
    """A key light from the camera's side of the body, up to 60 degrees off its axis."""
    azimuth, elevation = np.radians(rng.uniform(-60, 60)), np.radians(rng.uniform(10, 60))
    toward_camera = -camera.R[2].astype(np.float64)  # from the body to the camera (world)
    heading = np.arctan2(toward_camera[0], toward_camera[2]) + azimuth
    direction = np.array([np.sin(heading) * np.cos(elevation), np.sin(elevation), np.cos(heading) * np.cos(elevation)])
    z = direction / np.linalg.norm(direction)  # pyrender lights shine along their -z
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    warmth = rng.uniform(-0.12, 0.12)
    colour = np.clip([1 + warmth, 1.0, 1 - warmth], 0, 1)
    return pyrender.DirectionalLight(color=colour, intensity=rng.uniform(1.5, 3.5)), pose


def _coloured_mesh(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                   material: pyrender.Material) -> pyrender.Mesh:
    """One smooth-shaded primitive of (vertices (V, 3), faces (F, 3), colours (V, 3) in
    [0, 1]) pieces: a single draw call, so surfaces that meet (hair and head) are drawn in
    the same order on every run (pyrender orders separate meshes by object identity)."""
    normals = [trimesh.Trimesh(v, f, process=False).vertex_normals for v, f, _ in pieces]
    offsets = np.cumsum([0] + [len(v) for v, _, _ in pieces[:-1]])
    return pyrender.Mesh([pyrender.Primitive(
        positions=np.concatenate([v for v, _, _ in pieces]), normals=np.concatenate(normals),
        color_0=np.concatenate([c for _, _, c in pieces]),
        indices=np.concatenate([f + o for (_, f, _), o in zip(pieces, offsets)]), material=material)])


class PhotoRenderer:
    """Renders (H, W, 3) uint8 photo-like pictures of posed bodies with fixed `faces`."""

    def __init__(self, width: int, height: int, faces: np.ndarray, skeleton: Skeleton) -> None:
        self.faces, self.skeleton = faces, skeleton
        self._renderer = pyrender.OffscreenRenderer(width, height)

    def render_subject(self, rng: np.random.Generator, vertices: np.ndarray, joints: np.ndarray,
                       cameras: list[Camera], hair_share: float, noise_std: tuple[float, float],
                       jpeg_quality: tuple[int, int]) -> list[bytes]:
        """JPEG bytes per camera of one posed body (V, 3) with joints (J, 3), world frame."""
        look = sample_appearance(rng, hair_share)
        parts = body_parts(vertices, joints, self.skeleton)
        material = pyrender.MetallicRoughnessMaterial(metallicFactor=0.0, roughnessFactor=rng.uniform(0.5, 0.9))
        scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=np.full(3, rng.uniform(0.15, 0.4)))
        pieces = [(vertices, self.faces, parts.colours(look))]
        if look.hair:
            hair_v, hair_f = hair_volume(vertices, parts, look.hair)
            pieces.append((hair_v, hair_f, np.tile(look.hair_colour, (len(hair_v), 1))))
        scene.add(_coloured_mesh(pieces, material))
        camera_node = scene.add(pyrender.IntrinsicsCamera(1.0, 1.0, 0.0, 0.0, znear=0.05, zfar=100.0))
        out = []
        for camera in cameras:
            light, pose = _light(rng, camera)
            light_node = scene.add(light, pose=pose)
            aim(scene, camera_node, camera)
            rgba, _ = self._renderer.render(scene, flags=pyrender.RenderFlags.RGBA)
            scene.remove_node(light_node)
            person = rgba[..., :3].astype(np.float32) / 255.0
            alpha = rgba[..., 3:].astype(np.float32) / 255.0
            image = alpha * person + (1 - alpha) * room(rng, camera, vertices)
            image = image * rng.uniform(0.9, 1.1, 3)  # white balance
            image = image + rng.normal(0.0, rng.uniform(*noise_std) / 255.0, image.shape)
            picture = Image.fromarray(np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8))
            picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.7)))
            out.append(encode_jpeg(np.asarray(picture), rng.integers(jpeg_quality[0], jpeg_quality[1] + 1)))
        return out

    def close(self) -> None:
        delete_renderer(self._renderer)
