"""Safety checks on a set of sites: caps (errors) and placement cautions (warnings), as findings.

Sources are cited in ``protocols/README.md``: the 400 U cumulative 3-month limit and the 50 U
per-site ceiling (BOTOX label), the 10 mm margin above the orbital rim (glabellar-line label and
ptosis guidance), 45 mm above the zygomatic arch for temporalis (Choi 2016, Toxins 8:265).
Heights are measured along the head frame's +z axis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from visualizer.errors import shorten
from visualizer.head import Head
from visualizer.plan import Finding, Site
from visualizer.protocol import MUSCLES, Protocol
from visualizer.surface import OFF_HEAD_MM

CUMULATIVE_LIMIT_U = 400.0
MAX_UNITS_PER_SITE = 50.0
ORBIT_MARGIN_MM = 10.0
TEMPORALIS_MIN_ABOVE_ARCH_MM = 45.0
BROW_MUSCLES = ("frontalis", "corrugator")


@dataclass(frozen=True)
class Limits:
    """The caps a plan is checked against (from the protocol)."""

    protocol_id: str
    max_total_units: float
    min_spacing_mm: float
    ftp_max_sites: int = 0
    ftp_max_units: float = 0.0
    ftp_muscle_caps: Mapping[str, float] | None = None


# Finding codes (stable: pages and tests match on them). Errors: a site is meaningless or a cap
# is broken.
SITE_INVALID = "site_invalid"
TOTAL_OVER_PROTOCOL_MAX = "total_over_protocol_max"
TOTAL_OVER_CUMULATIVE_LIMIT = "total_over_cumulative_limit"
SITE_UNITS_OVER_MAX = "site_units_over_max"
SITE_UNITS_NOT_POSITIVE = "site_units_not_positive"
FTP_SITES_OVER_MAX = "ftp_sites_over_max"
FTP_UNITS_OVER_MAX = "ftp_units_over_max"
FTP_MUSCLE_NOT_ALLOWED = "ftp_muscle_not_allowed"
FTP_MUSCLE_OVER_CAP = "ftp_muscle_over_cap"
#: A site's units outside its dose range (``units_range``) or its fixed dose.
UNITS_OUTSIDE_RANGE = "units_outside_range"
#: A muscle's units over the protocol's ``muscle_caps`` (e.g. sternocleidomastoid ≤ 100 U).
MUSCLE_UNITS_OVER_CAP = "muscle_units_over_cap"
# Warnings: placement cautions.
SITES_TOO_CLOSE = "sites_too_close"
ORBIT_MARGIN = "orbit_margin"
TEMPORALIS_ARCH_MARGIN = "temporalis_arch_margin"
#: Lower-face and neck danger zones (protocols ``masseter``, ``platysma``, ``lower-face``).
MASSETER_DANGER_ZONE = "masseter_danger_zone"
PLATYSMA_DANGER_ZONE = "platysma_danger_zone"
DAO_DANGER_ZONE = "dao_danger_zone"
MENTALIS_DANGER_ZONE = "mentalis_danger_zone"
# Information: the danger zones of the plan's muscles, in words.
DANGER_ZONES = "danger_zones"

#: How far above the jaw border a masseter site stays (about 1 cm: nasafordoctors), and a
#: platysma jawline site at most (chosen); mm along +z.
JAW_BORDER_MARGIN_MM = 8.0
PLATYSMA_MAX_ABOVE_JAW_MM = 10.0
#: A platysma neck site at least this far from the midline (over the larynx: chosen), mm.
PLATYSMA_MIN_FROM_MIDLINE_MM = 10.0
#: A mentalis site at most this far from the midline (idnps: 7-8 mm; about 1 cm elsewhere), mm.
MENTALIS_MAX_FROM_MIDLINE_MM = 15.0

#: The danger zones, in words with their sources, for the muscles that have them (shown as
#: information by every plan with a site in that muscle; :func:`placement_caution` warns per site).
DANGER_ZONE_WORDS: dict[str, str] = {
    "masseter": "keep below the line from the tragus to the mouth corner (parotid duct, risorius), about "
    "1 cm above the jaw border and behind the muscle's front edge; inject deep, near bone (nasafordoctors; "
    "cbamedicine: shallow or front injections make the smile asymmetric)",
    "platysma": "jawline sites on the jaw border, not more than about 1 cm above it and behind the point "
    "below the mouth corner (lip depressors: asymmetric smile); neck sites superficial and away from the "
    "midline over the larynx (deep spread: dysphagia, boxed warning) — margins chosen, not published",
    "depressor_anguli_oris": "stay lateral to the mouth corner and out of the lowest part of the muscle, where "
    "it overlaps the depressor labii inferioris (asymmetric lower lip); Yi 2023 injects halfway between the "
    "mouth-corner level and the jaw border, PRS 2022 the upper half",
    "mentalis": "stay near the midline and low on the chin: lateral or deep injections reach the lower-lip "
    "depressors (lower-lip ptosis, mouth-closure insufficiency; Yi 2023)",
}


def site_name(site: Site) -> str:
    """A site as people read it: "site 20 (left back of the head, higher up)" (its number in the plan).

    A description from an edited plan file that is long or unprintable is quoted and cut short.
    """
    d = site.description
    if not (d and len(d) <= 100 and d.isprintable()):
        return f"site {site.order}" + (f" ({shorten(d, 60)})" if d else "")
    return f"site {site.order} ({d[:1].lower()}{d[1:]})"


def _name(site: Site) -> str:
    """A site's id as shown in a message (a hostile id is quoted and cut short)."""
    sid = site.id
    return sid if len(sid) <= 60 and sid.isprintable() and sid.strip() == sid and sid else shorten(sid, 60)


