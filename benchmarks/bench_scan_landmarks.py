"""Validation harness: landmarks found automatically on synthetic patients' scans vs the truth.

Run: ``.venv/bin/python benchmarks/bench_scan_landmarks.py [N [FIRST [LOG.jsonl]]]`` (default
N = 30 patients from seed 1000; one thread per process), or ``... --tables LOG.jsonl ...`` to
print the tables from the logs of runs done side by side. Each patient
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
    """Run ``n`` patients (seeds ``first`` …) and print the tables; ``log`` gets one JSON line each."""
    protocol = load_protocol("preempt")
    errors: dict[str, list[float]] = {}
    site_err: list[float] = []
    times: list[float] = []
    sizes: list[int] = []
    missed: dict[str, int] = {}
    lost_sites = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(first, first + n):
            p = make_patient(1000 + seed)
            path = Path(tmp) / f"patient{seed}.ply"
            p.mesh.save(path, binary=True)
            t0 = time.process_time()
            found = landmark_scan(path)
            cpu = time.process_time() - t0
            times.append(cpu)
            sizes.append(int(found.scan.mesh.n_cells))
            for name, true in p.landmarks_mm.items():
                if name in found.landmarks:
                    errors.setdefault(name, []).append(float(np.linalg.norm(found.landmarks[name] - true)))
                else:
                    missed[name] = missed.get(name, 0) + 1
            scan = read_scan(path)
            head_found = scan_head(scan, found.landmarks, muscle=found.fit.muscle, landmarks_label="found")
            head_true = scan_head(scan, p.landmarks_mm, muscle=found.fit.muscle, landmarks_label="true")
            a = {s.id: np.array(s.position) for s in make_plan(head_found, protocol).sites}
            b = {s.id: np.array(s.position) for s in make_plan(head_true, protocol).sites}
            lost_sites += len(set(b) - set(a))
            errs = [float(np.linalg.norm(a[k] - b[k])) for k in a.keys() & b.keys()]
            site_err.extend(errs)
            if log is not None:
                with open(log, "a") as f:
                    f.write(json.dumps({
                        "seed": seed, "cpu_s": cpu, "triangles": sizes[-1], "sites": errs, "lost": len(set(b) - set(a)),
                        "landmarks": {k: float(np.linalg.norm(found.landmarks[k] - v))
                                      for k, v in p.landmarks_mm.items() if k in found.landmarks},
                        "missed": [k for k in p.landmarks_mm if k not in found.landmarks],
                    }) + "\n")  # fmt: skip
            all_lm = [e for v in errors.values() for e in v]
            print(
                f"{p.description}: {cpu:.1f} s CPU, landmark median so far {np.median(all_lm):.2f} mm, "
                f"this patient's sites median {np.median(errs):.2f} mm",
                file=sys.stderr,
                flush=True,
            )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average at the end {os.getloadavg()[0]:.1f} (shared machine); one thread per process\n"
    )
    print("| landmark | n | median mm | p95 mm | max mm | not found |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in sorted(set(errors) | set(missed)):
        e = np.array(errors.get(name, [np.nan]))
        print(
            f"| {name} | {len(errors.get(name, []))} | {np.nanmedian(e):.1f} | {np.nanpercentile(e, 95):.1f} "
            f"| {np.nanmax(e):.1f} | {missed.get(name, 0)} |"
        )
    all_lm = np.array([x for v in errors.values() for x in v])
    print(
        f"| **all** | {len(all_lm)} | **{np.median(all_lm):.2f}** | **{np.percentile(all_lm, 95):.2f}** "
        f"| {all_lm.max():.1f} | {sum(missed.values())} |\n"
    )
    se = np.array(site_err)
    print("| PREEMPT sites (found vs true landmarks, same scan) | n | median mm | p95 mm | max mm |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| all sites both plans carry | {len(se)} | **{np.median(se):.2f}** | {np.percentile(se, 95):.2f} "
        f"| {se.max():.1f} |\n"
    )
    print(f"sites the true-landmark plan has but the found one lacks: {lost_sites}\n")
    t = np.array(times)
    print("| CPU time per scan (read + fit + carry) | median s | max s | triangles (median) |")
    print("|---|---:|---:|---:|")
    print(f"| {n} scans | {np.median(t):.1f} | {t.max():.1f} | {int(np.median(sizes)):,} |")


def tables_from_logs(paths: list[str]) -> None:
    """Print the tables from the JSON-lines logs of one or more runs (``--tables LOG ...``)."""
    rows = [json.loads(line) for p in paths for line in Path(p).read_text().splitlines() if line.strip()]
    errors: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r["landmarks"].items():
            errors.setdefault(k, []).append(v)
    missed: dict[str, int] = {}
    for r in rows:
        for k in r["missed"]:
            missed[k] = missed.get(k, 0) + 1
    print(f"{len(rows)} patients (seeds {sorted(r['seed'] for r in rows)})\n")
    print("| landmark | n | median mm | p95 mm | max mm | not found |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in sorted(set(errors) | set(missed)):
        e = np.array(errors.get(name, [np.nan]))
        print(
            f"| {name} | {len(errors.get(name, []))} | {np.nanmedian(e):.1f} | {np.nanpercentile(e, 95):.1f} "
            f"| {np.nanmax(e):.1f} | {missed.get(name, 0)} |"
        )
    all_lm = np.array([x for v in errors.values() for x in v])
    print(
        f"| **all** | {len(all_lm)} | **{np.median(all_lm):.2f}** | **{np.percentile(all_lm, 95):.2f}** "
        f"| {all_lm.max():.1f} | {sum(missed.values())} |\n"
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
    print("| CPU s per scan (read + fit + carry, one core) | median | max | triangles median (min–max) |")
    print("|---|---:|---:|---:|")
    spread = f"{int(np.median(tri)):,} ({tri.min():,}–{tri.max():,})"
    print(f"| {len(rows)} scans | {np.median(t):.1f} | {t.max():.1f} | {spread} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--tables":
        tables_from_logs(args[1:])
    else:
        main(int(args[0]) if args else 30, int(args[1]) if len(args) > 1 else 0, args[2] if len(args) > 2 else None)
