"""Where the records live and how to open them: engine, sessions, SQLite pragmas, migrations.

The default database is one SQLite file in the user's data directory (``platformdirs``),
created on first use with mode 0600 in a 0700 folder *before* SQLite writes anything, then
opened in WAL mode with foreign keys on and ``synchronous=FULL`` (an acknowledged write
survives a crash of the process or the machine). Any other database is given by URL
(``--db URL`` or ``INJECTVIZ_DB``); PostgreSQL via ``postgresql+psycopg://``.

The schema is managed by Alembic; the migrations ship inside this package
(``visualizer/records/migrations``) so an installed wheel can upgrade its own database.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from visualizer.records.errors import DatabaseError

ENV_VAR = "INJECTVIZ_DB"
DB_FILE_NAME = "records.sqlite3"
MIGRATIONS = Path(__file__).with_name("migrations")


def data_dir() -> Path:
    """The user's InjectViz data folder (e.g. ``~/.local/share/injectviz`` on Linux)."""
    return Path(platformdirs.user_data_dir("injectviz", appauthor=False))


def default_url() -> str:
    """``sqlite:///<data dir>/records.sqlite3``."""
    return f"sqlite:///{data_dir() / DB_FILE_NAME}"


def resolve_url(url: str | None = None) -> str:
    """The database URL to use: ``url`` if given, else ``$INJECTVIZ_DB``, else :func:`default_url`."""
    return url or os.environ.get(ENV_VAR) or default_url()


def safe_url(url: str | URL) -> str:
    """The URL with any password hidden (for messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def sqlite_path(url: URL) -> Path | None:
    """The file of a file-backed SQLite URL, else None (in-memory or another database)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database).expanduser()


def _prepare_sqlite_file(path: Path) -> None:
    """Create the folder (0700) and an empty file (0600) before SQLite opens it."""
    folder = path.parent
    if not folder.exists():
        try:
            folder.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise DatabaseError(f"database folder {folder}: cannot create it ({exc.strerror})") from None
    if not path.exists():
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass
        except OSError as exc:
            raise DatabaseError(f"database {path}: cannot create it ({exc.strerror})") from None
        else:
            os.fchmod(fd, 0o600)  # the umask may have removed bits, never added: make it exact
            os.close(fd)
    elif not path.is_file():
        raise DatabaseError(f"database {path}: not a file")


@dataclass
class Database:
    """An open database: its engine and a session factory."""

    url: URL
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def display_url(self) -> str:
        return safe_url(self.url)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # pysqlite would BEGIN only before the first INSERT/UPDATE, so the reads a rule depends on (the
    # patient's other visits for the cumulative limit) would run outside the write's transaction.
    # Take over: no implicit BEGIN from the driver; _sqlite_begin starts every transaction.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _sqlite_begin(conn) -> None:
    # IMMEDIATE: take the write lock at the start, so a transaction's reads and writes see one state
    # and two concurrent writers queue (busy_timeout) instead of failing half-way
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def open_database(url: str | None = None, *, upgrade: bool = True, check_schema: bool = True) -> Database:
    """Open (and on first use create) the records database.

    Parameters
    ----------
    url
        SQLAlchemy URL; None means ``$INJECTVIZ_DB`` or the default SQLite file.
    upgrade
        Create the schema when the database is empty. An existing database at an older schema
        revision is never upgraded here (that is ``db upgrade``, which makes a backup first).

    Raises
    ------
    DatabaseError
        Unparseable URL, missing driver, unreachable server, or a schema that needs upgrading.
    """
    text = resolve_url(url)
    try:
        u = make_url(text)
    except ArgumentError:
        raise DatabaseError(
            f"--db {text!r}: not a database URL (e.g. sqlite:///path/records.sqlite3 or "
            "postgresql+psycopg://user@host/dbname)"
        ) from None
    path = sqlite_path(u)
    if path is not None:
        _prepare_sqlite_file(path)
    if u.get_backend_name() == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(u, future=True)
    except (ArgumentError, ImportError, SQLAlchemyError) as exc:
        raise DatabaseError(f"database {safe_url(u)}: cannot use it ({exc})") from None
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    db = Database(u, engine, sessionmaker(engine, expire_on_commit=False))
    if not check_schema:
        return db
    try:
        if _current_revision(db) == SCHEMA_HEAD:  # the usual case: one row read, Alembic not imported
            if path is not None:
                _tighten(path)
            return db
        state = schema_state(db)
        if state.current is None and upgrade:
            migrate(db)
        elif state.current != state.head:
            db.dispose()
            if state.current is None:
                raise DatabaseError(f"database {db.display_url}: has no records schema; run `injectviz db upgrade`")
            if state.current not in state.known:
                raise DatabaseError(
                    f"database {db.display_url}: schema revision {state.current!r} is newer than this InjectViz "
                    f"knows (latest {state.head!r}); use a newer InjectViz"
                )
            raise DatabaseError(
                f"database {db.display_url}: schema revision {state.current!r} is older than {state.head!r}; "
                "run `injectviz db upgrade` (it makes a backup first)"
            )
    except SQLAlchemyError as exc:
        db.dispose()
        raise DatabaseError(f"database {safe_url(u)}: cannot open it ({_first_line(exc)})") from None
    if path is not None:
        _tighten(path)
    return db


def _tighten(path: Path) -> None:
    """Keep the database and its WAL/shm files private (0600) even if an older tool loosened them."""
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if p.exists() and stat.S_IMODE(p.stat().st_mode) != 0o600:
                os.chmod(p, 0o600)
        except OSError:
            pass


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ----------------------------------------------------------------------------- migrations
@dataclass(frozen=True)
class SchemaState:
    """The database's Alembic revision, the package's head revision and every known revision."""

    current: str | None
    head: str
    known: frozenset[str]


def _alembic_config(db: Database):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


#: The migrations' head revision. Opening a database already at it reads one row and never imports
#: Alembic (≈ 150 modules, ≈ 13 MB in every session that opens the records);
#: ``tests/records/test_records_db.py`` keeps it equal to Alembic's head.
SCHEMA_HEAD = "0003"


def _current_revision(db: Database) -> str | None:
    """The revision in the ``alembic_version`` table, or None (no table, no row)."""
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def schema_state(db: Database) -> SchemaState:
    """Where the schema stands (reads the ``alembic_version`` table)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(db))
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current is None and inspect(conn).has_table("patients"):
            current = "<unversioned>"
    return SchemaState(current, script.get_current_head() or "", frozenset(r.revision for r in script.walk_revisions()))


def migrate(db: Database, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` in one transaction (programmatic, no alembic.ini)."""
    from alembic import command

    cfg = _alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
