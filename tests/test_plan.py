"""Plans on the default head: counts, doses, symmetry, surface, anatomy, follow-the-pain, safety."""

from __future__ import annotations

import json

import numpy as np
import pytest

from visualizer.errors import PainError
from visualizer.head import Head
from visualizer.pain import PainOrigin
from visualizer.plan import Plan
from visualizer.planner import make_plan, recheck
from visualizer.protocol import load_protocol

PUBLISHED = {
    # protocol: (sites, units, units per site, {muscle: sites})
    "preempt": (31, 155, 5, {
        "procerus": 1, "corrugator": 2, "frontalis": 4, "temporalis": 8,
        "occipitalis": 6, "cervical_paraspinal": 4, "trapezius": 6,
    }),
    "preempt-ftp": (31, 155, 5, None),
    "glabellar": (5, 20, 4, {"procerus": 1, "corrugator": 4}),
    "lateral-canthal": (6, 24, 4, {"orbicularis_oculi": 6}),
    "forehead": (5, 20, 4, {"frontalis": 5}),
}  # fmt: skip


def codes(plan: Plan, severity: str) -> set[str]:
    return {f.code for f in plan.findings if f.severity == severity}


def plan_for(head: Head, pid: str, *regions: str, point=None, ftp: bool = True) -> Plan:
    return make_plan(head, load_protocol(pid), PainOrigin.parse(regions, point), follow_the_pain=ftp)


def hf(head: Head, p) -> np.ndarray:
    return head.frame.to_head(np.asarray(p, dtype=float))


def lm(head: Head, name: str) -> np.ndarray:
    return head.head_landmark(name)


@pytest.mark.parametrize("pid", sorted(PUBLISHED))
def test_counts_and_units_match_published_table(head: Head, pid: str) -> None:
    sites, units, per_site, per_muscle = PUBLISHED[pid]
    plan = plan_for(head, pid)
    assert plan.total_sites == sites
    assert plan.total_units == units
    assert all(s.units == per_site for s in plan.sites)
    # PREEMPT: 5 U in 0.1 mL; aesthetic: 4 U in 0.1 mL
    assert all(s.volume_ml == pytest.approx(0.1) for s in plan.sites)
    assert plan.total_volume_ml == pytest.approx(sites * 0.1)
    if per_muscle:
        assert {m: t.sites for m, t in plan.per_muscle.items()} == per_muscle
    assert [s.order for s in plan.sites] == list(range(1, sites + 1))
    assert not plan.errors


@pytest.mark.parametrize("pid", sorted(PUBLISHED))
def test_every_site_on_the_surface_with_outward_normal(head: Head, pid: str) -> None:
    plan = plan_for(head, pid, "temporal", "occipital", "shoulder")
    pos = np.array([s.position for s in plan.sites])
    assert head.surface.distance_to_surface(pos).max() < 0.5
    nrm = np.array([s.normal for s in plan.sites])
    assert np.allclose(np.linalg.norm(nrm, axis=1), 1, atol=1e-3)
    # outward: moving along the normal leaves the head (the point 5 mm out is 5 mm from the skin)
    assert np.all(head.surface.distance_to_surface(pos + 5 * nrm) > 4.0)


@pytest.mark.parametrize("pid", sorted(PUBLISHED))
def test_bilateral_sites_mirror_across_midsagittal_plane(head: Head, pid: str) -> None:
    plan = plan_for(head, pid)
    by_id = {s.id: s for s in plan.sites}
    pairs = [(i, i[: -len("_left")] + "_right") for i in by_id if i.endswith("_left")]
    assert pairs or pid == "forehead" or all(s.side == "midline" for s in plan.sites)
    for left_id, right_id in pairs:
        left, right = hf(head, by_id[left_id].position), hf(head, by_id[right_id].position)
        assert left[0] < 0 < right[0]
        assert np.linalg.norm(left * [-1, 1, 1] - right) < 1.0, (left_id, left, right)
    for s in plan.sites:
        if s.side == "midline":
            assert abs(hf(head, s.position)[0]) < 1.0


