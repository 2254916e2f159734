"""The process model: one session process per browser behind one port, isolated and bounded.

Each test starts its own ``app.py`` (short ``--session-idle`` so closed sessions end quickly).
Waits are generous (a loaded 2-core machine); assertions are on behaviour, not on timings.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import time
import urllib.error
import urllib.request

import psutil
import pytest
from e2e_helpers import close_page, head_box, open_app, start_app, stop_app, wait_for_head

MB = 1024 * 1024


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def health(url: str) -> dict:
    with urllib.request.urlopen(url + "health", timeout=10) as r:
        return json.loads(r.read())


def wait_until(predicate, timeout: float = 60.0, what: str = "condition"):
    t0 = time.time()
    last = None
    while time.time() - t0 < timeout:
        last = predicate()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout:.0f} s (last: {last!r})")


def is_template(proc: psutil.Process) -> bool:
    return "--template" in proc.cmdline()


def session_procs(front) -> list[psutil.Process]:
    """The session processes: the template's children (forked), or the front's own (--no-template)."""
    out = []
    for c in psutil.Process(front.pid).children():
        try:
            if "visualizer.app.worker" not in " ".join(c.cmdline()):
                continue
            out.extend(c.children() if is_template(c) else [c])
        except psutil.NoSuchProcess:
            continue
    return out


def template_pid(front) -> int | None:
    for c in psutil.Process(front.pid).children():
        try:
            if is_template(c):
                return c.pid
        except psutil.NoSuchProcess:
            continue
    return None


def session_pids(front) -> list[int]:
    return [p.pid for p in session_procs(front)]


def claimed_pids(front) -> set[int]:
    """Session processes with a browser attached (an established connection from the relay)."""
    out = set()
    for c in session_procs(front):
        try:
            if any(k.status == psutil.CONN_ESTABLISHED for k in c.net_connections(kind="tcp")):
                out.add(c.pid)
        except psutil.NoSuchProcess:
            continue
    return out


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def total_rss_mb(front) -> float:
    procs = [psutil.Process(front.pid), *psutil.Process(front.pid).children(recursive=True)]
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / MB


def click_head(page, fy: float = 0.35) -> None:
    """Click the upper head (sets the pain origin on the plan tab) and wait for the update."""
    before = page.evaluate("() => JSON.stringify(window.trame.state.get('pain_point'))")
    box = head_box(page, top_fraction=0.5)
    page.mouse.click((box["x0"] + box["x1"]) / 2, box["y0"] + fy * (box["y1"] - box["y0"]))
    page.wait_for_function(
        "(b) => JSON.stringify(window.trame.state.get('pain_point')) !== b", arg=before, timeout=60000
    )


def keep_from_reconnecting(page) -> None:
    """Refuse the page's own HTTP requests from now on, so it never reloads itself.

    A page whose session process dies polls the server and reloads (``visualizer.app.faults``;
    ``test_faults`` tests that). Here that reload is not the subject, and closing a context while
    its page is committing a reload can hang Chromium's close forever (crbug.com/536385539; see
    ``e2e_helpers.close_page``). The page's websocket is not affected.
    """
    page.route("**/*", lambda route: route.abort())


def launch(url: str, headers: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(
        url + "paraview/", data=b'{"application": "trame"}', method="POST", headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def run_async(coro):
    """Run a coroutine in its own thread (Playwright's sync API owns this thread's event loop)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result(timeout=180)


def origin_of(url: str) -> str:
    return url.rstrip("/")


@pytest.fixture
def server():
    started = []

    def start(*args: str):
        # preempt-ftp: a protocol with follow-the-pain, where a click on the head sets the pain
        # origin (click_head waits for it; without follow-the-pain a click selects a site)
        proc, url, _ = start_app("--session-idle", "3", "--protocol", "preempt-ftp", *args)
        started.append(proc)
        return proc, url

    yield start
    for proc in started:
        stop_app(proc)


# ------------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------------
@pytest.mark.timeout(900)  # ten session processes and ten Chromium pages on two cores
def test_ten_sessions_click_close_then_a_new_page_draws_the_head(browser, server, artifacts):
    """Issue 6's crash: 10 pages open and click, all close, then a new page still draws the head."""
    front, url = server()
    pages = []
    for _ in range(10):
        page = open_app(browser, url)
        click_head(page)
        pages.append(page)
    assert health(url)["sessions"] == 10
    assert len(claimed_pids(front)) == 10  # one process per browser
    for page in pages:
        close_page(page)
    wait_until(lambda: health(url)["sessions"] == 0, 90, "all closed sessions ended")
    assert front.poll() is None
    page = open_app(browser, url)
    assert wait_for_head(page) > 0.05
    click_head(page)
    page.screenshot(path=str(artifacts / "sessions-after-ten.png"))
    close_page(page)
    h = health(url)
    assert h["ok"] and front.poll() is None
    assert h["ended"] >= 10


