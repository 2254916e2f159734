"""The protocol file's schema: validated pydantic models and sites expanded per side.

A protocol file (``protocols/<id>.yaml``, schema described in ``protocols/README.md``) lists fixed
injection sites as placement *rules* relative to named landmarks; nothing here knows about meshes
or coordinates. :meth:`Protocol.expanded_sites` turns each bilateral site into a left and a right
site with its landmark names resolved for that side. Muscle and landmark names come from the
registries (:mod:`visualizer.muscles`, :mod:`visualizer.landmarks`).

The cross-field checks are plain functions returning located issues
(:mod:`visualizer.protocol_messages`), shared by the models (on validated values) and by the
loader's raw-file pass (which reports them even when a sibling field is invalid).
"""

from __future__ import annotations

import math
import string
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from visualizer.checks import option_message
from visualizer.landmarks import FRAME_LANDMARKS, landmark_problem, resolve_landmark
from visualizer.muscles import MUSCLES, muscle_info
from visualizer.protocol_messages import NO_VALUE, Issue, Loc, bundle

__all__ = [
    "MAX_OFFSET_MM",
    "MAX_SESSION_UNITS",
    "MAX_UNITS_PER_SITE",
    "SCHEMA_VERSION",
    "Aftercare",
    "Arc",
    "Dilution",
    "ExpandedSite",
    "Expected",
    "FollowThePain",
    "Muscle",
    "Offset",
    "PatientInfo",
    "Placement",
    "Protocol",
    "Site",
    "Source",
    "UnitsIssue",
]

SCHEMA_VERSION = 1

#: Muscle vocabulary (snake_case) a site may name: the rows of :data:`visualizer.muscles.MUSCLE_TABLE`.
Muscle = Literal[MUSCLES]  # type: ignore[valid-type]

#: Largest dose allowed at one site (U); "generally no more than 50 U per site" (BOTOX label).
MAX_UNITS_PER_SITE = 50.0
#: Largest session cap a file may declare (U): the label's cumulative 400 U per 3 months.
MAX_SESSION_UNITS = 400.0
#: Longest offset walk accepted (mm); longer ones are almost surely typing errors.
MAX_OFFSET_MM = 150.0

_SIDE_SUFFIXES = ("_left", "_right")


