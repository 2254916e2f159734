"""The plan: plain data (no VTK) — sites, totals, findings — and its JSON and CSV forms.

Positions and normals are in the **mesh frame** (mm): the coordinates of the mesh the plan was
made on. ``head_frame`` is the 4×4 matrix taking them to the Neuromag head frame.

The head is described by ``mesh``, ``landmarks`` and, for the bundled head reshaped to a body
type (:mod:`visualizer.body_type`), ``body_type`` (sex, age, weight, muscle, ethnic blend); a
plan on the bundled head as it is carries no ``body_type`` key.

Findings are structured (:class:`Finding`: code, severity, site ids, message). ``errors``,
``warnings`` and ``notes`` are the messages of the findings of each severity.

The plan carries everything the scene draws: the sites, the protocol's ``short_name`` (the
picture's title) and ``heat_anchors``, the centres of the pain regions (mesh frame, mm) where the
pain glow is drawn. Its JSON starts with ``schema`` (:data:`PLAN_SCHEMA`); a file without it is
an older plan (schema 1) and still reads, a newer schema is refused with a message saying so.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

DISCLAIMER = (
    "Planning and teaching aid only. Positions are drawn on a model head and must be confirmed by "
    "palpation and clinical judgement on the patient. Botulinum toxin products carry a boxed "
    "warning for distant spread of toxin effect (swallowing and breathing difficulty, ptosis); "
    "units are not interchangeable between products."
)

#: Version of the plan JSON written by :meth:`Plan.to_dict`. 1: plans before the key existed (no
#: ``short_name``, no ``heat_anchors``); 2: ``schema``, ``short_name`` and ``heat_anchors``.
PLAN_SCHEMA = 2


def check_plan_schema(data: Any) -> int:
    """The schema version of a plan dictionary (1 when absent); ``ValueError`` for a newer or bad one."""
    version = data.get("schema", 1) if isinstance(data, dict) else 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"schema: a plan's schema is a whole number from 1 (got {version!r})")
    if version > PLAN_SCHEMA:
        raise ValueError(
            f"schema {version}: this plan was written by a newer InjectViz (plan schema {version}); this "
            f"version reads plan schemas 1 to {PLAN_SCHEMA} — update InjectViz to open it"
        )
    return version


def short_name(protocol_name: str) -> str:
    """A protocol's name without its details: ``"PREEMPT"`` for ``"PREEMPT — fixed-site (31 sites)"``."""
    name = str(protocol_name)
    for sep in (" \u2014 ", " - ", " ("):
        name = name.split(sep)[0]
    return name.strip()


CSV_FIELDS = (
    "order", "id", "label", "muscle", "side", "units", "volume_ml",
    "x_mm", "y_mm", "z_mm", "nx", "ny", "nz", "follow_the_pain", "description",
)  # fmt: skip


