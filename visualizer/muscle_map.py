"""Which muscle lies under each skin point: coarse areas drawn from landmark rules.

The map is a teaching and tinting aid, not a dissection: each area is a box or ball in the head
frame bounded by landmarks (orbital rim, tragus, inion, C7, acromion …), and limited by the
direction the skin faces. The same rules label the bundled mesh (stored as the point array
``muscle`` in ``meshes/head.vtp``) and any other head that comes without a map.

All coordinates here are head-frame millimetres (+x right, +y front, +z up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from numpy.typing import NDArray

from visualizer.muscles import MUSCLES as REGISTRY_MUSCLES

#: Muscle names in code order (``"none"`` then the registry's rows); the point array ``muscle``
#: stores indices into this tuple.
MUSCLES: tuple[str, ...] = ("none", *REGISTRY_MUSCLES)
MUSCLE_CODE: dict[str, int] = {name: i for i, name in enumerate(MUSCLES)}

#: Landmarks the neck and lower-face rules read (a head without them gets no such areas).
NECK_FACE_LANDMARKS: tuple[str, ...] = (
    "sternal_notch", "menton", "c7",
    *(f"{s}_{n}" for s in ("left", "right") for n in (
        "mastoid", "zygomatic_arch", "necklace", "gonion", "mandibular_border", "oral_commissure",
        "clavicular_head",
    )),
)  # fmt: skip

#: Landmarks the rules read.
MAP_LANDMARKS: tuple[str, ...] = (
    "nasion", "glabella", "inion", "c7",
    "left_pupil", "right_pupil", "left_orbital_rim", "right_orbital_rim",
    "left_lateral_canthus", "right_lateral_canthus", "left_tragus", "right_tragus",
    "left_zygomatic_arch", "right_zygomatic_arch", "left_mastoid", "right_mastoid",
    "left_acromion", "right_acromion", "left_necklace", "right_necklace",
)  # fmt: skip


def label_muscles(
    points: NDArray[np.float64],
    normals: NDArray[np.float64],
    landmarks: Mapping[str, NDArray[np.float64]],
) -> NDArray[np.int8]:
    """Label each skin point with a code from :data:`MUSCLES`.

    Parameters
    ----------
    points, normals : ndarray, shape (n, 3)
        Skin points and outward unit normals in the head frame (mm).
    landmarks : mapping
        Head-frame landmark positions; needs the names in :data:`MAP_LANDMARKS`.

    Returns
    -------
    ndarray of int8, shape (n,)
    """
    p = np.asarray(points, dtype=float)
    n = np.asarray(normals, dtype=float)
    lab = np.zeros(len(p), dtype=np.int8)
    x, y, z = p.T
    right = x >= 0
    sx = np.where(right, 1.0, -1.0)
    ax = np.abs(x)

    def sided(name: str) -> NDArray[np.float64]:
        r = np.asarray(landmarks[f"right_{name}"], dtype=float)
        left = np.asarray(landmarks[f"left_{name}"], dtype=float)
        # per point: that side's landmark, with x written as distance from the midline
        v = np.where(right[:, None], r, left)
        v = v.copy()
        v[:, 0] = np.abs(v[:, 0])
        return v

    pupil, rim, lc = sided("pupil"), sided("orbital_rim"), sided("lateral_canthus")
    tr, zyg, mas = sided("tragus"), sided("zygomatic_arch"), sided("mastoid")
    acr, neck = sided("acromion"), sided("necklace")
    nas = np.asarray(landmarks["nasion"], dtype=float)
    gla = np.asarray(landmarks["glabella"], dtype=float)
    ini = np.asarray(landmarks["inion"], dtype=float)
    c7 = np.asarray(landmarks["c7"], dtype=float)
    lateral_facing = n[:, 0] * sx
    forehead_height = gla[2] - nas[2]

    def put(name: str, mask: NDArray[np.bool_]) -> None:
        lab[mask] = MUSCLE_CODE[name]

    # temporalis: the temporal fossa, above the zygomatic arch, between the ear and the orbit
    above_ear = (y > tr[:, 1] + 5) | (z > tr[:, 2] + 30)
    put(
        "temporalis",
        (lateral_facing > 0.45)
        & (y > tr[:, 1] - 30) & (y < lc[:, 1] - 8)
        & (z > zyg[:, 2] + 8) & (z < zyg[:, 2] + 105)
        & above_ear,
    )  # fmt: skip
    # frontalis: the forehead above the brows, up to the hairline, inside the temporal lines
    put(
        "frontalis",
        (n[:, 1] > 0.3) & (z > rim[:, 2] + 8) & (z < gla[2] + 75 + 0 * forehead_height)
        & (ax < lc[:, 0] + 4),
    )  # fmt: skip
    # corrugator: the lower forehead over the medial brow, from near the midline to the pupil line
    put(
        "corrugator",
        (n[:, 1] > 0.45) & (z > rim[:, 2] - 4) & (z < rim[:, 2] + 14) & (ax > 6) & (ax < pupil[:, 0] + 4),
    )
    # procerus: the nasal root between the brows
    put("procerus", (n[:, 1] > 0.45) & (ax < 8) & (z > nas[2] - 12) & (z < gla[2] + 6))
    # orbicularis oculi, lateral part: the crow's-feet area around the outer canthus
    d_lc = np.linalg.norm(np.stack([ax, y, z], axis=1) - lc, axis=1)
    put("orbicularis_oculi", (d_lc < 18) & (ax > lc[:, 0] - 2) & (y > lc[:, 1] - 20))
    # occipitalis: the back of the skull above the occipital ridge, either side of the midline
    put(
        "occipitalis",
        (n[:, 1] < -0.3) & (z > ini[2] + 3) & (z < ini[2] + 60) & (ax > 8) & (ax < mas[:, 0] - 2),
    )
    # upper trapezius: the top of the shoulder from the neck to the acromion, and the back of
    # the neck lateral to the paraspinals
    shoulder = (
        (ax > 28) & (ax < acr[:, 0] - 10) & (y < neck[:, 1] + 20) & (z > c7[2] - 45)
        & (z < ini[2] - 45) & ((n[:, 2] > 0.2) | (n[:, 1] < -0.3))
    )  # fmt: skip
    put("trapezius", shoulder)
    # cervical paraspinals: the upper back of the neck beside the midline, below the skull base
    # (behind the ear-to-ear line: the skin under the jaw also faces down and back)
    behind = y < 0.5 * (ini[1] + tr[:, 1])
    put(
        "cervical_paraspinal",
        (n[:, 1] < -0.2) & (ax <= 28) & (z > c7[2] + 10) & (z < ini[2] - 8) & behind,
    )
    if all(k in landmarks for k in NECK_FACE_LANDMARKS):
        _neck_and_lower_face(np.stack([ax, y, z], axis=1), n * np.stack([sx, np.ones_like(sx), np.ones_like(sx)], 1),
                             sided, landmarks, put)  # fmt: skip
    return lab


def _v(dx: float, dy: float, dz: float) -> NDArray[np.float64]:
    """An offset in mm (head frame, mirrored to the right side)."""
    return np.array([dx, dy, dz])


def _strip(
    p: NDArray[np.float64],
    n: NDArray[np.float64],
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    outward: NDArray[np.float64],
    width: tuple[float, float],
    t_range: tuple[float, float] = (0.0, 1.0),
) -> NDArray[np.bool_]:
    """Skin points of a band laid over the skin along the chord ``a`` → ``b`` (all head frame).

    The band is the skin's section by a slab around the plane through the chord and ``outward``
    (the side of the body the band lies on), on the skin that faces that side: ``width`` is its
    half-width (mm) at ``a`` and at ``b`` (linear between, so a band can fan out), ``t_range`` how
    far along the chord it runs (0 at ``a``, 1 at ``b``). Arrays are per point (mirrored to the
    right side), shape (n, 3).
    """
    ab = b - a
    length = np.linalg.norm(ab, axis=1, keepdims=True)
    u = ab / length
    out = outward - np.sum(outward * u, axis=1, keepdims=True) * u
    out = out / np.linalg.norm(out, axis=1, keepdims=True)
    m = np.cross(u, out)
    rel = p - a
    t = np.sum(rel * u, axis=1) / length[:, 0]
    half = width[0] + (width[1] - width[0]) * np.clip(t, 0.0, 1.0)
    return (
        (np.abs(np.sum(rel * m, axis=1)) < half)
        & (t >= t_range[0])
        & (t <= t_range[1])
        & (np.sum(n * out, axis=1) > 0.15)
        & (np.sum(rel * out, axis=1) > -5.0)
    )


def _neck_and_lower_face(
    p: NDArray[np.float64],
    n: NDArray[np.float64],
    sided: Callable[[str], NDArray[np.float64]],
    landmarks: Mapping[str, NDArray[np.float64]],
    put: Callable[[str, NDArray[np.bool_]], None],
) -> None:
    """Areas of the neck and the lower face (points and normals mirrored to the right side)."""
    x, y, z = p.T
    mas, zyg, neck = sided("mastoid"), sided("zygomatic_arch"), sided("necklace")
    go, mb, oc, ch = sided("gonion"), sided("mandibular_border"), sided("oral_commissure"), sided("clavicular_head")
    notch = np.broadcast_to(np.asarray(landmarks["sternal_notch"], dtype=float), p.shape)
    menton = np.asarray(landmarks["menton"], dtype=float)
    c7 = np.asarray(landmarks["c7"], dtype=float)
    lateral = np.broadcast_to(np.array([1.0, 0.0, 0.0]), p.shape)
    front = np.broadcast_to(np.array([0.25, 1.0, 0.0]), p.shape)

    def edge_y(top: NDArray[np.float64], bottom: NDArray[np.float64]) -> NDArray[np.float64]:
        f = np.clip((z - top[:, 2]) / (bottom[:, 2] - top[:, 2]), 0.0, 1.0)
        return top[:, 1] + f * (bottom[:, 1] - top[:, 1])

    front_edge = edge_y(mas + _v(0.0, -10.0, 0.0), ch + _v(0.0, -10.0, 0.0))
    # platysma: a thin sheet over the front and sides of the neck, from the jaw's lower border
    # (below the plane through the menton and both gonia) down to the clavicles, in front of the
    # sternocleidomastoid's posterior edge
    # (the plane is left/right symmetric, so the mirrored points can be tested against it)
    gl, gr = (np.asarray(landmarks[f"{s}_gonion"], dtype=float) for s in ("left", "right"))
    up = np.cross(gr - menton, gl - menton)
    up = up if up[2] > 0 else -up
    below_jaw = (p - menton) @ (up / np.linalg.norm(up)) < -2.0
    put(
        "platysma",
        below_jaw & (z > notch[:, 2] - 10) & (y > front_edge) & (n[:, 1] > -0.7) & (x < ch[:, 0] + 40),
    )
    # masseter: the band from the zygomatic arch (in front of the joint) down to the jaw's angle,
    # on the side of the face (it reaches the lower border; inject about 1 cm above it)
    arch, angle = zyg + _v(0.0, 10.0, -6.0), go + _v(0.0, 10.0, 0.0)
    put("masseter", _strip(p, n, arch, angle, lateral, (13.0, 15.0), (0.0, 1.05)))
    # splenius capitis: the back and side of the upper neck, from below the mastoid toward C7,
    # between the trapezius behind and the sternocleidomastoid in front
    back_side = np.broadcast_to(np.array([1.0, -0.8, 0.0]), p.shape)
    c7_side = np.broadcast_to(c7 + _v(22.0, 0.0, 10.0), p.shape)
    put("splenius_capitis", _strip(p, n, mas + _v(-6.0, -8.0, -8.0), c7_side, back_side, (9.0, 7.0), (0.0, 0.75)))

    # the posterior triangle of the neck, seen from the side: behind the sternocleidomastoid's
    # posterior edge (mastoid to clavicular head, 10 mm behind the band's axis), in front of the
    # trapezius' anterior edge (from 30 mm behind the mastoid to the neck's bend into the
    # shoulder), above the clavicle, on skin facing sideways. Levator scapulae fills its back half
    # (down to the top of the shoulder blade), the scalenes the lower front half, above the clavicle.
    back_edge = edge_y(mas + _v(0.0, -30.0, -10.0), neck + _v(0.0, 5.0, 0.0))
    frac = (y - back_edge) / np.maximum(front_edge - back_edge, 1.0)
    triangle = (frac > 0.0) & (frac < 1.0) & (z > neck[:, 2] - 5.0) & (z < mas[:, 2] - 25.0) & (n[:, 0] > 0.5)
    put("levator_scapulae", triangle & (frac < 0.5))
    put("scalenes", triangle & (frac >= 0.5) & (z < 0.5 * (mas[:, 2] + neck[:, 2])))
    # sternocleidomastoid: from the mastoid down and forward to the sternal notch (sternal head)
    # and the medial clavicle (clavicular head)
    sternal = notch + _v(8.0, 0.0, 0.0)
    sternal_side = 0.5 * (lateral + front)
    put("sternocleidomastoid", _strip(p, n, mas, sternal, sternal_side, (11.0, 6.0), (0.0, 1.02))
        | _strip(p, n, mas, ch, sternal_side, (9.0, 6.0), (0.35, 1.02)))  # fmt: skip
    # depressor anguli oris: a triangle from the mouth corner down to the mandibular border
    put(
        "depressor_anguli_oris",
        _strip(p, n, oc + _v(1.0, 0.0, -3.0), mb + _v(4.0, 0.0, 0.0), front, (3.0, 10.0), (0.0, 1.08)),
    )
    # mentalis: the chin either side of the midline, above the menton, below the lower lip
    put("mentalis", (x < 11.0) & (z > menton[2] + 5.0) & (z < oc[:, 2] - 14.0) & (n[:, 1] > 0.35) & (y > mb[:, 1]))
