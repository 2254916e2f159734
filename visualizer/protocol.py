"""Injection protocols: YAML files → validated models → sites expanded per side.

A protocol file (``protocols/<id>.yaml``, schema described in ``protocols/README.md``) lists fixed
injection sites as placement *rules* relative to named landmarks; nothing here knows about meshes
or coordinates. :func:`load_protocol` reads and validates a file (or a bundled id),
:meth:`Protocol.expanded_sites` turns each bilateral site into a left and a right site with its
landmark names resolved for that side.

Every problem found in a file is reported as ``"FILE: field.path: message (got VALUE)"``;
:func:`validate_protocol_file` returns all of them, :func:`load_protocol` raises
:class:`~visualizer.errors.ProtocolError` listing them.
"""

from __future__ import annotations

import difflib
import math
import os
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .bundled import bundled_dir
from .errors import ProtocolError, shorten
from .safe_read import load_yaml, read_text

__all__ = [
    "FRAME_LANDMARKS",
    "LANDMARKS",
    "MIDLINE_LANDMARKS",
    "MUSCLES",
    "PROTOCOLS_DIR",
    "SIDED_LANDMARKS",
    "Arc",
    "Dilution",
    "ExpandedSite",
    "Expected",
    "FollowThePain",
    "Offset",
    "Placement",
    "Protocol",
    "Site",
    "Source",
    "known_protocol_ids",
    "list_protocols",
    "load_protocol",
    "protocol_json_schema",
    "resolve_landmark",
    "validate_protocol_file",
]

#: Directory of the protocols bundled with the package.
PROTOCOLS_DIR: Path = bundled_dir("protocols")

SCHEMA_VERSION = 1

#: Landmarks on the midline (one of each).
MIDLINE_LANDMARKS: tuple[str, ...] = ("nasion", "glabella", "inion", "vertex", "c7")
#: Landmarks that exist once per side; full names are ``left_<name>`` and ``right_<name>``.
SIDED_LANDMARKS: tuple[str, ...] = (
    "tragus", "pupil", "brow_medial", "brow_lateral", "orbital_rim", "lateral_canthus",
    "mastoid", "zygomatic_arch", "acromion", "necklace",
)  # fmt: skip
_FULL_SIDED: tuple[str, ...] = tuple(f"{s}_{n}" for s in ("left", "right") for n in SIDED_LANDMARKS)
#: Every full landmark name a head provides.
LANDMARKS: frozenset[str] = frozenset(MIDLINE_LANDMARKS + _FULL_SIDED)
#: Landmarks the head frame is built from (offsets are head-frame directions, so always needed).
FRAME_LANDMARKS: tuple[str, ...] = ("left_tragus", "right_tragus", "nasion")

Muscle = Literal[
    "frontalis", "corrugator", "procerus", "temporalis", "occipitalis",
    "cervical_paraspinal", "trapezius", "orbicularis_oculi",
]  # fmt: skip
#: Muscle vocabulary (snake_case) a site may name.
MUSCLES: tuple[str, ...] = get_args(Muscle)

#: Muscles that may never receive follow-the-pain sites (PREEMPT: no FTP in the neck).
NO_FTP_MUSCLES: frozenset[str] = frozenset({"cervical_paraspinal"})
#: Largest dose allowed at one site (U); "generally no more than 50 U per site" (BOTOX label).
MAX_UNITS_PER_SITE = 50.0
#: Largest session cap a file may declare (U): the label's cumulative 400 U per 3 months.
MAX_SESSION_UNITS = 400.0
#: Longest offset walk accepted (mm); longer ones are almost surely typing errors.
MAX_OFFSET_MM = 150.0

OPPOSITE_PREFIX = "opposite:"
_OTHER_SIDE = {"left": "right", "right": "left"}
_SIDE_SUFFIXES = ("_left", "_right")
_ISSUES = "injectviz_checks"


# ----------------------------------------------------------------------------- landmark names
def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""


