"""The injector's doses within the sites' ranges in the web app (issue 11; visualizer.app.doses).

Server side, no browser: the browser's values are refused by type, finiteness and size first
(``inputs.TRIGGERS['set_units']``, ``SavedInputs.units``), then by the protocol
(``Session.checked_units``: unknown ids, not positive, over 50 U, outside the range, a muscle or
the session over its cap, as ``plan --dose`` refuses them); accepted doses rebuild the plan
through ``make_plan``.  The browser side is in tests/e2e/test_doses_e2e.py.
"""

from __future__ import annotations

import json
import math

import pytest

import visualizer as engine
from visualizer.app import faults, inputs
from visualizer.app import state as st
from visualizer.app.inputs import InputRefused, check_trigger
from visualizer.protocol import PROTOCOLS_DIR

LATERO = "cd-laterocollis"  # 8 right-sided sites, each with a range; 140 U; maxima add up to 340 U > 300 U


@pytest.fixture
def session(head):
    return st.Session(engine, head, protocol=LATERO)


def _site(plan, sid):
    return next(s for s in plan.sites if s.id == sid)


# ------------------------------------------------------------------------------ the session
def test_rows_are_the_ranged_sites_and_none_for_a_protocol_without_ranges(session):
    rows = session.dose_rows()
    assert [r["id"] for r in rows] == [e.id for e in session.protocol.expanded_sites()]
    first = rows[0]
    assert first["label"] == "Sternocleidomastoid (upper), right" and first["range"] == "10\u201340 U"
    assert (first["min"], first["max"], first["units"], first["changed"]) == (10, 40, 15, False)
    assert [r["step"] for r in rows] == [5.0] * 8
    session.set_protocol("preempt")
    assert session.dose_rows() == []


@pytest.mark.parametrize(
    ("lo", "hi", "template", "step"),
    [(10, 40, 15, 5), (5, 25, 10, 5), (12, 16, 12, 1), (6, 8, 6, 0.5), (3.5, 6, 3.5, 0.5), (2, 3, 2, 0.5)],
)
def test_the_fields_arrows_step_across_the_range(lo, hi, template, step):
    assert st.field_step(lo, hi, template) == step


def test_chosen_units_make_the_plan(session):
    assert session.plan.total_units == 140
    plan = session.set_units({"scm_upper": 35})
    assert _site(plan, "scm_upper").units == 35 and plan.total_units == 160
    assert _site(plan, "scm_upper").volume_ml == pytest.approx(0.7)  # 5 U per 0.1 mL
    assert session.totals()["units"] == "160"
    assert next(r for r in session.site_rows() if r["id"] == "scm_upper")["units"] == "35"
    row = session.dose_rows()[0]
    assert row["units"] == 35 and row["changed"] and row["template"] == 15
    # a second change keeps the first; the template's dose drops out of the chosen set
    session.set_units({"splenius_upper": 40})
    assert session.units == {"scm_upper": 35, "splenius_upper": 40} and session.plan.total_units == 175
    session.set_units({"scm_upper": 15})
    assert session.units == {"splenius_upper": 40}
    # the patient step-through says the chosen dose
    session.patient_go(next(i for i, s in enumerate(session.patient_steps()) if s.id == "splenius_upper"))
    assert session.patient_text()["dose"] == "40 units"
    session.reset_units()
    assert session.units == {} and session.plan.total_units == 140


@pytest.mark.parametrize(
    ("chosen", "words"),
    [
        ({"scm_upper": 41}, "Sternocleidomastoid (upper), right: 41 U is outside this site's dose (10\u201340 U)"),
        ({"scm_upper": 5}, "5 U is outside this site's dose (10\u201340 U)"),
        ({"scm_upper": 60}, "60 U is more than 50 U per site; this site takes 10\u201340 U"),
        ({"scm_upper": 1e308}, "is more than 50 U per site"),
        ({"scm_upper": 0}, "units must be a positive number"),
        ({"scm_upper": -20}, "units must be a positive number"),
        ({"scm_upper": math.nan}, "units must be a positive number"),
        ({"scm_upper": math.inf}, "units must be a positive number"),
        ({"scm_upper": "20"}, "units must be a positive number"),
        ({"scm_upper": True}, "units must be a positive number"),
        ({"scm_upper": None}, "units must be a positive number"),
        ({"no_such_site": 20}, "Invalid value for 'site'"),
        ({"/etc/passwd": 20}, "Invalid value for 'site'"),
    ],
)
def test_hostile_or_out_of_range_units_are_refused_and_change_nothing(session, chosen, words):
    session.set_units({"splenius_upper": 40})
    before = (dict(session.units), session.plan)
    with pytest.raises(st.DoseRefused) as exc:
        session.set_units(chosen)
    assert words in str(exc.value) and str(exc.value).startswith("Dose not changed")
    assert (session.units, session.plan) == before
    sid = next(iter(chosen))
    if sid == "scm_upper":  # the field's own words, without the site's name
        assert exc.value.per_site["scm_upper"].startswith("Not changed: ")
        assert "Sternocleidomastoid" not in exc.value.per_site["scm_upper"]


