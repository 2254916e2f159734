"""The patient's usual pain origin and the follow-the-pain (FTP) sites it earns.

A pain origin is one or more regions (``frontal``, ``temporal``, ``occipital``, ``neck``,
``shoulder``; prefix ``left-``/``right-`` for one side, no prefix for both) and/or a point on the
head (mesh frame, mm). FTP sites go to the protocol's FTP-eligible muscles nearest the origin, on
the painful side, spaced from each other and from the fixed sites, within every cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from visualizer.errors import PainError, shorten
from visualizer.head import Head
from visualizer.muscle_map import MUSCLE_CODE
from visualizer.muscles import PAIN_REGIONS, REGION_WORDS, pain_region_muscles
from visualizer.plan import Finding
from visualizer.safety import placement_caution
from visualizer.surface import OFF_HEAD_MM
from visualizer.words import point_words

#: Pain regions, and the muscle areas that make up each: from the registry (:mod:`visualizer.muscles`).
REGIONS: tuple[str, ...] = PAIN_REGIONS
REGION_MUSCLES: dict[str, tuple[str, ...]] = {r: pain_region_muscles(r) for r in PAIN_REGIONS}
SIDES = ("left", "right")
#: Finding codes (``info``) for a pain origin follow-the-pain cannot serve.
FTP_REGION_NOT_ELIGIBLE = "ftp_region_not_eligible"
FTP_REGION_NO_AREA = "ftp_region_no_area"
FTP_POINT_OUT_OF_REACH = "ftp_point_out_of_reach"
#: A clicked pain point is served only by eligible muscle areas within this reach (mm, default head).
POINT_REACH_MM = 60.0
#: Candidate FTP positions are sampled on this grid (mm) over each eligible muscle area.
CANDIDATE_GRID_MM = 4.0
#: A point closer than this to the midline (mm) counts as pain on both sides.
MIDLINE_BAND_MM = 8.0


@dataclass(frozen=True)
class PainRegion:
    """One region on one side (``left``/``right``) or both (``both``)."""

    region: str
    side: str

    def __str__(self) -> str:
        return self.region if self.side == "both" else f"{self.side}-{self.region}"


def region_words(region: PainRegion) -> str:
    """ "left temple", "back of the head (both sides)"."""
    words = REGION_WORDS.get(region.region, region.region)
    return f"{words} (both sides)" if region.side == "both" else f"{region.side} {words}"


@dataclass(frozen=True)
class PainOrigin:
    """Where the patient's headaches usually start.

    Attributes
    ----------
    regions : tuple of PainRegion
    point : tuple of float, optional
        A point on or near the skin, **mesh frame** (mm).
    """

    regions: tuple[PainRegion, ...] = ()
    point: tuple[float, float, float] | None = None

    @classmethod
    def parse(cls, regions: Iterable[str] = (), point: Sequence[float] | None = None) -> PainOrigin:
        """Build from names like ``"left-temporal"`` and an optional [x, y, z] (mesh frame, mm)."""
        parsed: list[PainRegion] = []
        for raw in regions:
            name = str(raw).strip().lower()
            side = "both"
            for s in SIDES:
                if name.startswith(s + "-"):
                    side, name = s, name[len(s) + 1 :]
            if name not in REGIONS:
                allowed = ", ".join(REGIONS)
                raise PainError(
                    f"pain region {shorten(raw)} is unknown; use one of {allowed}, optionally prefixed left- or right-"
                )
            pr = PainRegion(name, side)
            if pr not in parsed:
                parsed.append(pr)
        pt: tuple[float, float, float] | None = None
        if point is not None:
            vals = list(point)
            if len(vals) != 3 or not all(isinstance(v, int | float) and np.isfinite(v) for v in vals):
                raise PainError(f"pain point must be three finite numbers (x y z in mm), got {shorten(point)}")
            pt = (float(vals[0]), float(vals[1]), float(vals[2]))
        return cls(tuple(parsed), pt)

    @property
    def empty(self) -> bool:
        """True when no region and no point is given."""
        return not self.regions and self.point is None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: region names and the point (mesh frame, mm)."""
        return {"regions": [str(r) for r in self.regions], "point": list(self.point) if self.point else None}


def check_pain_point(head: Head, point: Sequence[float]) -> None:
    """Refuse a pain point (mesh frame, mm) farther than :data:`OFF_HEAD_MM` from this head's skin.

    The app refuses such a click; a point typed on the command line is refused the same way
    rather than silently moved onto the skin.
    """
    p = np.asarray(point, dtype=float)
    on_skin, _ = head.snap(p)
    d = float(np.linalg.norm(on_skin - p))
    if d > OFF_HEAD_MM:
        where = ", ".join(f"{c:g}" for c in p)
        raise PainError(
            f"pain point ({where}) mm is {d:.1f} mm from the skin of {head.mesh_path.name} "
            f"(at most {OFF_HEAD_MM:g} mm): give a point on the skin, in the mesh's coordinates (mm)"
        )