def resolve_landmark(name: str, side: str) -> str:
    """Resolve a landmark name written in a protocol into a full landmark name for one side.

    Parameters
    ----------
    name : str
        As written in the file: a midline name (``"nasion"``), a bare sided name (``"tragus"``,
        resolved to ``side``), ``"opposite:<name>"`` (resolved to the other side) or a full
        sided name (``"left_tragus"``, returned unchanged).
    side : {"left", "right", "midline"}
        The side of the expanded site the name belongs to.

    Returns
    -------
    str
        A name in :data:`LANDMARKS`, e.g. ``"left_tragus"``.

    Raises
    ------
    ProtocolError
        If the name is unknown, or needs a side that a midline site cannot give.

    Examples
    --------
    >>> resolve_landmark("tragus", "left")
    'left_tragus'
    >>> resolve_landmark("opposite:tragus", "left")
    'right_tragus'
    >>> resolve_landmark("nasion", "right")
    'nasion'
    """
    if side not in ("left", "right", "midline"):
        raise ProtocolError(f"side must be 'left', 'right' or 'midline' (got {side!r})")
    if name in MIDLINE_LANDMARKS:
        return name
    if name.startswith(OPPOSITE_PREFIX):
        base = name[len(OPPOSITE_PREFIX) :]
        if base not in SIDED_LANDMARKS:
            raise ProtocolError(
                f"landmark {shorten(name)}: {OPPOSITE_PREFIX!r} must be followed by a sided landmark "
                f"({', '.join(SIDED_LANDMARKS)}){_suggest(base, SIDED_LANDMARKS)}"
            )
        if side == "midline":
            raise ProtocolError(f"landmark {shorten(name)}: {OPPOSITE_PREFIX!r} has no meaning in a midline site")
        return f"{_OTHER_SIDE[side]}_{base}"
    if name in SIDED_LANDMARKS:
        if side == "midline":
            raise ProtocolError(
                f"sided landmark {shorten(name)} needs a side in a midline site: write 'left_{name}' or 'right_{name}'"
            )
        return f"{side}_{name}"
    if name in _FULL_SIDED:
        return name
    vocabulary = MIDLINE_LANDMARKS + SIDED_LANDMARKS + _FULL_SIDED
    raise ProtocolError(
        f"unknown landmark {shorten(name)}{_suggest(name, vocabulary) or '.'} "
        f"Midline: {', '.join(MIDLINE_LANDMARKS)}; sided: {', '.join(SIDED_LANDMARKS)} "
        f"(bare in bilateral sites, left_/right_ in midline sites)"
    )


def _landmark_problem(name: str, site_side: str) -> str | None:
    """Why ``name`` cannot be used in a site with ``site_side`` ('midline'/'bilateral'), or None."""
    if site_side == "bilateral":
        if name in _FULL_SIDED:
            bare = name.split("_", 1)[1]
            return (
                f"a bilateral site must not name one side's landmark {shorten(name)}: write {shorten(bare)} "
                f"(each side uses its own) or '{OPPOSITE_PREFIX}{bare}' (the other side's)"
            )
        sides = ("left", "right")
    else:
        sides = ("midline",)
    for side in sides:
        try:
            resolve_landmark(name, side)
        except ProtocolError as exc:
            return str(exc)
    return None


# ----------------------------------------------------------------------------- model helpers
#: Placeholder for "no value to show" in an issue.
_NO_VALUE: Any = object()
Loc = tuple[str | int, ...]
Issue = tuple[Loc, str, Any]


def _issues(issues: list[Issue]) -> PydanticCustomError:
    """Bundle several located problems into one pydantic error (expanded again by the formatter)."""
    summary = "; ".join(f"{'.'.join(map(str, loc)) or '(top level)'}: {msg}" for loc, msg, _ in issues)
    return PydanticCustomError(_ISSUES, "{summary}", {"summary": summary, "issues": issues})


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# Checks shared by the models (validated values) and by the raw-file pass (which reports them
# even when a sibling field is invalid and the model's own check therefore never ran).
def _offset_issues(values: dict[str, Any]) -> list[Issue]:
    nums = {k: v for k, v in values.items() if k in _OFFSET_KEYS and _is_number(v)}
    found: list[Issue] = []
    if len(nums) == len(values) and not any(nums.values()):
        found.append(((), "give at least one non-zero direction, or leave offset_mm out", values))
    for a, b in _OPPOSED:
        if nums.get(a) and nums.get(b):
            found.append(((b,), f"{a!r} and {b!r} point in opposite directions; give only one", nums[b]))
    return found


