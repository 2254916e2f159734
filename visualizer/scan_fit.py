"""Fit the bundled template head to a scan and carry its landmarks and muscle map across.

Steps (all in the scan frame, mm, after :mod:`visualizer.scan` converted the unit):

1. **Similarity start** — the scan is matched to the template head (head frame) by a trimmed,
   scale-aware ICP from many starting orientations: the 24 proper axis rotations between the
   scan's and the template's principal axes (for the head alone and for head and shoulders),
   plus a fixed set of spread-out rotations. The start that leaves the smallest trimmed gap wins.
2. **Non-rigid fit** — a decimated copy of the template (7k triangles), first moved by a
   trimmed affine ICP, is deformed onto the **full** scan by optimal-step non-rigid ICP (Amberg
   et al. 2007): stiff → supple, each step solved by trimesh's
   :func:`trimesh.registration.nricp_amberg`. The correspondences are ours, with the paper's
   rejection rules that trimesh leaves out: a template point whose closest scan point lies on the
   scan's rim (a neck cut, a hole at the crown or under the chin) is not pulled onto that edge, nor
   one too far from the scan or facing another way. The scan is not decimated: a k-d tree of its
   points and their normals gives the closest point on the tangent plane.
3. **Carry across** — every landmark is held on the template as a triangle and barycentric
   weights; on the deformed template it lands near the scan and is then snapped onto the full
   scan's skin. Its confidence is the fit's residual around it; a landmark with no scan skin under
   it (too far off, or beyond the scan's edge) is reported missing. Each scan point takes the
   muscle code of the nearest deformed template point, and the muscle areas' soft weights
   blended from the nearest few (inverse distance), so the areas keep their soft edges.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pyvista as pv
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from visualizer.errors import MeshError
from visualizer.muscle_map import weights_to_array
from visualizer.vtk_quiet import VtkMessages

Array = NDArray[np.float64]

#: Triangles of the decimated template that is deformed (fewer is faster, more follows detail).
TEMPLATE_TRIANGLES = 7_000
#: Scan points sampled for the similarity search.
SEARCH_POINTS = 600
#: Similarity search: steps for every start, for the best :data:`KEEP_STARTS`, for the best four.
START_ITERS = (4, 8, 15)
#: Starts that go on after the first few steps.
KEEP_STARTS = 12
#: Uniformly spread extra starting orientations of the similarity search.
SPREAD_STARTS = 72
#: Trimmed ICP keeps this fraction of the closest pairs (hair, loose bits, missing template parts).
TRIM = 0.8
#: Scale range of a head against the template (after the unit conversion).
SCALE_RANGE = (0.7, 1.45)
#: A template point farther than this from the scan (mm) does not pull in the non-rigid fit.
MATCH_MM = 12.0
#: Non-rigid ICP schedule, stiff → supple: (stiffness, iterations, farthest match in mm).
STEPS: list[tuple[float, int, float]] = [(10.0, 3, MATCH_MM), (3.0, 3, MATCH_MM), (1.0, 3, MATCH_MM)]
#: A landmark farther than this from the scan's skin after the fit (mm) is missing from the scan.
MISSING_MM = 7.0
#: A landmark snapped onto the scan's rim from farther than this sideways (mm) lies beyond the scan's edge.
RIM_MM = 3.0
#: Above this fit residual (mm) around a landmark, it is flagged as poorly found.
POOR_MM = 4.0
#: A scan point's muscle-area weights are blended from this many nearest deformed template points.
CARRY_NEIGHBOURS = 4
#: Scan points carried at a time (bounds the temporary memory of the blend on a 2M-triangle scan).
CARRY_CHUNK = 100_000
#: Mean trimmed gap (mm) after the similarity start above which the scan is not taken as a head.
NOT_A_HEAD_MM = 6.0


@dataclass(frozen=True)
class Template:
    """The decimated template: points and faces (head frame, mm), landmark anchors, muscle codes."""

    points: Array
    faces: NDArray[np.int64]
    dense: Array  # the full template's points, for the similarity search
    dense_normals: Array
    head_part: Array  # dense points of the head and neck alone (above the shoulders)
    landmark_names: tuple[str, ...]
    landmark_faces: NDArray[np.int64]
    landmark_bary: Array
    muscle: NDArray[np.int8]
    muscle_weight: NDArray[np.float32]  # per template point, one column per muscle area (0..1)


@dataclass
class Fit:
    """The template fitted to a scan (scan frame, mm)."""

    scale: float
    rotation: Array  # template head frame → scan frame: p_scan = scale * R @ p + t
    translation: Array
    gap_mm: float  # trimmed mean scan → template distance after the similarity start
    deformed: Array  # deformed template points
    landmarks: dict[str, Array]
    residual_mm: dict[str, float]
    off_skin_mm: dict[str, float]
    missing: list[str]
    muscle: NDArray[np.int8]  # per scan point
    muscle_weight: NDArray[np.uint8]  # per scan point: each muscle area's soft weight (×255, the stored array)
    warnings: list[str] = field(default_factory=list)


def _faces(mesh: pv.PolyData) -> NDArray[np.int64]:
    return np.asarray(mesh.faces).reshape(-1, 4)[:, 1:].astype(np.int64)


def _decimate(mesh: pv.PolyData, triangles: int) -> pv.PolyData:
    if mesh.n_cells <= triangles:
        return mesh
    with VtkMessages():
        out = mesh.decimate(1.0 - triangles / mesh.n_cells, volume_preservation=True).clean()
    return pv.PolyData(out.points, out.faces)


@lru_cache(maxsize=1)
def template() -> Template:
    """The bundled head, decimated, with its landmarks as (face, barycentric) anchors."""
    from visualizer.head import load_head

    head = load_head()
    dense = np.asarray(head.mesh.points, dtype=float)
    small = _decimate(pv.PolyData(dense, head.mesh.faces), TEMPLATE_TRIANGLES)
    pts = np.asarray(small.points, dtype=float)
    faces = _faces(small)
    names = tuple(sorted(head.landmarks))
    lm = np.array([head.landmarks[n] for n in names])
    cell_ids, closest = small.find_closest_cell(lm, return_closest_point=True)
    bary = np.array([_barycentric(pts[faces[c]], p) for c, p in zip(cell_ids, closest, strict=True)])
    _, nearest = cKDTree(dense).query(pts)
    muscle = np.asarray(head.muscle_codes)[nearest].astype(np.int8)
    weight = np.asarray(head.muscle_weights, dtype=np.float32)[nearest]
    acromion_z = min(head.landmarks["left_acromion"][2], head.landmarks["right_acromion"][2])
    head_part = dense[dense[:, 2] > head.landmarks["c7"][2] + 0.3 * (head.landmarks["c7"][2] - acromion_z)]
    normals = np.asarray(head.mesh.point_data["Normals"], dtype=float)
    return Template(pts, faces, dense, normals, head_part, names, np.asarray(cell_ids), bary, muscle, weight)


def _barycentric(tri: Array, p: Array) -> Array:
    a, b, c = tri
    v0, v1, v2 = b - a, c - a, p - a
    d00, d01, d11, d20, d21 = v0 @ v0, v0 @ v1, v1 @ v1, v2 @ v0, v2 @ v1
    den = d00 * d11 - d01 * d01
    if den <= 0:
        return np.array([1.0, 0.0, 0.0])
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    return np.array([1.0 - v - w, v, w])


# ----------------------------------------------------------------------------- similarity start
def _umeyama(src: Array, dst: Array) -> tuple[float, Array, Array]:
    """Least-squares similarity dst ≈ s R src + t (Umeyama 1991)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1
    rot = u @ sign @ vt
    var = (a**2).sum() / len(src)
    s = float(np.trace(np.diag(d) @ sign) / var) if var > 0 else 1.0
    return s, rot, mu_d - s * rot @ mu_s


