"""A small synthetic SMPL-format model: a stick figure of capsules in T-pose.

Right keys and shapes for smplx (6,890 vertices because smplx picks extra keypoints
by fixed vertex ids; most are padding), 24 joints, 10 betas. Nothing licensed.
"""
from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import trimesh

PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
JOINTS = np.array([
    [0, .95, 0], [.09, .88, 0], [-.09, .88, 0], [0, 1.05, 0], [.1, .5, 0], [-.1, .5, 0], [0, 1.18, 0],
    [.1, .08, 0], [-.1, .08, 0], [0, 1.3, 0], [.1, .02, .1], [-.1, .02, .1], [0, 1.5, 0],
    [.08, 1.42, 0], [-.08, 1.42, 0], [0, 1.62, 0], [.18, 1.42, 0], [-.18, 1.42, 0],
    [.45, 1.42, 0], [-.45, 1.42, 0], [.7, 1.42, 0], [-.7, 1.42, 0], [.78, 1.42, 0], [-.78, 1.42, 0],
])
VERTEX_COUNT = 6890


def smpl_arrays(seed: int = 0, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Arrays of a SMPL-format model (float64, dense J_regressor), `scale` times the
    default size (stand-ins for female and male files differ by it)."""
    rng = np.random.default_rng(seed)
    joints = JOINTS * scale
    vertices = [joints]  # the first 24 vertices sit on the joints; J_regressor picks them
    weights = [np.eye(24)]
    faces = []
    count = 24
    for child, parent in enumerate(PARENTS):
        if parent < 0:
            continue
        if np.linalg.norm(joints[child] - joints[parent]) < 1e-6:
            continue
        tube = trimesh.creation.cylinder(radius=0.045, segment=[joints[parent], joints[child]], sections=10)
        vertices.append(tube.vertices)
        weights.append(np.tile(np.eye(24)[parent], (len(tube.vertices), 1)))
        faces.append(tube.faces + count)
        count += len(tube.vertices)
    head = trimesh.creation.icosphere(subdivisions=2, radius=0.1)
    vertices.append(head.vertices + joints[15] + [0, 0.08, 0])
    weights.append(np.tile(np.eye(24)[15], (len(head.vertices), 1)))
    faces.append(head.faces + count)
    count += len(head.vertices)
    pad = VERTEX_COUNT - count
    vertices.append(np.tile(joints[0], (pad, 1)))
    weights.append(np.tile(np.eye(24)[0], (pad, 1)))
    v_template = np.concatenate(vertices)
    shapedirs = np.zeros((VERTEX_COUNT, 3, 10))
    shapedirs[:, 1, 0] = 0.05 * v_template[:, 1]  # beta0: taller
    shapedirs[:, 0, 1] = 0.05 * v_template[:, 0]  # beta1: wider
    shapedirs[:, :, 2:] = rng.normal(0, 1e-3, (VERTEX_COUNT, 3, 8))
    regressor = np.zeros((24, VERTEX_COUNT))
    regressor[np.arange(24), np.arange(24)] = 1.0
    return {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": np.zeros((VERTEX_COUNT, 3, 207)),
        "J_regressor": regressor,
        "weights": np.concatenate(weights),
        "kintree_table": np.array([[4294967295] + PARENTS[1:], list(range(24))], dtype=np.int64),
        "f": np.concatenate(faces).astype(np.int64),
    }


def write_plain_pickle(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump(arrays, handle, protocol=2)
    return path


def write_chumpy_pickle(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """A pickle laid out like the official files: chumpy `Ch` objects, sparse J_regressor.

    It is written with a throw-away fake `chumpy` module that is removed afterwards, so
    reading it back must work without chumpy.
    """
    import scipy.sparse

    fake = types.ModuleType("chumpy")
    fake_ch = types.ModuleType("chumpy.ch")

    class Ch:  # mimics chumpy.ch.Ch's pickled state: the array lives in 'x'
        def __init__(self, x):
            self.x = x

        def __getstate__(self):
            return {"x": self.x, "_dirty_vars": set()}

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    fake_ch.Ch = Ch
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = fake, fake_ch
    try:
        layout = dict(arrays)
        for key in ("v_template", "shapedirs", "posedirs", "weights"):
            layout[key] = Ch(arrays[key])
        layout["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
        layout["bs_type"] = "lrotmin"
        return write_plain_pickle(path, layout)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
