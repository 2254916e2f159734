"""The patient's record in the browser (issue 8): a patient with a usual pain origin, a signed visit with
a skipped site and a lot, reload, compare with the last visit, the diary chart, the PDF, two browsers on
one draft, and the refusal to serve records off loopback.

Each test starts its own server on a database of its own (``--db`` in the test's temporary folder).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from e2e_helpers import (
    ROOT,
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

CODE = "TEST-E2E1"
LOT = "LOT-E2E-7"  # typed at first
LOT2 = "LOT-E2E-8"  # the amendment's
PDF_TIMEOUT_MS = 180_000  # four offscreen renders on a loaded 2-core machine


def _record_tab(page) -> None:
    page.click("#tab-record")
    page.wait_for_selector("#record-panel", state="visible", timeout=15_000)


def _wait_title(page, predicate, artifacts, name: str) -> str:
    """The visit's title once ``predicate`` holds; else fail with the page's own message (and a picture)."""
    try:
        return wait_text(page, "#rec-visit-title", predicate, timeout=30)
    except AssertionError as exc:
        shot(page, artifacts, f"records-failed-{name}")
        raise AssertionError(
            f"{exc}; page says: {get_state(page, 'rec_error') or get_state(page, 'message')!r}"
        ) from None


def _no_error(page) -> None:
    err = get_state(page, "rec_error")
    assert not err, err


@pytest.fixture
def server(tmp_path):
    proc, url, _ = start_app("--db", f"sqlite:///{tmp_path / 'records.sqlite3'}")
    yield proc, url
    stop_app(proc)


@pytest.mark.timeout(900)  # one story of ~20 steps with two browsers and a PDF: 2.5-3 min on a loaded 2-core box
def test_patient_visit_reload_compare_diary_pdf(browser, server, artifacts, tmp_path):
    _proc, url = server
    a = open_app(browser, url)
    # today's plan: PREEMPT with follow-the-pain, left temporal pain; a new patient takes both as usual
    a.locator("#protocol-select .v-field").click()
    a.locator(".v-overlay-container .v-list-item", has_text="PREEMPT with follow-the-pain").first.click()
    wait_state(a, "s.get('protocol_id') === 'preempt-ftp'")
    a.click("#chip-temporal")
    a.click("#side-temporal-left")
    wait_state(a, "JSON.stringify(s.get('pain_chips')) === '[\"left-temporal\"]'")
    _record_tab(a)
    a.fill("#rec-new-code", CODE)
    a.click("#rec-create")
    wait_text(a, "#rec-patient-code", lambda t: t == CODE, timeout=30)
    assert "left temporal" in text(a, "#rec-usual")
    _no_error(a)

    # close it, clear the pain origin, reopen it: the usual origin is applied to the plan at once
    a.click("#rec-close")
    a.wait_for_selector("#rec-choose", timeout=15_000)
    a.click("#tab-plan")
    a.click("#pain-clear")
    wait_text(a, "#pain-summary", lambda t: t == "none set", timeout=30)
    _record_tab(a)
    a.fill("#rec-query", "e2e1")
    a.click("#rec-search")
    a.click(f"#rec-open-{CODE}")
    wait_text(a, "#rec-patient-code", lambda t: t == CODE, timeout=30)
    wait_state(a, "JSON.stringify(s.get('pain_chips')) === '[\"left-temporal\"]'")
    # a change of origin offers to save it as the usual one
    a.click("#tab-plan")
    a.click("#chip-occipital")
    wait_state(a, "(s.get('pain_chips') || []).some((c) => c.endsWith('occipital'))")
    _record_tab(a)
    a.wait_for_selector("#rec-offer-origin", timeout=15_000)
    assert "differs from the usual one" in text(a, "#rec-offer-origin")
    a.click("#tab-plan")
    a.click("#chip-occipital")  # back to the usual origin: the offer goes
    wait_state(a, "!(s.get('pain_chips') || []).some((c) => c.endsWith('occipital'))")
    _record_tab(a)
    a.wait_for_selector("#rec-offer-origin", state="detached", timeout=15_000)

    # the visit: one site skipped with its reason, lot, expiry, injector; a refusal first
    rows = get_state(a, "rec_rows")
    assert len(rows) >= 31, len(rows)
    skipped = rows[0]["id"]
    expected_given = float(get_state(a, "totals")["units"]) - float(rows[0]["planned"])
    a.locator(f"#rec-skip-{skipped}").check()
    a.fill(f"#rec-reason-{skipped}", "bruise at the site")
    a.fill("#rec-injector", "Dr Test")
    a.fill("#rec-expiry", "2099-01-31")
    a.click("#rec-sign")
    wait_text(a, "#rec-error", lambda t: t.startswith("Lot: required to sign"), timeout=30)
    a.fill("#rec-lot", LOT)
    a.click("#rec-save-draft")
    wait_text(a, "#rec-visit-title", lambda t: "draft" in t, timeout=30)
    _no_error(a)

    # a second browser opens the same patient (its draft) and saves it: the first browser's save is refused
    b = open_app(browser, url)
    _record_tab(b)
    b.fill("#rec-query", CODE)
    b.click("#rec-search")
    b.click(f"#rec-open-{CODE}")
    wait_text(b, "#rec-visit-title", lambda t: "draft" in t, timeout=30)
    b.fill("#rec-injector", "Dr Second")
    b.click("#rec-save-draft")
    wait_state(b, "(s.get('rec_notes') || []).some((n) => n.startsWith('Draft saved'))")
    _no_error(b)
    a.click("#rec-sign")
    wait_text(a, "#rec-error", lambda t: "changed by someone else" in t, timeout=30)
    shot(a, artifacts, "records-stale-refused")
    close_page(b)
    # the first browser reopens the draft (now with the second's injector) and signs it
    visit_id = get_state(a, "rec_visit")["id"]
    a.click(f"#rec-visit-{visit_id}")
    wait_state(a, "(s.get('rec_form') || {}).injector === 'Dr Second'")
    a.click("#rec-sign")
    _wait_title(a, lambda t: "signed" in t, artifacts, "sign")
    _no_error(a)
    a.wait_for_selector("#rec-readonly", timeout=10_000)
    assert a.locator("#rec-lot").is_disabled()
    shot(a, artifacts, "records-signed")
    # amend it: a new version with its reason (the signed one is kept)
    a.click("#rec-amend-open")
    a.fill("#rec-lot", LOT2)
    a.fill("#rec-amend-reason", "lot number typo")
    a.click("#rec-amend")
    _wait_title(a, lambda t: "version 2" in t, artifacts, "amend")
    _no_error(a)

    # reload: the patient and the signed visit are there
    a.reload()
    a.wait_for_function(
        "() => { const e = document.querySelector('#total-units'); return e && e.textContent.trim().length > 0 }",
        timeout=60_000,
    )
    wait_state(a, f"(s.get('rec_patient') || {{}}).code === '{CODE}'", timeout_ms=60_000)
    if not a.locator("#record-panel").is_visible():
        _record_tab(a)
    row = wait_text(a, f"#rec-visit-{visit_id}", lambda t: LOT2 in t, timeout=30)
    assert "signed" in row and f"{expected_given:g}" in row, row  # the plan's total less the skipped site

    # compare with the last visit: ghost markers drawn in the view, the differences listed
    a.click("#cam-front")
    a.wait_for_timeout(1500)
    before = np.asarray(view_image(a)).astype(int)
    a.click("#rec-compare")
    wait_text(a, "#rec-compare-title", lambda t: "sites drawn" in t, timeout=30)
    diffs = text(a, "#rec-differences")
    assert f"{skipped}: skipped last time (bruise at the site)" in diffs, diffs
    changed = 0
    for _ in range(40):
        a.wait_for_timeout(500)
        after = np.asarray(view_image(a)).astype(int)
        if after.shape == before.shape:
            changed = int((np.abs(after - before).sum(axis=2) > 60).sum())
            if changed > 300:
                break
    shot(a, artifacts, "records-compare")
    assert changed > 300, f"the ghost markers did not show in the view ({changed} pixels changed)"

    # the headache diary: three baseline months, then the chart
    for month, days in (("2026-08", 21), ("2026-09", 19), ("2026-10", 23)):
        a.fill("#rec-diary-month", month)
        a.fill("#rec-diary-days", str(days))
        a.click("#rec-diary-add")
        wait_state(a, f"(s.get('rec_patient') || {{}}).outcomes.some((o) => o.month === '{month}')")
    _no_error(a)
    a.wait_for_function(
        "() => { const i = document.querySelector('#rec-chart'); return i && i.complete && i.naturalWidth > 300 }",
        timeout=30_000,
    )
    assert "21" in text(a, "#rec-baseline")
    a.locator("#rec-outcomes").scroll_into_view_if_needed()
    shot(a, artifacts, "records-diary-chart")

    # the visit record as PDF, from the page (the signed visit opened from the history)
    a.click(f"#rec-visit-{visit_id}")
    wait_text(a, "#rec-visit-title", lambda t: f"Visit {visit_id}" in t and "signed" in t, timeout=30)
    with a.expect_download(timeout=PDF_TIMEOUT_MS) as dl:
        a.click("#rec-pdf")
    pdf = tmp_path / "visit.pdf"
    dl.value.save_as(str(pdf))
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:], data[:16]
    if shutil.which("pdftotext"):
        words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
        assert CODE in words and LOT2 in words and "bruise at the site" in words, words[:500]
        assert "lot number typo" in words and "version 2 of 2" in words, words[:800]
    assert not a.errors, a.errors  # type: ignore[attr-defined]
    close_page(a)


def test_records_are_refused_off_loopback(tmp_path):
    t0 = time.time()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "app.py"),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--db",
            f"sqlite:///{tmp_path / 'r.sqlite3'}",
        ],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
    assert "loopback" in proc.stderr and "--no-records" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.sqlite3").exists()  # refused before anything was opened
    assert time.time() - t0 < 60
