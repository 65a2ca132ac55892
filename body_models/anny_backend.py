"""Anny (NAVER, Apache-2.0): the default body model, shipped with its PyPI package.

Native frame: meters, +z up, the subject faces -y, the subject's left is +x; the root
bone sits at the pelvis. Pose: one axis-angle per bone (104 bones) about native-frame
axes ("local-ref" parameterisation). Joints: the bone heads.

Two shape spaces (`SHAPE_SPACES`):
- "phenotypes": Anny's six default phenotypes in [0, 1] (gender 0 = male, 1 = female;
  age, muscle, weight, height, proportions).
- "body": all eleven phenotypes (adds cupsize, firmness and the african / asian /
  caucasian blends) followed by the body-relevant local targets of `BODY_LOCAL_CHANGES`
  in [-1, 1.5] (negative values apply the matching "decr" target, values above 1 extend
  the "incr" one linearly, which the heaviest bodies need and which keeps meshes valid in
  tests; 0 leaves the body as
  the phenotypes made it). Left/right targets share one value, so bodies stay
  symmetric. Face, ear, nose, mouth and eye targets are not loaded (held at zero).
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


SHAPE_SPACES = ("body", "phenotypes")
BODY_SPACE_VERSION = "body-2"
"""body-2: local targets reach LOCAL_CHANGE_MAX (1.5) on the increasing side (body-1: 1)."""
LOCAL_CHANGE_MAX = 1.5
BODY_LOCAL_CHANGES: dict[str, tuple[str, ...]] = {
    # shape label -> Anny local-change targets it drives (one value for left and right)
    "stomach-pregnant-incr": ("stomach-pregnant-incr",),
    "stomach-tone-incr": ("stomach-tone-incr",),
    "measure-waist-circ-incr": ("measure-waist-circ-incr",),
    "measure-hips-circ-incr": ("measure-hips-circ-incr",),
    "measure-bust-circ-incr": ("measure-bust-circ-incr",),
    "measure-underbust-circ-incr": ("measure-underbust-circ-incr",),
    "buttocks-volume-incr": ("buttocks-volume-incr",),
    "neck-double-incr": ("neck-double-incr",),
    "measure-neck-circ-incr": ("measure-neck-circ-incr",),
    "upperarm-fat-incr": ("l-upperarm-fat-incr", "r-upperarm-fat-incr"),
    "lowerarm-fat-incr": ("l-lowerarm-fat-incr", "r-lowerarm-fat-incr"),
    "upperleg-fat-incr": ("l-upperleg-fat-incr", "r-upperleg-fat-incr"),
    "lowerleg-fat-incr": ("l-lowerleg-fat-incr", "r-lowerleg-fat-incr"),
    "measure-upperarm-circ-incr": ("measure-upperarm-circ-incr",),
    "measure-thigh-circ-incr": ("measure-thigh-circ-incr",),
    "measure-calf-circ-incr": ("measure-calf-circ-incr",),
    "hip-scale-horiz-incr": ("hip-scale-horiz-incr",),
    "hip-scale-depth-incr": ("hip-scale-depth-incr",),
    "torso-scale-horiz-incr": ("torso-scale-horiz-incr",),
    "torso-scale-depth-incr": ("torso-scale-depth-incr",),
    "torso-vshape-incr": ("torso-vshape-incr",),
    "measure-shoulder-dist-incr": ("measure-shoulder-dist-incr",),
    "upperarm-muscle-incr": ("l-upperarm-muscle-incr", "r-upperarm-muscle-incr"),
    "upperleg-muscle-incr": ("l-upperleg-muscle-incr", "r-upperleg-muscle-incr"),
}
_EXTRA_PHENOTYPE_BETA = 2.0  # cupsize and firmness ~ Beta(2, 2) when sampled without a reference
LOCAL_CHANGE_SIGMA = 0.25  # std of each local target's N(0, sigma^2) draw (clipped to [-1, 1])


def anny_cache_is_built(cache_dir: Path) -> bool:
    """Whether Anny's built model data already lies under `cache_dir`."""
    return any(cache_dir.glob("v*/*.safetensors"))


def _build_with_progress(cache_dir: Path, **options):
    """Build `anny.Anny(**options)`, showing a progress line while the one-time cache is made."""
    import anny
    import anny.paths
    from tqdm import tqdm

    anny.paths.set_anny_cache_path(cache_dir)
    if anny_cache_is_built(cache_dir):
        return anny.Anny(**options)
    log.warning("Building Anny's model data once (about 1-3 minutes, ~1.2 GB under %s); "
                "later runs load it in under a second.", cache_dir)
    done = threading.Event()

    def tick() -> None:
        with tqdm(desc="building Anny cache", unit="s", bar_format="{desc}: {elapsed}") as bar:
            while not done.wait(1.0):
                bar.update(1)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        return anny.Anny(**options)
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


