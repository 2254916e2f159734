"""Head + Protocol + PainOrigin → Plan.

Work is split in two, so that an interactive change (a new pain origin) is cheap:

* :func:`prepare` — once per (head, protocol): resolves every fixed site on the skin and samples
  the follow-the-pain candidates. Cached.
* :func:`make_plan` — per plan: picks FTP sites, orders, totals and checks. Pure numpy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from visualizer.errors import LandmarkError, MeshError
from visualizer.head import Head
from visualizer.pain import Candidates, PainOrigin, check_pain_point, choose_ftp_sites, prepare_candidates
from visualizer.placement import Placed, place_arc, place_landmark
from visualizer.plan import Plan, Site
from visualizer.protocol import ExpandedSite, Protocol
from visualizer.safety import Limits, check_sites

#: Plain words for patients, per muscle (``{side}`` is filled in).
PLAIN_WORDS: dict[str, str] = {
    "procerus": "between the eyebrows, just above the nose",
    "corrugator": "{side} inner eyebrow",
    "frontalis": "{side} forehead",
    "temporalis": "{side} temple",
    "occipitalis": "back of the head, {side}",
    "cervical_paraspinal": "back of the neck, {side}",
    "trapezius": "{side} shoulder",
    "orbicularis_oculi": "outer corner of the {side} eye",
}


@dataclass(frozen=True)
class Prepared:
    """Fixed sites placed on a head, and FTP candidates (mesh frame)."""

    fixed: tuple[tuple[ExpandedSite, Placed], ...]
    candidates: Candidates | None
    skipped: tuple[str, ...] = ()  # sites a partial head (a scan) cannot carry, with the reason




def _placement_of(site: ExpandedSite, head: Head, protocol: Protocol) -> Placed:
    who = f"{protocol.path or protocol.id}: site {site.base_id!r} ({site.side})"
    if site.kind == "arc":
        assert site.arc_from is not None and site.arc_to is not None and site.fraction is not None
        return place_arc(
            head, site.arc_from, site.arc_to, site.arc_via, site.fraction, site.offsets, site.side, needed_by=who
        )
    assert site.landmark is not None
    return place_landmark(head, site.landmark, site.offsets, site.side, needed_by=who)


def _site_landmarks(site: ExpandedSite) -> list[str]:
    """The (side-resolved) landmark names a site's rule reads."""
    return [n for n in (site.landmark, site.arc_from, site.arc_to, site.arc_via) if n]


def prepare(head: Head, protocol: Protocol) -> Prepared:
    """Place the fixed sites and sample FTP candidates (cached on the head, per protocol content)."""
    key = "prepared:" + hashlib.sha1(protocol.model_dump_json().encode()).hexdigest()
    hit = head.cache.get(key)
    if hit is not None:
        return hit
    fixed_list: list[tuple[ExpandedSite, Placed]] = []
    skipped: list[str] = []
    for s in protocol.expanded_sites():
        try:
            fixed_list.append((s, _placement_of(s, head, protocol)))
        except (LandmarkError, MeshError) as exc:
            if not head.partial:
                raise
            missing = [n for n in _site_landmarks(s) if n not in head.landmarks]
            skipped.append(f"{s.id} (needs {', '.join(missing)})" if missing else f"{s.id} ({exc})")
    ftp = protocol.follow_the_pain
    cands = prepare_candidates(head, ftp.muscles) if ftp is not None else None
    prepared = Prepared(tuple(fixed_list), cands, tuple(skipped))
    head.cache[key] = prepared
    return prepared


def _describe(muscle: str, side: str) -> str:
    text = PLAIN_WORDS.get(muscle, muscle.replace("_", " ") + ", {side}")
    return text.format(side=side if side != "midline" else "centre").strip().capitalize()


