"""Where each tape goes: the measuring planes of a batch of neutral-pose bodies.

Landmark logic only (see `synth.measurements.definitions` for the table of definitions):
every function takes vertices (B, V, 3) and joints (B, J, 3), meters, world frame (+y up,
facing +z), and returns per-body plane origins and normals, so both measurers (the
reference and the batched one) cut the same planes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.measurements.definitions import (BUTTOCK_BAND, CALF_BAND, CALF_PLANES, ILIAC_CREST_SPAN,
                                            LANDMARK_SOFTNESS_M, NECK_LEVEL, THIGH_BELOW_CROTCH, WAIST_BAND,
                                            WAIST_PLANES)
from synth.measurements.topology import Topology

UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Plane:
    """Planes (B, K) of one label: origin (B, K, 3), unit normal (B, K, 3), and the region
    whose section is measured; K > 1 for a search (the label is `pick` of the K hulls)."""

    origin: np.ndarray
    normal: np.ndarray
    region: str
    pick: str = "only"  # "only", "min" or "max"


def _horizontal(levels: np.ndarray, region: str, pick: str = "only") -> Plane:
    """Horizontal planes at heights `levels` (B, K)."""
    origin = np.zeros((*levels.shape, 3))
    origin[..., 1] = levels
    return Plane(origin, np.broadcast_to(UP, origin.shape).copy(), region, pick)


def _normal_to(a: np.ndarray, b: np.ndarray, points: np.ndarray, region: str, pick: str = "only") -> Plane:
    """Planes through `points` (B, K, 3), normal to the segment a -> b (B, 3)."""
    axis = b - a
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    return Plane(points, np.broadcast_to(axis[:, None], points.shape).copy(), region, pick)


def soft_extreme_height(heights: np.ndarray, depths: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """(B,) the height of the most protruding of the eligible points (B, N): a mean of their
    heights weighted by exp(protrusion / `LANDMARK_SOFTNESS_M`), so that where two bulges
    are nearly level the landmark slides between them instead of jumping (a label that
    jumps is one no surrogate or net can follow). `depths`: how far each point protrudes (m)."""
    top = np.max(np.where(eligible, depths, -np.inf), 1, keepdims=True)
    weight = np.where(eligible, np.exp(np.minimum(depths - top, 0.0) / LANDMARK_SOFTNESS_M), 0.0)
    return (weight * heights).sum(1) / weight.sum(1)


def bust_level(vertices: np.ndarray, topology: Topology) -> np.ndarray:
    """(B,) height of the bust point: the left breast's most forward point (soft, see
    `soft_extreme_height`)."""
    breast = vertices[:, topology.bust]
    return soft_extreme_height(breast[..., 1], breast[..., 2], np.ones(breast.shape[:2], bool))


def buttock_level(vertices: np.ndarray, joints: np.ndarray, topology: Topology, hip_y: np.ndarray,
                  span: np.ndarray) -> np.ndarray:
    """(B,) height of the buttocks' greatest backward protrusion: the rearmost point (soft)
    between the hip joints' x positions, within `BUTTOCK_BAND` of the span about the hip
    joints."""
    left, right = joints[:, topology.joints.hips[0], 0], joints[:, topology.joints.hips[1], 0]
    x, y, z = vertices[..., 0], vertices[..., 1], vertices[..., 2]
    band = ((y > (hip_y + BUTTOCK_BAND[0] * span)[:, None]) & (y < (hip_y + BUTTOCK_BAND[1] * span)[:, None])
            & (x > np.minimum(left, right)[:, None]) & (x < np.maximum(left, right)[:, None]))
    return soft_extreme_height(y, -z, band)


def planes(vertices: np.ndarray, joints: np.ndarray, female: np.ndarray, topology: Topology) -> dict[str, Plane]:
    """The measuring planes of every circumference label, keyed by label name; female (B,) 0..1."""
    j = topology.joints
    shoulder_y = joints[:, list(j.shoulders), 1].mean(1)
    hip_y = joints[:, list(j.hips), 1].mean(1)
    span = shoulder_y - hip_y
    feet = vertices[..., 1].min(1)
    stature = vertices[..., 1].max(1) - feet
    waist = hip_y[:, None] + span[:, None] * np.linspace(*WAIST_BAND, WAIST_PLANES)[None]
    neck_base, head = joints[:, j.neck_base], joints[:, j.head]
    hip, knee, ankle = joints[:, j.hips[0]], joints[:, j.knee], joints[:, j.ankle]
    femur = (knee - hip) / np.linalg.norm(knee - hip, axis=1, keepdims=True)
    below_crotch = np.einsum("bc,bc->b", vertices[:, topology.crotch] - hip, femur) + THIGH_BELOW_CROTCH * stature
    thigh_at = hip + below_crotch[:, None] * femur
    calf_at = knee[:, None] + np.linspace(*CALF_BAND, CALF_PLANES)[None, :, None] * (ankle - knee)[:, None]
    shoulder, elbow = joints[:, j.shoulders[0]], joints[:, j.elbow]
    return {
        "neck_circumference_m": _normal_to(neck_base, head, (neck_base + NECK_LEVEL * (head - neck_base))[:, None],
                                           "neck"),
        "chest_circumference_m": _horizontal(bust_level(vertices, topology)[:, None], "trunk"),
        "waist_circumference_m": _horizontal(waist, "trunk", "min"),
        "waist_navel_circumference_m": _horizontal(vertices[:, topology.navel, 1][:, None], "trunk"),
        "waist_iliac_circumference_m": _horizontal((hip_y + ILIAC_CREST_SPAN * span)[:, None], "trunk"),
        "hip_circumference_m": _horizontal(buttock_level(vertices, joints, topology, hip_y, span)[:, None],
                                           "trunk_legs"),
        "thigh_circumference_m": _normal_to(hip, knee, thigh_at[:, None], "thigh"),
        "calf_circumference_m": _normal_to(knee, ankle, calf_at, "calf", "max"),
        "upper_arm_circumference_m": _normal_to(shoulder, elbow, (0.5 * (shoulder + elbow))[:, None], "upper_arm"),
    }


def plane_basis(normal: np.ndarray) -> np.ndarray:
    """(..., 2, 3) two orthonormal in-plane directions for unit normals (..., 3)."""
    helper = np.where(np.abs(normal[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]))
    u = np.cross(normal, helper)
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    return np.stack([u, np.cross(normal, u)], -2)