def _placement_issues(values: dict[str, Any]) -> list[Issue]:
    if (values.get("landmark") is None) == (values.get("arc") is None):
        return [((), "give exactly one of 'landmark' or 'arc'", _NO_VALUE)]
    return []


def _site_issues(
    site_id: Any, side: str, names: list[tuple[Loc, str]], offsets: dict[str, Any], description: Any
) -> list[Issue]:
    """Checks of one site that depend on its side ('midline' or 'bilateral')."""
    found: list[Issue] = []
    if isinstance(site_id, str) and site_id.endswith(_SIDE_SUFFIXES):
        found.append((("id",), "must not end in _left/_right (added when bilateral sites are expanded)", site_id))
    for path, name in names:
        problem = _landmark_problem(name, side)
        if problem:
            found.append((("placement", *path), problem, name))
    if side == "midline":
        for key in ("lateral", "medial"):
            if _is_number(offsets.get(key)) and offsets[key]:
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


def _ftp_issues(muscles: dict[str, Any], max_sites: Any, max_units: Any, units_per_site: Any) -> list[Issue]:
    """Follow-the-pain consistency; arithmetic only on the numbers that are readable."""
    found: list[Issue] = []
    for muscle in sorted(NO_FTP_MUSCLES & set(muscles)):
        found.append(
            (
                ("muscles", muscle),
                f"follow-the-pain is not allowed in {muscle}: PREEMPT gives no FTP in the neck "
                "(Blumenfeld 2010); remove it",
                muscles[muscle],
            )
        )
    caps = {m: c for m, c in muscles.items() if m in MUSCLES and _is_number(c)}
    if not (_is_number(max_units) and _is_number(units_per_site) and units_per_site > 0):
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
        found = _offset_issues({k: getattr(self, k) for k in _OFFSET_KEYS})
        if found:
            raise _issues(found)
        return self

    def as_dict(self) -> dict[str, float]:
        """The non-zero directions, e.g. ``{"superior": 10.0}``."""
        return {k: float(getattr(self, k)) for k in _OFFSET_KEYS if getattr(self, k)}

    def vector(self, side: str) -> tuple[float, float, float]:
        """The walk as a head-frame vector (x right, y anterior, z superior; mm) for ``side``.

        Its length is the distance walked; ``lateral`` is −x on the left and +x on the right.
        """
        sign = {"left": -1.0, "right": 1.0, "midline": 0.0}[side]
        across = self.lateral - self.medial
        return (
            sign * across if sign and across else 0.0,
            self.anterior - self.posterior,
            self.superior - self.inferior,
        )


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
            raise _issues([((), "'from', 'to' and 'via' must be different landmarks", names)])
        return self


class Placement(_Model):
    """Where a site goes: exactly one of ``landmark`` or ``arc``, then an optional offset walk."""

    landmark: str | None = None
    arc: Arc | None = None
    offset_mm: Offset | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> Placement:
        found = _placement_issues({"landmark": self.landmark, "arc": self.arc})
        if found:
            raise _issues(found)
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