@dataclass(frozen=True)
class Candidates:
    """Possible FTP positions over the eligible muscle areas (prepared once per head + protocol)."""

    positions: NDArray[np.float64]  # (n, 3) mesh frame
    normals: NDArray[np.float64]
    muscles: NDArray[np.str_]
    sides: NDArray[np.str_]  # left / right
    anchors: dict[tuple[str, str], NDArray[np.float64]]  # (region, side) → centre of the region


#: How far medial of the necklace (mm, scaled with the head) the shoulder's trapezius reaches for
#: follow-the-pain: the trapezius area also runs up the back of the neck to the skull, but PREEMPT
#: places trapezius sites over the shoulder, from the necklace line to the AC joint (Blumenfeld
#: 2017), and gives no follow-the-pain in the neck. Chosen, not published.
SHOULDER_MEDIAL_MM = 30.0


def ftp_area(head: Head, muscle: str, pts_head: NDArray[np.float64] | None = None) -> NDArray[np.bool_]:
    """Skin points of ``muscle``'s area where follow-the-pain sites and pain-region centres may lie.

    The whole area, except for the trapezius: only its part over the shoulder (lateral to
    :data:`SHOULDER_MEDIAL_MM` medial of each side's necklace landmark), not the part on the neck.
    """
    mask = head.muscle_codes == MUSCLE_CODE[muscle]
    if muscle != "trapezius" or not all(f"{s}_necklace" in head.landmarks for s in SIDES):
        return mask
    if pts_head is None:
        pts_head = head.frame.to_head(np.asarray(head.mesh.points, dtype=float))
    reach = (
        np.array([abs(head.head_landmark(f"{s}_necklace")[0]) for s in SIDES]) - SHOULDER_MEDIAL_MM * head.size_scale
    )
    x = pts_head[:, 0]
    return mask & np.where(x >= 0, x >= reach[1], -x >= reach[0])


def prepare_candidates(head: Head, muscles: Iterable[str]) -> Candidates:
    """Sample candidate positions on a grid over each eligible muscle area, per side."""
    pts = np.asarray(head.mesh.points, dtype=float)
    pts_head = head.frame.to_head(pts)
    x_head = pts_head[:, 0]
    grid = CANDIDATE_GRID_MM * head.size_scale
    pos, nrm, mus, sid = [], [], [], []
    for m in sorted(set(muscles)):
        mask = ftp_area(head, m, pts_head)
        if not mask.any():
            continue
        idx = np.flatnonzero(mask)
        keys = np.floor(pts_head[idx] / grid).astype(np.int64)  # head-frame grid: pose-independent
        _, first = np.unique(keys, axis=0, return_index=True)
        chosen = idx[np.sort(first)]
        p, n = head.surface.closest(pts[chosen])
        sides = np.where(x_head[chosen] >= 0, "right", "left")
        # a candidate the safety checks would flag is never offered
        safe = np.array([placement_caution(head, m, str(sd), q) is None for q, sd in zip(p, sides, strict=True)])
        pos.append(p[safe])
        nrm.append(n[safe])
        mus.append(np.full(int(safe.sum()), m))
        sid.append(sides[safe])
    anchors = region_centres(head)
    if not pos:
        empty = np.empty((0, 3))
        return Candidates(empty, empty, np.array([], dtype=str), np.array([], dtype=str), anchors)
    return Candidates(np.vstack(pos), np.vstack(nrm), np.concatenate(mus), np.concatenate(sid), anchors)


def region_centres(head: Head) -> dict[tuple[str, str], NDArray[np.float64]]:
    """Centre of each pain region on each side: ``(region, side)`` → skin point (mesh frame, mm).

    The centre is the mean of the region's muscle-area points (:func:`ftp_area`: the shoulder's
    trapezius, not its part on the neck), moved onto the skin. Cached on the head.
    """
    cached = head.cache.get("region_centres")
    if cached is not None:
        return cached  # type: ignore[return-value]
    pts = np.asarray(head.mesh.points, dtype=float)
    pts_head = head.frame.to_head(pts)
    x_head = pts_head[:, 0]
    out: dict[tuple[str, str], NDArray[np.float64]] = {}
    for region, region_muscles in REGION_MUSCLES.items():
        mask = np.logical_or.reduce([ftp_area(head, m, pts_head) for m in region_muscles])
        for side in SIDES:
            sm = mask & ((x_head >= 0) if side == "right" else (x_head < 0))
            if sm.any():
                out[(region, side)] = head.surface.closest(pts[sm].mean(axis=0))[0]
    head.cache["region_centres"] = out
    return out


def region_anchors(head: Head, regions: Iterable[PainRegion | str]) -> list[NDArray[np.float64]]:
    """Centres of pain regions (``"left-temporal"``, ``"occipital"`` for both sides, ...) on this head,
    mesh frame (mm), in order: where the scene draws the pain glow (:attr:`Plan.heat_anchors`)."""
    names = [str(r) for r in regions]
    if not names:
        return []
    centres = region_centres(head)
    out = []
    for r in names:
        side, _, name = r.rpartition("-")
        for sd in (side,) if side in SIDES else SIDES:
            a = centres.get((name, sd))
            if a is not None:
                out.append(np.asarray(a, dtype=float))
    return out


