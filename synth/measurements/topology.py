"""What a body model's mesh offers the measurer, prepared once per model.

The topology is fixed, so the regions a tape may touch (from the skinning: the vertices
each joint chain moves most), the mesh's edges inside each region (the only ones a plane
can cross there), the landmark vertices and the joints the planes hang on are found once.
Landmarks the backend does not name are found on its mean body: the navel as the front
midline vertex at 0.60 of stature (ANSUR II's omphalion height), the crotch as the lowest
midline vertex above the knees (below it lies the gap between the legs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from body_models import BodyModel
from synth.measurements.definitions import BUST_RADIUS_M, CHEST_BAND

REGIONS = ("trunk", "trunk_legs", "neck", "thigh", "calf", "upper_arm")
"""trunk: all but the arms, head and legs below the hip joints' chains (chest and waists);
trunk_legs: all but the arms and head (the hip, where a lean body's plane may cross the
thighs); neck: the neck chain and the head; thigh: the left half of trunk_legs above the
knee (a plane below the crotch cuts only the left thigh there); calf, upper_arm: the left
limb's segment."""
_NAVEL_STATURE = 0.60
_MIDLINE_M = 0.01


@dataclass(frozen=True)
class Joints:
    """Skeleton joint indices the planes use (left limbs measured, as the surveys do)."""

    shoulders: tuple[int, int]
    elbow: int
    hips: tuple[int, int]
    knee: int
    ankle: int
    neck_base: int
    head: int
    spine: tuple[int, ...]
    arms: tuple[tuple[int, int, int], tuple[int, int, int]]  # (shoulder, elbow, wrist) per side


@dataclass(frozen=True)
class Topology:
    """regions: name -> (V,) bool; faces: name -> (F', 3) the triangles with every corner in
    the region (a region's surface); edges: name -> (E, 2) int64 the edges of those triangles
    (where a plane cuts that surface); navel, crotch: vertex ids; bust: (K,) ids of the
    left breast's vertices (where its most forward point may lie); watertight: whether the
    mesh encloses a volume."""

    regions: dict[str, np.ndarray]
    faces: dict[str, np.ndarray]
    edges: dict[str, np.ndarray]
    joints: Joints
    navel: int
    crotch: int
    bust: np.ndarray
    watertight: bool


def _descendants(parents: np.ndarray, root: int) -> np.ndarray:
    """(J',) bool: `root` and every joint below it."""
    inside = np.zeros(len(parents), bool)
    inside[root] = True
    changed = True
    while changed:
        grown = inside | ((parents >= 0) & inside[np.maximum(parents, 0)])
        changed = bool((grown != inside).any())
        inside = grown
    return inside


def _joints(model: BodyModel) -> Joints:
    sk = model.skeleton
    return Joints(shoulders=(sk.index(sk.shoulder[0]), sk.index(sk.shoulder[1])), elbow=sk.index(sk.elbow[0]),
                  hips=(sk.index(sk.hip[0]), sk.index(sk.hip[1])), knee=sk.index(sk.knee[0]),
                  ankle=sk.index(sk.ankle[0]), neck_base=sk.index(sk.neck[0]), head=sk.index(sk.neck[-1]),
                  spine=tuple(sk.index(n) for n in sk.spine),
                  arms=tuple(tuple(sk.index(getattr(sk, part)[side]) for part in ("shoulder", "elbow", "wrist"))
                             for side in (0, 1)))


def _regions(model: BodyModel, joints: Joints, left: np.ndarray) -> dict[str, np.ndarray]:
    """The regions from the skinning; `left` (V,) bool: left of the midline on the mean body."""
    parents, skin = model.joint_parents, model.skin_joints
    below = {j: _descendants(parents, j)[skin] for j in {*joints.shoulders, joints.elbow, *joints.hips, joints.knee,
                                                         joints.ankle, joints.neck_base, joints.head}}
    arms = below[joints.shoulders[0]] | below[joints.shoulders[1]]
    legs = below[joints.hips[0]] | below[joints.hips[1]]
    return {"trunk": ~arms & ~below[joints.head] & ~legs,
            "trunk_legs": ~arms & ~below[joints.head],
            "neck": below[joints.neck_base],
            "thigh": ~arms & ~below[joints.head] & left & ~below[joints.knee],
            "calf": below[joints.knee] & ~below[joints.ankle],
            "upper_arm": below[joints.shoulders[0]] & ~below[joints.elbow]}


