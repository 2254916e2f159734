"""Accounts: who may log in to the app, with which role; passwords hashed with Argon2 (argon2-cffi).

Roles (what the front server and each session process enforce):

* ``injector`` - everything: plans, the patient view, the quiz and the patient records;
* ``trainer`` - plans, the patient view and the quiz; no access to records;
* ``viewer`` - the patient step-through only (a kiosk for the waiting room).

A password is never stored, logged or shown: only its Argon2id hash is kept, and not even the hash
leaves this module (:func:`list_users` returns names, roles and dates).  A name that does not exist
is checked against a dummy hash, so a failed login takes the same time either way.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from visualizer.records.db import Database, _first_line
from visualizer.records.errors import DatabaseError, NotFoundError, RecordError
from visualizer.records.models import Base, utcnow

ROLES = ("injector", "trainer", "viewer")
#: what each role may do; the front server and the session process both ask :func:`allows`
PERMISSIONS: dict[str, frozenset[str]] = {
    "injector": frozenset({"plan", "patient", "trainer", "records"}),
    "trainer": frozenset({"plan", "patient", "trainer"}),
    "viewer": frozenset({"patient"}),
}
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PASSWORD_MIN = 10
PASSWORD_MAX = 1024

_HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters
_DUMMY_HASH = _HASHER.hash("not a password of anyone: evens out the time of a failed login")


class User(Base):
    """An account of the app (name, role, Argon2 hash); disabled accounts cannot log in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (CheckConstraint("role IN ('injector', 'trainer', 'viewer')", name="role"),)

    def __repr__(self) -> str:  # never the hash
        return f"User(name={self.name!r}, role={self.role!r}, disabled={self.disabled})"


@dataclass(frozen=True)
class Account:
    """A logged-in (or logging-in) account: what the rest of the app sees of a user."""

    name: str
    role: str


def allows(role: str | None, permission: str) -> bool:
    """Whether ``role`` may do ``permission`` (``plan``, ``patient``, ``trainer``, ``records``)."""
    return permission in PERMISSIONS.get(role or "", frozenset())


def check_name(name: str) -> str:
    """A valid account name (lower-case letters, digits, ``.``, ``_``, ``-``; up to 64), or RecordError."""
    if not isinstance(name, str) or not NAME.match(name):
        shown = name[:70] if isinstance(name, str) else type(name).__name__
        raise RecordError(
            f"user name {shown!r}: use 1-64 lower-case letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit)"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise RecordError(f"--role {role!r}: choose one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    """The password if acceptable (the message never repeats it)."""
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise RecordError(f"password: use {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if password.strip() != password or not password.isprintable():
        raise RecordError("password: no leading or trailing spaces, no control characters")
    return password


class Accounts:
    """The accounts table on one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _session(self):
        return self.db.sessions()

    def _run(self, fn):
        session = self._session()
        try:
            with session.begin():
                return fn(session)
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database {self.db.display_url}: {_first_line(exc)}") from None
        finally:
            session.close()

    def add(self, name: str, role: str, password: str) -> Account:
        """Create an account (the name must be new)."""
        check_name(name)
        check_role(role)
        digest = _HASHER.hash(check_password(password))

        def do(s) -> Account:
            if s.scalar(select(User.id).where(User.name == name)) is not None:
                raise RecordError(f"user {name!r}: already exists")
            s.add(User(name=name, role=role, password_hash=digest, disabled=False))
            return Account(name, role)

        return self._run(do)

    def list(self) -> list[dict[str, Any]]:
        """Every account: name, role, disabled, created, password changed (never the hash)."""

        def do(s) -> list[dict[str, Any]]:
            return [
                {
                    "name": u.name,
                    "role": u.role,
                    "disabled": u.disabled,
                    "created_at": _iso(u.created_at),
                    "password_changed_at": _iso(u.password_changed_at),
                }
                for u in s.scalars(select(User).order_by(User.name))
            ]

        return self._run(do)

    def count_active(self) -> int:
        """How many accounts can log in."""
        return self._run(lambda s: int(s.scalar(select(func.count(User.id)).where(User.disabled.is_(False))) or 0))

    def disable(self, name: str) -> None:
        def do(s) -> None:
            u = self._user(s, name)
            u.disabled = True

        self._run(do)

    def set_password(self, name: str, password: str) -> None:
        digest = _HASHER.hash(check_password(password))

        def do(s) -> None:
            u = self._user(s, name)
            u.password_hash = digest
            u.password_changed_at = utcnow()

        self._run(do)

    def verify(self, name: str, password: str) -> Account | None:
        """The account if ``name`` exists, is enabled and ``password`` matches; else None.

        Takes about the same time whether or not the name exists.
        """
        if not isinstance(name, str) or not isinstance(password, str) or len(password) > PASSWORD_MAX:
            return None
        user = (
            self._run(lambda s: _snapshot(s.scalar(select(User).where(User.name == name))))
            if NAME.match(name)
            else None
        )
        digest = user["hash"] if user else _DUMMY_HASH
        try:
            _HASHER.verify(digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if user is None or user["disabled"]:
            return None
        if _HASHER.check_needs_rehash(digest):
            try:
                self.set_password(name, password)  # parameters moved on: store a fresh hash
            except (RecordError, DatabaseError):
                pass
        return Account(user["name"], user["role"])

    def current(self, name: str) -> Account | None:
        """The account as it is now (None if it was removed or disabled): role changes apply at once."""
        user = self._run(lambda s: _snapshot(s.scalar(select(User).where(User.name == name))))
        if user is None or user["disabled"]:
            return None
        return Account(user["name"], user["role"])

    @staticmethod
    def _user(s, name: str) -> User:
        u = s.scalar(select(User).where(User.name == name))
        if u is None:
            raise NotFoundError(f"user {name!r}: no such user (see `injectviz user list`)")
        return u


def _snapshot(u: User | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return {"name": u.name, "role": u.role, "hash": u.password_hash, "disabled": u.disabled}


def _iso(v: dt.datetime | None) -> str | None:
    if v is not None and v.tzinfo is None:
        v = v.replace(tzinfo=dt.UTC)
    return v.isoformat(timespec="seconds") if v is not None else None
