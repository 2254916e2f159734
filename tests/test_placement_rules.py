"""The aesthetic and PREEMPT sites land where their published rules put them (default head).

Each test measures a distance in the head frame (mm) and compares it with the rule the protocol
file cites; the rule and its source are named in each assertion's comment.
"""

from __future__ import annotations

import numpy as np
import pytest

from visualizer.head import Head
from visualizer.placement import walk_offset
from visualizer.planner import make_plan
from visualizer.protocol import load_protocol


def _sites(head: Head, protocol_id: str) -> dict[str, np.ndarray]:
    """Head-frame positions (mm) of a protocol's planned sites, by site id."""
    plan = make_plan(head, load_protocol(protocol_id))
    return {s.id: head.frame.to_head(np.asarray(s.position, dtype=float)) for s in plan.sites}


def _lm(head: Head, name: str) -> np.ndarray:
    return head.head_landmark(name)


@pytest.mark.parametrize("side", ["left", "right"])
def test_glabellar_corrugator_sites_are_1_cm_above_the_orbital_rim(head: Head, side: str) -> None:
    sites = _sites(head, "glabellar")
    rim_z = _lm(head, f"{side}_orbital_rim")[2]
    for base in ("corrugator_medial", "corrugator_lateral"):
        above = sites[f"{base}_{side}"][2] - rim_z
        # enhance-me training: inject 1 cm above the superior orbital rim (lid ptosis)
        assert above >= 10.0, (base, side, round(above, 1))
        assert above <= 15.0, (base, side, round(above, 1))  # still over the brow, not the forehead


@pytest.mark.parametrize("side", ["left", "right"])
def test_lateral_canthal_sites_follow_the_atlas(head: Head, side: str) -> None:
    s = _sites(head, "lateral-canthal")
    canthus = _lm(head, f"{side}_lateral_canthus")
    middle, upper, lower = s[f"canthal_{side}"], s[f"canthal_upper_{side}"], s[f"canthal_lower_{side}"]
    # middle site on the canthal crease: level with the canthus (a sideways walk must not climb)
    assert abs(middle[2] - canthus[2]) <= 1.5, round(middle[2] - canthus[2], 1)
    assert 13.0 <= np.linalg.norm(middle - canthus) <= 16.0  # 15 mm lateral (chosen)
    # the others about 1 cm above and below the middle one (Gladstone atlas)
    for other, sign in ((upper, 1), (lower, -1)):
        assert 8.0 <= np.linalg.norm(other - middle) <= 12.5, round(float(np.linalg.norm(other - middle)), 1)
        assert sign * (other[2] - middle[2]) >= 8.0
    assert abs(abs(middle[0]) - abs(canthus[0])) > 5  # lateral of the canthus, not in front of the eye


@pytest.mark.parametrize("side", ["left", "right"])
def test_forehead_rows_follow_the_label_method(head: Head, side: str) -> None:
    plan = make_plan(head, load_protocol("forehead"))
    by_id = {s.id: np.asarray(s.position, dtype=float) for s in plan.sites}
    mid, lat, up = by_id["lower_midline"], by_id[f"lower_lateral_{side}"], by_id[f"upper_{side}"]
    # upper row: horizontally midway between the medial and lateral lower sites (label method):
    # equally far over the skin from both
    d_mid, d_lat = head.surface_distance(up, mid), head.surface_distance(up, lat)
    assert abs(d_mid - d_lat) <= 2.0, (round(d_mid, 1), round(d_lat, 1))
    h = head.frame.to_head
    brow_z = _lm(head, "glabella")[2]
    # lower row at least 2 cm above the brow (label); upper row above the lower row
    assert h(mid)[2] - brow_z >= 20.0 and h(lat)[2] - brow_z >= 20.0
    assert h(up)[2] > max(h(mid)[2], h(lat)[2]) + 10.0
    # lateral lower site 0.5–1.5 cm medial to the fusion-line stand-in (the lateral brow's vertical)
    medial = abs(_lm(head, f"{side}_brow_lateral")[0]) - abs(h(lat)[0])
    assert 5.0 <= medial <= 15.0, round(medial, 1)


@pytest.mark.parametrize("side", ["left", "right"])
def test_preempt_trapezius_site_2_is_medial_to_the_ac_joint(head: Head, side: str) -> None:
    s = _sites(head, "preempt")
    acromion = _lm(head, f"{side}_acromion")
    t1, t2 = s[f"trapezius_1_{side}"], s[f"trapezius_2_{side}"]
    # Blumenfeld 2017: stay in the supraclavicular trapezius, medial to the deltoid and the AC joint
    assert abs(t2[0]) < abs(acromion[0]) - 10.0, (round(t2[0], 1), round(acromion[0], 1))
    assert head.surface_distance(head.frame.from_head(t2), head.landmark(f"{side}_acromion")) >= 15.0
    assert abs(t1[0]) < abs(t2[0])  # site 2 is halfway from site 1 toward the acromion


def test_a_sideways_walk_stays_level_and_an_upward_walk_keeps_its_meridian(head: Head) -> None:
    canthus = head.landmark("right_lateral_canthus")
    end = head.frame.to_head(walk_offset(head, canthus, {"lateral": 20}, "right").position)
    assert abs(end[2] - head.head_landmark("right_lateral_canthus")[2]) <= 1.0
    brow = head.landmark("right_brow_medial")
    up = head.frame.to_head(walk_offset(head, brow, {"superior": 40}, "right").position)
    start = head.head_landmark("right_brow_medial")
    # the meridian through the head-frame origin: x/y keeps its ratio (no sideways drift)
    assert abs(np.arctan2(up[0], up[1]) - np.arctan2(start[0], start[1])) < np.radians(1.0)
    assert up[2] - start[2] > 30.0


def test_a_walk_folded_by_the_ear_is_walked_again_up_first_then_back(head: Head) -> None:
    """A diagonal walk whose plane crosses the ear would follow the ear's folds: it is redone in legs."""
    from visualizer.placement import _walk, offset_vector

    arch = head.landmark("left_zygomatic_arch")
    offsets = {"superior": 40, "posterior": 40}
    distance = float(np.linalg.norm(offset_vector(offsets, "left")))
    # the single in-plane walk climbs around the ear and ends far short of where it headed
    single = _walk(head, arch, offset_vector(offsets, "left"))
    assert np.linalg.norm(single - arch) < 0.7 * distance
    end = head.frame.to_head(walk_offset(head, arch, offsets, "left").position)
    start = head.head_landmark("left_zygomatic_arch")
    # up 40 (on the temple, above the ear), then back 40: on the scalp, where a tape would put it
    assert end[2] - start[2] > 30.0 and start[1] - end[1] > 30.0, np.round(end - start, 1)
    assert np.linalg.norm(end - start) > 0.85 * distance
