"""The records command line as issue 8 specifies it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from conftest import record_visit as _record
from conftest import run_cli


def _show(capsys, db, code="TEST-0001") -> dict:
    rc, out, err = run_cli(capsys, "--db", db, "patient", "show", code, "--format", "json")
    assert rc == 0, err
    return json.loads(out)


def test_patient_add_show_and_unique_codes(db_url, capsys):
    rc, out, err = run_cli(
        capsys,
        "--db",
        db_url,
        "patient",
        "add",
        "TEST-0001",
        "--name",
        "Test Person",
        "--birth-year",
        "1980",
        "--pain",
        "left-temporal",
        "occipital",
        "--protocol",
        "preempt",
    )
    assert rc == 0, err
    p = _show(capsys, db_url)
    assert p["code"] == "TEST-0001"
    assert p["usual_pain"] == {"regions": ["left-temporal", "occipital"], "point": None}
    assert p["preferred_protocol"] == "preempt" and p["birth_year"] == 1980
    assert p["visits"] == [] and p["outcomes"] == [] and p["next_due"] is None

    rc, out, err = run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    assert rc == 2 and "'TEST-0001': already exists" in err and "Traceback" not in err
    rc, out, err = run_cli(capsys, "--db", db_url, "patient", "add", "bad code!")
    assert rc == 2 and "patient code 'bad code!'" in err
    rc, out, err = run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0002", "--pain", "elbow")
    assert rc == 2 and "--pain" in err and "'elbow'" in err
    rc, out, err = run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0002", "--birth-year", "1850")
    assert rc == 2 and "--birth-year 1850" in err
    rc, out, err = run_cli(capsys, "--db", db_url, "patient", "list")
    assert rc == 0 and "TEST-0001" in out and "TEST-0002" not in out
    rc, out, err = run_cli(capsys, "--db", db_url, "patient", "show", "TEST-9999")
    assert rc == 2 and "'TEST-9999': no such patient" in err


def test_visit_record_prints_id_alone_and_show_lists_it(db_url, plan_file, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    rc, out, err = _record(
        capsys,
        db_url,
        plan_file,
        "--skip",
        "trapezius_3_right=patient declined",
        "--given",
        "procerus=4",
        "--reason",
        "narrow brow",
    )
    assert rc == 0, err
    assert out.strip().isdigit() and out == out.strip() + "\n"  # the id alone on a line
    vid = int(out)
    p = _show(capsys, db_url)
    assert p["visits"] == [
        {
            "id": vid,
            "date": "2026-01-05",
            "protocol": "preempt",
            "total_given_units": 149.0,
            "status": "signed",
            "version": 1,
            "lot": "TESTLOT-1",
        }
    ]
    assert p["next_due"] == (dt.date(2026, 1, 5) + dt.timedelta(weeks=12)).isoformat()
    rc, out, err = run_cli(capsys, "--db", db_url, "visit", "list", "TEST-0001", "--format", "json")
    assert rc == 0 and json.loads(out)[0]["id"] == vid


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--lot", " "), r"--lot: required to sign"),
        (("--expiry", "2025-12-31"), r"--expiry 2025-12-31: the product expired before the visit date 2026-01-05"),
        (("--expiry", "2026-02-30"), r"--expiry '2026-02-30': no such date"),
        (("--date", "05/01/2026"), r"--date '05/01/2026': not a date; use YYYY-MM-DD"),
        (("--given", "procerus=nan", "--reason", "x"), r"--given procerus nan: units must be a finite number"),
        (("--given", "procerus=inf", "--reason", "x"), r"--given procerus inf: units must be a finite number"),
        (("--given", "procerus=-1", "--reason", "x"), r"--given procerus -1: units must not be negative"),
        (("--given", "procerus=51", "--reason", "x"), r"--given procerus 51: exceeds 50 U per site"),
        (("--given", "procerus=abc"), r"--given procerus 'abc': units must be a number"),
        (("--given", "nosuch=5", "--reason", "x"), r"--given nosuch: no such site in the plan"),
        (("--given", "procerus=6"), r"--reason: required because given units differ from the plan at procerus"),
        (("--skip", "procerus= "), r"--skip procerus: required"),
        (("--extra", "masseter_left=5"), r"--reason: required with --extra"),
    ],
)
def test_visit_refusals_name_field_and_value_and_write_nothing(db_url, plan_file, capsys, args, message):
    import re

    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    rc, out, err = _record(capsys, db_url, plan_file, *args)
    assert rc == 2, (out, err)
    assert re.search(message, err), err
    assert "Traceback" not in err and out == ""
    assert _show(capsys, db_url)["visits"] == []


def test_plan_file_is_checked_like_check(db_url, plan_data, tmp_path, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    bad = dict(plan_data, sites=[dict(s, units=60.0) if i == 0 else s for i, s in enumerate(plan_data["sites"])])
    f = tmp_path / "edited.json"
    f.write_text(json.dumps(bad))
    rc, _, err = _record(capsys, db_url, f)
    assert rc == 2 and "the plan fails its checks" in err and "60 U exceeds 50 U per site" in err
    f.write_text("{not json")
    rc, _, err = _record(capsys, db_url, f)
    assert rc == 2 and "--plan: " in err and str(f) in err and "not valid JSON" in err
    rc, _out, err = _record(capsys, db_url, tmp_path / "missing.json")
    assert rc == 2 and "missing.json: plan file not found" in err
    assert _show(capsys, db_url)["visits"] == []


def test_caps_need_an_override_which_is_stored(db_url, plan_file, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    # over the protocol's 155 U per session (one site raised to 10 U)
    rc, out, err = _record(capsys, db_url, plan_file, "--given", "procerus=10", "--reason", "thick procerus")
    assert rc == 2 and "given total 160 U exceeds the preempt maximum of 155 U per session" in err
    assert "--override" in err
    rc, out, err = _record(
        capsys,
        db_url,
        plan_file,
        "--given",
        "procerus=10",
        "--reason",
        "thick procerus",
        "--override",
        "specialist decision, documented",
    )
    assert rc == 0, err
    vid = int(out)
    # cumulative: 160 + 155 within 90 days is fine, a third visit within the same 90 days is 470 U
    assert _record(capsys, db_url, plan_file, date="2026-02-05")[0] == 0
    rc, out, err = _record(capsys, db_url, plan_file, date="2026-03-01")
    assert rc == 2
    assert "patient total 470 U from 2026-01-05 to 2026-04-04 exceeds the 400 U cumulative limit per 3 months" in err
    assert len(_show(capsys, db_url)["visits"]) == 2
    # 91 days after the first visit the window no longer holds it: 155 + 155 = 310 U
    assert _record(capsys, db_url, plan_file, date="2026-04-06")[0] == 0

    rc, out, err = run_cli(capsys, "--db", db_url, "export", "TEST-0001", "--format", "json")
    first = next(v for v in json.loads(out)["visits"] if v["id"] == vid)
    assert first["override_reason"] == "specialist decision, documented"
    assert any(w.startswith("OVERRIDE: given total 160 U") for w in first["warnings"])


def test_migraine_visit_within_12_weeks_is_recorded_with_a_warning(db_url, plan_file, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    assert _record(capsys, db_url, plan_file, date="2026-01-05")[0] == 0
    rc, out, err = _record(capsys, db_url, plan_file, date="2026-03-02")
    assert rc == 0
    assert "WARNING: visit on 2026-03-02 is 56 days (8.0 weeks) after the previous migraine visit on 2026-01-05" in err
    rc, out2, _ = run_cli(capsys, "--db", db_url, "export", "TEST-0001", "--format", "json")
    v = next(v for v in json.loads(out2)["visits"] if v["id"] == int(out))
    assert any("re-treatment interval is 12 weeks" in w for w in v["warnings"])
    rc, out, err = _record(capsys, db_url, plan_file, date="2026-06-01")
    assert rc == 0 and "WARNING" not in err
    assert _show(capsys, db_url)["next_due"] == "2026-08-24"


def test_amend_keeps_the_signed_version(db_url, plan_file, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    vid = int(_record(capsys, db_url, plan_file)[1])
    before = json.loads(run_cli(capsys, "--db", db_url, "export", "TEST-0001", "--format", "json")[1])["visits"][0]
    rc, out, err = run_cli(
        capsys,
        "--db",
        db_url,
        "visit",
        "amend",
        str(vid),
        "--reason",
        "site 1 was 4 U",
        "--by",
        "Dr Second",
        "--given",
        "procerus=4",
        "--skip",
        "trapezius_1_left=bruise",
    )
    assert rc == 0 and "version 2" in out, err
    after = json.loads(run_cli(capsys, "--db", db_url, "export", "TEST-0001", "--format", "json")[1])["visits"][0]
    assert after["version"] == 2 and after["author"] == "Dr Second" and after["amend_reason"] == "site 1 was 4 U"
    assert after["created_at"] and after["total_given_units"] == 149.0
    old = after["history"][0]
    assert old["version"] == 1 and old["sites"] == before["sites"] and old["total_given_units"] == 155.0
    assert old["signed_at"] == before["signed_at"]
    rc, out, err = run_cli(
        capsys, "--db", db_url, "visit", "amend", str(vid), "--reason", "x", "--given", "procerus=99"
    )
    assert rc == 2 and "--given procerus 99: exceeds 50 U per site" in err
    rc, out, err = run_cli(capsys, "--db", db_url, "visit", "amend", "999", "--reason", "x")
    assert rc == 2 and "visit 999: no such visit" in err
    rc, out, err = run_cli(capsys, "--db", db_url, "visit", "amend", str(vid), "--reason", " ")
    assert rc == 2 and "--reason: required" in err


def test_diary(db_url, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    for m, n in (("2025-10", 20), ("2025-11", 18)):
        rc, _, err = run_cli(
            capsys,
            "--db",
            db_url,
            "diary",
            "add",
            "TEST-0001",
            "--month",
            m,
            "--headache-days",
            str(n),
            "--migraine-days",
            "9",
            "--acute-days",
            "6",
        )
        assert rc == 0, err
    rc, _, err = run_cli(
        capsys, "--db", db_url, "diary", "add", "TEST-0001", "--month", "2025-11", "--headache-days", "3"
    )
    assert rc == 2 and "--month 2025-11: patient TEST-0001 already has this month" in err
    assert (
        run_cli(
            capsys,
            "--db",
            db_url,
            "diary",
            "add",
            "TEST-0001",
            "--month",
            "2025-11",
            "--headache-days",
            "3",
            "--replace",
        )[0]
        == 0
    )
    for args, msg in (
        (("--month", "2025-13", "--headache-days", "3"), "--month '2025-13': not a month"),
        (("--month", "2026-02", "--headache-days", "29"), "--headache-days 29: must be between 0 and 28"),
        (("--month", "2026-02", "--headache-days", "-1"), "--headache-days -1: must be between 0"),
        (("--month", "2026-02", "--headache-days", "5", "--migraine-days", "6"), "--migraine-days 6: more than"),
    ):
        rc, _out, err = run_cli(capsys, "--db", db_url, "diary", "add", "TEST-0001", *args)
        assert rc == 2 and msg in err, err
    assert _show(capsys, db_url)["outcomes"] == [
        {"month": "2025-10", "headache_days": 20, "migraine_days": 9, "acute_days": 6},
        {"month": "2025-11", "headache_days": 3, "migraine_days": None, "acute_days": None},
    ]


def test_export_json_and_csv(db_url, plan_file, tmp_path, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    _record(capsys, db_url, plan_file, "--skip", "procerus=declined")
    out_file = tmp_path / "export.json"
    rc, out, err = run_cli(capsys, "--db", db_url, "export", "TEST-0001", "--format", "json", "--out", str(out_file))
    assert rc == 0 and (out_file.stat().st_mode & 0o777) == 0o600
    data = json.loads(out_file.read_text())
    v = data["visits"][0]
    assert (v["product"], v["lot"], v["expiry"]) == ("BOTOX 100 U", "TESTLOT-1", "2027-12-31")
    assert len(v["sites"]) == 31
    pro = next(s for s in v["sites"] if s["site_id"] == "procerus")
    assert (
        pro["planned_units"] == 5.0
        and pro["given_units"] == 0.0
        and pro["skipped"]
        and pro["skip_reason"] == "declined"
    )
    rc, out, err = run_cli(capsys, "--db", db_url, "export", "TEST-0001", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 31 and rows[0]["site_id"] == "procerus" and rows[0]["skipped"] == "True"
    assert rows[1]["planned_units"] == "5.0" and rows[1]["given_units"] == "5.0" and rows[1]["lot"] == "TESTLOT-1"
    rc, out, err = run_cli(
        capsys, "--db", db_url, "export", "TEST-0001", "--format", "json", "--out", str(tmp_path / "no" / "x.json")
    )
    assert rc == 2 and "does not exist" in err


def test_csv_neutralises_formulas(db_url, plan_file, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    _record(capsys, db_url, plan_file, "--skip", 'procerus==HYPERLINK("x")')
    _rc, out, _err = run_cli(capsys, "--db", db_url, "export", "TEST-0001", "--format", "csv")
    assert "'=HYPERLINK" in out


def test_bad_database_url_is_a_clear_message(capsys, tmp_path):
    rc, _, err = run_cli(capsys, "--db", "nonsense://", "patient", "list")
    assert rc == 2 and "error: " in err and "Traceback" not in err
    rc, _out, err = run_cli(capsys, "--db", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none", "patient", "list")
    assert rc == 2 and "cannot open it" in err and "secret" not in err


def test_other_commands_unaffected(capsys):
    rc, out, _err = run_cli(capsys, "protocols")
    assert rc == 0 and "preempt" in out


def test_default_database_is_private_and_wal(tmp_path, monkeypatch, plan_file, capsys):
    import sqlite3

    monkeypatch.delenv("INJECTVIZ_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    rc, _out, err = run_cli(capsys, "patient", "add", "TEST-0001")
    assert rc == 0, err
    db = tmp_path / "xdg" / "injectviz" / "records.sqlite3"
    assert db.is_file()
    assert (db.stat().st_mode & 0o777) == 0o600
    assert (db.parent.stat().st_mode & 0o777) == 0o700
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    from visualizer.records.db import open_database

    d = open_database(f"sqlite:///{db}")
    with d.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    d.dispose()


def test_env_var_selects_the_database(tmp_path, monkeypatch, capsys):
    target = tmp_path / "env.sqlite3"
    monkeypatch.setenv("INJECTVIZ_DB", f"sqlite:///{target}")
    assert run_cli(capsys, "patient", "add", "TEST-0001")[0] == 0
    assert target.is_file() and Path(target).stat().st_size > 0
