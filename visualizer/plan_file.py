"""A plan file — the JSON of :meth:`Plan.to_dict`, possibly edited by hand — read and checked in full.

:func:`read_plan_file` validates the file against :class:`PlanFile` (every number finite and in
range, known muscles and sides, bounded strings and lists) and rebuilds the :class:`Plan`.
:func:`check_plan_file` then checks it on **the plan's own head** — the plan's mesh with the
landmarks stored in the plan (not re-read from its landmarks file) — against every cap of its
protocol: unique ids, positions on the skin, per-site, per-session, cumulative and follow-the-pain
caps, volumes that match the protocol's dilution, a pain point on the skin.

Positions are in the plan's **mesh frame** (mm), as written by :meth:`Plan.to_dict`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from visualizer.body_type import BodyType
from visualizer.errors import PlanFileError, ProtocolError, shorten
from visualizer.plan import PLAN_SCHEMA, Plan, check_plan_schema
from visualizer.protocol import Muscle, Protocol, known_protocol_ids, load_protocol
from visualizer.safe_read import load_json, read_text

if TYPE_CHECKING:
    from visualizer.head import Head

__all__ = ["MAX_PLAN_BYTES", "CheckResult", "PlanFile", "check_plan_file", "protocol_of", "read_plan_file"]

#: Largest plan file read (a 40-site plan is about 25 kB).
MAX_PLAN_BYTES = 4 << 20
#: Largest coordinate accepted in a plan (mm): 10 m, far beyond any head.
MAX_COORD_MM = 10_000.0
#: Largest number of sites, landmarks or messages in a plan file.
MAX_ITEMS = 1000

Short = Annotated[str, StringConstraints(max_length=200)]
Text = Annotated[str, StringConstraints(max_length=4000)]
PathText = Annotated[str, StringConstraints(max_length=4096)]
Coord = Annotated[float, Field(ge=-MAX_COORD_MM, le=MAX_COORD_MM)]
Vec3 = Annotated[list[Coord], Field(min_length=3, max_length=3)]
Unit = Annotated[float, Field(ge=-1.0, le=1.0)]
Normal3 = Annotated[list[Unit], Field(min_length=3, max_length=3)]
Row4 = Annotated[list[Coord], Field(min_length=4, max_length=4)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class SiteEntry(_Model):
    """One site as stored in a plan file (mesh frame, mm)."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    label: Text
    muscle: Muscle
    side: Literal["left", "right", "midline"]
    units: float = Field(gt=0, le=1000)
    volume_ml: float = Field(ge=0, le=100)
    position: Vec3
    normal: Normal3
    follow_the_pain: bool
    order: int = Field(ge=1, le=MAX_ITEMS)
    description: Text = ""


class PainEntry(_Model):
    """The pain origin as stored: region names and an optional point (mesh frame, mm)."""

    regions: Annotated[list[Annotated[str, StringConstraints(max_length=40)]], Field(max_length=20)]
    point: Vec3 | None = None


class MuscleTotalEntry(_Model):
    """A per-muscle total as stored (derived; recomputed by ``check``)."""

    sites: int = Field(ge=0, le=MAX_ITEMS)
    units: float = Field(ge=0, le=1e6)
    volume_ml: float = Field(ge=0, le=1e4)


class HeadEntry(_Model):
    """Which scan a plan was made on (see :attr:`visualizer.plan.Plan.head`)."""

    kind: Literal["scan"]
    file: PathText
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    units: Literal["mm", "cm", "m"]
    mm_per_unit: float = Field(gt=0, le=1000)
    landmarks: PathText


class FindingEntry(_Model):
    """One finding as stored (see :class:`visualizer.plan.Finding`); a check replaces the safety ones."""

    code: Short
    severity: Literal["error", "warning", "info"]
    message: Text
    site_ids: Annotated[list[Short], Field(max_length=MAX_ITEMS)] = []
    landmarks: Annotated[list[Short], Field(max_length=200)] = []


