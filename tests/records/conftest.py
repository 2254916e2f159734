"""Fixtures of the records tests: a fresh database on SQLite and on PostgreSQL, and a checked plan.

PostgreSQL comes from ``INJECTVIZ_TEST_PG_URL`` (``scripts/with-postgres.sh`` starts a throwaway
server and sets it; ``scripts/test.sh`` always does). Without it the PostgreSQL cases skip —
unless ``INJECTVIZ_REQUIRE_PG=1``, then they fail. Every test gets its own new database.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "INJECTVIZ_TEST_PG_URL"


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if os.environ.get("INJECTVIZ_REQUIRE_PG") == "1":
        pytest.fail(
            f"INJECTVIZ_REQUIRE_PG=1 but {PG_ENV} is not set: run the tests via scripts/test.sh "
            "(scripts/with-postgres.sh starts PostgreSQL)"
        )
    pytest.skip(f"{PG_ENV} not set (run via scripts/test.sh or scripts/with-postgres.sh for the PostgreSQL cases)")
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a new, empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.sqlite3'}"
        return
    admin = _pg_admin_url()
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:16]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a configured server that does not answer is a failure, not a skip
        pytest.fail(f"PostgreSQL at {make_url(admin).render_as_string(hide_password=True)}: {exc}")
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


@pytest.fixture(scope="session")
def plan_data() -> dict:
    """``injectviz plan --protocol preempt --pain left-temporal --format json`` (31 sites, 155 U)."""
    from visualizer.head import load_head
    from visualizer.pain import PainOrigin
    from visualizer.planner import make_plan
    from visualizer.protocol import load_protocol

    plan = make_plan(load_head(), load_protocol("preempt"), PainOrigin.parse(["left-temporal"]), follow_the_pain=False)
    return json.loads(plan.to_json())


@pytest.fixture(scope="session")
def plan_file(plan_data: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("plan") / "PLAN.json"
    p.write_text(json.dumps(plan_data))
    return p


@pytest.fixture(scope="session")
def checked(plan_data: dict):
    from visualizer.records.plan_input import check_plan_data

    return check_plan_data(plan_data)


@pytest.fixture
def records(db_url: str):
    from visualizer.records.db import open_database
    from visualizer.records.service import Records

    db = open_database(db_url)
    yield Records(db)
    db.dispose()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``injectviz ARGV`` in-process; returns (exit code, stdout, stderr)."""
    from visualizer.cli import main

    capsys.readouterr()
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


#: What every test visit was given with (a test lot that never expires before the visit dates).
VISIT = ("--product", "BOTOX 100 U", "--lot", "TESTLOT-1", "--expiry", "2027-12-31", "--injector", "Dr Test")


def record_visit(
    capsys: pytest.CaptureFixture[str],
    db: str,
    plan_file: object,
    *extra: str,
    code: str = "TEST-0001",
    date: str = "2026-01-05",
) -> tuple[int, str, str]:
    """``injectviz --db DB visit record CODE --plan PLAN`` with :data:`VISIT`, the date and ``extra``."""
    return run_cli(
        capsys, "--db", db, "visit", "record", code, "--plan", str(plan_file), *VISIT, "--date", date, *extra
    )
