# Worker/driver image for Ray clusters: headless EGL rendering on CPU (Mesa llvmpipe)
# and on NVIDIA GPUs (the NVIDIA container toolkit mounts the driver's EGL library when
# "graphics" is among the driver capabilities). Anny's model cache is built into the image.
#   docker build -t synth .                       # CPU torch
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t synth:gpu .
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

RUN apt-get update \
 && apt-get install -y --no-install-recommends libegl1 libgl1-mesa-dri libgles2 libglvnd0 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /usr/share/glvnd/egl_vendor.d \
 && echo '{"file_format_version": "1.0.0", "ICD": {"library_path": "libEGL_nvidia.so.0"}}' \
      > /usr/share/glvnd/egl_vendor.d/10_nvidia.json

ENV PYOPENGL_PLATFORM=egl \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    ANNY_CACHE_DIR=/opt/anny-cache \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/synth
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
COPY pyproject.toml README.md ./
COPY body_models ./body_models
COPY synth ./synth
COPY jobs ./jobs
RUN pip install . && synth models prepare

CMD ["synth", "--help"]
