"""Concurrent browser sessions: memory per session and click -> update latency.

Starts ``python app.py --protocol preempt-ftp`` (one process per browser session), then for 1, 3,
6 and 10 concurrent headless Chromium pages:

* every page clicks the head at the same moment, ``--rounds`` times; the latency of each click is
  measured in the page itself: from just before the click to the moment the new pain origin
  arrives in the page's state (``pain_point``), so pages do not wait on each other's measurement;
* RSS (and PSS: shared library pages divided among the processes that map them) of each session
  process, and the total of the front server + all its children (the warm pool included);
* after all pages close and their processes have ended: total RSS against the idle baseline
  (front + warm pool before any browser came).

Targets (issue 6, this 2-core machine): <= 300 MB per session; 10 sessions median click -> update
<= 1 s; 3 sessions <= 400 ms; RSS back within 10 % of the idle baseline after close.

Run: ``python benchmarks/bench_sessions.py [--rounds 8] [--counts 1 3 6 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

MB = 1024 * 1024
ARM = """(before) => {
  window.__dt = null;
  const t0 = performance.now();
  const tick = () => {
    if (JSON.stringify(window.trame.state.get('pain_point')) !== before) { window.__dt = performance.now() - t0; }
    else { setTimeout(tick, 2); }
  };
  tick();
}"""


def health(url: str) -> dict:
    with urllib.request.urlopen(url + "health", timeout=10) as r:
        return json.loads(r.read())


def wait(pred, timeout: float, what: str) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what}: not reached in {timeout:.0f} s")


def processes(front_pid: int) -> tuple[list, list]:
    """(front + template + every session process, the session processes).

    Session processes are the template's children (forked) or, with ``--no-template``, the front's.
    """
    import psutil

    front = psutil.Process(front_pid)
    procs, kids = [front], []
    for c in front.children():
        try:
            if "visualizer.app.worker" not in " ".join(c.cmdline()):
                continue
            if "--template" in c.cmdline():
                procs.append(c)
                kids.extend(c.children())
            else:
                kids.append(c)
        except psutil.NoSuchProcess:
            pass
    return [*procs, *kids], kids


def claimed(kids: list) -> list:
    import psutil

    out = []
    for c in kids:
        try:
            if any(k.status == psutil.CONN_ESTABLISHED for k in c.net_connections(kind="tcp")):
                out.append(c)
        except psutil.NoSuchProcess:
            pass
    return out


def mem(procs: list) -> tuple[float, float, float]:
    """(RSS, PSS, USS) in MB summed over ``procs``.

    RSS counts every page a process maps, shared ones included (libraries, and with the template
    the head and modules shared copy-on-write); PSS divides shared pages among their processes
    (sums to the real total); USS is what only that process holds (what ending it gives back).
    """
    rss = pss = uss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            uss += getattr(info, "uss", info.rss)
        except Exception:
            pass
    return rss / MB, pss / MB, uss / MB


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def settle(url: str, pool: int) -> None:
    last: dict = {}

    def done() -> bool:
        last.update(health(url))
        return last["sessions"] == 0 and last["warm"] >= pool and last["starting"] == 0

    try:
        wait(done, 300, "sessions ended and the pool refilled")
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}; health: {last}") from None
    time.sleep(2)


def run_level(browser, url: str, front_pid: int, n: int, rounds: int) -> dict:
    from e2e_helpers import close_page, head_box, open_app

    pages, open_s = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        pages.append(open_app(browser, url))  # new browser context: page load -> launcher -> head drawn
        open_s.append(time.perf_counter() - t0)
    # the pool refills after the pages took its processes: let those start-ups finish first
    wait(lambda: health(url)["starting"] == 0, 180, "pool refilled")
    spots = []
    for page in pages:
        page.locator("#cam-left").click()
    time.sleep(1.5)
    for page in pages:
        spots.append(head_box(page, top_fraction=0.45))
    lat: list[float] = []
    server_ms: list[float] = []
    split: dict[str, list[float]] = {}
    missed = 0
    _, kids = processes(front_pid)
    sess = claimed(kids)
    cpu0 = cpu_seconds(sess), cpu_seconds(browser_processes())
    for r in range(rounds):
        fx = 0.3 + 0.4 * ((r * 7) % 10) / 10
        fy = 0.25 + 0.4 * ((r * 3) % 10) / 10
        for page, box in zip(pages, spots, strict=True):
            before = page.evaluate("() => JSON.stringify(window.trame.state.get('pain_point'))")
            page.evaluate(ARM, before)
            page.mouse.click(box["x0"] + fx * (box["x1"] - box["x0"]), box["y0"] + fy * (box["y1"] - box["y0"]))
        for page in pages:
            try:
                page.wait_for_function("() => window.__dt !== null", timeout=60000)
                lat.append(float(page.evaluate("() => window.__dt")))
                page.wait_for_timeout(50)  # update_ms follows in the same or the next state message
                server_ms.append(float(page.evaluate("() => window.trame.state.get('update_ms') || 0")))
                for k, v in (page.evaluate("() => window.trame.state.get('update_timing') || {}") or {}).items():
                    split.setdefault(k, []).append(float(v))
            except Exception:
                missed += 1
        time.sleep(0.3)
    clicks = max(1, n * rounds)
    cpu_server = (cpu_seconds(sess) - cpu0[0]) / clicks * 1000
    cpu_browser = (cpu_seconds(browser_processes()) - cpu0[1]) / clicks * 1000
    procs, kids = processes(front_pid)
    sess = claimed(kids)
    per = [mem([p]) for p in sess]
    total_rss, total_pss, _ = mem(procs)
    for page in pages:
        close_page(page)
    nan = float("nan")
    return {
        "n": n, "open_s": open_s, "lat": lat, "missed": missed, "server_ms": server_ms,
        "rss_per": statistics.median([a for a, _, _ in per]) if per else nan,
        "pss_per": statistics.median([b for _, b, _ in per]) if per else nan,
        "uss_per": statistics.median([c for _, _, c in per]) if per else nan,
        "total_rss": total_rss, "total_pss": total_pss, "claimed": len(sess),
        "cpu_server_ms": cpu_server, "cpu_browser_ms": cpu_browser,
        "split": {k: statistics.median(v) for k, v in split.items()},
    }


def cpu_seconds(procs: list) -> float:
    """User + system CPU seconds used so far by ``procs`` (threads included)."""
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:
            pass
    return total


def browser_processes() -> list:
    """This benchmark's own Chromium processes (under Playwright's driver, a child of ours)."""
    import psutil

    return [c for c in psutil.Process().children(recursive=True)
            if "chrom" in c.name().lower() or "headless_shell" in c.name().lower()]


def missed_note(r: dict) -> str:
    return f" ({r['missed']} missed)" if r["missed"] else ""


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import psutil

    return (f"{os.cpu_count()} logical cores ({model}), {psutil.virtual_memory().total / 2**30:.0f} GB RAM, "
            f"Python {platform.python_version()}, {platform.system()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--counts", type=int, nargs="+", default=[1, 3, 6, 10])
    ap.add_argument("--pool", type=int, default=2)
    ap.add_argument("--no-template", action="store_true",
                    help="start every session process from scratch (the server's --no-template), for comparison")
    args = ap.parse_args()

    from e2e_helpers import CHROMIUM_ARGS, chromium_path, start_app, stop_app
    from playwright.sync_api import sync_playwright

    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.1f}", flush=True)
    proc, url, _ = start_app("--protocol", "preempt-ftp", "--session-idle", "3", "--pool", str(args.pool),
                             "--sessions-max", str(max(args.counts) + 2),
                             *(["--no-template"] if args.no_template else []))
    rows = []
    try:
        settle(url, args.pool)
        procs, _ = processes(proc.pid)
        idle_rss, idle_pss, _ = mem(procs)
        print(f"idle baseline (front{' + template' if not args.no_template else ''} + {args.pool} warm): "
              f"RSS {idle_rss:.0f} MB, PSS {idle_pss:.0f} MB", flush=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            for n in args.counts:
                load0 = os.getloadavg()[0]
                res = run_level(browser, url, proc.pid, n, args.rounds)
                settle(url, args.pool)
                procs, _ = processes(proc.pid)
                res["after_rss"], res["after_pss"], _ = mem(procs)
                res["load"] = (load0 + os.getloadavg()[0]) / 2
                rows.append(res)
                med, p95 = statistics.median(res["lat"]), pct(res["lat"], 0.95)
                print(f"{n} sessions: median {med:.0f} ms, p95 {p95:.0f} ms, "
                      f"RSS/session {res['rss_per']:.0f} MB (PSS {res['pss_per']:.0f}, "
                      f"USS {res['uss_per']:.0f}), total RSS "
                      f"{res['total_rss']:.0f} MB, after close {res['after_rss']:.0f} MB", flush=True)
                print(f"   server-side split (median ms): {res['split']}; CPU per click: session process "
                      f"{res['cpu_server_ms']:.0f} ms, Chromium {res['cpu_browser_ms']:.0f} ms", flush=True)
            browser.close()
    except Exception:
        print("".join(getattr(proc, "output_lines", [])[-60:]), file=sys.stderr)
        raise
    finally:
        stop_app(proc)

    print()
    how = "forked from the template" if not args.no_template else "each started from scratch (--no-template)"
    print(f"Session processes {how}. Idle baseline (front{' + template' if not args.no_template else ''} "
          f"+ {args.pool} warm session processes): RSS {idle_rss:.0f} MB, PSS {idle_pss:.0f} MB")
    print()
    print("| sessions | new page → head drawn (median) | clicks | click → update median | p95 | "
          "server-side median | RSS per session | PSS per session | USS per session | "
          "total RSS (sum) | total PSS | after all closed: total RSS / PSS (vs idle) | load avg |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        lat = r["lat"]
        print(f"| {r['n']} | {statistics.median(r['open_s']):.1f} s | {len(lat)}{missed_note(r)} "
              f"| {statistics.median(lat):.0f} ms | {pct(lat, 0.95):.0f} ms "
              f"| {statistics.median(r['server_ms']) if r['server_ms'] else float('nan'):.0f} ms "
              f"| {r['rss_per']:.0f} MB | {r['pss_per']:.0f} MB | {r['uss_per']:.0f} MB "
              f"| {r['total_rss']:.0f} MB | {r['total_pss']:.0f} MB "
              f"| {r['after_rss']:.0f} MB ({100 * (r['after_rss'] / idle_rss - 1):+.0f} %) / "
              f"{r['after_pss']:.0f} MB ({100 * (r['after_pss'] / idle_pss - 1):+.0f} %) | {r['load']:.1f} |")
    print()
    print("Where a click's time goes: the server-side split (median ms of `update_timing`: plan, scene, "
          "view push, page state) and the CPU each click costs, measured from the processes' CPU times "
          "over all rounds (n pages x rounds clicks):")
    print()
    print("| sessions | plan | scene | view push | page state | CPU per click: session process "
          "| CPU per click: Chromium (all pages) | CPU demand per round vs 2 cores |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        sp = r["split"]
        demand = r["n"] * (r["cpu_server_ms"] + r["cpu_browser_ms"]) / (os.cpu_count() or 1)
        print(f"| {r['n']} | {sp.get('plan', float('nan')):.0f} | {sp.get('scene', float('nan')):.0f} "
              f"| {sp.get('view', float('nan')):.0f} | {sp.get('page', float('nan')):.0f} "
              f"| {r['cpu_server_ms']:.0f} ms | {r['cpu_browser_ms']:.0f} ms | {demand:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