def test_anatomical_sanity_preempt(head: Head) -> None:
    plan = plan_for(head, "preempt")
    for s in plan.sites:
        p = hf(head, s.position)
        side = s.side
        ax = abs(p[0])
        if s.muscle == "procerus":
            assert abs(p[0]) < 1 and lm(head, "nasion")[2] <= p[2] <= lm(head, "glabella")[2] + 10
        elif s.muscle == "corrugator":
            assert p[2] > lm(head, f"{side}_orbital_rim")[2], s.id  # above the orbital rim
            assert ax < abs(lm(head, f"{side}_pupil")[0]), s.id  # medial to the mid-pupillary line
        elif s.muscle == "frontalis":
            assert p[2] >= lm(head, f"{side}_orbital_rim")[2] + 10, s.id
            assert ax <= abs(lm(head, f"{side}_brow_lateral")[0]), s.id
        elif s.muscle == "temporalis":
            assert p[2] >= lm(head, f"{side}_zygomatic_arch")[2] + 45, s.id
            assert ax > abs(lm(head, f"{side}_lateral_canthus")[0]), s.id
            assert lm(head, f"{side}_mastoid")[1] < p[1] < lm(head, f"{side}_lateral_canthus")[1], s.id
        elif s.muscle == "occipitalis":
            assert p[2] > lm(head, "inion")[2], s.id  # above the inion (occipital ridge)
            assert p[1] < lm(head, f"{side}_mastoid")[1], s.id  # behind the ear
        elif s.muscle == "cervical_paraspinal":
            assert lm(head, "c7")[2] < p[2] < lm(head, "inion")[2], s.id  # below the inion, above C7
            assert 5 < ax < 35, s.id  # beside the midline
            assert p[1] < 0, s.id  # back of the neck
        elif s.muscle == "trapezius":
            assert abs(lm(head, f"{side}_necklace")[0]) < ax < abs(lm(head, f"{side}_acromion")[0]), s.id
        # and each site lies in the area the muscle map gives that muscle
        assert head.muscle_at(s.position) == s.muscle, s.id


def test_trapezius_follows_the_published_halving_rule(head: Head) -> None:
    plan = plan_for(head, "preempt")
    for side in ("left", "right"):
        neck, acr = lm(head, f"{side}_necklace"), lm(head, f"{side}_acromion")
        xs = {k: abs(hf(head, plan.site(f"trapezius_{k}_{side}").position)[0]) for k in (1, 2, 3)}
        span = abs(acr[0]) - abs(neck[0])
        # site 1 halfway, site 2 three quarters (toward the acromion), site 3 one quarter
        for k, frac in ((1, 0.5), (2, 0.75), (3, 0.25)):
            assert xs[k] - abs(neck[0]) == pytest.approx(frac * span, abs=0.06 * span)


def test_aesthetic_sites_respect_label_rules(head: Head) -> None:
    lc = plan_for(head, "lateral-canthal")
    for s in lc.sites:
        d = np.linalg.norm(np.asarray(s.position) - head.landmarks[f"{s.side}_lateral_canthus"])
        assert 5 < d < 25, s.id  # crow's feet: around the outer canthus, lateral to the orbital rim
        assert abs(hf(head, s.position)[0]) > abs(lm(head, f"{s.side}_lateral_canthus")[0])
    fh = plan_for(head, "forehead")
    for s in fh.sites:  # forehead lines: at least 2 cm above the brow
        side = s.side if s.side != "midline" else "right"
        assert hf(head, s.position)[2] >= lm(head, f"{side}_brow_medial")[2] + 20, s.id
    gl = plan_for(head, "glabellar")
    assert not gl.warnings, gl.warnings


def test_plan_is_deterministic(head: Head) -> None:
    a = plan_for(head, "preempt-ftp", "left-temporal", "occipital")
    b = plan_for(head, "preempt-ftp", "left-temporal", "occipital")
    assert a.to_json() == b.to_json()


def test_ftp_one_sided_pain_gives_asymmetric_plan(head: Head) -> None:
    plan = plan_for(head, "preempt-ftp", "left-temporal")
    ftp = plan.ftp_sites
    assert len(ftp) == 2 and {s.muscle for s in ftp} == {"temporalis"}  # temporalis FTP cap: 10 U
    assert {s.side for s in ftp} == {"left"}
    assert plan.total_units == 165 and plan.total_sites == 33
    left = sum(1 for s in plan.sites if s.side == "left")
    right = sum(1 for s in plan.sites if s.side == "right")
    assert left == right + 2
    assert all(hf(head, s.position)[0] < 0 for s in ftp)
    assert not plan.warnings


def test_ftp_bilateral_pain_is_balanced(head: Head) -> None:
    plan = plan_for(head, "preempt-ftp", "shoulder")
    ftp = plan.ftp_sites
    assert [s.muscle for s in ftp] == ["trapezius"] * 4  # trapezius FTP cap: 20 U
    assert sorted(s.side for s in ftp) == ["left", "left", "right", "right"]


