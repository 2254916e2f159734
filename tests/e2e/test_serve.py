"""``python app.py`` as a process: flags, bad start-up input, staying up, another head."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import pyvista as pv
from e2e_helpers import ROOT, head_box, open_app, start_app, stop_app, text, wait_text

import visualizer as engine


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status


def test_help_lists_the_flags():
    out = subprocess.run([sys.executable, str(ROOT / "app.py"), "--help"], capture_output=True, text=True,
                         timeout=60, cwd=str(ROOT))
    assert out.returncode == 0
    for flag in ("--port", "--host", "--server", "--timeout", "--protocol", "--mesh", "--landmarks"):
        assert flag in out.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--protocol", "no-such-protocol"], "no-such-protocol"),
        (["--mesh", "/nonexistent/head.vtp", "--landmarks", "/nonexistent/lm.json"], "nonexistent"),
        (["--protocol", "/dev/zero"], "/dev/zero"),
        (["--mesh", "{garbage}", "--landmarks", str(ROOT / "meshes" / "landmarks.json")], "garbage.vtp"),
        (["--sessions-max", "0"], "--sessions-max"),
        (["--allow-origin", "evil.example"], "evil.example"),
    ],
)
def test_bad_start_up_input_is_one_clear_message(args, needle, tmp_path):
    garbage = tmp_path / "garbage.vtp"
    garbage.write_text("not a mesh")
    args = [a.replace("{garbage}", str(garbage)) for a in args]
    out = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", "0", *args], capture_output=True,
                         text=True, timeout=180, cwd=str(ROOT))
    assert out.returncode == 2
    assert needle in out.stderr and "Traceback" not in out.stderr
    assert "running at" not in out.stdout  # nothing was served


def test_stays_up_without_browsers_and_honours_an_explicit_timeout(browser):
    proc, url, _ = start_app()  # default: --timeout 0
    try:
        page = open_app(browser, url)
        page.context.close()  # the last browser leaves
        time.sleep(4)
        assert proc.poll() is None and _get(url + "index.html") == 200
    finally:
        stop_app(proc)
    proc, url, _ = start_app("--timeout", "2", "--server")
    try:
        proc.wait(timeout=30)
        assert proc.returncode == 0
    finally:
        stop_app(proc)


def test_another_head_from_mesh_and_landmarks(browser, tmp_path, artifacts):
    """A moved and rotated copy of the default head: cameras follow its head frame, clicks work."""
    head = engine.load_head()
    th = 0.6
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])

    def tf(p):
        return np.asarray(p) @ rot.T + np.array([300.0, -50.0, 1000.0])

    mpath, lpath = tmp_path / "moved.vtp", tmp_path / "moved.json"
    pv.PolyData(tf(head.mesh.points), head.mesh.faces).save(mpath)
    lpath.write_text(json.dumps({k: [float(c) for c in tf(v)] for k, v in head.landmarks.items()}))
    proc, url, _ = start_app("--mesh", str(mpath), "--landmarks", str(lpath), "--protocol", "preempt-ftp")
    try:
        page = open_app(browser, url)
        assert text(page, "#total-units") == "155"
        page.locator("#cam-left").click()
        page.wait_for_timeout(1200)
        box = head_box(page, top_fraction=0.45)
        page.mouse.click((box["x0"] + box["x1"]) / 2, box["y0"] + 0.4 * (box["y1"] - box["y0"]))
        wait_text(page, "#total-units", lambda t: float(t) > 155)
        sides = {
            row.locator(".iv-where-text").inner_text().split()[0].lower()
            for row in page.locator("#site-table tbody tr").all()
            if row.locator(".v-chip").count()
        }
        assert sides == {"left"}, sides  # the "left" camera preset looked at this head's left side
        page.wait_for_timeout(800)
        page.screenshot(path=str(artifacts / "other-head-left.png"))
        page.context.close()
    finally:
        stop_app(proc)


def test_browser_without_webgl_falls_back_to_server_rendering(browser, app_url, artifacts):
    """No WebGL in the browser: the page switches itself to the server-rendered view."""
    from e2e_helpers import CHROMIUM_ARGS, chromium_path, wait_for_head

    b = browser.browser_type.launch(executable_path=chromium_path(), headless=True,
                                    args=[*CHROMIUM_ARGS, "--disable-webgl", "--disable-3d-apis"])
    try:
        page = open_app(b, app_url, wait_view=False)
        page.wait_for_selector("#view-3d img", timeout=30000)
        wait_for_head(page)
        assert page.evaluate("() => window.trame.state.get('view_mode')") == "remote"
        page.screenshot(path=str(artifacts / "no-webgl-remote.png"))
    finally:
        b.close()