class Site(_Model):
    """One fixed site as written in the file (a bilateral site stands for two injections)."""

    id: str
    label: NonBlank
    muscle: Muscle
    side: Literal["midline", "bilateral"]
    units: float = Field(gt=0, le=MAX_UNITS_PER_SITE)
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
        found = _site_issues(self.id, self.side, self.placement.named_landmarks(), offsets, self.description)
        if found:
            raise _issues(found)
        return self

    def expand(self, dilution: Dilution) -> list[ExpandedSite]:
        """The injections this site stands for: left then right, or the single midline one."""
        sides: tuple[str, ...] = ("left", "right") if self.side == "bilateral" else ("midline",)
        out = []
        for side in sides:
            arc = self.placement.arc
            out.append(
                ExpandedSite(
                    id=f"{self.id}_{side}" if self.side == "bilateral" else self.id,
                    base_id=self.id,
                    label=f"{self.label}, {side}" if self.side == "bilateral" else self.label,
                    muscle=self.muscle,
                    side=side,
                    units=float(self.units),
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
        found = _ftp_issues(dict(self.muscles), self.max_sites, self.max_units, self.units_per_site)
        if found:
            raise _issues(found)
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
        Dose (U).
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
    def offset_vector(self) -> tuple[float, float, float]:
        """The offset walk as a head-frame vector (mm) on this site's side."""
        return self.placement.offset_mm.vector(self.side) if self.placement.offset_mm else (0.0, 0.0, 0.0)

    @property
    def landmarks(self) -> tuple[str, ...]:
        """Every full landmark name this site's rule reads."""
        names = (self.landmark, self.arc_from, self.arc_to, self.arc_via)
        return tuple(n for n in names if n is not None)


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
    min_spacing_mm: float = Field(ge=0)
    notes: str | None = None
    sites: list[Site] = Field(min_length=1)
    follow_the_pain: FollowThePain | None = None

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
        found = _totals_problems(
            [(s.id, s.side, float(s.units)) for s in self.sites],
            self.expected.sites,
            float(self.expected.units),
            float(self.max_total_units),
            float(self.follow_the_pain.max_units) if self.follow_the_pain else None,
        )
        if found:
            raise _issues(found)
        return self

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


def _totals_problems(
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
    units = sum((2 if side == "bilateral" else 1) * u for _, side, u in sites)
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


# ----------------------------------------------------------------------------- YAML reading
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"found duplicate key {shorten(key)}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> tuple[Any, list[str]]:
    try:
        text = read_text(path, error=ProtocolError)
        data = load_yaml(text, path, loader=_StrictLoader, error=ProtocolError)
    except ProtocolError as exc:
        return None, [str(exc)]
    if data is None:
        return None, [f"{path}: file is empty"]
    if not isinstance(data, dict):
        return None, [f"{path}: the top level must be a mapping of keys (got {type(data).__name__})"]
    return data, []


def _is_path_like(text: str) -> bool:
    return "/" in text or "\\" in text or os.sep in text or text.lower().endswith((".yaml", ".yml"))


def known_protocol_ids() -> list[str]:
    """Ids of the bundled protocols (file names in :data:`PROTOCOLS_DIR`), sorted."""
    return sorted(p.stem for p in PROTOCOLS_DIR.glob("*.yaml"))


def _resolve_extends(name: str, child: Path) -> Path | None:
    if _is_path_like(name):
        return child.parent / name
    for folder in (child.parent, PROTOCOLS_DIR):
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def _read_merged(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any] | None, dict[str, Path], list[str]]:
    """Read ``path`` and, if it ``extends`` another file, overlay its top-level keys on that file's.

    Returns the merged mapping, the file each top-level key came from, and reading problems.
    """
    data, problems = _read_yaml(path)
    if data is None:
        return None, {}, problems
    origin = dict.fromkeys(data, path)
    base_name = data.get("extends")
    if base_name is None:
        return data, origin, problems
    if not isinstance(base_name, str) or not base_name.strip():
        return data, origin, [f"{path}: extends: must be a protocol id or a file path (got {shorten(base_name)})"]
    base_path = _resolve_extends(base_name, path)
    if base_path is None:
        return (
            data,
            origin,
            [
                f"{path}: extends: no protocol {shorten(base_name)} next to this file or among the bundled protocols "
                f"(known ids: {', '.join(known_protocol_ids())}) (got {shorten(base_name)})"
            ],
        )
    key = base_path.resolve()
    if key in chain or key == path.resolve():
        cycle = " → ".join(p.name for p in (*chain, path.resolve(), key))
        return data, origin, [f"{path}: extends: circular chain {cycle} (got {shorten(base_name)})"]
    base, base_origin, base_problems = _read_merged(base_path, (*chain, path.resolve()))
    if base is None:
        return data, origin, [f"{path}: extends: cannot use base {base_path}", *base_problems]
    merged = {k: v for k, v in base.items() if k != "extends"}
    merged_origin = {k: v for k, v in base_origin.items() if k != "extends"}
    merged.update(data)
    merged_origin.update(origin)
    return merged, merged_origin, problems + base_problems


# ----------------------------------------------------------------------------- problem formatting
def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return shorten(value)


def _pydantic_issues(exc: ValidationError) -> list[Issue]:
    """Flatten a ValidationError into located issues (expanding bundled model checks)."""
    out: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == _ISSUES:
            out.extend((loc + tuple(sub), msg, value) for sub, msg, value in err["ctx"]["issues"])
            continue
        msg = err["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        if err["type"] == "missing":
            out.append((loc, "required field is missing", _NO_VALUE))
        elif err["type"] == "extra_forbidden":
            out.append((loc, f"unknown key {shorten(loc[-1])} (not in the schema)", err["input"]))
        else:
            out.append((loc, msg, err["input"]))
    return out


def _raw_site_issues(raw: dict[str, Any]) -> list[Issue]:
    """Side-dependent site checks on a raw mapping (see :func:`_site_issues`)."""
    side = raw.get("side")
    placement = raw.get("placement")
    placement = placement if isinstance(placement, dict) else {}
    offsets = placement.get("offset_mm")
    offsets = offsets if isinstance(offsets, dict) else {}
    found: list[Issue] = []
    if placement:
        found += [(("placement", *loc), m, v) for loc, m, v in _placement_issues(placement)]
    if offsets:
        found += [(("placement", "offset_mm", *loc), m, v) for loc, m, v in _offset_issues(offsets)]
    if side not in ("midline", "bilateral"):
        return found
    names: list[tuple[Loc, str]] = []
    if isinstance(placement.get("landmark"), str):
        names.append((("landmark",), placement["landmark"]))
    arc = placement.get("arc")
    if isinstance(arc, dict):
        names += [(("arc", k), arc[k]) for k in ("from", "to", "via") if isinstance(arc.get(k), str)]
    return found + _site_issues(raw.get("id"), side, names, offsets, raw.get("description"))


def _raw_issues(data: dict[str, Any]) -> list[Issue]:
    """Cross-field checks on the raw mapping, run when the model did not validate, so that they
    are reported together with field errors (checks needing unreadable values are skipped)."""
    found: list[Issue] = []
    sites = data.get("sites")
    if isinstance(sites, list):
        for i, raw in enumerate(sites):
            if isinstance(raw, dict):
                found += [(("sites", i, *loc), m, v) for loc, m, v in _raw_site_issues(raw)]
    ftp = data.get("follow_the_pain")
    if isinstance(ftp, dict) and isinstance(ftp.get("muscles"), dict):
        issues = _ftp_issues(ftp["muscles"], ftp.get("max_sites"), ftp.get("max_units"), ftp.get("units_per_site"))
        found += [(("follow_the_pain", *loc), m, v) for loc, m, v in issues]
    return found + _raw_totals(data)


def _raw_totals(data: dict[str, Any]) -> list[Issue]:
    sites, expected = data.get("sites"), data.get("expected")
    if not isinstance(sites, list) or not isinstance(expected, dict):
        return []
    rows = []
    for s in sites:
        if not isinstance(s, dict):
            return []
        sid, side, units = s.get("id"), s.get("side"), s.get("units")
        if side not in ("midline", "bilateral") or not _is_number(units):
            return []
        rows.append((str(sid), side, float(units)))
    e_sites, e_units, cap = expected.get("sites"), expected.get("units"), data.get("max_total_units")
    if isinstance(e_sites, bool) or not isinstance(e_sites, int) or not _is_number(e_units) or not _is_number(cap):
        return []
    ftp = data.get("follow_the_pain")
    ftp_max = ftp.get("max_units") if isinstance(ftp, dict) else None
    return _totals_problems(rows, e_sites, float(e_units), float(cap), float(ftp_max) if _is_number(ftp_max) else None)


def _field_part(part: str | int) -> str:
    """A location part as shown in a message (a huge key from a hostile file is cut short)."""
    return str(part) if isinstance(part, int) or len(part) <= 40 else shorten(part, 40)


def _format(path: Path, issue: Issue, data: dict[str, Any], origin: dict[str, Path]) -> str:
    """``FILE: field.path (site 'id'): message (got VALUE) [inherited from BASE]``."""
    loc, msg, value = issue
    field = ".".join("(key)" if part == "[key]" else _field_part(part) for part in loc) or "(top level)"
    hint = ""
    if len(loc) >= 2 and loc[0] == "sites" and isinstance(loc[1], int):
        sites = data.get("sites")
        if isinstance(sites, list) and loc[1] < len(sites) and isinstance(sites[loc[1]], dict):
            sid = sites[loc[1]].get("id")
            if isinstance(sid, str):
                hint = f" (site {shorten(sid)})"
    inherited = ""
    if loc and isinstance(loc[0], str) and origin.get(loc[0], path) != path:
        inherited = f" [inherited from {origin[loc[0]].name}]"
    got = "" if value is _NO_VALUE else f" (got {_show(value)})"
    return f"{path}: {field}{hint}: {msg}{got}{inherited}"


def _check_file(path: Path) -> tuple[Protocol | None, list[str]]:
    data, origin, problems = _read_merged(path)
    if data is None:
        return None, problems
    issues: list[Issue] = []
    raw_id = data.get("id")
    if isinstance(raw_id, str) and raw_id != path.stem:
        issues.append((("id",), f"must equal the file name {path.stem!r}", raw_id))
    protocol: Protocol | None = None
    try:
        protocol = Protocol.model_validate(data)
    except ValidationError as exc:
        issues += _pydantic_issues(exc)
        issues += _raw_issues(data)
    seen: set[tuple[Loc, str]] = set()
    for issue in issues:
        key = (issue[0], issue[1])
        if key not in seen:  # the raw pass repeats checks the model already reported
            seen.add(key)
            problems.append(_format(path, issue, data, origin))
    if problems or protocol is None:
        return None, problems
    protocol._path = path
    return protocol, []


# ----------------------------------------------------------------------------- public API
def validate_protocol_file(path: str | Path) -> list[str]:
    """Every problem in a protocol file, as ``"FILE: field.path: message (got VALUE)"`` lines.

    Reports YAML syntax errors (with line numbers), unknown or missing keys, bad values,
    unknown landmarks and muscles, and cross-field checks (unique ids, site and unit totals
    against ``expected``, follow-the-pain caps, session cap). An empty list means the file
    is valid. Totals are checked against the raw site list even when other fields are bad,
    as long as every site's ``side`` and ``units`` can be read.

    Parameters
    ----------
    path : str or Path
        A ``.yaml`` / ``.yml`` protocol file.

    Returns
    -------
    list of str
    """
    return _check_file(Path(path))[1]


def load_protocol(id_or_path: str | Path) -> Protocol:
    """Load a bundled protocol by id (``"preempt"``) or a protocol file by path.

    Anything containing a path separator or ending in ``.yaml`` / ``.yml`` is a file path;
    anything else is the id of a file in :data:`PROTOCOLS_DIR`.

    Raises
    ------
    ProtocolError
        For an unknown id (the message lists the known ids) or an invalid file (the message
        lists every problem, one per line).
    """
    text = str(id_or_path)
    if _is_path_like(text):
        path = Path(text)
    else:
        path = PROTOCOLS_DIR / f"{text}.yaml"
        if not path.is_file():
            raise ProtocolError(
                f"unknown protocol id {shorten(text)}; known ids: {', '.join(known_protocol_ids()) or '(none)'} "
                "(or give the path of a .yaml file)"
            )
    protocol, problems = _check_file(path)
    if protocol is None:
        noun = "problem" if len(problems) == 1 else "problems"
        raise ProtocolError(f"{path}: invalid protocol ({len(problems)} {noun}):\n" + "\n".join(problems))
    return protocol


def list_protocols() -> list[Protocol]:
    """Every bundled protocol, sorted by id (raises :class:`ProtocolError` if one is invalid)."""
    return sorted((load_protocol(PROTOCOLS_DIR / f"{i}.yaml") for i in known_protocol_ids()), key=lambda p: p.id)


def protocol_json_schema() -> dict[str, Any]:
    """JSON Schema of a protocol file (by alias, ``additionalProperties: false`` everywhere)."""
    return Protocol.model_json_schema(by_alias=True)