def site_problems(head: Head, sites: Sequence[Site]) -> list[str]:
    """Errors that make sites meaningless on this head, one per site and problem.

    Ids must be unique; the muscle known; the side left, right or midline; units a finite number;
    the position finite and on this head's skin (within :data:`OFF_HEAD_MM`).
    """
    errors: list[str] = []
    first: dict[str, int] = {}
    for i, s in enumerate(sites):
        name = _name(s)
        if s.id in first:
            errors.append(f"site {name}: duplicate id (sites {first[s.id]} and {i} share it)")
        first.setdefault(s.id, i)
        if s.muscle not in MUSCLES:
            errors.append(f"site {name}: unknown muscle {shorten(s.muscle)} (known: {', '.join(MUSCLES)})")
        if s.side not in ("left", "right", "midline"):
            errors.append(f"site {name}: side must be left, right or midline (got {shorten(s.side)})")
        if not math.isfinite(s.units):
            errors.append(f"site {name}: units must be a finite number (got {s.units!r})")
    positions = np.array([s.position for s in sites], dtype=float).reshape(-1, 3)
    finite = np.all(np.isfinite(positions), axis=1)
    dist = np.full(len(sites), np.inf)
    if finite.any():
        dist[finite] = head.surface.distance_to_surface(positions[finite])
    for s, ok, d in zip(sites, finite, dist, strict=True):
        if not ok:
            errors.append(f"site {_name(s)}: position must be three finite numbers (got {shorten(s.position)})")
        elif d > OFF_HEAD_MM:
            errors.append(
                f"site {_name(s)}: position ({', '.join(f'{c:.1f}' for c in s.position)}) mm is {d:.1f} mm "
                f"from the skin of this head (at most {OFF_HEAD_MM:g} mm): not a place on this head"
            )
    return errors


