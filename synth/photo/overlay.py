"""The picture a person looks at after `synth predict --photos`: each photo, dimmed,
with the segmented silhouette's outline (green) and the predicted body's silhouette
(magenta, translucent) drawn over it, side by side, with the main measurements.

The predicted body is rendered from the camera the net predicted for that view
(distance, height, pitch) at the view's azimuth; the photo's focal length is unknown,
so its silhouette is then scaled and moved to the segmented silhouette's box, as the
net's own framing does.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.spatial.transform import Rotation

from synth.camera import Camera, intrinsics, look_at
from synth.labels import silhouette_bbox

OUTLINE = np.array([40, 230, 90], np.float32)
BODY = np.array([230, 40, 200], np.float32)
TILE_HEIGHT = 512


def view_camera(distance: float, height: float, pitch: float, yaw: float, fov: float, width: int,
                image_height: int) -> Camera:
    """A camera `distance` m from the body's vertical axis (horizontal) at azimuth `yaw`
    (rad), `height` m up, facing the axis and pitched down by `pitch` (rad)."""
    eye = np.array([distance * np.sin(yaw), height, distance * np.cos(yaw)])
    level = look_at(eye, np.array([0.0, height, 0.0]))
    rotation = Rotation.from_euler("x", pitch).as_matrix() @ level
    return Camera(K=intrinsics(width, image_height, fov), R=rotation.astype(np.float32),
                  t=(-rotation @ eye).astype(np.float32), width=width, height=image_height)


def fit_to_box(mask: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`mask` scaled (by height) and moved so its box sits on `target`'s box; same size as target."""
    sx0, sy0, sx1, sy1 = silhouette_bbox(mask)
    tx0, ty0, tx1, ty1 = silhouette_bbox(target)
    scale = (ty1 - ty0) / max(sy1 - sy0, 1.0)
    # output pixel (u, v) samples the source at ((u - t_centre) / scale + s_centre)
    cu, cv = 0.5 * (tx0 + tx1), 0.5 * (ty0 + ty1)
    su, sv = 0.5 * (sx0 + sx1), 0.5 * (sy0 + sy1)
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    affine = (1 / scale, 0.0, su - cu / scale, 0.0, 1 / scale, sv - cv / scale)
    moved = image.transform(target.shape[::-1], Image.Transform.AFFINE, affine, resample=Image.Resampling.BILINEAR)
    return np.asarray(moved) > 127


def _tile(rgb: np.ndarray, segmented: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    image = rgb.astype(np.float32) * 0.6
    image[predicted] = 0.45 * image[predicted] + 0.55 * BODY
    edge = segmented & ~ndimage.binary_erosion(segmented, iterations=max(1, rgb.shape[0] // 256))
    image[edge] = OUTLINE
    tile = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    return np.asarray(tile.resize((round(tile.width * TILE_HEIGHT / tile.height), TILE_HEIGHT)))


def overlay_png(photos: list[np.ndarray], segmented: list[np.ndarray], predicted: list[np.ndarray],
                caption: str) -> bytes:
    """PNG bytes: one tile per photo (RGB (H, W, 3) uint8) with its segmented and predicted
    (H, W) bool silhouettes, and `caption` above."""
    tiles = [_tile(*parts) for parts in zip(photos, segmented, predicted)]
    strip = np.concatenate(tiles, axis=1)
    canvas = Image.new("RGB", (strip.shape[1], strip.shape[0] + 48), "white")
    canvas.paste(Image.fromarray(strip), (0, 48))
    draw = ImageDraw.Draw(canvas)
    draw.text((10, 6), caption, fill="black", font_size=18)
    draw.text((10, 27), "green: segmented outline   magenta: predicted body", fill=(90, 90, 90), font_size=14)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
