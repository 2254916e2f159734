"""Dose ranges, one-sided sites, muscle caps, and the head-and-neck templates on the default head."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from visualizer.errors import ProtocolError
from visualizer.head import Head
from visualizer.planner import make_plan
from visualizer.protocol import load_protocol

CD = ["cd-anterocollis", "cd-laterocollis", "cd-retrocollis", "cd-torticollis"]


@pytest.mark.parametrize("protocol_id", CD)
def test_cervical_dystonia_templates_keep_the_label_limits(protocol_id: str) -> None:
    p = load_protocol(protocol_id)
    assert p.muscle_caps == {"sternocleidomastoid": 100}
    sites = p.expanded_sites()
    assert all(e.units_range is not None and e.units_range[1] <= 50 for e in sites)  # <= 50 U per site
    assert p.units_problems({}) == []  # the template's own doses pass
    # the largest dose every range allows still keeps the sternocleidomastoids <= 100 U together
    top = {e.id: e.units_range[1] for e in sites if e.units_range}
    assert not any("sternocleidomastoid" in m for m in p.units_problems(top))


def test_torticollis_is_one_sided_by_the_pattern() -> None:
    sites = {e.id: e for e in load_protocol("cd-torticollis").expanded_sites()}
    # chin to the right: the left sternocleidomastoid and the right splenius capitis (Medscape)
    assert {e.side for e in sites.values() if e.muscle == "sternocleidomastoid"} == {"left"}
    assert {e.side for e in sites.values() if e.muscle == "splenius_capitis"} == {"right"}
    scm = sites["scm_upper"]  # bare landmark names resolve to the site's side; midline ones stay
    assert (scm.arc_from, scm.arc_to, scm.arc_via) == ("left_mastoid", "sternal_notch", "left_clavicular_head")
    assert scm.label.endswith(", left")
    assert sites["splenius_lower"].arc_from == "right_mastoid" and sites["splenius_lower"].arc_to == "right_necklace"


def test_anterocollis_halves_the_sternocleidomastoid_dose() -> None:
    antero = load_protocol("cd-anterocollis").units_per_muscle()["sternocleidomastoid"]
    latero = load_protocol("cd-laterocollis").units_per_muscle()["sternocleidomastoid"]
    assert antero <= latero / 2 + 1e-9 or antero <= 25


def test_chosen_units_are_checked() -> None:
    p = load_protocol("cd-torticollis")
    assert p.units_problems({"scm_upper": 35, "splenius_upper": 50}) == []
    problems = p.units_problems({"scm_upper": 45, "splenius_lower": 5, "nope": 10, "scm_middle": float("nan")})
    assert any("scm_upper: 45 U is outside this site's dose (10–40 U)" in m for m in problems)
    assert any("splenius_lower: 5 U is outside" in m for m in problems)
    assert any("Invalid value for 'site'" in m and "'nope'" in m for m in problems)
    assert any("scm_middle: units must be a positive number" in m for m in problems)
    fixed = load_protocol("glabellar")
    assert fixed.units_problems({"procerus": 6}) == [
        "site procerus: 6 U is outside this site's dose (fixed at 4 U)",
        "total 22 U is more than this protocol's 20 U",
    ]


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def _cd_data() -> dict:
    from visualizer.protocol import PROTOCOLS_DIR

    data = yaml.safe_load((PROTOCOLS_DIR / "cd-torticollis.yaml").read_text())
    data["id"] = "mini-cd"
    return data


def test_muscle_cap_limits_the_chosen_units(tmp_path: Path) -> None:
    data = _cd_data()
    third = copy.deepcopy(data["sites"][1])
    third.update(id="scm_low", units_range={"min": 10, "max": 50})
    data["sites"].append(third)
    data["expected"] = {"sites": 5, "units": 120}
    p = load_protocol(_write(tmp_path, data))
    # 40 + 40 + 40 U in the sternocleidomastoid: more than the label's 100 U
    problems = p.units_problems({"scm_upper": 40, "scm_middle": 40, "scm_low": 40})
    assert problems == ["sternocleidomastoid: 120 U in total is more than its cap 100 U"]


def test_bad_ranges_are_named(tmp_path: Path) -> None:
    data = _cd_data()
    data["sites"][0]["units_range"] = {"min": 30, "max": 10}
    data["sites"][1]["units"] = 45  # outside its 10-40 range
    data["sites"][2]["units_range"] = {"min": 10, "max": 60}  # above 50 U per site
    with pytest.raises(ProtocolError) as err:
        load_protocol(_write(tmp_path, data))
    text = str(err.value)
    assert "sites.0.units_range (site 'scm_upper'): min must not exceed max" in text
    assert "sites.1.units (site 'scm_middle'): must lie in units_range [10, 40] U (got 45)" in text
    assert "sites.2.units_range.max (site 'splenius_upper'): Input should be less than or equal to 50" in text


def test_a_cap_below_the_templates_own_doses_is_named(tmp_path: Path) -> None:
    data = _cd_data()
    data["muscle_caps"] = {"sternocleidomastoid": 30}  # the template's 40 U exceed it
    with pytest.raises(
        ProtocolError, match=r"muscle_caps\.sternocleidomastoid: the sites give 40 U, more than the cap \(got 30\)"
    ):
        load_protocol(_write(tmp_path, data))


def _jaw_line_z(head: Head, side: str, y: float) -> float:
    """Height (head frame) of the jaw's lower border at ``y``, between the gonion and the border below the mouth."""
    g, b = head.head_landmark(f"{side}_gonion"), head.head_landmark(f"{side}_mandibular_border")
    f = np.clip((y - g[1]) / (b[1] - g[1]), 0.0, 1.0)
    return float(g[2] + f * (b[2] - g[2]))