def check_sites(head: Head, sites: Sequence[Site], limits: Limits) -> list[Finding]:
    """The safety findings for these sites on this head.

    Errors: every problem of :func:`site_problems` (code ``site_invalid``), and every cap (per
    site, per session, the cumulative limit, follow-the-pain sites, units and per-muscle caps).
    Warnings: spacing and placement cautions. A site with a non-finite number counts in no total
    (it is an error itself).
    """
    out: list[Finding] = [Finding(SITE_INVALID, "error", p) for p in site_problems(head, sites)]

    def err(code: str, msg: str, ids: Sequence[str] = ()) -> None:
        out.append(Finding(code, "error", msg, tuple(ids)))

    sane = [s for s in sites if math.isfinite(s.units)]
    total = sum(s.units for s in sane)
    all_ids = [s.id for s in sane]
    if total > limits.max_total_units + 1e-9:
        err(
            TOTAL_OVER_PROTOCOL_MAX,
            f"total {total:g} U exceeds the {limits.protocol_id} maximum of {limits.max_total_units:g} U per session.",
            all_ids,
        )
    if total > CUMULATIVE_LIMIT_U + 1e-9:
        err(
            TOTAL_OVER_CUMULATIVE_LIMIT,
            f"total {total:g} U exceeds the {CUMULATIVE_LIMIT_U:g} U cumulative limit for a 3-month interval.",
            all_ids,
        )
    for s in sane:
        if s.units > MAX_UNITS_PER_SITE:
            err(
                SITE_UNITS_OVER_MAX,
                f"{site_name(s).capitalize()}: {s.units:g} U exceeds {MAX_UNITS_PER_SITE:g} U per site.",
                [s.id],
            )
        if s.units <= 0:
            err(
                SITE_UNITS_NOT_POSITIVE,
                f"{site_name(s).capitalize()}: units must be positive, got {s.units:g}.",
                [s.id],
            )
    ftp = [s for s in sane if s.follow_the_pain]
    if ftp:
        caps = dict(limits.ftp_muscle_caps or {})
        ftp_ids = [s.id for s in ftp]
        if len(ftp) > limits.ftp_max_sites:
            err(
                FTP_SITES_OVER_MAX,
                f"{len(ftp)} follow-the-pain sites exceed the protocol's {limits.ftp_max_sites}.",
                ftp_ids,
            )
        ftp_units = sum(s.units for s in ftp)
        if ftp_units > limits.ftp_max_units + 1e-9:
            err(
                FTP_UNITS_OVER_MAX,
                f"Follow-the-pain {ftp_units:g} U exceeds the protocol's {limits.ftp_max_units:g} U.",
                ftp_ids,
            )
        for m in sorted({s.muscle for s in ftp}):
            of_m = [s for s in ftp if s.muscle == m]
            mu = sum(s.units for s in of_m)
            words = shorten(m) if m not in MUSCLES else m.replace("_", " ")
            if m not in caps:
                err(
                    FTP_MUSCLE_NOT_ALLOWED,
                    f"Follow-the-pain site in {words}: not allowed by {limits.protocol_id}.",
                    [s.id for s in of_m],
                )
            elif mu > caps[m] + 1e-9:
                err(
                    FTP_MUSCLE_OVER_CAP,
                    f"Follow-the-pain {words} {mu:g} U exceeds its cap of {caps[m]:g} U.",
                    [s.id for s in of_m],
                )

    placed = [s for s in sites if np.all(np.isfinite(s.position)) and s.side in ("left", "right", "midline")]
    pos = np.array([s.position for s in placed], dtype=float).reshape(-1, 3)
    if len(pos) > 1 and limits.min_spacing_mm > 0:
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=2)
        i, j = np.nonzero(np.triu(d < limits.min_spacing_mm, k=1))
        for a, b in zip(i, j, strict=True):
            out.append(
                Finding(
                    SITES_TOO_CLOSE,
                    "warning",
                    f"{site_name(placed[a]).capitalize()} and {site_name(placed[b])} are {d[a, b]:.1f} mm apart "
                    f"(protocol minimum {limits.min_spacing_mm:g} mm).",
                    (placed[a].id, placed[b].id),
                )
            )

    for site in placed:
        caution = placement_caution(head, site.muscle, site.side, site.position)
        if caution:
            code, text = caution
            out.append(
                Finding(
                    code,
                    "warning",
                    f"{site_name(site).capitalize()}, {site.muscle.replace('_', ' ')}, is {text}.",
                    (site.id,),
                )
            )
    return out


