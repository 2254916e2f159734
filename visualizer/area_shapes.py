"""Signed distances (mm) that draw soft-edged areas on the skin, and the weights made from them.

An area is a signed distance per skin point: negative inside, positive outside, about the
distance in millimetres to the area's boundary (exact for the capsules and planes, an estimate
for the others). Areas are combined with :func:`inside_all` (intersection: the largest distance)
and :func:`inside_any` (union: the smallest). :func:`soft_weight` turns a distance into a weight
in [0, 1] that falls off smoothly across the boundary (0.5 on it), and :func:`composite` lays
the areas over each other in order like paint, so overlapping areas share a point smoothly and
the hard label (:func:`hard_labels`) is the last area the point lies in (weight at least one
half).

All arrays are per point, shape (n,) or (n, 3); coordinates in the head frame (mm).

Examples
--------
>>> import numpy as np
>>> d = np.array([-10.0, 0.0, 10.0])
>>> soft_weight(d, 3.0).round(2).tolist()
[1.0, 0.5, 0.0]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

Array = NDArray[np.float64]

#: Half-width of the soft edge (mm): the weight runs from 1 at this distance inside the boundary to
#: 0 at this distance outside it. Chosen, not published (a few mm reads as a soft edge on the head).
FALLOFF_MM = 3.0

#: How many mm a turn of the skin normal by 1 (in a direction cosine) counts as, where an area
#: is bounded by the way the skin faces: about the radius of curvature of the head's sides.
#: Chosen, not published.
FACING_MM = 30.0


def inside_all(*ds: Array) -> Array:
    """Intersection of areas (signed distances)."""
    return np.maximum.reduce([np.asarray(d, dtype=float) for d in ds])


def inside_any(*ds: Array) -> Array:
    """Union of areas (signed distances)."""
    return np.minimum.reduce([np.asarray(d, dtype=float) for d in ds])


def below(value: Array, limit: Array | float) -> Array:
    """Signed distance of ``value < limit`` (both mm)."""
    return np.asarray(value, dtype=float) - limit


def above(value: Array, limit: Array | float) -> Array:
    """Signed distance of ``value > limit`` (both mm)."""
    return limit - np.asarray(value, dtype=float)


def facing(normals: Array, direction: Sequence[float] | Array, cos_min: float) -> Array:
    """Signed distance (mm, via :data:`FACING_MM`) of "the skin faces within acos(cos_min) of direction"."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    cos = np.sum(np.asarray(normals, dtype=float) * d, axis=-1)
    return (cos_min - cos) * FACING_MM


def capsule(p: Array, a: Array, b: Array, radius: Array | float) -> Array:
    """Signed distance to the capsule of ``radius`` (mm) around the segment ``a``–``b``.

    ``a``, ``b`` are points (3,) or per point (n, 3); ``radius`` may vary along the segment as a
    pair ``(r_a, r_b)`` given as an (n,) array already interpolated, or a number.
    """
    a = np.broadcast_to(np.asarray(a, dtype=float), p.shape)
    b = np.broadcast_to(np.asarray(b, dtype=float), p.shape)
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-9), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - radius


def along(p: Array, a: Array, b: Array) -> Array:
    """Position of each point along ``a`` → ``b``: 0 at ``a``, 1 at ``b`` (not clipped)."""
    a = np.broadcast_to(np.asarray(a, dtype=float), p.shape)
    b = np.broadcast_to(np.asarray(b, dtype=float), p.shape)
    ab = b - a
    return np.sum((p - a) * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-9)


def skin_path(skin: Array, knots: Sequence[Array], step: float = 4.0) -> Array:
    """A polyline over the skin through ``knots`` (each (3,), mm): the straight pieces between the
    knots sampled every ``step`` mm, each sample moved to the nearest skin point, then smoothed
    (a three-point moving average, ends kept) so the path does not jitter from point to point.

    ``skin`` are the skin points (n, 3) the path may run over. Returns the path, shape (m, 3).
    """
    tree = cKDTree(np.asarray(skin, dtype=float))
    pieces = []
    ks = [np.asarray(k, dtype=float) for k in knots]
    for a, b in itertools.pairwise(ks):
        count = max(2, int(np.ceil(np.linalg.norm(b - a) / step)) + 1)
        pieces.append(a + np.linspace(0.0, 1.0, count)[:, None] * (b - a))
    chord = np.vstack([pieces[0]] + [piece[1:] for piece in pieces[1:]])
    on_skin = tree.data[tree.query(chord)[1]]
    smooth = on_skin.copy()
    smooth[1:-1] = (on_skin[:-2] + on_skin[1:-1] + on_skin[2:]) / 3.0
    return smooth


def path_band(p: Array, path: Array, radii: Sequence[float], at: Sequence[float]) -> Array:
    """Signed distance (mm) to a band of varying half-width around a polyline over the skin.

    ``path`` (m, 3) from :func:`skin_path`; the half-width is ``radii`` at the fractions ``at``
    (0 at the path's start, 1 at its end, by length along the path), linear in between. A point's
    distance is the smallest over the path's pieces of (distance to the piece − the half-width
    where it is nearest), so the band tapers smoothly and its ends are rounded.
    """
    path = np.asarray(path, dtype=float)
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)]) / max(float(seg.sum()), 1e-9)
    r = np.interp(s, np.asarray(at, dtype=float), np.asarray(radii, dtype=float))
    best = np.full(len(p), np.inf)
    for i in range(len(path) - 1):
        a, b = path[i], path[i + 1]
        ab = b - a
        t = np.clip((p - a) @ ab / max(float(ab @ ab), 1e-9), 0.0, 1.0)
        d = np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - (r[i] + t * (r[i + 1] - r[i]))
        best = np.minimum(best, d)
    return best