@pytest.mark.parametrize("side", ["left", "right"])
def test_masseter_sites_keep_out_of_the_danger_zones(head: Head, side: str) -> None:
    plan = make_plan(head, load_protocol("masseter"))
    tragus, mouth = head.head_landmark(f"{side}_tragus"), head.head_landmark(f"{side}_oral_commissure")
    for s in plan.sites:
        if s.side != side:
            continue
        p = head.frame.to_head(np.asarray(s.position))
        # below the line from the tragus to the mouth corner (parotid duct, risorius) — nasafordoctors
        f = (p[1] - tragus[1]) / (mouth[1] - tragus[1])
        assert p[2] < tragus[2] + f * (mouth[2] - tragus[2]) - 3.0, s.id
        # about 1 cm above the mandibular border
        assert p[2] - _jaw_line_z(head, side, p[1]) >= 8.0, (s.id, round(p[2] - _jaw_line_z(head, side, p[1]), 1))
        assert p[1] < mouth[1] - 15.0, s.id  # behind the muscle's front edge, well behind the mouth corner


def test_the_plan_keeps_the_chosen_units_and_flags_a_dose_outside_its_range(head: Head) -> None:
    from visualizer.errors import DoseError
    from visualizer.planner import recheck
    from visualizer.safety import MUSCLE_UNITS_OVER_CAP, UNITS_OUTSIDE_RANGE

    p = load_protocol("cd-torticollis")
    plan = make_plan(head, p, units={"scm_upper": 35, "splenius_upper": 50})
    assert plan.site("scm_upper").units == 35 and plan.site("splenius_upper").units == 50
    assert plan.site("scm_upper").volume_ml == pytest.approx(0.7)
    assert plan.total_units == 100 + 15 + 20 and not plan.errors
    # a dose outside its range is an error finding naming the site; the plan still keeps it
    over = make_plan(head, p, units={"scm_upper": 45})
    (f,) = [f for f in over.findings if f.code == UNITS_OUTSIDE_RANGE]
    assert f.severity == "error" and f.site_ids == ("scm_upper",)
    assert "45 U is outside this site's dose (10–40 U)" in f.message and f.message.startswith("Site ")
    # an edited plan is rechecked the same way (check, records); a fixed-dose site is a deviation, not an error
    edited = replace(plan, sites=tuple(replace(s, units=5.0) if s.id == "splenius_lower" else s for s in plan.sites))
    assert [f.code for f in recheck(head, p, edited).findings if f.severity == "error"] == [UNITS_OUTSIDE_RANGE]
    assert not make_plan(head, load_protocol("glabellar")).errors
    with pytest.raises(DoseError, match=r"chosen units: .*Invalid value for 'site'.*'nope'"):
        make_plan(head, p, units={"nope": 10})
    with pytest.raises(DoseError, match="site scm_upper: units must be a positive number"):
        make_plan(head, p, units={"scm_upper": -1})
    # the sternocleidomastoids' 100 U cap, on a plan whose sites are each within range
    data = _cd_data()
    third = copy.deepcopy(data["sites"][1])
    third.update(id="scm_low", units_range={"min": 10, "max": 50})
    data["sites"].append(third)
    data["expected"] = {"sites": 5, "units": 120}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        capped = load_protocol(_write(Path(tmp), data))
    plan = make_plan(head, capped, units={"scm_upper": 40, "scm_middle": 40, "scm_low": 40})
    (f,) = [f for f in plan.findings if f.code == MUSCLE_UNITS_OVER_CAP]
    assert f.message == "Sternocleidomastoid: 120 U in total is more than its cap 100 U."
    assert set(f.site_ids) == {"scm_upper", "scm_middle", "scm_low"}


