"""The records engine: optimistic locking, immutability of signed versions, migrations, backups."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli

from visualizer.records.errors import DatabaseError, RecordError, StaleRecordError

SIGN = {"product": "BOTOX", "lot": "TESTLOT-1", "expiry": "2027-12-31", "injector": "Dr Test"}


def test_second_save_of_the_same_visit_is_refused(records, checked):
    records.add_patient("TEST-0001")
    res = records.record_visit("TEST-0001", checked, visit_date="2026-01-05", **SIGN)
    seen = records.visit_record(res.visit_id)["lock_version"]  # two browsers open the visit
    first = records.amend_visit(res.visit_id, reason="browser A", author="A", given={"procerus": 4}, expected_lock=seen)
    assert first.version == 2 and first.lock_version == seen + 1
    with pytest.raises(StaleRecordError, match=r"visit \d+: changed by someone else since it was opened"):
        records.amend_visit(res.visit_id, reason="browser B", author="B", given={"procerus": 3}, expected_lock=seen)
    rec = records.visit_record(res.visit_id)
    assert rec["version"] == 2 and rec["versions"] == 2 and rec["amend_reason"] == "browser A"


def test_version_counter_refuses_a_stale_orm_write(records, checked):
    """Two sessions load the same visit; the later flush of the older copy is refused, not applied."""
    from visualizer.records.models import Visit

    records.add_patient("TEST-0001")
    vid = records.record_visit("TEST-0001", checked, visit_date="2026-01-05", **SIGN).visit_id
    s1 = records.db.sessions()
    v1 = s1.get(Visit, vid)
    _ = v1.lock_version
    s1.commit()  # ends the read transaction, keeps the (now stale-able) object
    records.amend_visit(vid, reason="meanwhile", author="B")
    v1.current_version = 7  # any change of the stale copy
    from sqlalchemy.orm.exc import StaleDataError

    with pytest.raises(StaleDataError):
        s1.commit()
    s1.close()
    assert records.visit_record(vid)["version"] == 2


def test_signed_version_rows_never_change(records, checked):
    records.add_patient("TEST-0001")
    vid = records.record_visit("TEST-0001", checked, visit_date="2026-01-05", **SIGN).visit_id
    v1 = records.visit_record(vid, version=1)
    records.amend_visit(vid, reason="lot typo", author="Dr Test", lot="TESTLOT-2")
    records.amend_visit(vid, reason="one site", author="Dr Test", skip={"procerus": "declined"})
    assert records.visit_record(vid, version=1) == {
        **v1,
        "current_version": 3,
        "versions": 3,
        "lock_version": v1["lock_version"] + 2,
    }
    cur = records.visit_record(vid)
    assert cur["version"] == 3 and cur["lot"] == "TESTLOT-2" and cur["total_given_units"] == 150.0
    assert cur["plan"] == v1["plan"]  # the plan as computed then, never recomputed


def test_refused_writes_leave_nothing(records, checked):
    records.add_patient("TEST-0001")
    with pytest.raises(RecordError, match="--expiry 2025-01-01: the product expired before the visit date 2026-01-05"):
        records.record_visit("TEST-0001", checked, visit_date="2026-01-05", **{**SIGN, "expiry": "2025-01-01"})
    with pytest.raises(RecordError, match=r"--given procerus nan"):
        records.record_visit("TEST-0001", checked, visit_date="2026-01-05", given={"procerus": float("nan")}, **SIGN)
    with pytest.raises(RecordError, match="no such patient"):
        records.record_visit("TEST-0404", checked, visit_date="2026-01-05", **SIGN)
    from sqlalchemy import func, select

    from visualizer.records.models import Visit, VisitSite, VisitVersion

    with records.db.sessions() as s:
        assert [s.scalar(select(func.count()).select_from(t)) for t in (Visit, VisitVersion, VisitSite)] == [0, 0, 0]


def test_draft_and_extra_sites(records, checked):
    from visualizer.records.service import ExtraSite

    records.add_patient("TEST-0001")
    res = records.record_visit(
        "TEST-0001",
        checked,
        visit_date="2026-01-05",
        sign=False,
        extras=[ExtraSite("masseter_left", 10, "bruxism")],
        reason="added masseter",
        **{**SIGN, "lot": None, "expiry": None},
    )
    rec = records.visit_record(res.visit_id)
    assert rec["status"] == "draft" and rec["lot"] is None and rec["total_given_units"] == 165.0
    extra = rec["sites"][-1]
    assert extra["extra"] and extra["planned_units"] is None and extra["extra_reason"] == "bruxism"
    with pytest.raises(RecordError, match="a draft is edited and signed, not amended"):
        records.amend_visit(res.visit_id, reason="x", author="x")
    # drafts do not count toward the cumulative limit or the next due date
    assert records.patient_summary("TEST-0001")["next_due"] is None


def test_schema_matches_the_models_after_migrations(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import visualizer.records.accounts
    import visualizer.records.audit  # noqa: F401 (their tables join Base.metadata)
    from visualizer.records.db import open_database, schema_state
    from visualizer.records.models import Base

    db = open_database(db_url)
    state = schema_state(db)
    assert state.current == state.head >= "0003"
    with db.engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), Base.metadata) == []
    db.dispose()


def test_a_database_at_the_head_opens_without_importing_alembic(db_url):
    """SCHEMA_HEAD is Alembic's head; a database already there opens by reading one row (no Alembic:
    ≈ 150 modules and ≈ 13 MB in every session that opens the records)."""
    import subprocess
    import sys

    from visualizer.records.db import SCHEMA_HEAD, open_database, schema_state

    db = open_database(db_url)  # created and migrated to the head (imports Alembic here, in the test)
    assert schema_state(db).head == SCHEMA_HEAD  # a new migration must move SCHEMA_HEAD too
    db.dispose()
    code = (
        "import sys; from visualizer.records.db import open_database; "
        f"db = open_database({db_url!r}); db.dispose(); "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def test_migrations_ship_inside_the_package():
    import visualizer.records.migrations as m

    folder = Path(m.__file__).parent
    assert (folder / "env.py").is_file() and (folder / "script.py.mako").is_file()
    assert sorted(p.name for p in (folder / "versions").glob("0*.py")) == [
        "0001_initial.py",
        "0002_visit_date_index.py",
        "0003_accounts_audit.py",
    ]
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]
    assert "visualizer.records.migrations" in packages and "visualizer.records.migrations.versions" in packages
    assert "script.py.mako" in pyproject["tool"]["setuptools"]["package-data"]["visualizer.records.migrations"]


def test_old_schema_is_refused_until_db_upgrade_which_backs_up_first(db_url, checked, capsys, tmp_path, monkeypatch):
    from visualizer.records.db import migrate, open_database, schema_state
    from visualizer.records.service import Records

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # where PostgreSQL upgrade backups go
    db = open_database(db_url, check_schema=False)
    migrate(db, "0001")
    head = schema_state(db).head  # the newest migration (0003 = accounts and audit, and any later one)
    db.dispose()
    with pytest.raises(
        DatabaseError, match=rf"schema revision '0001' is older than '{head}'; run `injectviz db upgrade`"
    ):
        open_database(db_url)
    rc, out, err = run_cli(capsys, "--db", db_url, "patient", "list")
    assert rc == 2 and "db upgrade" in err

    # put a patient in with the 0001 schema, then upgrade
    from sqlalchemy import text

    db = open_database(db_url, check_schema=False)
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO patients (code, usual_pain, created_at, lock_version) "
                "VALUES ('TEST-0001', '{}', '2026-01-01 00:00:00', 1)"
            )
        )
    db.dispose()
    if not db_url.startswith("sqlite"):
        import shutil

        if not shutil.which("pg_dump"):
            pytest.skip("pg_dump not installed")
    rc, out, err = run_cli(capsys, "--db", db_url, "db", "upgrade")
    assert rc == 0, err
    assert "backed up to " in out and f"upgraded from 0001 to {head}" in out
    backup = Path(out.split("backed up to ", 1)[1].splitlines()[0])
    assert backup.is_file() and (backup.stat().st_mode & 0o777) == 0o600
    if db_url.startswith("sqlite"):
        con = sqlite3.connect(backup)
        assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"
        assert con.execute("SELECT code FROM patients").fetchall() == [("TEST-0001",)]
        con.close()
    else:
        assert backup.read_bytes()[:5] == b"PGDMP"
    db = open_database(db_url)
    assert Records(db).patient_summary("TEST-0001")["code"] == "TEST-0001"
    db.dispose()
    rc, out, err = run_cli(capsys, "--db", db_url, "db", "upgrade")
    assert rc == 0 and f"schema is up to date (revision {head})" in out


def test_db_backup(db_url, checked, tmp_path, capsys):
    from visualizer.records.db import open_database
    from visualizer.records.service import Records

    db = open_database(db_url)
    r = Records(db)
    r.add_patient("TEST-0001")
    r.record_visit("TEST-0001", checked, visit_date="2026-01-05", **SIGN)
    target = tmp_path / "backup.db"
    if not db_url.startswith("sqlite"):
        import shutil

        if not shutil.which("pg_dump"):
            rc, _, err = run_cli(capsys, "--db", db_url, "db", "backup", str(target))
            assert rc == 2 and "needs pg_dump" in err
            return
    rc, _, err = run_cli(capsys, "--db", db_url, "db", "backup", str(target))
    assert rc == 0, err
    assert target.is_file() and (target.stat().st_mode & 0o777) == 0o600
    assert not list(tmp_path.glob(".backup.db.*"))  # no temporary left behind
    if db_url.startswith("sqlite"):
        con = sqlite3.connect(target)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM visit_sites").fetchone()[0] == 31
        con.close()
    else:
        assert target.read_bytes()[:5] == b"PGDMP"
    rc, _out, err = run_cli(capsys, "--db", db_url, "db", "backup", str(tmp_path / "missing" / "b.db"))
    assert rc == 2 and "does not exist" in err
    db.dispose()


def test_draft_save_and_sign_with_optimistic_locking(records, checked):
    records.add_patient("TEST-0001")
    res = records.record_visit(
        "TEST-0001", checked, visit_date="2026-01-05", sign=False, **{**SIGN, "lot": None, "expiry": None}
    )
    seen = res.lock_version  # two browsers open the draft
    a = records.update_draft(res.visit_id, seen, skip={"procerus": "declined"}, lot="TESTLOT-9")
    assert a.lock_version == seen + 1
    with pytest.raises(StaleRecordError, match="changed by someone else"):
        records.update_draft(res.visit_id, seen, given={"procerus": 3}, reason="B's change")
    rec = records.visit_record(res.visit_id)
    assert rec["lot"] == "TESTLOT-9" and rec["total_given_units"] == 150.0 and rec["sites"][0]["skipped"]
    with pytest.raises(RecordError, match="--expiry: required to sign"):
        records.sign_visit(res.visit_id, a.lock_version)
    b = records.update_draft(res.visit_id, a.lock_version, skip={"procerus": "declined"}, expiry="2027-01-01")
    with pytest.raises(StaleRecordError):
        records.sign_visit(res.visit_id, a.lock_version)
    signed = records.sign_visit(res.visit_id, b.lock_version)
    rec = records.visit_record(res.visit_id)
    assert rec["status"] == "signed" and rec["signed_at"] and rec["version"] == 1
    with pytest.raises(RecordError, match="signed; a signed visit never changes"):
        records.update_draft(res.visit_id, signed.lock_version, lot="X")
    assert records.patient_summary("TEST-0001")["next_due"] == "2026-03-30"


def test_update_patient_usual_pain_with_locking(records):
    p = records.add_patient("TEST-0001", pain_regions=["left-temporal"])
    q = records.update_patient("TEST-0001", p["lock_version"], pain_regions=["occipital"], protocol="preempt-ftp")
    assert q["usual_pain"]["regions"] == ["occipital"] and q["preferred_protocol"] == "preempt-ftp"
    with pytest.raises(StaleRecordError):
        records.update_patient("TEST-0001", p["lock_version"], pain_regions=["frontal"])
    with pytest.raises(RecordError, match="--pain"):
        records.update_patient("TEST-0001", q["lock_version"], pain_regions=["knee"])
    assert records.patient_summary("TEST-0001")["usual_pain"]["regions"] == ["occipital"]


def test_concurrent_visits_cannot_both_pass_the_cumulative_limit(records, checked, monkeypatch):
    """Two saves race for the same patient: their rule checks are serialised, so the second sees the first."""
    import threading

    from visualizer.records import rules

    records.add_patient("TEST-0001")
    records.record_visit("TEST-0001", checked, visit_date="2026-01-05", **SIGN)  # 155 U
    barrier = threading.Barrier(2)
    real = rules.max_window_total

    def meet_then_check(*args, **kwargs):
        try:  # without serialisation both threads meet here with the same view of the patient's visits
            barrier.wait(timeout=3)
        except threading.BrokenBarrierError:
            pass
        return real(*args, **kwargs)

    monkeypatch.setattr(rules, "max_window_total", meet_then_check)
    outcomes: list[object] = []

    def save(day: str) -> None:
        try:
            outcomes.append(records.record_visit("TEST-0001", checked, visit_date=day, **SIGN))
        except RecordError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=save, args=(d,)) for d in ("2026-02-02", "2026-02-03")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    refused = [o for o in outcomes if isinstance(o, RecordError)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert "cumulative limit per 3 months" in str(refused[0])
    assert len(records.patient_summary("TEST-0001")["visits"]) == 2


def test_given_units_keep_each_sites_dose_range(records):
    """A cervical dystonia visit: units chosen within each range are kept; outside it, the record asks for an override."""
    import json

    from visualizer.head import load_head
    from visualizer.planner import make_plan
    from visualizer.protocol import load_protocol
    from visualizer.records.plan_input import check_plan_data

    plan = make_plan(load_head(), load_protocol("cd-torticollis"), units={"scm_upper": 35})
    cd = check_plan_data(json.loads(plan.to_json()))
    records.add_patient("TEST-0002")
    ok = records.record_visit(
        "TEST-0002", cd, visit_date="2026-02-02", given={"splenius_upper": 45}, reason="EMG", **SIGN
    )
    rec = records.visit_record(ok.visit_id)
    given = {x["site_id"]: x["given_units"] for x in rec["sites"]}
    assert given["scm_upper"] == 35 and given["splenius_upper"] == 45 and not ok.warnings
    with pytest.raises(
        RecordError, match=r"given units at site scm_middle: 45 U is outside this site's dose \(10–40 U\)"
    ):
        records.record_visit("TEST-0002", cd, visit_date="2026-05-02", given={"scm_middle": 45}, reason="x", **SIGN)
    res = records.record_visit(
        "TEST-0002",
        cd,
        visit_date="2026-05-02",
        given={"scm_middle": 45},
        reason="x",
        override="EMG: large muscle",
        **SIGN,
    )
    assert any(w.startswith("OVERRIDE: given units at site scm_middle") for w in res.warnings)
    # a draft stores the problem as a warning; signing it needs the override
    draft = records.record_visit(
        "TEST-0002", cd, visit_date="2026-08-02", given={"splenius_lower": 10}, reason="y", sign=False,
        product="BOTOX", lot="L1", expiry="2027-12-31", injector="Dr Test",
    )  # fmt: skip
    assert any("splenius_lower: 10 U is outside" in w for w in draft.warnings)
    lock = records.visit_record(draft.visit_id)["lock_version"]
    with pytest.raises(RecordError, match="splenius_lower: 10 U is outside this site's dose"):
        records.sign_visit(draft.visit_id, lock)
    # an amendment is checked the same way
    with pytest.raises(RecordError, match="scm_upper: 41 U is outside"):
        records.amend_visit(ok.visit_id, reason="typo", author="A", given={"scm_upper": 41})
    # a protocol pinned under an older schema has no ranges to check (the caps still apply)
    from visualizer.records import rules

    assert rules.dose_problems({"schema": 0}, [("scm_upper", 45.0)]) == []
    assert rules.dose_problems(cd.protocol_json, [("scm_upper", 45.0), ("ftp_x_1_left", 5.0)]) == [
        "given units at site scm_upper: 45 U is outside this site's dose (10–40 U)"
    ]
