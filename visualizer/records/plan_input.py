"""A plan file handed to the record: read it, check it as ``injectviz check`` does, pin its protocol.

The plan is what ``injectviz plan --format json`` prints (positions in the plan's mesh frame,
mm). Checking re-runs the safety checks on the plan's own head and the protocol file it names;
the protocol is then pinned by the SHA-256 of that file's bytes and a copy of its validated
content, so a later edit of the protocol file never changes a past record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visualizer.errors import InjectVizError
from visualizer.plan import Plan
from visualizer.records.errors import RecordError

MAX_PLAN_BYTES = 5_000_000


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


def read_plan_file(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (refuses unreadable, huge or non-JSON files)."""
    try:
        size = path.stat().st_size
        if size > MAX_PLAN_BYTES:
            raise RecordError(f"--plan {path}: {size} bytes; a plan file is at most {MAX_PLAN_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordError(f"--plan {path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise RecordError(f"--plan {path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"--plan {path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise RecordError(f"--plan {path}: not a plan file (expected a JSON object, got {type(data).__name__})")
    return data


def check_plan_data(data: dict[str, Any], source: str = "plan") -> CheckedPlan:
    """Check a plan dictionary as ``injectviz check`` does; refuse it if the checks find errors."""
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
        head = load_head() if default_mesh else load_head(mesh, data.get("landmarks_file"))
    except InjectVizError as exc:
        raise RecordError(f"{source}: {exc}") from None
    if protocol.id != plan.protocol:
        raise RecordError(f"{source}: protocol {plan.protocol!r} but its protocol_file holds {protocol.id!r}")
    checked = recheck(head, protocol, plan)
    if checked.errors:
        raise RecordError(f"{source}: the plan fails its checks: " + "; ".join(checked.errors))
    path = protocol.path
    raw = path.read_bytes() if path is not None else protocol.model_dump_json(by_alias=True).encode()
    d = protocol.dilution
    return CheckedPlan(
        plan=checked,
        data=checked.to_dict(),
        protocol_id=protocol.id,
        protocol_name=protocol.name,
        protocol_hash=hashlib.sha256(raw).hexdigest(),
        protocol_indication=protocol.indication,
        protocol_cap_units=float(protocol.max_total_units),
        protocol_json=protocol.model_dump(mode="json", by_alias=True),
        dilution=f"{d.units:g} U per {d.volume_ml:g} mL ({d.units_per_ml:g} U/mL)",
        product=protocol.product,
        warnings=tuple(checked.warnings),
    )


def load_checked_plan(path: Path) -> CheckedPlan:
    """:func:`read_plan_file` then :func:`check_plan_data`."""
    return check_plan_data(read_plan_file(path), f"--plan {path}")
