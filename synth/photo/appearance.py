"""How a rendered person looks: skin tone, tight clothing, hair, sampled per subject.

Each vertex of a posed body is given to the nearest bone segment of its skeleton
(upper arm, forearm, hand, thigh, shin, foot, torso, head) with its position along
that segment, so clothing regions follow the body whatever its shape: a top with
sleeves to a sampled fraction of the arm, bottoms from a belt line to a sampled
fraction of the leg, shoes. Hair is a separate volume over the head (it is not part of
the true silhouette, as in real photos).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from body_models import Skeleton

# sRGB 0-1: light to dark skin tones (roughly Monk scale 1-10)
SKIN_TONES = np.array([
    [0.96, 0.87, 0.80], [0.93, 0.80, 0.70], [0.88, 0.73, 0.62], [0.83, 0.66, 0.53], [0.74, 0.56, 0.43],
    [0.63, 0.46, 0.34], [0.52, 0.37, 0.27], [0.42, 0.29, 0.21], [0.32, 0.22, 0.16], [0.24, 0.17, 0.13],
])
HAIR_COLOURS = np.array([[0.06, 0.05, 0.04], [0.20, 0.13, 0.08], [0.40, 0.27, 0.16], [0.70, 0.56, 0.35],
                         [0.55, 0.25, 0.12], [0.62, 0.62, 0.60]])
# tight sportswear: blacks, greys, navies, saturated colours
CLOTHING_COLOURS = np.array([
    [0.05, 0.05, 0.06], [0.15, 0.15, 0.17], [0.35, 0.36, 0.38], [0.75, 0.75, 0.76], [0.92, 0.92, 0.93],
    [0.08, 0.12, 0.30], [0.15, 0.30, 0.60], [0.55, 0.10, 0.12], [0.85, 0.25, 0.30], [0.15, 0.45, 0.30],
    [0.45, 0.20, 0.55], [0.90, 0.55, 0.15], [0.30, 0.55, 0.65], [0.55, 0.50, 0.40],
])

_PARTS = ("torso", "head", "upper_arm", "forearm", "hand", "thigh", "shin", "foot")


@dataclass(frozen=True)
class Appearance:
    """skin/top/bottom/shoe/hair: RGB in [0, 1]; sleeve: fraction of the arm (shoulder 0 ->
    wrist 1) the top covers; leg: fraction of the leg (hip 0 -> ankle 1) the bottoms
    cover; belt: where the top ends on the torso (hips 0 -> neck 1); hair: scale of the
    hair volume relative to the head (0 = none)."""

    skin: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    shoes: np.ndarray
    hair_colour: np.ndarray
    sleeve: float
    leg: float
    belt: float
    hair: float


def _tint(rng: np.random.Generator, colour: np.ndarray, amount: float) -> np.ndarray:
    return np.clip(colour * rng.uniform(1 - amount, 1 + amount, 3), 0.0, 1.0)


def sample_appearance(rng: np.random.Generator, hair_share: float) -> Appearance:
    """One subject's look; `hair_share`: chance of a hair volume."""
    top, bottom = rng.choice(len(CLOTHING_COLOURS), 2)
    has_hair = rng.uniform() < hair_share
    return Appearance(
        skin=_tint(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 0.06),
        top=_tint(rng, CLOTHING_COLOURS[top], 0.15),
        bottom=_tint(rng, CLOTHING_COLOURS[bottom], 0.15),
        shoes=_tint(rng, CLOTHING_COLOURS[rng.integers(len(CLOTHING_COLOURS))], 0.1),
        hair_colour=_tint(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 0.1),
        sleeve=float(rng.choice([0.0, 0.45, 1.0])),
        leg=float(rng.choice([0.3, 0.55, 1.0])),
        belt=float(rng.uniform(0.15, 0.35)),
        hair=float(rng.uniform(1.0, 1.15)) if has_hair else 0.0,
    )