def is_number(v: Any) -> bool:
    """A real number (not a bool)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


# Checks shared by the models (validated values) and by the raw-file pass (which reports them
# even when a sibling field is invalid and the model's own check therefore never ran).
def offset_issues(values: dict[str, Any]) -> list[Issue]:
    nums = {k: v for k, v in values.items() if k in _OFFSET_KEYS and is_number(v)}
    found: list[Issue] = []
    if len(nums) == len(values) and not any(nums.values()):
        found.append(((), "give at least one non-zero direction, or leave offset_mm out", values))
    for a, b in _OPPOSED:
        if nums.get(a) and nums.get(b):
            found.append(((b,), f"{a!r} and {b!r} point in opposite directions; give only one", nums[b]))
    return found


def placement_issues(values: dict[str, Any]) -> list[Issue]:
    if (values.get("landmark") is None) == (values.get("arc") is None):
        return [((), "give exactly one of 'landmark' or 'arc'", NO_VALUE)]
    return []


def site_issues(
    site_id: Any, side: str, names: list[tuple[Loc, str]], offsets: dict[str, Any], description: Any
) -> list[Issue]:
    """Checks of one site that depend on its side ('midline', 'bilateral', 'left' or 'right')."""
    found: list[Issue] = []
    if isinstance(site_id, str) and site_id.endswith(_SIDE_SUFFIXES):
        found.append((("id",), "must not end in _left/_right (added when bilateral sites are expanded)", site_id))
    for path, name in names:
        problem = landmark_problem(name, side)
        if problem:
            found.append((("placement", *path), problem, name))
    if side == "midline":
        for key in ("lateral", "medial"):
            if is_number(offsets.get(key)) and offsets[key]:
                found.append(
                    (("placement", "offset_mm", key), f"{key!r} has no meaning in a midline site", offsets[key])
                )
    if isinstance(description, str):
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(description) if f is not None}
        except ValueError as exc:
            found.append((("description",), f"unbalanced braces ({exc}); only {{side}} may be used", description))
        else:
            if fields - {"side"}:
                found.append(
                    (("description",), f"only {{side}} may be used, found {sorted(fields - {'side'})}", description)
                )
            elif side == "midline" and "side" in fields:
                found.append(
                    (("description",), "a midline site has no {side}; describe it in plain words", description)
                )
            elif side == "bilateral" and "side" not in fields:
                found.append(
                    (
                        ("description",),
                        "a bilateral site's description must contain {side}, e.g. '{side} temple'",
                        description,
                    )
                )
    return found


def ftp_issues(muscles: dict[str, Any], max_sites: Any, max_units: Any, units_per_site: Any) -> list[Issue]:
    """Follow-the-pain consistency; arithmetic only on the numbers that are readable."""
    found: list[Issue] = []
    for muscle in [m for m in muscles if m in MUSCLES and not muscle_info(m).ftp]:
        found.append(
            (
                ("muscles", muscle),
                f"follow-the-pain is not allowed in {muscle}: {muscle_info(muscle).no_ftp_reason}; remove it",
                muscles[muscle],
            )
        )
    caps = {m: c for m, c in muscles.items() if m in MUSCLES and is_number(c)}
    if not (is_number(max_units) and is_number(units_per_site) and units_per_site > 0):
        return found
    if isinstance(max_sites, int) and not isinstance(max_sites, bool):
        product = max_sites * units_per_site
        if not _close(max_units, product):
            found.append(
                (
                    ("max_units",),
                    f"must equal max_sites × units_per_site = {max_sites} × "
                    f"{_fmt_units(units_per_site)} = {_fmt_units(product)} U",
                    max_units,
                )
            )
    if len(caps) == len(muscles):
        total_caps = sum(caps.values())
        if total_caps < max_units - 1e-9:
            found.append(
                (
                    ("muscles",),
                    f"per-muscle caps add up to {_fmt_units(total_caps)} U, less than max_units "
                    f"{_fmt_units(max_units)} U",
                    dict(muscles),
                )
            )
    for muscle, cap in caps.items():
        if cap > max_units + 1e-9:
            found.append((("muscles", muscle), f"cap exceeds max_units {_fmt_units(max_units)} U", cap))
        ratio = cap / units_per_site
        if not _close(ratio, round(ratio)):
            found.append(
                (("muscles", muscle), f"cap must be a whole number of {_fmt_units(units_per_site)} U sites", cap)
            )
    return found


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonBlank = Annotated[str, AfterValidator(_not_blank)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0.0, abs_tol=1e-9)


def _fmt_units(u: float) -> str:
    return f"{u:g}"


# ----------------------------------------------------------------------------- models
class Source(_Model):
    """A citation backing a protocol."""

    citation: NonBlank
    url: str
    note: str | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")) or any(c.isspace() for c in v):
            raise ValueError("url must be an http:// or https:// address without spaces")
        return v


class Dilution(_Model):
    """Reconstitution as ``units`` per ``volume_ml`` (e.g. 5 U per 0.1 mL)."""

    units: float = Field(gt=0)
    volume_ml: float = Field(gt=0)

    @property
    def units_per_ml(self) -> float:
        """Concentration in U/mL."""
        return self.units / self.volume_ml


class Expected(_Model):
    """The published totals of the fixed sites, checked against the site list."""

    sites: int = Field(ge=1)
    units: float = Field(gt=0)


_OFFSET_KEYS = ("superior", "inferior", "anterior", "posterior", "lateral", "medial")
_OPPOSED = (("superior", "inferior"), ("anterior", "posterior"), ("lateral", "medial"))


class Offset(_Model):
    """A walk over the skin in head-frame directions (mm, all ≥ 0).

    The walk follows the *combined* direction (``superior: 10, anterior: 10`` walks ~14 mm
    up-and-forward). ``lateral`` is away from the midline on the site's own side.
    """

    superior: float = Field(default=0.0, ge=0, le=MAX_OFFSET_MM)
    inferior: float = Field(default=0.0, ge=0, le=MAX_OFFSET_MM)
    anterior: float = Field(default=0.0, ge=0, le=MAX_OFFSET_MM)
    posterior: float = Field(default=0.0, ge=0, le=MAX_OFFSET_MM)
    lateral: float = Field(default=0.0, ge=0, le=MAX_OFFSET_MM)
    medial: float = Field(default=0.0, ge=0, le=MAX_OFFSET_MM)

    @model_validator(mode="after")
    def _check(self) -> Offset:
        found = offset_issues({k: getattr(self, k) for k in _OFFSET_KEYS})
        if found:
            raise bundle(found)
        return self

    def as_dict(self) -> dict[str, float]:
        """The non-zero directions, e.g. ``{"superior": 10.0}``."""
        return {k: float(getattr(self, k)) for k in _OFFSET_KEYS if getattr(self, k)}


class Arc(_Model):
    """A point at ``fraction`` of the skin arc cut by the plane through ``from``/``to``/``via``.

    Without ``via`` the plane passes through ``from``, ``to`` and the head-frame origin (the vertical
    plane through ``from`` and ``to`` when those three are in line); see ``visualizer.placement``.
    """

    from_: str = Field(alias="from")
    to: str
    via: str | None = None
    fraction: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _distinct(self) -> Arc:
        names = [self.from_, self.to] + ([self.via] if self.via is not None else [])
        if len(set(names)) != len(names):
            raise bundle([((), "'from', 'to' and 'via' must be different landmarks", names)])
        return self


class Placement(_Model):
    """Where a site goes: exactly one of ``landmark`` or ``arc``, then an optional offset walk."""

    landmark: str | None = None
    arc: Arc | None = None
    offset_mm: Offset | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> Placement:
        found = placement_issues({"landmark": self.landmark, "arc": self.arc})
        if found:
            raise bundle(found)
        return self

    @property
    def kind(self) -> Literal["landmark", "arc"]:
        """Which rule the placement uses."""
        return "landmark" if self.landmark is not None else "arc"

    def named_landmarks(self) -> list[tuple[Loc, str]]:
        """``(field path, name as written)`` for every landmark the placement names."""
        if self.landmark is not None:
            return [(("landmark",), self.landmark)]
        assert self.arc is not None
        out = [(("arc", "from"), self.arc.from_), (("arc", "to"), self.arc.to)]
        if self.arc.via is not None:
            out.append((("arc", "via"), self.arc.via))
        return out


class UnitsRange(_Model):
    """The doses (U) an injector may choose from at one site: ``{min: 10, max: 40}``."""

    min: float = Field(gt=0, le=MAX_UNITS_PER_SITE)
    max: float = Field(gt=0, le=MAX_UNITS_PER_SITE)

    @property
    def bounds(self) -> tuple[float, float]:
        """``(min, max)`` as floats."""
        return (float(self.min), float(self.max))


class Site(_Model):
    """One fixed site as written in the file (a bilateral site stands for two injections).

    ``side`` is ``midline``, ``bilateral`` (left and right, each from its own landmarks) or
    ``left``/``right`` for a one-sided site (the asymmetric patterns of cervical dystonia).
    ``units`` is the template's dose; with ``units_range`` the injector may choose any dose in
    ``[min, max]`` for this site (:meth:`Protocol.units_problems` checks a choice).
    """

    id: str
    label: NonBlank
    muscle: Muscle
    side: Literal["midline", "bilateral", "left", "right"]
    units: float = Field(gt=0, le=MAX_UNITS_PER_SITE)
    units_range: UnitsRange | None = None
    description: NonBlank
    placement: Placement
    note: str | None = None

    @field_validator("id")
    @classmethod
    def _id_form(cls, v: str) -> str:
        if not v or not (v[0].islower() and v.isascii() and all(c.islower() or c.isdigit() or c == "_" for c in v)):
            raise ValueError("site id must be snake_case: lower-case letters, digits and '_', starting with a letter")
        return v

    @model_validator(mode="after")
    def _check(self) -> Site:
        offsets = self.placement.offset_mm.as_dict() if self.placement.offset_mm else {}
        found = site_issues(self.id, self.side, self.placement.named_landmarks(), offsets, self.description)
        if self.units_range is not None:
            lo, hi = self.units_range.min, self.units_range.max
            if lo > hi:
                found.append((("units_range",), "min must not exceed max", self.units_range.model_dump()))
            elif not lo - 1e-9 <= self.units <= hi + 1e-9:
                found.append(
                    (("units",), f"must lie in units_range [{_fmt_units(lo)}, {_fmt_units(hi)}] U", self.units)
                )
        if found:
            raise bundle(found)
        return self

    def expand(self, dilution: Dilution) -> list[ExpandedSite]:
        """The injections this site stands for: left then right, or the single midline one."""
        sides: tuple[str, ...] = (
            ("left", "right") if self.side == "bilateral" else ("midline",) if self.side == "midline" else (self.side,)
        )
        out = []
        for side in sides:
            arc = self.placement.arc
            out.append(
                ExpandedSite(
                    id=f"{self.id}_{side}" if self.side == "bilateral" else self.id,
                    base_id=self.id,
                    label=self.label if self.side == "midline" else f"{self.label}, {side}",
                    muscle=self.muscle,
                    side=side,
                    units=float(self.units),
                    units_range=self.units_range.bounds if self.units_range else None,
                    volume_ml=float(self.units) * dilution.volume_ml / dilution.units,
                    description=self.description.format(side=side),
                    placement=self.placement,
                    landmark=resolve_landmark(self.placement.landmark, side) if self.placement.landmark else None,
                    arc_from=resolve_landmark(arc.from_, side) if arc else None,
                    arc_to=resolve_landmark(arc.to, side) if arc else None,
                    arc_via=resolve_landmark(arc.via, side) if arc and arc.via else None,
                    fraction=arc.fraction if arc else None,
                    note=self.note,
                )
            )
        return out


class FollowThePain(_Model):
    """Caps for follow-the-pain (FTP) sites added on top of the fixed sites."""

    max_sites: int = Field(ge=1)
    max_units: float = Field(gt=0)
    units_per_site: float = Field(gt=0, le=MAX_UNITS_PER_SITE)
    muscles: dict[Muscle, Annotated[float, Field(gt=0)]] = Field(min_length=1)
    min_spacing_mm: float = Field(ge=0)
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> FollowThePain:
        found = ftp_issues(dict(self.muscles), self.max_sites, self.max_units, self.units_per_site)
        if found:
            raise bundle(found)
        return self


@dataclass(frozen=True)
class ExpandedSite:
    """One injection after side expansion, with its landmark names resolved for that side.

    Attributes
    ----------
    id : str
        ``<base_id>_left`` / ``<base_id>_right`` for bilateral sites, ``<base_id>`` for midline ones.
    base_id : str
        The site id in the file.
    label : str
        Human label, with ``", left"`` / ``", right"`` appended for bilateral sites.
    muscle : str
    side : {"left", "right", "midline"}
    units : float
        The template's dose (U).
    units_range : tuple of float or None
        ``(min, max)`` U the injector may choose from, or None for a fixed dose.
    volume_ml : float
        Injected volume at the protocol's dilution (mL).
    description : str
        Plain words for patients, ``{side}`` filled in.
    placement : Placement
        The rule as written in the file (landmark names unresolved).
    landmark : str or None
        Full landmark name for a landmark rule.
    arc_from, arc_to, arc_via : str or None
        Full landmark names for an arc rule (``arc_via`` may be None).
    fraction : float or None
        Arc fraction for an arc rule.
    note : str or None
        The file's note for the site (why a distance was chosen).
    """

    id: str
    base_id: str
    label: str
    muscle: str
    side: Literal["left", "right", "midline"]
    units: float
    units_range: tuple[float, float] | None
    volume_ml: float
    description: str
    placement: Placement
    landmark: str | None
    arc_from: str | None
    arc_to: str | None
    arc_via: str | None
    fraction: float | None
    note: str | None

    @property
    def kind(self) -> Literal["landmark", "arc"]:
        """Which placement rule applies."""
        return self.placement.kind

    @property
    def offsets(self) -> dict[str, float]:
        """Non-zero offset directions in mm (``lateral`` is relative to :attr:`side`)."""
        return self.placement.offset_mm.as_dict() if self.placement.offset_mm else {}

    @property
    def landmarks(self) -> tuple[str, ...]:
        """Every full landmark name this site's rule reads."""
        names = (self.landmark, self.arc_from, self.arc_to, self.arc_via)
        return tuple(n for n in names if n is not None)


