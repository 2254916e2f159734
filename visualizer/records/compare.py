"""Today's plan against the patient's last visit: what differs, and where the last visit's sites were.

Input is a stored visit (:meth:`visualizer.records.service.Records.visit_record`: the plan as
computed then, the sites as given) and today's :class:`~visualizer.plan.Plan`. Positions are in the
plan's **mesh frame**, mm; two plans are compared only when they were made on the same head mesh.
Nothing here renders or reads a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visualizer.plan import Plan, short_name

#: a site of the same id that moved more than this between the two plans is listed (mm)
MOVED_MM = 5.0


@dataclass(frozen=True)
class GhostSite:
    """A site of the last visit as given (skipped sites are left out); ``position`` mesh frame, mm."""

    site_id: str
    order: int | None
    units: float
    position: tuple[float, float, float]


@dataclass
class Comparison:
    """The last visit's given sites and the differences to today's plan, in plain sentences."""

    visit_id: int
    visit_date: str
    ghosts: list[GhostSite] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    same_head: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit_id": self.visit_id,
            "visit_date": self.visit_date,
            "same_head": self.same_head,
            "sites": len(self.ghosts),
            "differences": list(self.differences),
        }


def _u(v: float) -> str:
    return f"{v:g} U"


def compare_with_plan(last: dict[str, Any], plan: Plan) -> Comparison:
    """Compare a stored visit (``visit_record``) with today's plan.

    Lists: a different protocol or pain origin, sites only in one of the two, units that differ
    (given last time vs planned today), sites skipped last time, sites added last time, sites that
    moved more than :data:`MOVED_MM`, and the totals.
    """
    stored = last.get("plan") or {}
    positions = {str(s["id"]): tuple(float(v) for v in s["position"]) for s in stored.get("sites", [])}
    cmp = Comparison(visit_id=int(last["id"]), visit_date=str(last["date"]))
    today_body = plan.to_dict().get("body_type")
    today_scan = plan.head.get("sha256") if plan.head else None  # a patient's scan: the same file's bytes
    cmp.same_head = (
        (stored.get("mesh") or "") == (plan.mesh or "")
        and stored.get("body_type") == today_body
        and (stored.get("head") or {}).get("sha256") == today_scan
    )
    if not cmp.same_head:
        cmp.differences.append(
            "the last visit was planned on another head (mesh or body type): its sites are not drawn"
        )
    rows = {str(s["site_id"]): s for s in last.get("sites", [])}
    today = {s.id: s for s in plan.sites}
    if last.get("protocol") != plan.protocol:
        before = short_name(last.get("protocol_name") or "") or last.get("protocol")
        now = short_name(plan.protocol_name) or plan.protocol
        cmp.differences.append(f"protocol: last visit {before}, today {now}")
    last_pain, today_pain = _pain_words(stored.get("pain")), _pain_words(plan.pain)
    if last_pain != today_pain:
        cmp.differences.append(f"pain origin: last visit {last_pain}, today {today_pain}")
    for sid, row in rows.items():
        if row.get("skipped"):
            cmp.differences.append(f"{sid}: skipped last time ({row.get('skip_reason') or 'no reason'})")
            continue
        pos = positions.get(sid)
        if cmp.same_head and pos is not None:
            cmp.ghosts.append(GhostSite(sid, row.get("order"), float(row["given_units"]), pos))
        if row.get("extra"):
            cmp.differences.append(f"{sid}: added last time ({_u(row['given_units'])}), not in today's plan")
            continue
        site = today.get(sid)
        if site is None:
            cmp.differences.append(f"{sid}: given last time ({_u(row['given_units'])}), not in today's plan")
            continue
        if abs(float(row["given_units"]) - site.units) > 1e-9:
            cmp.differences.append(f"{sid}: {_u(row['given_units'])} given last time, {_u(site.units)} planned today")
        if cmp.same_head and pos is not None:
            moved = float(np.linalg.norm(np.subtract(pos, site.position)))
            if moved > MOVED_MM:
                cmp.differences.append(f"{sid}: {moved:.0f} mm from where it was last time")
    for sid, site in today.items():
        if sid not in rows:
            cmp.differences.append(f"{sid}: new today ({_u(site.units)}), not given last time")
    before = float(last.get("total_given_units") or 0.0)
    if abs(before - plan.total_units) > 1e-9:
        cmp.differences.append(f"total: {_u(before)} given last time, {_u(plan.total_units)} planned today")
    return cmp


def _pain_words(pain: Any) -> str:
    if not isinstance(pain, dict):
        return "none"
    parts = [str(r) for r in pain.get("regions") or []]
    if pain.get("point"):
        parts.append("point (" + ", ".join(f"{float(v):.0f}" for v in pain["point"]) + ") mm")
    return ", ".join(parts) or "none"