class PlanFile(_Model):
    """Schema of a plan file: the keys :meth:`Plan.to_dict` writes.

    ``total_*`` and ``per_muscle`` are derived: they are recomputed from the sites, and a
    stale value only earns a warning. ``schema`` is absent in plans written before it existed
    (they still read); a newer schema than :data:`~visualizer.plan.PLAN_SCHEMA` is refused.
    ``warnings`` and ``errors`` are replaced by the check's own.
    """

    schema_version: int | None = Field(default=None, alias="schema", ge=1, le=PLAN_SCHEMA)
    protocol: Short
    protocol_name: Text
    short_name: Short | None = None
    protocol_file: PathText
    mesh: PathText
    landmarks_file: PathText
    head: HeadEntry | None = None
    body_type: BodyType | None = None
    frame: Text | None = None
    head_frame: Annotated[list[Row4], Field(min_length=4, max_length=4)]
    pain: PainEntry
    heat_anchors: Annotated[list[Vec3], Field(max_length=40)] = []
    follow_the_pain_enabled: bool
    total_sites: int | None = Field(default=None, ge=0, le=MAX_ITEMS)
    total_units: float | None = Field(default=None, ge=0, le=1e6)
    total_volume_ml: float | None = Field(default=None, ge=0, le=1e4)
    per_muscle: dict[Muscle, MuscleTotalEntry] | None = None
    landmarks: Annotated[dict[Annotated[str, StringConstraints(max_length=64)], Vec3], Field(max_length=200)]
    sites: Annotated[list[SiteEntry], Field(min_length=1, max_length=MAX_ITEMS)]
    findings: Annotated[list[FindingEntry], Field(max_length=MAX_ITEMS)] = []
    warnings: Annotated[list[Text], Field(max_length=MAX_ITEMS)] = []
    errors: Annotated[list[Text], Field(max_length=MAX_ITEMS)] = []
    notes: Annotated[list[Text], Field(max_length=MAX_ITEMS)] = []
    sources: Annotated[list[Text], Field(max_length=MAX_ITEMS)] = []
    disclaimer: Text | None = None


