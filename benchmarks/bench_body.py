"""Body-type sliders: what one change of sex, age, weight or muscle costs, and how far the quick
preview of the sites (carried with the skin) lies from the sites placed again by their rules.

Run: ``python benchmarks/bench_body.py [--repeats 5]``. Target (issue 10): ≤ 300 ms per slider
change on this machine. Prints Markdown tables with the machine noted.

Per change, the app can do two things:

* **preview** — reshape the head (:func:`visualizer.body_type.morph`), carry the drawn skin
  (decimated to 60k triangles as in the app) and the current plan's sites with the skin, and
  recompute the drawn skin's normals (:class:`visualizer.body_preview.BodyPreview`);
* **re-place** — build the reshaped head (locator) and place the plan again by the protocol's
  rules (:func:`visualizer.planner.make_plan`, PREEMPT 31 sites).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_plan import machine  # noqa: E402

from visualizer.body_preview import BodyPreview  # noqa: E402
from visualizer.body_type import BodyType, _table, morph  # noqa: E402
from visualizer.head import _body_head, load_head  # noqa: E402
from visualizer.planner import make_plan  # noqa: E402
from visualizer.protocol import load_protocol  # noqa: E402
from visualizer.scene import display_mesh  # noqa: E402
from visualizer.skin_places import SkinPlaces  # noqa: E402

BODIES = {
    "sex 0 (female)": BodyType(sex=0.0),
    "sex 1 (male)": BodyType(sex=1.0),
    "18 years": BodyType(age=18.0),
    "90 years": BodyType(age=90.0),
    "weight 0": BodyType(weight=0.0),
    "weight 1": BodyType(weight=1.0),
    "muscle 1": BodyType(muscle=1.0),
    "female, 18, weight 0, muscle 0": BodyType(sex=0.0, age=18.0, weight=0.0, muscle=0.0),
    "male, 90, weight 1, muscle 1": BodyType(sex=1.0, age=90.0, weight=1.0, muscle=1.0),
}


def ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.0f} (max {max(times) * 1000:.0f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    protocol = load_protocol("preempt")
    base = load_head()
    t0 = time.perf_counter()
    _table()
    t_table = time.perf_counter() - t0
    today = make_plan(base, protocol)
    places = SkinPlaces.of(base.mesh, np.array([s.position for s in today.sites]))
    shown, _ = display_mesh(base, 60_000)
    t0 = time.perf_counter()
    preview = BodyPreview(base.mesh.points, base.mesh, shown.points, shown.regular_faces, today, base.mesh)
    t_preview_init = time.perf_counter() - t0
    steps: dict[str, list[float]] = {k: [] for k in ("morph", "preview", "carry", "head", "plan")}
    errors: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeats):
        for i, (label, body) in enumerate(BODIES.items()):
            # nudge the value so that every run is a fresh body type (no cache hit)
            body = body.model_copy(update={"african": 1 / 3 + 1e-4 * (i + 1) * (1 + len(steps["morph"]))})
            t0 = time.perf_counter()
            shaped = morph(body)
            t1 = time.perf_counter()
            preview.at(body)
            t2 = time.perf_counter()
            carried = places.on(shaped.points)
            t3 = time.perf_counter()
            head = _body_head(body)
            _ = head.surface
            t4 = time.perf_counter()
            plan = make_plan(head, protocol)
            t5 = time.perf_counter()
            for key, dt in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
                steps[key].append(dt)
            placed = np.array([s.position for s in plan.sites])
            d = np.linalg.norm(placed - carried, axis=1)
            errors[label] = (float(np.median(d)), float(d.max()))
    load = os.getloadavg()[0]
    print(f"machine: {machine()}; load average (1 min) {load:.1f}")
    print(f"table load (once per process): {t_table * 1000:.0f} ms; preview set-up (once per plan): "
          f"{t_preview_init * 1000:.0f} ms\n")
    print("| step per slider change | ms, median (max) |")
    print("|---|---:|")
    print(f"| reshape the head (`morph`: 72 targets → 77k points, landmarks, frame) | {ms(steps['morph'])} |")
    print(f"| carry the 31 sites with the skin (alone) | {ms(steps['carry'])} |")
    what = "`BodyPreview.at`: morph, drawn skin + normals, sites, plan copy"
    print(f"| **preview** ({what}) | **{ms(steps['preview'])}** |")
    print(f"| build the reshaped head (locator, normals, muscle map) | {ms(steps['head'])} |")
    print(f"| place the PREEMPT plan by its rules (prepare + plan) | {ms(steps['plan'])} |")
    full = [a + b + c for a, b, c in zip(steps["morph"], steps["head"], steps["plan"], strict=True)]
    print(f"| **re-place total** (morph + head + plan) | **{ms(full)}** |")
    print("\n| body type | carried vs re-placed sites: median (mm) | max (mm) |")
    print("|---|---:|---:|")
    for label, (med, worst) in errors.items():
        print(f"| {label} | {med:.1f} | {worst:.1f} |")


if __name__ == "__main__":
    main()
