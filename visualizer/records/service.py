"""The record's operations — what the command line and (next) the app call.

Every write is one transaction: the rules run first and a refusal raises
:class:`~visualizer.records.errors.RecordError` before anything is written. Reads return plain
dictionaries (JSON-ready: dates as ``YYYY-MM-DD``), never ORM objects, so callers hold no
database state.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from visualizer.records import rules
from visualizer.records.db import Database, _first_line
from visualizer.records.errors import DatabaseError, NotFoundError, RecordError, StaleRecordError
from visualizer.records.models import DiaryMonth, Patient, Visit, VisitSite, VisitVersion, utcnow
from visualizer.records.outcomes import assess
from visualizer.records.plan_input import CheckedPlan


@dataclass(frozen=True)
class SiteChange:
    """What was done at a site, against the plan: ``units`` given, or ``skip_reason``."""

    units: float | None = None
    skip_reason: str | None = None


@dataclass(frozen=True)
class ExtraSite:
    """A site added at the visit (not in the plan), with its reason."""

    site_id: str
    units: float
    reason: str
    muscle: str = ""
    side: str = ""
    description: str = ""


@dataclass(frozen=True)
class VisitResult:
    """The outcome of a write: the visit id, its version number and any warnings recorded."""

    visit_id: int
    version: int
    lock_version: int
    warnings: tuple[str, ...] = field(default=())


def current_user() -> str:
    """The operating-system user name (who amended, when no name is given)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Records:
    """The patient record on one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """One transaction; database failures become clear messages, never tracebacks."""
        session = self.db.sessions()
        try:
            with session.begin():
                yield session
        except StaleDataError:
            raise StaleRecordError(
                "the record was changed by someone else since it was opened; nothing was saved — reload it and "
                "make the change again"
            ) from None
        except IntegrityError as exc:
            raise RecordError(f"refused by the database, nothing was saved ({_first_line(exc)})") from None
        except OperationalError as exc:
            text = _first_line(exc)
            if "locked" in text or "could not serialize" in text:
                raise StaleRecordError(
                    f"the database is busy with another save ({text}); nothing was saved — try again"
                ) from None
            raise DatabaseError(f"database {self.db.display_url}: {text}") from None
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database {self.db.display_url}: {_first_line(exc)}") from None
        finally:
            session.close()

    @staticmethod
    def _patient(s: Session, code: str, *, lock: bool = False) -> Patient:
        q = select(Patient).where(Patient.code == code)
        if lock and s.bind is not None and s.bind.dialect.name == "postgresql":
            q = q.with_for_update()  # one writer per patient: the cumulative-limit check sees every visit
        p = s.scalar(q)
        if p is None:
            raise NotFoundError(f"patient {code!r}: no such patient (see `injectviz patient list`)")
        return p

    @staticmethod
    def _visit(s: Session, visit_id: int, *, lock: bool = False) -> Visit:
        q = (
            select(Visit)
            .where(Visit.id == visit_id)
            .options(selectinload(Visit.versions).selectinload(VisitVersion.sites))
        )
        if lock and s.bind is not None and s.bind.dialect.name == "postgresql":
            # the patient first (as record_visit does), then the visit: one writer per patient, no deadlock
            s.execute(
                select(Patient.id)
                .where(Patient.id == select(Visit.patient_id).where(Visit.id == visit_id).scalar_subquery())
                .with_for_update()
            )
            q = q.with_for_update(of=Visit)
        v = s.scalar(q)
        if v is None:
            raise NotFoundError(f"visit {visit_id}: no such visit")
        return v

    # ------------------------------------------------------------------ patients
    def add_patient(
        self,
        code: str,
        *,
        name: str | None = None,
        birth_year: int | None = None,
        pain_regions: Sequence[str] = (),
        pain_point: Sequence[float] | None = None,
        protocol: str | None = None,
        notes: str | None = None,
    ) -> dict[str, Any]:
        """Create a patient; the code must be new."""
        rules.check_code(code)
        pain = _usual_pain(pain_regions, pain_point)
        p = Patient(
            code=code,
            display_name=rules.check_text(name, "--name", limit=200),
            birth_year=rules.check_birth_year(birth_year),
            usual_pain=pain,
            preferred_protocol=_known_protocol(protocol),
            notes=rules.check_text(notes, "--notes"),
        )
        with self._tx() as s:
            if s.scalar(select(Patient.id).where(Patient.code == code)) is not None:
                raise RecordError(f"patient code {code!r}: already exists (codes are unique)")
            s.add(p)
        return self.patient_summary(code)

    def list_patients(self) -> list[dict[str, Any]]:
        """Every patient: code, name, visit count, last visit date."""
        with self._tx() as s:
            rows = s.execute(select(Patient).order_by(Patient.code).options(selectinload(Patient.visits))).scalars()
            return [
                {
                    "code": p.code,
                    "name": p.display_name,
                    "visits": len(p.visits),
                    "last_visit": max((v.visit_date for v in p.visits), default=None)
                    and max(v.visit_date for v in p.visits).isoformat(),
                }
                for p in rows
            ]

    def patient_summary(self, code: str) -> dict[str, Any]:
        """The patient with visits (id, date, protocol, totals, status, lot), next due date and outcomes."""
        with self._tx() as s:
            p = self._patient(s, code)
            rows = s.execute(
                select(
                    Visit.id,
                    Visit.visit_date,
                    Visit.status,
                    Visit.current_version,
                    VisitVersion.protocol_id,
                    VisitVersion.total_given_units,
                    VisitVersion.lot,
                    VisitVersion.protocol_indication,
                )
                .join(
                    VisitVersion, and_(VisitVersion.visit_id == Visit.id, VisitVersion.number == Visit.current_version)
                )
                .where(Visit.patient_id == p.id)
                .order_by(Visit.visit_date, Visit.id)
            ).all()
            diary = s.scalars(select(DiaryMonth).where(DiaryMonth.patient_id == p.id).order_by(DiaryMonth.month)).all()
            migraine = [r.visit_date for r in rows if r.status == "signed" and rules.is_migraine(r.protocol_indication)]
            due = rules.next_due(migraine)
            return {
                "code": p.code,
                "name": p.display_name,
                "birth_year": p.birth_year,
                "usual_pain": p.usual_pain,
                "preferred_protocol": p.preferred_protocol,
                "notes": p.notes,
                "visits": [
                    {
                        "id": r.id,
                        "date": r.visit_date.isoformat(),
                        "protocol": r.protocol_id,
                        "total_given_units": r.total_given_units,
                        "status": r.status,
                        "version": r.current_version,
                        "lot": r.lot,
                    }
                    for r in rows
                ],
                "next_due": due.isoformat() if due else None,
                "outcomes": [_diary_dict(d) for d in diary],
                "assessment": assess(migraine, [_diary_dict(d) for d in diary]).to_dict(),
                "lock_version": p.lock_version,
            }

    # ------------------------------------------------------------------ visits
    def record_visit(
        self,
        code: str,
        checked: CheckedPlan,
        *,
        product: str,
        lot: str | None,
        expiry: dt.date | str | None,
        injector: str,
        visit_date: dt.date | str | None = None,
        given: Mapping[str, float] | None = None,
        skip: Mapping[str, str] | None = None,
        extras: Sequence[ExtraSite] = (),
        reason: str | None = None,
        override: str | None = None,
        findings: Sequence[str] | None = None,
        sign: bool = True,
    ) -> VisitResult:
        """Record a visit against a checked plan; ``sign`` signs it at once (lot and expiry required)."""
        vdate = rules.parse_date(visit_date, "--date") if visit_date is not None else dt.date.today()
        exp = rules.parse_date(expiry, "--expiry") if expiry is not None else None
        product_ = rules.check_text(product, "--product", required=True, limit=200)
        lot_ = rules.check_text(lot, "--lot", limit=100)
        injector_ = rules.check_text(injector, "--injector", required=True, limit=200)
        reason_ = rules.check_text(reason, "--reason")
        override_ = rules.check_text(override, "--override")
        if sign:
            rules.check_signable(lot_, exp, vdate)
        elif exp is not None and exp < vdate:
            rules.check_signable(lot_ or "-", exp, vdate)
        sites = _sites_from_plan(checked, given or {}, skip or {}, extras, reason_)
        with self._tx() as s:
            p = self._patient(s, code, lock=True)
            warnings, used = self._visit_rules(
                s,
                p.id,
                None,
                vdate,
                sites,
                checked.protocol_cap_units,
                checked.protocol_id,
                checked.protocol_indication,
                override_,
                sign,
                checked.protocol_json,
            )
            visit = Visit(patient_id=p.id, visit_date=vdate, status="signed" if sign else "draft", current_version=1)
            ver = VisitVersion(
                number=1,
                status=visit.status,
                author=injector_,
                signed_at=utcnow() if sign else None,
                protocol_id=checked.protocol_id,
                protocol_name=checked.protocol_name,
                protocol_hash=checked.protocol_hash,
                protocol_indication=checked.protocol_indication,
                protocol_cap_units=checked.protocol_cap_units,
                protocol_json=checked.protocol_json,
                plan_json=checked.data,
                product=product_,
                lot=lot_,
                expiry=exp,
                dilution=checked.dilution,
                injector=injector_,
                deviation_reason=reason_,
                override_reason=used,
                findings=list(findings if findings is not None else checked.warnings),
                warnings=warnings,
                total_planned_units=float(checked.plan.total_units),
                total_given_units=float(sum(x.given_units for x in sites)),
                sites=sites,
            )
            visit.versions.append(ver)
            s.add(visit)
            s.flush()
            return VisitResult(visit.id, 1, visit.lock_version, tuple(warnings))

    def _visit_rules(
        self,
        s: Session,
        patient_id: int,
        visit_id: int | None,
        vdate: dt.date,
        sites: Sequence[VisitSite],
        cap: float,
        protocol_id: str,
        indication: str,
        override: str | None,
        sign: bool,
        protocol_json: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], str | None]:
        """Cap, cumulative limit, dose ranges and interval: the warnings to store and the override
        used (raises when refused). ``protocol_json`` is the pinned protocol whose per-site dose
        ranges and muscle caps the given units must keep."""
        total = float(sum(x.given_units for x in sites))
        others = s.execute(
            select(
                Visit.id,
                Visit.visit_date,
                Visit.status,
                VisitVersion.total_given_units,
                VisitVersion.protocol_indication,
            )
            .join(VisitVersion, and_(VisitVersion.visit_id == Visit.id, VisitVersion.number == Visit.current_version))
            .where(Visit.patient_id == patient_id)
        ).all()
        others = [o for o in others if o.id != visit_id and o.status == "signed"]
        window = rules.max_window_total([(o.visit_date, o.total_given_units) for o in others] + [(vdate, total)], vdate)
        problems = rules.cap_problems(total, cap, protocol_id, window)
        if protocol_json is not None:
            given = [(x.site_id, x.given_units) for x in sites if not x.skipped and not x.extra]
            problems += rules.dose_problems(protocol_json, given)
        warnings: list[str] = []
        if problems and sign:
            if not override:
                raise RecordError("; ".join(problems) + " — refused; give --override REASON to record it anyway")
            warnings += [f"OVERRIDE: {p} (reason: {override})" for p in problems]
        elif problems:
            warnings += problems
        if override and not problems:
            warnings.append("--override was given but nothing needed overriding; it is not stored")
        if rules.is_migraine(indication):
            w = rules.interval_warning(
                vdate, [o.visit_date for o in others if rules.is_migraine(o.protocol_indication)]
            )
            if w:
                warnings.append(w)
        return warnings, override if problems else None

    def amend_visit(
        self,
        visit_id: int,
        *,
        reason: str,
        author: str | None = None,
        given: Mapping[str, float] | None = None,
        skip: Mapping[str, str] | None = None,
        extras: Sequence[ExtraSite] = (),
        lot: str | None = None,
        expiry: dt.date | str | None = None,
        override: str | None = None,
        expected_lock: int | None = None,
    ) -> VisitResult:
        """Amend a signed visit: a new signed version (the old one is kept) with who, when and why."""
        reason_ = rules.check_text(reason, "--reason", required=True)
        author_ = rules.check_text(author or current_user(), "--by", required=True, limit=200)
        override_ = rules.check_text(override, "--override")
        with self._tx() as s:
            visit = self._visit(s, visit_id, lock=True)
            if expected_lock is not None and visit.lock_version != expected_lock:
                raise StaleRecordError(
                    f"visit {visit_id}: changed by someone else since it was opened (version {visit.lock_version}, "
                    f"yours {expected_lock}); nothing was saved — reload it and make the change again"
                )
            if visit.status != "signed":
                raise RecordError(f"visit {visit_id}: a draft is edited and signed, not amended")
            old = visit.current
            sites = _amended_sites(old, given or {}, skip or {}, extras)
            lot_ = rules.check_text(lot, "--lot", limit=100) or old.lot
            exp = rules.parse_date(expiry, "--expiry") if expiry is not None else old.expiry
            rules.check_signable(lot_, exp, visit.visit_date)
            warnings, used = self._visit_rules(
                s,
                visit.patient_id,
                visit.id,
                visit.visit_date,
                sites,
                old.protocol_cap_units,
                old.protocol_id,
                old.protocol_indication,
                override_ or old.override_reason,
                True,
                old.protocol_json,
            )
            number = max(v.number for v in visit.versions) + 1
            ver = VisitVersion(
                number=number,
                status="signed",
                author=author_,
                amend_reason=reason_,
                signed_at=utcnow(),
                protocol_id=old.protocol_id,
                protocol_name=old.protocol_name,
                protocol_hash=old.protocol_hash,
                protocol_indication=old.protocol_indication,
                protocol_cap_units=old.protocol_cap_units,
                protocol_json=old.protocol_json,
                plan_json=old.plan_json,
                product=old.product,
                lot=lot_,
                expiry=exp,
                dilution=old.dilution,
                injector=old.injector,
                deviation_reason=old.deviation_reason,
                override_reason=used,
                findings=list(old.findings),
                warnings=warnings,
                total_planned_units=old.total_planned_units,
                total_given_units=float(sum(x.given_units for x in sites)),
                sites=sites,
            )
            visit.versions.append(ver)
            visit.current_version = number
            s.flush()
            return VisitResult(visit.id, number, visit.lock_version, tuple(warnings))

    def _locked_visit(self, s: Session, visit_id: int, expected_lock: int) -> Visit:
        visit = self._visit(s, visit_id, lock=True)
        if visit.lock_version != expected_lock:
            raise StaleRecordError(
                f"visit {visit_id}: changed by someone else since it was opened (version {visit.lock_version}, "
                f"yours {expected_lock}); nothing was saved — reload it and make the change again"
            )
        return visit

    def update_draft(
        self,
        visit_id: int,
        expected_lock: int,
        *,
        given: Mapping[str, float] | None = None,
        skip: Mapping[str, str] | None = None,
        extras: Sequence[ExtraSite] = (),
        product: str | None = None,
        lot: str | None = None,
        expiry: dt.date | str | None = None,
        injector: str | None = None,
        visit_date: dt.date | str | None = None,
        reason: str | None = None,
    ) -> VisitResult:
        """Save a draft again (the app's "save draft"): the sites are re-derived from the stored plan.

        ``expected_lock`` is the ``lock_version`` the caller read; a save based on an outdated read
        is refused (:class:`StaleRecordError`), so two editors never overwrite each other silently.
        """
        with self._tx() as s:
            visit = self._locked_visit(s, visit_id, expected_lock)
            if visit.status != "draft":
                raise RecordError(f"visit {visit_id}: signed; a signed visit never changes — amend it instead")
            ver = visit.current
            from visualizer.plan import Plan

            plan = Plan.from_dict(ver.plan_json)
            fake = _PlanOnly(plan)
            reason_ = rules.check_text(reason, "--reason") if reason is not None else ver.deviation_reason
            sites = _sites_from_plan(fake, given or {}, skip or {}, extras, reason_)
            if visit_date is not None:
                visit.visit_date = rules.parse_date(visit_date, "--date")
            if expiry is not None:
                ver.expiry = rules.parse_date(expiry, "--expiry")
            if lot is not None:
                ver.lot = rules.check_text(lot, "--lot", limit=100)
            if product is not None:
                ver.product = rules.check_text(product, "--product", required=True, limit=200)
            if injector is not None:
                ver.injector = ver.author = rules.check_text(injector, "--injector", required=True, limit=200)
            if ver.expiry is not None and ver.expiry < visit.visit_date:
                rules.check_signable(ver.lot or "-", ver.expiry, visit.visit_date)
            for old in list(ver.sites):
                s.delete(old)
            s.flush()
            ver.sites = sites
            ver.deviation_reason = reason_
            ver.total_given_units = float(sum(x.given_units for x in sites))
            flag_modified(visit, "current_version")  # every save moves the visit's version counter
            s.flush()
            return VisitResult(visit.id, ver.number, visit.lock_version, ())

    def sign_visit(self, visit_id: int, expected_lock: int, *, override: str | None = None) -> VisitResult:
        """Sign a draft (lot and expiry required; caps need an override); from then on it never changes."""
        override_ = rules.check_text(override, "--override")
        with self._tx() as s:
            visit = self._locked_visit(s, visit_id, expected_lock)
            if visit.status != "draft":
                raise RecordError(f"visit {visit_id}: already signed")
            ver = visit.current
            rules.check_signable(ver.lot, ver.expiry, visit.visit_date)
            warnings, used = self._visit_rules(
                s, visit.patient_id, visit.id, visit.visit_date, ver.sites, ver.protocol_cap_units, ver.protocol_id,
                ver.protocol_indication, override_, True, ver.protocol_json,
            )  # fmt: skip
            visit.status = ver.status = "signed"
            ver.signed_at = utcnow()
            ver.override_reason = used
            ver.warnings = warnings
            s.flush()
            return VisitResult(visit.id, ver.number, visit.lock_version, tuple(warnings))

    def update_patient(
        self,
        code: str,
        expected_lock: int,
        *,
        pain_regions: Sequence[str] | None = None,
        pain_point: Sequence[float] | None = None,
        protocol: str | None = None,
        name: str | None = None,
        notes: str | None = None,
    ) -> dict[str, Any]:
        """Change a patient's usual pain origin, preferred protocol, name or notes (optimistic locking)."""
        with self._tx() as s:
            p = self._patient(s, code)
            if p.lock_version != expected_lock:
                raise StaleRecordError(
                    f"patient {code}: changed by someone else since it was opened; nothing was saved — reload it"
                )
            if pain_regions is not None or pain_point is not None:
                p.usual_pain = _usual_pain(pain_regions or (), pain_point)
            if protocol is not None:
                p.preferred_protocol = _known_protocol(protocol)
            if name is not None:
                p.display_name = rules.check_text(name, "--name", limit=200)
            if notes is not None:
                p.notes = rules.check_text(notes, "--notes")
        return self.patient_summary(code)

    def list_visits(self, code: str) -> list[dict[str, Any]]:
        """The patient's visits with their version in force (no plan JSON)."""
        return self.patient_summary(code)["visits"]

    def visit_record(self, visit_id: int, version: int | None = None) -> dict[str, Any]:
        """Everything about one visit version (default: the one in force), for reports and export."""
        with self._tx() as s:
            visit = self._visit(s, visit_id)
            return _visit_dict(visit, version, s.get(Patient, visit.patient_id))

    # ------------------------------------------------------------------ diary
    def add_diary(
        self,
        code: str,
        month: str,
        headache_days: int,
        migraine_days: int | None = None,
        acute_days: int | None = None,
        *,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Record one month of the outcome diary (``replace`` to change a month already recorded)."""
        m = rules.parse_month(month)
        hd = rules.check_day_count(headache_days, "--headache-days", m)
        md = rules.check_day_count(migraine_days, "--migraine-days", m)
        ad = rules.check_day_count(acute_days, "--acute-days", m)
        if md is not None and md > hd:
            raise RecordError(f"--migraine-days {md}: more than the {hd} headache days")
        with self._tx() as s:
            p = self._patient(s, code)
            row = s.scalar(select(DiaryMonth).where(DiaryMonth.patient_id == p.id, DiaryMonth.month == m))
            if row is not None and not replace:
                raise RecordError(
                    f"--month {m}: patient {code} already has this month "
                    f"({row.headache_days} headache days); give --replace to change it"
                )
            if row is None:
                row = DiaryMonth(patient_id=p.id, month=m)
                s.add(row)
            row.headache_days, row.migraine_days, row.acute_days = hd, md, ad
            s.flush()
            return _diary_dict(row)

    # ------------------------------------------------------------------ export
    def export(self, code: str) -> dict[str, Any]:
        """The patient, every visit with every version (sites planned and given), and the diary."""
        summary = self.patient_summary(code)
        with self._tx() as s:
            p = self._patient(s, code)
            visits = s.scalars(
                select(Visit)
                .where(Visit.patient_id == p.id)
                .order_by(Visit.visit_date, Visit.id)
                .options(selectinload(Visit.versions).selectinload(VisitVersion.sites))
            ).all()
            summary["visits"] = [
                {
                    **_visit_dict(v, None, p, with_plan=False),
                    "history": [_version_dict(x, with_plan=False) for x in v.versions if x.number != v.current_version],
                }
                for v in visits
            ]
        summary.pop("lock_version", None)
        return summary


# ----------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _PlanOnly:
    """The part of a :class:`CheckedPlan` that :func:`_sites_from_plan` reads (a stored plan, re-used)."""

    plan: Any


def _usual_pain(regions: Sequence[str], point: Sequence[float] | None) -> dict[str, Any]:
    """A usual pain origin checked by the engine (regions, point in the mesh frame, mm), as stored."""
    from visualizer.errors import InjectVizError
    from visualizer.pain import PainOrigin

    try:
        return PainOrigin.parse(regions, point).to_dict()
    except InjectVizError as exc:
        raise RecordError(f"--pain: {exc}") from None


def _known_protocol(protocol: str | None) -> str | None:
    """A preferred protocol must load (a bundled id or a protocol file); None stays None."""
    if protocol is None:
        return None
    from visualizer.errors import InjectVizError
    from visualizer.protocol import load_protocol

    try:
        load_protocol(protocol)
    except InjectVizError as exc:
        raise RecordError(f"--protocol {protocol!r}: {exc}") from None
    return protocol


def _diary_dict(d: DiaryMonth) -> dict[str, Any]:
    return {
        "month": d.month,
        "headache_days": d.headache_days,
        "migraine_days": d.migraine_days,
        "acute_days": d.acute_days,
    }


def _sites_from_plan(
    checked: CheckedPlan | _PlanOnly,
    given: Mapping[str, float],
    skip: Mapping[str, str],
    extras: Sequence[ExtraSite],
    reason: str | None,
) -> list[VisitSite]:
    """The site rows of a new visit: the plan's sites with what was given, then the extra sites."""
    plan_ids = [s.id for s in checked.plan.sites]
    _check_site_ids(plan_ids, given, skip, extras)
    rows = []
    deviates = False
    for i, site in enumerate(checked.plan.sites):
        if site.id in skip:
            r = rules.check_text(skip[site.id], f"--skip {site.id}", required=True, limit=500)
            units, skipped = 0.0, True
        else:
            units = rules.check_units(given.get(site.id, site.units), f"--given {site.id}")
            r, skipped = None, False
            deviates |= abs(units - site.units) > 1e-9
        rows.append(
            VisitSite(
                position_in_list=i,
                site_id=site.id,
                label=site.label,
                muscle=site.muscle,
                side=site.side,
                description=site.description,
                order=site.order,
                planned_units=float(site.units),
                given_units=units,
                skipped=skipped,
                skip_reason=r,
                extra=False,
            )
        )
    rows += _extra_rows(extras, len(rows))
    if (deviates or extras) and not reason:
        changed = [k for k in given if k in plan_ids and abs(given[k] - checked.plan.site(k).units) > 1e-9]
        what = f"given units differ from the plan at {', '.join(changed)}" if changed else "extra sites were added"
        raise RecordError(f"--reason: required because {what} (say why)")
    return rows


def _extra_rows(extras: Sequence[ExtraSite], start: int) -> list[VisitSite]:
    rows = []
    for j, e in enumerate(extras):
        rows.append(
            VisitSite(
                position_in_list=start + j,
                site_id=e.site_id,
                label=e.site_id,
                muscle=e.muscle,
                side=e.side,
                description=e.description,
                order=None,
                planned_units=None,
                given_units=rules.check_units(e.units, f"--extra {e.site_id}"),
                skipped=False,
                extra=True,
                extra_reason=rules.check_text(e.reason, f"--extra {e.site_id} reason", required=True),
            )
        )
    return rows


def _check_site_ids(
    known: Sequence[str], given: Mapping[str, float], skip: Mapping[str, str], extras: Sequence[ExtraSite]
) -> None:
    for flag, keys in (("--given", given), ("--skip", skip)):
        for k in keys:
            if k not in known:
                raise RecordError(f"{flag} {k}: no such site in the plan (sites: {', '.join(known)})")
    both = sorted(set(given) & set(skip))
    if both:
        raise RecordError(f"--given/--skip {both[0]}: a site is either given or skipped, not both")
    for e in extras:
        rules.check_text(e.site_id, "--extra site", required=True, limit=200)
        if e.site_id in known:
            raise RecordError(f"--extra {e.site_id}: already a site of the plan; use --given")
    ids = [e.site_id for e in extras]
    if len(set(ids)) != len(ids):
        raise RecordError("--extra: the same extra site is given twice")


def _amended_sites(
    old: VisitVersion, given: Mapping[str, float], skip: Mapping[str, str], extras: Sequence[ExtraSite]
) -> list[VisitSite]:
    """New site rows: the old version's with the changes applied (old rows are never touched)."""
    known = [x.site_id for x in old.sites]
    _check_site_ids(known, given, skip, extras)
    if not given and not skip and not extras:
        pass  # an amendment may change only lot/expiry or record a correction of the notes
    rows = []
    for x in old.sites:
        units, skipped, reason = x.given_units, x.skipped, x.skip_reason
        if x.site_id in skip:
            units, skipped = 0.0, True
            reason = rules.check_text(skip[x.site_id], f"--skip {x.site_id}", required=True, limit=500)
        elif x.site_id in given:
            units, skipped, reason = rules.check_units(given[x.site_id], f"--given {x.site_id}"), False, None
        rows.append(_copy_site(x, given_units=units, skipped=skipped, skip_reason=reason))
    rows += _extra_rows(extras, len(rows))
    return rows


def _copy_site(x: VisitSite, **changes: Any) -> VisitSite:
    """A new row for a new version: every column of ``x`` except its keys, then ``changes``."""
    keep = {a.key: getattr(x, a.key) for a in sa_inspect(VisitSite).column_attrs if a.key not in ("id", "version_id")}
    return VisitSite(**(keep | changes))


def _site_dict(x: VisitSite) -> dict[str, Any]:
    return {
        "site_id": x.site_id,
        "order": x.order,
        "label": x.label,
        "muscle": x.muscle,
        "side": x.side,
        "description": x.description,
        "planned_units": x.planned_units,
        "given_units": x.given_units,
        "skipped": x.skipped,
        "skip_reason": x.skip_reason,
        "extra": x.extra,
        "extra_reason": x.extra_reason,
    }


def _iso(v: dt.date | dt.datetime | None) -> str | None:
    """ISO text; times are stored in UTC (SQLite drops the zone: put it back)."""
    if isinstance(v, dt.datetime) and v.tzinfo is None:
        v = v.replace(tzinfo=dt.UTC)
    return v.isoformat() if v is not None else None


def _version_dict(x: VisitVersion, *, with_plan: bool = True) -> dict[str, Any]:
    d = {
        "version": x.number,
        "status": x.status,
        "created_at": _iso(x.created_at),
        "author": x.author,
        "amend_reason": x.amend_reason,
        "signed_at": _iso(x.signed_at),
        "protocol": x.protocol_id,
        "protocol_name": x.protocol_name,
        "protocol_hash": x.protocol_hash,
        "indication": x.protocol_indication,
        "protocol_cap_units": x.protocol_cap_units,
        "product": x.product,
        "lot": x.lot,
        "expiry": _iso(x.expiry),
        "dilution": x.dilution,
        "injector": x.injector,
        "deviation_reason": x.deviation_reason,
        "override_reason": x.override_reason,
        "findings": list(x.findings),
        "warnings": list(x.warnings),
        "total_planned_units": x.total_planned_units,
        "total_given_units": x.total_given_units,
        "sites": [_site_dict(s) for s in x.sites],
    }
    if with_plan:
        d["plan"] = x.plan_json
    return d


def _visit_dict(
    visit: Visit, version: int | None, patient: Patient | None, *, with_plan: bool = True
) -> dict[str, Any]:
    number = version or visit.current_version
    match = [v for v in visit.versions if v.number == number]
    if not match:
        raise NotFoundError(f"visit {visit.id}: no version {number} (it has {len(visit.versions)})")
    return {
        "id": visit.id,
        "date": visit.visit_date.isoformat(),
        "status": visit.status,
        "patient": patient.code if patient else None,
        "current_version": visit.current_version,
        "versions": len(visit.versions),
        "lock_version": visit.lock_version,
        **_version_dict(match[0], with_plan=with_plan),
    }
