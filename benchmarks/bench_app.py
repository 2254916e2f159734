"""Web app timings on the default mesh.

1. Start-up: ``python app.py`` until (a) it prints its URL and (b) the page is served (HTTP 200
   for ``/index.html``), and (c) with Chromium available, until a browser shows the head.
   Target: served page < 3 s.
2. A click on the head that sets the pain origin (``preempt-ftp``): server-side handling from the
   click event to the scene pushed (plan recomputed + scene updated + vtk.js delta or server image),
   as measured by the app itself (``update_ms`` on the page), and the browser round trip until the
   totals on the page change. Target: server-side < 100 ms.
3. In-process breakdown of the same update without a browser: ``make_plan``, ``Scene.update``.

Run: ``python benchmarks/bench_app.py [--runs 5] [--clicks 12] [--no-browser]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _row(name: str, xs: list[float], unit: str = "ms", target: str = "") -> str:
    if not xs:
        return f"| {name} | - | - | - | {target} |"
    return f"| {name} | {_median(xs):.0f} {unit} | {min(xs):.0f} {unit} | {max(xs):.0f} {unit} | {target} |"


def bench_startup(runs: int, browser) -> dict[str, list[float]]:
    from e2e_helpers import start_app, stop_app, wait_for_head

    out: dict[str, list[float]] = {"url printed": [], "page served": [], "head drawn": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        proc, url, _ = start_app()
        t_url = time.perf_counter() - t0
        try:
            while True:
                try:
                    with urllib.request.urlopen(url + "index.html", timeout=5) as r:
                        if r.status == 200 and b"<html" in r.read(4096).lower():
                            break
                except OSError:
                    time.sleep(0.02)
            t_page = time.perf_counter() - t0
            out["url printed"].append(t_url * 1000)
            out["page served"].append(t_page * 1000)
            if browser is not None:
                ctx = browser.new_context(viewport={"width": 1280, "height": 800})
                page = ctx.new_page()
                page.goto(url)
                wait_for_head(page, timeout=60)
                out["head drawn"].append((time.perf_counter() - t0) * 1000)
                ctx.close()
        finally:
            stop_app(proc)
    return out


def bench_clicks(browser, clicks: int, mode: str) -> dict[str, list[float]]:
    """Click different spots of the head; read the server's update_ms and the round trip."""
    from e2e_helpers import head_box, open_app, start_app, stop_app, wait_for_head

    proc, url, _ = start_app()
    server_ms: list[float] = []
    round_trip: list[float] = []
    breakdown: dict[str, list[float]] = {}
    try:
        page = open_app(browser, url)
        page.locator("#protocol-select .v-field").click()
        page.locator(".v-overlay-container .v-list-item", has_text="PREEMPT with follow-the-pain").first.click()
        page.wait_for_function("() => document.querySelector('#total-units').textContent.trim() === '155'")
        if mode == "remote":
            page.locator("#mode-remote").click()
            page.wait_for_selector("#view-3d img", timeout=20000)
            wait_for_head(page)
        page.locator("#cam-left").click()
        page.wait_for_timeout(1500)
        box = head_box(page, top_fraction=0.45)
        spots = []
        for i in range(clicks):
            fx = 0.3 + 0.4 * ((i * 7) % 10) / 10
            fy = 0.25 + 0.4 * ((i * 3) % 10) / 10
            spots.append((box["x0"] + fx * (box["x1"] - box["x0"]), box["y0"] + fy * (box["y1"] - box["y0"])))
        for x, y in spots:
            before = page.evaluate("() => JSON.stringify(window.trame.state.get('pain_point'))")
            t0 = time.perf_counter()
            page.mouse.click(x, y)
            try:
                page.wait_for_function(
                    "(b) => JSON.stringify(window.trame.state.get('pain_point')) !== b", arg=before, timeout=10000
                )
            except Exception:
                continue
            page.wait_for_function("() => window.trame.state.get('update_ms') !== null")
            page.wait_for_timeout(150)
            round_trip.append((time.perf_counter() - t0) * 1000)
            server_ms.append(float(page.evaluate("() => window.trame.state.get('update_ms')")))
            parts = page.evaluate("() => window.trame.state.get('update_timing')") or {}
            for k, v in parts.items():
                breakdown.setdefault(k, []).append(float(v))
            page.wait_for_timeout(200)
        page.context.close()
    finally:
        stop_app(proc)
    return {"server": server_ms, "round trip": round_trip, **{f"part:{k}": v for k, v in breakdown.items()}}


def bench_in_process(n: int = 20) -> dict[str, list[float]]:
    import numpy as np
    import pyvista as pv

    import visualizer as engine
    from visualizer.scene import build_scene

    head = engine.load_head()
    proto = engine.load_protocol("preempt-ftp")
    engine.make_plan(head, proto)  # one-time preparation (cached on the head)
    pl = pv.Plotter(off_screen=True)
    scene = build_scene(pl, head, engine.make_plan(head, proto))
    rng = np.random.default_rng(0)
    names = ["left_tragus", "right_tragus", "inion", "left_mastoid", "right_mastoid", "vertex"]
    plan_ms, scene_ms = [], []
    for i in range(n):
        p, _ = head.snap(np.asarray(head.landmarks[names[i % len(names)]]) + rng.normal(0, 15, 3) + [0, 0, 25])
        t0 = time.perf_counter()
        plan = engine.make_plan(head, proto, engine.PainOrigin.parse(point=p))
        t1 = time.perf_counter()
        scene.update(plan=plan, pain_point=p)
        t2 = time.perf_counter()
        plan_ms.append((t1 - t0) * 1000)
        scene_ms.append((t2 - t1) * 1000)
    pl.close()
    return {
        "make_plan": plan_ms,
        "Scene.update": scene_ms,
        "sum": [a + b for a, b in zip(plan_ms, scene_ms, strict=True)],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clicks", type=int, default=12)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()

    from e2e_helpers import CHROMIUM_ARGS, chromium_path

    pw = None
    browser = None
    if not args.no_browser and chromium_path():
        try:
            from playwright.sync_api import sync_playwright

            pw = sync_playwright().start()
            browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        except Exception as exc:
            print(f"(no browser: {exc})")
            browser = None

    lines = ["| measurement | median | min | max | target |", "|---|---|---|---|---|"]
    start = bench_startup(args.runs, browser) if args.runs else {"url printed": [], "page served": [], "head drawn": []}
    lines.append(_row("start-up: URL printed", start["url printed"]))
    lines.append(_row("start-up: page served (HTTP 200)", start["page served"], target="< 3000 ms"))
    lines.append(_row("start-up: head drawn in Chromium", start["head drawn"]))
    ip = bench_in_process()
    lines.append(_row("in-process: make_plan (pain point)", ip["make_plan"]))
    lines.append(_row("in-process: Scene.update", ip["Scene.update"]))
    lines.append(_row("in-process: plan + scene", ip["sum"]))
    if browser is not None:
        for mode in ("local", "remote"):
            c = bench_clicks(browser, args.clicks, mode)
            lines.append(_row(f"click -> update, server side ({mode} view)", c["server"], target="< 100 ms"))
            parts = {"plan": "pick + plan", "scene": "scene update", "view": "push to view", "page": "page state"}
            for k, label in parts.items():
                lines.append(_row(f"  of which {label}", c.get(f"part:{k}", [])))
            lines.append(_row(f"click -> totals on page, round trip ({mode} view)", c["round trip"]))
        browser.close()
        pw.stop()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
