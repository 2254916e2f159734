"""Outcome assessment from the headache diary: baseline, per-cycle means and the NICE TA260 flags.

NICE technology appraisal TA260 (botulinum toxin type A for the prevention of headaches in adults
with chronic migraine, https://www.nice.org.uk/guidance/ta260, section 1.2): stop treatment when
the condition

* is not adequately responding — less than a 30 % reduction in headache days per month after
  2 treatment cycles → flag ``review continuation``;
* has changed to episodic migraine — fewer than 15 headache days per month for 3 consecutive
  months → flag ``now episodic``.

Definitions used here: the **baseline** is the mean headache days of the (up to 3) diary months
before the month of the first signed migraine visit. **Cycle n** runs from the month after visit n
up to the month of visit n+1 (or, for the last visit, the 3 months after it — PREEMPT's 12 weeks).
The response after 2 cycles compares cycle 2's mean with the baseline. Months without a diary
entry are left out, never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

NICE_TA260 = "https://www.nice.org.uk/guidance/ta260"
RESPONSE_THRESHOLD = 0.30
EPISODIC_DAYS = 15
EPISODIC_MONTHS = 3
BASELINE_MONTHS = 3
CYCLE_MONTHS = 3


def _month(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _add_months(month: str, n: int) -> str:
    y, m = (int(p) for p in month.split("-"))
    k = y * 12 + (m - 1) + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


@dataclass
class Assessment:
    """Baseline, cycles and flags (each flag with its reason and the source)."""

    baseline: float | None
    baseline_months: list[str]
    cycles: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"baseline_headache_days": self.baseline, "baseline_months": self.baseline_months,
                "cycles": self.cycles, "flags": self.flags, "source": NICE_TA260}  # fmt: skip


def assess(visit_dates: Sequence[dt.date], diary: Sequence[dict[str, Any]]) -> Assessment:
    """Assess the signed migraine visits' dates against the diary (``{"month": "YYYY-MM", "headache_days": n}``)."""
    days = {d["month"]: int(d["headache_days"]) for d in diary}
    visits = sorted(visit_dates)
    if not visits:
        return Assessment(None, [])
    first = _month(visits[0])
    before = sorted(m for m in days if m < first)[-BASELINE_MONTHS:]
    baseline = sum(days[m] for m in before) / len(before) if before else None
    a = Assessment(round(baseline, 2) if baseline is not None else None, before)
    for i, v in enumerate(visits):
        start = _add_months(_month(v), 1)
        end = _month(visits[i + 1]) if i + 1 < len(visits) else _add_months(_month(v), CYCLE_MONTHS)
        months = [m for m in sorted(days) if start <= m <= end]
        mean = sum(days[m] for m in months) / len(months) if months else None
        change = (baseline - mean) / baseline if (mean is not None and baseline) else None
        a.cycles.append({"cycle": i + 1, "visit_date": v.isoformat(), "months": months,
                         "mean_headache_days": round(mean, 2) if mean is not None else None,
                         "reduction_from_baseline": round(change, 3) if change is not None else None})  # fmt: skip
    if len(a.cycles) >= 2 and a.cycles[1]["reduction_from_baseline"] is not None:
        r = a.cycles[1]["reduction_from_baseline"]
        if r < RESPONSE_THRESHOLD:
            a.flags.append({
                "flag": "review continuation",
                "reason": f"after 2 treatment cycles headache days fell by {100 * r:.0f} % from the baseline of "
                          f"{a.baseline:g} days/month (less than {100 * RESPONSE_THRESHOLD:.0f} %)",
                "source": f"NICE TA260 section 1.2 ({NICE_TA260})",
            })  # fmt: skip
    after = sorted(m for m in days if m > first)
    run: list[str] = []
    for m in after:
        consecutive = run and _add_months(run[-1], 1) == m
        if days[m] < EPISODIC_DAYS:
            run = [*run, m] if consecutive else [m]
            if len(run) >= EPISODIC_MONTHS:
                a.flags.append({
                    "flag": "now episodic",
                    "reason": f"fewer than {EPISODIC_DAYS} headache days in {EPISODIC_MONTHS} consecutive months "
                              f"({run[-EPISODIC_MONTHS]} to {run[-1]})",
                    "source": f"NICE TA260 section 1.2 ({NICE_TA260})",
                })  # fmt: skip
                break
        else:
            run = []
    return a
