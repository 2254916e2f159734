"""The audit log: every read and every write of a patient's record - who, when, what, from where.

:class:`AuditedRecords` is :class:`~visualizer.records.service.Records` with an :class:`Actor`:
each public operation appends ONE entry to ``audit_log`` inside the operation's own first
transaction (a write and its entry are committed together or not at all).  Refusals by a role are
appended as ``denied`` entries (:func:`append`).

The table is append-only for the app: the migration (0003) installs triggers that abort any
UPDATE or DELETE (and on PostgreSQL, TRUNCATE); nothing here offers to change an entry.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import getpass
import inspect
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from visualizer.records.db import Database, _first_line
from visualizer.records.errors import DatabaseError
from visualizer.records.models import Base, Patient, Visit, utcnow
from visualizer.records.service import Records


class AuditEntry(Base):
    """One line of the audit log (never updated, never deleted)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    who: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False, default="ok")
    patient_code: Mapped[str | None] = mapped_column(String(40), index=True)
    visit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Actor:
    """Who acts, with which role (None: no accounts in use), and from where (an address, "command line")."""

    who: str
    role: str | None
    source: str


def cli_actor() -> Actor:
    """The operating-system user at the command line of this machine."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(f"{who} (command line)", None, f"command line on {socket.gethostname()}"[:200])


@dataclass
class _Pending:
    action: str
    code: str | None
    visit_id: int | None
    detail: str | None
    written: bool = False


_CURRENT: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar("injectviz_audit", default=None)


def _entry(
    actor: Actor,
    action: str,
    *,
    outcome: str = "ok",
    code: str | None = None,
    visit_id: int | None = None,
    detail: str | None = None,
) -> AuditEntry:
    return AuditEntry(
        at=utcnow(),
        who=actor.who[:200],
        role=actor.role,
        source=actor.source[:200],
        action=action[:64],
        outcome=outcome,
        patient_code=(code or None) and str(code)[:40],
        visit_id=visit_id,
        detail=detail and detail[:2000],
    )


def append(
    db: Database,
    actor: Actor,
    action: str,
    *,
    outcome: str = "ok",
    code: str | None = None,
    visit_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Append one entry in its own transaction (logins, logouts, refusals)."""
    session = db.sessions()
    try:
        with session.begin():
            session.add(_entry(actor, action, outcome=outcome, code=code, visit_id=visit_id, detail=detail))
    except SQLAlchemyError as exc:
        raise DatabaseError(f"database {db.display_url}: cannot write the audit log ({_first_line(exc)})") from None
    finally:
        session.close()


class AuditedRecords(Records):
    """The record, with every public operation appended to the audit log under ``actor``."""

    def __init__(self, db: Database, actor: Actor) -> None:
        super().__init__(db)
        self.actor = actor

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with super()._tx() as s:
            yield s
            pending = _CURRENT.get()
            if pending is not None and not pending.written:
                visit_id = pending.visit_id
                if visit_id is None:  # a new visit (record_visit): the one visit this transaction holds
                    visits = [o for o in s.identity_map.values() if isinstance(o, Visit)]
                    visit_id = visits[0].id if len(visits) == 1 else None
                code = pending.code
                if code is None and visit_id is not None:
                    code = s.scalar(
                        select(Patient.code).join(Visit, Visit.patient_id == Patient.id).where(Visit.id == visit_id)
                    )
                s.add(_entry(self.actor, pending.action, code=code, visit_id=visit_id, detail=pending.detail))
                pending.written = True

    def signer(self, visit_id: int) -> dict[str, Any] | None:
        """Who signed visit ``visit_id`` and when, from the audit log (None if not signed here)."""
        session = self.db.sessions()
        try:
            e = session.scalar(
                select(AuditEntry)
                .where(
                    AuditEntry.visit_id == visit_id,
                    AuditEntry.outcome == "ok",
                    AuditEntry.action.in_(("record_visit", "sign_visit")),
                    (AuditEntry.action == "sign_visit") | (AuditEntry.detail == "signed"),
                )
                .order_by(AuditEntry.id)
            )
            return None if e is None else {"who": e.who, "role": e.role, "at": _iso(e.at), "source": e.source}
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database {self.db.display_url}: {_first_line(exc)}") from None
        finally:
            session.close()


def _detail(name: str, args: dict[str, Any]) -> str | None:
    if name == "record_visit":
        return "signed" if args.get("sign", True) else "draft"
    if name == "visit_record" and args.get("version"):
        return f"version {args['version']}"
    if name == "amend_visit":
        return f"reason: {args.get('reason')}"[:500]
    return None


def _audited(name: str, fn: Any) -> Any:
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(self: AuditedRecords, *args: Any, **kwargs: Any) -> Any:
        if _CURRENT.get() is not None:  # called by another operation: one entry for the outer call
            return fn(self, *args, **kwargs)
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        code = a.get("code") if isinstance(a.get("code"), str) else None
        visit_id = a.get("visit_id") if isinstance(a.get("visit_id"), int) else None
        token = _CURRENT.set(_Pending(name, code, visit_id, _detail(name, a)))
        try:
            result = fn(self, *args, **kwargs)
        finally:
            _CURRENT.reset(token)
        if name == "visit_record" and isinstance(result, dict) and "id" in result:
            result["signed_by"] = self.signer(result["id"])
        return result

    return wrapper


for _name, _fn in inspect.getmembers(Records, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(AuditedRecords, _name, _audited(_name, _fn))


def entries(
    db: Database, *, patient: str | None = None, user: str | None = None, limit: int = 10_000
) -> list[dict[str, Any]]:
    """The audit log, oldest first, optionally for one patient code and/or one user (``who``)."""
    session = db.sessions()
    try:
        q = select(AuditEntry).order_by(AuditEntry.id)
        if patient:
            q = q.where(AuditEntry.patient_code == patient)
        if user:
            q = q.where((AuditEntry.who == user) | AuditEntry.who.like(f"{_escape_like(user)} (%", escape="\\"))
        rows = session.scalars(q.limit(limit)).all()
        return [
            {
                "id": e.id,
                "at": _iso(e.at),
                "who": e.who,
                "role": e.role,
                "source": e.source,
                "action": e.action,
                "outcome": e.outcome,
                "patient": e.patient_code,
                "visit": e.visit_id,
                "detail": e.detail,
            }
            for e in rows
        ]
    except SQLAlchemyError as exc:
        raise DatabaseError(f"database {db.display_url}: {_first_line(exc)}") from None
    finally:
        session.close()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _iso(v: dt.datetime | None) -> str | None:
    if v is not None and v.tzinfo is None:
        v = v.replace(tzinfo=dt.UTC)
    return v.isoformat(timespec="seconds") if v is not None else None