def test_a_huge_dict_is_refused_before_any_site_is_looked_at(session):
    with pytest.raises(st.DoseRefused, match="10000 doses for the 8 sites"):
        session.set_units({f"site{i}": 20.0 for i in range(10_000)})
    assert session.units == {}


def test_one_bad_value_refuses_the_whole_change(session):
    with pytest.raises(st.DoseRefused) as exc:
        session.set_units({"scm_upper": 30, "scm_middle": 45, "levator_upper": 31})
    assert set(exc.value.per_site) == {"scm_middle", "levator_upper"}
    assert session.units == {} and session.plan.total_units == 140


def test_a_fixed_dose_site_keeps_its_dose(head):
    ses = st.Session(engine, head, protocol="preempt")
    sid = ses.protocol.expanded_sites()[0].id
    with pytest.raises(st.DoseRefused, match="fixed at 5 U"):
        ses.set_units({sid: 10})
    ses.set_units({sid: 5})  # its own dose: nothing to change
    assert ses.units == {}


def test_caps_reached_inside_the_ranges_are_refused_as_the_cli_refuses_them(session):
    """Doses inside their ranges that break the session's total: refused (``plan --dose`` exits 2)."""
    before = session.plan.total_units
    maxima = {r["id"]: r["max"] for r in session.dose_rows()}  # 340 U > the protocol's 300 U
    with pytest.raises(st.DoseRefused, match="total 340 U is more than this protocol's 300 U") as exc:
        session.set_units(maxima)
    assert set(exc.value.per_site) == set(maxima)  # said under each field that was changed
    assert session.units == {} and session.plan.total_units == before
    # one field at a time: the change that crosses the cap is the one refused, the others kept
    refused = None
    for sid, units in maxima.items():
        kept = dict(session.units)
        try:
            session.set_units({sid: units})
        except st.DoseRefused as exc:
            refused = (sid, exc.per_site)
            break
    assert refused is not None and list(refused[1]) == [refused[0]] and "300 U" in refused[1][refused[0]]
    assert session.units == kept and session.plan.total_units <= 300 and not session.plan.errors


def test_a_muscle_over_its_cap_is_refused_naming_the_muscle_and_its_units(head, tmp_path):
    text = (PROTOCOLS_DIR / "cd-torticollis.yaml").read_text()
    text = text.replace("muscle_caps: {sternocleidomastoid: 100}", "muscle_caps: {sternocleidomastoid: 60}")
    text = text.replace("id: cd-torticollis", "id: cd-scm-cap")
    path = tmp_path / "cd-scm-cap.yaml"
    path.write_text(text)
    ses = st.Session(engine, head, protocol_source=str(path))
    ses.set_units({"scm_upper": 35})
    with pytest.raises(st.DoseRefused, match="Sternocleidomastoid: 70 U in total is more than its cap 60 U") as exc:
        ses.set_units({"scm_middle": 35})
    assert exc.value.per_site == {
        "scm_middle": "Not changed: Sternocleidomastoid: 70 U in total is more than its cap 60 U."
    }
    assert ses.units == {"scm_upper": 35.0} and ses.plan.total_units == 115


def test_another_protocol_starts_at_its_template_doses(session):
    session.set_units({"scm_upper": 35})
    session.set_protocol(LATERO)  # the same one: kept
    assert session.units == {"scm_upper": 35}
    session.set_protocol("cd-torticollis")
    assert session.units == {} and session.plan.total_units == 100
    session.set_units({"scm_upper": 30})
    with pytest.raises(st.UserError):
        session.set_protocol("no-such")
    assert session.units == {"scm_upper": 30}  # a refused change of protocol keeps the doses too


