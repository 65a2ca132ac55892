"""GPU workers on a CPU machine: Ray's GPU bookkeeping with declared (fake) GPUs, EGL
device matching, and the refusal to render on a software fallback."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from body_models import SynthError
from synth.build import BuildOptions, run_build
from synth.config import load_spec
from synth.ray_runner import gpu_shortfall, worker_env
from synth.render.gpu import pick_egl_device, require_hardware

SMOKE = Path(__file__).resolve().parents[1] / "jobs" / "smoke.toml"
SPEC = ["job.subjects=8", "job.shard_size=2", "job.splits={train=1.0}"]


@pytest.mark.parametrize(("gpu", "cuda_ids", "expected"), [
    (2, [0, 1, 2, 3], 2),  # EGL order equals CUDA order
    (2, [None, 3, 2, 1, 0], 2),  # a Mesa device first, NVIDIA devices reversed
    (5, [None, 0], 1),  # the driver numbered the one visible GPU 0 (CUDA_VISIBLE_DEVICES)
    (0, [None], None),  # no NVIDIA device: the renderer check names the fallback
])
def test_egl_device_is_the_one_of_the_assigned_gpu(gpu, cuda_ids, expected):
    assert pick_egl_device(gpu, cuda_ids) == expected


def test_an_assigned_gpu_without_an_egl_device_is_one_line():
    with pytest.raises(SynthError, match="none of the 2 NVIDIA EGL devices is that CUDA device"):
        pick_egl_device(3, [0, 1])


def test_software_renderers_are_refused_hardware_accepted():
    with pytest.raises(SynthError, match="software renderer 'llvmpipe"):
        require_hardware("llvmpipe (LLVM 15.0.6, 256 bits)", [0])
    require_hardware("NVIDIA H100 80GB HBM3/PCIe/SSE2", [0])


def test_gpu_shortfall_counts_fractional_shares():
    assert gpu_shortfall(4, 0.25, 1.0) is None
    assert gpu_shortfall(8, 0.25, 2.0) is None
    assert "need 2.5 GPUs, the Ray cluster has 2" in gpu_shortfall(10, 0.25, 2.0)
    assert gpu_shortfall(16, 0.0, 0.0) is None


def test_gpu_share_does_not_change_the_dataset_identity():
    cpu = load_spec(SMOKE, SPEC)
    gpu = load_spec(SMOKE, [*SPEC, "render.gpus_per_worker=0.25"])
    assert gpu.render.gpus_per_worker == 0.25 and gpu.content_hash() == cpu.content_hash()


@pytest.mark.slow
def test_actors_get_gpu_shares_and_refuse_software_egl(tmp_path, anny_source):
    """Ray is told this CPU machine has one GPU: two actors of 0.5 fit on it, each is given
    GPU 0, opens EGL, finds Mesa's llvmpipe and stops the build with one line."""
    import ray

    ray.init(address="local", num_cpus=2, num_gpus=1, runtime_env={"env_vars": worker_env(2)},
             include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        spec = load_spec(SMOKE, [*SPEC, "render.gpus_per_worker=0.5"])
        with pytest.raises(SynthError) as caught:
            run_build(spec, BuildOptions(out=tmp_path / "data", source=anny_source, workers=2, progress=False))
    finally:
        ray.shutdown()
    message = str(caught.value)
    assert "Ray gave this worker GPU [0]" in message and "software renderer 'llvmpipe" in message
    assert "\n" not in message


@pytest.mark.slow
def test_more_gpu_workers_than_gpus_is_one_line_not_a_hang(tmp_path, anny_source):
    spec = load_spec(SMOKE, [*SPEC, "render.gpus_per_worker=1"])
    with pytest.raises(SynthError, match=r"2 workers x render.gpus_per_worker=1 need 2 GPUs, the Ray cluster has 0"):
        run_build(spec, BuildOptions(out=tmp_path / "data", source=anny_source, workers=2, progress=False))