@dataclass(frozen=True)
class FtpPick:
    """One chosen FTP site."""

    position: NDArray[np.float64]
    normal: NDArray[np.float64]
    muscle: str
    side: str
    reason: str  # the pain it serves, in plain words ("pain in the left temple")


def choose_ftp_sites(
    head: Head,
    cands: Candidates,
    origin: PainOrigin,
    *,
    fixed_positions: NDArray[np.float64],
    muscle_caps: dict[str, float],
    max_sites: int,
    max_units: float,
    units_per_site: float,
    min_spacing_mm: float,
) -> tuple[list[FtpPick], list[Finding]]:
    """Pick FTP sites for a pain origin; returns the picks and ``info`` findings (what could not be
    served, in plain words).

    Each target (a region on one side, or the clicked point) takes turns choosing its nearest
    candidate that keeps ``min_spacing_mm`` from every site so far and fits its muscle's cap, until
    the site or unit allowance is used up or no target can take another site.
    """
    warnings: list[Finding] = []
    eligible = set(muscle_caps)
    allowed = ", ".join(m.replace("_", " ") for m in sorted(eligible))
    targets: list[tuple[str, NDArray[np.float64], NDArray[np.bool_]]] = []
    for r in origin.regions:
        served = [m for m in REGION_MUSCLES[r.region] if m in eligible]
        if not served:
            warnings.append(
                Finding(
                    FTP_REGION_NOT_ELIGIBLE,
                    "info",
                    f"Pain in the {region_words(r)}: this protocol adds follow-the-pain sites only in {allowed}, "
                    f"so none are added for it.",
                )
            )
            continue
        for side in SIDES if r.side == "both" else (r.side,):
            anchor = cands.anchors.get((r.region, side))
            mask = np.isin(cands.muscles, served) & (cands.sides == side)
            if anchor is None or not mask.any():
                areas = " or ".join(m.replace("_", " ") for m in served)
                warnings.append(
                    Finding(
                        FTP_REGION_NO_AREA,
                        "info",
                        f"Pain in the {region_words(r)}: this head has no {areas} "
                        f"area on the {side} side, so no follow-the-pain site is added there.",
                    )
                )
                continue
            targets.append((f"pain in the {region_words(PainRegion(r.region, side))}", anchor, mask))
    if origin.point is not None:
        p, _ = head.snap(np.asarray(origin.point))
        reach = POINT_REACH_MM * head.size_scale
        x = head.frame.to_head(p)[0]
        side_ok = np.ones(len(cands.sides), dtype=bool)
        if abs(x) > MIDLINE_BAND_MM * head.size_scale:
            side_ok = cands.sides == ("right" if x > 0 else "left")
        near = np.linalg.norm(cands.positions - p, axis=1) <= reach
        mask = near & side_ok & np.isin(cands.muscles, list(eligible))
        if not mask.any():
            warnings.append(
                Finding(
                    FTP_POINT_OUT_OF_REACH,
                    "info",
                    f"Pain at {point_words(head, p)}: no muscle this protocol treats for follow-the-pain ({allowed}) "
                    f"lies within {reach:.0f} mm, so no sites are added for it.",
                )
            )
        else:
            targets.append((f"pain at {point_words(head, p)}", p, mask))

    picks: list[FtpPick] = []
    muscle_names = sorted(muscle_caps)
    cand_muscle = np.searchsorted(muscle_names, cands.muscles) if len(cands.muscles) else np.zeros(0, dtype=int)
    used = np.zeros(len(muscle_names))
    caps = np.array([muscle_caps[m] for m in muscle_names])
    # distance from every candidate to the nearest site placed so far, updated as sites are added
    placed = np.asarray(fixed_positions, dtype=float).reshape(-1, 3)
    d_near = np.full(len(cands.positions), np.inf)
    for q in placed:
        np.minimum(d_near, np.linalg.norm(cands.positions - q, axis=1), out=d_near)
    dist_to_target = [np.linalg.norm(cands.positions - anchor, axis=1) for _, anchor, _ in targets]
    active = [True] * len(targets)
    total = 0.0
    while any(active) and len(picks) < max_sites and total + units_per_site <= max_units + 1e-9:
        for ti, (reason, _anchor, mask) in enumerate(targets):
            if not active[ti] or len(picks) >= max_sites or total + units_per_site > max_units + 1e-9:
                continue
            room = used + units_per_site <= caps + 1e-9
            ok = mask & room[cand_muscle] & (d_near >= min_spacing_mm)
            if not ok.any():
                active[ti] = False
                continue
            idx = np.flatnonzero(ok)
            best = int(idx[np.argmin(dist_to_target[ti][idx])])
            m = str(cands.muscles[best])
            picks.append(FtpPick(cands.positions[best], cands.normals[best], m, str(cands.sides[best]), reason))
            used[cand_muscle[best]] += units_per_site
            total += units_per_site
            np.minimum(d_near, np.linalg.norm(cands.positions - cands.positions[best], axis=1), out=d_near)
    return picks, warnings
