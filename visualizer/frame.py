"""The Neuromag/MNE head frame built from the two tragi and the nasion.

+x runs through the tragi toward the right tragus, +y points toward the nasion
(perpendicular to x), +z is up (x × y), and the origin is where the y axis meets
the tragus line. Units are millimetres. This is the construction of
``mne.transforms.get_ras_to_neuromag_trans``, with the tragi in place of the
preauricular points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from visualizer.errors import LandmarkError

FRAME_LANDMARKS = ("left_tragus", "right_tragus", "nasion")


@dataclass(frozen=True)
class HeadFrame:
    """A rigid transform between a mesh's coordinates and the head frame.

    Attributes
    ----------
    rotation : ndarray, shape (3, 3)
        Rows are the head-frame unit axes x, y, z written in mesh coordinates.
    origin : ndarray, shape (3,)
        The head-frame origin in mesh coordinates (mm).
    """

    rotation: NDArray[np.float64]
    origin: NDArray[np.float64]

    @classmethod
    def from_landmarks(cls, left_tragus: ArrayLike, right_tragus: ArrayLike, nasion: ArrayLike) -> HeadFrame:
        """Build the frame from three points given in mesh coordinates (mm)."""
        lt, rt, nas = (np.asarray(p, dtype=float) for p in (left_tragus, right_tragus, nasion))
        right = rt - lt
        width = np.linalg.norm(right)
        if width < 1e-6:
            raise LandmarkError("head frame: left_tragus and right_tragus coincide; cannot define the x axis")
        x = right / width
        origin = lt + np.dot(nas - lt, x) * x
        anterior = nas - origin
        depth = np.linalg.norm(anterior)
        if depth < 1e-6:
            raise LandmarkError("head frame: nasion lies on the tragus line; cannot define the y axis")
        y = anterior / depth
        z = np.cross(x, y)
        return cls(rotation=np.vstack([x, y, z]), origin=origin)

    @classmethod
    def identity(cls) -> HeadFrame:
        """The frame of a mesh that is already stored in head coordinates."""
        return cls(rotation=np.eye(3), origin=np.zeros(3))

    @property
    def matrix(self) -> NDArray[np.float64]:
        """4×4 homogeneous matrix taking mesh coordinates to head coordinates."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = -self.rotation @ self.origin
        return m

    def to_head(self, points: ArrayLike) -> NDArray[np.float64]:
        """Mesh-frame points (…, 3) → head-frame points (mm)."""
        p = np.asarray(points, dtype=float)
        return (p - self.origin) @ self.rotation.T

    def from_head(self, points: ArrayLike) -> NDArray[np.float64]:
        """Head-frame points (…, 3) → mesh-frame points (mm)."""
        p = np.asarray(points, dtype=float)
        return p @ self.rotation + self.origin

    def dir_to_head(self, vectors: ArrayLike) -> NDArray[np.float64]:
        """Mesh-frame directions → head-frame directions (no translation)."""
        return np.asarray(vectors, dtype=float) @ self.rotation.T

    def dir_from_head(self, vectors: ArrayLike) -> NDArray[np.float64]:
        """Head-frame directions → mesh-frame directions (no translation)."""
        return np.asarray(vectors, dtype=float) @ self.rotation
