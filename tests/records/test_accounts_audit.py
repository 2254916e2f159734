"""Accounts (``injectviz user ...``) and the append-only audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """Argon2 with small parameters in these tests (a hash carries its own: verification is unchanged)."""
    from argon2 import PasswordHasher

    import visualizer.records.accounts as accounts

    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


@pytest.fixture
def pw_file(tmp_path: Path) -> Path:
    p = tmp_path / "pw.txt"
    p.write_text(PASSWORD + "\n")
    return p


def test_user_commands_never_show_a_password_or_hash(capsys, db_url, pw_file, tmp_path):
    rc, out, err = run_cli(
        capsys, "--db", db_url, "user", "add", "alice", "--role", "injector", "--password-file", str(pw_file)
    )
    assert rc == 0 and "added user alice (injector)" in out
    rc, out, err = run_cli(
        capsys, "--db", db_url, "user", "add", "tom", "--role", "trainer", "--password-file", str(pw_file)
    )
    assert rc == 0
    rc, out, err = run_cli(
        capsys, "--db", db_url, "user", "add", "alice", "--role", "viewer", "--password-file", str(pw_file)
    )
    assert rc == 2 and "already exists" in err
    rc, out, err = run_cli(
        capsys, "--db", db_url, "user", "add", "Alice Smith", "--role", "viewer", "--password-file", str(pw_file)
    )
    assert rc == 2 and "user name 'Alice Smith'" in err
    short = tmp_path / "short.txt"
    short.write_text("tiny\n")
    rc, out, err = run_cli(
        capsys, "--db", db_url, "user", "add", "vera", "--role", "viewer", "--password-file", str(short)
    )
    assert rc == 2 and "password: use 10" in err and "tiny" not in err
    rc, out, err = run_cli(
        capsys, "--db", db_url, "user", "add", "vera", "--role", "admin", "--password-file", str(pw_file)
    )
    assert rc == 2  # argparse: not a role
    rc, out, err = run_cli(capsys, "--db", db_url, "user", "list", "--format", "json")
    assert rc == 0 and '"alice"' in out and '"tom"' in out and "argon2" not in out and PASSWORD not in out
    rc, out, err = run_cli(capsys, "--db", db_url, "user", "disable", "tom")
    assert rc == 0
    new = tmp_path / "new.txt"
    new.write_text("another long secret\n")
    rc, out, err = run_cli(capsys, "--db", db_url, "user", "passwd", "alice", "--password-file", str(new))
    assert rc == 0 and "another" not in out + err
    rc, out, err = run_cli(capsys, "--db", db_url, "user", "passwd", "nobody", "--password-file", str(new))
    assert rc == 2 and "no such user" in err

    from visualizer.records.accounts import Accounts
    from visualizer.records.db import open_database

    db = open_database(db_url)
    try:
        a = Accounts(db)
        assert a.verify("alice", "another long secret").role == "injector"
        assert a.verify("alice", PASSWORD) is None
        assert a.verify("tom", PASSWORD) is None  # disabled
        assert a.verify("nobody", PASSWORD) is None
        assert a.count_active() == 1
        with db.engine.connect() as c:
            stored = c.execute(text("SELECT password_hash FROM users WHERE name = 'alice'")).scalar_one()
        assert stored.startswith("$argon2id$") and "another" not in stored
    finally:
        db.dispose()


def test_password_is_never_an_argument(capsys, db_url):
    for argv in (["--password", PASSWORD], [f"--password={PASSWORD}"], ["--password-file", PASSWORD]):
        rc, out, err = run_cli(capsys, "--db", db_url, "user", "add", "xavier", "--role", "viewer", *argv)
        assert rc == 2 and PASSWORD not in out + err, argv
    rc, out, err = run_cli(capsys, "--db", db_url, "user", "list")
    assert "xavier" not in out


def test_the_audit_log_cannot_be_changed_or_deleted(db_url, records):
    from visualizer.records.audit import Actor, AuditedRecords, entries

    r = AuditedRecords(records.db, Actor("alice", "injector", "127.0.0.1 (app)"))
    r.add_patient("TEST-0001")
    assert len(entries(records.db)) == 1
    statements = ["UPDATE audit_log SET who = 'mallory'", "DELETE FROM audit_log"]
    if records.db.url.get_backend_name() == "postgresql":
        statements.append("TRUNCATE audit_log")
    for sql in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            with records.db.engine.begin() as c:
                c.execute(text(sql))
    assert [e["who"] for e in entries(records.db)] == ["alice"]


def test_every_read_and_write_is_in_the_audit_log(capsys, db_url, plan_file, tmp_path):
    base = ["--db", db_url]
    assert run_cli(capsys, *base, "patient", "add", "TEST-0001", "--pain", "left-temporal")[0] == 0
    assert run_cli(capsys, *base, "patient", "show", "TEST-0001")[0] == 0
    rc, out, _err = run_cli(
        capsys,
        *base,
        "visit",
        "record",
        "TEST-0001",
        "--plan",
        str(plan_file),
        "--product",
        "onabotulinumtoxinA",
        "--lot",
        "TESTLOT1",
        "--expiry",
        "2099-01-01",
        "--injector",
        "Dr Test",
        "--date",
        "2026-01-05",
    )
    assert rc == 0
    visit = int(out.strip().splitlines()[-1])
    assert run_cli(capsys, *base, "visit", "amend", str(visit), "--reason", "lot typo", "--lot", "TESTLOT2")[0] == 0
    assert run_cli(capsys, *base, "diary", "add", "TEST-0001", "--month", "2026-01", "--headache-days", "9")[0] == 0
    assert run_cli(capsys, *base, "export", "TEST-0001", "--format", "json")[0] == 0
    assert run_cli(capsys, *base, "patient", "list")[0] == 0
    rc, out, _ = run_cli(capsys, *base, "audit", "--patient", "TEST-0001", "--format", "json")
    assert rc == 0
    import json

    rows = json.loads(out)
    assert [e["action"] for e in rows] == [
        "add_patient",
        "patient_summary",
        "record_visit",
        "amend_visit",
        "add_diary",
        "export",
    ]
    rec = rows[2]
    assert rec["visit"] == visit and rec["detail"] == "signed" and rec["outcome"] == "ok"
    assert all(e["who"].endswith("(command line)") and e["source"].startswith("command line on ") for e in rows)
    assert all(e["at"] for e in rows)
    rc, out, _ = run_cli(capsys, *base, "audit")
    assert rc == 0 and "list_patients" in out and "record_visit" in out
    # --user: the command line's entries are under the machine's user
    who = rows[0]["who"].split(" (")[0]
    rc, out, _ = run_cli(capsys, *base, "audit", "--user", who, "--format", "json")
    assert len(json.loads(out)) == 7
    rc, out, _ = run_cli(capsys, *base, "audit", "--user", "nobody-else", "--format", "json")
    assert json.loads(out) == []


def test_a_refused_write_leaves_no_entry_and_a_denial_is_recorded(records, checked):
    from visualizer.records.audit import Actor, AuditedRecords, append, entries
    from visualizer.records.errors import RecordError

    r = AuditedRecords(records.db, Actor("alice", "injector", "10.0.0.7 (app)"))
    r.add_patient("TEST-0001")
    with pytest.raises(RecordError):  # no lot: cannot sign
        r.record_visit("TEST-0001", checked, product="p", lot=None, expiry=None, injector="Dr Test")
    append(records.db, Actor("tom", "trainer", "10.0.0.8 (app)"), "patient_summary", outcome="denied", code="TEST-0001")
    rows = entries(records.db, patient="TEST-0001")
    assert [(e["who"], e["action"], e["outcome"]) for e in rows] == [
        ("alice", "add_patient", "ok"),
        ("tom", "patient_summary", "denied"),
    ]
    assert rows[0]["source"] == "10.0.0.7 (app)" and rows[0]["role"] == "injector"


def test_the_visit_report_prints_who_signed(records, checked, tmp_path):
    from visualizer.records.audit import Actor, AuditedRecords
    from visualizer.records.report import write_visit_report

    r = AuditedRecords(records.db, Actor("alice", "injector", "127.0.0.1 (app)"))
    r.add_patient("TEST-0001")
    res = r.record_visit(
        "TEST-0001",
        checked,
        product="onabotulinumtoxinA",
        lot="TESTLOT1",
        expiry="2099-01-01",
        injector="Dr Test",
        visit_date="2026-01-05",
    )
    rec = r.visit_record(res.visit_id)
    assert rec["signed_by"]["who"] == "alice" and rec["signed_by"]["source"] == "127.0.0.1 (app)"
    out = tmp_path / "visit.pdf"
    write_visit_report(rec, out)
    if not _has("pdftotext"):
        pytest.skip("pdftotext missing")
    words = " ".join(
        subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "Signed by alice on" in words and "127.0.0.1 (app)" in words


def _has(tool: str) -> bool:
    import shutil

    return shutil.which(tool) is not None