def test_ftp_caps_and_spacing_hold_for_widespread_pain(head: Head) -> None:
    protocol = load_protocol("preempt-ftp")
    plan = plan_for(head, "preempt-ftp", "temporal", "occipital", "shoulder", "frontal")
    ftp = plan.ftp_sites
    assert len(ftp) == 8 and plan.total_units == 195 and plan.total_sites == 39
    per = {m: sum(s.units for s in ftp if s.muscle == m) for m in {s.muscle for s in ftp}}
    for m, u in per.items():
        assert u <= protocol.follow_the_pain.muscles[m]
    assert "cervical_paraspinal" not in per
    pos = np.array([s.position for s in plan.sites])
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2) + np.eye(len(pos)) * 1e9
    ftp_idx = [i for i, s in enumerate(plan.sites) if s.follow_the_pain]
    assert d[ftp_idx].min() >= protocol.follow_the_pain.min_spacing_mm - 1e-6
    assert not plan.errors
    # frontal pain cannot be served in PREEMPT and says so
    frontal = [f for f in plan.findings if f.code == "ftp_region_not_eligible"]
    assert len(frontal) == 1 and frontal[0].severity == "info" and "forehead" in frontal[0].message
    assert not plan.safety_findings


def test_ftp_sites_are_nearest_the_origin(head: Head) -> None:
    plan = plan_for(head, "preempt-ftp", "right-occipital")
    anchor = hf(head, plan.site("occipitalis_1_right").position)
    for s in plan.ftp_sites:
        assert s.muscle == "occipitalis" and s.side == "right"
        assert np.linalg.norm(hf(head, s.position) - anchor) < 60


def test_neck_only_pain_warns_and_adds_nothing(head: Head) -> None:
    plan = plan_for(head, "preempt-ftp", "neck")
    assert plan.total_sites == 31 and not plan.ftp_sites
    assert codes(plan, "info") >= {"ftp_region_not_eligible"} and not plan.safety_findings


def test_pain_point_on_one_side(head: Head) -> None:
    point = head.landmarks["left_zygomatic_arch"] + head.frame.dir_from_head([0, -5, 60])
    plan = plan_for(head, "preempt-ftp", point=point.tolist())
    assert plan.ftp_sites and all(s.side == "left" and s.muscle == "temporalis" for s in plan.ftp_sites)
    far = plan_for(head, "preempt-ftp", point=head.landmarks["nasion"].tolist())
    assert not far.ftp_sites and "ftp_point_out_of_reach" in codes(far, "info")
    # in plain words, no raw coordinates
    msg = next(f.message for f in far.findings if f.code == "ftp_point_out_of_reach")
    assert "nose" in msg and "(" not in msg.split(":")[0], msg


def test_ftp_toggle_and_protocol_without_ftp(head: Head) -> None:
    off = plan_for(head, "preempt-ftp", "left-temporal", ftp=False)
    assert off.total_sites == 31 and "ftp_switched_off" in codes(off, "info")
    fixed = plan_for(head, "preempt", "left-temporal")
    assert fixed.total_sites == 31 and codes(fixed, "info") == {"no_ftp_in_protocol"}
    assert not fixed.safety_findings  # information, not a safety warning


def test_bad_pain_regions_are_named() -> None:
    with pytest.raises(PainError, match="'left-toes'"):
        PainOrigin.parse(["left-toes"])
    with pytest.raises(PainError, match="three finite numbers"):
        PainOrigin.parse([], [1.0, 2.0])


def test_edited_plan_over_caps_gives_errors(head: Head) -> None:
    protocol = load_protocol("preempt-ftp")
    plan = plan_for(head, "preempt-ftp", "temporal", "occipital", "shoulder")
    data = plan.to_dict()
    data["sites"][0]["units"] = 60  # over 50 U per site and over the 195 U session cap
    edited = recheck(head, protocol, Plan.from_dict(json.loads(json.dumps(data))))
    errs = {f.code: f for f in edited.findings if f.severity == "error"}
    assert set(errs) >= {"site_units_over_max", "total_over_protocol_max"}
    assert errs["site_units_over_max"].site_ids == (data["sites"][0]["id"],)
    assert any("exceeds 50 U per site" in e for e in edited.errors)  # the CLI's messages remain
    # moving two sites together is a spacing warning; a low temporalis site a tendon warning
    data = plan.to_dict()
    data["sites"][1]["position"] = data["sites"][2]["position"]
    t = next(s for s in data["sites"] if s["id"] == "temporalis_1_right")
    t["position"] = head.landmarks["right_zygomatic_arch"].tolist()
    edited = recheck(head, protocol, Plan.from_dict(data))
    close = [f for f in edited.findings if f.code == "sites_too_close"]
    assert [f.site_ids for f in close] == [(data["sites"][1]["id"], data["sites"][2]["id"])]
    assert close[0].severity == "warning" and "0.0 mm apart" in close[0].message
    arch = [f for f in edited.findings if f.code == "temporalis_arch_margin"]
    assert [f.site_ids for f in arch] == [("temporalis_1_right",)]
    order = next(s["order"] for s in data["sites"] if s["id"] == "temporalis_1_right")
    assert arch[0].message.startswith(f"Site {order} (") and "temporalis_1_right" not in arch[0].message


