"""Which muscle lies under each skin point: coarse areas drawn from landmark rules.

The map is a teaching and tinting aid, not a dissection: each area is a box or ball in the head
frame bounded by landmarks (orbital rim, tragus, inion, C7, acromion …), and limited by the
direction the skin faces. The same rules label the bundled mesh (stored as the point array
``muscle`` in ``meshes/head.vtp``) and any other head that comes without a map.

All coordinates here are head-frame millimetres (+x right, +y front, +z up).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from visualizer.muscles import MUSCLES as REGISTRY_MUSCLES

#: Muscle names in code order (``"none"`` then the registry's rows); the point array ``muscle``
#: stores indices into this tuple.
MUSCLES: tuple[str, ...] = ("none", *REGISTRY_MUSCLES)
MUSCLE_CODE: dict[str, int] = {name: i for i, name in enumerate(MUSCLES)}

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
    return lab
