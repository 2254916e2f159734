"""Accounts in the real app (``app.py --db``): login page, roles in the front AND in the session process.

One server for the module, with an injector (alice), a trainer (tom) and a viewer (vera), and a
test patient.  Chromium logs in through the login page; a trainer's page is refused the record
both as an HTTP page and over its websocket (the session process knows its user's role from the
launcher, not from the browser), and every read lands in the audit log.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_helpers import start_app, stop_app, wait_for_head

PASSWORD = "correct horse battery"
SECRET_NAME = "Test Person Alpha"  # the record's display name: must never reach a trainer's page


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    from visualizer.records.accounts import Accounts
    from visualizer.records.db import open_database
    from visualizer.records.service import Records

    folder = tmp_path_factory.mktemp("clinic")
    url = f"sqlite:///{folder / 'records.sqlite3'}"
    db = open_database(url)
    a = Accounts(db)
    for name, role in (("alice", "injector"), ("tom", "trainer"), ("vera", "viewer")):
        a.add(name, role, PASSWORD)
    Records(db).add_patient("TEST-0001", name=SECRET_NAME, pain_regions=["left-temporal"])
    db.dispose()
    proc, base, _ = start_app("--db", url, "--pool", "1", "--session-idle", "5")
    yield url, base.rstrip("/"), proc
    stop_app(proc)


def audit(url: str, **kw) -> list[dict]:
    from visualizer.records.audit import entries
    from visualizer.records.db import open_database

    db = open_database(url)
    try:
        return entries(db, **kw)
    finally:
        db.dispose()


def health(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/health", timeout=10) as r:
        return json.loads(r.read())


APP_READY = "() => { const e = document.querySelector('#total-units'); return e && e.textContent.trim().length > 0 }"
PATIENT_TAB = "() => window.trame && window.trame.state && window.trame.state.get('tab') === 'patient'"


def log_in(browser, base: str, name: str, ready: str = APP_READY):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    frames: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived", lambda f: frames.append(f if isinstance(f, str) else bytes(f).decode("latin-1"))
        ),
    )
    page.frames_seen = frames  # type: ignore[attr-defined]
    r = page.goto(base + "/")
    assert r is not None and r.status == 401
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_function(ready, timeout=60_000)
    return page


def test_no_login_no_data_and_no_session_process(clinic):
    import aiohttp

    _, base, _ = clinic
    before = health(base)
    for path in ("/", "/index.html", "/records/patient/TEST-0001"):
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(base + path, timeout=10)
        assert exc.value.code == 401
        assert SECRET_NAME not in exc.value.read().decode()
    req = urllib.request.Request(f"{base}/paraview/", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)
    assert exc.value.code == 401

    async def ws() -> int:
        async with aiohttp.ClientSession() as http:
            try:
                await http.ws_connect(f"{base}/proxy/{'a' * 32}", origin=base)
            except aiohttp.WSServerHandshakeError as e:
                return e.status
        return 101

    # in a thread of its own: the session-scoped Playwright of the browser tests may hold this thread's loop
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        assert ex.submit(asyncio.run, ws()).result(timeout=60) == 401
    after = health(base)
    assert after["sessions"] == before["sessions"] == 0  # nobody was handed a session process


def test_trainer_is_refused_the_record_on_the_page_and_over_the_websocket(browser, clinic, artifacts):
    url, base, _ = clinic
    page = log_in(browser, base, "tom")
    try:
        wait_for_head(page)
        assert page.inner_text("#injectviz-user-name") == "tom"
        # a trainer is offered plans, the patient view and the quiz, not the Record tab
        page.wait_for_selector("#tab-trainer", timeout=10_000)
        assert page.locator("#tab-plan").count() == 1 and page.locator("#tab-record").count() == 0
        # over the websocket: the session process itself refuses (its user is a trainer)
        result = page.evaluate("() => window.trame.trigger('records_patient', ['TEST-0001'])")
        assert result is None
        deadline = time.time() + 10
        while time.time() < deadline and "no access to patient records" not in page.content():
            page.wait_for_timeout(200)
        assert "no access to patient records" in page.content()
        page.screenshot(path=str(artifacts / "login_trainer_refused.png"))
        assert not any(SECRET_NAME in f for f in page.frames_seen)  # type: ignore[attr-defined]
        # the HTTP page refuses too (same login: same browser context)
        other = page.context.new_page()
        r = other.goto(base + "/records/patient/TEST-0001")
        assert r is not None and r.status == 403 and SECRET_NAME not in other.content()
        assert "no access to patient records" in other.content()
    finally:
        page.context.close()
    denied = [e for e in audit(url, user="tom") if e["outcome"] == "denied"]
    assert {(e["action"], e["patient"]) for e in denied} == {("patient_summary", "TEST-0001")}
    assert len(denied) == 2 and all(e["source"] == "127.0.0.1 (app)" for e in denied)


def test_injector_reads_the_record_and_the_audit_shows_it(browser, clinic):
    url, base, _ = clinic
    page = log_in(browser, base, "alice")
    try:
        wait_for_head(page)
        summary = page.evaluate("() => window.trame.trigger('records_patient', ['TEST-0001'])")
        assert summary["code"] == "TEST-0001" and summary["name"] == SECRET_NAME
        # an injector may open the Record tab (its tab check names the records permission)
        page.click("#tab-record", timeout=10_000)
        page.wait_for_function("() => window.trame.state.get('tab') === 'record'", timeout=10_000)
        assert "lock_version" not in summary
        other = page.context.new_page()
        r = other.goto(base + "/records/patient/TEST-0001")
        assert r is not None and r.status == 200
        assert other.inner_text("#patient-name") == SECRET_NAME
        other.close()
        # log out: back to the login page, and the launcher is closed again
        token = next(c["value"] for c in page.context.cookies() if c["name"] == "injectviz_session")
        page.click("#injectviz-logout")
        page.wait_for_selector("#login", timeout=10_000)
        assert "You were logged out" in page.content()
        assert not [c for c in page.context.cookies() if c["name"] == "injectviz_session"]
        req = urllib.request.Request(
            f"{base}/paraview/", data=b"{}", method="POST", headers={"Cookie": f"injectviz_session={token}"}
        )
        with pytest.raises(urllib.error.HTTPError) as exc:  # the old cookie is dead on the server, too
            urllib.request.urlopen(req, timeout=10)
        assert exc.value.code == 401
    finally:
        page.context.close()
    reads = [e for e in audit(url, user="alice", patient="TEST-0001") if e["action"] == "patient_summary"]
    assert len(reads) == 2 and all(e["outcome"] == "ok" and e["role"] == "injector" for e in reads)
    logins = [e["action"] for e in audit(url, user="alice") if e["action"] in ("login", "logout")]
    assert logins[-2:] == ["login", "logout"]


def test_viewer_gets_the_patient_view_only(browser, clinic, artifacts):
    _, base, _ = clinic
    page = log_in(browser, base, "vera", ready=PATIENT_TAB)
    try:
        wait_for_head(page)
        page.screenshot(path=str(artifacts / "login_viewer.png"))
        # only the patient view is offered: no Plan, Trainer or Record tab on the page
        page.wait_for_selector("#tab-patient", timeout=10_000)
        for tab in ("#tab-plan", "#tab-trainer", "#tab-record"):
            assert page.locator(tab).count() == 0, tab
        page.evaluate("() => window.trame.state.set('tab', 'plan')")  # what a crafted page would do
        page.wait_for_timeout(1500)
        assert page.evaluate("() => window.trame.state.get('tab')") == "patient"
        assert page.evaluate("() => window.trame.trigger('records_patient', ['TEST-0001'])") is None
    finally:
        page.context.close()


def test_a_login_that_ends_closes_the_pages_websocket_and_the_page_shows_the_login(browser, clinic):
    _, base, _ = clinic
    page = log_in(browser, base, "alice")
    try:
        page.evaluate("() => { window.__iv_marker = 1 }")
        # the same login logs out elsewhere (the context's cookies, not this page)
        r = page.context.request.post(base + "/logout", max_redirects=0)
        assert r.status == 303
        # the app page: its websocket is closed by the server, it polls, gets 401 and reloads -> login form
        page.wait_for_selector("#login", timeout=30_000)
        assert page.evaluate("() => window.__iv_marker === undefined")  # it really reloaded
    finally:
        page.context.close()


# last: it leaves 127.0.0.1 throttled for a while
def test_failed_logins_are_throttled(clinic):
    _, base, _ = clinic

    def attempt(password: str) -> int:
        data = f"name=vera&password={password}".encode()
        req = urllib.request.Request(
            f"{base}/login", data=data, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert [attempt("not-the-password") for _ in range(5)] == [401] * 5
    assert attempt(PASSWORD.replace(" ", "+")) == 429  # right password, but it must wait now