def test_orbit_margin_warning(head: Head) -> None:
    protocol = load_protocol("preempt")
    data = plan_for(head, "preempt").to_dict()
    f = next(s for s in data["sites"] if s["id"] == "frontalis_2_right")
    f["position"] = head.landmarks["right_orbital_rim"].tolist()
    edited = recheck(head, protocol, Plan.from_dict(data))
    orbit = [f for f in edited.findings if f.code == "orbit_margin"]
    assert [f.site_ids for f in orbit] == [("frontalis_2_right",)] and orbit[0].severity == "warning"
    assert "orbital rim" in orbit[0].message


def test_json_and_csv_forms(head: Head) -> None:
    plan = plan_for(head, "preempt-ftp", "right-shoulder")
    d = json.loads(plan.to_json())
    for key in ("protocol", "total_units", "total_volume_ml", "landmarks", "sites", "warnings"):
        assert key in d
    s0 = d["sites"][0]
    for key in ("id", "muscle", "side", "units", "volume_ml", "position", "normal", "follow_the_pain", "order"):
        assert key in s0
    assert d["protocol"] == "preempt-ftp" and d["total_units"] == 175
    assert set(d["landmarks"]) >= {"nasion", "inion", "left_tragus", "right_acromion"}
    rows = plan.to_csv().strip().splitlines()
    assert len(rows) == 1 + plan.total_sites + 1 and rows[-1].startswith(",TOTAL,")
    assert Plan.from_dict(d).to_json() == plan.to_json()


def test_region_centres_lie_in_their_regions(head: Head) -> None:
    from visualizer.pain import region_centres

    c = {k: hf(head, v) for k, v in region_centres(head).items()}
    for side, sign in (("left", -1), ("right", 1)):
        assert c[("neck", side)][1] < lm(head, "inion")[1] + 20  # back of the neck, not under the chin
        assert c[("occipital", side)][1] < 0 and c[("occipital", side)][2] > lm(head, "inion")[2]
        assert c[("frontal", side)][1] > 60 and sign * c[("frontal", side)][0] > 0
        assert (
            abs(c[("temporal", side)][0]) > 60
            and abs(c[("shoulder", side)][0]) > abs(lm(head, f"{side}_necklace")[0]) - 20
        )


def test_moving_a_landmark_replans_that_side(head: Head) -> None:
    new = head.landmarks["left_zygomatic_arch"] + head.frame.dir_from_head([0, 0, 10])
    moved = head.with_landmarks({"left_zygomatic_arch": new}, note="adjusted")
    assert head.landmarks["left_zygomatic_arch"] is not moved.landmarks["left_zygomatic_arch"]
    assert moved.surface is head.surface and "adjusted" in moved.notes
    a, b = plan_for(head, "preempt"), make_plan(moved, load_protocol("preempt"))
    for s in a.sites:
        shift = np.linalg.norm(np.subtract(s.position, b.site(s.id).position))
        if s.muscle == "temporalis" and s.side == "left":
            assert shift > 5, s.id
        else:
            assert shift < 1e-6, s.id


def test_findings_round_trip_and_ftp_added_names_its_sites(head: Head) -> None:
    plan = plan_for(head, "preempt-ftp", "left-temporal", "right-shoulder")
    added = [f for f in plan.findings if f.code == "ftp_added"]
    assert len(added) == 1 and added[0].severity == "info"
    assert set(added[0].site_ids) == {s.id for s in plan.ftp_sites}
    assert "left temple" in added[0].message and "right shoulder" in added[0].message
    back = Plan.from_dict(json.loads(plan.to_json()))
    assert back.findings == plan.findings
    # an older plan file with message lists only keeps its messages
    d = plan.to_dict()
    del d["findings"]
    d["warnings"] = ["old warning"]
    old = Plan.from_dict(d)
    assert old.warnings == ("old warning",) and old.safety_findings[0].code == "saved_warning"


