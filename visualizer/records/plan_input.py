"""A plan file handed to the record: read it, check it as ``injectviz check`` does, pin its protocol.

The plan is what ``injectviz plan --format json`` prints (positions in the plan's mesh frame,
mm). A plan file is checked by :mod:`visualizer.plan_file` — the very check ``injectviz check``
runs — and refused on any error; the protocol is then pinned by the SHA-256 of that file's bytes
and a copy of its validated content, so a later edit of the protocol file never changes a past
record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visualizer.errors import InjectVizError
from visualizer.plan import Plan
from visualizer.protocol import Protocol
from visualizer.records.errors import RecordError


@dataclass(frozen=True)
class CheckedPlan:
    """A plan that passed the checks, with the protocol it was checked against."""

    plan: Plan
    data: dict[str, Any]
    protocol_id: str
    protocol_name: str
    protocol_hash: str
    protocol_indication: str
    protocol_cap_units: float
    protocol_json: dict[str, Any]
    dilution: str
    product: str
    warnings: tuple[str, ...]


def check_plan_data(data: dict[str, Any], source: str = "plan", *, head: Any = None) -> CheckedPlan:
    """Check a plan held in memory (e.g. the app's current plan) with the engine's safety checks on
    its head; refuse it if they find errors. Plan *files* go through :func:`load_checked_plan`.

    ``head``: the head the plan was placed on, when the caller holds it (the app's session: a
    patient's uploaded scan, whose file the server does not keep); else it is loaded from the
    plan's ``mesh`` and ``body_type``."""
    from visualizer.body_type import BodyType
    from visualizer.head import DEFAULT_MESH, load_head
    from visualizer.planner import recheck
    from visualizer.protocol import load_protocol

    try:
        plan = Plan.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordError(f"{source}: not a plan file ({type(exc).__name__}: {exc})") from None
    if not plan.sites:
        raise RecordError(f"{source}: the plan has no sites")
    ids = [s.id for s in plan.sites]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise RecordError(f"{source}: site id {dup[0]!r} appears more than once")
    try:
        protocol = load_protocol(data.get("protocol_file") or plan.protocol)
        mesh = data.get("mesh")
        default_mesh = not mesh or Path(mesh).resolve() == DEFAULT_MESH.resolve()
        body = data.get("body_type")  # the bundled head reshaped to a body type (issue 10)
        body_type = BodyType.parse(body, source=f"{source}: body_type") if body is not None else None
        if head is None:
            head = load_head(body_type=body_type) if default_mesh else load_head(mesh, data.get("landmarks_file"))
    except InjectVizError as exc:
        raise RecordError(f"{source}: {exc}") from None
    if protocol.id != plan.protocol:
        raise RecordError(f"{source}: protocol {plan.protocol!r} but its protocol_file holds {protocol.id!r}")
    checked = recheck(head, protocol, plan)
    if checked.errors:
        raise RecordError(f"{source}: the plan fails its checks: " + "; ".join(checked.errors))
    return _pinned(checked, protocol, tuple(checked.warnings))


def load_checked_plan(path: Path) -> CheckedPlan:
    """A plan file checked exactly as ``injectviz check`` checks it (:mod:`visualizer.plan_file`):
    schema, the plan's own head, every cap. Any error refuses it; the protocol is then pinned."""
    from visualizer.plan_file import check_plan_file, protocol_of, read_plan_file

    label = f"--plan {path}"
    try:
        result = check_plan_file(path)
        if result.errors:
            raise RecordError(f"{label}: the plan fails its checks: " + "; ".join(result.errors))
        _, entry = read_plan_file(path)
        protocol = protocol_of(Path(path), entry)  # the same protocol the check used
    except RecordError:
        raise
    except InjectVizError as exc:
        raise RecordError(f"--plan: {exc}") from None
    if not result.plan.sites:
        raise RecordError(f"{label}: the plan has no sites")
    return _pinned(result.plan, protocol, result.warnings)


def _pinned(plan: Plan, protocol: Protocol, warnings: tuple[str, ...]) -> CheckedPlan:
    """The plan with its protocol pinned: SHA-256 of the protocol file's bytes and its validated content."""
    path = protocol.path
    raw = path.read_bytes() if path is not None else protocol.model_dump_json(by_alias=True).encode()
    d = protocol.dilution
    return CheckedPlan(
        plan=plan,
        data=plan.to_dict(),
        protocol_id=protocol.id,
        protocol_name=protocol.name,
        protocol_hash=hashlib.sha256(raw).hexdigest(),
        protocol_indication=protocol.indication,
        protocol_cap_units=float(protocol.max_total_units),
        protocol_json=protocol.model_dump(mode="json", by_alias=True),
        dilution=f"{d.units:g} U per {d.volume_ml:g} mL ({d.units_per_ml:g} U/mL)",
        product=protocol.product,
        warnings=tuple(warnings),
    )
