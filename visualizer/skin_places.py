"""Points held by their place on the skin (triangle + barycentric weights), so they follow a morph.

Every body type of the bundled head has the same triangles (:mod:`visualizer.body_type`), so a
point given by its triangle and barycentric weights on one body type has a place on every other
one: the same spot of the skin, moved with it. The app uses this to show a plan's sites on the
head while a body-type slider is dragged (cheap), before the plan is placed again by its rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from visualizer.surface import Surface

__all__ = ["SkinPlaces", "VertexNormals", "vertex_normals"]


@dataclass(frozen=True)
class SkinPlaces:
    """Places on a triangle mesh.

    Attributes
    ----------
    vertices : ndarray, shape (n, 3)
        Point ids of each place's triangle.
    weights : ndarray, shape (n, 3)
        Barycentric weights (non-negative, summing to 1).
    """

    vertices: NDArray[np.int64]
    weights: NDArray[np.float64]

    @classmethod
    def of(cls, mesh: pv.PolyData, points: ArrayLike, surface: Surface | None = None) -> SkinPlaces:
        """The places of ``points`` (mesh coordinates, mm) on ``mesh``: each snapped to its closest
        triangle. ``surface`` (the mesh's :class:`~visualizer.surface.Surface`) reuses its locator."""
        pts = np.asarray(points, dtype=float).reshape(-1, 3)
        if len(pts) == 0:
            return cls(np.zeros((0, 3), np.int64), np.zeros((0, 3)))
        if surface is not None:
            cells, closest = surface.closest_cells(pts)
        else:
            cells, closest = mesh.find_closest_cell(pts, return_closest_point=True)
        tri = np.asarray(mesh.regular_faces, dtype=np.int64)[np.atleast_1d(cells)]
        corners = np.asarray(mesh.points, dtype=float)[tri]  # (n, 3 corners, 3)
        a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
        v0, v1, v2 = b - a, c - a, np.atleast_2d(closest) - a
        d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
        d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
        den = d00 * d11 - d01 * d01
        den[den <= 0] = 1.0
        v = (d11 * d20 - d01 * d21) / den
        w = (d00 * d21 - d01 * d20) / den
        bary = np.clip(np.column_stack([1.0 - v - w, v, w]), 0.0, 1.0)
        bary /= np.maximum(bary.sum(1, keepdims=True), 1e-12)
        return cls(tri, bary)

    def on(self, points: ArrayLike) -> NDArray[np.float64]:
        """Positions of the places on a mesh with the same triangles and these ``points``."""
        p = np.asarray(points, dtype=float)
        return np.einsum("nk,nkc->nc", self.weights, p[self.vertices])


class VertexNormals:
    """Area-weighted outward vertex normals for one set of triangles, for many point positions.

    The vertex–face incidence is built once (a sparse matrix), so each call is a few
    vectorised products: used while a body-type slider moves.
    """

    def __init__(self, faces: ArrayLike, n_points: int) -> None:
        self.faces = np.asarray(faces, dtype=np.int64)
        rows = self.faces.ravel()
        cols = np.repeat(np.arange(len(self.faces)), 3)
        self._incidence = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(int(n_points), len(self.faces))
        )

    def __call__(self, points: ArrayLike) -> NDArray[np.float64]:
        """Unit normals at every point (a point on no triangle gets a zero vector)."""
        p = np.asarray(points, dtype=float)
        f = self.faces
        u = p[f[:, 1]] - p[f[:, 0]]
        v = p[f[:, 2]] - p[f[:, 0]]
        n = np.empty_like(u)
        n[:, 0] = u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1]
        n[:, 1] = u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2]
        n[:, 2] = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
        out = self._incidence @ n
        length = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
        return out / np.where(length > 0, length, 1.0)


def vertex_normals(points: ArrayLike, faces: ArrayLike) -> NDArray[np.float64]:
    """Area-weighted outward vertex normals of a consistently oriented triangle mesh (unit length)."""
    return VertexNormals(faces, len(np.asarray(points)))(points)