#: ``error``: a cap is broken (the CLI's ``check`` exits 2); ``warning``: a placement caution
#: (spacing, orbit/brow margin, temporalis height, an implausible landmark). Both are safety
#: findings and are never hidden. ``info``: what the planner did or could not do (no
#: follow-the-pain sites in this protocol, what follow-the-pain added, ...).
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One result of the safety checks or of planning.

    ``code`` is a stable identifier (e.g. ``sites_too_close``; see ``visualizer.safety``) that
    pages and tests match on; ``site_ids`` are the ids of the sites it is about (maybe none),
    ``landmarks`` the names of the landmarks it is about; ``message`` is plain words for people
    (sites by number and place, never internal ids or raw coordinates).
    """

    code: str
    severity: Severity
    message: str
    site_ids: tuple[str, ...] = ()
    landmarks: tuple[str, ...] = ()

    @property
    def is_safety(self) -> bool:
        """A real safety finding (error or warning), as opposed to information."""
        return self.severity != "info"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "site_ids": list(self.site_ids),
            "landmarks": list(self.landmarks),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Finding:
        """Rebuild from :meth:`to_dict` output (ValueError naming the bad field)."""
        if not isinstance(data, dict):
            raise ValueError(f"a finding must be an object, got {type(data).__name__}")
        sev = data.get("severity")
        if sev not in SEVERITIES:
            raise ValueError(f"finding severity must be one of {', '.join(SEVERITIES)}, got {sev!r}")
        lists = {}
        for key in ("site_ids", "landmarks"):
            val = data.get(key, [])
            if not isinstance(val, list):
                raise ValueError(f"finding {key} must be a list, got {type(val).__name__}")
            lists[key] = tuple(str(i) for i in val)
        return cls(code=str(data.get("code", "")), severity=sev, message=str(data.get("message", "")), **lists)


@dataclass(frozen=True)
class Site:
    """One injection.

    ``side`` is ``left``, ``right`` or ``midline``; ``order`` counts from 1 in injection order;
    ``description`` is the site in plain words for patients (e.g. "right temple").
    """

    id: str
    label: str
    muscle: str
    side: str
    units: float
    volume_ml: float
    position: tuple[float, float, float]
    normal: tuple[float, float, float]
    follow_the_pain: bool
    order: int
    description: str


@dataclass(frozen=True)
class MuscleTotal:
    """Totals for one muscle."""

    sites: int
    units: float
    volume_ml: float


@dataclass(frozen=True)
class Plan:
    """A complete plan. Build it with :func:`visualizer.planner.make_plan`."""

    protocol: str
    protocol_name: str
    protocol_file: str
    mesh: str
    landmarks_file: str
    landmarks: dict[str, tuple[float, float, float]]
    head_frame: tuple[tuple[float, ...], ...]
    pain: dict[str, Any]
    follow_the_pain_enabled: bool
    sites: tuple[Site, ...]
    findings: tuple[Finding, ...] = ()
    sources: tuple[str, ...] = ()
    disclaimer: str = DISCLAIMER
    #: Which head when it is a scan: file name, SHA-256 of its bytes, units, where the landmarks
    #: came from (empty for the bundled head or a mesh given with its landmarks).
    head: dict[str, Any] = field(default_factory=dict)
    body_type: dict[str, float] | None = None
    #: The protocol's short name, the title of a picture (:func:`short_name`).
    short_name: str = ""
    #: Centres of the pain regions (mesh frame, mm), where the scene draws the pain glow.
    heat_anchors: tuple[tuple[float, float, float], ...] = ()
    per_muscle: dict[str, MuscleTotal] = field(init=False)

    def __post_init__(self) -> None:
        per: dict[str, MuscleTotal] = {}
        for s in self.sites:
            t = per.get(s.muscle, MuscleTotal(0, 0.0, 0.0))
            per[s.muscle] = MuscleTotal(t.sites + 1, t.units + s.units, round(t.volume_ml + s.volume_ml, 4))
        object.__setattr__(self, "per_muscle", per)

    @property
    def title(self) -> str:
        """The title of a picture of this plan: ``"PREEMPT - 31 sites, 155 U"``."""
        name = self.short_name or short_name(self.protocol_name or self.protocol)
        counts = f"{self.total_sites} sites, {self.total_units:g} U"
        return f"{name} - {counts}" if name else counts

    @property
    def total_sites(self) -> int:
        """Number of injections."""
        return len(self.sites)

    @property
    def total_units(self) -> float:
        """Sum of units over all sites."""
        return float(sum(s.units for s in self.sites))

    @property
    def total_volume_ml(self) -> float:
        """Sum of volumes (mL)."""
        return round(sum(s.volume_ml for s in self.sites), 4)

    @property
    def errors(self) -> tuple[str, ...]:
        """Messages of the ``error`` findings (broken caps)."""
        return tuple(f.message for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[str, ...]:
        """Messages of the ``warning`` findings (placement cautions)."""
        return tuple(f.message for f in self.findings if f.severity == "warning")

    @property
    def notes(self) -> tuple[str, ...]:
        """Messages of the ``info`` findings."""
        return tuple(f.message for f in self.findings if f.severity == "info")

    @property
    def safety_findings(self) -> tuple[Finding, ...]:
        """Errors and warnings: the findings a page must show and never let be dismissed."""
        return tuple(f for f in self.findings if f.is_safety)

    @property
    def ftp_sites(self) -> tuple[Site, ...]:
        """The follow-the-pain sites."""
        return tuple(s for s in self.sites if s.follow_the_pain)

    def site(self, site_id: str) -> Site:
        """The site with this id (KeyError if none)."""
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary (the CLI's ``--format json``).

        ``protocol_file``, ``mesh`` and ``landmarks_file`` are empty for the bundled protocol and
        head, else the path as the user gave it (see :func:`visualizer.planner.make_plan`);
        :meth:`public` strips them to file names for a plan leaving the server.
        """
        return {
            "schema": PLAN_SCHEMA,
            "protocol": self.protocol,
            "protocol_name": self.protocol_name,
            "short_name": self.short_name,
            "protocol_file": self.protocol_file,
            "mesh": self.mesh,
            "landmarks_file": self.landmarks_file,
            **({"head": dict(self.head)} if self.head else {}),
            **({"body_type": dict(self.body_type)} if self.body_type is not None else {}),
            "frame": "mesh coordinates in mm; head_frame maps them to the Neuromag head frame",
            "head_frame": [list(r) for r in self.head_frame],
            "pain": self.pain,
            "heat_anchors": [list(a) for a in self.heat_anchors],
            "follow_the_pain_enabled": self.follow_the_pain_enabled,
            "total_sites": self.total_sites,
            "total_units": self.total_units,
            "total_volume_ml": self.total_volume_ml,
            "per_muscle": {k: asdict(v) for k, v in self.per_muscle.items()},
            "landmarks": {k: list(v) for k, v in self.landmarks.items()},
            "sites": [{**asdict(s), "position": list(s.position), "normal": list(s.normal)} for s in self.sites],
            "findings": [f.to_dict() for f in self.findings],
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "notes": list(self.notes),
            "sources": list(self.sources),
            "disclaimer": self.disclaimer,
        }

    def public(self) -> Plan:
        """This plan with file references reduced to bare file names (no server paths), for a
        plan sent to a browser or downloaded from the web app."""

        def name(p: str) -> str:
            return p.replace("\\", "/").rsplit("/", 1)[-1] if p else ""

        return replace(
            self, protocol_file=name(self.protocol_file), mesh=name(self.mesh), landmarks_file=name(self.landmarks_file)
        )

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_csv(self) -> str:
        """One row per site (mesh-frame mm), then the totals as a comment-free trailer row."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_FIELDS)
        for s in self.sites:
            w.writerow([
                s.order, s.id, s.label, s.muscle, s.side, _num(s.units), _num(s.volume_ml),
                *(f"{c:.2f}" for c in s.position), *(f"{c:.4f}" for c in s.normal),
                "yes" if s.follow_the_pain else "no", s.description,
            ])  # fmt: skip
        w.writerow(["", "TOTAL", "", "", "", _num(self.total_units), _num(self.total_volume_ml)])
        return buf.getvalue()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """Rebuild a plan from :meth:`to_dict` output (e.g. an edited plan file).

        A plan without ``schema`` is an older one (schema 1): its short name is derived from the
        protocol's name and it has no heat anchors. A newer schema raises ``ValueError`` saying so.
        """
        check_plan_schema(data)
        sites = tuple(
            Site(
                id=str(s["id"]),
                label=str(s["label"]),
                muscle=str(s["muscle"]),
                side=str(s["side"]),
                units=float(s["units"]),
                volume_ml=float(s["volume_ml"]),
                position=_vec(s["position"]),
                normal=_vec(s["normal"]),
                follow_the_pain=bool(s["follow_the_pain"]),
                order=int(s["order"]),
                description=str(s.get("description", "")),
            )
            for s in data["sites"]
        )
        return cls(
            protocol=str(data["protocol"]),
            protocol_name=str(data.get("protocol_name", data["protocol"])),
            protocol_file=str(data.get("protocol_file", "")),
            mesh=str(data.get("mesh", "")),
            landmarks_file=str(data.get("landmarks_file", "")),
            head=dict(data.get("head") or {}),
            landmarks={k: _vec(v) for k, v in data.get("landmarks", {}).items()},
            head_frame=tuple(tuple(float(c) for c in r) for r in data.get("head_frame", [])),
            pain=dict(data.get("pain", {})),
            follow_the_pain_enabled=bool(data.get("follow_the_pain_enabled", False)),
            sites=sites,
            findings=_findings_of(data),
            sources=tuple(data.get("sources", ())),
            body_type=_body(data.get("body_type")),
            short_name=str(data.get("short_name") or short_name(str(data.get("protocol_name", data["protocol"])))),
            heat_anchors=tuple(_vec(a) for a in data.get("heat_anchors", ())),
        )

    def to_table(self) -> str:
        """A fixed-width text table for terminals."""
        head = f"{'#':>3}  {'site':<28} {'muscle':<20} {'side':<8} {'U':>5} {'mL':>6}  {'FTP':<3}"
        lines = [f"{self.protocol_name} ({self.protocol})", head, "-" * len(head)]
        for s in self.sites:
            lines.append(
                f"{s.order:>3}  {s.id:<28} {s.muscle:<20} {s.side:<8} {_num(s.units):>5} "
                f"{_num(s.volume_ml):>6}  {'yes' if s.follow_the_pain else '':<3}"
            )
        lines.append("-" * len(head))
        lines.append(f"     {'total':<28} {'':<20} {'':<8} {_num(self.total_units):>5} {_num(self.total_volume_ml):>6}")
        lines.append(f"     {self.total_sites} sites")
        for m, t in self.per_muscle.items():
            lines.append(f"     {m:<26} {t.sites:>3} sites {_num(t.units):>6} U {_num(t.volume_ml):>6} mL")
        for e in self.errors:
            lines.append(f"ERROR: {e}")
        for w_ in self.warnings:
            lines.append(f"WARNING: {w_}")
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)


def _findings_of(data: dict[str, Any]) -> tuple[Finding, ...]:
    """Findings of a plan dictionary; older files with only message lists keep their messages."""
    if data.get("findings") or not any(data.get(k) for k in ("errors", "warnings", "notes")):
        raw = data.get("findings", [])
        if not isinstance(raw, list):
            raise ValueError(f"findings must be a list, got {type(raw).__name__}")
        return tuple(Finding.from_dict(f) for f in raw)
    out: list[Finding] = []
    for key, sev in (("errors", "error"), ("warnings", "warning"), ("notes", "info")):
        out.extend(Finding(f"saved_{sev}", sev, str(m)) for m in data.get(key, ()))  # type: ignore[arg-type]
    return tuple(out)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _body(v: Any) -> dict[str, float] | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ValueError(f"body_type: expected an object, got {type(v).__name__}")
    return {str(k): float(x) for k, x in v.items()}


def _vec(v: Any) -> tuple[float, float, float]:
    if not (isinstance(v, list | tuple) and len(v) == 3):
        raise ValueError(f"expected [x, y, z], got {v!r}")
    return (float(v[0]), float(v[1]), float(v[2]))
