"""The patient's record in the app: one controller per browser session, between the page and the record.

Everything here moves data: the rules are the record's (:mod:`visualizer.records.service`,
:mod:`visualizer.records.rules`), the plan is the session's (:mod:`visualizer.app.state`), the
comparison and the chart are :mod:`visualizer.records.compare` and :mod:`visualizer.records.chart`,
the PDFs :mod:`visualizer.records.report`.  Every argument from the page was checked first by
:mod:`visualizer.app.inputs` (``rec_*`` triggers); every refusal of the record becomes a message
on the page.  Positions (the pain point, the ghost markers) are in the head mesh's frame, mm.

State keys (server's own): ``rec_on``, ``rec_patients``, ``rec_patient``, ``rec_offer``,
``rec_visit``, ``rec_rows``, ``rec_compare``, ``rec_chart``, ``rec_notes``, ``rec_error``.  The
forms (``rec_query``, ``rec_new``, ``rec_form``, ``rec_diary``) live in the page only and are sent
whole with an action.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("injectviz.records")

GHOSTS = "rec_ghosts"  # the actor name of the last visit's sites
GHOST_COLOR = "#3949ab"


def enabled(app: Any) -> bool:
    return getattr(app, "records", None) is not None


def install(app: Any) -> None:
    """Give ``app`` its records controller when the context names a database (else ``app.records = None``)."""
    url = (getattr(app.context, "options", None) or {}).get("records_db")
    app.records = RecordsController(app, url) if url else None
    app.state.rec_on = app.records is not None
    if app.records is not None:
        app.records.reset()
        app.state.change("tab")(app.records.on_tab)


#: the record's messages name command-line flags; on the page they name the fields of the form
PAGE_WORDS = (
    ("give --override REASON", "give an override reason"),
    ("give --replace", "tick \u201creplace a month already recorded\u201d"),
    ("--headache-days", "Headache days"),
    ("--migraine-days", "Migraine days"),
    ("--acute-days", "Acute medication days"),
    ("--birth-year", "Birth year"),
    ("--override", "Override reason"),
    ("--reason", "Reason for deviations"),
    ("--injector", "Injector"),
    ("--product", "Product"),
    ("--expiry", "Expiry"),
    ("--lot", "Lot"),
    ("--date", "Date"),
    ("--month", "Month"),
    ("--given", "Given U at"),
    ("--skip", "Skip reason at"),
    ("--name", "Display name"),
    ("--pain", "Pain origin"),
    ("--protocol", "Protocol"),
    ("--by", "Amended by"),
)


def page_words(text: str) -> str:
    """A record's message in the words of the page (``--lot: required ...`` -> ``Lot: required ...``)."""
    for flag, words in PAGE_WORDS:
        text = text.replace(flag, words)
    return text


def guarded(fn: Callable) -> Callable:
    """A page action: any refusal or fault becomes a message on the page (never a dead session)."""

    @functools.wraps(fn)
    def wrapper(self: RecordsController, *args: Any, **kwargs: Any) -> Any:
        from visualizer.app import guard

        try:
            with self.app.state:
                self.app.state.rec_error = ""
                out = fn(self, *args, **kwargs)
                if self.app.state.message and self.app.state.message_type == "error":
                    self.app.state.message = ""  # this action worked: an older refusal no longer applies
                return out
        except Exception as exc:
            text = guard.safe_text(page_words(guard.report(exc, fn.__name__)))
            with self.app.state:
                self.app.state.rec_error = text
            self.app.show_message(text, "error")
            return b"" if fn.__name__.endswith("_pdf") else None

    return wrapper


def chips_and_side(regions: list[str]) -> tuple[list[str], str]:
    """Region strings (``left-temporal``, ``occipital``) -> the page's chips (each with its own side)."""
    return [str(r) for r in regions], "both"