def make_plan(
    head: Head,
    protocol: Protocol,
    pain: PainOrigin | None = None,
    *,
    follow_the_pain: bool = True,
) -> Plan:
    """Build the plan for this head, protocol and pain origin. Same inputs → identical plan."""
    pain = pain or PainOrigin()
    if pain.point is not None:
        check_pain_point(head, pain.point)
    prep = prepare(head, protocol)
    warnings: list[str] = list(head.warnings)
    notes: list[str] = list(head.notes)
    if prep.skipped:
        warnings.append(
            f"the scan cannot carry {len(prep.skipped)} site(s) of {protocol.id}, left out of the plan: "
            + "; ".join(prep.skipped)
        )

    muscle_rank: dict[str, int] = {}
    for s, _ in prep.fixed:
        muscle_rank.setdefault(s.muscle, len(muscle_rank))
    side_rank = {"midline": 0, "right": 1, "left": 2}

    rows: list[dict[str, Any]] = []
    for i, (s, p) in enumerate(prep.fixed):
        rows.append(dict(
            id=s.id, label=s.label, muscle=s.muscle, side=s.side, units=float(s.units),
            position=p.position, normal=p.normal, ftp=False, key=(muscle_rank[s.muscle], side_rank[s.side], 0, i),
            description=s.description or _describe(s.muscle, s.side),
        ))  # fmt: skip

    ftp = protocol.follow_the_pain
    if not pain.empty:
        if ftp is None:
            warnings.append(
                f"protocol {protocol.id} has no follow-the-pain sites; the pain origin is recorded but adds no sites"
            )
        elif not follow_the_pain:
            notes.append("follow-the-pain switched off: the pain origin adds no sites")
        else:
            assert prep.candidates is not None
            picks, ftp_warn = choose_ftp_sites(
                head,
                prep.candidates,
                pain,
                fixed_positions=np.array([r["position"] for r in rows]),
                muscle_caps=dict(ftp.muscles),
                max_sites=ftp.max_sites,
                max_units=ftp.max_units,
                units_per_site=ftp.units_per_site,
                min_spacing_mm=ftp.min_spacing_mm * head.size_scale,
            )
            warnings.extend(ftp_warn)
            counter: dict[tuple[str, str], int] = {}
            for j, pk in enumerate(picks):
                n = counter[(pk.muscle, pk.side)] = counter.get((pk.muscle, pk.side), 0) + 1
                rows.append(dict(
                    id=f"ftp_{pk.muscle}_{n}_{pk.side}", label=f"Follow-the-pain {pk.muscle.replace('_', ' ')} {n}",
                    muscle=pk.muscle, side=pk.side, units=float(ftp.units_per_site), position=pk.position,
                    normal=pk.normal, ftp=True,
                    key=(muscle_rank.get(pk.muscle, 99), side_rank[pk.side], 1, j),
                    description=_describe(pk.muscle, pk.side) + " (extra site where the pain starts)",
                ))  # fmt: skip
            if picks:
                used = sum(1 for _ in picks)
                added = used * ftp.units_per_site
                notes.append(f"follow-the-pain: {used} site(s), {added:g} U added for {_pain_words(pain)}")
    elif ftp is not None and follow_the_pain:
        notes.append("no pain origin given: no follow-the-pain sites added")

    rows.sort(key=lambda r: r["key"])
    sites = tuple(
        Site(
            id=r["id"], label=r["label"], muscle=r["muscle"], side=r["side"], units=r["units"],
            volume_ml=protocol.volume_ml(r["units"]),
            position=tuple(round(float(c), 3) for c in r["position"]),  # type: ignore[arg-type]
            normal=tuple(round(float(c), 4) for c in r["normal"]),  # type: ignore[arg-type]
            follow_the_pain=r["ftp"], order=k + 1, description=r["description"],
        )
        for k, r in enumerate(rows)
    )
    w, errors = check_sites(head, sites, limits_of(protocol))
    warnings.extend(w)
    return Plan(
        protocol=protocol.id,
        protocol_name=protocol.name,
        protocol_file=str(protocol.path or ""),
        mesh=str(head.mesh_path),
        landmarks_file=str(head.landmarks_path),
        head=dict(head.source),
        landmarks={k: tuple(round(float(c), 3) for c in v) for k, v in sorted(head.landmarks.items())},  # type: ignore[misc]
        head_frame=tuple(tuple(round(float(c), 6) for c in row) for row in head.frame.matrix),
        pain=pain.to_dict(),
        follow_the_pain_enabled=bool(follow_the_pain and ftp is not None),
        sites=sites,
        warnings=tuple(warnings),
        errors=tuple(errors),
        notes=tuple(notes),
        sources=tuple(f"{src.citation} — {src.url}" for src in protocol.sources),
        body_type=head.body_type.to_dict() if head.body_type is not None else None,
    )


def limits_of(protocol: Protocol) -> Limits:
    """The caps a plan under this protocol is checked against."""
    ftp = protocol.follow_the_pain
    return Limits(
        protocol_id=protocol.id,
        max_total_units=float(protocol.max_total_units),
        min_spacing_mm=float(protocol.min_spacing_mm),
        ftp_max_sites=ftp.max_sites if ftp else 0,
        ftp_max_units=float(ftp.max_units) if ftp else 0.0,
        ftp_muscle_caps=dict(ftp.muscles) if ftp else {},
    )


def recheck(head: Head, protocol: Protocol, plan: Plan) -> Plan:
    """Re-run the safety checks on a (possibly edited) plan; returns it with fresh warnings/errors."""
    w, e = check_sites(head, plan.sites, limits_of(protocol))
    data = plan.to_dict()
    data["warnings"], data["errors"] = w, e
    return Plan.from_dict(data)


def _pain_words(pain: PainOrigin) -> str:
    parts = [str(r) for r in pain.regions]
    if pain.point is not None:
        parts.append("the pain point")
    return ", ".join(parts)
