"""Tests for the protocol layer: bundled files, expansion, landmark names and every bad input."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from visualizer.errors import InjectVizError, ProtocolError
from visualizer.protocol import (
    FRAME_LANDMARKS,
    LANDMARKS,
    MUSCLES,
    PROTOCOLS_DIR,
    ExpandedSite,
    Protocol,
    known_protocol_ids,
    list_protocols,
    load_protocol,
    protocol_json_schema,
    resolve_landmark,
    validate_protocol_file,
)

BUNDLED = sorted(PROTOCOLS_DIR.glob("*.yaml"))

MINIMAL: dict[str, Any] = {
    "schema": 1,
    "id": "mini",
    "name": "Minimal example",
    "indication": "Example only",
    "product": "onabotulinumtoxinA (BOTOX)",
    "sources": [{"citation": "Example citation", "url": "https://example.org/"}],
    "dilution": {"units": 5, "volume_ml": 0.1},
    "expected": {"sites": 3, "units": 15},
    "max_total_units": 15,
    "min_spacing_mm": 10,
    "sites": [
        {
            "id": "procerus",
            "label": "Procerus",
            "muscle": "procerus",
            "side": "midline",
            "units": 5,
            "description": "between the eyebrows",
            "placement": {"landmark": "glabella"},
        },
        {
            "id": "temporalis",
            "label": "Temporalis",
            "muscle": "temporalis",
            "side": "bilateral",
            "units": 5,
            "description": "{side} temple",
            "placement": {
                "arc": {"from": "tragus", "to": "vertex", "fraction": 0.3},
                "offset_mm": {"anterior": 10},
            },
        },
    ],
}

FTP = {
    "max_sites": 8,
    "max_units": 40,
    "units_per_site": 5,
    "muscles": {"temporalis": 10, "occipitalis": 10, "trapezius": 20},
    "min_spacing_mm": 15,
}


def minimal(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data.update(changes)
    return data


def write(folder: Path, data: dict[str, Any], name: str | None = None) -> Path:
    path = folder / f"{name or data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- bundled protocols
def test_bundled_ids() -> None:
    assert known_protocol_ids() == [
        "cd-anterocollis", "cd-laterocollis", "cd-retrocollis", "cd-torticollis",
        "forehead", "glabellar", "lateral-canthal", "lower-face", "masseter", "platysma", "preempt", "preempt-ftp",
    ]  # fmt: skip
    assert [p.id for p in list_protocols()] == known_protocol_ids()


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_file_validates(path: Path) -> None:
    assert validate_protocol_file(path) == []
    protocol = load_protocol(path.stem)
    assert protocol.id == path.stem
    assert protocol.path == path
    assert protocol.sources
    # every landmark a site reads is one the mesh provides
    assert protocol.landmarks_needed() <= LANDMARKS
    # every site explains itself (chosen distances must be justified in a note)
    for site in protocol.sites:
        assert site.note and site.note.strip(), site.id
    for e in protocol.expanded_sites():
        assert e.muscle in MUSCLES
        assert "{side}" not in e.description
        assert e.units <= 50


def test_preempt_matches_published_table() -> None:
    p = load_protocol("preempt")
    sites = p.expanded_sites()
    assert len(sites) == 31
    assert p.fixed_units == 155
    assert p.sites_per_muscle() == {
        "procerus": 1,
        "corrugator": 2,
        "frontalis": 4,
        "temporalis": 8,
        "occipitalis": 6,
        "cervical_paraspinal": 4,
        "trapezius": 6,
    }
    assert p.units_per_muscle() == {
        "procerus": 5,
        "corrugator": 10,
        "frontalis": 20,
        "temporalis": 40,
        "occipitalis": 30,
        "cervical_paraspinal": 20,
        "trapezius": 30,
    }
    assert {e.units for e in sites} == {5.0}
    assert all(e.volume_ml == pytest.approx(0.1) for e in sites)
    assert p.volume_ml(155) == pytest.approx(3.1)
    assert p.max_total_units == 155
    assert p.follow_the_pain is None
    # only procerus is unmirrored
    assert [e.id for e in sites if e.side == "midline"] == ["procerus"]


def test_preempt_trapezius_follows_published_rule() -> None:
    p = load_protocol("preempt")
    trap = {e.base_id: e for e in p.expanded_sites() if e.muscle == "trapezius" and e.side == "left"}
    assert {k: (v.arc_from, v.arc_to, v.fraction) for k, v in trap.items()} == {
        "trapezius_1": ("left_necklace", "left_acromion", 0.5),
        "trapezius_2": ("left_necklace", "left_acromion", 0.75),
        "trapezius_3": ("left_necklace", "left_acromion", 0.25),
    }


def test_preempt_temporalis_at_least_45_mm_above_the_arch() -> None:
    for e in load_protocol("preempt").expanded_sites():
        if e.muscle == "temporalis":
            assert e.landmark == f"{e.side}_zygomatic_arch"
            assert e.offsets["superior"] >= 45


def test_preempt_ftp_caps() -> None:
    base = load_protocol("preempt")
    p = load_protocol("preempt-ftp")
    assert p.extends == "preempt"
    assert [(e.id, e.units, e.landmarks) for e in p.expanded_sites()] == [
        (e.id, e.units, e.landmarks) for e in base.expanded_sites()
    ]
    assert p.fixed_units == 155
    ftp = p.follow_the_pain
    assert ftp is not None
    assert (ftp.max_sites, ftp.max_units, ftp.units_per_site) == (8, 40, 5)
    assert ftp.muscles == {"temporalis": 10, "occipitalis": 10, "trapezius": 20}
    assert "cervical_paraspinal" not in ftp.muscles
    assert p.max_total_units == 195 == p.fixed_units + ftp.max_units
    assert len(p.expanded_sites()) + ftp.max_sites == 39


@pytest.mark.parametrize(
    ("pid", "sites", "units", "per_site", "muscles"),
    [
        ("glabellar", 5, 20, 4, {"procerus": 1, "corrugator": 4}),
        ("lateral-canthal", 6, 24, 4, {"orbicularis_oculi": 6}),
        ("forehead", 5, 20, 4, {"frontalis": 5}),
    ],
)
def test_cosmetic_label_totals(pid: str, sites: int, units: float, per_site: float, muscles: dict[str, int]) -> None:
    p = load_protocol(pid)
    expanded = p.expanded_sites()
    assert len(expanded) == sites
    assert p.fixed_units == units
    assert p.max_total_units == units
    assert {e.units for e in expanded} == {per_site}
    assert p.sites_per_muscle() == muscles
    assert (p.dilution.units, p.dilution.volume_ml) == (4, 0.1)
    assert all(e.volume_ml == pytest.approx(0.1) for e in expanded)


def test_cosmetic_volumes_match_label() -> None:
    assert load_protocol("glabellar").volume_ml(20) == pytest.approx(0.5)
    assert load_protocol("lateral-canthal").volume_ml(24) == pytest.approx(0.6)


def test_glabellar_lateral_corrugator_at_least_1_cm_above_ridge() -> None:
    sites = {e.id: e for e in load_protocol("glabellar").expanded_sites()}
    lateral = sites["corrugator_lateral_right"]
    assert lateral.landmark == "right_orbital_rim"
    assert lateral.offsets["superior"] >= 10


def test_forehead_lower_row_at_least_2_cm_above_brow() -> None:
    for e in load_protocol("forehead").expanded_sites():
        assert e.offsets["superior"] >= 20, e.id


# --------------------------------------------------------------------------- expansion
def test_bilateral_expansion_left_then_right(tmp_path: Path) -> None:
    p = load_protocol(write(tmp_path, minimal()))
    sites = p.expanded_sites()
    assert [e.id for e in sites] == ["procerus", "temporalis_left", "temporalis_right"]
    assert [e.side for e in sites] == ["midline", "left", "right"]
    assert [e.base_id for e in sites] == ["procerus", "temporalis", "temporalis"]
    left, right = sites[1], sites[2]
    assert isinstance(left, ExpandedSite)
    assert (left.arc_from, left.arc_to, left.arc_via, left.fraction) == ("left_tragus", "vertex", None, 0.3)
    assert right.arc_from == "right_tragus"
    assert left.description == "left temple" and right.description == "right temple"
    assert left.label == "Temporalis, left"
    assert sites[0].landmark == "glabella" and sites[0].kind == "landmark"
    assert left.kind == "arc"
    assert left.offsets == {"anterior": 10.0}
    assert p.landmarks_needed() == {"glabella", "left_tragus", "right_tragus", "vertex", "nasion"}
    assert p.landmarks_needed(include_frame=False) == {"glabella", "left_tragus", "right_tragus", "vertex"}
    assert set(FRAME_LANDMARKS) <= p.landmarks_needed()


def test_offset_vector_lateral_mirrors_per_side(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["placement"] = {"landmark": "lateral_canthus", "offset_mm": {"lateral": 15, "superior": 10}}
    sites = load_protocol(write(tmp_path, data)).expanded_sites()
    # the vector the placement walks (visualizer.placement, the code that places sites)
    from visualizer.placement import offset_vector

    assert offset_vector(sites[1].offsets, sites[1].side).tolist() == [-15.0, 0.0, 10.0]
    assert offset_vector(sites[2].offsets, sites[2].side).tolist() == [15.0, 0.0, 10.0]
    assert offset_vector(sites[0].offsets, sites[0].side).tolist() == [0.0, 0.0, 0.0]


def test_opposite_landmark_in_bilateral_site(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["placement"] = {
        "arc": {"from": "tragus", "to": "opposite:tragus", "via": "vertex", "fraction": 0.2}
    }
    left, right = load_protocol(write(tmp_path, data)).expanded_sites()[1:]
    assert (left.arc_from, left.arc_to, left.arc_via) == ("left_tragus", "right_tragus", "vertex")
    assert (right.arc_from, right.arc_to) == ("right_tragus", "left_tragus")


def test_volume_uses_dilution(tmp_path: Path) -> None:
    p = load_protocol(write(tmp_path, minimal(dilution={"units": 4, "volume_ml": 0.1})))
    assert p.volume_ml(20) == pytest.approx(0.5)
    assert p.expanded_sites()[0].volume_ml == pytest.approx(0.125)


def test_yml_suffix_and_path_object(tmp_path: Path) -> None:
    path = write(tmp_path, minimal())
    yml = path.with_suffix(".yml")
    path.rename(yml)
    assert load_protocol(yml).id == "mini"
    assert load_protocol(str(yml)).id == "mini"


def test_protocol_is_frozen() -> None:
    p = load_protocol("preempt")
    with pytest.raises(ValueError, match="frozen"):
        p.max_total_units = 400  # type: ignore[misc]


def test_json_schema_forbids_extra_keys() -> None:
    schema = protocol_json_schema()
    assert schema["additionalProperties"] is False
    assert "schema" in schema["properties"] and "sites" in schema["required"]


# --------------------------------------------------------------------------- resolve_landmark
@pytest.mark.parametrize(
    ("name", "side", "expected"),
    [
        ("tragus", "left", "left_tragus"),
        ("tragus", "right", "right_tragus"),
        ("opposite:tragus", "left", "right_tragus"),
        ("opposite:acromion", "right", "left_acromion"),
        ("nasion", "right", "nasion"),
        ("c7", "midline", "c7"),
        ("left_tragus", "midline", "left_tragus"),
    ],
)
def test_resolve_landmark(name: str, side: str, expected: str) -> None:
    assert resolve_landmark(name, side) == expected


@pytest.mark.parametrize(
    ("name", "side", "match"),
    [
        ("tragus", "midline", "sided landmark 'tragus' needs a side.*'left_tragus'"),
        ("opposite:nasion", "left", "'opposite:nasion'.*sided landmark"),
        ("opposite:tragus", "midline", "no meaning in a midline site"),
        ("tragu", "left", "unknown landmark 'tragu'; did you mean 'tragus'"),
        ("tragus", "up", "Invalid value for 'side': allowed are 'left', 'right' and 'midline', got 'up'"),
    ],
)
def test_resolve_landmark_errors(name: str, side: str, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        resolve_landmark(name, side)


# --------------------------------------------------------------------------- bad inputs
def test_unknown_protocol_id() -> None:
    with pytest.raises(ProtocolError, match=r"unknown protocol id 'nope'; known ids: .*preempt"):
        load_protocol("nope")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match=r"missing\.yaml: file not found"):
        load_protocol(tmp_path / "missing.yaml")


def test_errors_are_injectviz_errors() -> None:
    assert issubclass(ProtocolError, InjectVizError)


def expect_problem(path: Path, *patterns: str, own_file_only: bool = True) -> list[str]:
    """Every pattern matches one reported problem, and load_protocol raises naming it too."""
    problems = validate_protocol_file(path)
    for pattern in patterns:
        assert any(re.search(pattern, p) for p in problems), (pattern, problems)
        with pytest.raises(ProtocolError, match=pattern):
            load_protocol(path)
    if own_file_only:  # with `extends`, a base file's own problems name the base file
        for p in problems:
            assert p.startswith(f"{path}: "), p
    return problems


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, minimal(sitez=[]))
    expect_problem(path, r"mini\.yaml: sitez: unknown key 'sitez' .*\(got \[\]\)")


def test_unknown_nested_key(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["placement"]["offset_mm"] = {"up": 10}
    expect_problem(
        write(tmp_path, data),
        r"mini\.yaml: sites\.1\.placement\.offset_mm\.up \(site 'temporalis'\): unknown key 'up'.*\(got 10\)",
    )


def test_bad_muscle(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["muscle"] = "temporalus"
    expect_problem(
        write(tmp_path, data),
        r"mini\.yaml: sites\.1\.muscle \(site 'temporalis'\): .*'temporalis'.*\(got 'temporalus'\)",
    )


def test_bad_fraction(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["placement"]["arc"]["fraction"] = 1.5
    expect_problem(
        write(tmp_path, data),
        r"mini\.yaml: sites\.1\.placement\.arc\.fraction \(site 'temporalis'\): .*less than or equal to 1 \(got 1\.5\)",
    )


def test_units_above_50(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][0]["units"] = 60
    expect_problem(write(tmp_path, data), r"sites\.0\.units \(site 'procerus'\): .*50 \(got 60\)")


def test_missing_sources(tmp_path: Path) -> None:
    data = minimal()
    del data["sources"]
    expect_problem(write(tmp_path, data), r"mini\.yaml: sources: required field is missing")


def test_empty_sources_and_bad_url(tmp_path: Path) -> None:
    expect_problem(write(tmp_path, minimal(sources=[])), r"mini\.yaml: sources: .*at least 1 item.*\(got \[\]\)")
    bad = minimal(sources=[{"citation": "x", "url": "www.example.org"}])
    expect_problem(write(tmp_path, bad), r"sources\.0\.url: url must be an http.*\(got 'www\.example\.org'\)")


def test_wrong_expected_totals(tmp_path: Path) -> None:
    path = write(tmp_path, minimal(expected={"sites": 4, "units": 20}))
    expect_problem(
        path,
        r"mini\.yaml: expected\.sites: the sites expand to 3 injections .*\(got 4\)",
        r"mini\.yaml: expected\.units: the sites add up to 15 U .*\(got 20\)",
    )


def test_totals_reported_alongside_field_errors(tmp_path: Path) -> None:
    data = minimal(expected={"sites": 3, "units": 20})
    data["sites"][0]["muscle"] = "nose"
    data["sites"][1]["placement"]["arc"]["fraction"] = -0.1
    problems = expect_problem(
        write(tmp_path, data),
        r"sites\.0\.muscle .*\(got 'nose'\)",
        r"sites\.1\.placement\.arc\.fraction .*\(got -0\.1\)",
        r"expected\.units: the sites add up to 15 U .*\(got 20\)",
    )
    assert len(problems) == 3, problems


def test_cap_below_fixed_total(tmp_path: Path) -> None:
    expect_problem(
        write(tmp_path, minimal(max_total_units=10)),
        r"max_total_units: is below the fixed sites' total of 15 U \(got 10\)",
    )


def test_session_cap_above_label_limit(tmp_path: Path) -> None:
    expect_problem(
        write(tmp_path, minimal(max_total_units=450)), r"max_total_units: must not exceed 400 U.*\(got 450\)"
    )


def test_ftp_in_neck_rejected(tmp_path: Path) -> None:
    ftp = copy.deepcopy(FTP)
    ftp["muscles"] = {"temporalis": 10, "cervical_paraspinal": 10, "trapezius": 20}
    path = write(tmp_path, minimal(follow_the_pain=ftp, max_total_units=55))
    expect_problem(
        path,
        r"mini\.yaml: follow_the_pain\.muscles\.cervical_paraspinal: follow-the-pain is not allowed in "
        r"cervical_paraspinal: PREEMPT gives no FTP in the neck.*\(got 10\)",
    )


def test_ftp_valid_block_loads(tmp_path: Path) -> None:
    p = load_protocol(write(tmp_path, minimal(follow_the_pain=copy.deepcopy(FTP), max_total_units=55)))
    assert p.follow_the_pain is not None and p.follow_the_pain.max_units == 40


def test_ftp_arithmetic(tmp_path: Path) -> None:
    ftp = copy.deepcopy(FTP)
    ftp["max_units"] = 45
    ftp["muscles"] = {"temporalis": 10, "occipitalis": 7}
    path = write(tmp_path, minimal(follow_the_pain=ftp, max_total_units=60))
    expect_problem(
        path,
        r"follow_the_pain\.max_units: must equal max_sites × units_per_site = 8 × 5 = 40 U \(got 45\)",
        r"follow_the_pain\.muscles: per-muscle caps add up to 17 U, less than max_units 45 U",
        r"follow_the_pain\.muscles\.occipitalis: cap must be a whole number of 5 U sites \(got 7\)",
    )


def test_ftp_exceeds_session_cap(tmp_path: Path) -> None:
    path = write(tmp_path, minimal(follow_the_pain=copy.deepcopy(FTP), max_total_units=50))
    expect_problem(path, r"max_total_units: is below fixed 15 U \+ follow_the_pain\.max_units 40 U = 55 U \(got 50\)")


def test_yaml_syntax_error_has_line_number(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("schema: 1\nid: broken\nname: [unclosed\nsites: x\n", encoding="utf-8")
    problems = expect_problem(path, r"broken\.yaml: line \d+, column \d+: YAML syntax error")
    assert len(problems) == 1


def test_yaml_colon_in_plain_scalar(tmp_path: Path) -> None:
    path = tmp_path / "colon.yaml"
    path.write_text("schema: 1\nid: colon\nnotes: chosen: not published\n", encoding="utf-8")
    expect_problem(path, r"colon\.yaml: line 3, column \d+: YAML syntax error: mapping values are not allowed")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("schema: 1\nid: dup\nid: dup\n", encoding="utf-8")
    expect_problem(path, r"dup\.yaml: line 3, column 1: YAML syntax error: .*duplicate key 'id'")


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    expect_problem(empty, r"empty\.yaml: file is empty")
    listing = tmp_path / "listing.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    expect_problem(listing, r"listing\.yaml: the top level must be a mapping")


def test_id_must_match_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, minimal(), name="other")
    expect_problem(path, r"other\.yaml: id: must equal the file name 'other' \(got 'mini'\)")


def test_bad_schema_version(tmp_path: Path) -> None:
    expect_problem(write(tmp_path, minimal(schema=2)), r"mini\.yaml: schema: Input should be 1 \(got 2\)")


def test_duplicate_site_ids(tmp_path: Path) -> None:
    data = minimal(expected={"sites": 4, "units": 20}, max_total_units=20)
    data["sites"].append(copy.deepcopy(data["sites"][0]))
    expect_problem(
        write(tmp_path, data),
        r"sites\.2\.id \(site 'procerus'\): duplicate site id \(also sites\.0\) \(got 'procerus'\)",
    )


def test_site_id_with_side_suffix(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["id"] = "temporalis_left"
    expect_problem(write(tmp_path, data), r"sites\.1\.id \(site 'temporalis_left'\): must not end in _left/_right")


def test_unknown_landmark_names_site_and_field(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["placement"]["arc"]["from"] = "tragu"
    expect_problem(
        write(tmp_path, data),
        r"mini\.yaml: sites\.1\.placement\.arc\.from \(site 'temporalis'\): unknown landmark 'tragu'; "
        r"did you mean 'tragus'\?.*\(got 'tragu'\)",
    )


def test_bare_sided_landmark_in_midline_site(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][0]["placement"] = {"landmark": "brow_medial"}
    expect_problem(
        write(tmp_path, data),
        r"sites\.0\.placement\.landmark \(site 'procerus'\): sided landmark 'brow_medial' needs a side.*"
        r"'left_brow_medial'",
    )


def test_full_sided_name_in_bilateral_site(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["placement"]["arc"]["from"] = "left_tragus"
    expect_problem(
        write(tmp_path, data), r"sites\.1\.placement\.arc\.from .*must not name one side's landmark 'left_tragus'"
    )


def test_lateral_offset_in_midline_site(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][0]["placement"]["offset_mm"] = {"lateral": 5}
    expect_problem(
        write(tmp_path, data), r"sites\.0\.placement\.offset_mm\.lateral \(site 'procerus'\): 'lateral' has no meaning"
    )


def test_opposed_and_empty_offsets(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["placement"]["offset_mm"] = {"superior": 5, "inferior": 5}
    expect_problem(
        write(tmp_path, data), r"offset_mm\.inferior .*'superior' and 'inferior' point in opposite directions"
    )
    data["sites"][1]["placement"]["offset_mm"] = {}
    expect_problem(write(tmp_path, data), r"offset_mm .*give at least one non-zero direction")


def test_placement_needs_exactly_one_rule(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][0]["placement"] = {"landmark": "glabella", "arc": {"from": "nasion", "to": "vertex", "fraction": 0.1}}
    expect_problem(
        write(tmp_path, data), r"sites\.0\.placement \(site 'procerus'\): give exactly one of 'landmark' or 'arc'"
    )
    data["sites"][0]["placement"] = {"offset_mm": {"superior": 5}}
    expect_problem(write(tmp_path, data), r"sites\.0\.placement \(site 'procerus'\): give exactly one")


def test_description_side_placeholder_rules(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][1]["description"] = "temple"
    expect_problem(write(tmp_path, data), r"sites\.1\.description .*must contain \{side\}.*\(got 'temple'\)")
    data = minimal()
    data["sites"][0]["description"] = "{side} nose"
    expect_problem(write(tmp_path, data), r"sites\.0\.description .*a midline site has no \{side\}")
    data = minimal()
    data["sites"][1]["description"] = "{sid} temple"
    expect_problem(write(tmp_path, data), r"sites\.1\.description .*only \{side\} may be used")


def test_strict_types(tmp_path: Path) -> None:
    data = minimal()
    data["sites"][0]["units"] = "5"
    expect_problem(write(tmp_path, data), r"sites\.0\.units .*valid number \(got '5'\)")


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    data = minimal(sitez=1)
    data["sites"][0]["muscle"] = "nose"
    data["sites"][1]["placement"]["arc"]["fraction"] = 2
    data["sites"][1]["placement"]["arc"]["to"] = "vertx"
    problems = validate_protocol_file(write(tmp_path, data))
    assert len(problems) == 4, problems
    joined = "\n".join(problems)
    for needle in ("sitez", "sites.0.muscle", "sites.1.placement.arc.fraction", "'vertx'"):
        assert needle in joined


def test_load_error_lists_all_problems(tmp_path: Path) -> None:
    data = minimal(sitez=1)
    data["sites"][0]["muscle"] = "nose"
    with pytest.raises(ProtocolError, match=r"invalid protocol \(2 problems\):\n.*sitez.*\n.*nose|nose.*\n.*sitez"):
        load_protocol(write(tmp_path, data))


# --------------------------------------------------------------------------- extends
def test_extends_bundled_protocol(tmp_path: Path) -> None:
    child = {"schema": 1, "id": "my-preempt", "extends": "preempt", "name": "Clinic variant", "max_total_units": 160}
    p = load_protocol(write(tmp_path, child))
    assert p.id == "my-preempt" and p.name == "Clinic variant"
    assert p.max_total_units == 160
    assert len(p.expanded_sites()) == 31 and p.fixed_units == 155
    assert p.sources == load_protocol("preempt").sources


def test_extends_prefers_sibling_file(tmp_path: Path) -> None:
    write(tmp_path, minimal(id="preempt"))  # a local "preempt" shadows the bundled one
    child = {"schema": 1, "id": "child", "extends": "preempt"}
    assert len(load_protocol(write(tmp_path, child)).expanded_sites()) == 3


def test_extends_error_in_base_is_marked_inherited(tmp_path: Path) -> None:
    base = minimal(id="base")
    base["sites"][0]["muscle"] = "nose"
    write(tmp_path, base)
    path = write(tmp_path, {"schema": 1, "id": "child", "extends": "base"})
    expect_problem(
        path, r"child\.yaml: sites\.0\.muscle \(site 'procerus'\): .*\(got 'nose'\) \[inherited from base\.yaml\]"
    )


def test_extends_unknown_base(tmp_path: Path) -> None:
    path = write(tmp_path, {"schema": 1, "id": "child", "extends": "nothing-here"})
    expect_problem(path, r"child\.yaml: extends: no protocol 'nothing-here' .*known ids: .*preempt")


def test_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path, minimal(id="a", extends="b"))
    path = write(tmp_path, minimal(id="b", extends="a"))
    expect_problem(path, r"a\.yaml: extends: circular chain b\.yaml → a\.yaml → b\.yaml", own_file_only=False)


def test_extends_base_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("a: [\n", encoding="utf-8")
    path = write(tmp_path, {"schema": 1, "id": "child", "extends": "base"})
    expect_problem(
        path,
        r"child\.yaml: extends: cannot use base",
        r"base\.yaml: line \d+, column \d+: YAML syntax error",
        own_file_only=False,
    )


def test_model_validate_directly_enforces_checks() -> None:
    data = minimal(expected={"sites": 3, "units": 20})
    with pytest.raises(ValueError, match=r"expected\.units: the sites add up to 15 U"):
        Protocol.model_validate(data)


# --------------------------------------------------------------------------- on the default head
@pytest.mark.parametrize("pid", known_protocol_ids())
def test_bundled_sites_land_on_their_muscle_on_default_head(pid: str, head: Any) -> None:
    """Regression guard for the chosen distances: on the bundled head each fixed site resolves
    inside its own muscle's area of the teaching map, and no two sites are closer than the
    protocol's min_spacing_mm."""
    import numpy as np

    from visualizer.placement import place_arc, place_landmark

    p = load_protocol(pid)
    positions = {}
    for e in p.expanded_sites():
        if e.kind == "landmark":
            assert e.landmark is not None
            placed = place_landmark(head, e.landmark, e.offsets, e.side, needed_by=e.id)
        else:
            assert e.arc_from is not None and e.arc_to is not None and e.fraction is not None
            placed = place_arc(head, e.arc_from, e.arc_to, e.arc_via, e.fraction, e.offsets, e.side, needed_by=e.id)
        assert head.muscle_at(placed.position) == e.muscle, e.id
        positions[e.id] = placed.position
    ids = list(positions)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            assert float(np.linalg.norm(positions[a] - positions[b])) >= p.min_spacing_mm, (a, b)