def dose_findings(protocol: Protocol, sites: Sequence[Site]) -> list[Finding]:
    """Errors for the units chosen at the protocol's own sites: outside a site's dose range
    (``units_range``), or a muscle over its cap (:meth:`Protocol.units_issues`).

    A fixed-dose site given another dose is a deviation, not an error here (the record asks for
    its reason).

    Follow-the-pain sites, sites the protocol does not have (an edited plan) and sites whose
    units are not a positive finite number (errors of :func:`check_sites` already) are left out;
    so are the per-site and per-session caps, which :func:`check_sites` reports.
    """
    known = {e.id for e in protocol.expanded_sites()}
    ranged = {e.id for e in protocol.expanded_sites() if e.units_range is not None}
    by_id = {
        s.id: s for s in sites if not s.follow_the_pain and s.id in known and math.isfinite(s.units) and s.units > 0
    }
    out: list[Finding] = []
    for issue in protocol.units_issues({k: s.units for k, s in by_id.items()}, present=by_id):
        if issue.kind == "outside_range" and issue.site_ids[0] in ranged:
            site = by_id[issue.site_ids[0]]
            out.append(
                Finding(UNITS_OUTSIDE_RANGE, "error", f"{site_name(site).capitalize()}: {issue.what}.", issue.site_ids)
            )
        elif issue.kind == "muscle_cap":
            muscle = by_id[issue.site_ids[0]].muscle.replace("_", " ")
            out.append(Finding(MUSCLE_UNITS_OVER_CAP, "error", f"{muscle.capitalize()}: {issue.what}.", issue.site_ids))
    return out


def danger_zone_findings(sites: Sequence[Site]) -> list[Finding]:
    """One information finding per muscle of these sites that has danger zones (their words)."""
    out: list[Finding] = []
    for muscle in dict.fromkeys(s.muscle for s in sites):
        if muscle in DANGER_ZONE_WORDS:
            ids = tuple(s.id for s in sites if s.muscle == muscle)
            words = f"Danger zones, {muscle.replace('_', ' ')}: {DANGER_ZONE_WORDS[muscle]}."
            out.append(Finding(DANGER_ZONES, "info", words, ids))
    return out


def _jaw_border_z(head: Head, side: str, y: float) -> float | None:
    """Height (head frame, mm) of the jaw's lower border at ``y``: the line from the gonion to the
    border below the mouth corner, held flat beyond its ends (None without those landmarks)."""
    lm = head.landmarks
    if f"{side}_gonion" not in lm or f"{side}_mandibular_border" not in lm:
        return None
    g, b = head.frame.to_head(lm[f"{side}_gonion"]), head.frame.to_head(lm[f"{side}_mandibular_border"])
    f = float(np.clip((y - g[1]) / (b[1] - g[1]), 0.0, 1.0)) if abs(b[1] - g[1]) > 1e-6 else 0.0
    return float(g[2] + f * (b[2] - g[2]))