def interp(t: Array, v0: Array | float, v1: Array | float) -> Array:
    """``v0`` at t = 0 to ``v1`` at t = 1, held constant outside."""
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    return v0 + t * (np.asarray(v1, dtype=float) - v0)


def ellipse(u: Array, v: Array, cu: Array | float, cv: Array | float, au: Array | float, av: Array | float) -> Array:
    """Approximate signed distance (mm) to the ellipse with centre (cu, cv) and semi-axes (au, av)."""
    return rounded_box(u, v, cu, cv, au, av, 2.0)


def rounded_box(
    u: Array, v: Array, cu: Array | float, cv: Array | float, au: Array | float, av: Array | float, power: float = 4.0
) -> Array:
    """Approximate signed distance (mm) to a box with rounded corners (a superellipse).

    Centre (cu, cv), half-sizes (au, av); ``power`` 2 is an ellipse, larger is squarer. The
    distance is the first-order estimate ``(r − 1) / |∇r|`` of the superellipse's level ``r`` (exact
    on the boundary's normal, so the soft edge is equally wide all round).
    """
    du = (np.asarray(u, dtype=float) - cu) / au
    dv = (np.asarray(v, dtype=float) - cv) / av
    au_, av_ = np.broadcast_to(au, du.shape), np.broadcast_to(av, dv.shape)
    r = (np.abs(du) ** power + np.abs(dv) ** power) ** (1.0 / power)
    rr = np.maximum(r, 1e-9)
    # ∂r/∂u = |du|^(p−1) / (au · r^(p−1)), likewise for v
    gu = (np.abs(du) / rr) ** (power - 1.0) / au_
    gv = (np.abs(dv) / rr) ** (power - 1.0) / av_
    return (r - 1.0) / np.maximum(np.hypot(gu, gv), 1e-9)


def polygon(u: Array, v: Array, corners: Sequence[tuple[Array, Array]]) -> Array:
    """Signed distance (mm) to a convex polygon in the (u, v) plane (inside: negative).

    ``corners`` are (u, v) pairs in order around the polygon (either way round), each a number
    or a per-point array. Exact along the edges; the corners' outside is approximated.
    """
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    cs = [(np.asarray(a, dtype=float), np.asarray(b, dtype=float)) for a, b in corners]
    area = sum(cs[i][0] * cs[(i + 1) % len(cs)][1] - cs[(i + 1) % len(cs)][0] * cs[i][1] for i in range(len(cs)))
    sign = np.where(area > 0, 1.0, -1.0)  # counter-clockwise: inside is on the left of each edge
    ds = []
    for i in range(len(cs)):
        (ua, va), (ub, vb) = cs[i], cs[(i + 1) % len(cs)]
        eu, ev = ub - ua, vb - va
        length = np.maximum(np.hypot(eu, ev), 1e-9)
        ds.append(-sign * (eu * (v - va) - ev * (u - ua)) / length)
    return inside_all(*ds)


def soft_weight(d: Array, falloff: float = FALLOFF_MM) -> Array:
    """Weight in [0, 1] from a signed distance: 1 deep inside, 0.5 on the boundary, 0 outside.

    The smoothstep ``3s² − 2s³`` over ``d`` ∈ [falloff, −falloff] (continuous, with a continuous
    slope, so the tint has no edge).
    """
    s = np.clip((falloff - np.asarray(d, dtype=float)) / (2.0 * falloff), 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def composite(weights: Sequence[Array]) -> NDArray[np.float64]:
    """Lay soft areas over each other in order (later over earlier), like paint with alpha.

    Returns the visible weight of each area, shape (n, k): each in [0, 1], their sum at most 1.
    Where an area lies on an earlier one, the earlier one shows only where the later fades out.
    """
    w = np.stack([np.asarray(x, dtype=float) for x in weights], axis=1)
    out = np.empty_like(w)
    remaining = np.ones(len(w))
    for k in range(w.shape[1] - 1, -1, -1):  # from the top layer down
        out[:, k] = w[:, k] * remaining
        remaining = remaining * (1.0 - w[:, k])
    return out


def hard_labels(raw: Sequence[Array], codes: Sequence[int]) -> NDArray[np.int8]:
    """Code per point: of the areas (raw :func:`soft_weight` weights, in paint order) whose weight
    is at least one half (the point lies inside it), the last; 0 where none.

    >>> hard_labels([np.array([0.9, 0.9, 0.1]), np.array([0.2, 0.7, 0.3])], [3, 5]).tolist()
    [3, 5, 0]
    """
    out = np.zeros(len(raw[0]) if raw else 0, dtype=np.int8)
    for w, code in zip(raw, codes, strict=True):
        out[np.asarray(w) >= 0.5] = code
    return out
