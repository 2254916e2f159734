"""Where a click costs the browser its CPU (browser-rendered view, vtk.js, headless Chromium).

One page (``preempt-ftp``, left view) clicks the head ``--rounds`` times, one click at a time,
and reports per click:

* Chromium's CPU time by process (browser, renderer = the page's JavaScript and WebGL calls,
  gpu-process = the WebGL rasterizer: SwiftShader when there is no GPU), from ``/proc``;
* the frames the page drew (WebGL ``clear`` calls), draw calls, WebGL buffer uploads (count and
  bytes), counted by wrapping the WebGL context's methods before the page loads;
* the time vtk.js took to apply the server's update (``updateViewState``);
* the bytes received on the websocket;
* and, once before the clicks, the CPU one drawn frame of the scene costs (10 forced renders).

These figures do not depend much on the machine's load (CPU time, counts, bytes), unlike the
latencies of ``bench_interaction.py``. Run: ``python benchmarks/bench_browser_work.py [--rounds 8]``.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

GL_JS = r"""
window.__gl = { frames: 0, draws: 0, uploads: 0, uploadBytes: 0 };
for (const C of [window.WebGL2RenderingContext, window.WebGLRenderingContext]) {
  if (!C) { continue; }
  const p = C.prototype;
  const wrap = (name, f) => { const o = p[name]; p[name] = function (...a) { f(a); return o.apply(this, a); }; };
  wrap('clear', () => { window.__gl.frames++; });
  wrap('drawElements', () => { window.__gl.draws++; });
  wrap('drawArrays', () => { window.__gl.draws++; });
  wrap('bufferData', (a) => {
    window.__gl.uploads++;
    if (a[1] && a[1].byteLength) { window.__gl.uploadBytes += a[1].byteLength; }
  });
}
"""

VIEW_JS = """() => {
  const ref = Object.keys(window.trame.refs).find(k => k.startsWith('view_'));
  return window.trame.refs[ref].$.provides.view;
}"""

WRAP_UPDATE_JS = (
    "() => { const view = ("
    + VIEW_JS
    + """)();
  window.__apply = { n: 0, ms: 0 };
  const orig = view.updateViewState.bind(view);
  view.updateViewState = async (s) => {
    const t = performance.now();
    const r = await orig(s);
    window.__apply.n += 1; window.__apply.ms += performance.now() - t;
    return r;
  };
}"""
)

# one render per animation frame (several renders in one task would be presented, and multisample-
# resolved, once)
RENDER_JS = (
    "(n) => new Promise((done) => { const view = (" + VIEW_JS + ")(); let i = 0;"
    " const step = () => { view.renderWindow.render(); i += 1;"
    " if (i < n) { requestAnimationFrame(step); } else { setTimeout(done, 0); } };"
    " requestAnimationFrame(step); })"
)


def chromium_cpu() -> collections.Counter:
    """CPU seconds so far of this script's Chromium processes, by process type."""
    import psutil

    out: collections.Counter = collections.Counter()
    for c in psutil.Process().children(recursive=True):
        try:
            name = c.name().lower()
            if "chrom" not in name and "headless" not in name:
                continue
            cmd = " ".join(c.cmdline())
            kind = next(
                (k for k in ("gpu-process", "renderer", "utility", "zygote") if f"--type={k}" in cmd), "browser"
            )
            t = c.cpu_times()
            out[kind] += t.user + t.system
        except psutil.Error:
            continue
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()

    from e2e_helpers import CHROMIUM_ARGS, chromium_path, head_box, open_app, start_app, stop_app
    from playwright.sync_api import sync_playwright

    received = [0]

    def on_page(page) -> None:
        page.add_init_script(GL_JS)
        page.on("websocket", lambda ws: ws.on("framereceived", lambda p: received.__setitem__(0, received[0] + len(p))))

    proc, url, _ = start_app("--protocol", "preempt-ftp")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            page = open_app(browser, url, on_page=on_page)
            page.locator("#cam-left").click()
            page.wait_for_timeout(1500)
            c0 = chromium_cpu()
            page.evaluate(RENDER_JS, 10)
            page.wait_for_timeout(2000)
            c1 = chromium_cpu()
            frame_ms = {k: (c1[k] - c0[k]) * 100 for k in ("renderer", "gpu-process")}  # per frame
            page.evaluate(WRAP_UPDATE_JS)
            box = head_box(page, top_fraction=0.45)
            gl0 = page.evaluate("() => ({ ...window.__gl })")
            b0, c0 = received[0], chromium_cpu()
            for i in range(args.rounds):
                fx = 0.3 + 0.4 * ((i * 7) % 10) / 10
                fy = 0.25 + 0.4 * ((i * 3) % 10) / 10
                before = page.evaluate("() => JSON.stringify(window.trame.state.get('pain_point'))")
                page.mouse.click(box["x0"] + fx * (box["x1"] - box["x0"]), box["y0"] + fy * (box["y1"] - box["y0"]))
                page.wait_for_function(
                    "(b) => JSON.stringify(window.trame.state.get('pain_point')) !== b", arg=before, timeout=60000
                )
                page.wait_for_timeout(1500)  # the update applied and drawn; the page idle again
            c1 = chromium_cpu()
            gl1 = page.evaluate("() => window.__gl")
            applied = page.evaluate("() => window.__apply")
            browser.close()
    finally:
        stop_app(proc)
    n = args.rounds
    per = {k: (c1[k] - c0[k]) / n * 1000 for k in ("browser", "renderer", "gpu-process", "utility")}
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} logical cores, Python {platform.python_version()}, "
        f"{platform.system()}; load average at the end {load}; {n} clicks"
    )
    print("| per click | value |")
    print("|---|---:|")
    print(f"| Chromium CPU, all processes | {sum(per.values()):.0f} ms |")
    for k, v in per.items():
        print(f"| Chromium CPU, {k} | {v:.0f} ms |")
    print(f"| frames drawn | {(gl1['frames'] - gl0['frames']) / n:.1f} |")
    print(f"| draw calls | {(gl1['draws'] - gl0['draws']) / n:.1f} |")
    up = (gl1["uploadBytes"] - gl0["uploadBytes"]) / n / 1024
    print(f"| WebGL buffer uploads | {(gl1['uploads'] - gl0['uploads']) / n:.1f} ({up:.0f} KiB) |")
    print(f"| vtk.js applying the update (updateViewState) | {applied['ms'] / max(1, applied['n']):.0f} ms |")
    print(f"| KiB received on the websocket | {(received[0] - b0) / n / 1024:.0f} |")
    print(f"| one frame of the scene: CPU, renderer + gpu-process | {sum(frame_ms.values()):.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
