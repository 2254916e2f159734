"""Plan-building time on the default head and on the same head subdivided to ~1M triangles.

Run: ``python benchmarks/bench_plan.py`` (add ``--quick`` to skip the 1M mesh).

Split into one-time preparation (load + locator + muscle map, then placing the protocol's fixed
sites and sampling follow-the-pain candidates) and per-plan work (choosing FTP sites for a pain
origin, ordering, totals, safety checks). Target: per-plan work under 50 ms at 1M triangles on one
core. Prints a Markdown table with the machine noted.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pyvista as pv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from visualizer.head import DEFAULT_LANDMARKS, DEFAULT_MESH, load_head  # noqa: E402
from visualizer.pain import PainOrigin  # noqa: E402
from visualizer.planner import make_plan, prepare  # noqa: E402
from visualizer.protocol import load_protocol  # noqa: E402

PAINS = {
    "none": PainOrigin(),
    "left-temporal": PainOrigin.parse(["left-temporal"]),
    "occipital + right-shoulder": PainOrigin.parse(["occipital", "right-shoulder"]),
    "all regions": PainOrigin.parse(["frontal", "temporal", "occipital", "neck", "shoulder"]),
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}; {os.cpu_count()} logical cores; Python {platform.python_version()}; {platform.system()}"


def dense_copy(out_dir: Path, max_edge_mm: float = 1.37) -> Path:
    """The default head subdivided (same surface, edges ≤ ``max_edge_mm``): ≈1M triangles."""
    mesh = pv.read(DEFAULT_MESH)
    dense = mesh.subdivide_adaptive(max_edge_len=max_edge_mm, max_tri_area=1e9).clean()
    dense.clear_data()  # no muscle map: the rules relabel it during preparation
    path = out_dir / "head_dense.vtp"
    dense.save(path)
    return path


def bench(mesh_path: Path, repeats: int) -> dict[str, object]:
    protocol = load_protocol("preempt-ftp")
    t0 = time.perf_counter()
    head = load_head(mesh_path, DEFAULT_LANDMARKS)
    _ = head.surface
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    prepare(head, protocol)
    t_prep = time.perf_counter() - t0
    per_plan: dict[str, float] = {}
    for name, pain in PAINS.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            make_plan(head, protocol, pain)
            times.append(time.perf_counter() - t0)
        per_plan[name] = statistics.median(times) * 1000
    return {"triangles": head.mesh.n_cells, "load": t_load, "prep": t_prep, "per_plan": per_plan}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="default mesh only")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    rows = [("default head", bench(DEFAULT_MESH, args.repeats))]
    if not args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(("default head subdivided", bench(dense_copy(Path(tmp)), args.repeats)))
    print(f"machine: {machine()}")
    print("protocol: preempt-ftp; per-plan times are medians of", args.repeats, "runs\n")
    names = list(PAINS)
    plan_cols = " | ".join(f"plan: {n} (ms)" for n in names)
    print(f"| mesh | triangles | load + locator (s) | prepare (s) | {plan_cols} |")
    print("|---|---:|---:|---:|" + "---:|" * len(names))
    for label, r in rows:
        pp = r["per_plan"]
        cells = " | ".join(f"{pp[n]:.1f}" for n in names)  # type: ignore[index]
        print(f"| {label} | {r['triangles']:,} | {r['load']:.2f} | {r['prep']:.2f} | {cells} |")


if __name__ == "__main__":
    main()