def test_two_pages_have_their_own_state(browser, server):
    _, url = server()
    a = open_app(browser, url)
    b = open_app(browser, url)
    click_head(a)
    assert a.evaluate("() => window.trame.state.get('pain_point')") is not None
    b.wait_for_timeout(1000)
    assert b.evaluate("() => window.trame.state.get('pain_point')") is None
    b.evaluate("() => window.trame.state.set('tab', 'trainer')")
    b.wait_for_timeout(1000)
    assert a.evaluate("() => window.trame.state.get('tab')") == "plan"
    close_page(a)
    close_page(b)


def test_a_killed_session_process_does_not_touch_another_page(browser, server):
    front, url = server()
    a = open_app(browser, url)
    pid_a = wait_until(lambda: claimed_pids(front), 30, "page A's process")
    b = open_app(browser, url)
    wait_until(lambda: len(claimed_pids(front)) == 2, 30, "page B's process")
    (pid,) = pid_a
    (pid_b,) = claimed_pids(front) - pid_a
    keep_from_reconnecting(a)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: gone(pid), 30, "the killed process gone")
    click_head(b)  # the other page still gets its updates, from the same process
    assert pid_b in claimed_pids(front)
    assert front.poll() is None and health(url)["ok"]
    wait_until(lambda: health(url)["sessions"] == 1, 30, "only page B's session left (A's ended, A kept away)")
    close_page(b)
    close_page(a)


def test_page_a_is_told_promptly_when_its_session_process_dies(browser, server):
    front, url = server()
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    closed = []
    page.on("websocket", lambda ws: ws.on("close", lambda *_: closed.append(time.time())))
    page.goto(url)
    wait_for_head(page)
    (pid,) = wait_until(lambda: claimed_pids(front), 30, "the page's process")
    keep_from_reconnecting(page)
    t_kill = time.time()
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):  # Playwright delivers events only while it runs: wait in the page
        if closed:
            break
        page.wait_for_timeout(200)
    assert closed, "the page's websocket was not closed"
    assert closed[0] - t_kill < 20
    close_page(page)


def test_websocket_from_a_foreign_origin_gets_403_and_the_own_origin_connects(server):

    import aiohttp

    _, url = server("--allow-origin", "https://viz.clinic.example")

    async def attempt(origin: str | None) -> int:
        status, body = launch(url)
        assert status == 200, body
        ws_url = "ws://" + url.split("://", 1)[1] + f"proxy/{body['id']}"
        headers = {"Origin": origin} if origin else {}
        async with aiohttp.ClientSession() as s:
            try:
                async with s.ws_connect(ws_url, headers=headers) as ws:
                    await ws.close()
                    return 101
            except aiohttp.WSServerHandshakeError as e:
                return e.status

    assert run_async(attempt("http://evil.example")) == 403
    assert run_async(attempt(None)) == 403
    assert run_async(attempt(origin_of(url))) == 101
    assert run_async(attempt(origin_of(url).replace("127.0.0.1", "localhost"))) == 101
    assert run_async(attempt("https://viz.clinic.example")) == 101
    status, body = launch(url, {"Origin": "http://evil.example"})
    assert status == 403 and "error" in body


def test_the_launcher_never_echoes_the_host_header(server):
    _, url = server()
    status, body = launch(url, {"Host": "evil.example:666"})
    assert status == 200
    text = json.dumps(body)
    assert "evil" not in text and "666" not in text
    assert body["sessionURL"] == f"ws://USE_HOST/proxy/{body['id']}"
    assert len(body["secret"]) >= 24 and body["secret"] != "wslink-secret"
    _, body2 = launch(url)
    assert body2["secret"] != body["secret"]  # a secret per session