def _icp(
    src: Array, tree: cKDTree, normals: Array, s: float, rot: Array, t: Array, iters: int
) -> tuple[float, Array, Array, float]:
    """Trimmed point-to-plane similarity ICP of scan points ``src`` onto the template.

    Each step linearises a small rotation ω, scale change δ and shift τ and solves
    min Σ ((x + ω×x + δ(x − c) + τ − q)·n)² over the kept pairs (x moved scan point, q its
    closest template point, n the template normal there). Returns s, R, t and the trimmed mean gap.
    """
    keep = int(TRIM * len(src))
    for _ in range(iters):
        x = s * src @ rot.T + t
        dist, idx = tree.query(x)
        order = np.argpartition(dist, keep - 1)[:keep]
        xs, qs, ns = x[order], tree.data[idx[order]], normals[idx[order]]
        c = xs.mean(0)
        a = np.hstack([np.cross(xs, ns), np.einsum("ij,ij->i", xs - c, ns)[:, None], ns])
        b = -np.einsum("ij,ij->i", xs - qs, ns)
        sol, *_ = np.linalg.lstsq(a, b, rcond=None)
        omega, delta, tau = sol[:3], float(sol[3]), sol[4:]
        step = Rotation.from_rotvec(omega).as_matrix()
        grow = float(np.clip(s * (1.0 + delta), *SCALE_RANGE)) / s
        # x' = grow * step (x - c) + c + tau, folded into s, R, t
        s = s * grow
        rot = step @ rot
        t = grow * step @ (t - c) + c + tau
    x = s * src @ rot.T + t
    dist, _ = tree.query(x)
    gap = float(np.sort(dist)[:keep].mean())
    return s, rot, t, gap


