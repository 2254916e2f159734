"""The muscle areas (visualizer/muscle_map.py, visualizer/area_shapes.py) on the bundled head:
each where its anatomy puts it, mirror-symmetric, soft-edged and smooth, and every protocol's
sites inside their own muscle (also on body types)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from visualizer.area_shapes import FALLOFF_MM
from visualizer.body_type import BodyType
from visualizer.head import Head, body_head, load_head
from visualizer.muscle_map import MUSCLE_CODE, MUSCLES, PAINT_ORDER, hard_weights, muscle_areas, visible_weights
from visualizer.placement import place_arc, place_landmark
from visualizer.protocol import known_protocol_ids, load_protocol


@pytest.fixture(scope="module")
def head() -> Head:
    return load_head()


def _edges(head: Head) -> NDArray[np.int64]:
    f = np.asarray(head.mesh.regular_faces)
    return np.unique(np.sort(np.vstack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0)


def test_the_bundled_map_is_the_rules_map(head: Head) -> None:
    """head.vtp carries what the rules draw today (``python meshes/build_head.py --muscles-only``)."""
    areas = muscle_areas(np.asarray(head.mesh.points), np.asarray(head.mesh.point_data["Normals"]), head.landmarks)
    assert np.array_equal(areas.codes, head.muscle_codes)
    assert np.abs(areas.weights - head.muscle_weights).max() <= 0.5 / 255 + 1e-6
    assert set(PAINT_ORDER) == set(MUSCLES[1:])


def test_weights_in_unit_range_and_the_label_is_the_last_area_a_point_lies_in(head: Head) -> None:
    w, codes = head.muscle_weights, head.muscle_codes
    assert w.shape == (head.mesh.n_points, len(MUSCLES) - 1)
    assert w.min() >= 0.0 and w.max() <= 1.0
    inside = w >= 0.5
    assert not inside[codes == 0].any()  # "none": inside no area
    labelled = np.flatnonzero(codes > 0)
    assert inside[labelled, codes[labelled] - 1].all()
    rank = np.array([PAINT_ORDER.index(m) for m in MUSCLES[1:]])
    for i in labelled[::50]:  # no area painted later also holds the point
        later = rank > rank[codes[i] - 1]
        assert not inside[i, later].any(), (i, MUSCLES[codes[i]])
    # drawn together, the visible weights of a point sum to at most 1
    assert visible_weights(w).sum(axis=1).max() <= 1.0 + 1e-6


def test_soft_edges_are_smooth(head: Head) -> None:
    """Across every mesh edge a weight changes by at most about the smoothstep's slope (1.5 / (2 ×
    falloff) per mm, with 40 % slack for the distance estimates) — except across a fold of the skin
    (ear, eyelids: the two ends' normals more than 15° apart; the corners of the eye), where the area's
    border lies in the fold."""
    e = _edges(head)
    p, n, w = np.asarray(head.mesh.points), np.asarray(head.mesh.point_data["Normals"]), head.muscle_weights
    length = np.linalg.norm(p[e[:, 0]] - p[e[:, 1]], axis=1)
    fold = np.sum(n[e[:, 0]] * n[e[:, 1]], axis=1) < np.cos(np.radians(15.0))
    corners = np.array(
        [head.landmarks[f"{s}_{c}"] for s in ("left", "right") for c in ("lateral_canthus", "medial_canthus")]
    )
    fold |= cKDTree(corners).query(p[e[:, 0]])[0] < 3.0  # the corners of the eye fold the skin too
    bound = 1.4 * 1.5 / (2.0 * FALLOFF_MM)
    for k, name in enumerate(MUSCLES[1:]):
        slope = np.abs(w[e[:, 0], k] - w[e[:, 1], k]) / length
        steep = slope > bound
        assert not (steep & ~fold).any(), (name, p[e[steep & ~fold][0, 0]])
        soft = ((w[e[:, 0], k] > 0) & (w[e[:, 0], k] < 1)).sum()
        assert soft > 2 * ((w[e[:, 0], k] >= 0.5) != (w[e[:, 1], k] >= 0.5)).sum(), name  # a band, not a line


def test_areas_are_mirror_symmetric(head: Head) -> None:
    """The bundled head is left/right symmetric: each area and weight matches its mirror image."""
    p = np.asarray(head.mesh.points)
    _, mirror = cKDTree(p).query(p * np.array([-1.0, 1.0, 1.0]))
    codes, w = head.muscle_codes, head.muscle_weights
    for code, name in enumerate(MUSCLES):
        if code == 0:
            continue
        area = codes == code
        assert (codes[mirror[area]] == code).mean() > 0.98, name
        assert np.quantile(np.abs(w[:, code - 1] - w[mirror, code - 1]), 0.99) < 0.05, name


def _region_checks(head: Head) -> dict[str, object]:
    def lm(name: str) -> NDArray[np.float64]:
        return head.head_landmark(name)

    rx = {
        n: abs(lm(f"right_{n}")[0])
        for n in ("temporal_line", "pupil", "lateral_canthus", "acromion", "oral_commissure")
    }
    return {
        "frontalis": lambda x, y, z: (y > 60) & (z > lm("glabella")[2]) & (z < lm("trichion")[2] + 1) & (x < rx["temporal_line"] + 2),
        "corrugator": lambda x, y, z: (y > 80) & (z > lm("nasion")[2]) & (z < lm("glabella")[2] + 25) & (x < rx["pupil"] + 15),
        "procerus": lambda x, y, z: (x < 12) & (y > 80) & (z > lm("nasion")[2] - 20) & (z < lm("glabella")[2] + 15),
        "orbicularis_oculi": lambda x, y, z: (y > 40) & (x > 5) & (x < rx["lateral_canthus"] + 20) & (z < lm("glabella")[2] + 5),
        "temporalis": lambda x, y, z: (x > 50) & (y > lm("right_tragus")[1] - 45) & (y < lm("right_lateral_canthus")[1]) & (z > lm("right_zygomatic_arch")[2]),
        "occipitalis": lambda x, y, z: (y < lm("inion")[1] + 40) & (z > lm("inion")[2] - 15) & (z < lm("inion")[2] + 70),
        "cervical_paraspinal": lambda x, y, z: (y < -60) & (x < 30) & (z > lm("c7")[2]) & (z < lm("inion")[2]),
        "trapezius": lambda x, y, z: (y < lm("right_necklace")[1] + 40) & (z < lm("inion")[2] + 2) & (x < rx["acromion"]),
        "sternocleidomastoid": lambda x, y, z: (z > lm("sternal_notch")[2] - 8) & (z < lm("right_mastoid")[2] + 5) & (x > 3),
        # up to the lateral superior nuchal line, which the rules draw 25 mm above the mastoid
        "splenius_capitis": lambda x, y, z: (y < lm("right_mastoid")[1] + 5) & (z > lm("c7")[2] - 3) & (z < lm("right_mastoid")[2] + 26),
        "levator_scapulae": lambda x, y, z: (y < lm("right_mastoid")[1]) & (z > lm("right_necklace")[2] - 10) & (z < lm("right_mastoid")[2]),
        # down to the first rib: above the clavicle (its head to the acromion)
        "scalenes": lambda x, y, z: (z > np.interp(x, [lm("right_clavicular_head")[0], rx["acromion"]], [lm("right_clavicular_head")[2], lm("right_acromion")[2]])) & (z < lm("right_mastoid")[2] - 20) & (y < lm("right_mastoid")[1] + 15),
        "masseter": lambda x, y, z: (x > 28) & (z > lm("right_mandibular_border")[2] - 3) & (z < lm("right_zygomatic_arch")[2]) & (y > lm("right_tragus")[1]) & (y < lm("right_oral_commissure")[1]),
        "platysma": lambda x, y, z: (z < lm("right_oral_commissure")[2]) & (y > lm("c7")[1]),
        "depressor_anguli_oris": lambda x, y, z: (z > lm("right_mandibular_border")[2] - 6) & (z < lm("right_oral_commissure")[2]) & (x > 10) & (x < rx["oral_commissure"] + 20),
        "mentalis": lambda x, y, z: (x < 16) & (z > lm("menton")[2]) & (z < lm("right_oral_commissure")[2]),
    }  # fmt: skip


def test_each_area_lies_where_its_anatomy_is(head: Head) -> None:
    """Every area is non-empty on both sides and lies in its region (head frame, default head)."""
    p = head.frame.to_head(np.asarray(head.mesh.points))
    x, y, z = np.abs(p[:, 0]), p[:, 1], p[:, 2]
    checks = _region_checks(head)
    assert set(checks) == set(MUSCLES[1:])
    for name, rule in checks.items():
        area = head.muscle_codes == MUSCLE_CODE[name]
        assert (area & (p[:, 0] > 0)).sum() > 40 and (area & (p[:, 0] < 0)).sum() > 40, name
        ok = rule(x[area], y[area], z[area])  # type: ignore[operator]
        assert ok.mean() > 0.99, (name, p[area][~ok][:3])


def test_anatomy_of_the_shapes(head: Head) -> None:
    """A few shape facts a clinician would check at a glance."""
    p = head.frame.to_head(np.asarray(head.mesh.points))
    codes = head.muscle_codes

    def pts(name: str) -> NDArray[np.float64]:
        return p[(codes == MUSCLE_CODE[name]) & (p[:, 0] > 0)]

    # orbicularis oculi is a ring: the closed eyelids at the pupil are not in it, all around them is
    pupil = head.head_landmark("right_pupil")
    ring = pts("orbicularis_oculi")
    assert np.linalg.norm(ring[:, [0, 2]] - pupil[[0, 2]], axis=1).min() > 6.0
    angles = np.degrees(np.arctan2(ring[:, 2] - pupil[2], ring[:, 0] - pupil[0]))
    assert np.histogram(angles, bins=8, range=(-180, 180))[0].min() > 0
    # the upper trapezius reaches from near the skull down over the shoulder toward the acromion
    trap = pts("trapezius")
    assert trap[:, 2].max() > head.head_landmark("inion")[2] - 30
    assert trap[:, 0].max() > abs(head.head_landmark("right_acromion")[0]) - 15
    # the temporalis fan is taller than 45 mm above the arch (Choi 2016) and wider than tall
    temp = pts("temporalis")
    height = temp[:, 2].max() - head.head_landmark("right_zygomatic_arch")[2]
    assert 70 < height < 120 and np.ptp(temp[:, 1]) > 0.9 * height
    # its front border rises behind the lateral orbital rim, then curves up and back along the
    # temporal line (no straight vertical edge)
    brow = head.head_landmark("right_brow_lateral")[2]

    def front(dz: float) -> float:
        return float(temp[np.abs(temp[:, 2] - (brow + dz)) < 2.5, 1].max())

    assert front(0) < head.head_landmark("right_lateral_canthus")[1] - 5
    assert abs(front(0) - front(-5)) < 4 and front(0) - front(30) > 4 and front(30) - front(60) > 15

    def whole(name: str) -> NDArray[np.float64]:  # the whole area, also where a later one covers it
        return p[(head.muscle_weights[:, MUSCLE_CODE[name] - 1] >= 0.5) & (p[:, 0] > 0)]

    # splenius capitis: from beside the midline low in the neck, widening up and out to the mastoid
    sp, mastoid, c7 = whole("splenius_capitis"), head.head_landmark("right_mastoid"), head.head_landmark("c7")
    low, high = sp[np.abs(sp[:, 2] - c7[2] - 5) < 3], sp[np.abs(sp[:, 2] - mastoid[2]) < 3]
    assert low[:, 0].min() < 8 and np.ptp(low[:, 0]) < 0.7 * np.ptp(high[:, 0])
    assert high[:, 0].max() > mastoid[0] - 5 and sp[:, 2].max() > mastoid[2] + 10  # to the nuchal line
    # levator scapulae runs down and back from below the mastoid toward the shoulder blade
    lev = whole("levator_scapulae")
    upper, lower = lev[lev[:, 2] > mastoid[2] - 40], lev[lev[:, 2] < mastoid[2] - 70]
    assert upper[:, 1].mean() - lower[:, 1].mean() > 25 and lower[:, 1].min() < head.head_landmark("right_necklace")[1]
    # the scalenes reach from the mid-neck down to the first rib, below the neck's bend
    sc = whole("scalenes")
    assert sc[:, 2].max() > mastoid[2] - 30 and sc[:, 2].min() < head.head_landmark("right_necklace")[2] - 10
    # frontalis spans the forehead from one fusion line to the other, up to the hairline
    fr = p[codes == MUSCLE_CODE["frontalis"]]
    assert fr[:, 0].min() < -35 and fr[:, 0].max() > 35
    assert fr[:, 2].max() > head.head_landmark("trichion")[2] - 5


_BODIES = {
    "default": None,
    "heavy-old-man": BodyType(sex=1.0, age=70.0, weight=0.9, muscle=0.8),
    "slight-young-woman": BodyType(sex=0.0, age=20.0, weight=0.1, muscle=0.2),
}


@pytest.mark.parametrize(
    ("pid", "body"),
    [pytest.param(pid, body, id=f"{name}-{pid}") for name, body in _BODIES.items() for pid in known_protocol_ids()],
)
def test_every_protocol_site_lies_in_its_muscle(pid: str, body: BodyType | None) -> None:
    """Placed by its rule, each site of each protocol lands in its own muscle's area (on body types
    too: the map is carried point for point with the skin)."""
    h = load_head() if body is None else body_head(body)
    if body is not None:
        assert np.array_equal(h.muscle_weights, load_head().muscle_weights)
    for e in load_protocol(pid).expanded_sites():
        if e.kind == "landmark":
            placed = place_landmark(h, e.landmark, e.offsets, e.side, needed_by=e.id)
        else:
            placed = place_arc(h, e.arc_from, e.arc_to, e.arc_via, e.fraction, e.offsets, e.side, needed_by=e.id)
        assert h.muscle_at(placed.position) == e.muscle, (pid, e.id)


def test_a_map_without_weights_tints_by_its_codes(head: Head) -> None:
    codes = np.array([0, MUSCLE_CODE["masseter"], MUSCLE_CODE["mentalis"]], dtype=np.int8)
    w = hard_weights(codes)
    assert w.sum(axis=1).tolist() == [0.0, 1.0, 1.0]
    assert w[1, MUSCLE_CODE["masseter"] - 1] == 1.0
    moved = head.with_landmarks({"left_tragus": head.landmarks["left_tragus"]})
    assert np.array_equal(moved.muscle_weights, head.muscle_weights)  # nothing moved: same map
