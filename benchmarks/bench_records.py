"""Records: open a patient with 40 visits and 120 diary months, write a visit, produce the visit PDF.

Run: ``python benchmarks/bench_records.py [--runs N] [--pg URL]`` (SQLite in a temporary folder;
``--pg`` adds a PostgreSQL database, e.g. ``INJECTVIZ_TEST_PG_URL`` under
``scripts/with-postgres.sh``). Targets: open < 100 ms, write < 50 ms, PDF < 2 s. "open" is
``Records.patient_summary`` (what ``patient show`` and the app's patient page read); "write" is
``Records.record_visit`` of an already-checked 31-site plan (one transaction, fsync'd); "PDF" is
``visit_report_pdf`` with its four offscreen renders (the first in a process builds the render window,
the next ones reuse it). Prints a Markdown table with the machine and its load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from visualizer.head import load_head  # noqa: E402
from visualizer.pain import PainOrigin  # noqa: E402
from visualizer.planner import make_plan  # noqa: E402
from visualizer.protocol import load_protocol  # noqa: E402
from visualizer.records.db import open_database  # noqa: E402
from visualizer.records.plan_input import check_plan_data  # noqa: E402
from visualizer.records.report import visit_report_pdf  # noqa: E402
from visualizer.records.service import Records  # noqa: E402

SIGN = {"product": "BOTOX", "lot": "TESTLOT-1", "injector": "Dr Test"}


def _ms(xs: list[float]) -> str:
    return f"{1000 * statistics.median(xs):.1f} (max {1000 * max(xs):.1f})"


def bench(url: str, checked, runs: int, pdf: bool) -> dict[str, str]:
    db = open_database(url)
    r = Records(db)
    r.add_patient("TEST-BENCH", pain_regions=["left-temporal"], protocol="preempt")
    day = dt.date(2010, 1, 4)
    for _ in range(40):
        r.record_visit("TEST-BENCH", checked, visit_date=day, expiry=day + dt.timedelta(days=365), **SIGN)
        day += dt.timedelta(weeks=13)
    for i in range(120):
        r.add_diary("TEST-BENCH", f"{2010 + i // 12}-{i % 12 + 1:02d}", 10 + i % 7, 5, 4)
    opens, writes, pdfs = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        s = r.patient_summary("TEST-BENCH")
        opens.append(time.perf_counter() - t)
    assert len(s["visits"]) == 40 and len(s["outcomes"]) == 120
    for _ in range(runs):
        t = time.perf_counter()
        r.record_visit("TEST-BENCH", checked, visit_date=day, expiry=day + dt.timedelta(days=365), **SIGN)
        writes.append(time.perf_counter() - t)
        day += dt.timedelta(weeks=13)
    out = {"open patient (40 visits, 120 months), ms": _ms(opens), "write a visit (31 sites), ms": _ms(writes)}
    if pdf:
        rec = r.visit_record(s["visits"][-1]["id"])
        for _ in range(1 + max(3, runs // 10)):
            t = time.perf_counter()
            data = visit_report_pdf(rec)
            pdfs.append(time.perf_counter() - t)
        # the first report of a process builds the render window and the head's scene (report._Viewer);
        # the next ones (a session's or a server's later reports) reuse them
        out["visit PDF, first in the process, s"] = f"{pdfs[0]:.2f}"
        out["visit PDF, next ones, s"] = (
            f"{statistics.median(pdfs[1:]):.2f} (max {max(pdfs[1:]):.2f}, {len(data) // 1024} kB)"
        )
    db.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--pg", default=os.environ.get("INJECTVIZ_TEST_PG_URL"), help="PostgreSQL URL (a scratch database)")
    args = ap.parse_args()
    plan = make_plan(load_head(), load_protocol("preempt"), PainOrigin.parse(["left-temporal"]), follow_the_pain=False)
    checked = check_plan_data(plan.to_dict())
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite (WAL, synchronous=FULL)"] = bench(f"sqlite:///{tmp}/bench.sqlite3", checked, args.runs, True)
    if args.pg:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"bench_{os.getpid()}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(args.pg).set(database=name).render_as_string(hide_password=False)
            results["PostgreSQL (loopback TCP)"] = bench(url, checked, args.runs, False)
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    cpu = (
        next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else ""
    )
    print(
        f"{dt.date.today()}, {cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}, "
        f"{platform.system()}, load average {os.getloadavg()[0]:.1f}; medians of {args.runs} runs "
        f"(PDF: 1 + {max(3, args.runs // 10)})\n"
    )
    cols = list(dict.fromkeys(k for v in results.values() for k in v))
    print("| database | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for name, v in results.items():
        print(f"| {name} | " + " | ".join(v.get(c, "—") for c in cols) + " |")


if __name__ == "__main__":
    main()