@dataclass(frozen=True)
class BodyParts:
    """Per vertex: part index into `_PARTS` and position t along that part's segment."""

    part: np.ndarray
    t: np.ndarray

    def colours(self, look: Appearance) -> np.ndarray:
        """(V, 3) vertex colours of `look`."""
        is_part = {name: self.part == k for k, name in enumerate(_PARTS)}
        colours = np.tile(look.skin, (len(self.part), 1))
        arm_t = np.where(is_part["upper_arm"], 0.5 * self.t, 0.5 + 0.5 * self.t)
        leg_t = np.where(is_part["thigh"], 0.5 * self.t, 0.5 + 0.5 * self.t)
        colours[(is_part["upper_arm"] | is_part["forearm"]) & (arm_t <= look.sleeve)] = look.top
        colours[is_part["torso"] & (self.t >= look.belt)] = look.top
        colours[is_part["torso"] & (self.t < look.belt)] = look.bottom
        colours[(is_part["thigh"] | is_part["shin"]) & (leg_t <= look.leg)] = look.bottom
        colours[is_part["foot"]] = look.shoes
        return colours


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of points (V, 3) to segment a-b and the clamped position t in [0, 1]."""
    ab = b - a
    t = np.clip((points - a) @ ab / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1), t


def body_parts(vertices: np.ndarray, joints: np.ndarray, skeleton: Skeleton) -> BodyParts:
    """Part labels of a posed body (V, 3) with joints (J, 3), meters, +y up."""
    at = {name: joints[skeleton.index(name)] for name in (*skeleton.shoulder, *skeleton.elbow, *skeleton.wrist,
                                                          *skeleton.hip, *skeleton.knee, *skeleton.ankle)}
    neck = joints[skeleton.index(skeleton.neck[0])]
    pelvis = 0.5 * (at[skeleton.hip[0]] + at[skeleton.hip[1]])
    top = np.array([neck[0], vertices[:, 1].max(), neck[2]])
    segments = [("torso", pelvis, neck), ("head", neck, top)]
    for side in (0, 1):
        shoulder, elbow, wrist = at[skeleton.shoulder[side]], at[skeleton.elbow[side]], at[skeleton.wrist[side]]
        hip, knee, ankle = at[skeleton.hip[side]], at[skeleton.knee[side]], at[skeleton.ankle[side]]
        segments += [("upper_arm", shoulder, elbow), ("forearm", elbow, wrist),
                     ("hand", wrist, wrist + 0.45 * (wrist - elbow)), ("thigh", hip, knee), ("shin", knee, ankle),
                     ("foot", ankle, ankle + np.array([0.0, -0.06, 0.15]))]
    distances, positions = zip(*(_segment_distance(vertices, a, b) for _, a, b in segments))
    # the torso is thick: distances to its axis count from ~0.4 x the shoulder span
    torso_radius = 0.4 * np.linalg.norm(at[skeleton.shoulder[0]] - at[skeleton.shoulder[1]])
    distances = np.stack(distances)
    distances[0] -= torso_radius * (positions[0] < 1.0)  # not past the neck: that is the head
    nearest = np.argmin(distances, axis=0)
    index = np.array([_PARTS.index(name) for name, _, _ in segments])
    part, t = index[nearest], np.stack(positions)[nearest, np.arange(len(vertices))]
    # beside the torso but above the shoulder or hip joint: the torso's (shoulder caps, buttocks)
    root_of_limb = np.isin(part, [_PARTS.index("upper_arm"), _PARTS.index("thigh")]) & (t <= 0.0)
    part[root_of_limb], t[root_of_limb] = _PARTS.index("torso"), positions[0][root_of_limb]
    return BodyParts(part=part, t=t)


def hair_volume(vertices: np.ndarray, parts: BodyParts, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """An ellipsoid (vertices, faces) over the top and back of the head, `scale` x its size."""
    import trimesh

    head = vertices[parts.part == _PARTS.index("head")]
    low, high = head.min(0), head.max(0)
    centre = 0.5 * (low + high)
    radius = 0.5 * (high - low) * np.array([0.95, 0.6, 0.95]) * scale
    sphere = trimesh.creation.icosphere(subdivisions=2)
    offset = np.array([0.0, 0.2 * (high[1] - low[1]), -0.1 * (high[2] - low[2])])
    return sphere.vertices * radius + centre + offset, sphere.faces
