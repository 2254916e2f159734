"""The record in the app, without a browser: the controller behind the Record tab, the comparison with the
last visit, the outcome chart, the page's checks of the record's forms and the loopback rule.

The browser side is tests/e2e/test_records_e2e.py.
"""

from __future__ import annotations

import argparse
import math

import pytest

from visualizer.app import inputs
from visualizer.app.inputs import InputRefused, check_trigger


# ------------------------------------------------------------------------------ the page's checks
def _form(**sites):
    return {
        "date": "2026-01-05",
        "product": "BOTOX",
        "lot": "L1",
        "expiry": "2027-01-01",
        "injector": "Dr T",
        "reason": "",
        "override": "",
        "amend_reason": "",
        "sites": sites,
    }


@pytest.mark.parametrize("bad", [True, "nan", "inf", math.nan, math.inf, -1, 50.5, "1" * 40, [5], {"u": 5}])
def test_a_given_unit_from_the_page_is_refused_unless_a_number_from_0_to_50(bad):
    with pytest.raises(InputRefused, match="given"):
        check_trigger(None, "rec_sign", [_form(a={"given": bad, "skip": False, "skip_reason": ""})], {})
    ok = check_trigger(None, "rec_sign", [_form(a={"given": "2.5", "skip": False, "skip_reason": ""})], {})
    assert ok[0][0]["sites"]["a"]["given"] == 2.5


@pytest.mark.parametrize(
    "name,args",
    [
        ("rec_open", ["../etc/passwd"]),
        ("rec_open", ["x" * 41]),
        ("rec_open", [7]),
        ("rec_create", [{"code": "TEST-1", "name": "", "birth_year": "", "with_origin": True, "evil": 1}]),
        ("rec_create", [{"code": "TEST-1", "name": "Z" * 201, "birth_year": "", "with_origin": True}]),
        ("rec_create", [{"code": "TEST-1", "name": "", "birth_year": 1800, "with_origin": True}]),
        (
            "rec_diary_add",
            [{"month": "2026-13-01", "headache_days": 3, "migraine_days": None, "acute_days": None, "replace": False}],
        ),
        (
            "rec_diary_add",
            [{"month": "2026-01", "headache_days": 32, "migraine_days": None, "acute_days": None, "replace": False}],
        ),
        ("rec_visit_pdf", [0]),
        ("rec_visit_pdf", ["1"]),
        ("rec_visit_pdf", [2**40]),
        ("rec_sign", [_form(**{f"s{i}": {"given": 1} for i in range(inputs.MAX_VISIT_SITES + 1)})]),
        ("rec_sign", [{**_form(), "expiry": "/etc/passwd"}]),
        ("rec_search", ["Z" * 65]),
    ],
)
def test_the_records_actions_refuse_hostile_arguments(name, args):
    with pytest.raises(InputRefused) as exc:
        check_trigger(None, name, args, {})
    assert len(str(exc.value)) < 400  # the value is quoted cut short (the page hides paths: guard.safe_text)


# ------------------------------------------------------------------------------ loopback only
def test_records_are_served_on_loopback_only_without_an_account(tmp_path):
    from visualizer.app.auth import prepare
    from visualizer.app.serve import build_parser, is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.org", ""))
    db = tmp_path / "r.sqlite3"
    args: argparse.Namespace = build_parser().parse_args(["--host", "0.0.0.0", "--db", f"sqlite:///{db}"])
    opened, problem = prepare(args)
    assert opened is None and problem and "loopback" in problem and "--no-records" in problem
    args = build_parser().parse_args(["--host", "0.0.0.0", "--no-records"])
    assert prepare(args) == (None, None)
    args = build_parser().parse_args(["--db", f"sqlite:///{db}"])
    opened, problem = prepare(args)
    assert problem is None and opened is not None and db.exists()
    opened.dispose()
    args = build_parser().parse_args(["--db", "nonsense://"])
    opened, problem = prepare(args)
    assert opened is None and "nonsense" in (problem or "")


# ------------------------------------------------------------------------------ compare and chart
def _record_for(plan, *, skip: str, units: dict[str, float]) -> dict:
    sites = []
    for s in plan.sites:
        sites.append(
            {
                "site_id": s.id,
                "order": s.order,
                "skipped": s.id == skip,
                "skip_reason": "bruise" if s.id == skip else None,
                "given_units": 0.0 if s.id == skip else units.get(s.id, s.units),
                "extra": False,
                "planned_units": s.units,
            }
        )
    return {
        "id": 3,
        "date": "2026-01-05",
        "protocol": plan.protocol,
        "protocol_name": plan.protocol_name,
        "plan": plan.to_dict(),
        "sites": sites,
        "total_given_units": sum(x["given_units"] for x in sites),
    }


