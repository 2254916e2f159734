"""The plan: plain data (no VTK) — sites, totals, warnings — and its JSON and CSV forms.

Positions and normals are in the **mesh frame** (mm): the coordinates of the mesh the plan was
made on. ``head_frame`` is the 4×4 matrix taking them to the Neuromag head frame.

The head is described by ``mesh``, ``landmarks`` and, for the bundled head reshaped to a body
type (:mod:`visualizer.body_type`), ``body_type`` (sex, age, weight, muscle, ethnic blend); a
plan on the bundled head as it is carries no ``body_type`` key.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

DISCLAIMER = (
    "Planning and teaching aid only. Positions are drawn on a model head and must be confirmed by "
    "palpation and clinical judgement on the patient. Botulinum toxin products carry a boxed "
    "warning for distant spread of toxin effect (swallowing and breathing difficulty, ptosis); "
    "units are not interchangeable between products."
)

CSV_FIELDS = (
    "order", "id", "label", "muscle", "side", "units", "volume_ml",
    "x_mm", "y_mm", "z_mm", "nx", "ny", "nz", "follow_the_pain", "description",
)  # fmt: skip


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
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    disclaimer: str = DISCLAIMER
    #: Which head when it is a scan: file name, SHA-256 of its bytes, units, where the landmarks
    #: came from (empty for the bundled head or a mesh given with its landmarks).
    head: dict[str, Any] = field(default_factory=dict)
    body_type: dict[str, float] | None = None
    per_muscle: dict[str, MuscleTotal] = field(init=False)

    def __post_init__(self) -> None:
        per: dict[str, MuscleTotal] = {}
        for s in self.sites:
            t = per.get(s.muscle, MuscleTotal(0, 0.0, 0.0))
            per[s.muscle] = MuscleTotal(t.sites + 1, t.units + s.units, round(t.volume_ml + s.volume_ml, 4))
        object.__setattr__(self, "per_muscle", per)

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
        """Plain JSON-ready dictionary (the CLI's ``--format json``)."""
        return {
            "protocol": self.protocol,
            "protocol_name": self.protocol_name,
            "protocol_file": self.protocol_file,
            "mesh": self.mesh,
            "landmarks_file": self.landmarks_file,
            **({"head": dict(self.head)} if self.head else {}),
            **({"body_type": dict(self.body_type)} if self.body_type is not None else {}),
            "frame": "mesh coordinates in mm; head_frame maps them to the Neuromag head frame",
            "head_frame": [list(r) for r in self.head_frame],
            "pain": self.pain,
            "follow_the_pain_enabled": self.follow_the_pain_enabled,
            "total_sites": self.total_sites,
            "total_units": self.total_units,
            "total_volume_ml": self.total_volume_ml,
            "per_muscle": {k: asdict(v) for k, v in self.per_muscle.items()},
            "landmarks": {k: list(v) for k, v in self.landmarks.items()},
            "sites": [{**asdict(s), "position": list(s.position), "normal": list(s.normal)} for s in self.sites],
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "notes": list(self.notes),
            "sources": list(self.sources),
            "disclaimer": self.disclaimer,
        }

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
        """Rebuild a plan from :meth:`to_dict` output (e.g. an edited plan file)."""
        sites = tuple(
            Site(
                id=str(s["id"]), label=str(s["label"]), muscle=str(s["muscle"]), side=str(s["side"]),
                units=float(s["units"]), volume_ml=float(s["volume_ml"]),
                position=_vec(s["position"]), normal=_vec(s["normal"]),
                follow_the_pain=bool(s["follow_the_pain"]), order=int(s["order"]),
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
            warnings=tuple(data.get("warnings", ())),
            errors=tuple(data.get("errors", ())),
            notes=tuple(data.get("notes", ())),
            sources=tuple(data.get("sources", ())),
            body_type=_body(data.get("body_type")),
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
