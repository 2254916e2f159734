"""CPU time of every hostile command-line input (issue 6: each costs under 5 s).

Runs the corpus of ``tests/hostile_cases.py`` (each case a subprocess, killed after ``HANG_S``)
and prints a Markdown table: exit code, wall time, the command's own CPU time (``wait4``, which
other work on a shared machine cannot inflate) against the budget. Exit status 1 when a case is
over the budget. ``tests/test_hostile_cli.py`` checks the behaviour (exit 2, one line, nothing
written, no hang); the speed target lives here.

Usage: ``nice -n 10 .venv/bin/python benchmarks/bench_hostile.py``
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_plan import machine  # noqa: E402
from hostile_cases import BUDGET_S, CASES, build_corpus, run_all  # noqa: E402


def main() -> int:
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        build_corpus(corpus)
        results = run_all(corpus, Path(tmp) / "out")
    over = [c.id for c in CASES if results[c.id].cpu_s >= BUDGET_S]
    print(f"{dt.date.today().isoformat()}, {machine()}; load average {load0:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at the end\n")  # fmt: skip
    print(f"| case | exit | wall s | CPU s | under {BUDGET_S:g} s CPU |")
    print("| --- | ---: | ---: | ---: | --- |")
    for case in sorted(CASES, key=lambda c: -results[c.id].cpu_s):
        r = results[case.id]
        print(f"| {case.id} | {r.code} | {r.wall_s:.2f} | {r.cpu_s:.2f} | {'yes' if r.cpu_s < BUDGET_S else 'NO'} |")
    cpu = sorted(results[c.id].cpu_s for c in CASES)
    print(f"\n{len(CASES)} cases; CPU median {cpu[len(cpu) // 2]:.2f} s, max {cpu[-1]:.2f} s; over budget: "
          f"{', '.join(over) or 'none'}")  # fmt: skip
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
