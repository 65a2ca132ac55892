"""Anny (NAVER, Apache-2.0): the default body model, shipped with its PyPI package.

Native frame: meters, +z up, the subject faces -y, the subject's left is +x; the root
bone sits at the pelvis. Shape: six phenotype values in [0, 1] (gender 0 = male,
1 = female; age, muscle, weight, height, proportions). Pose: one axis-angle per bone
(104 bones) about native-frame axes ("local-ref" parameterisation). Joints: the bone
heads.
"""
from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from body_models.base import BodyModel, ParamSpace, ShapePrior, Skeleton
from body_models.errors import SynthError

log = logging.getLogger(__name__)

_BETA_LABELS = ("height", "weight", "muscle", "proportions")  # phenotypes with per-sex Beta laws
_NATIVE_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def anny_cache_is_built(cache_dir: Path) -> bool:
    """Whether Anny's built model data already lies under `cache_dir`."""
    return any(cache_dir.glob("v*/*.safetensors"))


def _build_with_progress(cache_dir: Path):
    """Build `anny.Anny()`, showing a progress line while the one-time cache is made."""
    import anny
    import anny.paths
    from tqdm import tqdm

    anny.paths.set_anny_cache_path(cache_dir)
    if anny_cache_is_built(cache_dir):
        return anny.Anny()
    log.warning("Building Anny's model data once (about 1-3 minutes, ~800 MB under %s); "
                "later runs load it in under a second.", cache_dir)
    done = threading.Event()

    def tick() -> None:
        with tqdm(desc="building Anny cache", unit="s", bar_format="{desc}: {elapsed}") as bar:
            while not done.wait(1.0):
                bar.update(1)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        return anny.Anny()
    finally:
        done.set()
        ticker.join()


def _has_cuda_driver() -> bool:
    """Whether libcuda loads (the library Warp looks for)."""
    for name in ("libcuda.so", "libcuda.so.1"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _init_warp_quietly(warp) -> None:
    """Initialise Warp (Anny's skinning kernels); on machines without a CUDA driver, drop
    the native "Could not find or load the NVIDIA CUDA driver" line it writes to fd 2,
    since running on the CPU is expected there."""
    if _has_cuda_driver():
        warp.init()
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        warp.init()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class AnnyBody(BodyModel):
    """The Anny full body (13,718 vertices, 27,420 triangles, 104 bones)."""

    name = "anny"

    def __init__(self, cache_dir: Path) -> None:
        try:
            import warp

            warp.config.log_level = warp.LOG_WARNING  # no device banner on every worker start
            _init_warp_quietly(warp)
            import anny
        except ImportError as err:  # pragma: no cover - anny is a hard dependency
            raise SynthError("The 'anny' package is not installed: pip install anny") from err
        try:
            self._model = _build_with_progress(Path(cache_dir))
        except OSError as err:
            raise SynthError(f"Cannot build or read Anny's cache in {cache_dir}: {err}. "
                             "Set ANNY_CACHE_DIR (or --anny-cache) to a writable folder "
                             "with ~1 GB free.") from err
        self._model.requires_grad_(False)
        self.version = f"anny-{anny.__version__}"
        self.shape_space = ParamSpace("shape", tuple(self._model.phenotype_labels), 0.0, 1.0, "unitless")
        bones = tuple(self._model.bone_labels)
        self.pose_space = ParamSpace(
            "pose", tuple(f"{b}_{a}" for b in bones for a in "xyz"), -np.pi, np.pi, "radians")
        self.skeleton = Skeleton(
            joint_names=bones,
            shoulder=("upperarm01.L", "upperarm01.R"),
            elbow=("lowerarm01.L", "lowerarm01.R"),
            wrist=("wrist.L", "wrist.R"),
            hip=("upperleg01.L", "upperleg01.R"),
            knee=("lowerleg01.L", "lowerleg01.R"),
            ankle=("foot.L", "foot.R"),
            spine=("spine03", "spine02", "spine01"),
            neck=("neck01", "neck02", "head"),
        )
        self.faces = self._model.get_triangular_faces().cpu().numpy().astype(np.int64)
        self.native_to_world = _NATIVE_TO_WORLD
        self._shape_prior = None

    def _forward_native(self, shape: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        import roma

        dtype = self._model.dtype
        batch = pose.shape[0]
        rotations = roma.rotvec_to_rotmat(pose.to(dtype).reshape(batch, -1, 3))
        transforms = torch.eye(4, dtype=dtype).repeat(batch, rotations.shape[1], 1, 1)
        transforms[..., :3, :3] = rotations
        out = self._model(pose_parameters=transforms, phenotype_kwargs=shape.to(dtype))
        return out["vertices"], out["bone_poses"][..., :3, 3]

    def sample_shapes(self, rngs: Sequence[np.random.Generator], prior: ShapePrior) -> np.ndarray:
        """Phenotypes (len(rngs), 6) from Anny's calibrated, age-conditioned distribution.

        Morphological age is uniform over `prior.age_years`; gender uniform within its male
        [0, 0.5] and female (0.5, 1] halves, female with probability `prior.female_share`;
        height, weight, muscle and proportions are drawn from Anny's per-sex Beta
        distributions at that age. Row i uses `rngs[i]` only (never torch's global
        generator); the age-to-parameter interpolation runs once for all rows.
        """
        calibrated = self._calibrated_prior()
        ages = np.array([rng.uniform(*prior.age_years) for rng in rngs])
        genders = np.array([prior.gender_from_uniform(rng.uniform(0.0, 1.0)) for rng in rngs])
        anny_age = calibrated.morphological_age_mapping.morphological_to_anny_age(
            torch.as_tensor(ages, dtype=torch.float64))
        params = {(label, sex): [p.numpy() for p in getattr(
                      calibrated, f"{sex}_conditional_{label}_distribution").get_distribution_params(anny_age)]
                  for label in _BETA_LABELS for sex in ("boys", "girls")}
        drawn = np.array([[[rng.beta(params[label, sex][0][i], params[label, sex][1][i]) for sex in ("boys", "girls")]
                           for label in _BETA_LABELS] for i, rng in enumerate(rngs)])  # (N, labels, sexes)
        values = dict(zip(_BETA_LABELS, np.where(genders[:, None] <= 0.5, drawn[..., 0], drawn[..., 1]).T))
        values.update(age=anny_age.numpy(), gender=genders)
        return np.stack([np.clip(values[k], 0.0, 1.0) for k in self.shape_space.labels], 1).astype(np.float32)

    def female_fraction(self, shape: np.ndarray) -> float:
        """Anny's gender phenotype (0 male, 1 female)."""
        return float(shape[self.shape_space.labels.index("gender")])

    def _calibrated_prior(self):
        if self._shape_prior is None:
            from anny.shape_distribution import SimpleShapeDistribution

            self._shape_prior = SimpleShapeDistribution(self._model)
        return self._shape_prior
