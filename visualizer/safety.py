"""Safety checks on a set of sites: caps (errors) and placement cautions (warnings), as findings.

Sources are cited in ``protocols/README.md``: the 400 U cumulative 3-month limit and the 50 U
per-site ceiling (BOTOX label), the 10 mm margin above the orbital rim (glabellar-line label and
ptosis guidance), 45 mm above the zygomatic arch for temporalis (Choi 2016, Toxins 8:265).
Heights are measured along the head frame's +z axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from visualizer.head import Head
from visualizer.plan import Finding, Site

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


# Finding codes (stable: pages and tests match on them). Errors: a cap is broken.
TOTAL_OVER_PROTOCOL_MAX = "total_over_protocol_max"
TOTAL_OVER_CUMULATIVE_LIMIT = "total_over_cumulative_limit"
SITE_UNITS_OVER_MAX = "site_units_over_max"
SITE_UNITS_NOT_POSITIVE = "site_units_not_positive"
FTP_SITES_OVER_MAX = "ftp_sites_over_max"
FTP_UNITS_OVER_MAX = "ftp_units_over_max"
FTP_MUSCLE_NOT_ALLOWED = "ftp_muscle_not_allowed"
FTP_MUSCLE_OVER_CAP = "ftp_muscle_over_cap"
# Warnings: placement cautions.
SITES_TOO_CLOSE = "sites_too_close"
ORBIT_MARGIN = "orbit_margin"
TEMPORALIS_ARCH_MARGIN = "temporalis_arch_margin"


def site_name(site: Site) -> str:
    """A site as people read it: "site 20 (back of the head, left)" (its number in the plan)."""
    return f"site {site.order} ({site.description[:1].lower()}{site.description[1:]})"


def check_sites(head: Head, sites: Sequence[Site], limits: Limits) -> list[Finding]:
    """The safety findings (``error``: a cap broken; ``warning``: a placement caution) for these
    sites on this head."""
    out: list[Finding] = []

    def err(code: str, msg: str, ids: Sequence[str] = ()) -> None:
        out.append(Finding(code, "error", msg, tuple(ids)))

    total = sum(s.units for s in sites)
    all_ids = [s.id for s in sites]
    if total > limits.max_total_units + 1e-9:
        err(TOTAL_OVER_PROTOCOL_MAX,
            f"Total {total:g} U exceeds the {limits.protocol_id} maximum of {limits.max_total_units:g} U per session.",
            all_ids)
    if total > CUMULATIVE_LIMIT_U + 1e-9:
        err(TOTAL_OVER_CUMULATIVE_LIMIT,
            f"Total {total:g} U exceeds the {CUMULATIVE_LIMIT_U:g} U cumulative limit for a 3-month interval.",
            all_ids)
    for s in sites:
        if s.units > MAX_UNITS_PER_SITE:
            err(SITE_UNITS_OVER_MAX,
                f"{site_name(s).capitalize()}: {s.units:g} U exceeds {MAX_UNITS_PER_SITE:g} U per site.", [s.id])
        if s.units <= 0:
            err(SITE_UNITS_NOT_POSITIVE, f"{site_name(s).capitalize()}: units must be positive, got {s.units:g}.",
                [s.id])
    ftp = [s for s in sites if s.follow_the_pain]
    if ftp:
        caps = dict(limits.ftp_muscle_caps or {})
        ftp_ids = [s.id for s in ftp]
        if len(ftp) > limits.ftp_max_sites:
            err(FTP_SITES_OVER_MAX,
                f"{len(ftp)} follow-the-pain sites exceed the protocol's {limits.ftp_max_sites}.", ftp_ids)
        ftp_units = sum(s.units for s in ftp)
        if ftp_units > limits.ftp_max_units + 1e-9:
            err(FTP_UNITS_OVER_MAX,
                f"Follow-the-pain {ftp_units:g} U exceeds the protocol's {limits.ftp_max_units:g} U.", ftp_ids)
        for m in sorted({s.muscle for s in ftp}):
            of_m = [s for s in ftp if s.muscle == m]
            mu = sum(s.units for s in of_m)
            if m not in caps:
                err(FTP_MUSCLE_NOT_ALLOWED,
                    f"Follow-the-pain site in {m.replace('_', ' ')}: not allowed by {limits.protocol_id}.",
                    [s.id for s in of_m])
            elif mu > caps[m] + 1e-9:
                err(FTP_MUSCLE_OVER_CAP,
                    f"Follow-the-pain {m.replace('_', ' ')} {mu:g} U exceeds its cap of {caps[m]:g} U.",
                    [s.id for s in of_m])

    pos = np.array([s.position for s in sites], dtype=float).reshape(-1, 3)
    if len(pos) > 1 and limits.min_spacing_mm > 0:
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=2)
        i, j = np.nonzero(np.triu(d < limits.min_spacing_mm, k=1))
        for a, b in zip(i, j, strict=True):
            out.append(Finding(
                SITES_TOO_CLOSE, "warning",
                f"{site_name(sites[a]).capitalize()} and {site_name(sites[b])} are {d[a, b]:.1f} mm apart "
                f"(protocol minimum {limits.min_spacing_mm:g} mm).",
                (sites[a].id, sites[b].id)))

    for site in sites:
        caution = placement_caution(head, site.muscle, site.side, site.position)
        if caution:
            code, text = caution
            out.append(Finding(code, "warning", f"{site_name(site).capitalize()}, {site.muscle.replace('_', ' ')}, "
                                                f"is {text}.", (site.id,)))
    return out


def placement_caution(
    head: Head, muscle: str, side: str, position: Sequence[float] | np.ndarray
) -> tuple[str, str] | None:
    """Why a site of ``muscle`` at ``position`` (mesh frame) is unsafe, as ``(code, words)``, or None.

    * brow muscles (frontalis, corrugator) over the orbit — from halfway between the medial brow
      end and the pupil line out to the lateral brow end, i.e. over the levator palpebrae and the
      central/lateral brow — must be ≥ 10 mm above that side's orbital rim;
    * temporalis must be ≥ 45 mm above that side's zygomatic arch.
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
    return None
