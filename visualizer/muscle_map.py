"""Which muscle lies under each skin point: areas shaped by the anatomy, with soft edges.

Each area is a signed distance over the skin (mm, negative inside; :mod:`visualizer.area_shapes`)
built from landmark rules that follow the muscle's anatomy — its attachments and borders between
the landmarks of :mod:`visualizer.landmarks` — each rule naming its source in a comment. A
distance no source gives is marked "chosen, not published". From the distances come

* a **weight** per point and muscle in [0, 1] with a smooth falloff across the border
  (:data:`visualizer.area_shapes.FALLOFF_MM`), used to tint the skin so areas blend into it;
* the **hard label** (code into :data:`MUSCLES`, the last area in paint order the point lies in),
  used by the safety checks, follow-the-pain and site → muscle look-ups.

The same rules label the bundled mesh (stored as the point arrays ``muscle`` and
``muscle_weight`` in ``meshes/head.vtp``; ``python meshes/build_head.py --muscles-only`` redraws
them) and any other head that comes without a map.

All coordinates here are head-frame millimetres (+x right, +y front, +z up). The rules work on
points mirrored to the right side (x is the distance from the midline) with each side's own
landmarks, so the two sides are drawn by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from visualizer.area_shapes import (
    FALLOFF_MM,
    above,
    below,
    capsule,
    composite,
    ellipse,
    facing,
    hard_labels,
    inside_all,
    inside_any,
    interp,
    path_band,
    polygon,
    rounded_box,
    skin_path,
    soft_weight,
)
from visualizer.muscles import MUSCLES as REGISTRY_MUSCLES

#: Muscle names in code order (``"none"`` then the registry's rows); the point array ``muscle``
#: stores indices into this tuple.
MUSCLES: tuple[str, ...] = ("none", *REGISTRY_MUSCLES)
MUSCLE_CODE: dict[str, int] = {name: i for i, name in enumerate(MUSCLES)}
#: The order the areas are drawn in (later over earlier): the hard label of a point is the last
#: area it lies in, and a tint shows the later of two overlapping areas. A deep muscle comes before
#: the muscles that cover it (splenius capitis and levator scapulae under the trapezius, the
#: scalenes under the sternocleidomastoid), so drawn together the skin shows what lies under it,
#: and drawn alone a muscle shows its whole shape.
PAINT_ORDER: tuple[str, ...] = (
    "temporalis", "frontalis", "corrugator", "procerus", "orbicularis_oculi", "occipitalis", "splenius_capitis",
    "levator_scapulae", "trapezius", "cervical_paraspinal", "platysma", "masseter", "scalenes",
    "sternocleidomastoid", "depressor_anguli_oris", "mentalis",
)  # fmt: skip
#: Point array of the per-muscle weights (uint8, weight × 255; column k is code k + 1).
WEIGHT_ARRAY = "muscle_weight"

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
    "nasion", "glabella", "inion", "c7", "trichion",
    *(f"{s}_{n}" for s in ("left", "right") for n in (
        "pupil", "orbital_rim", "lateral_canthus", "medial_canthus", "brow_medial", "brow_lateral",
        "temporal_line", "tragus", "zygomatic_arch", "mastoid", "acromion", "necklace",
    )),
)  # fmt: skip


@dataclass(frozen=True)
class MuscleAreas:
    """The muscle map of a skin.

    Attributes
    ----------
    codes : ndarray of int8, shape (n,)
        Hard label per point (index into :data:`MUSCLES`; 0 = none).
    weights : ndarray of float32, shape (n, len(MUSCLES) - 1)
        Weight of each muscle's area at each point, in [0, 1] (column k is code k + 1): 1 inside,
        0.5 on the border, 0 outside, smooth between; areas may overlap (see
        :func:`visible_weights` for what shows when they are drawn together).
    """

    codes: NDArray[np.int8]
    weights: NDArray[np.float32]


def weights_to_array(weights: NDArray[np.floating]) -> NDArray[np.uint8]:
    """Weights in [0, 1] as the stored point array (uint8, ×255)."""
    return np.rint(np.clip(weights, 0.0, 1.0) * 255.0).astype(np.uint8)


def weights_from_array(array: NDArray[np.generic], codes: NDArray[np.integer]) -> NDArray[np.float32]:
    """Weights from a stored point array, or hard (0/1) weights from ``codes`` when it does not fit."""
    a = np.asarray(array)
    k = len(MUSCLES) - 1
    if a.ndim == 2 and a.shape == (len(codes), k):
        return (a.astype(np.float32) / 255.0) if a.dtype == np.uint8 else np.clip(a, 0, 1).astype(np.float32)
    return hard_weights(codes)


def hard_weights(codes: NDArray[np.integer]) -> NDArray[np.float32]:
    """Weights 1 where a point carries a muscle's code, 0 elsewhere (a map without soft edges)."""
    c = np.asarray(codes).astype(int)
    w = np.zeros((len(c), len(MUSCLES) - 1), dtype=np.float32)
    on = (c > 0) & (c < len(MUSCLES))
    w[np.flatnonzero(on), c[on] - 1] = 1.0
    return w