# ------------------------------------------------------------------------------ the browser's values
@pytest.mark.parametrize(
    "units",
    [
        None,
        [],
        "scm_upper=20",
        {"scm_upper": math.nan},
        {"scm_upper": math.inf},
        {"scm_upper": -math.inf},
        {"scm_upper": "20"},
        {"scm_upper": True},
        {"scm_upper": None},
        {"scm_upper": [20]},
        {"Z" * 65: 20},
        {"": 20},
        {f"s{i}": 20.0 for i in range(10_000)},
        {f"s{i}": 20.0 for i in range(inputs.MAX_CHOSEN_UNITS + 1)},
    ],
)
def test_the_page_may_send_only_a_small_dict_of_finite_numbers(units):
    with pytest.raises(InputRefused) as exc:
        check_trigger(None, "set_units", [units], {})
    assert len(str(exc.value)) < 400


def test_in_type_values_reach_the_protocols_checks():
    # finite numbers of any size pass the type check; the session judges them against the protocol
    assert check_trigger(None, "set_units", [{"scm_upper": 1e308}], {}) == ([{"scm_upper": 1e308}], {})
    assert check_trigger(None, "set_units", [{"scm_upper": 20}], {}) == ([{"scm_upper": 20.0}], {})
    assert check_trigger(None, "reset_units", [], {}) == ([], {})
    with pytest.raises(InputRefused):
        check_trigger(None, "reset_units", [{"scm_upper": 20}], {})


# ------------------------------------------------------------------------------ the app
@pytest.fixture
def app(trame_app):
    return trame_app


def _choose(app, protocol):
    with app.state:
        app.state.protocol_id = protocol


def test_app_fields_total_labels_downloads_and_address(app):
    assert app.state.dose_rows == []  # PREEMPT: no ranges, no fields
    _choose(app, LATERO)
    assert [r["id"] for r in app.state.dose_rows][:2] == ["scm_upper", "scm_middle"]
    assert app.state.totals["units"] == "140"
    app.set_units({"scm_upper": 35.0})
    assert app.state.totals["units"] == "160" and app.state.dose_rows[0]["units"] == 35
    order = _site(app.session.plan, "scm_upper").order
    assert f"{order}: 35U" in app.scene.label_texts  # the 3D label
    assert json.loads(app.plan_json())["sites"][order - 1]["units"] == 35
    assert any(",35," in line for line in app.plan_csv().splitlines() if "scm_upper" in line)
    assert app.state.saved_inputs["units"] == {"scm_upper": 35.0}  # kept in the page's address
    # a refusal: under its field and as the page's message; nothing changes
    app.set_units({"scm_upper": 45.0})
    assert app.state.dose_errors == {"scm_upper": "Not changed: 45 U is outside this site's dose (10\u201340 U)."}
    assert "Sternocleidomastoid (upper), right: 45 U" in app.state.message
    assert app.state.message_type == "error" and app.state.totals["units"] == "160"
    app.set_units({"scm_middle": 20.0})
    assert app.state.dose_errors == {} and app.state.totals["units"] == "165"
    # another protocol: its own template doses
    _choose(app, "cd-torticollis")
    assert app.state.totals["units"] == "100" and app.state.saved_inputs["units"] == {}


def test_app_restores_the_doses_with_the_protocol_or_nothing(app):
    saved = {"v": 1, "protocol": LATERO, "units": {"scm_upper": 35, "levator_lower": 30}, "tab": "plan"}
    faults.restore(app, saved)
    assert app.state.totals["units"] == "175" and app.session.units == {"scm_upper": 35, "levator_lower": 30}
    before = faults.snapshot(app)
    for bad in (
        dict(saved, units={"scm_upper": 45}),  # outside its range
        dict(saved, units={"scm_upper": math.nan}),
        dict(saved, units={"scm_upper": "35"}),
        dict(saved, units={"elbow": 20}),
        dict(saved, units={f"s{i}": 20 for i in range(10_000)}),
        dict(saved, protocol="cd-torticollis", units={"levator_lower": 20}),  # not a site of that protocol
    ):
        with pytest.raises(InputRefused):
            faults.restore(app, bad)
        assert faults.snapshot(app) == before