def _anny_options(space: str) -> dict:
    if space == "phenotypes":
        return {}
    targets = [t for group in BODY_LOCAL_CHANGES.values() for t in group]
    return {"local_changes": targets, "phenotypes": "all"}


class AnnyBody(BodyModel):
    """The Anny full body (13,718 vertices, 27,420 triangles, 104 bones) in one of
    `SHAPE_SPACES`."""

    name = "anny"

    def __init__(self, cache_dir: Path, space: str = "body") -> None:
        if space not in SHAPE_SPACES:
            raise SynthError(f"Unknown Anny shape space {space!r}; expected one of {', '.join(SHAPE_SPACES)}.")
        try:
            import warp

            warp.config.log_level = warp.LOG_WARNING  # no device banner on every worker start
            _init_warp_quietly(warp)
            import anny
        except ImportError as err:  # pragma: no cover - anny is a hard dependency
            raise SynthError("The 'anny' package is not installed: pip install anny") from err
        try:
            self._model = _build_with_progress(Path(cache_dir), **_anny_options(space))
        except OSError as err:
            raise SynthError(f"Cannot build or read Anny's cache in {cache_dir}: {err}. "
                             "Set ANNY_CACHE_DIR (or --anny-cache) to a writable folder "
                             "with ~1 GB free.") from err
        self._model.requires_grad_(False)
        self.space = space
        phenotypes = tuple(self._model.phenotype_labels)
        self._phenotypes = len(phenotypes)
        if space == "phenotypes":
            self.version = f"anny-{anny.__version__}"
            self.shape_space = ParamSpace("shape", phenotypes, 0.0, 1.0, "unitless")
        else:
            self.version = f"anny-{anny.__version__}/{BODY_SPACE_VERSION}"
            locals_ = tuple(BODY_LOCAL_CHANGES)
            self.shape_space = ParamSpace("shape", phenotypes + locals_, (0.0,) * len(phenotypes) + (-1.0,) * len(locals_),
                                          (1.0,) * len(phenotypes) + (LOCAL_CHANGE_MAX,) * len(locals_), "unitless")
        self._local_map = self._local_change_map()
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
        self.joint_parents = np.asarray(self._model.bone_parents, np.int64)
        weights = self._model.vertex_bone_weights.cpu().numpy()
        self.skin_joints = np.take_along_axis(self._model.vertex_bone_indices.cpu().numpy(),
                                              weights.argmax(1)[:, None], 1)[:, 0].astype(np.int64)
        self.landmarks = {"navel": self._navel_vertex()}
        self._shape_prior = None

    def _navel_vertex(self) -> int:
        """The omphalion: the vertex of `anny.anthropometry`'s waist loop (which passes through
        the navel) nearest the template's front midline."""
        from anny.anthropometry import BASE_MESH_WAIST_VERTICES

        base = self._model.base_mesh_vertex_indices.cpu().numpy().tolist()
        loop = np.array([base.index(i) for i in BASE_MESH_WAIST_VERTICES])
        template = self._model.template_vertices.cpu().numpy()[loop] @ _NATIVE_TO_WORLD.T
        front = template[:, 2] > np.median(template[:, 2])
        return int(loop[front][np.argmin(np.abs(template[front, 0]))])

    def _forward_native(self, shape: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        phenotypes, local_changes, transforms = self._inputs(shape, pose)
        out = self._model(pose_parameters=transforms, phenotype_kwargs=phenotypes, local_changes_kwargs=local_changes)
        return out["vertices"], out["bone_poses"][..., :3, 3]

    def _forward_native_and_neutral(self, shape: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The posed and the neutral body from one rest model: Anny's blend-shape sum (most of
        a forward pass) is done once and skinned twice, as its own forward would each time
        (anny 0.6.2's `RiggedModel.forward`)."""
        model = self._model
        phenotypes, local_changes, transforms = self._inputs(shape, pose)
        neutral = torch.eye(4, dtype=transforms.dtype).expand_as(transforms)
        _, phenotypes, locals_, facial = model.get_tensor_inputs(transforms, phenotypes, local_changes, None)
        rest = model.get_rest_model(model._get_phenotype_blendshape_coefficients(phenotypes, locals_, facial))
        out = []
        for deltas in (transforms, neutral):
            bone_transforms, bone_poses = model.get_bone_transforms(deltas, rest["rest_bone_poses"])
            vertices = model.get_skinned_vertices(rest_vertices=rest["rest_vertices"].expand(len(pose), -1, -1),
                                                  bone_transforms=bone_transforms)
            out += [vertices, bone_poses[..., :3, 3]]
        return tuple(out)

    def _inputs(self, shape: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None,
                                                                         torch.Tensor]:
        """Anny's inputs in its dtype: phenotypes (B, 11 or 6), local-change targets (B, T) or
        None, and the pose as (B, bones, 4, 4) rotations."""
        import roma

        dtype = self._model.dtype
        rotations = roma.rotvec_to_rotmat(pose.to(dtype).reshape(pose.shape[0], -1, 3))
        transforms = torch.eye(4, dtype=dtype).repeat(pose.shape[0], rotations.shape[1], 1, 1)
        transforms[..., :3, :3] = rotations
        shape = shape.to(dtype)
        local_changes = None
        if self._local_map is not None:
            local_changes = shape[:, self._phenotypes:] @ self._local_map.to(shape.device)
        return shape[:, :self._phenotypes], local_changes, transforms

    def _local_change_map(self) -> torch.Tensor | None:
        """(shape locals, Anny local targets) 0/1 matrix: which targets each shape label drives."""
        targets = list(self._model.local_change_labels)
        if not targets:
            return None
        mapping = torch.zeros(len(BODY_LOCAL_CHANGES), len(targets), dtype=self._model.dtype)
        for row, group in enumerate(BODY_LOCAL_CHANGES.values()):
            for target in group:
                mapping[row, targets.index(target)] = 1.0
        return mapping

    def sample_shapes(self, rngs: Sequence[np.random.Generator], prior: ShapePrior) -> np.ndarray:
        """Shapes (len(rngs), shape_space.size) float32.

        The six default phenotypes come from Anny's calibrated, age-conditioned
        distribution: morphological age uniform over `prior.age_years`; gender uniform
        within its male [0, 0.5] and female (0.5, 1] halves, female with probability
        `prior.female_share`; height, weight, muscle and proportions from Anny's per-sex
        Beta distributions at that age. In the "body" space, cupsize and firmness are
        Beta(2, 2), the three ancestry blends a flat Dirichlet draw, and each local
        target N(0, LOCAL_CHANGE_SIGMA^2) clipped to [-1, 1] (this space's own prior;
        `synth.population` calibrates it to a reference). Row i uses `rngs[i]` only
        (never torch's global generator), drawing in that order; the age-to-parameter
        interpolation runs once for all rows.
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
        default = np.stack([np.clip(values[k], 0.0, 1.0) for k in self.shape_space.labels[:len(values)]], 1)
        if self.space == "phenotypes":
            return default.astype(np.float32)
        extra = np.array([self._sample_extra(rng) for rng in rngs]).reshape(len(rngs), -1)
        return np.concatenate([default, extra], 1).astype(np.float32)

    def _sample_extra(self, rng: np.random.Generator) -> np.ndarray:
        """One row's body-space components after the six default phenotypes."""
        cup_firm = rng.beta(_EXTRA_PHENOTYPE_BETA, _EXTRA_PHENOTYPE_BETA, size=2)
        ancestry = rng.dirichlet(np.ones(3))
        local = np.clip(rng.normal(0.0, LOCAL_CHANGE_SIGMA, size=len(BODY_LOCAL_CHANGES)), -1.0, 1.0)
        return np.concatenate([cup_firm, ancestry, local])

    def female_fraction(self, shape: np.ndarray) -> float:
        """1 for a woman (Anny's gender phenotype above 0.5), else 0: the sex the survey-fitted
        formulas take, whatever the blend of the body's look."""
        return float(shape[self.shape_space.labels.index("gender")] > 0.5)

    def age_years(self, shapes: np.ndarray) -> np.ndarray:
        """(N,) morphological age in years of Anny's age phenotype (its calibrated mapping)."""
        anny_age = torch.as_tensor(np.asarray(shapes, np.float64)[:, self.shape_space.labels.index("age")])
        mapping = self._calibrated_prior().morphological_age_mapping
        return mapping.anny_to_morphological_age(anny_age).numpy().astype(np.float64)

    def with_age(self, shapes: np.ndarray, age_years: np.ndarray) -> np.ndarray:
        """`shapes` with the age phenotype of `age_years` where finite (Anny's calibrated mapping)."""
        years = np.asarray(age_years, np.float64)
        given = np.isfinite(years)
        if not given.any():
            return shapes
        mapping = self._calibrated_prior().morphological_age_mapping
        out = shapes.copy()
        column = self.shape_space.labels.index("age")
        out[given, column] = mapping.morphological_to_anny_age(torch.as_tensor(years[given])).numpy()
        return out

    def _calibrated_prior(self):
        if self._shape_prior is None:
            from anny.shape_distribution import SimpleShapeDistribution

            self._shape_prior = SimpleShapeDistribution(self._model)
        return self._shape_prior
