"""Rendering on the GPU Ray assigned: pick its EGL device, refuse a software fallback.

EGL enumerates devices in its own order, which `CUDA_VISIBLE_DEVICES` (set by Ray)
does not change; NVIDIA's EGL tells each device's CUDA ordinal through the
`EGL_NV_device_cuda` extension, so the device is matched on that. pyrender opens EGL
device `EGL_DEVICE_ID`.
"""
from __future__ import annotations

import ctypes
import logging
import os

from body_models import SynthError

EGL_CUDA_DEVICE_NV = 0x323A
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software rasterizer")
log = logging.getLogger(__name__)


def egl_cuda_ids() -> list[int | None]:
    """Per EGL device, in EGL's order, its CUDA device ordinal (None: not an NVIDIA device)."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from pyrender.platforms import egl as pyrender_egl  # before OpenGL.EGL: PyOpenGL 3.1.0 needs this order
    from OpenGL import EGL

    address = EGL.eglGetProcAddress("eglQueryDeviceAttribEXT")
    devices = pyrender_egl.query_devices()
    if not address:
        return [None] * len(devices)
    query = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_ssize_t))(address)
    ids: list[int | None] = []
    for device in devices:
        value = ctypes.c_ssize_t(-1)
        ok = query(ctypes.cast(device._display, ctypes.c_void_p), EGL_CUDA_DEVICE_NV, ctypes.byref(value))
        ids.append(int(value.value) if ok else None)
    return ids


def pick_egl_device(gpu_id: int, cuda_ids: list[int | None]) -> int | None:
    """The EGL device index of CUDA GPU `gpu_id` (physical ordinal, as Ray reports it).

    When the driver numbers CUDA devices after `CUDA_VISIBLE_DEVICES` (one visible, as 0),
    the single NVIDIA device is it. None when no EGL device is an NVIDIA one (the renderer
    check then names the software fallback); SynthError when NVIDIA devices exist but none
    is that GPU."""
    nvidia = [k for k, cuda in enumerate(cuda_ids) if cuda is not None]
    if not nvidia:
        return None
    for k in nvidia:
        if cuda_ids[k] == gpu_id:
            return k
    if len(nvidia) == 1:
        return nvidia[0]
    raise SynthError(f"Ray assigned GPU {gpu_id}, but none of the {len(nvidia)} NVIDIA EGL devices is that CUDA "
                     f"device (their CUDA ids: {[cuda_ids[k] for k in nvidia]}); check the node's driver install")


def use_ray_gpu(gpu_ids: list) -> None:
    """Point pyrender (EGL_DEVICE_ID) at the EGL device of the first GPU Ray gave this actor."""
    if not gpu_ids:
        raise SynthError("render.gpus_per_worker > 0 but Ray gave this worker no GPU; check the cluster's GPU "
                         "resources (ray status)")
    device = pick_egl_device(int(gpu_ids[0]), egl_cuda_ids())
    if device is not None:
        os.environ["EGL_DEVICE_ID"] = str(device)
        log.info("GPU %s -> EGL device %d", gpu_ids[0], device)


def require_hardware(renderer: str, gpu_ids: list) -> None:
    """SynthError when the OpenGL `renderer` string is a software rasteriser on a worker given GPUs."""
    if any(name in renderer.lower() for name in SOFTWARE_RENDERERS):
        raise SynthError(f"render.gpus_per_worker > 0 and Ray gave this worker GPU {gpu_ids}, but EGL opened the "
                         f"software renderer '{renderer}': the node lacks NVIDIA's EGL library (libEGL_nvidia.so; "
                         "in containers set NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics). Fix the node, or "
                         "set render.gpus_per_worker = 0 to render on CPUs.")