def test_compare_lists_what_differs_and_draws_the_given_sites():
    import visualizer as engine
    from visualizer.records.compare import compare_with_plan

    head = engine.load_head()
    last_plan = engine.make_plan(head, engine.load_protocol("preempt"), engine.PainOrigin.parse(["left-temporal"]))
    first, second = last_plan.sites[0].id, last_plan.sites[1].id
    last = _record_for(last_plan, skip=first, units={second: 2.5})
    same = compare_with_plan(last, last_plan)
    assert len(same.ghosts) == len(last_plan.sites) - 1 and first not in {g.site_id for g in same.ghosts}
    assert f"{first}: skipped last time (bruise)" in same.differences
    assert f"{second}: 2.5 U given last time, {last_plan.sites[1].units:g} U planned today" in same.differences
    today = engine.make_plan(head, engine.load_protocol("glabellar"), None)
    other = compare_with_plan(last, today)
    assert "protocol: last visit PREEMPT, today Glabellar lines" in other.differences
    assert any("pain origin: last visit left-temporal, today none" == d for d in other.differences)
    assert any(d.endswith("not in today's plan") for d in other.differences)
    assert other.to_dict()["sites"] == len(other.ghosts)


def test_outcome_chart_is_a_png_and_empty_without_a_diary():
    from visualizer.records.chart import outcome_chart_png
    from visualizer.records.outcomes import assess

    assert outcome_chart_png({"code": "TEST-1", "outcomes": []}) == b""
    import datetime as dt

    diary = [{"month": f"2025-{m:02d}", "headache_days": d} for m, d in ((7, 20), (8, 22), (9, 21), (11, 18), (12, 17))]
    summary = {"code": "TEST-1", "outcomes": diary, "assessment": assess([dt.date(2025, 10, 1)], diary).to_dict()}
    png = outcome_chart_png(summary)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82") and len(png) > 5000


# ------------------------------------------------------------------------------ the controller
@pytest.fixture
def rec_app(tmp_path, monkeypatch):
    from trame.app import get_server

    from visualizer.app import access

    # the session as the launcher claims it on a server without accounts (the one local user)
    monkeypatch.setattr(access, "_IDENTITY", access.Identity(None, None, "test", False))

    import visualizer as engine
    from visualizer.app.context import AppContext
    from visualizer.app.core import InjectVizApp
    from visualizer.records.db import open_database

    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    open_database(url).dispose()  # created and upgraded, as the front server does before any session
    ctx = AppContext(engine=engine, head=engine.load_head(), options={"records_db": url})
    a = InjectVizApp(get_server(f"rec_app_{tmp_path.name}", client_type="vue3"), ctx)
    a.server.state.ready()
    yield a
    a.close()


