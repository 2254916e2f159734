"""The app in a real browser (Chromium + Playwright), against ``python app.py`` on a free port.

Run: ``pytest tests/e2e``. Screenshots of every view are written to ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import re

import pytest
from e2e_helpers import (
    choose_protocol,
    head_box,
    open_app,
    set_state,
    shot,
    skin_fraction,
    text,
    view_image,
    wait_for_head,
    wait_text,
)


def _units(page) -> float:
    return float(text(page, "#total-units"))


def _choose_protocol(page, protocol_id: str) -> None:
    choose_protocol(page, _PROTOCOL_TITLES[protocol_id])


_PROTOCOL_TITLES = {
    "preempt": "PREEMPT — chronic migraine, fixed-site",
    "preempt-ftp": "PREEMPT with follow-the-pain",
    "glabellar": "Glabellar lines",
}


def _click_temple(page, side: str = "left") -> None:
    """Turn to a side view and click the upper part of the head (temple/parietal area)."""
    page.locator(f"#cam-{side}").click()
    page.wait_for_timeout(1200)
    box = head_box(page, top_fraction=0.45)
    x = (box["x0"] + box["x1"]) / 2
    y = box["y0"] + 0.4 * (box["y1"] - box["y0"])
    page.mouse.click(x, y)


def test_page_draws_head(page, artifacts):
    """The 3D canvas shows the head (skin pixels), the totals of the default protocol are shown."""
    assert page.locator("#view-3d canvas").count() == 1, "vtk.js canvas (local rendering) expected"
    frac = skin_fraction(view_image(page))
    assert frac > 0.08, f"only {frac:.1%} of the canvas looks like skin"
    assert _units(page) == 155
    assert text(page, "#total-sites") == "31"
    rows = page.locator("#site-table tbody tr")
    assert rows.count() == 31
    assert "teaching aid" in text(page, "#disclaimer")  # the app says what it is, on every tab
    shot(page, artifacts, "plan-front")
    assert not page.errors  # type: ignore[attr-defined]


def test_protocol_change_changes_totals(page, artifacts):
    """preempt 155 U -> glabellar 20 U -> preempt-ftp with pain: more than 155, at most 195."""
    assert _units(page) == 155
    _choose_protocol(page, "glabellar")
    wait_text(page, "#total-units", lambda t: t == "20")
    assert text(page, "#total-sites") == "5"
    _choose_protocol(page, "preempt-ftp")
    wait_text(page, "#total-units", lambda t: t == "155")
    page.locator("#chip-temporal").click()
    page.locator("#chip-occipital").click()
    wait_text(page, "#pain-summary", lambda t: "temple" in t and "back of the head" in t)
    page.wait_for_timeout(300)
    units = float(wait_text(page, "#total-units", lambda t: float(t) > 155))
    assert 155 < units <= 195
    n_ftp = int(text(page, "#total-ftp"))
    assert n_ftp == (units - 155) / 5
    # the per-muscle table adds up to the total shown
    per = page.locator("#per-muscle tbody tr td:nth-child(3)").all_inner_texts()
    assert sum(float(u) for u in per) == units
    shot(page, artifacts, "plan-ftp-regions")


def _pain_x(page) -> float:
    """x of the pain point (mesh frame = head frame of the default head; the page shows words)."""
    return float(page.evaluate("() => window.trame.state.get('pain_point')[0]"))


def test_click_sets_pain_origin_and_adds_sites_on_that_side(page, artifacts):
    _choose_protocol(page, "preempt-ftp")
    wait_text(page, "#total-units", lambda t: t == "155")
    assert "none" in text(page, "#pain-point")
    _click_temple(page, "left")
    wait_text(page, "#pain-point", lambda t: "left" in t)
    units = float(wait_text(page, "#total-units", lambda t: float(t) > 155))
    assert units <= 195
    where = [
        row.locator("td:nth-child(2) .iv-where-text").inner_text()
        for row in page.locator("#site-table tbody tr").all()
        if row.locator(".v-chip").count()
    ]
    assert where and all(w.lower().startswith("left") for w in where), where
    # the point is on the left (x < 0 in the default head's frame)
    assert _pain_x(page) < 0
    page.wait_for_timeout(800)
    shot(page, artifacts, "plan-click-left-temple")


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_rotate_drag_is_not_a_click(page, mode):
    if mode == "remote":
        page.locator("#mode-remote").click()
        page.wait_for_selector("#view-3d img", timeout=20000)
        wait_for_head(page)
    _choose_protocol(page, "preempt-ftp")
    wait_text(page, "#total-units", lambda t: t == "155")
    box = head_box(page, top_fraction=0.45)
    x = (box["x0"] + box["x1"]) / 2
    y = (box["y0"] + box["y1"]) / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x + 4 * i, y + i)
    page.mouse.up()
    page.wait_for_timeout(1500)
    assert "none" in text(page, "#pain-point")
    assert _units(page) == 155
    # ... while a click at the same place does set it
    page.mouse.click(x + 80, y + 20)
    wait_text(page, "#pain-point", lambda t: "none" not in t)


def test_row_selection_highlights(page):
    row = page.locator("#site-table tbody tr").nth(4)
    row.click()
    page.wait_for_function("() => document.querySelectorAll('#site-table tr.iv-selected').length === 1")
    assert "iv-selected" in (row.get_attribute("class") or "")


def test_patient_step_through_advances(page, artifacts):
    page.locator("#tab-patient").click()
    wait_text(page, "#patient-step", lambda t: t == "Site 1 of 31")
    first_where = text(page, "#patient-where")
    assert "unit" in text(page, "#patient-dose")
    page.locator("#patient-next").click()
    wait_text(page, "#patient-step", lambda t: t == "Site 2 of 31")
    page.locator("#patient-play").click()
    wait_text(page, "#patient-step", lambda t: t == "Site 3 of 31", timeout=12)
    page.locator("#patient-pause").click()
    assert first_where
    assert "What is normal" in text(page, "#aftercare")
    page.wait_for_timeout(1200)
    shot(page, artifacts, "patient")


def test_quiz_answer_is_scored(page, artifacts):
    page.locator("#tab-trainer").click()
    page.locator("#quiz-start").click()
    wait_text(page, "#quiz-prompt", lambda t: t.startswith("Find site "))
    assert text(page, "#quiz-progress") == "Site 1 of 31"
    page.wait_for_timeout(800)
    box = head_box(page, top_fraction=0.45)
    page.mouse.click((box["x0"] + box["x1"]) / 2, box["y0"] + 0.35 * (box["y1"] - box["y0"]))
    res = wait_text(page, "#quiz-result", lambda t: "mm" in t)
    m = re.search(r"Error ([\d.]+) mm over the skin .* score (\d+)", res)
    assert m, res
    assert float(m.group(1)) >= 0 and 0 <= int(m.group(2)) <= 100
    page.wait_for_timeout(800)
    shot(page, artifacts, "trainer-answer")
    page.locator("#quiz-next").click()
    wait_text(page, "#quiz-progress", lambda t: t == "Site 2 of 31")


def test_two_browsers_do_not_share_a_patient(browser, app_url):
    a = open_app(browser, app_url)
    b = open_app(browser, app_url)
    try:
        _choose_protocol(a, "preempt-ftp")
        wait_text(a, "#total-units", lambda t: t == "155")
        a.locator("#chip-temporal").click()
        wait_text(a, "#total-units", lambda t: float(t) > 155)
        a.locator("#tab-trainer").click()
        a.locator("#quiz-start").click()
        wait_text(a, "#quiz-prompt", lambda t: t.startswith("Find site "))
        b.wait_for_timeout(1000)
        assert text(b, "#total-units") == "155"
        assert b.evaluate("() => window.trame.state.get('pain_chips')") == []
        assert "preempt" in b.evaluate("() => window.trame.state.get('protocol_id')")
        assert b.evaluate("() => window.trame.state.get('protocol_id')") == "preempt"
        assert b.evaluate("() => window.trame.state.get('quiz')") is None
    finally:
        a.context.close()
        b.context.close()


def test_bad_requests_show_a_message_and_the_server_lives(page):
    set_state(page, "protocol_id", "no-such-protocol")
    wait_text(page, "#message", lambda t: "no-such-protocol" in t)
    wait_text(page, "#total-units", lambda t: t == "155")
    set_state(page, "pain_chips", ["elbow"])
    wait_text(page, "#message", lambda t: "elbow" in t)
    set_state(page, "pain_side", "sideways")
    wait_text(page, "#message", lambda t: "sideways" in t)
    set_state(page, "selected_site", "nope")
    wait_text(page, "#message", lambda t: "nope" in t)
    # a click off the head (right edge of the view: background) when a click sets the pain origin
    _choose_protocol(page, "preempt-ftp")
    wait_text(page, "#total-units", lambda t: t == "155")
    box = page.locator("#view-3d").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 25, box["y"] + box["height"] * 0.3)
    wait_text(page, "#message", lambda t: "missed the head" in t or "not on the head" in t)
    # still working
    page.locator("#chip-temporal").click()
    wait_text(page, "#pain-summary", lambda t: "temple" in t)


def test_downloads(page, artifacts):
    page.locator("#download-menu").click()
    with page.expect_download() as d:
        page.locator("#download-json").click()
    data = json.loads(open(d.value.path()).read())
    assert len(data["sites"]) == 31 and data["total_units"] == 155
    page.locator("#download-menu").click()
    with page.expect_download() as d:
        page.locator("#download-csv").click()
    csv_text = open(d.value.path()).read()
    assert csv_text.splitlines()[0].startswith("order,")
    page.locator("#download-menu").click()
    with page.expect_download() as d:
        page.locator("#download-png").click()
    png = open(d.value.path(), "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
    (artifacts / "download-view.png").write_bytes(png)


def test_server_rendering_fallback_and_picking(page, artifacts):
    page.locator("#mode-remote").click()
    page.wait_for_selector("#view-3d img", timeout=20000)
    wait_for_head(page)
    _choose_protocol(page, "preempt-ftp")
    wait_text(page, "#total-units", lambda t: t == "155")
    _click_temple(page, "right")
    wait_text(page, "#pain-point", lambda t: "right" in t)
    wait_text(page, "#total-units", lambda t: float(t) > 155)
    assert _pain_x(page) > 0
    page.wait_for_timeout(1500)
    shot(page, artifacts, "plan-remote-right-temple")


def test_tablet_layout(browser, app_url, artifacts):
    p = open_app(browser, app_url, width=1024, height=768)
    try:
        assert p.locator("#side-panel").is_visible()
        vb = p.locator("#view-3d").bounding_box()
        assert vb["width"] > 500 and vb["height"] > 600
        shot(p, artifacts, "tablet-1024x768")
    finally:
        p.context.close()


def test_landmark_picking_mode(page, artifacts):
    page.locator("#click-landmark").click()
    _click_temple(page, "left")
    moved = wait_text(page, "#moved-landmarks", lambda t: "left tragus" in t)
    assert "left tragus" in moved
    assert page.evaluate("() => window.trame.state.get('pain_point')") is None  # a landmark click sets no pain origin
    page.wait_for_timeout(800)
    shot(page, artifacts, "plan-landmark-mode")
    page.locator("#landmarks-reset").click()
    page.wait_for_function("() => !document.querySelector('#moved-landmarks')")


def test_information_is_a_quiet_note_not_a_warning(page, artifacts):
    """An origin no eligible muscle can serve (neck only) is information: a note, no warning box.
    (Real safety warnings over the view: tests/e2e/test_plan_tab_e2e.py.)"""
    _choose_protocol(page, "preempt-ftp")
    wait_text(page, "#total-units", lambda t: t == "155")
    page.locator("#chip-neck").click()
    page.wait_for_selector("#panel-notes [data-code=ftp_region_not_eligible]")
    assert "neck" in text(page, "#panel-notes")
    assert page.locator("#view-warnings").count() == 0 and page.locator("#panel-warnings").count() == 0
    shot(page, artifacts, "plan-note")
