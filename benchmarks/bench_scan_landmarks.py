"""Validation harness: landmarks found automatically on synthetic patients' scans vs the truth.

Run: ``.venv/bin/python benchmarks/bench_scan_landmarks.py [N [FIRST [LOG.jsonl]]]`` (default
N = 30 patients, ``make_patient(1000 + FIRST + i)``: FIRST 0 is the standard set, seeds
1000–1029; FIRST 1000 the second set, seeds 2000–2029; one thread per process), or
``... --tables LOG.jsonl ...`` to print the tables from the logs of runs done side by side. The
fit was developed on other seeds (5000–5019), never on these. Each patient
(``benchmarks/synthetic_scans.py``) is written to a file in its random unit and landmarked the
way ``injectviz landmarks`` does it (one process, one core); the found landmarks are compared with
the true ones, and PREEMPT is planned on the scan twice, on the found and on the true landmarks,
and the sites are compared. Prints markdown tables.

Patients: the bundled head reshaped to random body types (body10's MakeHuman morphs: sex, age,
weight, muscle, ethnic blend across their ranges), re-meshed (decimated and Loop-subdivided to
about 400k triangles before the cuts), 0.5 mm noise along the normals, a crown hole of radius
15-30 mm, the neck cut between 25 mm below and 45 mm above C7's height, a random rotation and
shift, and random units (mm, cm, m).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_scans import make_patient

from visualizer.planner import make_plan
from visualizer.protocol import load_protocol
from visualizer.scan import read_scan
from visualizer.scan_landmarks import landmark_scan, scan_head


def main(n: int = 30, first: int = 0, log: str | None = None) -> None:
    """Run ``n`` patients (seeds ``1000 + first`` …), print the tables; ``log`` gets one JSON line each."""
    protocol = load_protocol("preempt")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(first, first + n):
            p = make_patient(1000 + seed)
            path = Path(tmp) / f"patient{seed}.ply"
            p.mesh.save(path, binary=True)
            t0 = time.process_time()
            found = landmark_scan(path)
            cpu = time.process_time() - t0
            scan = read_scan(path)
            head_found = scan_head(scan, found.landmarks, muscle=found.fit.muscle, landmarks_label="found")
            head_true = scan_head(scan, p.landmarks_mm, muscle=found.fit.muscle, landmarks_label="true")
            a = {s.id: np.array(s.position) for s in make_plan(head_found, protocol).sites}
            b = {s.id: np.array(s.position) for s in make_plan(head_true, protocol).sites}
            errs = [float(np.linalg.norm(a[k] - b[k])) for k in a.keys() & b.keys()]
            row = {
                "seed": seed, "cpu_s": cpu, "triangles": int(found.scan.mesh.n_cells), "sites": errs,
                "lost": len(set(b) - set(a)), "load": os.getloadavg()[0],
                "landmarks": {k: float(np.linalg.norm(found.landmarks[k] - v))
                              for k, v in p.landmarks_mm.items() if k in found.landmarks},
                "missed": [k for k in p.landmarks_mm if k not in found.landmarks],
                "extra": [k for k in found.landmarks if k not in p.landmarks_mm],
            }  # fmt: skip
            rows.append(row)
            if log is not None:
                with open(log, "a") as f:
                    f.write(json.dumps(row) + "\n")
            lm = list(row["landmarks"].values())
            print(
                f"{p.description}: {cpu:.1f} s CPU, landmarks median {np.median(lm):.2f} mm (max {max(lm):.1f}), "
                f"sites median {np.median(errs):.2f} mm",
                file=sys.stderr,
                flush=True,
            )
    print_tables(rows)


def print_tables(rows: list[dict]) -> None:
    """The Markdown tables of a run's rows (per landmark, sites, CPU time)."""
    errors: dict[str, list[float]] = {}
    missed: dict[str, int] = {}
    extra: dict[str, int] = {}
    for r in rows:
        for k, v in r["landmarks"].items():
            errors.setdefault(k, []).append(v)
        for k in r["missed"]:
            missed[k] = missed.get(k, 0) + 1
        for k in r.get("extra", []):
            extra[k] = extra.get(k, 0) + 1
    loads = [r["load"] for r in rows if "load" in r]
    print(
        f"{len(rows)} patients (seeds {sorted(1000 + r['seed'] for r in rows)}); machine: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        + (f"1-min load average {min(loads):.1f}–{max(loads):.1f} during the run\n" if loads else "\n")
    )
    print("| landmark | n | median mm | p95 mm | max mm | not found | found, not on the scan |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in sorted(set(errors) | set(missed) | set(extra)):
        e = np.array(errors.get(name, [np.nan]))
        stats = "| — | — | — " if np.all(np.isnan(e)) else (
            f"| {np.nanmedian(e):.1f} | {np.nanpercentile(e, 95):.1f} | {np.nanmax(e):.1f} "
        )  # fmt: skip
        print(f"| {name} | {len(errors.get(name, []))} {stats}| {missed.get(name, 0)} | {extra.get(name, 0)} |")
    all_lm = np.array([x for v in errors.values() for x in v])
    print(
        f"| **all** | {len(all_lm)} | **{np.median(all_lm):.2f}** | **{np.percentile(all_lm, 95):.2f}** "
        f"| {all_lm.max():.1f} | {sum(missed.values())} | {sum(extra.values())} |\n"
    )
    se = np.array([x for r in rows for x in r["sites"]])
    print("| PREEMPT sites (found vs true landmarks, same scan) | n | median mm | p95 mm | max mm | lost |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| all sites both plans carry | {len(se)} | **{np.median(se):.2f}** | {np.percentile(se, 95):.2f} "
        f"| {se.max():.1f} | {sum(r['lost'] for r in rows)} |\n"
    )
    t = np.array([r["cpu_s"] for r in rows])
    tri = np.array([r["triangles"] for r in rows])
    big = t[tri >= 250_000]
    print("| CPU s per scan (read + fit + carry, one core) | median | max | triangles median (min–max) |")
    print("|---|---:|---:|---:|")
    spread = f"{int(np.median(tri)):,} ({tri.min():,}–{tri.max():,})"
    print(f"| {len(rows)} scans | {np.median(t):.1f} | {t.max():.1f} | {spread} |")
    if len(big):
        print(f"| the {len(big)} scans of ≥ 250k triangles | {np.median(big):.1f} | {big.max():.1f} | |")


def tables_from_logs(paths: list[str]) -> None:
    """Print the tables from the JSON-lines logs of one or more runs (``--tables LOG ...``)."""
    print_tables([json.loads(line) for p in paths for line in Path(p).read_text().splitlines() if line.strip()])


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--tables":
        tables_from_logs(args[1:])
    else:
        main(int(args[0]) if args else 30, int(args[1]) if len(args) > 1 else 0, args[2] if len(args) > 2 else None)
