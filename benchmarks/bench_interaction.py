"""What a user waits for, measured in headless Chromium (browser-rendered view, vtk.js).

1. page load -> head drawn: from navigation start to the first frame drawn after the view has
   received a scene with the skin in it (``performance.now()`` in the page).
2. pain chip -> 3D view updated (``preempt-ftp``; toggles "temporal" on and off): from the
   chip's click event to the first frame drawn after the view finished applying the server's
   scene update (vtk.js ``updateViewState``, arrays fetched).
3. click on the head -> origin shown: the same, from the click on the skin.

For 2 and 3 it also records the bytes the server sent over the websocket for the interaction
(scene deltas + arrays + state), and the server's own timing (``update_timing``: plan, scene,
view push, page state).  Targets (issue 7): median 2 <= 250 ms, 3 <= 300 ms, 1 <= 2 s.

Run: ``python benchmarks/bench_interaction.py [--rounds 10] [--loads 3]``.  Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

# runs in the page before any script: records when the view has drawn a scene update
INIT_JS = r"""
window.__iv = { updates: [], firstHead: null, t0: null };
(function poll() {
  try {
    const ref = window.trame && Object.keys(window.trame.refs || {}).find(k => k.startsWith('view_'));
    const comp = ref && window.trame.refs[ref];
    const view = comp && comp.$ && comp.$.provides && comp.$.provides.view;
    if (view && window.__iv.firstHead === null && !window.__iv.headPending && view.renderer &&
        view.renderer.getActors().some(a => {
          const m = a.getMapper && a.getMapper(); const d = m && m.getInputData && m.getInputData();
          return d && d.getNumberOfPoints && d.getNumberOfPoints() > 1000 && a.getVisibility(); })) {
      window.__iv.headPending = true;  // the skin's arrays are in: the next frame draws it
      setTimeout(() => requestAnimationFrame(() => { window.__iv.firstHead = performance.now(); }), 0);
    }
    if (view && view.updateViewState && !view.__ivWrapped) {
      view.__ivWrapped = true;
      const orig = view.updateViewState.bind(view);
      view.updateViewState = async function (s) {
        const start = performance.now();
        const r = await orig(s);
        const done = performance.now();
        setTimeout(() => requestAnimationFrame(() => {
          const drawn = performance.now();
          window.__iv.updates.push({ start, done, drawn });
        }), 0);
        return r;
      };
    }
  } catch (e) { /* not ready yet */ }
  if (!window.__iv.stop) { requestAnimationFrame(poll); }
})();
document.addEventListener('click', () => { window.__iv.t0 = performance.now(); }, true);
"""


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _row(name: str, xs: list[float], unit: str = "ms", target: str = "") -> str:
    if not xs:
        return f"| {name} | - | - | - | {target} |"
    return f"| {name} | {_median(xs):.0f} {unit} | {min(xs):.0f} | {max(xs):.0f} | {target} |"


class Wire:
    """Bytes received over the page's websockets."""

    def __init__(self, page) -> None:
        self.bytes = 0
        page.on("websocket", self._ws)

    def _ws(self, ws) -> None:
        ws.on("framereceived", lambda payload: self._add(payload))

    def _add(self, payload) -> None:
        self.bytes += len(payload) if payload is not None else 0


def _wait_update(page, timeout_s: float = 20.0) -> float:
    """ms from the last click to the first drawn view update that started after it."""
    t_end = time.time() + timeout_s
    while time.time() < t_end:
        r = page.evaluate(
            "() => { const t0 = window.__iv.t0; const u = window.__iv.updates.find(x => x.start >= t0);"
            " return u ? u.drawn - t0 : null }"
        )
        if r is not None:
            return float(r)
        page.wait_for_timeout(20)
    raise TimeoutError("no view update after the click")


def bench_load(browser, url: str, loads: int) -> list[float]:
    out = []
    for _ in range(loads):
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        ctx.add_init_script(INIT_JS)
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_function("() => window.__iv && window.__iv.firstHead !== null", timeout=60000)
        out.append(float(page.evaluate("() => window.__iv.firstHead")))
        ctx.close()
    return out


def bench_interactions(browser, url: str, rounds: int) -> dict[str, list[float]]:
    from camera_helpers import view_box
    from e2e_helpers import head_box, wait_for_head

    res: dict[str, list[float]] = {"chip": [], "chip bytes": [], "click": [], "click bytes": []}
    server: dict[str, list[float]] = {}
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.add_init_script(INIT_JS)
    page = ctx.new_page()
    wire = Wire(page)
    page.goto(url)
    page.wait_for_function("() => window.__iv && window.__iv.firstHead !== null", timeout=60000)
    wait_for_head(page)
    page.locator("#protocol-select .v-field").click()
    page.locator(".v-overlay-container .v-list-item", has_text="PREEMPT with follow-the-pain").first.click()
    page.wait_for_function("() => document.querySelector('#total-units').textContent.trim() === '155'")
    page.wait_for_timeout(1500)

    def server_parts() -> None:
        for k, v in (page.evaluate("() => window.trame.state.get('update_timing')") or {}).items():
            server.setdefault(k, []).append(float(v))

    for _ in range(rounds):
        b0 = wire.bytes
        page.locator("#chip-temporal").click()
        res["chip"].append(_wait_update(page))
        page.wait_for_timeout(400)
        res["chip bytes"].append((wire.bytes - b0) / 1024)
        server_parts()
        page.wait_for_timeout(300)
    page.locator("#cam-left").click()
    page.wait_for_timeout(1500)
    box = head_box(page, top_fraction=0.45)
    vb = view_box(page)
    assert vb
    for i in range(rounds):
        fx = 0.3 + 0.4 * ((i * 7) % 10) / 10
        fy = 0.25 + 0.4 * ((i * 3) % 10) / 10
        b0 = wire.bytes
        page.mouse.click(box["x0"] + fx * (box["x1"] - box["x0"]), box["y0"] + fy * (box["y1"] - box["y0"]))
        try:
            res["click"].append(_wait_update(page))
        except TimeoutError:
            continue
        page.wait_for_timeout(400)
        res["click bytes"].append((wire.bytes - b0) / 1024)
        server_parts()
        page.wait_for_timeout(300)
    ctx.close()
    return {**res, **{f"server {k}": v for k, v in server.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--loads", type=int, default=3)
    args = ap.parse_args()

    from e2e_helpers import CHROMIUM_ARGS, chromium_path, start_app, stop_app
    from playwright.sync_api import sync_playwright

    proc, url, _ = start_app()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            load = bench_load(browser, url, args.loads)
            r = bench_interactions(browser, url, args.rounds)
            browser.close()
    finally:
        stop_app(proc)
    try:
        load_avg = " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        load_avg = "?"
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
        f"Python {platform.python_version()}; load average at the end: {load_avg}"
    )
    lines = [
        "| measurement | median | min | max | target |",
        "|---|---|---|---|---|",
        _row("page load -> head drawn", load, target="<= 2000 ms"),
        _row("pain chip -> 3D view updated", r["chip"], target="<= 250 ms"),
        _row("click on the head -> origin shown", r["click"], target="<= 300 ms"),
        _row("bytes received per chip toggle", r["chip bytes"], unit="KiB"),
        _row("bytes received per click", r["click bytes"], unit="KiB"),
    ]
    for k in ("plan", "scene", "view", "page"):
        lines.append(_row(f"server: {k} (chip and click)", r.get(f"server {k}", [])))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
