"""Faults in a real browser: reload and server restart keep the patient's inputs; downloads are checked.

* A reload restores protocol, pain regions and side, pain point, follow-the-pain, moved landmarks
  and tab (kept in the page's address, validated again by the server).
* ``kill -9`` of the server: the open page says the connection is lost, and when the server is
  started again on the same port it reconnects by itself and shows the head with the same inputs.
"""

from __future__ import annotations

import json
import time
from urllib.parse import unquote, urlparse

from e2e_helpers import choose_protocol, head_box, open_app, shot, start_app, stop_app, text, wait_for_head, wait_text

_INPUTS_JS = """() => { const s = window.trame && window.trame.state;
  if (!s || !s.get('totals') || window.__before_restart) { return null; }
  return { protocol: s.get('protocol_id'), chips: s.get('pain_chips'), side: s.get('pain_side'),
           point: s.get('pain_point'), ftp: s.get('follow_the_pain'), moved: s.get('moved_landmarks'),
           tab: s.get('tab'), units: s.get('totals').units, sites: s.get('totals').sites } }"""


def _inputs(page) -> dict | None:
    try:
        return page.evaluate(_INPUTS_JS)
    except Exception:  # the page is navigating (reload)
        return None


def _wait_inputs(page, expected: dict, timeout: float = 60.0) -> dict:
    t0 = time.time()
    got = None
    while time.time() - t0 < timeout:
        got = _inputs(page)
        if got is not None and _same(got, expected):
            return got
        time.sleep(0.25)
    raise AssertionError(f"inputs never came back: {got} != {expected}")


def _same(a: dict, b: dict) -> bool:
    for k, v in b.items():
        if k == "point":
            if (v is None) != (a.get(k) is None):
                return False
            if v is not None and max(abs(x - y) for x, y in zip(a[k], v, strict=True)) > 0.2:
                return False
        elif a.get(k) != v:
            return False
    return True


def _click_head(page, side: str, fx: float, fy: float) -> None:
    page.locator(f"#cam-{side}").click()
    page.wait_for_timeout(1200)
    box = head_box(page, top_fraction=0.45)
    page.mouse.click(box["x0"] + fx * (box["x1"] - box["x0"]), box["y0"] + fy * (box["y1"] - box["y0"]))


def _enter_inputs(page, *, landmark: bool) -> dict:
    """Set every kind of input by hand, as a user would; returns them as the page shows them."""
    choose_protocol(page, "PREEMPT with follow-the-pain")
    wait_text(page, "#total-units", lambda t: t == "155")
    page.locator("#chip-temporal").click()
    page.locator("#side-temporal-left").click()
    page.locator("#chip-neck").click()
    page.locator("#side-neck-left").click()
    wait_text(page, "#pain-summary", lambda t: "left temple" in t and "left neck" in t)
    _click_head(page, "left", 0.5, 0.4)
    wait_text(page, "#pain-point", lambda t: "none" not in t)
    if landmark:
        page.locator("#click-landmark").click()
        page.wait_for_timeout(500)
        _click_head(page, "left", 0.45, 0.75)  # moves the default landmark (left tragus)
        wait_text(page, "#moved-landmarks", lambda t: "left tragus" in t)
        page.locator("#click-pain").click()
    page.locator("#switch-ftp").click()
    page.locator("#tab-trainer").click()
    page.wait_for_timeout(1500)
    got = _inputs(page)
    assert got is not None
    assert got["protocol"] == "preempt-ftp" and got["chips"] == ["left-temporal", "left-neck"]
    assert got["point"] is not None and got["ftp"] is False and got["tab"] == "trainer"
    assert got["moved"] == (["left_tragus"] if landmark else [])
    return got


def _saved_in_address(page) -> dict:
    h = page.evaluate("() => window.location.hash")
    assert h.startswith("#iv="), h
    return json.loads(unquote(h[4:]))


def test_reload_restores_inputs(page, artifacts):
    before = _enter_inputs(page, landmark=True)
    saved = _saved_in_address(page)
    assert saved["protocol"] == "preempt-ftp" and saved["tab"] == "trainer" and "left_tragus" in saved["landmarks"]
    page.reload()
    wait_for_head(page)
    after = _wait_inputs(page, before, timeout=30)
    assert after["units"] == before["units"] and after["sites"] == before["sites"]
    shot(page, artifacts, "faults-reload-restored")
    assert not page.errors  # type: ignore[attr-defined]