class Aftercare(_Model):
    """What the patient is told after the session, in plain words, each part from ``sources``."""

    normal: list[NonBlank] = Field(min_length=1)  # what is normal afterwards
    starts_to_work: NonBlank  # when the effect begins
    come_back: NonBlank  # when to come back
    urgent: list[NonBlank] = Field(min_length=1)  # warning signs that need urgent care
    sources: list[Source] = Field(min_length=1)


class PatientInfo(_Model):
    """The patient view's figures: session length (an estimate from the site count) and aftercare.

    minutes = ``setup_minutes`` + ``seconds_per_site`` × sites / 60, rounded to 5 minutes;
    ``duration_note`` says where the two figures come from (or that they are chosen).
    """

    setup_minutes: float = Field(ge=0, le=120)
    seconds_per_site: float = Field(gt=0, le=600)
    duration_note: NonBlank
    aftercare: Aftercare


@dataclass(frozen=True)
class UnitsIssue:
    """One problem with chosen units (see :meth:`Protocol.units_issues`).

    ``kind`` is ``unknown_site``, ``not_positive``, ``site_max`` (over 50 U per site),
    ``outside_range`` (outside the site's ``units_range`` or its fixed dose), ``muscle_cap`` or
    ``total``; ``site_ids`` the expanded sites it is about; ``text`` the whole message (naming
    the site id or the muscle), ``what`` the same without its subject.
    """

    kind: Literal["unknown_site", "not_positive", "site_max", "outside_range", "muscle_cap", "total"]
    site_ids: tuple[str, ...]
    text: str
    what: str


