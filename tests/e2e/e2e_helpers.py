"""Helpers for the browser tests (start/stop app.py, Chromium, pixels, page state)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 60


def chromium_path() -> str | None:
    for cand in (
        os.environ.get("INJECTVIZ_CHROMIUM"),
        "/usr/lib/chromium/chromium",
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if cand and Path(cand).exists():
            return cand
    return None


def start_app(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str, float]:
    """Start app.py; returns (process, url, seconds until it printed its URL)."""
    e = dict(os.environ)
    e["PYTHONUNBUFFERED"] = "1"
    e.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    if env:
        e.update(env)
    if "--db" not in args and "--no-records" not in args and not (env or {}).get("INJECTVIZ_DB"):
        # the records of a test server go to a database of its own, never the user's default file
        import tempfile

        db_dir = tempfile.mkdtemp(prefix="injectviz-e2e-db-")
        e["INJECTVIZ_DB"] = f"sqlite:///{db_dir}/records.sqlite3"
    else:
        db_dir = None
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", "0", *args],
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=e,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    while time.perf_counter() - t0 < START_TIMEOUT_S:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        m = re.search(r"running at (http://[\d.]+:\d+/)", line)
        if m:
            # keep draining output so the pipe never blocks the server
            import threading

            def drain() -> None:
                for ln in proc.stdout:  # type: ignore[union-attr]
                    lines.append(ln)

            threading.Thread(target=drain, daemon=True).start()
            proc.output_lines = lines  # type: ignore[attr-defined]
            proc.db_dir = db_dir  # type: ignore[attr-defined]
            return proc, m.group(1), time.perf_counter() - t0
    proc.kill()
    raise RuntimeError("app.py did not start:\n" + "".join(lines))


def stop_app(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    db_dir = getattr(proc, "db_dir", None)
    if db_dir:
        shutil.rmtree(db_dir, ignore_errors=True)


def open_app(
    browser,
    url: str,
    *,
    width: int = 1280,
    height: int = 800,
    wait_view: bool = True,
    on_page=None,
    timeout_ms: float = 30000,
):
    """A new context (= a new connection and patient) with the app loaded.

    ``on_page(page)`` runs before the page loads (e.g. to listen to its websocket).
    """
    ctx = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = ctx.new_page()
    if on_page is not None:
        on_page(page)
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    page.goto(url)
    page.wait_for_function(
        "() => { const e = document.querySelector('#total-units'); return e && e.textContent.trim().length > 0 }",
        timeout=timeout_ms,
    )
    if wait_view:
        wait_for_head(page)
        # the server frames the first picture for the view's size once the page reports it: a
        # drag started before that would be turned back, as a person's would not (they look first)
        page.wait_for_function("() => window.trame.state.get('view_framed') === true", timeout=timeout_ms)
        page.wait_for_timeout(300)
    return page


def close_page(page) -> None:
    """Close ``page``'s browser context, first stopping any navigation of its own.

    The app's page reloads itself when its session process dies or the server restarts
    (``visualizer.app.faults``). Closing a context while such a reload is being committed can
    hang Chromium's close forever (crbug.com/536385539, Playwright #42068/#42366: the close is
    acknowledged and then dropped with the old frame). So the page is moved to ``about:blank``
    first (bounded; a navigation of ours replaces any reload in flight, and the blank page runs
    no script that could navigate again), then its context is closed.
    """
    ctx = page.context
    for p in list(ctx.pages):
        try:
            p.goto("about:blank", timeout=15000)
        except Exception:  # already closed or crashed: closing the context still ends it
            pass
    ctx.close()


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def view_element(page):
    """The element that shows the 3D picture: vtk.js canvas (local) or the streamed image."""
    canvas = page.locator("#view-3d canvas")
    if canvas.count():
        return canvas.first
    return page.locator("#view-3d img").first


def view_image(page):
    """The 3D view's pixels as a PIL image (from a screenshot of the element)."""
    from PIL import Image

    el = view_element(page)
    return Image.open(io.BytesIO(el.screenshot())).convert("RGB")


def skin_mask(img):
    """Boolean array of pixels that look like the head's skin (warm, light, r > g > b)."""
    import numpy as np

    a = np.asarray(img).astype(int)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    return (r > 120) & (r - b > 28) & (r >= g) & (g >= b - 5) & (r < 252)


def skin_fraction(img) -> float:
    return float(skin_mask(img).mean())


def wait_for_head(page, timeout: float = 30.0, min_fraction: float = 0.05) -> float:
    """Wait until the view shows the head (skin-coloured pixels); returns the fraction."""
    t0 = time.time()
    frac = 0.0
    while time.time() - t0 < timeout:
        el = page.locator("#view-3d canvas, #view-3d img")
        if el.count():
            try:
                frac = skin_fraction(view_image(page))
            except Exception:
                frac = 0.0
            if frac >= min_fraction:
                return frac
        page.wait_for_timeout(300)
    raise AssertionError(f"the 3D view never showed the head (skin fraction {frac:.3f})")


def head_box(page, top_fraction: float = 0.5):
    """Bounding box (page coordinates) of skin pixels in the upper part of the view."""
    import numpy as np

    img = view_image(page)
    m = skin_mask(img)
    h = m.shape[0]
    m[int(h * top_fraction) :, :] = False
    ys, xs = np.nonzero(m)
    assert len(xs), "no head pixels in the upper half of the view"
    box = view_element(page).bounding_box()
    sx = box["width"] / m.shape[1]
    sy = box["height"] / m.shape[0]
    return {
        "x0": box["x"] + xs.min() * sx,
        "x1": box["x"] + xs.max() * sx,
        "y0": box["y"] + ys.min() * sy,
        "y1": box["y"] + ys.max() * sy,
    }


def text(page, selector: str) -> str:
    return page.locator(selector).first.inner_text().strip()


def wait_text(page, selector: str, predicate, timeout: float = 15.0) -> str:
    t0 = time.time()
    last = ""
    while time.time() - t0 < timeout:
        loc = page.locator(selector)
        if loc.count():
            last = loc.first.inner_text().strip()
            if predicate(last):
                return last
        page.wait_for_timeout(100)
    raise AssertionError(f"{selector}: text {last!r} never matched")


def choose_protocol(page, title: str, units: str | None = None) -> None:
    """Pick a protocol from the Plan tab's list by its title; wait for its total units if given."""
    page.locator("#protocol-select .v-field").click()
    page.locator(".v-overlay-container .v-list-item", has_text=title).first.click()
    if units is not None:
        wait_text(page, "#total-units", lambda t: t == units)


def get_state(page, key: str):
    """A trame state key's value as the page holds it."""
    import json

    return page.evaluate(f"() => window.trame.state.get({json.dumps(key)})")


def wait_state(page, js: str, timeout_ms: int = 30_000) -> None:
    """Wait until the JavaScript expression ``js`` (with ``s`` = the page's trame state) is true."""
    page.wait_for_function(f"() => {{ const s = window.trame.state; return !!({js}); }}", timeout=timeout_ms)


def set_state(page, key: str, value) -> None:
    """Set a trame state key from the browser (what a crafted request would do)."""
    import json

    page.evaluate(f"() => window.trame.state.set({json.dumps(key)}, {json.dumps(value)})")


def shot(page, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path))
    return path