def test_restored_inputs_are_checked_like_any_input(browser, app_url):
    """A doctored address is browser input: refused with a message, the defaults stay."""
    bad = {
        "v": 1,
        "protocol": "/etc/passwd",
        "regions": ["temporal"],
        "side": "both",
        "point": None,
        "ftp": True,
        "landmarks": {},
        "tab": "plan",
    }
    url = app_url + "index.html#iv=" + json.dumps(bad)
    page = open_app(browser, url)
    try:
        msg = wait_text(page, "#message", lambda t: "protocol" in t)
        assert "/etc/" not in msg and "unknown protocol" in msg
        assert _inputs(page)["protocol"] == "preempt" and _inputs(page)["chips"] == []
        far = dict(bad, protocol="preempt-ftp", point=[0.0, 900.0, 0.0])
        page.evaluate(f"() => window.trame.trigger('restore_inputs', [{json.dumps(far)}])")
        wait_text(page, "#message", lambda t: "mm from the skin" in t)
        assert _inputs(page)["protocol"] == "preempt"  # all or nothing
    finally:
        page.context.close()


def test_reconnects_by_itself_after_kill_9_and_restart(browser, artifacts):
    proc, url, _ = start_app()
    port = urlparse(url).port
    try:
        page = open_app(browser, url)
        page.locator("#tab-plan").click()
        choose_protocol(page, "PREEMPT with follow-the-pain")
        wait_text(page, "#total-units", lambda t: t == "155")
        page.locator("#chip-temporal").click()
        page.locator("#side-temporal-right").click()
        wait_text(page, "#pain-summary", lambda t: "right temple" in t)
        _click_head(page, "right", 0.5, 0.4)
        wait_text(page, "#pain-point", lambda t: "none" not in t)
        page.wait_for_timeout(800)
        before = _inputs(page)
        assert before["protocol"] == "preempt-ftp" and before["point"] is not None

        # a download under way when the server dies: nothing, or only a complete file, is saved
        downloads: list = []
        page.on("download", lambda d: downloads.append(d))
        page.locator("#download-menu").click()
        page.locator("#download-png").click()
        page.evaluate("() => { window.__before_restart = true; }")  # gone once the page has reloaded
        proc.kill()  # SIGKILL: no goodbye from the server
        proc.wait(timeout=10)
        banner = wait_text(page, "#connection-banner", lambda t: "lost" in t, timeout=20)
        assert "reconnects by itself" in banner
        shot(page, artifacts, "faults-connection-lost")
        time.sleep(2)  # the page keeps waiting while the server is down

        proc, _, _ = start_app("--port", str(port))
        after = _wait_inputs(page, before, timeout=90)
        wait_for_head(page)
        assert after["units"] == before["units"]
        assert "lost" not in (
            page.locator("#connection-banner").inner_text() if page.locator("#connection-banner").count() else ""
        )
        assert text(page, "#pain-summary").startswith("right temple")
        shot(page, artifacts, "faults-reconnected")
        for d in downloads:
            data = open(d.path(), "rb").read()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[-8:-4] == b"IEND", "a cut-short PNG was saved"
        page.context.close()
    finally:
        stop_app(proc)


def test_download_is_checked_before_it_is_saved(page):
    """A complete PNG is saved; a payload that is cut short is not handed to the browser."""
    with page.expect_download() as dl:
        page.locator("#download-menu").click()
        page.locator("#download-png").click()
    data = open(dl.value.path(), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[-8:-4] == b"IEND"
    # the same check on a truncated payload, and on nothing at all (a refused or lost request)
    problems = page.evaluate("""() => {
        const f = window.injectvizFaults;
        return window.trame.trigger('snapshot_png', [null, [64, 48]]).then(b => [
            f.problem(b, 'png'), f.problem(b.slice(0, b.length - 5), 'png'), f.problem(null, 'png'),
            f.problem('{"sites": [', 'json'), f.problem('a,b\\n1,', 'csv')]);
    }""")
    assert problems[0] is None, problems
    assert all(problems[1:]), problems
    # a refused request: no file, a message
    downloads = []
    page.on("download", lambda d: downloads.append(d))
    page.evaluate("""() => window.injectvizFaults.download('x.png',
        window.trame.trigger('snapshot_png', [null, [16384, 16384]]), 'image/png', 'png')""")
    wait_text(page, "#connection-banner", lambda t: "did not complete" in t)
    wait_text(page, "#message", lambda t: "16384" in t or "4096" in t)
    page.wait_for_timeout(500)
    assert downloads == []