class Protocol(_Model):
    """A validated protocol file. Construct it with :func:`load_protocol`."""

    schema_version: Literal[1] = Field(alias="schema")
    id: str
    extends: str | None = None
    name: NonBlank
    indication: NonBlank
    product: NonBlank
    sources: list[Source] = Field(min_length=1)
    dilution: Dilution
    expected: Expected
    max_total_units: float = Field(gt=0)
    muscle_caps: dict[Muscle, Annotated[float, Field(gt=0, le=MAX_SESSION_UNITS)]] | None = None
    min_spacing_mm: float = Field(ge=0)
    notes: str | None = None
    sites: list[Site] = Field(min_length=1)
    follow_the_pain: FollowThePain | None = None
    patient: PatientInfo | None = None

    _path: Path | None = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _id_form(cls, v: str) -> str:
        parts = v.split("-")
        if not v or not all(p and p.isascii() and all(c.islower() or c.isdigit() for c in p) for p in parts):
            raise ValueError("protocol id must be lower-case letters and digits, words joined by '-'")
        return v

    @field_validator("max_total_units")
    @classmethod
    def _session_cap(cls, v: float) -> float:
        if v > MAX_SESSION_UNITS:
            raise ValueError(
                f"must not exceed {_fmt_units(MAX_SESSION_UNITS)} U, the label's cumulative limit per 3 months"
            )
        return v

    @model_validator(mode="after")
    def _check(self) -> Protocol:
        found = totals_problems(
            [(s.id, s.side, float(s.units)) for s in self.sites],
            self.expected.sites,
            float(self.expected.units),
            float(self.max_total_units),
            float(self.follow_the_pain.max_units) if self.follow_the_pain else None,
        )
        for muscle, cap in (self.muscle_caps or {}).items():
            used = self.units_per_muscle().get(muscle, 0.0)
            if used > cap + 1e-9:
                found.append((("muscle_caps", muscle), f"the sites give {_fmt_units(used)} U, more than the cap", cap))
        if found:
            raise bundle(found)
        return self

    def units_problems(self, chosen: Mapping[str, float], present: Collection[str] | None = None) -> list[str]:
        """What is wrong with the units an injector chose, one message per problem (empty: fine).

        Parameters
        ----------
        chosen : mapping of str to float
            Units per expanded site id (``sites`` of :meth:`expanded_sites`); a site left out keeps
            the template's dose.
        present : collection of str, optional
            The expanded site ids actually given (a skipped site, or one a scan cannot carry,
            counts for nothing); default all of them.

        Notes
        -----
        A site with ``units_range`` takes any dose in it; a site without one keeps its dose. Every
        site stays at or below 50 U (label), each muscle at or below its ``muscle_caps`` entry
        (e.g. sternocleidomastoid ≤ 100 U to reduce dysphagia), the whole session at or below
        ``max_total_units``. :meth:`units_issues` gives the same problems with their kind and sites.
        """
        return [i.text for i in self.units_issues(chosen, present)]

    def units_issues(self, chosen: Mapping[str, float], present: Collection[str] | None = None) -> list[UnitsIssue]:
        """The problems of :meth:`units_problems` as :class:`UnitsIssue` (kind, sites, words)."""
        sites = {e.id: e for e in self.expanded_sites() if present is None or e.id in present}
        problems: list[UnitsIssue] = []
        units: dict[str, float] = {}
        for sid, value in chosen.items():
            if sid not in sites:
                problems.append(UnitsIssue("unknown_site", (), option_message("site", sid, list(sites)), ""))
                continue
            if not is_number(value) or not math.isfinite(value) or value <= 0:
                problems.append(
                    UnitsIssue(
                        "not_positive",
                        (sid,),
                        f"site {sid}: units must be a positive number (got {value!r})",
                        f"units must be a positive number (got {value!r})",
                    )
                )
                continue
            units[sid] = float(value)
        per_muscle: dict[str, float] = {}
        ids_of: dict[str, list[str]] = {}
        for sid, e in sites.items():
            u = units.get(sid, e.units)
            lo, hi = e.units_range if e.units_range else (e.units, e.units)
            if u > MAX_UNITS_PER_SITE + 1e-9:
                what = f"{_fmt_units(u)} U is more than {_fmt_units(MAX_UNITS_PER_SITE)} U per site"
                problems.append(UnitsIssue("site_max", (sid,), f"site {sid}: {what}", what))
            elif not lo - 1e-9 <= u <= hi + 1e-9:
                allowed = f"{_fmt_units(lo)}–{_fmt_units(hi)} U" if e.units_range else f"fixed at {_fmt_units(lo)} U"
                what = f"{_fmt_units(u)} U is outside this site's dose ({allowed})"
                problems.append(UnitsIssue("outside_range", (sid,), f"site {sid}: {what}", what))
            per_muscle[e.muscle] = per_muscle.get(e.muscle, 0.0) + u
            ids_of.setdefault(e.muscle, []).append(sid)
        for muscle, cap in (self.muscle_caps or {}).items():
            if per_muscle.get(muscle, 0.0) > cap + 1e-9:
                what = f"{_fmt_units(per_muscle[muscle])} U in total is more than its cap {_fmt_units(cap)} U"
                problems.append(UnitsIssue("muscle_cap", tuple(ids_of[muscle]), f"{muscle}: {what}", what))
        total = sum(per_muscle.values())
        if total > self.max_total_units + 1e-9:
            what = f"total {_fmt_units(total)} U is more than this protocol's {_fmt_units(self.max_total_units)} U"
            problems.append(UnitsIssue("total", tuple(sites), what, what))
        return problems

    # ------------------------------------------------------------------ derived data
    @property
    def path(self) -> Path | None:
        """The file the protocol was loaded from (None if built in memory)."""
        return self._path

    def expanded_sites(self) -> list[ExpandedSite]:
        """Fixed sites in file order; each bilateral site becomes its left then its right site."""
        return [e for s in self.sites for e in s.expand(self.dilution)]

    @property
    def fixed_units(self) -> float:
        """Total units of the fixed sites (bilateral sites counted twice)."""
        return sum(e.units for e in self.expanded_sites())

    @property
    def fixed_site_count(self) -> int:
        """Number of fixed injections (bilateral sites counted twice)."""
        return len(self.expanded_sites())

    def units_per_muscle(self) -> dict[str, float]:
        """Fixed units per muscle, in order of first appearance."""
        out: dict[str, float] = {}
        for e in self.expanded_sites():
            out[e.muscle] = out.get(e.muscle, 0.0) + e.units
        return out

    def sites_per_muscle(self) -> dict[str, int]:
        """Fixed injections per muscle, in order of first appearance."""
        return dict(Counter(e.muscle for e in self.expanded_sites()))

    def landmarks_needed(self, *, include_frame: bool = True) -> set[str]:
        """Full landmark names needed to place the fixed sites.

        Parameters
        ----------
        include_frame : bool
            Also include :data:`FRAME_LANDMARKS` (``left_tragus``, ``right_tragus``,
            ``nasion``): offsets are head-frame directions, so placing any offset needs them.
        """
        names = {n for e in self.expanded_sites() for n in e.landmarks}
        if include_frame:
            names.update(FRAME_LANDMARKS)
        return names

    def volume_ml(self, units: float) -> float:
        """Volume (mL) that holds ``units`` U at this protocol's dilution."""
        return float(units) * self.dilution.volume_ml / self.dilution.units


