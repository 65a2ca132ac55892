"""The four places we reach into pyrender's private state; nothing else does.

1. In-place vertex updates. pyrender keeps a primitive's GL buffers in the private
   `_buffers` list, the interleaved vertex buffer first. A primitive with positions
   only (no normals, uvs or colours) has exactly (V, 3) float32 in it, so
   `glBufferSubData` replaces them without re-creating the mesh (~10 ms vs ~29 ms a
   sample at 256x256).
2. Single-sample rendering. pyrender's offscreen renderer always draws into a 4x
   multisampled framebuffer and resolves it; for binary silhouettes that quadruples the
   rasteriser's work (llvmpipe: ~6.0 -> ~3.4 ms a view at 256x256) and makes coverage
   depend on sample positions. We re-allocate its multisample renderbuffers with one
   sample, so a pixel is body exactly when its centre is covered.
3. Silhouette-only readback. pyrender resolves colour and depth into a second
   framebuffer and converts depth to metric units on every render; we read the raw
   depth of the (now single-sample) framebuffer and return `depth < 1` (covered) as the
   (H, W) bool mask (~0.65 ms a view saved at 256x256).
4. Closing one of several renderers. pyrender's `OffscreenRenderer.delete()` ends with
   `eglTerminate` on the EGL display, which every context of the process shares: a
   builder holding a silhouette and a photo renderer could not close the second.
   `delete_renderer` frees the GL resources and the context and leaves the display up.
"""
from __future__ import annotations

import numpy as np
from OpenGL.GL import (GL_ARRAY_BUFFER, GL_DEPTH_COMPONENT, GL_DEPTH_COMPONENT24, GL_FLOAT, GL_READ_FRAMEBUFFER,
                       GL_RENDERBUFFER, GL_RGBA, glBindBuffer, glBindFramebuffer, glBindRenderbuffer,
                       glBufferSubData, glReadPixels, glRenderbufferStorageMultisample)


def replace_positions(primitive, positions: np.ndarray) -> None:
    """Overwrite the uploaded vertex positions (V, 3) of `primitive` (current GL context)."""
    if not primitive._buffers:
        raise RuntimeError("primitive is not uploaded yet: render it once before replacing positions")
    if positions.shape != primitive.positions.shape:
        raise ValueError(f"positions {positions.shape} differ from the uploaded {primitive.positions.shape}")
    data = np.ascontiguousarray(positions, dtype=np.float32)
    glBindBuffer(GL_ARRAY_BUFFER, primitive._buffers[0])
    glBufferSubData(GL_ARRAY_BUFFER, 0, data.nbytes, data)
    glBindBuffer(GL_ARRAY_BUFFER, 0)


def use_single_sample_framebuffer(renderer) -> None:
    """Make a pyrender `Renderer` (after its first render) draw without multisampling."""
    width, height = renderer._main_fb_dims
    if renderer._main_cb_ms is None:
        raise RuntimeError("render once before changing the framebuffer")
    glBindRenderbuffer(GL_RENDERBUFFER, renderer._main_cb_ms)
    glRenderbufferStorageMultisample(GL_RENDERBUFFER, 0, GL_RGBA, width, height)
    glBindRenderbuffer(GL_RENDERBUFFER, renderer._main_db_ms)
    glRenderbufferStorageMultisample(GL_RENDERBUFFER, 0, GL_DEPTH_COMPONENT24, width, height)
    glBindRenderbuffer(GL_RENDERBUFFER, 0)


def read_silhouettes_only(renderer) -> None:
    """Make a single-sample pyrender `Renderer`'s render() return the covered-pixel mask
    (H, W) bool instead of resolving colour and converting depth."""
    renderer._read_main_framebuffer = lambda scene, flags: _covered_pixels(renderer)


def _covered_pixels(renderer) -> np.ndarray:
    """(H, W) bool, top row first: pixels whose depth was written this pass."""
    width, height = renderer._main_fb_dims
    glBindFramebuffer(GL_READ_FRAMEBUFFER, renderer._main_fb_ms)
    depth = np.frombuffer(glReadPixels(0, 0, width, height, GL_DEPTH_COMPONENT, GL_FLOAT), np.float32)
    return depth.reshape(height, width)[::-1] < 1.0


def delete_renderer(offscreen) -> None:
    """Free a pyrender `OffscreenRenderer` without terminating the shared EGL display."""
    platform = offscreen._platform
    if platform is None:
        return
    if getattr(platform, "_egl_context", None) is None:  # not EGL: pyrender's own way
        offscreen.delete()
        return
    from OpenGL.EGL import EGL_NO_CONTEXT, EGL_NO_SURFACE, eglDestroyContext, eglMakeCurrent

    platform.make_current()
    offscreen._renderer.delete()
    eglMakeCurrent(platform._egl_display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT)
    eglDestroyContext(platform._egl_display, platform._egl_context)
    platform._egl_context = platform._egl_display = None
    offscreen._renderer = offscreen._platform = None  # its __del__ would call delete(): eglTerminate