def _lower_face_caution(head: Head, muscle: str, side: str, p: np.ndarray) -> tuple[str, str] | None:
    """The lower-face and neck danger zones (see :data:`DANGER_ZONE_WORDS`); ``p`` in the head frame."""
    lm = head.landmarks
    mouth = head.frame.to_head(lm[f"{side}_oral_commissure"]) if f"{side}_oral_commissure" in lm else None
    jaw = _jaw_border_z(head, side, float(p[1]))
    if muscle == "masseter" and mouth is not None and jaw is not None and f"{side}_tragus" in lm:
        tragus = head.frame.to_head(lm[f"{side}_tragus"])
        f = (p[1] - tragus[1]) / (mouth[1] - tragus[1]) if abs(mouth[1] - tragus[1]) > 1e-6 else 0.0
        if p[2] >= tragus[2] + f * (mouth[2] - tragus[2]):
            return MASSETER_DANGER_ZONE, "above the line from the tragus to the mouth corner (parotid duct, risorius)"
        if p[2] - jaw < JAW_BORDER_MARGIN_MM:
            return MASSETER_DANGER_ZONE, (
                f"{p[2] - jaw:.1f} mm above the {side} jaw border (keep about 1 cm: facial artery, platysma)"
            )
        if p[1] > mouth[1] - 15.0:
            return MASSETER_DANGER_ZONE, "in front of the masseter's front edge (risorius: an asymmetric smile)"
    if muscle == "platysma" and jaw is not None:
        if p[2] - jaw > PLATYSMA_MAX_ABOVE_JAW_MM:
            return PLATYSMA_DANGER_ZONE, (
                f"{p[2] - jaw:.1f} mm above the {side} jaw border (keep ≤ {PLATYSMA_MAX_ABOVE_JAW_MM:g} mm: "
                "lip depressors and risorius, an asymmetric smile)"
            )
        if p[2] < jaw and abs(p[0]) < PLATYSMA_MIN_FROM_MIDLINE_MM:
            return PLATYSMA_DANGER_ZONE, (
                f"{abs(p[0]):.1f} mm from the midline of the neck (keep ≥ {PLATYSMA_MIN_FROM_MIDLINE_MM:g} mm: "
                "over the larynx, deep spread risks dysphagia)"
            )
    if muscle == "depressor_anguli_oris" and mouth is not None and jaw is not None:
        if abs(p[0]) < abs(mouth[0]):
            return DAO_DANGER_ZONE, ("medial to the mouth corner (depressor labii inferioris: an asymmetric lower lip)")
        if p[2] < jaw + 0.25 * (mouth[2] - jaw):
            return DAO_DANGER_ZONE, (
                "in the lowest quarter between the jaw border and the mouth corner (depressor labii inferioris "
                "overlaps there: an asymmetric lower lip)"
            )
    if muscle == "mentalis" and abs(p[0]) > MENTALIS_MAX_FROM_MIDLINE_MM:
        return MENTALIS_DANGER_ZONE, (
            f"{abs(p[0]):.1f} mm from the midline (keep ≤ {MENTALIS_MAX_FROM_MIDLINE_MM:g} mm: lower-lip "
            "depressors, lower-lip ptosis)"
        )
    return None


def placement_caution(
    head: Head, muscle: str, side: str, position: Sequence[float] | np.ndarray
) -> tuple[str, str] | None:
    """Why a site of ``muscle`` at ``position`` (mesh frame) is unsafe, as ``(code, words)``, or None.

    * brow muscles (frontalis, corrugator) over the orbit — from halfway between the medial brow
      end and the pupil line out to the lateral brow end, i.e. over the levator palpebrae and the
      central/lateral brow — must be ≥ 10 mm above that side's orbital rim;
    * temporalis must be ≥ 45 mm above that side's zygomatic arch;
    * masseter, platysma, depressor anguli oris and mentalis keep out of their danger zones
      (:data:`DANGER_ZONE_WORDS`).
    """
    p = head.frame.to_head(np.asarray(position, dtype=float))
    lm = head.landmarks
    if side not in ("left", "right"):
        side = "right" if p[0] >= 0 else "left"
    brow_keys = ("orbital_rim", "brow_medial", "brow_lateral", "pupil")
    if muscle in BROW_MUSCLES and all(f"{side}_{k}" in lm for k in brow_keys):
        h = {k: head.frame.to_head(lm[f"{side}_{k}"]) for k in brow_keys}
        inner = 0.5 * (abs(h["brow_medial"][0]) + abs(h["pupil"][0]))
        outer = abs(h["brow_lateral"][0])
        height = p[2] - h["orbital_rim"][2]
        if inner <= abs(p[0]) <= outer and height < ORBIT_MARGIN_MM:
            return ORBIT_MARGIN, (
                f"{height:.1f} mm above the {side} orbital rim over the orbit "
                f"(keep ≥ {ORBIT_MARGIN_MM:g} mm: risk of eyelid or brow ptosis)"
            )
    if muscle == "temporalis" and f"{side}_zygomatic_arch" in lm:
        arch = head.frame.to_head(lm[f"{side}_zygomatic_arch"])
        height = p[2] - arch[2]
        if height < TEMPORALIS_MIN_ABOVE_ARCH_MM:
            return TEMPORALIS_ARCH_MARGIN, (
                f"{height:.1f} mm above the {side} zygomatic arch "
                f"(keep ≥ {TEMPORALIS_MIN_ABOVE_ARCH_MM:g} mm: below that lies tendon, not muscle)"
            )
    return _lower_face_caution(head, muscle, side, p)
