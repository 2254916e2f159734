"""Per-connection state of the web app, as plain Python (no trame, no VTK).

One ``Session`` per browser connection holds the patient (protocol, pain origin, follow-the-pain),
the current ``Plan``, the selected site, the patient step-through and the trainer quiz.  Every
number shown on the page comes from here, and everything here comes from the engine (``Plan``,
``Head``); the session only formats and keeps track.

The engine is passed in as an object with ``make_plan``, ``load_protocol``, ``list_protocols`` and
``PainOrigin`` (the ``visualizer`` package); plans and sites are the engine's typed ``Plan``/``Site``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from visualizer.pain import REGIONS as PAIN_REGIONS
from visualizer.pain import PainRegion, region_words
from visualizer.plan import Plan, Site
from visualizer.protocol import Protocol

PAIN_SIDES = ("left", "both", "right")
QUIZ_GOOD_MM = 10.0  # "within 10 mm" in the summary
QUIZ_ZERO_MM = 30.0  # an answer this far away (or more) scores 0


class UserError(Exception):
    """A bad request from the page; the message is shown to the user."""


class DoseRefused(UserError):
    """Chosen units the session refuses (outside a site's range, not a positive number, an
    unknown site); ``per_site`` says what is wrong at each site it is about, without the site's
    name (the page shows it under that site's field)."""

    def __init__(self, message: str, per_site: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.per_site = dict(per_site or {})


def _words(name: str) -> str:
    return str(name).replace("_", " ")


def _fmt(x: float, nd: int = 2) -> str:
    """A number with at most ``nd`` decimals, trailing decimal zeros dropped (10 -> "10", 2.50 -> "2.5")."""
    s = f"{x:.{nd}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


def field_step(lo: float, hi: float, template: float) -> float:
    """The step of a dose field's arrows: 5, 1 or 0.5 U, the largest that lands on the range's
    ends and the template's dose and gives at least 4 steps across the range (10\u201340 U: 5;
    12\u201316 U: 1; 3.5\u20136 U: 0.5).  Any value in the range may still be typed."""
    for step in (5.0, 1.0):
        on_grid = all(abs(v / step - round(v / step)) < 1e-9 for v in (lo, hi, template))
        if on_grid and (hi - lo) / step >= 4 - 1e-9:
            return step
    return 0.5


def protocol_id(protocol: Protocol) -> str:
    return protocol.id


def protocol_name(protocol: Protocol) -> str:
    return protocol.name


def protocol_short_name(protocol: Any) -> str:
    """The name up to its first dash/paren ("PREEMPT — chronic migraine ..." -> "PREEMPT")."""
    name = protocol_name(protocol)
    for sep in (" — ", " - ", " ("):
        name = name.split(sep)[0]
    return name.strip() or protocol_id(protocol)


def site_title(site: Site) -> str:
    """Plain words for a site (the engine's description)."""
    return site.description


def sites_in_order(plan: Plan) -> list[Site]:
    return sorted(plan.sites, key=lambda s: s.order)


def pain_regions(regions: Sequence[str], side: str) -> list[str]:
    """Chips -> the engine's region strings.

    A chip is a region with its own side (``left-temporal``, ``right-shoulder``) or a bare region
    (``occipital``), which takes ``side`` (left, right or both).
    """
    if side not in PAIN_SIDES:
        raise UserError(f"Unknown side {side!r}: choose left, right or both.")
    out = []
    for r in regions:
        own, _, name = str(r).rpartition("-")
        if name not in PAIN_REGIONS or own not in ("", "left", "right"):
            raise UserError(
                f"Unknown pain region {r!r}: choose from {', '.join(PAIN_REGIONS)}, optionally with left- or right-."
            )
        s = own or side
        out.append(name if s == "both" else f"{s}-{name}")
    return out


def _split_region(r: str) -> tuple[str, str]:
    """``left-temporal`` -> (``temporal``, ``left``); ``occipital`` -> (``occipital``, ``both``)."""
    side, _, name = r.rpartition("-")
    return name, side or "both"


# ------------------------------------------------------------------------------------------
@dataclass
class QuizAnswer:
    site_id: str
    prompt: str
    muscle: str
    guess: tuple[float, float, float]
    truth: tuple[float, float, float]
    error_mm: float
    score: int
    measured: str = "over the skin"  # or "in a straight line" (no path over the skin)


def quiz_score(error_mm: float) -> int:
    """100 at 0 mm, falling linearly to 0 at QUIZ_ZERO_MM."""
    if not math.isfinite(error_mm):
        return 0
    return round(100 * max(0.0, 1.0 - error_mm / QUIZ_ZERO_MM))


def quiz_prompt(site: Site) -> str:
    """ "site 17: left occipitalis" - the number is the plan's own (the labels and the site table)."""
    side = str(site.side) if str(site.side) not in ("", "midline", "None") else ""
    return f"site {site.order}: {side} {_words(site.muscle)}".replace("  ", " ").strip()


@dataclass
class Quiz:
    """One round over every site of a plan, in its own shuffled order.

    ``seed`` makes the order reproducible (tests); ``None`` draws a fresh order for the round.
    """

    plan: Any
    seed: int | None = None
    order: list[str] = field(default_factory=list)
    prompts: dict[str, str] = field(default_factory=dict)
    answers: list[QuizAnswer] = field(default_factory=list)
    index: int = 0

    def __post_init__(self) -> None:
        sites = sites_in_order(self.plan)
        self._by_id = {str(s.id): s for s in sites}
        self.prompts = {str(s.id): quiz_prompt(s) for s in sites}
        self.order = list(self._by_id)
        random.Random(self.seed).shuffle(self.order)

    @property
    def total(self) -> int:
        return len(self.order)

    @property
    def finished(self) -> bool:
        return self.index >= self.total

    @property
    def current_id(self) -> str | None:
        return None if self.finished else self.order[self.index]

    @property
    def current_site(self) -> Any:
        cid = self.current_id
        return None if cid is None else self._by_id[cid]

    @property
    def prompt(self) -> str:
        cid = self.current_id
        return "" if cid is None else self.prompts[cid]

    @property
    def awaiting_next(self) -> bool:
        """An answer was given for the current question (showing the result)."""
        return len(self.answers) > self.index

    def answer(self, guess: Sequence[float], distance: Callable[[Any, Any], Any]) -> QuizAnswer:
        """Score a click; ``distance(p, q)`` is the engine's skin distance.

        It returns either mm (a float) or an object with ``mm`` and ``how`` (see
        ``visualizer.skin_distance.SkinDistance``).
        """
        if self.finished:
            raise UserError("The quiz is over: start a new round.")
        if self.awaiting_next:
            raise UserError("Already answered: press Next for the next site.")
        site = self.current_site
        truth = tuple(float(v) for v in site.position)
        g = tuple(float(v) for v in guess)
        d = distance(g, truth)
        err = float(getattr(d, "mm", d))
        how = str(getattr(d, "how", "over the skin"))
        a = QuizAnswer(
            site_id=str(site.id),
            prompt=self.prompt,
            muscle=str(site.muscle),
            guess=g,
            truth=truth,  # type: ignore[arg-type]
            error_mm=err,
            score=quiz_score(err),
            measured=how,
        )
        self.answers.append(a)
        return a

    def next(self) -> None:
        if self.awaiting_next:
            self.index += 1

    @property
    def score(self) -> int:
        if not self.answers:
            return 0
        return round(sum(a.score for a in self.answers) / len(self.answers))

    def summary(self) -> dict[str, Any]:
        """Mean and worst error per muscle, sites within QUIZ_GOOD_MM, mean score."""
        per: dict[str, list[float]] = {}
        for a in self.answers:
            per.setdefault(a.muscle, []).append(a.error_mm)
        rows = [
            {"muscle": _words(m), "n": len(v), "mean_mm": _fmt(sum(v) / len(v), 1), "worst_mm": _fmt(max(v), 1)}
            for m, v in sorted(per.items())
        ]
        within = sum(1 for a in self.answers if a.error_mm <= QUIZ_GOOD_MM)
        errs = [a.error_mm for a in self.answers]
        return {
            "rows": rows,
            "answered": len(self.answers),
            "total": self.total,
            "within": within,
            "within_mm": _fmt(QUIZ_GOOD_MM, 0),
            "mean_mm": _fmt(sum(errs) / len(errs), 1) if errs else "-",
            "score": self.score,
        }


# ------------------------------------------------------------------------------------------
class Session:
    """The state of one browser connection."""

    def __init__(
        self,
        engine: Any,
        head: Any,
        *,
        protocol: str = "preempt",
        protocol_source: str | None = None,
        protocols: Sequence[Protocol] = (),
        quiz_seed: int | None = None,
    ) -> None:
        """``protocols``: the set a browser may choose from (default: the bundled ones).

        ``protocol_source`` (a file, from the server's own start-up options) joins that set.
        ``quiz_seed``: quiz orders reproducible from this seed (tests); None: each round its own.
        """
        self.engine = engine
        self.base_head = head
        self.head = head
        self.protocols = list(protocols) or list(engine.list_protocols())
        if protocol_source:
            loaded = engine.load_protocol(protocol_source)
            self.protocols = [p for p in self.protocols if protocol_id(p) != loaded.id] + [loaded]
            protocol = loaded.id
        self.pain_chips: list[str] = []
        self.pain_side = "both"
        self.pain_point: tuple[float, float, float] | None = None
        self.follow_the_pain = True
        self.units: dict[str, float] = {}  # the doses the injector chose, per expanded site id
        self.selected: str | None = None
        self.patient_index = 0
        self.quiz: Quiz | None = None
        self.quiz_seed: int | None = quiz_seed  # None: every round draws its own order
        self.protocol = self._load(protocol)
        self.plan = None
        self.recompute()

    # -- engine calls ------------------------------------------------------------------------
    def _load(self, ref: str) -> Any:
        """The protocol with id ``ref`` from this session's set (never a file: ids only)."""
        for p in self.protocols:
            if protocol_id(p) == ref:
                return p
        from visualizer.app.inputs import quote

        known = ", ".join(protocol_id(p) for p in self.protocols)
        raise UserError(f"Unknown protocol {quote(ref)}: choose one of {known}.")

    def pain_origin(self) -> Any:
        regions = pain_regions(self.pain_chips, self.pain_side)
        if not regions and self.pain_point is None:
            return None
        return self.engine.PainOrigin.parse(regions=regions, point=self.pain_point)

    def recompute(self) -> Any:
        """Recompute the plan from the current inputs (raises the engine's errors)."""
        plan = self.engine.make_plan(
            self.head, self.protocol, self.pain_origin(), follow_the_pain=self.follow_the_pain, units=self.units
        )
        self.plan = plan
        ids = {str(s.id) for s in plan.sites}
        if self.selected not in ids:
            self.selected = None
        n = len(ids)
        self.patient_index = min(self.patient_index, max(n - 1, 0))
        return plan

    def _transaction(self, change) -> Any:
        """Apply a change and recompute; on any error restore the previous inputs."""
        saved = (
            self.protocol,
            list(self.pain_chips),
            self.pain_side,
            self.pain_point,
            self.follow_the_pain,
            self.base_head,
            self.head,
            dict(self.units),
        )
        try:
            change()
            return self.recompute()
        except Exception:
            (
                self.protocol,
                self.pain_chips,
                self.pain_side,
                self.pain_point,
                self.follow_the_pain,
                self.base_head,
                self.head,
                self.units,
            ) = saved
            raise

    # -- inputs ------------------------------------------------------------------------------
    def use_head(self, head: Any, pain_point: tuple[float, float, float] | None = None) -> Any:
        """Plan on another head (a body type, a scan): it becomes the base and the current head,
        with ``pain_point`` (that head's mesh frame, mm) or none. Nothing changes if the plan fails."""

        def change() -> None:
            self.base_head, self.head, self.pain_point = head, head, pain_point

        return self._transaction(change)

    def set_protocol(self, ref: str) -> Any:
        """Another protocol: its sites start at the template's doses (chosen units are per protocol)."""

        def change() -> None:
            new = self._load(str(ref))
            if new is not self.protocol:
                self.units = {}
            self.protocol = new

        return self._transaction(change)

    # -- doses chosen within the sites' ranges ------------------------------------------------
    def checked_units(
        self, chosen: Mapping[str, Any], protocol: Protocol | None = None, changed: Sequence[str] = ()
    ) -> dict[str, float]:
        """``chosen`` ({expanded site id: units}) checked against ``protocol`` (default: the
        session's), as kept.

        The checks are :meth:`Protocol.units_issues`, all of them refused as the CLI's
        ``plan --dose`` refuses them: an unknown site, a dose that is not a positive finite number,
        over 50 U or outside the site's range (or, at a fixed-dose site, another dose), a muscle
        over its cap or the session over the protocol's total raise :class:`DoseRefused` naming
        the site (by its label) or the muscle and the units. A cap's refusal is shown under the
        fields of the ``changed`` sites it is about. Doses equal to the template's are dropped (a
        site left out keeps its template dose).
        """
        protocol = protocol or self.protocol
        sites = {e.id: e for e in protocol.expanded_sites()}
        if len(chosen) > len(sites):
            raise DoseRefused(f"Dose not changed \u2014 {len(chosen)} doses for the {len(sites)} sites of this plan.")
        issues = protocol.units_issues(chosen)
        if issues:
            words: list[str] = []
            per_site: dict[str, str] = {}
            for i in issues:
                if i.kind == "unknown_site":
                    words.append(i.text)
                    continue
                if i.kind in ("muscle_cap", "total"):
                    who = f"{_words(sites[i.site_ids[0]].muscle).capitalize()}: " if i.kind == "muscle_cap" else ""
                    words.append(f"{who}{i.what}")
                    for sid in changed:
                        if sid in i.site_ids:
                            per_site.setdefault(sid, f"Not changed: {who}{i.what}.")
                    continue
                site = sites[i.site_ids[0]]
                what = i.what
                if i.kind == "site_max" and site.units_range is not None:
                    what += f"; this site takes {_fmt(site.units_range[0])}\u2013{_fmt(site.units_range[1])} U"
                words.append(f"{site.label}: {what}")
                per_site[site.id] = f"Not changed: {what}."
            more = f" (+{len(words) - 3} more)" if len(words) > 3 else ""
            raise DoseRefused("Dose not changed \u2014 " + "; ".join(words[:3]) + more + ".", per_site)
        return {str(k): float(v) for k, v in chosen.items() if float(v) != sites[str(k)].units}

    def set_units(self, changes: Mapping[str, Any]) -> Any:
        """Change the chosen units of some sites ({expanded site id: units}); the plan follows.

        Nothing changes when any value is refused (:meth:`checked_units`).
        """
        chosen = self.checked_units({**self.units, **dict(changes)}, changed=[str(k) for k in changes])

        def change() -> None:
            self.units = chosen

        return self._transaction(change)

    def reset_units(self) -> Any:
        """Every site back to the template's dose."""

        def change() -> None:
            self.units = {}

        return self._transaction(change)

    def dose_rows(self) -> list[dict[str, Any]]:
        """The sites whose dose the injector chooses (a ``units_range``), in file order.

        Each: ``id``, ``label``, ``side``, ``muscle_key``, ``min``, ``max``, ``units`` (chosen,
        else the template's), ``template``, ``range`` ("10\u201340 U"), ``step`` (the field's
        arrows, :func:`field_step`) and ``changed``.  Empty for a protocol without ranges.
        """
        rows = []
        for e in self.protocol.expanded_sites():
            if e.units_range is None:
                continue
            lo, hi = e.units_range
            units = self.units.get(e.id, e.units)
            rows.append(
                {
                    "id": e.id,
                    "label": e.label,
                    "side": e.side,
                    "muscle_key": e.muscle,
                    "min": lo,
                    "max": hi,
                    "units": units,
                    "template": e.units,
                    "range": f"{_fmt(lo)}\u2013{_fmt(hi)} U",
                    "step": field_step(lo, hi, e.units),
                    "changed": units != e.units,
                }
            )
        return rows

    def set_pain(self, chips: Sequence[str] | None = None, side: str | None = None) -> Any:
        def change() -> None:
            if chips is not None:
                self.pain_chips = [str(c) for c in chips]
            if side is not None:
                self.pain_side = str(side)
            pain_regions(self.pain_chips, self.pain_side)  # validate

        return self._transaction(change)

    def set_pain_point(self, point: Sequence[float] | None) -> Any:
        def change() -> None:
            if point is None:
                self.pain_point = None
                return
            p = tuple(float(v) for v in point)
            if len(p) != 3 or not all(math.isfinite(v) for v in p):
                raise UserError(f"A pain point needs three finite coordinates, got {point!r}.")
            self.pain_point = p  # type: ignore[assignment]

        return self._transaction(change)

    def set_follow_the_pain(self, on: bool) -> Any:
        def change() -> None:
            self.follow_the_pain = bool(on)

        return self._transaction(change)

    def move_landmark(self, name: str, point: Sequence[float]) -> Any:
        """Put a landmark where the user clicked (this patient only) and re-place the sites.

        The head frame is rebuilt from the (possibly moved) frame landmarks by the engine's
        ``HeadFrame``; the mesh and its muscle map are unchanged.
        """
        name = str(name)
        if name not in self.head.landmarks:
            known = ", ".join(sorted(self.head.landmarks))
            raise UserError(f"Unknown landmark {name!r}; the head has: {known}.")
        p = tuple(float(v) for v in point)
        if len(p) != 3 or not all(math.isfinite(v) for v in p):
            raise UserError(f"A landmark needs three finite coordinates, got {point!r}.")

        def change() -> None:
            lms = {k: v for k, v in self.head.landmarks.items()}
            import numpy as np

            lms[name] = np.asarray(p, dtype=float)
            self.head = self._head_with(lms)

        return self._transaction(change)

    def reset_landmarks(self) -> Any:
        def change() -> None:
            self.head = self.base_head

        return self._transaction(change)

    def moved_landmarks(self) -> list[str]:
        import numpy as np

        base = self.base_head.landmarks
        return sorted(
            k
            for k, v in self.head.landmarks.items()
            if k not in base or not np.allclose(np.asarray(v), np.asarray(base[k]))
        )

    def _head_with(self, landmarks: dict) -> Any:
        return self.base_head.with_landmarks(landmarks, note="landmarks adjusted in the app for this patient")

    def select(self, site_id: str | None) -> None:
        if site_id in (None, ""):
            self.selected = None
            return
        if site_id not in {str(s.id) for s in self.plan.sites}:
            raise UserError(f"No site {site_id!r} in this plan.")
        self.selected = str(site_id)

    # -- what the page shows -----------------------------------------------------------------
    def site_rows(self) -> list[dict[str, Any]]:
        flagged = set(self.flagged_sites())
        return [
            {
                "id": s.id,
                "order": s.order,
                "muscle": _words(s.muscle),
                "muscle_key": s.muscle,
                "side": s.side,
                "units": _fmt(s.units),
                "ml": _fmt(s.volume_ml, 3),
                "ftp": s.follow_the_pain,
                "where": site_title(s),
                "flagged": s.id in flagged,
            }
            for s in sites_in_order(self.plan)
        ]

    def totals(self) -> dict[str, Any]:
        """Totals exactly as the plan holds them (the same plan the view draws)."""
        plan = self.plan
        return {
            "sites": plan.total_sites,
            "units": _fmt(plan.total_units),
            "ml": _fmt(plan.total_volume_ml, 3),
            "ftp_sites": len(plan.ftp_sites),
            "per_muscle": [
                {
                    "muscle": _words(m),
                    "muscle_key": m,
                    "sites": t.sites,
                    "units": _fmt(t.units),
                    "ml": _fmt(t.volume_ml, 3),
                }
                for m, t in plan.per_muscle.items()
            ],
        }

    def warnings(self) -> list[str]:
        return list(self.plan.warnings)

    def errors(self) -> list[str]:
        return list(self.plan.errors)

    @property
    def has_ftp(self) -> bool:
        """The protocol has follow-the-pain sites (else pain chips and the switch do nothing)."""
        return self.protocol.follow_the_pain is not None

    def landmark_findings(self) -> list[Any]:
        """Plausibility warnings for landmarks moved for this patient (engine check)."""
        if not self.moved_landmarks():
            return []
        from visualizer.landmark_check import check_landmarks

        return check_landmarks(self.head, self.base_head)

    def findings(self) -> list[dict[str, Any]]:
        """The plan's findings and the landmark warnings, for the page: safety ones first.

        Each: ``code``, ``severity``, ``message``, ``site_ids``, ``sites`` (their numbers in the
        plan, as on the 3D labels) and ``landmarks``.
        """
        order = {s.id: s.order for s in self.plan.sites}
        rank = {"error": 0, "warning": 1, "info": 2}
        out = []
        for f in sorted([*self.plan.findings, *self.landmark_findings()], key=lambda f: rank[f.severity]):
            out.append(
                {
                    "code": f.code,
                    "severity": f.severity,
                    "message": f.message,
                    "safety": f.severity != "info",
                    "site_ids": list(f.site_ids),
                    "sites": [order[i] for i in f.site_ids if i in order],
                    "landmarks": list(f.landmarks),
                }
            )
        return out

    def flagged_sites(self) -> list[str]:
        """Ids of the sites named by a safety finding."""
        return sorted({i for f in self.plan.findings if f.is_safety for i in f.site_ids})

    def pain_summary(self) -> str:
        parts = []
        regions = pain_regions(self.pain_chips, self.pain_side)
        if regions:
            parts.append(", ".join(region_words(PainRegion(*_split_region(r))) for r in regions))
        if self.pain_point is not None:
            from visualizer.words import point_words

            parts.append(point_words(self.head, self.pain_point))
        return "; ".join(parts) if parts else "none set"

    # -- patient step-through ------------------------------------------------------------------
    def patient_summary(self) -> dict[str, Any]:
        """Session length (an estimate from this plan's site count) and the protocol's aftercare."""
        from dataclasses import asdict

        from visualizer.patient_info import patient_summary

        out = asdict(patient_summary(self.protocol, len(self.plan.sites)))
        out["sources"] = [{"citation": c, "url": u} for c, u in out["sources"]]
        return out

    def patient_steps(self) -> list[Any]:
        return sites_in_order(self.plan)

    def patient_go(self, index: int) -> Any:
        steps = self.patient_steps()
        if not steps:
            raise UserError("This plan has no injection sites.")
        self.patient_index = max(0, min(int(index), len(steps) - 1))
        return steps[self.patient_index]

    def patient_next(self) -> bool:
        """Advance; False when already at the last site."""
        steps = self.patient_steps()
        if self.patient_index + 1 >= len(steps):
            return False
        self.patient_go(self.patient_index + 1)
        return True

    def patient_prev(self) -> None:
        self.patient_go(self.patient_index - 1)

    def patient_text(self) -> dict[str, str]:
        steps = self.patient_steps()
        if not steps:
            return {"step": "No injections in this plan.", "where": "", "dose": ""}
        s = steps[self.patient_index]
        units = _fmt(s.units)
        return {
            "step": f"Site {self.patient_index + 1} of {len(steps)}",
            "where": site_title(s)[:1].upper() + site_title(s)[1:],
            "dose": f"{units} unit{'s' if units != '1' else ''}",
            "line": f"site {self.patient_index + 1} of {len(steps)} \u2014 {site_title(s)}, "
            f"{units} unit{'s' if units != '1' else ''}",
            "site_id": str(s.id),
        }

    # -- trainer -------------------------------------------------------------------------------
    def quiz_start(self, seed: int | None = None) -> Quiz:
        """A new round; its order comes from ``seed``, else from the session's seed (tests), else
        is drawn at random (each round its own order)."""
        if seed is None and self.quiz_seed is not None:
            self.quiz_seed += 1
            seed = self.quiz_seed
        if not self.plan.sites:
            raise UserError("This plan has no sites to quiz on.")
        self.quiz = Quiz(self.plan, seed=seed)
        return self.quiz

    def quiz_answer(self, point: Sequence[float]) -> QuizAnswer:
        if self.quiz is None:
            raise UserError("Start a quiz round first.")
        from visualizer.skin_distance import skin_distance

        surface = self.head.surface
        return self.quiz.answer(point, lambda p, q: skin_distance(surface, p, q))