def totals_problems(
    sites: list[tuple[str, str, float]],
    expected_sites: int,
    expected_units: float,
    max_total_units: float,
    ftp_max_units: float | None,
) -> list[Issue]:
    """Protocol-level checks on ``(id, side, units)`` rows (shared by model and raw-file checks)."""
    found: list[Issue] = []
    first_index: dict[str, int] = {}
    for i, (sid, _, _) in enumerate(sites):
        if sid in first_index:
            found.append((("sites", i, "id"), f"duplicate site id (also sites.{first_index[sid]})", sid))
        else:
            first_index[sid] = i
    count = sum(2 if side == "bilateral" else 1 for _, side, _ in sites)
    units = sum((2 if side == "bilateral" else 1) * u for _, side, u in sites)  # one-sided sites count once
    if count != expected_sites:
        found.append(
            (
                ("expected", "sites"),
                f"the sites expand to {count} injections (bilateral sites count twice)",
                expected_sites,
            )
        )
    if not _close(units, expected_units):
        found.append(
            (
                ("expected", "units"),
                f"the sites add up to {_fmt_units(units)} U (bilateral sites count twice)",
                expected_units,
            )
        )
    if units > max_total_units + 1e-9:
        found.append(
            (("max_total_units",), f"is below the fixed sites' total of {_fmt_units(units)} U", max_total_units)
        )
    elif ftp_max_units is not None and units + ftp_max_units > max_total_units + 1e-9:
        found.append(
            (
                ("max_total_units",),
                f"is below fixed {_fmt_units(units)} U + follow_the_pain.max_units "
                f"{_fmt_units(ftp_max_units)} U = {_fmt_units(units + ftp_max_units)} U",
                max_total_units,
            )
        )
    return found
