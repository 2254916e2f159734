"""Geometry on a triangulated skin surface: closest points, rays, walks and plane-cut arcs.

Every function here works in the coordinates of the mesh it was given (millimetres) and knows
nothing of landmarks, protocols or the head frame; callers pass directions already written in
mesh coordinates.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyvista as pv
import vtk
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from visualizer.errors import MeshError

Array = NDArray[np.float64]

#: A point farther than this from the skin (mm) is "off the head": a click that missed, a pain
#: point or a stored site position that does not belong to this head. The app and the CLI share it.
OFF_HEAD_MM = 6.0


class Surface:
    """A triangle mesh with a static cell locator, built once and queried many times.

    Parameters
    ----------
    mesh : pyvista.PolyData
        An all-triangle surface in millimetres.
    """

    def __init__(self, mesh: pv.PolyData) -> None:
        if mesh.n_cells == 0 or mesh.n_points == 0:
            raise MeshError("mesh has no cells")
        if not mesh.is_all_triangles:
            mesh = mesh.triangulate()
        self.mesh = mesh
        self.points: Array = np.asarray(mesh.points, dtype=float)
        self.faces: NDArray[np.int64] = np.asarray(mesh.regular_faces, dtype=np.int64)
        a, b, c = (self.points[self.faces[:, i]] for i in range(3))
        n = np.cross(b - a, c - a)
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        norm[norm == 0] = 1.0
        self.face_normals: Array = n / norm
        pn = np.zeros_like(self.points)
        for i in range(3):
            np.add.at(pn, self.faces[:, i], n)
        pn_norm = np.linalg.norm(pn, axis=1, keepdims=True)
        pn_norm[pn_norm == 0] = 1.0
        self.point_normals: Array = pn / pn_norm
        self._locator = vtk.vtkStaticCellLocator()
        self._locator.SetDataSet(mesh)
        self._locator.BuildLocator()
        self._cell = vtk.vtkGenericCell()

    # ------------------------------------------------------------------ closest point
    def closest(self, points: ArrayLike) -> tuple[Array, Array]:
        """Closest surface points and their (smoothly interpolated) outward normals.

        Parameters
        ----------
        points : array_like, shape (3,) or (n, 3)

        Returns
        -------
        positions, normals : ndarray
            Same leading shape as ``points``.
        """
        pts = np.asarray(points, dtype=float)
        flat = pts.reshape(-1, 3)
        out = np.empty_like(flat)
        nrm = np.empty_like(flat)
        cp = [0.0, 0.0, 0.0]
        cid = vtk.reference(0)
        sub = vtk.reference(0)
        d2 = vtk.reference(0.0)
        for i, p in enumerate(flat):
            self._locator.FindClosestPoint(p, cp, self._cell, cid, sub, d2)
            out[i] = cp
            nrm[i] = self._normal_in_cell(int(cid), out[i])
        return out.reshape(pts.shape), nrm.reshape(pts.shape)

    def closest_cells(self, points: ArrayLike) -> tuple[NDArray[np.int64], Array]:
        """Closest triangle ids and closest surface points of ``points`` (n, 3)."""
        flat = np.asarray(points, dtype=float).reshape(-1, 3)
        ids = np.empty(len(flat), dtype=np.int64)
        out = np.empty_like(flat)
        cp = [0.0, 0.0, 0.0]
        cid = vtk.reference(0)
        sub = vtk.reference(0)
        d2 = vtk.reference(0.0)
        for i, p in enumerate(flat):
            self._locator.FindClosestPoint(p, cp, self._cell, cid, sub, d2)
            ids[i] = int(cid)
            out[i] = cp
        return ids, out

    def _normal_in_cell(self, cell_id: int, p: Array) -> Array:
        """Barycentric blend of vertex normals inside one triangle."""
        tri = self.faces[cell_id]
        a, b, c = self.points[tri]
        v0, v1, v2 = b - a, c - a, p - a
        d00, d01, d11 = v0 @ v0, v0 @ v1, v1 @ v1
        d20, d21 = v2 @ v0, v2 @ v1
        den = d00 * d11 - d01 * d01
        if den <= 0:
            return self.face_normals[cell_id]
        v = (d11 * d20 - d01 * d21) / den
        w = (d00 * d21 - d01 * d20) / den
        u = 1.0 - v - w
        n = u * self.point_normals[tri[0]] + v * self.point_normals[tri[1]] + w * self.point_normals[tri[2]]
        length = np.linalg.norm(n)
        return n / length if length > 0 else self.face_normals[cell_id]

    def distance_to_surface(self, points: ArrayLike) -> NDArray[np.float64]:
        """Unsigned distance (mm) from each point to the surface."""
        pts = np.asarray(points, dtype=float).reshape(-1, 3)
        snapped, _ = self.closest(pts)
        return np.linalg.norm(snapped - pts, axis=1)

    # ------------------------------------------------------------------ rays
    def ray_hit(self, origin: ArrayLike, target: ArrayLike) -> Array | None:
        """First intersection of the segment origin → target with the surface, or None."""
        p1 = np.asarray(origin, dtype=float)
        p2 = np.asarray(target, dtype=float)
        t = vtk.reference(0.0)
        x = [0.0, 0.0, 0.0]
        pc = [0.0, 0.0, 0.0]
        sub = vtk.reference(0)
        cid = vtk.reference(0)
        hit = self._locator.IntersectWithLine(p1, p2, 1e-6, t, x, pc, sub, cid, self._cell)
        return np.array(x) if hit else None

    # ------------------------------------------------------------------ walking
    def walk(self, start: ArrayLike, direction: ArrayLike, distance: float, step: float = 1.0) -> Array:
        """Walk ``distance`` mm over the surface, heading along ``direction`` at every step.

        At each step the fixed direction is projected onto the local tangent plane, so the
        path follows the skin the way a tape measure laid in that direction would.

        Parameters
        ----------
        start : array_like, shape (3,)
            A point on (or near) the surface.
        direction : array_like, shape (3,)
            The heading in mesh coordinates; only its direction matters.
        distance : float
            Path length in mm (≥ 0).
        step : float
            Step length in mm.
        """
        p, n = self.closest(np.asarray(start, dtype=float))
        d = np.asarray(direction, dtype=float)
        if distance <= 0 or np.linalg.norm(d) == 0:
            return p
        d = d / np.linalg.norm(d)
        travelled = 0.0
        while travelled < distance - 1e-9:
            h = min(step, distance - travelled)
            t = d - (d @ n) * n
            tn = np.linalg.norm(t)
            if tn < 1e-6:  # heading straight into the skin: nothing to walk along
                break
            q, n = self.closest(p + h * t / tn)
            travelled += h
            p = q
        return p

    # ------------------------------------------------------------------ plane-cut arcs
    def plane_arc(self, a: ArrayLike, b: ArrayLike, plane_normal: ArrayLike, via: ArrayLike | None = None) -> Array:
        """The surface curve from ``a`` to ``b`` cut by the plane through ``a`` with normal ``plane_normal``.

        The plane section of a mesh is a set of polylines; the arc is the shortest way along
        them from the crossing nearest ``a`` to the crossing nearest ``b`` (through the
        crossing nearest ``via`` when given), as FieldTrip's ``elec1020_follow`` does.

        Returns
        -------
        ndarray, shape (m, 3)
            Ordered points of the arc, starting at ``a`` and ending at ``b``.
        """
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        nrm = np.asarray(plane_normal, dtype=float)
        nrm = nrm / np.linalg.norm(nrm)
        nodes, edges = self._section(a, nrm)
        if len(nodes) == 0:
            raise MeshError("the cutting plane misses the mesh")
        weights = np.linalg.norm(nodes[edges[:, 0]] - nodes[edges[:, 1]], axis=1) + 1e-9
        n = len(nodes)
        graph = coo_matrix((weights, (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
        ends = [a, b] if via is None else [a, np.asarray(via, dtype=float), b]
        idx = [int(np.argmin(np.linalg.norm(nodes - p, axis=1))) for p in ends]
        path: list[int] = [idx[0]]
        for s, t in itertools.pairwise(idx):
            dist, pred = dijkstra(graph, directed=False, indices=s, return_predecessors=True)
            if not np.isfinite(dist[t]):
                raise MeshError("the surface arc is broken: the two landmarks are not joined on the mesh")
            seg = [t]
            while seg[-1] != s:
                seg.append(int(pred[seg[-1]]))
            path.extend(reversed(seg[:-1]))
        # the arc runs from the landmarks themselves, not from the nearest plane crossings
        return np.vstack([a, nodes[path], b])

    def _section(self, point: Array, normal: Array) -> tuple[Array, NDArray[np.int64]]:
        """Crossings of the plane with mesh edges (nodes) and the segments joining them."""
        sd = (self.points - point) @ normal
        side = sd > 0
        f = self.faces
        s = side[f]
        cut = s.any(1) & ~s.all(1)
        fc = f[cut]
        sc = s[cut]
        # for each cut triangle, the two edges whose ends lie on opposite sides
        e01 = sc[:, 0] != sc[:, 1]
        e12 = sc[:, 1] != sc[:, 2]
        e20 = sc[:, 2] != sc[:, 0]
        pairs = []
        for mask_a, ea, mask_b, eb in (
            (e01, (0, 1), e12, (1, 2)),
            (e01, (0, 1), e20, (2, 0)),
            (e12, (1, 2), e20, (2, 0)),
        ):
            m = mask_a & mask_b
            if m.any():
                pairs.append((fc[m][:, ea], fc[m][:, eb]))
        if not pairs:
            return np.empty((0, 3)), np.empty((0, 2), dtype=np.int64)
        ea_all = np.vstack([p[0] for p in pairs])
        eb_all = np.vstack([p[1] for p in pairs])
        all_edges = np.sort(np.vstack([ea_all, eb_all]), axis=1)
        uniq, inv = np.unique(all_edges, axis=0, return_inverse=True)
        inv = inv.ravel()
        d0 = sd[uniq[:, 0]]
        d1 = sd[uniq[:, 1]]
        t = d0 / (d0 - d1)
        nodes = self.points[uniq[:, 0]] + t[:, None] * (self.points[uniq[:, 1]] - self.points[uniq[:, 0]])
        m = len(ea_all)
        segs = np.stack([inv[:m], inv[m:]], axis=1)
        # crossings at the same place on different edges (T-junctions of non-conforming meshes,
        # duplicated points) are one node, so the section stays connected
        pairs = cKDTree(nodes).query_pairs(r=1e-6 * (1.0 + float(np.abs(nodes).max())), output_type="ndarray")
        if len(pairs):
            n = len(nodes)
            graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
            count, label = connected_components(graph, directed=False)
            first = np.empty(count, dtype=np.int64)
            first[label[::-1]] = np.arange(n)[::-1]
            nodes, segs = nodes[first], label[segs]
        return nodes, segs

    def surface_distance(self, p: ArrayLike, q: ArrayLike) -> float:
        """Distance in mm over the skin between two surface points.

        Measured along the normal section: the plane through both points that contains the
        mean surface normal. On a sphere this is the great circle (the exact geodesic); on a
        head it is the tape-measure distance a trainer would lay over the skin.
        """
        p, n1 = self.closest(np.asarray(p, dtype=float))
        q, n2 = self.closest(np.asarray(q, dtype=float))
        chord = q - p
        length = np.linalg.norm(chord)
        if length < 1e-6:
            return 0.0
        normal = np.cross(chord, n1 + n2)
        if np.linalg.norm(normal) < 1e-9:
            return float(length)
        arc = self.plane_arc(p, q, normal)
        return float(arc_length(arc))


def arc_length(points: ArrayLike) -> float:
    """Length of a polyline (mm)."""
    p = np.asarray(points, dtype=float)
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0


def point_at_fraction(points: ArrayLike, fraction: float) -> Array:
    """The point ``fraction`` of the way along a polyline by length (FieldTrip's elec1020_fraction)."""
    p = np.asarray(points, dtype=float)
    if len(p) == 1:
        return p[0].copy()
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    target = float(np.clip(fraction, 0.0, 1.0)) * cum[-1]
    i = int(np.searchsorted(cum, target, side="right") - 1)
    i = min(max(i, 0), len(seg) - 1)
    t = 0.0 if seg[i] == 0 else (target - cum[i]) / seg[i]
    return p[i] + t * (p[i + 1] - p[i])