def _affine_icp(src: Array, tree: cKDTree, normals: Array, lin: Array, t: Array, iters: int) -> tuple[Array, Array]:
    """Trimmed point-to-plane affine ICP (x = L p + t): heads differ in proportions, not only size.

    Each step solves min Σ ((x + A(x − c) + τ − q)·n)² for a small linear map A and shift τ; the
    map's singular values are then kept within :data:`SCALE_RANGE`.
    """
    keep = int(TRIM * len(src))
    for _ in range(iters):
        x = src @ lin.T + t
        dist, idx = tree.query(x)
        order = np.argpartition(dist, keep - 1)[:keep]
        xs, qs, ns = x[order], tree.data[idx[order]], normals[idx[order]]
        c = xs.mean(0)
        d = xs - c
        a = np.hstack([(ns[:, :, None] * d[:, None, :]).reshape(len(xs), 9), ns])
        b = -np.einsum("ij,ij->i", xs - qs, ns)
        sol, *_ = np.linalg.lstsq(a, b, rcond=None)
        step = np.eye(3) + sol[:9].reshape(3, 3)
        lin = step @ lin
        t = step @ (t - c) + c + sol[9:]
        u, sv, vt = np.linalg.svd(lin)
        lin = u @ np.diag(np.clip(sv, *SCALE_RANGE)) @ vt
    return lin, t


def _axes(points: Array) -> tuple[Array, Array]:
    c = points.mean(0)
    _, vecs = np.linalg.eigh(np.cov((points - c).T))
    if np.linalg.det(vecs) < 0:
        vecs[:, 0] *= -1
    return c, vecs


def _proper_axis_rotations() -> list[Array]:
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for i, (j, sg) in enumerate(zip(perm, signs, strict=True)):
                m[i, j] = sg
            if np.linalg.det(m) > 0:
                out.append(m)
    return out


