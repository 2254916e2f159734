"""How far apart two points on the skin are, as a trainer would measure it (mm, mesh frame).

Two paths over the skin are measured and the shorter one is kept (both are real paths on the
surface, so both are at least the true geodesic distance, and the shorter is the better estimate):

* the **tape-measure arc** (:meth:`Surface.surface_distance`): the surface section by the plane
  through both points that contains their mean normal — exact on a sphere and accurate for the
  short distances that matter when scoring a placement;
* the **mesh-edge path**: the shortest path along the mesh's edges (Dijkstra), which exists even
  when the plane section falls apart (e.g. from the chest to the forehead, where the section
  runs off the open edges of a bust mesh); it overestimates a geodesic by a few per cent.

Only when neither exists (the points lie on separate pieces of the mesh) is the distance the
straight line through the body, and the result says so.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra

from visualizer.errors import MeshError

OVER_SKIN = "over the skin"
STRAIGHT = "in a straight line"

_GRAPHS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class SkinDistance:
    """A distance in mm and how it was measured (``"over the skin"`` or ``"in a straight line"``)."""

    mm: float
    how: Literal["over the skin", "in a straight line"]


def _edge_graph(surface: Any) -> csr_matrix:
    """Symmetric sparse graph of the mesh's edges weighted by length (cached per surface)."""
    with _LOCK:
        g = _GRAPHS.get(surface)
        if g is None:
            f = surface.faces
            e = np.vstack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
            e = np.unique(np.sort(e, axis=1), axis=0)
            w = np.linalg.norm(surface.points[e[:, 0]] - surface.points[e[:, 1]], axis=1) + 1e-9
            n = len(surface.points)
            g = coo_matrix((w, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
            g = (g + g.T).tocsr()
            _GRAPHS[surface] = g
        return g


def _nearest_vertex(surface: Any, p: np.ndarray) -> int:
    return int(np.argmin(np.einsum("ij,ij->i", surface.points - p, surface.points - p)))


def edge_path_length(surface: Any, p: ArrayLike, q: ArrayLike) -> float:
    """Length of the shortest mesh-edge path between the vertices nearest ``p`` and ``q`` (mm).

    The two short hops from ``p`` and ``q`` to their vertices are added; ``inf`` if no path.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    i, j = _nearest_vertex(surface, p), _nearest_vertex(surface, q)
    hops = float(np.linalg.norm(surface.points[i] - p) + np.linalg.norm(surface.points[j] - q))
    if i == j:
        return float(np.linalg.norm(q - p))
    chord = float(np.linalg.norm(q - p))
    # paths more than 4x the straight line are not what anyone would measure: stop looking there
    d = dijkstra(_edge_graph(surface), directed=False, indices=i, limit=4.0 * chord + 50.0)
    return float(d[j]) + hops if np.isfinite(d[j]) else float("inf")


def _between(x: np.ndarray, a: np.ndarray, b: np.ndarray, tol: float = 1e-4) -> bool:
    """True when x lies on the segment a-b."""
    return bool(np.linalg.norm(a - x) + np.linalg.norm(x - b) - np.linalg.norm(a - b) < tol)


def tape_arc_length(arc: ArrayLike) -> float:
    """Length of a plane-section arc [p, n0, ..., nk, q], without the back-tracks at its ends.

    ``Surface.plane_arc`` joins each end to its *nearest* section node, which may lie behind it
    (up to an edge length per end: about 1 mm on the bundled head).  The end point lies on the
    section segment of its own triangle, so a node whose next segment contains the end point is
    a detour and is dropped.
    """
    pts = [np.asarray(x, dtype=float) for x in np.asarray(arc, dtype=float)]
    while len(pts) > 2 and _between(pts[0], pts[1], pts[2]):
        del pts[1]
    while len(pts) > 2 and _between(pts[-1], pts[-2], pts[-3]):
        del pts[-2]
    return float(sum(np.linalg.norm(b - a) for a, b in itertools.pairwise(pts)))


def skin_distance(surface: Any, p: ArrayLike, q: ArrayLike) -> SkinDistance:
    """Distance between two points on (or next to) the skin, with how it was measured."""
    p, n1 = surface.closest(np.asarray(p, dtype=float))
    q, n2 = surface.closest(np.asarray(q, dtype=float))
    chord = float(np.linalg.norm(q - p))
    if chord < 1e-6:
        return SkinDistance(0.0, OVER_SKIN)
    best = float("inf")
    # the arc's plane contains the chord and the mean normal; with opposite normals along the
    # chord there is no such plane (Surface.surface_distance then gives the chord): skip it
    plane_normal = np.cross(q - p, n1 + n2)
    if float(np.linalg.norm(plane_normal)) > 1e-6 * chord:
        try:
            best = tape_arc_length(surface.plane_arc(p, q, plane_normal))
        except MeshError:
            pass  # the plane section is broken between the two points: the edge path decides
    if not np.isfinite(best) or best > 1.2 * chord + 5.0:
        # long or missing arc: a mesh-edge path may be shorter (only worth it when it can be)
        best = min(best, edge_path_length(surface, p, q))
    if not np.isfinite(best):
        return SkinDistance(chord, STRAIGHT)
    return SkinDistance(max(best, chord), OVER_SKIN)
