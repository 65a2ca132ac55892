"""The batched measurer: the label definitions on many bodies at once, in array operations.

What the topology fixes is prepared once (`synth.measurements.topology`): each region's
vertices and the edges of its surface, re-indexed to them. Per body and plane, the
section is where those edges change sides of the plane (one vector operation, no mesh
slicing, no loop ordering: a convex hull needs none), the tape is its hull's perimeter,
and the volume is one sum over the triangles. Same labels as `ReferenceMeasurer` (tested).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from body_models import BodyModel
from synth.measurements.definitions import CIRCUMFERENCES, Measurements, derived
from synth.measurements.hull import hull_perimeters
from synth.measurements.planes import Plane, plane_basis, planes
from synth.measurements.topology import Topology, prepare


@dataclass(frozen=True)
class _Region:
    """A region's vertex ids (N,) and its surface's edges (E, 2) as positions in that list."""

    vertices: np.ndarray
    edges: np.ndarray


def _region(topology: Topology, name: str) -> _Region:
    ids = np.flatnonzero(topology.regions[name])
    local = np.full(len(topology.regions[name]), -1)
    local[ids] = np.arange(len(ids))
    return _Region(ids, local[topology.edges[name]])


def _pick(lengths: np.ndarray, pick: str) -> np.ndarray:
    """(B,) the label from the hull lengths (B, K) of its planes (NaN where every plane missed)."""
    if pick == "only":
        return lengths[:, 0]
    finite = np.isfinite(lengths).any(1)
    reduce = np.min if pick == "min" else np.max
    fill = np.inf if pick == "min" else -np.inf
    return np.where(finite, reduce(np.where(np.isfinite(lengths), lengths, fill), 1), np.nan)


def signed_volumes(vertices: np.ndarray, faces: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """(B,) volume (m^3) enclosed by closed, consistently wound meshes (B, V, 3): the triangles'
    determinants summed in float64 over float32 corners (1e-7 relative), a cache-sized
    block of triangles at a time."""
    corners = np.ascontiguousarray(vertices.transpose(1, 0, 2), dtype=np.float32)  # (V, B, 3)
    total = np.zeros(len(vertices))
    for lo in range(0, len(faces), chunk):
        a, b, c = (corners[faces[lo:lo + chunk, k]] for k in range(3))
        total += np.einsum("fbi,fbi->b", np.cross(a, b), c, dtype=np.float64)
    return np.abs(total) / 6.0


class BodyMeasurer:
    """Measures neutral-pose bodies of one backend, many at a time (see
    `synth.measurements.definitions` for what each label is)."""

    def __init__(self, model: BodyModel) -> None:
        self.model = model
        self.topology = prepare(model)
        self._regions = {name: _region(self.topology, name) for name in self.topology.regions}

    def rest_bodies(self, shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neutral-pose vertices (B, V, 3) and joints (B, J, 3), float64, world frame."""
        return self.model.pose_arrays(np.asarray(shapes, np.float32), np.tile(self.model.rest_pose(), (len(shapes), 1)))

    def measure_shapes(self, shapes: np.ndarray) -> list[Measurements]:
        """Measurements of shapes (B, S) in the neutral pose."""
        vertices, joints = self.rest_bodies(shapes)
        female = np.array([self.model.female_fraction(s) for s in np.asarray(shapes, np.float32)])
        return self.measure_bodies(vertices, joints, female)

    def measure(self, vertices: np.ndarray, joints: np.ndarray, female: float) -> Measurements:
        """Measurements of one neutral-pose body: vertices (V, 3), joints (J, 3), meters."""
        return self.measure_bodies(np.asarray(vertices)[None], np.asarray(joints)[None], np.array([female]))[0]

    def measure_bodies(self, vertices: np.ndarray, joints: np.ndarray, female: np.ndarray) -> list[Measurements]:
        """Measurements of neutral-pose bodies: vertices (B, V, 3), joints (B, J, 3), meters,
        world frame; female (B,) 0..1."""
        vertices, joints = np.asarray(vertices, np.float64), np.asarray(joints, np.float64)
        female = np.asarray(female, np.float64)
        cut = planes(vertices, joints, female, self.topology)
        points = {name: vertices[:, region.vertices] for name, region in self._regions.items()}  # (B, N, 3)
        values = {name: self._tape(points[cut[name].region], cut[name]) for name in CIRCUMFERENCES}
        height = np.ptp(vertices[..., 1], axis=1)
        volume = (signed_volumes(vertices, self.model.faces) if self.topology.watertight
                  else np.full(len(vertices), np.nan))
        rest = derived(height, volume, values, female)
        columns = {"height_m": height, "volume_m3": volume, **values, **rest}
        return [Measurements(**{name: float(np.asarray(value)[b]) for name, value in columns.items()})
                for b in range(len(vertices))]

    def _tape(self, points: np.ndarray, plane: Plane) -> np.ndarray:
        """(B,) the label of `plane` for each body from its region's points (B, N, 3): every
        body's and plane's section at once (the crossings of the region's edges), then each
        section's hull perimeter."""
        region = self._regions[plane.region]
        offset = np.einsum("bkc,bkc->bk", plane.origin, plane.normal)[..., None]
        distance = np.einsum("bnc,bkc->bkn", points, plane.normal) - offset  # (B, K, N)
        side = distance >= 0
        first, second = region.edges[:, 0], region.edges[:, 1]
        body, k, edge = np.nonzero(side[..., first] != side[..., second])  # (B, K, E) crossings
        near, far = distance[body, k, first[edge]], distance[body, k, second[edge]]
        t = (near / (near - far))[:, None]
        start, end = points[body, first[edge]], points[body, second[edge]]
        planar = np.einsum("hc,hdc->hd", start + t * (end - start), plane_basis(plane.normal)[body, k])
        sections = body * plane.origin.shape[1] + k
        lengths = hull_perimeters(planar, sections, len(points) * plane.origin.shape[1])
        return _pick(lengths.reshape(len(points), -1), plane.pick)
