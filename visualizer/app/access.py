"""Who this session process serves, and what that account may do (the session's own enforcement).

The launcher claims a warm session process for a browser and tells it, over the process's stdin
(never through the browser), who the user is::

    {"claim": {"user": "alice", "role": "injector", "address": "10.0.0.7", "login": true}}

``login: false`` is a server without accounts (loopback only, as before accounts existed): the one
local user may do everything, and the audit log names the machine's user.  Before a claim arrives,
nothing is allowed.

The app asks :func:`allows` (``plan``, ``patient``, ``trainer``, ``records``) and opens the records
with :func:`records` - which refuses a trainer or viewer (and writes the refusal to the audit
log) even if a crafted page asks for them.  :func:`install` adds the ``records_patient`` trigger
(a patient's summary for the page; checked by :mod:`visualizer.app.inputs` like every trigger).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from visualizer.errors import InjectVizError

log = logging.getLogger("injectviz.access")


class AccessDenied(InjectVizError):
    """This account may not do that (shown on the page as its own message)."""


@dataclass(frozen=True)
class Identity:
    user: str | None
    role: str | None
    address: str
    login: bool


_LOCK = threading.Lock()
_IDENTITY: Identity | None = None
_DB_URL: str | None = None
_DBS: dict[str, Any] = {}


def configure(db_url: str | None) -> None:
    """The records database of this server (None: records are off)."""
    global _DB_URL
    _DB_URL = db_url or None


def claim(data: Any) -> Identity:
    """Set the identity from the launcher's claim line (raises ValueError on a malformed one)."""
    global _IDENTITY
    if not isinstance(data, dict):
        raise ValueError("claim: not an object")
    login = data.get("login") is True
    user, role = data.get("user"), data.get("role")
    if login and (not isinstance(user, str) or role not in ("injector", "trainer", "viewer")):
        raise ValueError("claim: a login without a user and a role")
    ident = Identity(user if login else None, role if login else None, str(data.get("address") or "")[:64], login)
    with _LOCK:
        if _IDENTITY is not None:
            raise ValueError("claim: this session process already serves someone")
        _IDENTITY = ident
    return ident


def identity() -> Identity | None:
    return _IDENTITY


def allows(permission: str) -> bool:
    """Whether this session's user may do ``permission`` (nothing before the claim)."""
    ident = _IDENTITY
    if ident is None:
        return False
    if not ident.login:
        return True
    # imported only for a login (the accounts module brings SQLAlchemy and argon2 into the process)
    from visualizer.records.accounts import allows as role_allows

    return role_allows(ident.role, permission)


def tabs_allowed(tabs: tuple[str, ...]) -> list[str]:
    """The app's tabs this session's user may open (all of them without login or outside a claim)."""
    ident = _IDENTITY
    if ident is None or not ident.login:
        return list(tabs)
    from visualizer.records.accounts import allows as role_allows

    return [t for t in tabs if role_allows(ident.role, TAB_PERMISSION.get(t, t))]


#: the permission a tab needs, where its name differs (the Record tab shows the patient records)
TAB_PERMISSION = {"record": "records"}


def actor() -> Any:
    from visualizer.records.audit import Actor, cli_actor

    ident = _IDENTITY
    where = f"{ident.address if ident else 'unknown'} (app)"
    if ident is None or not ident.login:
        return Actor(cli_actor().who.replace("(command line)", "(no login)"), None, where)
    return Actor(str(ident.user), ident.role, where)


def _database(url: str | None = None) -> Any:
    """The records database (opened once per URL in this process)."""
    url = url or _DB_URL
    if url is None:
        raise AccessDenied("The records are not enabled on this server.")
    with _LOCK:
        if url not in _DBS:
            from visualizer.records.db import open_database

            _DBS[url] = open_database(url, upgrade=False)
        return _DBS[url]


def records(action: str = "records", code: str | None = None, url: str | None = None) -> Any:
    """The audited records for this session's user; raises AccessDenied for a role without access.

    ``url``: the database (default: the one :func:`configure` was given).
    """
    if not allows("records"):
        ident = _IDENTITY
        role = ident.role if ident else None
        log.warning("%s (%s): %s refused: no access to records", ident.user if ident else "nobody", role, action)
        if (url or _DB_URL) is not None:
            from visualizer.records.audit import append

            try:
                append(_database(url), actor(), action, outcome="denied", code=code)
            except Exception as exc:
                log.warning("audit log not written (%s)", type(exc).__name__)
        raise AccessDenied(f"Your account ({role or 'not logged in'}) has no access to patient records.")
    from visualizer.records.audit import AuditedRecords

    return AuditedRecords(_database(url), actor())


def records_patient(code: str) -> dict[str, Any]:
    """A patient's summary (visits, next due date, outcomes) for the page - injector only, audited."""
    summary = records("patient_summary", code).patient_summary(code)
    summary.pop("lock_version", None)
    return summary


def install(app: Any) -> None:
    """Register this module's triggers on ``app``'s server (the page calls them by name)."""
    app.server.controller.trigger("records_patient")(records_patient)