def _same_origin(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    def norm(p: dict[str, Any] | None) -> tuple:
        p = p or {}
        point = p.get("point")
        return (
            tuple(sorted(str(r) for r in p.get("regions") or [])),
            None if not point else tuple(round(float(v), 1) for v in point),
        )

    return norm(a) == norm(b)


def origin_words(pain: dict[str, Any] | None) -> str:
    pain = pain or {}
    parts = [str(r).replace("-", " ") for r in pain.get("regions") or []]
    if pain.get("point"):
        parts.append("a point on the head")
    return ", ".join(parts) or "none"


class RecordsController:
    """One browser session's view of the record: the open patient and the visit in hand."""

    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url
        self.patient: dict[str, Any] | None = None  # Records.patient_summary of the open patient
        self.visit: dict[str, Any] | None = None  # Records.visit_record of the open visit (None: a new one)
        self.compare: Any = None
        self._plan_key: tuple = ()

    # ------------------------------------------------------------------ plumbing
    @property
    def records(self) -> Any:
        """The records as this session's user may use them: role-checked and audited on every use.

        A trainer's or viewer's session (or one not yet claimed by the launcher) is refused here,
        whatever the page asks (:func:`visualizer.app.access.records`).
        """
        from visualizer.app import access

        return access.records("records", self.patient.get("code") if self.patient else None, url=self.url)

    @property
    def state(self) -> Any:
        return self.app.state

    def reset(self) -> None:
        s = self.state
        s.client_only("rec_query", "rec_new", "rec_form", "rec_diary")
        s.update(
            {
                "rec_query": "",
                "rec_patients": [],
                "rec_patient": None,
                "rec_offer": {},
                "rec_visit": None,
                "rec_rows": [],
                "rec_compare": None,
                "rec_chart": "",
                "rec_notes": [],
                "rec_error": "",
                "rec_new": {"code": "", "name": "", "birth_year": "", "with_origin": True},
                "rec_diary": {
                    "month": "",
                    "headache_days": "",
                    "migraine_days": "",
                    "acute_days": "",
                    "replace": False,
                },
                "rec_form": self._blank_form(),
            }
        )

    def _code(self) -> str:
        if self.patient is None:
            from visualizer.app.state import UserError

            raise UserError("Open a patient first (search by code or name, or create one).")
        return str(self.patient["code"])

    def visit_ids(self) -> list[int]:
        return [int(v["id"]) for v in (self.patient or {}).get("visits", [])]

    def _check_visit(self, visit_id: int) -> int:
        if visit_id not in self.visit_ids():
            from visualizer.app.state import UserError

            raise UserError(f"Visit {visit_id} is not a visit of the open patient.")
        return visit_id

    # ------------------------------------------------------------------ patients
    @guarded
    def rec_search(self, query: str = "") -> None:
        q = (query or "").strip().lower()
        rows = self.records.list_patients()
        if q:
            rows = [r for r in rows if q in r["code"].lower() or q in (r["name"] or "").lower()]
        self.state.rec_patients = rows[:50]

    @guarded
    def rec_create(self, form: dict[str, Any]) -> None:
        plan = self.app.session.plan
        pain = plan.pain if form.get("with_origin") else {"regions": [], "point": None}
        self.records.add_patient(
            form["code"],
            name=form.get("name") or None,
            birth_year=form.get("birth_year"),
            pain_regions=list(pain.get("regions") or []),
            pain_point=pain.get("point"),
            protocol=str(self.app.session.protocol.id) if form.get("with_origin") else None,
        )
        self._open(form["code"], apply=False)  # the plan already shows this origin
        self.state.rec_new = {"code": "", "name": "", "birth_year": "", "with_origin": True}
        self.state.rec_notes = [f"Patient {form['code']} created with the usual pain origin {origin_words(pain)}."]
        self.rec_search(self.state.rec_query or "")

    @guarded
    def rec_open(self, code: str) -> None:
        self._open(code, apply=True)

    def reopen(self, code: str) -> None:
        """After a reload: the patient the page had open, without touching the restored plan inputs."""
        self._open(code, apply=False)

    def _open(self, code: str, *, apply: bool) -> None:
        self.patient = self.records.patient_summary(code)
        self.visit = None
        self._end_amending()
        self._clear_ghosts()
        if apply:
            self._apply_usual()
        drafts = [v for v in self.patient["visits"] if v["status"] == "draft"]
        if drafts:  # a draft in hand: carry on with it
            self.visit = self.records.visit_record(int(drafts[-1]["id"]))
        self._push()

    def _end_amending(self) -> None:
        """The page leaves its amend mode (a page-only key: pushed even when the server's copy is unchanged)."""
        self.state.rec_amending = False
        self.state.dirty("rec_amending")

    def _apply_usual(self) -> None:
        """The patient's usual pain origin and preferred protocol, applied to the plan at once."""
        from visualizer.app.state import UserError

        app, ses = self.app, self.app.session
        usual = self.patient.get("usual_pain") or {}
        wanted = self.patient.get("preferred_protocol")
        known = {str(p.id) for p in ses.protocols}
        chips, side = chips_and_side(list(usual.get("regions") or []))
        point = usual.get("point")

        def change() -> None:
            if wanted and wanted in known:
                ses.protocol = ses._load(wanted)
            ses.pain_chips, ses.pain_side = chips, side
            ses.pain_point = None if not point else tuple(float(v) for v in point)

        old = ses.protocol
        try:
            ses._transaction(change)
        except Exception as exc:
            raise UserError(
                f"Patient {self.patient['code']} is open, but the usual pain origin "
                f"({origin_words(usual)}) could not be applied to this plan: {exc}"
            ) from None
        finally:
            if ses.protocol is not old:
                app._end_quiz()
            app._refresh()
        if wanted and wanted not in known:
            raise UserError(
                f"Patient {self.patient['code']} is open; the preferred protocol {wanted!r} is not "
                "one this server offers, so the plan keeps its protocol."
            )

    @guarded
    def rec_close(self) -> None:
        self.patient = None
        self.visit = None
        self._clear_ghosts()
        self.reset()
        self._push()

    @guarded
    def rec_save_origin(self) -> None:
        pain = self.app.session.plan.pain or {}
        self.patient = self.records.update_patient(
            self._code(),
            self.patient["lock_version"],
            pain_regions=list(pain.get("regions") or []),
            pain_point=pain.get("point"),
        )
        self.state.rec_notes = [f"Saved {origin_words(pain)} as the usual pain origin of {self._code()}."]
        self._push()

    @guarded
    def rec_save_protocol(self) -> None:
        pid = str(self.app.session.protocol.id)
        self.patient = self.records.update_patient(self._code(), self.patient["lock_version"], protocol=pid)
        self.state.rec_notes = [f"Saved {pid} as the preferred protocol of {self._code()}."]
        self._push()

    def on_tab(self, tab: str = "", **_: Any) -> None:
        """The Record tab opened with no patient: list the patients (the last search, or all)."""
        if tab == "record" and self.patient is None:
            self.rec_search(self.state.rec_query or "")

    def on_plan_changed(self) -> None:
        """The plan changed (origin, protocol): offer to save a new usual origin, refresh what depends on it."""
        if self.patient is None:
            return
        self._push_offer()
        if self._plan_key == _plan_key(self.app.session.plan):
            return  # the same sites (a selection, a toggle): keep what was typed
        if self.visit is None:
            self._push_visit()  # a new visit's table follows today's plan
        if self.compare is not None:
            self._compare()

    # ------------------------------------------------------------------ visits
    def _blank_form(self) -> dict[str, Any]:
        ses = self.app.session
        sites = {str(s.id): {"given": _num(s.units), "skip": False, "skip_reason": ""} for s in ses.plan.sites}
        return {
            "date": dt.date.today().isoformat(),
            "product": str(getattr(ses.protocol, "product", "") or ""),
            "lot": "",
            "expiry": "",
            "injector": "",
            "reason": "",
            "override": "",
            "amend_reason": "",
            "sites": sites,
        }

    def _form_of(self, rec: dict[str, Any]) -> dict[str, Any]:
        sites = {
            str(x["site_id"]): {
                "given": "" if x["skipped"] else _num(x["given_units"]),
                "skip": bool(x["skipped"]),
                "skip_reason": x["skip_reason"] or "",
            }
            for x in rec["sites"]
        }
        return {
            "date": rec["date"],
            "product": rec["product"] or "",
            "lot": rec["lot"] or "",
            "expiry": rec["expiry"] or "",
            "injector": rec["injector"] or "",
            "reason": rec["deviation_reason"] or "",
            "override": "",
            "amend_reason": "",
            "sites": sites,
        }

    def _changes(self, form: dict[str, Any], planned: dict[str, float]) -> tuple[dict[str, float], dict[str, str]]:
        """The form's sites -> ``given`` (only where it differs from the plan) and ``skip``."""
        from visualizer.app.state import UserError

        sites = form.get("sites") or {}
        unknown = sorted(set(sites) - set(planned))
        if unknown:
            raise UserError(f"Site {unknown[0]!r} is not a site of this visit: reload the page.")
        given, skip = {}, {}
        for sid in planned:
            row = sites.get(sid, {})
            if row.get("skip"):
                skip[sid] = row.get("skip_reason") or ""
                if not skip[sid].strip():
                    raise UserError(f"Site {sid}: skipped — say why (the reason is kept with the visit).")
            elif row.get("given") is None:
                raise UserError(f"Site {sid}: enter the units given, or tick skip.")
            elif abs(float(row["given"]) - planned[sid]) > 1e-9:
                given[sid] = float(row["given"])
        return given, skip

    def _fields(self, form: dict[str, Any]) -> dict[str, Any]:
        return {
            "product": form.get("product", ""),
            "lot": form.get("lot") or None,
            "expiry": form.get("expiry") or None,
            "injector": form.get("injector", ""),
            "visit_date": form.get("date") or None,
            "reason": form.get("reason") or None,
        }

    def _save(self, form: dict[str, Any], *, sign: bool) -> Any:
        code = self._code()
        if self.visit is not None and self.visit["status"] != "draft":
            from visualizer.app.state import UserError

            raise UserError(f"Visit {self.visit['id']} is signed: it never changes — use Amend.")
        if self.visit is None:  # a new visit: today's plan, checked and pinned by the record
            from visualizer.records.plan_input import check_plan_data

            plan = self.app.session.plan
            # a plan on an uploaded scan is checked on the session's head (the scan is not kept)
            scan = plan.head.get("kind") == "scan"
            checked = check_plan_data(plan.to_dict(), "today's plan", head=self.app.session.head if scan else None)
            given, skip = self._changes(form, {s.id: s.units for s in plan.sites})
            res = self.records.record_visit(
                code,
                checked,
                **self._fields(form),
                given=given,
                skip=skip,
                override=form.get("override") or None if sign else None,
                findings=list(plan.warnings),
                sign=sign,
            )
        else:
            planned = {x["site_id"]: x["planned_units"] for x in self.visit["sites"] if not x["extra"]}
            given, skip = self._changes(form, planned)
            f = self._fields(form)
            res = self.records.update_draft(
                self.visit["id"],
                self.visit["lock_version"],
                given=given,
                skip=skip,
                product=f["product"],
                lot=f["lot"] or "",
                expiry=f["expiry"],
                injector=f["injector"],
                visit_date=f["visit_date"],
                reason=f["reason"],
            )
            if sign:
                res = self.records.sign_visit(res.visit_id, res.lock_version, override=form.get("override") or None)
        self.patient = self.records.patient_summary(code)
        self.visit = self.records.visit_record(res.visit_id)
        return res

    @guarded
    def rec_save_draft(self, form: dict[str, Any]) -> None:
        res = self._save(form, sign=False)
        self.state.rec_notes = [f"Draft saved (visit {res.visit_id}).", *res.warnings]
        self._push()

    @guarded
    def rec_sign(self, form: dict[str, Any]) -> None:
        res = self._save(form, sign=True)
        self.state.rec_notes = [
            f"Visit {res.visit_id} signed: it is now read-only (amend to correct it).",
            *res.warnings,
        ]
        self._push()

    @guarded
    def rec_amend(self, form: dict[str, Any]) -> None:
        from visualizer.app.state import UserError

        if self.visit is None or self.visit["status"] != "signed":
            raise UserError("Open a signed visit to amend it (a draft is edited and signed).")
        planned = {x["site_id"]: x["given_units"] for x in self.visit["sites"] if not x["extra"]}
        was_skipped = {x["site_id"] for x in self.visit["sites"] if x["skipped"]}
        sites = dict(form.get("sites") or {})
        for sid in was_skipped:  # a site skipped before and still skipped is no change
            if sites.get(sid, {}).get("skip"):
                sites.pop(sid, None)
        given, skip = self._changes({**form, "sites": sites}, {k: v for k, v in planned.items() if k in sites})
        res = self.records.amend_visit(
            self.visit["id"],
            reason=form.get("amend_reason") or "",
            author=form.get("injector") or None,
            given=given,
            skip=skip,
            lot=form.get("lot") or None,
            expiry=form.get("expiry") or None,
            override=form.get("override") or None,
            expected_lock=self.visit["lock_version"],
        )
        self.patient = self.records.patient_summary(self._code())
        self.visit = self.records.visit_record(res.visit_id)
        self.state.rec_notes = [
            f"Visit {res.visit_id} amended: version {res.version} (the earlier versions are kept).",
            *res.warnings,
        ]
        self._end_amending()
        self._push()

    @guarded
    def rec_new_visit(self) -> None:
        self._code()
        self.visit = None
        self.state.rec_notes = []
        self._push()

    @guarded
    def rec_open_visit(self, visit_id: int) -> None:
        self.visit = self.records.visit_record(self._check_visit(visit_id))
        self.state.rec_notes = []
        self._end_amending()
        self._push()

    # ------------------------------------------------------------------ compare
    @guarded
    def rec_compare(self) -> None:
        from visualizer.app.state import UserError

        self._code()
        signed = [v for v in self.patient["visits"] if v["status"] == "signed"]
        if not signed:
            raise UserError(f"Patient {self._code()} has no signed visit to compare with.")
        self.compare = self.records.visit_record(int(signed[-1]["id"]))
        self._compare()

    @guarded
    def rec_compare_clear(self) -> None:
        self._clear_ghosts()
        self.app.view_update()

    def _compare(self) -> None:
        from visualizer.records.compare import compare_with_plan

        cmp = compare_with_plan(self.compare, self.app.session.plan)
        self._draw_ghosts([g.position for g in cmp.ghosts])
        self.state.rec_compare = cmp.to_dict()

    def _draw_ghosts(self, points: list[tuple[float, float, float]]) -> None:
        import numpy as np
        import pyvista as pv

        pl = self.app.plotter
        pl.remove_actor(GHOSTS, render=False)
        if points:
            radius = 1.7 * float(getattr(self.app.scene, "radius", 3.0) or 3.0)
            ghosts = pv.PolyData(np.asarray(points, dtype=float)).glyph(
                geom=pv.Sphere(radius=radius, theta_resolution=16, phi_resolution=12), scale=False, orient=False
            )
            pl.add_mesh(
                ghosts, name=GHOSTS, color=GHOST_COLOR, opacity=0.45, pickable=False, reset_camera=False, render=False
            )
        self.app.view_update()

    def _clear_ghosts(self) -> None:
        self.compare = None
        self.state.rec_compare = None
        if GHOSTS in self.app.plotter.actors:
            self.app.plotter.remove_actor(GHOSTS, render=False)

    # ------------------------------------------------------------------ outcomes
    @guarded
    def rec_diary_add(self, entry: dict[str, Any]) -> None:
        from visualizer.app.state import UserError

        if entry.get("headache_days") is None:
            raise UserError(f"{entry['month']}: enter the number of headache days.")
        code = self._code()
        self.records.add_diary(
            code,
            entry["month"],
            entry["headache_days"],
            entry.get("migraine_days"),
            entry.get("acute_days"),
            replace=bool(entry.get("replace")),
        )
        self.patient = self.records.patient_summary(code)
        self.state.rec_diary = {
            "month": _next_month(entry["month"]),
            "headache_days": "",
            "migraine_days": "",
            "acute_days": "",
            "replace": False,
        }
        self.state.rec_notes = [f"{entry['month']}: {entry['headache_days']} headache days recorded."]
        self._push()

    # ------------------------------------------------------------------ reports
    @guarded
    def rec_visit_pdf(self, visit_id: int) -> bytes:
        from visualizer.records.report import visit_report_pdf

        return self._pdf(visit_report_pdf, visit_id, "visit record")

    @guarded
    def rec_handout_pdf(self, visit_id: int) -> bytes:
        from visualizer.records.report import handout_pdf

        return self._pdf(handout_pdf, visit_id, "handout")

    def _pdf(self, make: Callable[[dict[str, Any]], bytes], visit_id: int, what: str) -> bytes:
        """A report of a visit of the open patient, made in memory (the session waits: 4 offscreen renders)."""
        import time

        t0 = time.perf_counter()
        data = make(self.records.visit_record(self._check_visit(visit_id)))
        log.info("%s PDF of visit %d: %d kB in %.1f s", what, visit_id, len(data) // 1024, time.perf_counter() - t0)
        return data

    # ------------------------------------------------------------------ the page
    def _push_offer(self) -> None:
        ses, p = self.app.session, self.patient
        offer = {}
        if p is not None:
            pain = ses.plan.pain or {}
            if not _same_origin(pain, p.get("usual_pain")):
                offer["origin"] = (
                    f"Today's pain origin ({origin_words(pain)}) differs from the usual one "
                    f"({origin_words(p.get('usual_pain'))})."
                )
            if p.get("preferred_protocol") != str(ses.protocol.id):
                offer["protocol"] = (
                    f"Today's protocol ({self._protocol_title(ses.protocol.id)}) is not the preferred one "
                    f"({self._protocol_title(p.get('preferred_protocol'))})."
                )
        self.state.rec_offer = offer

    def _protocol_title(self, pid: str | None) -> str:
        """A protocol's short name for the page ("PREEMPT"); the id if this server does not know it."""
        from visualizer.app import state as st

        if not pid:
            return "none"
        for p in self.app.session.protocols:
            if st.protocol_id(p) == pid:
                return st.protocol_short_name(p)
        return str(pid)

    def _push_visit(self) -> None:
        v = self.visit
        if v is None:
            plan = self.app.session.plan
            self._plan_key = _plan_key(plan)
            self.state.rec_visit = None
            self.state.rec_rows = [
                {
                    "id": s.id,
                    "order": s.order,
                    "muscle": s.muscle.replace("_", " "),
                    "side": s.side,
                    "where": s.description,
                    "planned": _num(s.units),
                    "extra": False,
                }
                for s in sorted(plan.sites, key=lambda s: s.order)
            ]
            form = self._blank_form()
            old = self.state.rec_form or {}
            for k in ("lot", "expiry", "injector", "product", "date"):  # typed values survive a plan change
                if old.get(k):
                    form[k] = old[k]
            self.state.rec_form = form
        else:
            self.state.rec_visit = {
                "id": v["id"],
                "status": v["status"],
                "version": v["version"],
                "versions": v["versions"],
                "date": v["date"],
                "protocol": self._protocol_title(v["protocol"]),
                "readonly": v["status"] == "signed",
                "total_given": _num(v["total_given_units"]),
                "total_planned": _num(v["total_planned_units"]),
                "override": v["override_reason"] or "",
                "warnings": list(v["warnings"]),
                "amend_reason": v["amend_reason"] or "",
                "author": v["author"],
            }
            self.state.rec_rows = [
                {
                    "id": x["site_id"],
                    "order": x["order"] or "+",
                    "muscle": (x["muscle"] or "").replace("_", " "),
                    "side": x["side"],
                    "where": x["description"],
                    "planned": _num(x["planned_units"]),
                    "extra": x["extra"],
                }
                for x in v["sites"]
            ]
            self.state.rec_form = self._form_of(v)
        self.state.dirty("rec_form")

    def _push(self) -> None:
        p = self.patient
        with self.state:
            if p is None:
                self.state.rec_patient = None
                self.state.rec_chart = ""
            else:
                self.state.rec_patient = {
                    "code": p["code"],
                    "name": p["name"] or "",
                    "birth_year": p["birth_year"] or "",
                    "usual": origin_words(p.get("usual_pain")),
                    "protocol": self._protocol_title(p.get("preferred_protocol")),
                    "next_due": p["next_due"] or "",
                    "lock": p["lock_version"],
                    "visits": [
                        {
                            **v,
                            "protocol": self._protocol_title(v["protocol"]),
                            "total_given_units": _num(v["total_given_units"]),
                            "lot": v["lot"] or "-",
                        }
                        for v in reversed(p["visits"])
                    ],
                    "outcomes": list(reversed(p["outcomes"])),
                    "baseline": p["assessment"]["baseline_headache_days"],
                    "flags": p["assessment"]["flags"],
                    "source": p["assessment"]["source"],
                }
                self.state.rec_chart = self._chart(p)
            self._push_offer()
            self._push_visit()
            self.app.state.saved_inputs = {
                **(self.app.state.saved_inputs or {}),
                "patient": None if p is None else p["code"],
            }

    @staticmethod
    def _chart(p: dict[str, Any]) -> str:
        from visualizer.records.chart import outcome_chart_png

        png = outcome_chart_png(p)
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else ""


def _num(v: float | None) -> float | int | str:
    if v is None:
        return ""
    return int(v) if float(v).is_integer() else round(float(v), 3)


def _plan_key(plan: Any) -> tuple:
    """What a new visit's site table depends on: the protocol and each site's id, units and place."""
    return (plan.protocol, *((s.id, s.units, tuple(round(float(v), 1) for v in s.position)) for s in plan.sites))


def _next_month(month: str) -> str:
    y, m = (int(p) for p in month.split("-"))
    return f"{y + (m == 12):04d}-{m % 12 + 1:02d}"
