"""Head + Protocol + PainOrigin → Plan.

Work is split in two, so that an interactive change (a new pain origin) is cheap:

* :func:`prepare` — once per (head, protocol): resolves every fixed site on the skin and samples
  the follow-the-pain candidates. Cached.
* :func:`make_plan` — per plan: picks FTP sites, orders, totals and checks. Pure numpy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from visualizer.errors import DoseError, LandmarkError, MeshError
from visualizer.head import DEFAULT_MESH, Head
from visualizer.pain import (
    Candidates,
    PainOrigin,
    check_pain_point,
    choose_ftp_sites,
    prepare_candidates,
    region_anchors,
)
from visualizer.placement import Placed, place_arc, place_landmark
from visualizer.plan import Finding, Plan, Site, short_name
from visualizer.protocol import PROTOCOLS_DIR, ExpandedSite, Protocol
from visualizer.safety import Limits, check_sites, danger_zone_findings, dose_findings
from visualizer.words import SITE_WORDS, landmark_title, site_words

#: Plain words for patients, per muscle (``{side}`` is filled in); see :mod:`visualizer.words`.
PLAIN_WORDS = SITE_WORDS

# Finding codes (``info``) of planning.
NO_FTP_IN_PROTOCOL = "no_ftp_in_protocol"
FTP_SWITCHED_OFF = "ftp_switched_off"
FTP_ADDED = "ftp_added"
NO_PAIN_ORIGIN = "no_pain_origin"
HEAD_NOTE = "head_note"
#: A warning about the head itself (landmarks found automatically on a scan, projected onto the skin).
HEAD_WARNING = "head_warning"
#: Sites a scan cannot carry (its landmarks are missing from the scan), left out of the plan.
SITES_NOT_ON_SCAN = "sites_not_on_scan"


@dataclass(frozen=True)
class Prepared:
    """Fixed sites placed on a head, and FTP candidates (mesh frame)."""

    fixed: tuple[tuple[ExpandedSite, Placed], ...]
    candidates: Candidates | None
    #: Sites a partial head (a scan) cannot carry: (site id, label, the landmarks it lacks or, if
    #: none is missing, why the rule failed).
    skipped: tuple[tuple[str, str, tuple[str, ...] | str], ...] = ()


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
    skipped: list[tuple[str, str, tuple[str, ...] | str]] = []
    for s in protocol.expanded_sites():
        try:
            fixed_list.append((s, _placement_of(s, head, protocol)))
        except (LandmarkError, MeshError) as exc:
            if not head.partial:
                raise
            missing = tuple(n for n in _site_landmarks(s) if n not in head.landmarks)
            skipped.append((s.id, s.label, missing or str(exc)))
    ftp = protocol.follow_the_pain
    cands = prepare_candidates(head, ftp.muscles) if ftp is not None else None
    prepared = Prepared(tuple(fixed_list), cands, tuple(skipped))
    head.cache[key] = prepared
    return prepared


def _skipped_words(prep: Prepared, protocol: Protocol) -> str:
    """The sites a scan cannot carry, by label, and the landmarks they need, in words."""
    labels = [f"{label} ({why})" if isinstance(why, str) else label for _, label, why in prep.skipped]
    lacking = dict.fromkeys(n for _, _, why in prep.skipped if not isinstance(why, str) for n in why)
    text = (
        f"The scan cannot carry {len(prep.skipped)} site(s) of {short_name(protocol.name)}; they are left out "
        f"of the plan: {'; '.join(labels)}."
    )
    if lacking:
        text += " They need landmarks the scan does not show: " + "; ".join(landmark_title(n) for n in lacking) + "."
    return text


def _describe(muscle: str, side: str) -> str:
    return site_words(muscle, side)


def make_plan(
    head: Head,
    protocol: Protocol,
    pain: PainOrigin | None = None,
    *,
    follow_the_pain: bool = True,
    units: Mapping[str, float] | None = None,
) -> Plan:
    """Build the plan for this head, protocol and pain origin. Same inputs → identical plan.

    ``units`` are the doses the injector chose, per expanded site id (a site left out keeps the
    template's dose). A dose outside a site's range, or a muscle over its cap, is an error
    finding of the plan (:func:`visualizer.safety.dose_findings`); an unknown site id or a dose
    that is not a positive number raises :class:`~visualizer.errors.DoseError` naming it.
    """
    pain = pain or PainOrigin()
    chosen = dict(units or {})
    bad = [i.text for i in protocol.units_issues(chosen) if i.kind in ("unknown_site", "not_positive")]
    if bad:
        raise DoseError(f"{protocol.path or protocol.id}: chosen units: " + "; ".join(bad))
    if pain.point is not None:
        check_pain_point(head, pain.point)
    prep = prepare(head, protocol)
    findings: list[Finding] = [Finding(HEAD_NOTE, "info", n) for n in head.notes]
    findings.extend(Finding(HEAD_WARNING, "warning", w) for w in head.warnings)
    if prep.skipped:
        findings.append(Finding(SITES_NOT_ON_SCAN, "warning", _skipped_words(prep, protocol),
                                site_ids=tuple(sid for sid, _, _ in prep.skipped)))  # fmt: skip

    muscle_rank: dict[str, int] = {}
    for s, _ in prep.fixed:
        muscle_rank.setdefault(s.muscle, len(muscle_rank))
    side_rank = {"midline": 0, "right": 1, "left": 2}

    rows: list[dict[str, Any]] = []
    for i, (s, p) in enumerate(prep.fixed):
        rows.append(dict(
            id=s.id, label=s.label, muscle=s.muscle, side=s.side, units=float(chosen.get(s.id, s.units)),
            position=p.position, normal=p.normal, ftp=False, key=(muscle_rank[s.muscle], side_rank[s.side], 0, i),
            description=s.description or _describe(s.muscle, s.side),
        ))  # fmt: skip

    ftp = protocol.follow_the_pain
    if not pain.empty:
        if ftp is None:
            findings.append(
                Finding(
                    NO_FTP_IN_PROTOCOL,
                    "info",
                    f"{protocol.name} has no follow-the-pain sites: the pain origin is recorded but adds no sites.",
                )
            )
        elif not follow_the_pain:
            findings.append(
                Finding(FTP_SWITCHED_OFF, "info", "Follow-the-pain is switched off: the pain origin adds no sites.")
            )
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
            findings.extend(ftp_warn)
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
                used = len(picks)
                added = used * ftp.units_per_site
                per: dict[str, int] = {}
                for pk in picks:
                    per[pk.reason] = per.get(pk.reason, 0) + 1
                served = "; ".join(f"{n} for {why}" for why, n in per.items())
                findings.append(
                    Finding(
                        FTP_ADDED,
                        "info",
                        f"Follow-the-pain added {used} site{'s' if used != 1 else ''} ({added:g} U): {served}.",
                        tuple(r["id"] for r in rows if r["ftp"]),
                    )
                )
    elif ftp is not None and follow_the_pain:
        findings.append(Finding(NO_PAIN_ORIGIN, "info", "No pain origin given: no follow-the-pain sites added."))

    rows.sort(key=lambda r: r["key"])
    sites = tuple(
        Site(
            id=r["id"],
            label=r["label"],
            muscle=r["muscle"],
            side=r["side"],
            units=r["units"],
            volume_ml=protocol.volume_ml(r["units"]),
            position=tuple(round(float(c), 3) for c in r["position"]),  # type: ignore[arg-type]
            normal=tuple(round(float(c), 4) for c in r["normal"]),  # type: ignore[arg-type]
            follow_the_pain=r["ftp"],
            order=k + 1,
            description=r["description"],
        )
        for k, r in enumerate(rows)
    )
    findings = check_sites(head, sites, limits_of(protocol)) + dose_findings(protocol, sites) + findings
    findings += danger_zone_findings(sites)
    bundled_head = Path(head.mesh_path).resolve() == DEFAULT_MESH.resolve()
    return Plan(
        protocol=protocol.id,
        protocol_name=protocol.name,
        protocol_file="" if _is_bundled(protocol) else str(protocol.path or ""),
        mesh="" if bundled_head else str(head.mesh_path),
        landmarks_file="" if bundled_head else str(head.landmarks_path),
        head=dict(head.source),
        landmarks={k: tuple(round(float(c), 3) for c in v) for k, v in sorted(head.landmarks.items())},  # type: ignore[misc]
        head_frame=tuple(tuple(round(float(c), 6) for c in row) for row in head.frame.matrix),
        pain=pain.to_dict(),
        follow_the_pain_enabled=bool(follow_the_pain and ftp is not None),
        sites=sites,
        findings=tuple(findings),
        sources=tuple(f"{src.citation} — {src.url}" for src in protocol.sources),
        body_type=head.body_type.to_dict() if head.body_type is not None else None,
        short_name=short_name(protocol.name),
        heat_anchors=tuple(
            tuple(round(float(c), 3) for c in a)  # type: ignore[misc]
            for a in region_anchors(head, pain.regions)
        ),
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
    """Re-run the safety checks on a (possibly edited) plan; returns it with fresh safety findings
    (its information findings are kept)."""
    fresh = check_sites(head, plan.sites, limits_of(protocol)) + dose_findings(protocol, plan.sites)
    return replace(plan, findings=tuple(fresh) + tuple(f for f in plan.findings if not f.is_safety))


def _is_bundled(protocol: Protocol) -> bool:
    """A protocol shipped in ``protocols/`` (its id is enough to find it again)."""
    if protocol.path is None:
        return True
    p = Path(protocol.path).resolve()
    return p.parent == PROTOCOLS_DIR.resolve() and p.stem == protocol.id
