"""Silhouette rendering: the only package that touches OpenGL/EGL.

Import `synth.render.renderer` only after the GL platform is chosen; the renderer
module does it (EGL unless PYOPENGL_PLATFORM is already set).
"""