def test_the_record_tab_from_patient_to_signed_visit(rec_app):
    a, r = rec_app, rec_app.records
    s = a.state
    a.session.set_pain(["temporal"], "left")
    a._refresh()
    r.rec_create({"code": "TEST-APP1", "with_origin": True})
    assert not s.rec_error and s.rec_patient["usual"] == "left temporal"
    # another origin on the plan: offered as the new usual one, and saved on request
    a.session.set_pain(["occipital"], "both")
    a._refresh()
    assert "differs from the usual one" in s.rec_offer["origin"]
    lock = s.rec_patient["lock"]
    r.rec_save_origin()
    assert s.rec_patient["usual"] == "occipital" and s.rec_patient["lock"] != lock and not s.rec_offer
    # reopening applies the usual origin to the plan at once
    a.session.set_pain([], "both")
    a._refresh()
    r.rec_open("TEST-APP1")
    assert a.session.pain_chips == ["occipital"] and a.session.plan.pain["regions"] == ["occipital"]
    # the visit: refusals are messages on the page, nothing saved
    form = {**s.rec_form, "sites": {k: dict(v) for k, v in s.rec_form["sites"].items()}}
    first = next(iter(form["sites"]))
    form["sites"][first] = {"skip": True, "skip_reason": ""}
    r.rec_sign({**form, "injector": "Dr T", "lot": "L-1", "expiry": "2099-01-01"})
    assert "say why" in s.rec_error and s.rec_visit is None and not s.rec_patient["visits"]
    form["sites"][first] = {"skip": True, "skip_reason": "bruise"}
    r.rec_sign({**form, "injector": "Dr T", "lot": "", "expiry": "2099-01-01"})
    assert s.rec_error.startswith("Lot: required to sign") and s.message == s.rec_error
    r.rec_sign({**form, "injector": "Dr T", "lot": "L-1", "expiry": "2000-01-01"})
    assert "expired before the visit date" in s.rec_error
    r.rec_save_draft({**form, "injector": "Dr T", "lot": "L-1", "expiry": "2099-01-01"})
    assert not s.rec_error and s.rec_visit["status"] == "draft" and not s.message
    r.rec_sign({**s.rec_form, "injector": "Dr T"})
    assert not s.rec_error and s.rec_visit["readonly"]
    visit = s.rec_patient["visits"][0]
    assert visit["lot"] == "L-1" and visit["status"] == "signed"
    # the page names protocols as the Plan tab does, never by their file id
    assert visit["protocol"] == s.rec_visit["protocol"] == s.protocol_name != a.session.protocol.id
    # signed: never changed by a save; amended as a new version
    r.rec_save_draft(s.rec_form)
    assert "signed" in s.rec_error and "Amend" in s.rec_error
    amend = {**s.rec_form, "amend_reason": "lot typo", "lot": "L-2"}
    r.rec_amend(amend)
    assert not s.rec_error and s.rec_visit["version"] == 2 and s.rec_patient["visits"][0]["lot"] == "L-2"
    # compare with the last visit: ghosts in the scene, the skipped site listed
    r.rec_compare()
    assert "rec_ghosts" in a.plotter.actors and s.rec_compare["sites"] == len(a.session.plan.sites) - 1
    assert any(d.startswith(f"{first}: skipped last time (bruise)") for d in s.rec_compare["differences"])
    r.rec_compare_clear()
    assert "rec_ghosts" not in a.plotter.actors and s.rec_compare is None
    # the diary and its chart
    for month, days in (("2026-08", 20), ("2026-09", 22)):
        r.rec_diary_add({"month": month, "headache_days": days, "replace": False})
    assert not s.rec_error and s.rec_chart.startswith("data:image/png;base64,")
    r.rec_diary_add({"month": "2026-08", "headache_days": 3, "replace": False})
    assert "already has this month" in s.rec_error
    # another patient's visit is never served
    r.rec_visit_pdf(999)
    assert "not a visit of the open patient" in s.rec_error
    # the page keeps the open patient in its address (a reload reopens it)
    assert s.saved_inputs["patient"] == "TEST-APP1"


def test_two_sessions_saving_one_draft_the_second_is_refused(rec_app, tmp_path):
    from trame.app import get_server

    from visualizer.app.core import InjectVizApp

    a = rec_app
    a.records.rec_create({"code": "TEST-APP2", "with_origin": True})
    a.records.rec_save_draft({**a.state.rec_form, "injector": "Dr A"})
    assert a.state.rec_visit["status"] == "draft"
    b = InjectVizApp(get_server(f"rec_app_b_{tmp_path.name}", client_type="vue3"), a.context)
    try:
        b.server.state.ready()
        b.records.rec_open("TEST-APP2")
        assert b.state.rec_visit["id"] == a.state.rec_visit["id"]
        b.records.rec_save_draft({**b.state.rec_form, "injector": "Dr B"})
        assert not b.state.rec_error
        a.records.rec_save_draft({**a.state.rec_form, "injector": "Dr A again"})
        assert "changed by someone else" in a.state.rec_error and "nothing was saved" in a.state.rec_error
        assert a.records.records.visit_record(a.state.rec_visit["id"])["injector"] == "Dr B"
    finally:
        b.close()


def test_every_control_of_the_record_tab_has_a_check(rec_app):
    """As tests/test_inputs.py does for the page without records: every key the Record tab writes and
    every action it calls has its check in ``visualizer.app.inputs``."""
    import re

    from visualizer.app.records_panel import TRIGGER_NAMES

    html = rec_app.ui.html
    written = set(re.findall(r'v-model(?::[\w-]+)?="(\w+)"', html))
    for value in re.findall(r'"([^"]*)"', html):
        written |= {m.group(1) for m in re.finditer(r"(?<![\w.'=!<>])([a-z_]\w*)\s*=(?![=>])", value)}
    assert {"rec_query", "rec_amending"} <= written <= set(inputs.STATE), written - set(inputs.STATE)
    names = set(re.findall(r"""trigger\(\s*['"]([\w.-]+)['"]""", html))
    assert set(TRIGGER_NAMES) <= names, set(TRIGGER_NAMES) - names
    from visualizer.app.guard import method_name

    for name in names:
        fn = rec_app.server.controller.trigger_fn(name)
        assert fn is not None and method_name(fn) in inputs.TRIGGERS, name
    # the forms are the page's own: typing is never sent
    assert {"rec_query", "rec_new", "rec_form", "rec_diary", "rec_amending"} <= set(
        rec_app.state.to_dict().get("trame__client_only", [])
    )