def test_plan_json_has_no_absolute_paths(head: Head) -> None:
    d = plan_for(head, "preempt").to_dict()
    assert d["mesh"] == "" and d["landmarks_file"] == "" and d["protocol_file"] == ""  # bundled
    assert "/work" not in plan_for(head, "preempt").to_json() and str(head.mesh_path) not in json.dumps(d)
    foreign = Plan.from_dict(
        {**d, "mesh": "/srv/secret/heads/a.vtp", "landmarks_file": "/srv/x/l.json", "protocol_file": "/srv/p/my.yaml"}
    )
    pub = foreign.public().to_dict()
    assert (pub["mesh"], pub["landmarks_file"], pub["protocol_file"]) == ("a.vtp", "l.json", "my.yaml")


def test_point_words_are_plain(head: Head) -> None:
    from visualizer.words import landmark_title, point_words

    temple = head.landmarks["left_zygomatic_arch"] + head.frame.dir_from_head([0, -5, 60])
    assert point_words(head, head.snap(temple)[0]) == "a point on the left temple"
    back = head.frame.from_head([40, -95, 40])
    assert point_words(head, head.snap(back)[0]) == "a point on the right back of the head"
    assert landmark_title("left_orbital_rim") == "left orbital rim (the top of the bony eye socket above the pupil)"


def test_plan_json_has_a_schema_old_plans_read_and_newer_ones_are_refused(head: Head, tmp_path) -> None:
    from visualizer.errors import PlanFileError
    from visualizer.plan import PLAN_SCHEMA
    from visualizer.plan_file import read_plan_file

    plan = make_plan(head, load_protocol("preempt-ftp"), PainOrigin.parse(["left-temporal"]))
    data = plan.to_dict()
    assert next(iter(data)) == "schema" and data["schema"] == PLAN_SCHEMA
    assert data["short_name"] == plan.short_name and len(data["heat_anchors"]) == 1
    back = Plan.from_dict(json.loads(plan.to_json()))
    assert back.heat_anchors == plan.heat_anchors and back.title == plan.title
    # a plan written before the schema key: still reads (short name from the protocol name, no heat anchors)
    old = {k: v for k, v in data.items() if k not in ("schema", "short_name", "heat_anchors")}
    was = Plan.from_dict(old)
    assert was.short_name == plan.short_name and was.heat_anchors == () and was.sites == plan.sites
    f = tmp_path / "old.json"
    f.write_text(json.dumps(old))
    assert read_plan_file(f)[0].sites == plan.sites
    # a newer program's plan: one clear message, not a list of unknown keys
    newer = {**data, "schema": PLAN_SCHEMA + 1, "something_new": 1}
    with pytest.raises(ValueError, match=rf"schema {PLAN_SCHEMA + 1}: this plan was written by a newer InjectViz"):
        Plan.from_dict(newer)
    f.write_text(json.dumps(newer))
    with pytest.raises(PlanFileError, match=rf"old.json: schema {PLAN_SCHEMA + 1}: .*update InjectViz to open it"):
        read_plan_file(f)
    f.write_text(json.dumps({**data, "schema": "2"}))
    with pytest.raises(PlanFileError, match="schema: a plan's schema is a whole number from 1"):
        read_plan_file(f)


def test_pain_regions_and_plain_words_come_from_the_registry(head: Head) -> None:
    from visualizer import landmarks, muscles, pain, words

    assert pain.REGIONS == muscles.PAIN_REGIONS
    for r in pain.REGIONS:
        assert set(pain.REGION_MUSCLES[r]) <= set(muscles.muscles_in_region(r))
    assert pain.REGION_MUSCLES["neck"] == ("cervical_paraspinal",)  # headache neck pain: the back of the neck
    assert words.SITE_WORDS == {m.name: m.plain for m in muscles.MUSCLE_TABLE}
    assert set(words.LANDMARK_GLOSS) == {m.name for m in landmarks.LANDMARK_TABLE}
    # every muscle area reads as words, the new lower-face ones too
    chin = make_plan(head, load_protocol("lower-face")).site("mentalis_left").position
    assert words.point_words(head, chin) == "a point on the chin"
    assert muscles.area_words("depressor_anguli_oris", "left") == "a point below the left corner of the mouth"
