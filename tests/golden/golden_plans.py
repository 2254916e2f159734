"""Golden plans: one JSON file per bundled protocol, planned on the default head.

Each file holds the part of the plan a clinician reads (site ids, labels, muscles, sides, units,
volumes, injection order, positions rounded to 0.1 mm, per-muscle totals, warnings and errors).
``tests/test_golden_plans.py`` recomputes each plan and compares; when a change moves sites on
purpose, regenerate the files and review the diff:

    .venv/bin/python tests/golden/golden_plans.py

``preempt-ftp`` is planned with a fixed pain origin (left temporal and occipital on both sides),
so its follow-the-pain sites are in the file too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent
#: The pain origin each protocol is planned with (region names as the CLI's --pain takes them).
PAIN: dict[str, list[str]] = {"preempt-ftp": ["left-temporal", "occipital"]}


def golden_view(plan: Any) -> dict[str, Any]:
    """The compared part of a plan (plain JSON data; positions in mm, mesh frame, 0.1 mm)."""
    return {
        "protocol": plan.protocol,
        "pain": plan.pain,
        "total_sites": plan.total_sites,
        "total_units": plan.total_units,
        "per_muscle": {k: [v.sites, v.units] for k, v in plan.per_muscle.items()},
        "sites": [
            {
                "id": s.id,
                "label": s.label,
                "muscle": s.muscle,
                "side": s.side,
                "units": s.units,
                "volume_ml": round(s.volume_ml, 4),
                "order": s.order,
                "follow_the_pain": s.follow_the_pain,
                "position_mm": [round(float(c), 1) for c in s.position],
            }
            for s in plan.sites
        ],
        "warnings": list(plan.warnings),
        "errors": list(plan.errors),
    }


def compute(protocol_id: str) -> dict[str, Any]:
    """The golden view of ``protocol_id`` planned on the default head."""
    from visualizer.head import load_head
    from visualizer.pain import PainOrigin
    from visualizer.planner import make_plan
    from visualizer.protocol import load_protocol

    pain = PainOrigin.parse(PAIN.get(protocol_id, []))
    return golden_view(make_plan(load_head(), load_protocol(protocol_id), pain))


def path_of(protocol_id: str) -> Path:
    """Where the golden file of ``protocol_id`` lives."""
    return GOLDEN_DIR / f"{protocol_id}.json"


def main() -> int:
    from visualizer.protocol import known_protocol_ids

    for pid in known_protocol_ids():
        path_of(pid).write_text(json.dumps(compute(pid), indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path_of(pid)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(GOLDEN_DIR.parents[1]))
    raise SystemExit(main())
