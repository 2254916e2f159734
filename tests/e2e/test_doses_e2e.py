"""The injector picks each site's units within its range, in the browser (issue 11).

Cervical dystonia (laterocollis, 8 sites with ranges, 140 U): a site's field changes the total,
the site table, the 3D view's labels and the patient step-through; a dose outside the range is
refused under its field and changes nothing, and so is one that would break the session's cap
(as ``plan --dose`` refuses it); a reload keeps the chosen dose; a new record visit
plans the chosen units.  The fields fit the panel at 1280x800, 1024x768 and 768x1024.
"""

from __future__ import annotations

import numpy as np
import pytest
from camera_helpers import drag, view_centre, wheel
from e2e_helpers import (
    choose_protocol,
    close_page,
    get_state,
    open_app,
    shot,
    start_app,
    stop_app,
    text,
    view_image,
    wait_state,
    wait_text,
)

LATERO = "laterocollis"  # the protocol list's title contains it
SIZES = ((1280, 800), (1024, 768), (768, 1024))


def _set_dose(page, site: str, units: str) -> None:
    field = page.locator(f"#dose-{site}")
    field.fill(units)
    field.press("Enter")


def _look_around(page) -> None:
    """Drag-rotate and wheel-zoom the view first, as a person would, then back to the front."""
    x, y = view_centre(page)
    drag(page, x, y, 120, 10)
    wheel(page, x, y, 2)
    page.click("#cam-right")  # the right side of the neck: the sites and their labels
    page.wait_for_timeout(1500)


def _view_changes(page, before: np.ndarray, timeout_s: float = 20.0) -> int:
    """Pixels of the 3D view that differ from ``before`` once it changed (0: it never did)."""
    for _ in range(int(timeout_s / 0.5)):
        page.wait_for_timeout(500)
        after = np.asarray(view_image(page)).astype(int)
        if after.shape == before.shape:
            n = int((np.abs(after - before).sum(axis=-1) > 60).sum())
            if n:
                return n
    return 0


@pytest.fixture
def server():
    proc, url, _ = start_app()  # a records database of its own (start_app)
    yield url
    stop_app(proc)