def test_busy_page_beyond_sessions_max(browser, server):
    _, url = server("--sessions-max", "1", "--pool", "1")
    a = open_app(browser, url)
    ctx = browser.new_context()
    b = ctx.new_page()
    resp = b.goto(url)
    assert resp.status == 503
    assert "busy" in b.inner_text("body").lower() and "try again" in b.inner_text("body").lower()
    status, body = launch(url)
    assert status == 503 and "busy" in body["error"]
    assert health(url)["ok"]
    close_page(a)  # its slot frees: the next browser gets in
    page = wait_until(lambda: b.goto(url).status == 200, 60, "a free slot")
    assert page
    wait_for_head(b, timeout=60)
    close_page(b)


def test_oversized_frames_and_chunk_headers_close_only_that_connection(browser, server):
    import asyncio

    import aiohttp

    front, url = server()
    origin = origin_of(url)
    page = open_app(browser, url)
    front_rss0 = psutil.Process(front.pid).memory_info().rss / MB

    async def send(payload: bytes | str) -> int | None:
        status, body = launch(url, {"Origin": origin})
        assert status == 200
        ws_url = "ws://" + url.split("://", 1)[1] + f"proxy/{body['id']}"
        async with aiohttp.ClientSession() as s, s.ws_connect(ws_url, headers={"Origin": origin}) as ws:
            if isinstance(payload, str):
                await ws.send_str(payload)
            else:
                await ws.send_bytes(payload)
            msg = await asyncio.wait_for(ws.receive(), 30)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
            return ws.close_code

    claim = struct.pack("<III", 1, 0, 700 * MB) + b"x" * 14  # 26 bytes claiming 700 MB
    assert run_async(send(claim)) == 1009
    assert run_async(send(claim.replace(b"\x01\x00\x00\x00", b"\x02\x00\x00\x00", 1))) == 1009
    assert run_async(send(b"\0" * (3 * MB))) == 1009  # one frame above the frame cap
    assert run_async(send("{" * 100000)) == 1008  # wslink speaks binary frames only
    assert front.poll() is None and health(url)["ok"]
    click_head(page)  # the page's own session is untouched
    assert psutil.Process(front.pid).memory_info().rss / MB - front_rss0 < 50
    biggest = max(psutil.Process(p).memory_info().rss / MB for p in session_pids(front))
    assert biggest < 700, f"a session process holds {biggest:.0f} MB"  # a 700 MB claim was never allocated
    close_page(page)


def test_closing_a_page_ends_its_process_and_gives_the_memory_back(browser, server):
    front, url = server()
    wait_until(lambda: health(url)["warm"] == 2, 90, "two warm processes")
    baseline = total_rss_mb(front)
    page = open_app(browser, url)
    click_head(page)
    (pid,) = wait_until(lambda: claimed_pids(front), 30, "the page's process")
    assert psutil.Process(pid).memory_info().rss > 100 * MB
    close_page(page)
    wait_until(lambda: gone(pid), 60, "the closed session's process gone")
    wait_until(lambda: health(url)["warm"] == 2 and health(url)["starting"] == 0, 90, "pool refilled")
    after = total_rss_mb(front)
    assert after < baseline * 1.15, (baseline, after)


#: libraries VTK's OpenGL window brings into a process (EGL, Mesa's llvmpipe with LLVM)
GL_LIBRARIES = ("libEGL_mesa", "libLLVM", "swrast_dri", "libgallium")


def gl_libraries(pid: int) -> set[str]:
    """The OpenGL libraries mapped in process ``pid`` (``/proc/PID/maps``)."""
    with open(f"/proc/{pid}/maps") as f:
        return {name for line in f for name in GL_LIBRARIES if name in line}