def _field(loc: tuple[Any, ...], data: Any) -> str:
    """``sites.3 (site 'x').units`` from a pydantic location."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        text = str(part) if isinstance(part, int) or len(str(part)) <= 40 else shorten(part, 40)
        parts.append(text)
        if i == 1 and loc[0] == "sites" and isinstance(part, int) and isinstance(data, dict):
            sites = data.get("sites")
            if isinstance(sites, list) and part < len(sites) and isinstance(sites[part], dict):
                sid = sites[part].get("id")
                if isinstance(sid, str):
                    parts[-1] += f" (site {shorten(sid, 60)})"
    return ".".join(parts) or "(top level)"


def _problems(exc: ValidationError, data: Any) -> list[str]:
    out: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == "missing":
            out.append(f"{_field(loc, data)}: required field is missing")
        elif err["type"] == "extra_forbidden":
            out.append(f"{_field(loc, data)}: unknown key (not in a plan file)")
        else:
            out.append(f"{_field(loc, data)}: {err['msg']} (got {shorten(err['input'])})")
    return out


def _joined(path: Path, problems: list[str], limit: int = 8) -> str:
    shown = "; ".join(problems[:limit])
    more = f"; and {len(problems) - limit} more" if len(problems) > limit else ""
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{path}: {len(problems)} {noun}: {shown}{more}"


def read_plan_file(path: str | Path) -> tuple[Plan, PlanFile]:
    """Read and validate a plan file; returns the plan and the validated file.

    Raises
    ------
    PlanFileError
        Naming the file, every field at fault (with the site's id) and the value found.
    """
    path = Path(path)
    text = read_text(path, what="plan file", max_bytes=MAX_PLAN_BYTES, error=PlanFileError)
    data = load_json(text, path, error=PlanFileError)
    if not isinstance(data, dict):
        raise PlanFileError(f"{path}: a plan file holds a JSON object (got {type(data).__name__})")
    try:
        check_plan_schema(data)  # a newer program's plan: say so, rather than list its unknown keys
    except ValueError as exc:
        raise PlanFileError(f"{path}: {exc}") from None
    try:
        entry = PlanFile.model_validate(data)
    except ValidationError as exc:
        raise PlanFileError(_joined(path, _problems(exc, data))) from None
    return Plan.from_dict(entry.model_dump()), entry


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` found: the plan with fresh totals, and every warning and error."""

    plan: Plan
    warnings: tuple[str, ...]
    errors: tuple[str, ...]


def protocol_of(path: Path, entry: PlanFile) -> Protocol:
    """The plan's protocol: its ``protocol_file`` if that exists, else the bundled id it names."""
    ref = entry.protocol_file
    if ref and Path(ref).exists():
        protocol = load_protocol(ref if ref.endswith((".yaml", ".yml")) or "/" in ref else f"./{ref}")
    elif entry.protocol in known_protocol_ids():
        protocol = load_protocol(entry.protocol)
    else:
        raise ProtocolError(
            f"{path}: protocol_file {shorten(ref)} not found and protocol {shorten(entry.protocol)} is not a "
            f"bundled id ({', '.join(known_protocol_ids())})"
        )
    if protocol.id != entry.protocol:
        raise PlanFileError(
            f"{path}: protocol: the plan says {shorten(entry.protocol)} but protocol_file {shorten(ref)} "
            f"holds {protocol.id!r}"
        )
    return protocol


def _file_checks(head: Head, protocol: Protocol, plan: Plan, entry: PlanFile) -> tuple[list[str], list[str]]:
    """Checks only a stored, editable plan needs: volumes, orders, pain point, derived totals."""
    from visualizer.surface import OFF_HEAD_MM

    warnings: list[str] = []
    errors: list[str] = []
    for s in plan.sites:
        expected = protocol.volume_ml(s.units)
        if not math.isclose(s.volume_ml, expected, rel_tol=0.0, abs_tol=0.0051):
            errors.append(
                f"site {s.id}: volume_ml {s.volume_ml:g} does not hold {s.units:g} U at the protocol's dilution "
                f"({protocol.dilution.units:g} U per {protocol.dilution.volume_ml:g} mL → {expected:.3g} mL)"
            )
    orders = [s.order for s in plan.sites]
    if len(set(orders)) != len(orders):
        dup = sorted({o for o in orders if orders.count(o) > 1})
        errors.append(f"sites: order numbers must be unique (repeated: {', '.join(map(str, dup[:10]))})")
    if entry.pain.point is not None:
        p = np.asarray(entry.pain.point, dtype=float)
        d = float(np.linalg.norm(head.snap(p)[0] - p))
        if d > OFF_HEAD_MM:
            errors.append(f"pain.point is {d:.1f} mm from the skin of this head (at most {OFF_HEAD_MM:g} mm)")
    stored = {"total_sites": entry.total_sites, "total_units": entry.total_units}
    actual = {"total_sites": plan.total_sites, "total_units": plan.total_units}
    for key, value in stored.items():
        if value is not None and not math.isclose(float(value), actual[key], abs_tol=1e-6):
            warnings.append(f"{key} in the file ({value:g}) is not the sites' own ({actual[key]:g}); theirs is used")
    return warnings, errors


def check_plan_file(path: str | Path) -> CheckResult:
    """Validate an edited plan completely on the plan's own head and against its protocol's caps.

    Raises
    ------
    InjectVizError
        When the file cannot be read or checked at all (unreadable, not a plan, unknown protocol,
        landmarks off the mesh's skin). Breaches found in a readable plan are returned as errors.
    """
    from visualizer.head import head_from_landmarks  # VTK: only once the file has passed its schema
    from visualizer.planner import recheck

    path = Path(path)
    plan, entry = read_plan_file(path)
    protocol = protocol_of(path, entry)
    if entry.head is not None:  # a scan: read it as a scan (its unit, its largest piece), check its hash
        from visualizer.errors import MeshError
        from visualizer.scan import read_scan
        from visualizer.scan_landmarks import scan_head

        scan = read_scan(entry.mesh, entry.head.units)
        if scan.sha256 != entry.head.sha256:
            raise MeshError(f"{path}: head.sha256: the scan {entry.mesh} is not the file this plan was made on")
        lms = {k: np.asarray(v) for k, v in entry.landmarks.items()}
        head = scan_head(scan, lms, landmarks_label=f"{path}: landmarks")
    else:
        head = head_from_landmarks(
            entry.mesh or None, entry.landmarks, source=f"{path}: landmarks", body_type=entry.body_type
        )
    checked = recheck(head, protocol, plan)
    warnings, errors = _file_checks(head, protocol, checked, entry)
    return CheckResult(checked, (*checked.warnings, *warnings), (*checked.errors, *errors))