@pytest.mark.timeout(600)
def test_choose_a_dose_reload_and_record_it(browser, server, artifacts):
    page = open_app(browser, server)
    assert page.locator("#dose-panel").count() == 0  # PREEMPT: fixed doses, no fields
    _look_around(page)
    choose_protocol(page, LATERO, "140")
    page.wait_for_selector("#dose-panel", state="visible", timeout=15_000)
    assert page.locator(".iv-dose-row").count() == 8
    assert text(page, "#dose-range-scm_upper") == "range 10\u201340 U"
    assert page.locator("#dose-scm_upper").input_value() == "15"
    page.click("#cam-right")
    page.wait_for_timeout(2000)
    before = np.asarray(view_image(page)).astype(int)

    # a dose inside the range: the total, the site table, the label in the 3D view
    _set_dose(page, "scm_upper", "35")
    wait_text(page, "#total-units", lambda t: t == "160", timeout=30)
    assert text(page, "#row-scm_upper td:nth-child(3)") == "35"
    assert "template 15 U" in text(page, "#dose-range-scm_upper")
    order = next(r["order"] for r in get_state(page, "site_rows") if r["id"] == "scm_upper")
    # the labels are geometry in the view ("1: 35U"; tests/test_doses.py reads their texts): the view changes
    assert _view_changes(page, before) > 0, "the 3D view did not change with the dose (its label)"
    shot(page, artifacts, "doses-chosen-1280x800")

    # outside the range: refused under its field, the field shows the plan's dose again
    _set_dose(page, "scm_middle", "45")
    wait_text(page, "#dose-error-scm_middle", lambda t: "45 U is outside this site's dose (10\u201340 U)" in t)
    assert "Sternocleidomastoid (middle), right: 45 U" in get_state(page, "message")
    page.wait_for_function("() => document.querySelector('#dose-scm_middle').value === '15'", timeout=15_000)
    assert text(page, "#total-units") == "160"
    shot(page, artifacts, "doses-refused-1280x800")
    _set_dose(page, "scm_middle", "20")  # a good value clears the field's error
    wait_text(page, "#total-units", lambda t: t == "165", timeout=30)
    page.wait_for_selector("#dose-error-scm_middle", state="detached", timeout=15_000)

    # the patient step-through says the chosen dose
    page.click("#tab-patient")
    for _ in range(order - 1):
        page.click("#patient-next")
    wait_text(page, "#patient-step", lambda t: t.startswith(f"Site {order} of"))
    wait_text(page, "#patient-dose", lambda t: t == "35 units")
    page.click("#tab-plan")

    # a reload keeps the chosen doses (the page's address)
    page.reload()
    page.wait_for_function(
        "() => { const e = document.querySelector('#total-units'); return e && e.textContent.trim() === '165' }",
        timeout=60_000,
    )
    page.wait_for_selector("#dose-panel", state="visible", timeout=15_000)
    assert page.locator("#dose-scm_upper").input_value() == "35"
    assert page.locator("#dose-scm_middle").input_value() == "20"

    # a new record visit plans the chosen units
    page.click("#tab-record")
    page.wait_for_selector("#record-panel", state="visible", timeout=15_000)
    page.fill("#rec-new-code", "TEST-DOSE1")
    page.click("#rec-create")
    wait_text(page, "#rec-patient-code", lambda t: t == "TEST-DOSE1", timeout=30)
    wait_state(page, "(s.get('rec_rows') || []).length === 8")
    planned = {r["id"]: float(r["planned"]) for r in get_state(page, "rec_rows")}
    assert (planned["scm_upper"], planned["scm_middle"]) == (35, 20), planned
    assert text(page, "#rec-row-scm_upper td:nth-child(3)") == "35"
    page.fill("#rec-injector", "Dr Test")
    page.fill("#rec-lot", "LOT-DOSE-1")
    page.click("#rec-save-draft")
    wait_state(page, "(s.get('rec_notes') || []).some((n) => n.startsWith('Draft saved'))")
    assert not get_state(page, "rec_error")
    visit = get_state(page, "rec_visit")
    assert float(visit["total_planned"]) == 165, visit
    saved = {r["id"]: float(r["planned"]) for r in get_state(page, "rec_rows")}
    assert (saved["scm_upper"], saved["scm_middle"]) == (35, 20), saved
    shot(page, artifacts, "doses-record-1280x800")

    # doses inside their ranges that would break the session's cap (300 U): the change that
    # crosses it is refused under its field, as `plan --dose` refuses it; the plan stays at 295 U
    page.click("#tab-plan")
    for site, units in (
        ("splenius_upper", 50),
        ("splenius_lower", 50),
        ("trapezius_mid", 50),
        ("trapezius_medial", 50),
        ("levator_upper", 30),
    ):
        _set_dose(page, site, str(units))
        wait_text(page, f"#row-{site} td:nth-child(3)", lambda t, u=units: t == str(u), timeout=30)
    before = text(page, "#total-units")
    _set_dose(page, "levator_lower", "30")
    refusal = wait_text(page, "#dose-error-levator_lower", lambda t: "315 U" in t and "300 U" in t, timeout=30)
    assert "total 315 U is more than this protocol's 300 U" in refusal, refusal
    assert "315 U" in get_state(page, "message")
    assert text(page, "#total-units") == before and float(before) <= 300
    assert page.locator("#dose-levator_lower").input_value() != "30"  # the field shows the plan's dose again
    page.locator("#dose-panel").scroll_into_view_if_needed()
    shot(page, artifacts, "doses-over-cap-1280x800")
    assert not page.errors, page.errors  # type: ignore[attr-defined]
    close_page(page)


@pytest.mark.timeout(300)
def test_the_fields_fit_the_panel_at_each_size(browser, server, artifacts):
    for width, height in SIZES:
        page = open_app(browser, server, width=width, height=height)
        choose_protocol(page, LATERO, "140")
        page.wait_for_selector("#dose-panel", state="visible", timeout=15_000)
        page.locator("#dose-row-levator_lower").scroll_into_view_if_needed()
        panel = page.locator("#dose-panel").bounding_box()
        for site in ("scm_upper", "levator_lower"):
            field = page.locator(f"#dose-row-{site} .iv-dose-field").bounding_box()
            label = page.locator(f"#dose-row-{site} .iv-dose-label").bounding_box()
            assert field["width"] >= 80 and field["height"] >= 32  # a finger's target
            assert panel["x"] <= label["x"] and label["x"] + label["width"] <= field["x"] + 1  # side by side
            assert field["x"] + field["width"] <= min(panel["x"] + panel["width"], width) + 1  # inside the panel
        shot(page, artifacts, f"doses-panel-{width}x{height}")
        close_page(page)