def test_a_session_has_no_opengl_until_the_server_draws(browser, server, artifacts):
    """Sessions draw in the browser: no EGL/llvmpipe in the process until the server must draw.

    A warm session and a claimed one (page loaded, head clicked in the browser-rendered view)
    map none of the OpenGL libraries; the first picture (the PNG download) brings them in and
    shows the head; the server-rendered view then draws and picks, and the browser-rendered view
    afterwards still picks (it follows the plotter's new window).
    """
    import io

    import numpy as np
    from e2e_helpers import skin_fraction
    from PIL import Image

    front, url = server()
    wait_until(lambda: health(url)["warm"] == 2 and health(url)["starting"] == 0, 90, "two warm processes")
    for pid in session_pids(front):
        assert gl_libraries(pid) == set(), f"warm session {pid} has OpenGL libraries mapped"
    page = open_app(browser, url)
    click_head(page)
    (pid,) = wait_until(lambda: claimed_pids(front), 30, "the page's process")
    assert gl_libraries(pid) == set(), "a session whose page draws in the browser mapped OpenGL"
    with open(f"/proc/{pid}/maps") as f:  # nor the records' libraries, without a login
        assert not [line for line in f if "sqlalchemy" in line or "argon2" in line]

    page.locator("#download-menu").click()
    with page.expect_download() as d:
        page.locator("#download-png").click()
    png = open(d.value.path(), "rb").read()
    (artifacts / "lazy-gl-first-picture.png").write_bytes(png)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert min(img.size) > 300 and skin_fraction(img) > 0.05, "the first picture does not show the head"
    assert {"libEGL_mesa", "libLLVM"} <= gl_libraries(pid), "the server drew without its OpenGL window?"

    page.locator("#mode-remote").click()
    page.wait_for_selector("#view-3d img", timeout=30000)
    wait_for_head(page)
    click_head(page, fy=0.25)  # picked on the server, in the server-rendered view
    page.locator("#mode-local").click()
    page.wait_for_selector("#view-3d canvas", timeout=30000)
    wait_for_head(page)
    click_head(page, fy=0.45)  # the browser-rendered view again
    assert np.asarray(img).std() > 10  # not a blank picture
    assert pid in claimed_pids(front)  # the same process served all of it
    close_page(page)


def test_a_new_page_works_after_the_front_server_restarts(browser, server):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    front, url = server("--port", str(port))
    page = open_app(browser, url)
    children = session_pids(front)
    stop_app(front)
    wait_until(lambda: all(gone(p) for p in children), 30, "session processes ended with the front")
    _, url2 = server("--port", str(port))
    assert url2 == url
    page.reload()
    wait_for_head(page, timeout=60)
    click_head(page)
    close_page(page)


def test_session_processes_die_with_a_killed_front(server):
    front, url = server()
    wait_until(lambda: health(url)["warm"] >= 1, 60, "a warm process")
    children = session_pids(front)
    assert children
    os.kill(front.pid, signal.SIGKILL)
    wait_until(lambda: all(gone(p) for p in children), 30, "session processes gone")


def test_a_hung_session_process_is_killed_by_the_watchdog(browser, server):
    """A session whose event loop stops (SIGSTOP stands in for a request that never returns)."""
    front, url = server("--session-hang-seconds", "6")
    a = open_app(browser, url)
    (pid,) = wait_until(lambda: claimed_pids(front), 30, "page A's process")
    b = open_app(browser, url)
    wait_until(lambda: len(claimed_pids(front)) == 2, 30, "page B's process")
    (pid_b,) = claimed_pids(front) - {pid}
    keep_from_reconnecting(a)
    os.kill(pid, signal.SIGSTOP)
    wait_until(lambda: gone(pid), 60, "the hung process killed")
    click_head(b)
    assert pid_b in claimed_pids(front)
    assert health(url)["ok"] and front.poll() is None
    assert any("hung" in line for line in front.output_lines)
    close_page(a)
    close_page(b)


def test_sessions_are_forked_from_the_template_and_end_with_it(browser, server):
    """The template loads the head once and forks every session; if it dies, its sessions end with
    it (PR_SET_PDEATHSIG), the front carries on, and the next browser gets a new template's session."""
    front, url = server()
    wait_until(lambda: health(url)["warm"] == 2, 120, "two warm processes")
    tpl = template_pid(front)
    assert tpl is not None
    children = session_pids(front)
    assert len(children) == 2 and all(psutil.Process(p).ppid() == tpl for p in children)
    os.kill(tpl, signal.SIGKILL)
    wait_until(lambda: all(gone(p) for p in children), 30, "its session processes ended with it")
    assert front.poll() is None and health(url)["ok"]
    page = open_app(browser, url, timeout_ms=120000)  # a new template, a new session
    wait_for_head(page, timeout=60)
    click_head(page)
    assert template_pid(front) not in (None, tpl)
    close_page(page)
    assert front.poll() is None


def test_without_the_template_each_session_process_starts_from_scratch(browser, server):
    front, url = server("--no-template", "--pool", "1")
    assert template_pid(front) is None
    page = open_app(browser, url, timeout_ms=120000)
    wait_for_head(page, timeout=60)
    click_head(page)
    (pid,) = wait_until(lambda: claimed_pids(front), 30, "the page's process")
    assert psutil.Process(pid).ppid() == front.pid
    close_page(page)
