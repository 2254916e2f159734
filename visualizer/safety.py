"""Safety checks on a set of sites: caps (errors) and placement cautions (warnings).

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
from visualizer.plan import Site

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


def check_sites(head: Head, sites: Sequence[Site], limits: Limits) -> tuple[list[str], list[str]]:
    """Return ``(warnings, errors)`` for these sites on this head."""
    warnings: list[str] = []
    errors: list[str] = []
    total = sum(s.units for s in sites)
    if total > limits.max_total_units + 1e-9:
        errors.append(
            f"total {total:g} U exceeds the {limits.protocol_id} maximum of {limits.max_total_units:g} U per session"
        )
    if total > CUMULATIVE_LIMIT_U + 1e-9:
        errors.append(f"total {total:g} U exceeds the {CUMULATIVE_LIMIT_U:g} U cumulative limit for a 3-month interval")
    for s in sites:
        if s.units > MAX_UNITS_PER_SITE:
            errors.append(f"site {s.id}: {s.units:g} U exceeds {MAX_UNITS_PER_SITE:g} U per site")
        if s.units <= 0:
            errors.append(f"site {s.id}: units must be positive, got {s.units:g}")
    ftp = [s for s in sites if s.follow_the_pain]
    if ftp:
        caps = dict(limits.ftp_muscle_caps or {})
        if len(ftp) > limits.ftp_max_sites:
            errors.append(f"{len(ftp)} follow-the-pain sites exceed the protocol's {limits.ftp_max_sites}")
        ftp_units = sum(s.units for s in ftp)
        if ftp_units > limits.ftp_max_units + 1e-9:
            errors.append(f"follow-the-pain {ftp_units:g} U exceeds the protocol's {limits.ftp_max_units:g} U")
        for m in sorted({s.muscle for s in ftp}):
            mu = sum(s.units for s in ftp if s.muscle == m)
            if m not in caps:
                errors.append(f"follow-the-pain site in {m}: not allowed by {limits.protocol_id}")
            elif mu > caps[m] + 1e-9:
                errors.append(f"follow-the-pain {m} {mu:g} U exceeds its cap of {caps[m]:g} U")

    pos = np.array([s.position for s in sites], dtype=float).reshape(-1, 3)
    if len(pos) > 1 and limits.min_spacing_mm > 0:
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=2)
        i, j = np.nonzero(np.triu(d < limits.min_spacing_mm, k=1))
        for a, b in zip(i, j, strict=True):
            warnings.append(
                f"sites {sites[a].id} and {sites[b].id} are {d[a, b]:.1f} mm apart "
                f"(protocol minimum {limits.min_spacing_mm:g} mm)"
            )

    hp = head.frame.to_head(pos) if len(pos) else pos
    lm = head.landmarks
    for s, p in zip(sites, hp, strict=True):
        side = s.side if s.side in ("left", "right") else ("right" if p[0] >= 0 else "left")
        brow_keys = ("orbital_rim", "brow_medial", "brow_lateral")
        if s.muscle in BROW_MUSCLES and all(f"{side}_{k}" in lm for k in brow_keys):
            rim = head.frame.to_head(lm[f"{side}_orbital_rim"])
            xs = sorted(abs(head.frame.to_head(lm[f"{side}_{k}"])[0]) for k in ("brow_medial", "brow_lateral"))
            over_orbit = xs[0] - 2.0 <= abs(p[0]) <= xs[1] + 2.0
            height = p[2] - rim[2]
            if over_orbit and height < ORBIT_MARGIN_MM:
                warnings.append(
                    f"site {s.id} ({s.muscle}) is {height:.1f} mm above the {side} orbital rim "
                    f"(keep ≥ {ORBIT_MARGIN_MM:g} mm: risk of eyelid or brow ptosis)"
                )
        if s.muscle == "temporalis" and f"{side}_zygomatic_arch" in lm:
            arch = head.frame.to_head(lm[f"{side}_zygomatic_arch"])
            height = p[2] - arch[2]
            if height < TEMPORALIS_MIN_ABOVE_ARCH_MM:
                warnings.append(
                    f"site {s.id} (temporalis) is {height:.1f} mm above the {side} zygomatic arch "
                    f"(keep ≥ {TEMPORALIS_MIN_ABOVE_ARCH_MM:g} mm: below that lies tendon, not muscle)"
                )
    return warnings, errors
