"""Database maintenance: ``db backup FILE`` (the database's own online backup) and ``db upgrade``.

SQLite is copied with its online backup API (consistent while others write); PostgreSQL with
``pg_dump`` (custom format, restore with ``pg_restore``) when it is installed.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from visualizer.records.db import Database, _first_line, data_dir, migrate, open_database, schema_state, sqlite_path
from visualizer.records.errors import DatabaseError
from visualizer.records.files import check_target, write_atomic


def _sqlite_backup(src: Path, tmp: Path) -> None:
    source = sqlite3.connect(src, timeout=30)
    try:
        dest = sqlite3.connect(tmp)
        try:
            source.backup(dest)
            ok = dest.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise DatabaseError(f"backup of {src}: the copy fails its integrity check ({ok})")
        finally:
            dest.close()
    finally:
        source.close()


def _pg_dump(db: Database, tmp: Path) -> None:
    exe = shutil.which("pg_dump") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))), None)
    if exe is None:
        raise DatabaseError(
            f"database {db.display_url}: backing up PostgreSQL needs pg_dump, which is not installed "
            "(Debian: apt-get install postgresql-client)"
        )
    url = db.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # never on the command line (visible to other users)
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    proc = subprocess.run(
        [str(exe), "--format=custom", f"--file={tmp}", f"--dbname={libpq}"],
        env=env, capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise DatabaseError(f"database {db.display_url}: pg_dump failed ({msg})")


def backup_to(db: Database, target: Path, flag: str = "db backup") -> Path:
    """Write an online backup of ``db`` to ``target`` (atomically, mode 0600)."""
    check_target(target, flag)
    path = sqlite_path(db.url)
    if db.is_sqlite and path is None:
        raise DatabaseError(f"database {db.display_url}: an in-memory database cannot be backed up")
    if path is not None:
        if target.resolve() == path.resolve():
            raise DatabaseError(f"{flag} {target}: that is the database itself")
        write_atomic(target, lambda tmp: _sqlite_backup(path, tmp), flag)
    elif db.url.get_backend_name() == "postgresql":
        write_atomic(target, lambda tmp: _pg_dump(db, tmp), flag)
    else:
        raise DatabaseError(f"database {db.display_url}: backup supports SQLite and PostgreSQL")
    return target


def backup(url: str | None, target: Path) -> str:
    """``db backup FILE``."""
    db = open_database(url, check_schema=False)
    try:
        backup_to(db, target)
        kind = "pg_dump custom format; restore with pg_restore" if not db.is_sqlite else "SQLite database file"
        return f"backed up {db.display_url} to {target} ({kind})"
    finally:
        db.dispose()


def _backup_name(db: Database, revision: str | None) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = sqlite_path(db.url)
    if path is not None:
        return path.with_name(f"{path.name}.before-upgrade-{revision}-{stamp}.bak")
    folder = data_dir() / "backups"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / f"{db.url.database or 'records'}-before-upgrade-{revision}-{stamp}.dump"


def upgrade(url: str | None) -> list[str]:
    """``db upgrade``: back up (when there is anything to keep), then migrate to the latest schema."""
    db = open_database(url, check_schema=False)
    try:
        state = schema_state(db)
        if state.current == state.head:
            return [f"{db.display_url}: schema is up to date (revision {state.head})"]
        if state.current is not None and state.current not in state.known:
            raise DatabaseError(
                f"database {db.display_url}: schema revision {state.current!r} is unknown to this InjectViz "
                f"(latest {state.head!r}); not touched"
            )
        lines = []
        if state.current is not None:
            target = _backup_name(db, state.current)
            backup_to(db, target)
            lines.append(f"backed up to {target}")
        migrate(db)
        lines.append(f"{db.display_url}: upgraded from {state.current or '(empty)'} to {state.head}")
        return lines
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"database {db.display_url}: upgrade failed, nothing changed ({_first_line(exc)})"
        ) from None
    finally:
        db.dispose()