def _starts(scan_pts: Array, tpl: Template) -> list[tuple[Array, Array]]:
    """Candidate (rotation scan → template, template centre) starts."""
    _, axs = _axes(scan_pts)
    starts: list[tuple[Array, Array]] = []
    for part in (tpl.head_part, tpl.dense):
        ct, axt = _axes(part)
        for m in _proper_axis_rotations():
            starts.append((axt @ m @ axs.T, ct))
    spread = Rotation.random(SPREAD_STARTS, random_state=7).as_matrix()  # fixed seed: same starts every run
    for r in spread:
        starts.append((r, tpl.head_part.mean(0)))
    return starts


def similarity_start(scan_pts: Array, tpl: Template) -> tuple[float, Array, Array, float]:
    """Best similarity scan → template (s, R, t, trimmed gap in mm) from many starts.

    Coarse to fine: every start takes a few cheap steps on a small sample against a thinned
    template; only the best :data:`KEEP_STARTS` go on, and the best four of those are refined on
    a larger sample against the full template.
    """
    rng = np.random.default_rng(0)
    sample = scan_pts[rng.choice(len(scan_pts), size=min(SEARCH_POINTS, len(scan_pts)), replace=False)]
    coarse = sample[: len(sample) // 2]
    tree = cKDTree(tpl.dense[::3])
    normals = tpl.dense_normals[::3]
    cs = sample.mean(0)
    results = []
    for rot, centre in _starts(scan_pts, tpl):
        t = centre - rot @ cs
        results.append(_icp(coarse, tree, normals, 1.0, rot, t, iters=START_ITERS[0]))
    results.sort(key=lambda r: r[3])
    results = [_icp(sample, tree, normals, s, r, t, iters=START_ITERS[1]) for s, r, t, _ in results[:KEEP_STARTS]]
    results.sort(key=lambda r: r[3])
    fine_tree = cKDTree(tpl.dense)
    sample2 = scan_pts[rng.choice(len(scan_pts), size=min(4 * SEARCH_POINTS, len(scan_pts)), replace=False)]
    best = [_icp(sample2, fine_tree, tpl.dense_normals, s, r, t, iters=START_ITERS[2]) for s, r, t, _ in results[:4]]
    return min(best, key=lambda r: r[3])


# ----------------------------------------------------------------------------- the scan's surface
@dataclass(frozen=True)
class _Surface:
    """The full scan for correspondences: its points, unit normals, a k-d tree, its rim."""

    points: Array
    normals: Array
    tree: cKDTree
    rim: NDArray[np.bool_]  # points on the scan's open border (neck cut, holes)
    spacing: float  # typical distance between neighbouring scan points (mm)

    @classmethod
    def of(cls, scan: pv.PolyData) -> _Surface:
        with VtkMessages():
            surf = pv.PolyData(np.asarray(scan.points, dtype=float), scan.faces).compute_normals(
                point_normals=True, cell_normals=False, split_vertices=False, consistent_normals=False
            )
            edges = surf.extract_feature_edges(
                boundary_edges=True, non_manifold_edges=False, feature_edges=False, manifold_edges=False
            )
        pts = np.asarray(surf.points, dtype=float)
        tree = cKDTree(pts)
        rim = np.zeros(len(pts), dtype=bool)
        if edges.n_points:
            _, on_rim = tree.query(np.asarray(edges.points, dtype=float))
            rim[on_rim] = True
        d, _ = tree.query(pts[:: max(1, len(pts) // 2000)], k=2)
        return cls(pts, np.asarray(surf.point_data["Normals"], dtype=float), tree, rim, float(np.median(d[:, 1])))

    def match(self, x: Array, x_normals: Array, max_mm: float) -> tuple[Array, Array, NDArray[np.bool_]]:
        """Closest scan point (foot on the tangent plane of the nearest scan point) for each ``x``.

        Returns the foot points, their distances, and which matches count (Amberg et al. 2007,
        section 3.3): not on the scan's rim (the template part beyond a neck cut or in a hole
        must not be pulled onto its edge), within ``max_mm``, normals within 60°.
        """
        _, idx = self.tree.query(x)
        q, n = self.points[idx], self.normals[idx]
        foot = x - np.einsum("ij,ij->i", x - q, n)[:, None] * n
        dist = np.linalg.norm(foot - x, axis=1)
        along = np.linalg.norm(foot - q, axis=1)  # how far the foot lies from the scan point
        agree = np.abs(np.einsum("ij,ij->i", x_normals, n)) > 0.5
        ok = ~self.rim[idx] & (dist < max_mm) & agree & (along < max(3.0 * self.spacing, 2.0))
        return foot, dist, ok


def _vertex_normals(points: Array, faces: NDArray[np.int64]) -> Array:
    tri = points[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(points)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def _nonrigid(src: Array, faces: NDArray[np.int64], surface: _Surface) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Deform the template (points ``src``, scan frame) onto the scan: optimal-step non-rigid ICP.

    Each step is solved by trimesh's :func:`~trimesh.registration.nricp_amberg` (the stiffness
    term and the sparse solve of Amberg et al. 2007, one iteration per call); the correspondences
    are ours, with the paper's rejection rules that trimesh leaves out — above all no template
    point is pulled onto the scan's rim. Correspondences go in as trimesh's landmark term, and
    its own closest-vertex term is switched off (a negative distance threshold).

    Returns the deformed points, each point's distance to the scan (to its nearest point where it
    found no match), and which points matched.
    """
    import trimesh
    from trimesh.registration import nricp_amberg

    deformed = src
    for stiffness, iters, max_mm in STEPS:
        for _ in range(iters):
            foot, dist, ok = surface.match(deformed, _vertex_normals(deformed, faces), max_mm)
            if ok.sum() < 0.2 * len(src):
                break
            source = trimesh.Trimesh(src, faces, process=False)
            deformed = np.asarray(
                nricp_amberg(
                    source,
                    foot[ok],
                    source_landmarks=np.flatnonzero(ok),
                    target_positions=foot[ok],
                    steps=[[stiffness, 1.0, 0.0, 1]],
                    distance_threshold=-1.0,
                    use_faces=False,
                )
            )
    foot, dist, ok = surface.match(deformed, _vertex_normals(deformed, faces), STEPS[-1][2])
    nearest, _ = surface.tree.query(deformed)  # an unmatched point: how far the scan is at all
    return deformed, np.where(ok, dist, np.maximum(dist, nearest)), ok


# ----------------------------------------------------------------------------- the whole fit
def fit_scan(scan: pv.PolyData, *, progress: Callable[[str], None] | None = None) -> Fit:
    """Fit the template to a scan (points in mm) and carry the landmarks and muscle map across.

    ``progress`` (optional) is called with ``"align"``, ``"fit"`` and ``"snap"`` as each step starts.

    Raises
    ------
    MeshError
        When no orientation makes the scan fit the template head (not a head).
    """
    tpl = template()
    scan_pts = np.asarray(scan.points, dtype=float)
    if progress is not None:
        progress("align")
    sample = _area_sample(scan, 20_000)
    s, rot, t, gap = similarity_start(sample, tpl)
    if gap > NOT_A_HEAD_MM:
        raise MeshError(
            f"the scan does not look like a head: the best fit of the template leaves a {gap:.1f} mm mean gap "
            f"(a head scan fits within {NOT_A_HEAD_MM:g} mm)"
        )
    lin, t = _affine_icp(sample[::8], cKDTree(tpl.dense), tpl.dense_normals, s * rot, t, iters=12)
    # template → scan frame
    inv_lin = np.linalg.inv(lin)
    inv_t = -inv_lin @ t
    src_pts = tpl.points @ inv_lin.T + inv_t
    surface = _Surface.of(scan)
    if progress is not None:
        progress("fit")
    deformed, vertex_gap, _ = _nonrigid(src_pts, tpl.faces, surface)
    if progress is not None:
        progress("snap")
    # carry landmarks: anchors on the deformed template, snapped onto the full scan
    tri = deformed[tpl.faces[tpl.landmark_faces]]
    carried = np.einsum("nij,ni->nj", tri, tpl.landmark_bary)
    with VtkMessages():
        _, snapped = scan.find_closest_cell(carried, return_closest_point=True)
    snapped = np.asarray(snapped, dtype=float)
    off = np.linalg.norm(snapped - carried, axis=1)
    # beyond the scan's edge: snapped onto its rim from the side (not from in front or behind)
    _, near = surface.tree.query(snapped)
    offset = carried - snapped
    normal = surface.normals[near]
    sideways = np.linalg.norm(offset - np.einsum("ij,ij->i", offset, normal)[:, None] * normal, axis=1)
    beyond = surface.rim[near] & (sideways > RIM_MM)
    # residual: how far the deformed template lies from the scan around each landmark
    vtree = cKDTree(deformed)
    landmarks: dict[str, Array] = {}
    residual: dict[str, float] = {}
    off_skin: dict[str, float] = {}
    missing: list[str] = []
    radius = 20.0
    for i, name in enumerate(tpl.landmark_names):
        around = vtree.query_ball_point(carried[i], radius)
        res = float(np.median(vertex_gap[around])) if around else float(off[i])
        off_skin[name] = round(float(off[i]), 2)
        residual[name] = round(max(res, float(off[i])), 2)
        if off[i] > MISSING_MM or beyond[i]:
            missing.append(name)
            continue
        landmarks[name] = snapped[i]
    warnings = [
        f"landmark {n} found with a poor fit (residual {residual[n]:.1f} mm): check it"
        for n in landmarks
        if residual[n] > POOR_MM
    ]
    nearest, weight = _carry_muscles(vtree, scan_pts, tpl.muscle_weight)
    return Fit(
        scale=float(abs(np.linalg.det(inv_lin)) ** (1 / 3)),
        rotation=inv_lin,
        translation=inv_t,
        gap_mm=gap,
        deformed=deformed,
        landmarks=landmarks,
        residual_mm=residual,
        off_skin_mm=off_skin,
        missing=missing,
        muscle=tpl.muscle[nearest],
        muscle_weight=weight,
        warnings=warnings,
    )


def _carry_muscles(
    tree: cKDTree, points: Array, weights: NDArray[np.float32]
) -> tuple[NDArray[np.intp], NDArray[np.uint8]]:
    """Each point's nearest template point, and its muscle weights blended by inverse distance.

    ``tree`` holds the deformed template points; ``weights`` is their (n, muscles) weight table.
    Returns the nearest index per point and the blended weights as the stored uint8 array.
    """
    nearest = np.empty(len(points), dtype=np.intp)
    out = np.empty((len(points), weights.shape[1]), dtype=np.uint8)
    for i in range(0, len(points), CARRY_CHUNK):
        dist, idx = tree.query(points[i : i + CARRY_CHUNK], k=CARRY_NEIGHBOURS)
        inv = 1.0 / np.maximum(dist, 1e-6)
        inv /= inv.sum(axis=1, keepdims=True)
        nearest[i : i + CARRY_CHUNK] = idx[:, 0]
        out[i : i + CARRY_CHUNK] = weights_to_array(np.einsum("nk,nkm->nm", inv, weights[idx]))
    return nearest, out


def _area_sample(mesh: pv.PolyData, n: int) -> Array:
    """``n`` points spread over the surface by area (fixed seed), so dense patches do not dominate."""
    pts = np.asarray(mesh.points, dtype=float)
    f = _faces(mesh)
    a, b, c = pts[f[:, 0]], pts[f[:, 1]], pts[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    total = area.sum()
    if not np.isfinite(total) or total <= 0:
        raise MeshError("the scan has no surface area")
    rng = np.random.default_rng(1)
    pick = rng.choice(len(f), size=n, p=area / total)
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    return a[pick] + u[:, None] * (b[pick] - a[pick]) + v[:, None] * (c[pick] - a[pick])