@pytest.mark.parametrize("protocol_id", ["masseter", "platysma", "lower-face"])
def test_lower_face_sites_keep_out_of_their_danger_zones(head: Head, protocol_id: str) -> None:
    from visualizer.safety import DANGER_ZONES, placement_caution

    plan = make_plan(head, load_protocol(protocol_id))
    assert not plan.errors and not plan.warnings
    for s in plan.sites:
        assert placement_caution(head, s.muscle, s.side, s.position) is None, s.id
    # the plan names every muscle's danger zones, for every site in it
    zones = [f for f in plan.findings if f.code == DANGER_ZONES]
    assert {m for f in zones for m in {plan.site(i).muscle for i in f.site_ids}} == set(plan.per_muscle)
    assert sorted(i for f in zones for i in f.site_ids) == sorted(s.id for s in plan.sites)


def test_platysma_doses_span_the_labels_three_totals() -> None:
    p = load_protocol("platysma")
    bands = [e for e in p.expanded_sites() if e.units_range]
    assert p.fixed_units == 26 and p.max_total_units == 36
    for total in (26, 31, 36):  # 26, 31 or 36 U by the number of bands (label)
        per_band = (total - (p.fixed_units - sum(e.units for e in bands))) / len(bands)
        assert p.units_problems({e.id: per_band for e in bands}) == [], total
    assert p.units_problems({e.id: 6.5 for e in bands[:1]})  # beyond 36 U's share


def _moved(head: Head, site, dx: float = 0.0, dy: float = 0.0, dz: float = 0.0) -> np.ndarray:
    """A site moved in the head frame (mm) and put back on the skin (mesh frame)."""
    p = head.frame.to_head(np.asarray(site.position)) + np.array([dx, dy, dz])
    return head.snap(head.frame.from_head(p))[0]


@pytest.mark.parametrize(
    ("protocol_id", "site_id", "move", "code", "words"),
    [
        ("lower-face", "dao_right", {"dx": -12.0, "dy": 8.0}, "dao_danger_zone", "medial to the mouth corner"),
        ("lower-face", "dao_left", {"dz": -8.0}, "dao_danger_zone", "lowest quarter"),
        ("lower-face", "mentalis_right", {"dx": 12.0}, "mentalis_danger_zone", "from the midline"),
        ("platysma", "jaw_middle_right", {"dz": 18.0}, "platysma_danger_zone", "above the right jaw border"),
        ("platysma", "band_lower_left", {"dx": 12.0}, "platysma_danger_zone", "midline of the neck"),
        ("masseter", "prominent_left", {"dz": 25.0}, "masseter_danger_zone", "tragus to the mouth corner"),
    ],
)
def test_a_site_moved_into_a_danger_zone_is_a_warning(
    head: Head, protocol_id: str, site_id: str, move: dict, code: str, words: str
) -> None:
    from visualizer.planner import recheck

    p = load_protocol(protocol_id)
    plan = make_plan(head, p)
    moved = tuple(
        replace(s, position=tuple(float(c) for c in _moved(head, s, **move))) if s.id == site_id else s
        for s in plan.sites
    )
    found = [f for f in recheck(head, p, replace(plan, sites=moved)).findings if f.code == code]
    assert len(found) == 1 and found[0].severity == "warning" and found[0].site_ids == (site_id,), found
    assert words in found[0].message