def mesh_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) int64: every undirected edge of the triangles once."""
    pairs = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.unique(np.sort(pairs, 1), axis=0)


def _midline_x(joints: Joints, jv: np.ndarray) -> float:
    """The body's midline: halfway between the hip joints, x (m)."""
    return 0.5 * (jv[joints.hips[0], 0] + jv[joints.hips[1], 0])


def _midline(vertices: np.ndarray, joints: Joints, jv: np.ndarray) -> np.ndarray:
    return np.abs(vertices[:, 0] - _midline_x(joints, jv)) < _MIDLINE_M


def _navel(model: BodyModel, vertices: np.ndarray, joints: Joints, jv: np.ndarray, trunk: np.ndarray) -> int:
    if "navel" in model.landmarks:
        return int(model.landmarks["navel"])
    feet, stature = vertices[:, 1].min(), np.ptp(vertices[:, 1])
    front = _midline(vertices, joints, jv) & trunk & (vertices[:, 2] > jv[list(joints.spine), 2].mean())
    if not front.any():
        return 0
    candidates = np.flatnonzero(front)
    return int(candidates[np.argmin(np.abs(vertices[candidates, 1] - feet - _NAVEL_STATURE * stature))])


def _bust(vertices: np.ndarray, joints: Joints, jv: np.ndarray, trunk: np.ndarray) -> np.ndarray:
    """The left breast's vertices: the trunk's within `BUST_RADIUS_M` of its most forward
    vertex left of the midline (3-16 cm out) within `CHEST_BAND` of the span, on the mean body."""
    shoulder_y, hip_y = jv[list(joints.shoulders), 1].mean(), jv[list(joints.hips), 1].mean()
    out = vertices[:, 0] - _midline_x(joints, jv)
    span = shoulder_y - hip_y
    band = trunk & (out > 0.03) & (out < 0.16) & (vertices[:, 1] > hip_y + CHEST_BAND[0] * span) & \
        (vertices[:, 1] < hip_y + CHEST_BAND[1] * span)
    if not band.any():
        return np.flatnonzero(trunk)[:1]
    apex = vertices[np.flatnonzero(band)[np.argmax(vertices[band, 2])]]
    return np.flatnonzero(trunk & (np.linalg.norm(vertices - apex, axis=1) < BUST_RADIUS_M))


def _crotch(vertices: np.ndarray, joints: Joints, jv: np.ndarray) -> int:
    middle = _midline(vertices, joints, jv) & (vertices[:, 1] > jv[joints.knee, 1]) & (vertices[:, 1] < jv[joints.hips[0], 1])
    if not middle.any():
        return 0
    candidates = np.flatnonzero(middle)
    return int(candidates[np.argmin(vertices[candidates, 1])])


def prepare(model: BodyModel) -> Topology:
    """The measurer's view of `model` (one forward pass of its mean body, in the rest pose)."""
    joints = _joints(model)
    vertices, jv = (part[0] for part in model.pose_arrays(model.neutral_shape()[None], model.rest_pose()[None]))
    regions = _regions(model, joints, vertices[:, 0] > _midline_x(joints, jv))
    faces = {name: model.faces[mask[model.faces].all(1)] for name, mask in regions.items()}
    watertight = trimesh.Trimesh(vertices, model.faces, process=False).is_watertight
    return Topology(regions=regions, faces=faces, edges={name: mesh_edges(f) for name, f in faces.items()},
                    joints=joints, navel=_navel(model, vertices, joints, jv, regions["trunk"]),
                    crotch=_crotch(vertices, joints, jv), bust=_bust(vertices, joints, jv, regions["trunk"]),
                    watertight=watertight)
