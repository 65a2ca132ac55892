"""Silhouette rendering: the only package that touches OpenGL/EGL.

Import `synth.render.renderer` only after the GL platform is chosen; the renderer
module does it (EGL unless PYOPENGL_PLATFORM is already set).

triton (installed with torch's CUDA builds, and imported by anny through roma and
torch._dynamo) links its own LLVM; loading it after Mesa's llvmpipe has loaded LLVM for a
GL context crashes the process (SIGSEGV in the import), so it is loaded here, before any
context exists. The other order is safe.
"""
import importlib
import importlib.util

if importlib.util.find_spec("triton") is not None:
    importlib.import_module("triton")
