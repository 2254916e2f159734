"""Every bundled protocol, planned on the default head, matches its golden plan file.

A failure means a change moved a site, changed a dose or a warning: if that was intended,
regenerate with ``.venv/bin/python tests/golden/golden_plans.py`` and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from golden_plans import compute, path_of

from visualizer.protocol import known_protocol_ids

POSITION_TOL_MM = 0.15  # the files round to 0.1 mm


@pytest.mark.parametrize("protocol_id", known_protocol_ids())
def test_plan_matches_golden_file(protocol_id: str) -> None:
    path = path_of(protocol_id)
    assert path.is_file(), f"no golden plan for {protocol_id}: run tests/golden/golden_plans.py"
    want = json.loads(path.read_text())
    got = compute(protocol_id)
    want_pos = [s.pop("position_mm") for s in want["sites"]]
    got_pos = [s.pop("position_mm") for s in got["sites"]]
    assert got == want
    for site, a, b in zip(got["sites"], got_pos, want_pos, strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) <= POSITION_TOL_MM, (site["id"], a, b)


def test_every_golden_file_is_a_bundled_protocol() -> None:
    files = sorted(p.stem for p in path_of("x").parent.glob("*.json"))
    assert files == known_protocol_ids()