def label_muscles(
    points: NDArray[np.float64],
    normals: NDArray[np.float64],
    landmarks: Mapping[str, NDArray[np.float64]],
) -> NDArray[np.int8]:
    """Label each skin point with a code from :data:`MUSCLES` (the hard label of :func:`muscle_areas`)."""
    return muscle_areas(points, normals, landmarks).codes


def muscle_areas(
    points: NDArray[np.float64],
    normals: NDArray[np.float64],
    landmarks: Mapping[str, NDArray[np.float64]],
    *,
    falloff: float = FALLOFF_MM,
) -> MuscleAreas:
    """Draw every muscle area on a skin: hard labels and soft weights.

    Parameters
    ----------
    points, normals : ndarray, shape (n, 3)
        Skin points and outward unit normals in the head frame (mm).
    landmarks : mapping
        Head-frame landmark positions; needs the names in :data:`MAP_LANDMARKS` (and
        :data:`NECK_FACE_LANDMARKS` for the neck and lower-face areas).
    falloff : float
        Half-width of the soft edge (mm).

    Returns
    -------
    MuscleAreas
    """
    p = np.asarray(points, dtype=float)
    n = np.asarray(normals, dtype=float)
    right = p[:, 0] >= 0
    sx = np.where(right, 1.0, -1.0)
    pm = np.stack([np.abs(p[:, 0]), p[:, 1], p[:, 2]], axis=1)  # mirrored to the right side
    nm = np.stack([n[:, 0] * sx, n[:, 1], n[:, 2]], axis=1)

    def sided(name: str) -> NDArray[np.float64]:
        r = np.asarray(landmarks[f"right_{name}"], dtype=float)
        left = np.asarray(landmarks[f"left_{name}"], dtype=float)
        # per point: that side's landmark, with x written as distance from the midline
        v = np.where(right[:, None], r, left).copy()
        v[:, 0] = np.abs(v[:, 0])
        return v

    def mid(name: str) -> NDArray[np.float64]:
        return np.asarray(landmarks[name], dtype=float)

    drawn = dict(_upper_areas(pm, nm, sided, mid))
    if all(k in landmarks for k in NECK_FACE_LANDMARKS):
        drawn.update(_neck_and_lower_face(pm, nm, right, sided, landmarks))
    names = [m for m in PAINT_ORDER if m in drawn]
    raw = [soft_weight(drawn[name], falloff) for name in names]
    codes = hard_labels(raw, [MUSCLE_CODE[name] for name in names])
    weights = np.zeros((len(p), len(MUSCLES) - 1), dtype=np.float32)
    for name, w in zip(names, raw, strict=True):
        weights[:, MUSCLE_CODE[name] - 1] = w
    return MuscleAreas(codes, weights)


