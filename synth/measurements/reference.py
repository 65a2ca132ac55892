"""The reference measurer: the label definitions implemented one body and one plane at a time.

Each section is cut by trimesh from the region's own surface (`Topology.faces`), its
convex hull is found by qhull, and the tape is that hull. It is the plain reading of the
definitions, kept so the batched measurer (`synth.measurements.batch`) is tested against
it, and to draw the tapes (`tapes`); it costs about 40 ms a body.
"""
from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

from body_models import BodyModel
from synth.measurements.definitions import CIRCUMFERENCES, Measurements, derived
from synth.measurements.planes import plane_basis, planes
from synth.measurements.topology import Topology, prepare

_PICK = {"only": lambda lengths: 0, "min": np.nanargmin, "max": np.nanargmax}


def section_hull(mesh: trimesh.Trimesh, origin: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """(H, 3) the corners, in order around it, of the convex hull of the section of `mesh` by
    the plane (origin, normal): where a tape lies. Empty where the plane misses the mesh or
    cuts it in fewer than three points off one line."""
    points = trimesh.intersections.mesh_plane(mesh, normal, origin).reshape(-1, 3)
    if len(points) < 3:
        return np.zeros((0, 3))
    try:
        return points[ConvexHull(points @ plane_basis(normal).T).vertices]
    except QhullError:
        return np.zeros((0, 3))


def loop_length(loop: np.ndarray) -> float:
    """Length (m) of the closed polygon through `loop` (H, 3); NaN for an empty one."""
    if not len(loop):
        return float("nan")
    return float(np.linalg.norm(loop - np.roll(loop, 1, 0), axis=1).sum())


class ReferenceMeasurer:
    """Measures neutral-pose bodies of one backend (see `synth.measurements.definitions`)."""

    def __init__(self, model: BodyModel, topology: Topology | None = None) -> None:
        self.model = model
        self.topology = topology or prepare(model)

    def tapes(self, vertices: np.ndarray, joints: np.ndarray, female: float) -> dict[str, np.ndarray]:
        """Each circumference label's tape on one neutral-pose body (vertices (V, 3), joints
        (J, 3), meters): the hull (H, 3) on its plane (for a search, the plane it picks)."""
        vertices, joints = np.asarray(vertices, np.float64), np.asarray(joints, np.float64)
        cut = planes(vertices[None], joints[None], np.array([female]), self.topology)
        tapes = {}
        for name in CIRCUMFERENCES:
            plane = cut[name]
            mesh = trimesh.Trimesh(vertices, self.topology.faces[plane.region], process=False)
            loops = [section_hull(mesh, o, n) for o, n in zip(plane.origin[0], plane.normal[0])]
            lengths = np.array([loop_length(loop) for loop in loops])
            tapes[name] = loops[_PICK[plane.pick](lengths)] if np.isfinite(lengths).any() else np.zeros((0, 3))
        return tapes

    def measure(self, vertices: np.ndarray, joints: np.ndarray, female: float) -> Measurements:
        """Measurements of one neutral-pose body: vertices (V, 3), joints (J, 3), meters."""
        values = {name: loop_length(loop) for name, loop in self.tapes(vertices, joints, female).items()}
        height = float(np.ptp(np.asarray(vertices)[:, 1]))
        volume = (float(abs(trimesh.Trimesh(vertices, self.model.faces, process=False).volume))
                  if self.topology.watertight else float("nan"))
        rest = derived(height, volume, values, female)
        return Measurements(height_m=height, volume_m3=volume, **values, **{k: float(v) for k, v in rest.items()})
