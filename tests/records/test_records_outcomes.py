"""NICE TA260 flags from the diary (pure; no database)."""

from __future__ import annotations

import datetime as dt

from visualizer.records.outcomes import assess

D = dt.date


def _diary(pairs):
    return [{"month": m, "headache_days": n} for m, n in pairs]


def test_no_visits_no_assessment():
    a = assess([], _diary([("2025-01", 20)]))
    assert a.baseline is None and a.cycles == [] and a.flags == []


def test_poor_response_after_two_cycles_flags_review():
    diary = _diary(
        [
            ("2025-10", 20),
            ("2025-11", 22),
            ("2025-12", 21),  # baseline 21
            ("2026-01", 19),
            ("2026-02", 18),
            ("2026-03", 18),  # cycle 1 (visit 2025-12-15 → 2026-03)
            ("2026-04", 17),
            ("2026-05", 16),
            ("2026-06", 16),
        ]
    )  # cycle 2: mean 16.33, −22 %
    a = assess([D(2025, 12, 15), D(2026, 3, 9)], diary)
    assert a.baseline_months == ["2025-10", "2025-11"]  # months before the visit's month
    assert a.cycles[1]["months"] == ["2026-04", "2026-05", "2026-06"]
    assert [f["flag"] for f in a.flags] == ["review continuation"]
    assert "fell by 22 %" in a.flags[0]["reason"] and "ta260" in a.flags[0]["source"]


def test_good_response_and_episodic():
    diary = _diary(
        [
            ("2025-10", 20),
            ("2025-11", 20),
            ("2026-01", 16),
            ("2026-02", 14),
            ("2026-03", 12),
            ("2026-04", 10),
            ("2026-05", 9),
        ]
    )
    a = assess([D(2025, 12, 1), D(2026, 3, 2)], diary)
    assert a.baseline == 20.0
    assert a.cycles[1]["mean_headache_days"] == 9.5  # 2026-04, 2026-05
    assert [f["flag"] for f in a.flags] == ["now episodic"]
    assert "2026-02 to 2026-04" in a.flags[0]["reason"]


def test_a_gap_in_the_diary_breaks_the_run():
    diary = _diary([("2025-11", 20), ("2026-01", 10), ("2026-02", 10), ("2026-04", 10)])
    assert assess([D(2025, 12, 1)], diary).flags == []