def visible_weights(weights: NDArray[np.floating], muscles: Iterable[str] | None = None) -> NDArray[np.float64]:
    """How much of each muscle's area shows at each point when only ``muscles`` are drawn.

    The areas of ``muscles`` (all if None) are laid over each other in :data:`PAINT_ORDER`
    (:func:`visualizer.area_shapes.composite`): where two overlap, the later one shows and the
    earlier one shows only where the later fades out. Columns as in ``weights`` (code k + 1); the
    other muscles' columns are 0.
    """
    w = np.asarray(weights, dtype=float)
    wanted = set(MUSCLES[1:] if muscles is None else muscles)
    order = [MUSCLE_CODE[m] - 1 for m in PAINT_ORDER if m in wanted]
    out = np.zeros_like(w)
    if order:
        out[:, order] = composite([w[:, k] for k in order])
    return out


def _front(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points seen from the front: (x, z) with y dropped (as (n, 3) with y = 0)."""
    return np.stack([p[:, 0], np.zeros(len(p)), p[:, 2]], axis=1)


def _upper_areas(
    p: NDArray[np.float64],
    n: NDArray[np.float64],
    sided: Callable[[str], NDArray[np.float64]],
    mid: Callable[[str], NDArray[np.float64]],
) -> list[tuple[str, NDArray[np.float64]]]:
    """The skull, upper-face, back-of-neck and shoulder areas, in paint order (mirrored points)."""
    x, y, z = p.T
    pupil, rim, lc, mc = sided("pupil"), sided("orbital_rim"), sided("lateral_canthus"), sided("medial_canthus")
    bm, bl, tl = sided("brow_medial"), sided("brow_lateral"), sided("temporal_line")
    tr, zyg, mas = sided("tragus"), sided("zygomatic_arch"), sided("mastoid")
    acr, neck = sided("acromion"), sided("necklace")
    nas, gla, ini, c7, tri = mid("nasion"), mid("glabella"), mid("inion"), mid("c7"), mid("trichion")
    out: list[tuple[str, NDArray[np.float64]]] = []

    # temporalis: the fan of the temporal fossa (Gray's Anatomy: it arises from the whole of the
    # temporal fossa up to the temporal line and passes deep to the zygomatic arch; the fossa is
    # bounded in front by the zygomatic bone's frontal process and the frontal bone's zygomatic
    # process — the back of the lateral orbital rim — and above by the temporal lines, which begin
    # at the zygomatic process of the frontal bone and arch up and back over the side of the skull).
    # Seen from the side:
    # * front border: behind the lateral orbital rim, from 10 mm behind the lateral canthus at the
    #   arch up to 7 mm behind it at the outer brow's height, where the temporal line begins
    #   (chosen, not published: the rim leans forward as it rises);
    # * upper border: the superior temporal line, half an ellipse that leaves the front border there
    #   upright (so the border curves without a corner) and arches up and back to 40 mm behind the
    #   tragus (chosen, not published), the fan as tall above the arch as 0.8 × its length (Lee 2017,
    #   temporalis width:height about 5:4);
    # * lower border: the zygomatic arch, rising behind the tragus over the ear (the auricle lies
    #   below the fan's posterior fibres; 8 mm above the arch's upper-edge landmark, chosen);
    # and lateral to the temporal fusion line seen from the front (frontalis is medial to it), on
    # skin facing sideways.
    y_back = tr[:, 1] - 40.0
    y_top_front = lc[:, 1] - 7.0
    half_len = 0.5 * (y_top_front - y_back)
    fz = bl[:, 2]  # the frontozygomatic level, where the temporal line starts
    rise = np.maximum(1.6 * half_len - (fz - zyg[:, 2]), 10.0)
    temporal_line = ellipse(y, z, y_back + half_len, fz, half_len, rise)
    below_line = inside_all(below(z, fz), above(y, y_back))  # under the line's start, down to the arch
    front_edge = interp((z - zyg[:, 2]) / np.maximum(fz - zyg[:, 2], 1.0), lc[:, 1] - 10.0, y_top_front)
    ear = -ellipse(y, z, tr[:, 1] - 10.0, tr[:, 2] + 2.0, 22.0, 40.0)  # the auricle with a margin (chosen)
    floor = above(z, interp((tr[:, 1] - y) / 40.0, zyg[:, 2] + 8.0, tr[:, 2] + 38.0))
    x_line = interp((z - bl[:, 2]) / np.maximum(tl[:, 2] - bl[:, 2], 1.0), bl[:, 0], tl[:, 0])
    out.append(("temporalis", inside_all(
        inside_any(temporal_line, below_line), below(y, front_edge), ear, floor, above(x, x_line),
        facing(n, (1.0, 0.0, 0.0), 0.45),
    )))  # fmt: skip

    # frontalis: from the brows (Gray's Anatomy: it inserts into the skin of the eyebrows) up to the
    # hairline (trichion height; the galea aponeurotica continues above it), side to side between the
    # temporal fusion lines (BOTOX Cosmetic forehead-lines method: lateral sites 0.5–1.5 cm medial to
    # the fusion line), on the front of the head. The brow runs from the medial to the lateral brow
    # landmark; the fusion line from the lateral brow end up to the temporal-line landmark.
    # Seen from the front its upper corners are rounded (the hairline recedes at the temples; a
    # superellipse of power 4, chosen, not published).
    brow_z = interp((x - bm[:, 0]) / np.maximum(bl[:, 0] - bm[:, 0], 1.0), bm[:, 2], bl[:, 2])
    height = tri[2] - gla[2]
    dome = rounded_box(x, z - brow_z, 0.0, 0.0, x_line, height, 4.0)
    out.append(("frontalis", inside_all(above(z, brow_z), dome, facing(n, (0.0, 1.0, 0.0), 0.3))))

    # corrugator supercilii: from its origin on the medial end of the superciliary arch (bone just
    # above the nasal root, beside the midline) obliquely up and out to its insertion in the skin over
    # the middle of the brow (Gray's Anatomy; e-mastr forehead dissection: origin medial on bone, tail
    # in the mid-brow). Drawn from the front as a capsule from 7 mm off the midline at 3 mm below
    # brow height to 4 mm beyond the mid-pupillary line 14 mm above it, 9 mm in radius (chosen, not
    # published: a belly about 3 cm long and 1.5–2 cm tall, reaching the glabellar sites' 1 cm above
    # the rim).
    origin = np.stack([np.full(len(p), 7.0), np.zeros(len(p)), rim[:, 2] - 3.0], axis=1)
    tail = np.stack([pupil[:, 0] + 4.0, np.zeros(len(p)), rim[:, 2] + 14.0], axis=1)
    out.append(("corrugator", inside_all(capsule(_front(p), origin, tail, 9.0), facing(n, (0.0, 1.0, 0.0), 0.45))))

    # procerus: from the nasal bones at the nasal root up to the skin between the brows, just above
    # the glabella (Gray's Anatomy), between the medial canthi: a vertical capsule from 8 mm below
    # the nasion to 8 mm above the glabella, 8 mm in radius (chosen, not published).
    lo = np.array([0.0, 0.0, nas[2] - 8.0])
    hi = np.array([0.0, 0.0, gla[2] + 8.0])
    out.append(("procerus", inside_all(capsule(_front(p), lo, hi, 8.0), facing(n, (0.0, 1.0, 0.0), 0.45))))

    # orbicularis oculi: the orbital part, a ring around the orbit outside the eyelids (Gray's Anatomy:
    # the orbital part surrounds the orbital margin; the palpebral part lies in the lids). Inner edge:
    # the lids, an ellipse round the eye opening (canthus to canthus) 3 mm wider than the opening and
    # 11 mm tall each way from the pupil's height (chosen, not published). Outer edge: an ellipsoid
    # about the eye opening reaching about 2 cm beyond the lateral canthus along the skin (the
    # lateral-canthal sites lie 1–1.5 cm out and 1 cm above and below, Gladstone oculoplastic
    # atlas) and up to the brow.
    centre = 0.5 * (lc + mc)
    half_w = 0.5 * (lc[:, 0] - mc[:, 0])
    lids = -ellipse(x, z, centre[:, 0], pupil[:, 2], half_w + 3.0, 11.0)
    socket_y = interp((x - mc[:, 0]) / (2.0 * half_w), mc[:, 1] - 4.0, lc[:, 1] - 6.0)
    rel = (p - centre) / np.stack([half_w + 24.0, np.full(len(p), 34.0), rim[:, 2] - centre[:, 2]], axis=1)
    outer = (np.linalg.norm(rel, axis=1) - 1.0) * 20.0
    out.append(("orbicularis_oculi", inside_all(
        lids, outer, below(z, brow_z - 1.0), above(x, 6.0), facing(n, (0.7, 1.0, 0.0), 0.2),
        # not the hidden eye socket: in front of the line from 4 mm behind the medial canthus to 6 mm
        # behind the lateral one (chosen)
        inside_any(above(x, lc[:, 0] - 2.0), above(y, socket_y)),
    )))  # fmt: skip

    # occipitalis: two bellies on the back of the skull above the superior nuchal line (Gray's
    # Anatomy: arising from its lateral two-thirds and the mastoid, into the galea); the line drawn
    # from the inion to 25 mm above the mastoid landmark (chosen, not published); about 6 cm tall ([c]
    # PREEMPT: sites primarily above the occipital ridge); drawn from 6 mm off the midline (chosen, not
    # published: the bellies' medial edges vary, and PREEMPT's medial occipital sites lie inside).
    # Each belly seen from behind: a box with rounded corners over the line (chosen, not published),
    # behind the ear-to-ear line.
    snl = interp(x / mas[:, 0], ini[2], mas[:, 2] + 25.0)
    x0, x1 = 6.0, mas[:, 0] - 2.0
    belly = rounded_box(x, z - snl, 0.5 * (x0 + x1), 31.5, 0.5 * (x1 - x0), 28.5, 4.0)
    out.append(
        ("occipitalis", inside_all(belly, below(y, 0.5 * (ini[1] + tr[:, 1])), facing(n, (0.0, -1.0, 0.0), 0.3)))
    )

    # upper trapezius: from the external occipital protuberance and the medial third of the superior
    # nuchal line and the nuchal ligament, down and out over the top of the shoulder to the lateral
    # clavicle and the acromion (Gray's Anatomy; Blumenfeld 2017: necklace line to the AC joint).
    # Neck part, seen from behind: its anterior border from a third of the way inion→mastoid on the
    # nuchal line down to the necklace; seen from the side: behind the line from 30 mm behind the
    # mastoid to 12 mm in front of the necklace (the posterior triangle's back edge; chosen, not
    # published), down to C7 (the descending part; below it the transverse part begins). Shoulder
    # part: below.
    f = (snl - z) / np.maximum(snl - neck[:, 2], 1.0)
    border_x = interp(f, mas[:, 0] / 3.0, neck[:, 0])
    ft = (mas[:, 2] - 10.0 - z) / np.maximum(mas[:, 2] - 10.0 - neck[:, 2], 1.0)
    border_y = interp(ft, mas[:, 1] - 30.0, neck[:, 1] + 12.0)
    up_or_back = inside_any(facing(n, (0.0, 0.0, 1.0), 0.2), facing(n, (0.0, -1.0, 0.0), 0.3))
    neck_part = inside_all(below(x, border_x), below(y, border_y), below(z, snl), above(z, c7[2]))
    # Shoulder part seen from above: narrowing to the acromion, its front edge along the clavicle
    # (from 14 mm in front of the necklace to 8 mm in front of the acromion), 6 mm short of the
    # acromion (sites stay medial to the AC joint), its back edge toward the spine of the scapula
    # (from 16 mm behind the acromion to 35 mm behind the necklace); corners chosen, not published.
    shoulder = inside_all(
        polygon(x, y, [
            (neck[:, 0] - 30.0, neck[:, 1] + 14.0), (acr[:, 0] - 6.0, acr[:, 1] + 8.0),
            (acr[:, 0] - 6.0, acr[:, 1] - 16.0), (neck[:, 0] - 30.0, neck[:, 1] - 35.0),
        ]),
        above(z, c7[2] - 40.0), below(z, neck[:, 2] + 25.0),
    )  # fmt: skip
    out.append(("trapezius", inside_all(inside_any(neck_part, shoulder), up_or_back, above(z, c7[2] - 40.0))))

    # cervical paraspinals (semispinalis/splenius under the trapezius): the back of the neck beside
    # the midline, from just below the skull base (the superior nuchal line) down to 10 mm above C7,
    # 28 mm either side ([d] PREEMPT: upper neck at the base of the skull; width chosen, not published)
    # and behind the ear-to-ear line (the skin under the jaw also faces down and back).
    # Seen from behind: a box with rounded corners over both sides of the midline (chosen, not published).
    top, bottom = snl - 6.0, c7[2] + 10.0
    column = rounded_box(x, z, 0.0, 0.5 * (top + bottom), 28.0, 0.5 * (top - bottom), 4.0)
    out.append(("cervical_paraspinal", inside_all(
        column, below(y, 0.5 * (ini[1] + tr[:, 1])), facing(n, (0.0, -1.0, 0.0), 0.2),
    )))  # fmt: skip
    return out


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
) -> NDArray[np.float64]:
    """Signed distance (mm) of a band laid over the skin along the chord ``a`` → ``b`` (head frame).

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
    return inside_all(
        np.abs(np.sum(rel * m, axis=1)) - half,
        (t_range[0] - t) * length[:, 0],
        (t - t_range[1]) * length[:, 0],
        facing(n, out, 0.15),
        above(np.sum(rel * out, axis=1), -5.0),
    )


def _sided_band(
    p: NDArray[np.float64],
    right: NDArray[np.bool_],
    knots: list[NDArray[np.float64]],
    radii: tuple[float, ...],
    at: tuple[float, ...],
) -> NDArray[np.float64]:
    """Signed distance (mm) of a tapering band over the skin through ``knots`` (per-point arrays
    (n, 3) of each side's landmark-made points, mirrored to the right), drawn on each side from
    that side's own knots (:func:`visualizer.area_shapes.skin_path`, :func:`~visualizer.area_shapes.path_band`)."""
    d = np.full(len(p), np.inf)
    for side in (right, ~right):
        idx = np.flatnonzero(side)
        if len(idx):
            path = skin_path(p[idx], [k[idx[0]] for k in knots])
            d[idx] = path_band(p[idx], path, radii, at)
    return d


def _neck_and_lower_face(
    p: NDArray[np.float64],
    n: NDArray[np.float64],
    right: NDArray[np.bool_],
    sided: Callable[[str], NDArray[np.float64]],
    landmarks: Mapping[str, NDArray[np.float64]],
) -> list[tuple[str, NDArray[np.float64]]]:
    """Areas of the neck and the lower face, in paint order (points and normals mirrored to the right)."""
    x, y, z = p.T
    mas, zyg, neck = sided("mastoid"), sided("zygomatic_arch"), sided("necklace")
    go, mb, oc, ch = sided("gonion"), sided("mandibular_border"), sided("oral_commissure"), sided("clavicular_head")
    notch = np.broadcast_to(np.asarray(landmarks["sternal_notch"], dtype=float), p.shape)
    menton = np.asarray(landmarks["menton"], dtype=float)
    c7 = np.asarray(landmarks["c7"], dtype=float)
    lateral = np.broadcast_to(np.array([1.0, 0.0, 0.0]), p.shape)
    front = np.broadcast_to(np.array([0.25, 1.0, 0.0]), p.shape)
    out: list[tuple[str, NDArray[np.float64]]] = []

    def edge_y(top: NDArray[np.float64], bottom: NDArray[np.float64]) -> NDArray[np.float64]:
        return interp((z - top[:, 2]) / (bottom[:, 2] - top[:, 2]), top[:, 1], bottom[:, 1])

    front_edge = edge_y(mas + _v(0.0, -10.0, 0.0), ch + _v(0.0, -10.0, 0.0))
    # platysma: a thin sheet over the front and sides of the neck, from the jaw's lower border
    # (below the plane through the menton and both gonia) down to the clavicles, in front of the
    # sternocleidomastoid's posterior edge (Gray's Anatomy: from the fascia over the upper chest to
    # the mandible; the plane is left/right symmetric, so the mirrored points can be tested against it),
    # and behind the jaw no higher than the angle (not up to the ear lobe)
    gl, gr = (np.asarray(landmarks[f"{s}_gonion"], dtype=float) for s in ("left", "right"))
    up = np.cross(gr - menton, gl - menton)
    up = up if up[2] > 0 else -up
    jaw_plane = (p - menton) @ (up / np.linalg.norm(up))
    out.append(("platysma", inside_all(
        below(jaw_plane, -2.0), below(z, go[:, 2]), above(z, notch[:, 2] - 10.0), above(y, front_edge),
        facing(n, (0.0, 1.0, 0.0), -0.7), below(x, ch[:, 0] + 40.0),
    )))  # fmt: skip
    # masseter, seen from the side: a quadrilateral from the lower border of the zygomatic arch down to
    # the angle and the lower border of the mandible (Gray's Anatomy: origin the zygomatic arch,
    # insertion the angle and lateral ramus). Posterior border: from 10 mm in front of the tragus (in
    # front of the jaw joint) to the gonion; anterior border: from 28 mm in front of the zygomatic-arch
    # landmark to 30 mm in front of the gonion on the jaw line (chosen, not published: a muscle
    # about 3 cm wide); lower border the jaw line from the gonion to the mandibular border below the
    # mouth corner (nasafordoctors masseter guide: it reaches the lower border; inject about 1 cm
    # above it), on skin facing sideways, outside 12 mm medial of the gonion (not the mouth's inside).
    tr = sided("tragus")
    arch_z = zyg[:, 2] - 6.0
    jaw_slope = (mb[:, 2] - go[:, 2]) / np.maximum(mb[:, 1] - go[:, 1], 1.0)
    front_y = go[:, 1] + 30.0
    out.append(("masseter", inside_all(
        polygon(y, z, [
            (tr[:, 1] + 10.0, arch_z), (go[:, 1], go[:, 2]),
            (front_y, go[:, 2] + jaw_slope * 30.0), (zyg[:, 1] + 28.0, arch_z),
        ]),
        facing(n, (1.0, 0.0, -0.3), 0.3), above(x, go[:, 0] - 12.0),
    )))  # fmt: skip
    # splenius capitis (Gray's Anatomy: from the lower half of the nuchal ligament and the spines of
    # C7 to T3, up and laterally to the mastoid process and the lateral third of the superior nuchal
    # line, deep to the trapezius and, at its insertion, the sternocleidomastoid; between them it
    # floors the apex of the posterior triangle). Seen from behind, on skin facing back or sideways
    # behind the mastoid:
    # * medial border: from beside the midline at C3 (40 % of the way from the inion down to C7,
    #   chosen, not published) up and out to the superior nuchal line 60 % of the way from the midline
    #   to the mastoid (the start of its lateral third, chosen to round it; the line drawn as the
    #   occipitalis rule draws it);
    # * upper border: from there down and out over the lateral third of the line to the mastoid
    #   process (8 mm below the mastoid landmark and 6 mm beyond it, chosen);
    # * lateral border: from the mastoid down and in to 24 mm from the midline at C7 (the muscle
    #   converges on its lowest origins, chosen, not published), under the sternocleidomastoid;
    # * drawn down to C7 (its T1–T3 origins lie under the trapezius and rhomboids).
    ini = np.asarray(landmarks["inion"], dtype=float)
    mx = mas[:, 0]
    snl_at = interp(0.6, ini[2], mas[:, 2] + 25.0)
    c3 = ini[2] + 0.4 * (c7[2] - ini[2])
    out.append(("splenius_capitis", inside_all(
        polygon(x, z, [
            (3.0, c7[2]), (24.0, c7[2]), (mx + 6.0, mas[:, 2] - 8.0), (0.6 * mx, snl_at), (3.0, c3),
        ]),
        below(y, mas[:, 1] + 3.0), facing(n, (0.5, -1.0, 0.0), 0.05),
    )))  # fmt: skip

    # levator scapulae (Gray's Anatomy: from the transverse processes of C1–C4 — behind the
    # sternocleidomastoid in the upper neck — down and back to the medial border of the scapula
    # from its superior angle to the spine; the upper part is covered by the sternocleidomastoid,
    # the lower by the trapezius, the middle lies in the posterior triangle). Drawn as a band over
    # the skin along its course: from 18 mm below the mastoid (C1's transverse process lies between
    # the mastoid and the angle of the jaw), through the posterior triangle 55 mm below and 22 mm
    # behind the mastoid, toward the superior angle of the scapula on the back (70 % of the way out
    # to the neck's bend, at C7's depth and 22 mm below it, snapped to the skin: where the
    # trapezius covers it); half-width 7 mm at the top (its slips),
    # 11 mm through the neck, 10 mm at the scapula (all chosen, not published: a strap about 2 cm
    # wide), on skin facing sideways or back.
    scapula_angle = np.stack([0.7 * neck[:, 0], np.full(len(p), c7[1]), np.full(len(p), c7[2] - 22.0)], axis=1)
    out.append(("levator_scapulae", inside_all(
        _sided_band(p, right, [mas + _v(0.0, 5.0, -18.0), mas + _v(0.0, -22.0, -55.0), scapula_angle],
                    (7.0, 11.0, 10.0), (0.0, 0.4, 1.0)),
        # it ends under the trapezius: in front of the shoulder part's back edge (see above), 5 mm inside it
        facing(n, (1.0, -1.0, 0.0), 0.0), above(y, neck[:, 1] - 30.0),
    )))  # fmt: skip

    # scalenes (Gray's Anatomy: anterior and middle scalenes from the transverse processes of C2/C3
    # to C6, down and slightly forward to the first rib behind the clavicle; covered above by the
    # sternocleidomastoid, below it they fill the lower front of the posterior triangle above the
    # clavicle). Drawn as a fan over the skin: from 38 mm below the mastoid (C3–C4, under the
    # sternocleidomastoid's back edge) down to the first rib above the clavicle, 30 % of the way
    # from its medial head to the acromion and 25 mm above it; half-width 7 mm at the top, 15 mm at
    # the rib (all chosen, not published), on skin facing sideways.
    rib = ch + 0.35 * (sided("acromion") - ch) + _v(0.0, -5.0, 25.0)
    out.append(("scalenes", inside_all(
        _sided_band(p, right, [mas + _v(0.0, -4.0, -32.0), rib], (9.0, 18.0), (0.0, 1.0)),
        facing(n, (1.0, 0.0, 0.0), 0.35),
    )))  # fmt: skip

    # sternocleidomastoid: from the mastoid down and forward to the sternal notch (sternal head)
    # and the medial clavicle (clavicular head) (Gray's Anatomy); widths chosen, not published
    sternal = notch + _v(8.0, 0.0, 0.0)
    sternal_side = 0.5 * (lateral + front)
    out.append(("sternocleidomastoid", inside_any(
        _strip(p, n, mas, sternal, sternal_side, (11.0, 6.0), (0.0, 1.02)),
        _strip(p, n, mas, ch, sternal_side, (9.0, 6.0), (0.35, 1.02)),
    )))  # fmt: skip
    # depressor anguli oris: a triangle from the mouth corner down to its wide origin on the
    # mandibular border, lateral to the chin (Gray's Anatomy)
    dao = _strip(p, n, oc + _v(1.0, 0.0, -3.0), mb + _v(4.0, 0.0, 0.0), front, (3.0, 10.0), (0.0, 1.08))
    out.append(("depressor_anguli_oris", dao))
    # mentalis: the chin either side of the midline, from the incisive fossa above the menton to the
    # skin of the chin, below the lower lip (Gray's Anatomy); 11 mm either side (chosen, not published)
    # seen from the front: an ellipse over the chin (chosen, not published)
    top, bottom = oc[:, 2] - 14.0, menton[2] + 5.0
    out.append(("mentalis", inside_all(
        ellipse(x, z, 0.0, 0.5 * (top + bottom), 13.0, 0.5 * (top - bottom) + 2.0),
        facing(n, (0.0, 1.0, 0.0), 0.35), above(y, mb[:, 1]),
    )))  # fmt: skip
    return out
