"""The records' command line: ``patient``, ``visit``, ``diary``, ``report``, ``export``, ``db``.

Registered into :mod:`visualizer.cli` by :func:`add_commands`; each subcommand stores its
handler as ``args.records_handler``. Refusals raise :class:`~visualizer.errors.InjectVizError`
(printed as one message, exit code 2, nothing written). Heavy imports (SQLAlchemy, VTK, fpdf2)
happen inside the handlers so the other commands stay fast.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visualizer.records.errors import RecordError

Handler = Callable[[argparse.Namespace], int]


def add_global_options(ap: argparse.ArgumentParser) -> None:
    """``--db URL`` (before the subcommand)."""
    ap.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="records database URL (default: $INJECTVIZ_DB or a SQLite file in the user's data folder)",
    )


def _kv(flag: str) -> Callable[[str], tuple[str, str]]:
    def parse(text: str) -> tuple[str, str]:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: use SITE_ID=VALUE")
        return key.strip(), value

    return parse


def _pairs(items: list[tuple[str, str]] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in items or []:
        if k in out:
            raise RecordError(f"{flag} {k}: given twice")
        out[k] = v
    return out


def _units(items: list[tuple[str, str]] | None, flag: str) -> dict[str, float]:
    from visualizer.records.rules import parse_units

    return {k: parse_units(v, f"{flag} {k}") for k, v in _pairs(items, flag).items()}


def _extras(items: list[tuple[str, str]] | None, reason: str | None) -> list[Any]:
    from visualizer.records.service import ExtraSite

    extras = _units(items, "--extra")
    if extras and not (reason and reason.strip()):
        raise RecordError("--reason: required with --extra (say why the site was added)")
    return [ExtraSite(k, v, reason or "") for k, v in extras.items()]


def _site_changes(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, str], list[Any]]:
    """``--given``, ``--skip`` and ``--extra`` of ``visit record`` and ``visit amend``, checked."""
    return _units(args.given, "--given"), _pairs(args.skip, "--skip"), _extras(args.extra, args.reason)


def _warn(warnings: tuple[str, ...]) -> None:
    for w in warnings:
        print(f"WARNING: {w}", file=sys.stderr)


def _show(args: argparse.Namespace, data: Any, table: Callable[[Any], None]) -> int:
    """``--format json`` or the table."""
    if args.format == "json":
        _print_json(data)
    else:
        table(data)
    return 0


def _records(args: argparse.Namespace):  # -> Records (lazy import)
    from visualizer.records.db import open_database
    from visualizer.records.service import Records

    return Records(open_database(args.db))


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


# ----------------------------------------------------------------------------- handlers
def _patient_add(args: argparse.Namespace) -> int:
    r = _records(args)
    p = r.add_patient(
        args.code,
        name=args.name,
        birth_year=args.birth_year,
        pain_regions=args.pain,
        pain_point=args.pain_point,
        protocol=args.protocol,
        notes=args.notes,
    )
    print(f"added patient {p['code']}")
    return 0


def _patient_list(args: argparse.Namespace) -> int:
    return _show(args, _records(args).list_patients(), _patient_table)


def _patient_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'code':<20} {'name':<30} {'visits':>6}  last visit")
    for p in rows:
        print(f"{p['code']:<20} {(p['name'] or ''):<30.30} {p['visits']:>6}  {p['last_visit'] or '-'}")


def _pain_words(pain: dict[str, Any]) -> str:
    parts = list(pain.get("regions") or [])
    if pain.get("point"):
        parts.append("point (" + ", ".join(f"{c:.1f}" for c in pain["point"]) + ") mm")
    return ", ".join(parts) or "-"


def _patient_show(args: argparse.Namespace) -> int:
    p = _records(args).patient_summary(args.code)
    p.pop("lock_version", None)
    return _show(args, p, _patient_text)


def _patient_text(p: dict[str, Any]) -> None:
    print(f"patient     {p['code']}" + (f" ({p['name']})" if p["name"] else ""))
    if p["birth_year"]:
        print(f"born        {p['birth_year']}")
    print(f"usual pain  {_pain_words(p['usual_pain'])}")
    print(f"protocol    {p['preferred_protocol'] or '-'}")
    print(f"next due    {p['next_due'] or '-'}")
    a = p["assessment"]
    if a["baseline_headache_days"] is not None:
        print(f"baseline    {a['baseline_headache_days']:g} headache days/month ({', '.join(a['baseline_months'])})")
    for f in a["flags"]:
        print(f"FLAG: {f['flag']} — {f['reason']} [{f['source']}]")
    _visit_table(p["visits"])
    if p["outcomes"]:
        print("\nmonth     headache  migraine  acute")
        for o in p["outcomes"]:
            md = "-" if o["migraine_days"] is None else o["migraine_days"]
            ad = "-" if o["acute_days"] is None else o["acute_days"]
            print(f"{o['month']:<9} {o['headache_days']:>8}  {md!s:>8}  {ad!s:>5}")


def _visit_table(visits: list[dict[str, Any]]) -> None:
    print(f"\n{'id':>5}  {'date':<10}  {'protocol':<18} {'given U':>8}  {'status':<7} {'ver':>3}  lot")
    for v in visits:
        print(
            f"{v['id']:>5}  {v['date']:<10}  {v['protocol']:<18} {v['total_given_units']:>8g}  "
            f"{v['status']:<7} {v['version']:>3}  {v['lot'] or '-'}"
        )
    if not visits:
        print("  (no visits)")


def _visit_record(args: argparse.Namespace) -> int:
    from visualizer.records.plan_input import load_checked_plan

    given, skip, extras = _site_changes(args)
    checked = load_checked_plan(args.plan)
    res = _records(args).record_visit(
        args.code,
        checked,
        product=args.product,
        lot=args.lot,
        expiry=args.expiry,
        injector=args.injector,
        visit_date=args.date,
        given=given,
        skip=skip,
        extras=extras,
        reason=args.reason,
        override=args.override,
    )
    _warn(res.warnings)
    print(res.visit_id)
    return 0


def _visit_list(args: argparse.Namespace) -> int:
    return _show(args, _records(args).list_visits(args.code), _visit_table)


def _visit_amend(args: argparse.Namespace) -> int:
    given, skip, extras = _site_changes(args)
    res = _records(args).amend_visit(
        args.visit_id,
        reason=args.reason,
        author=args.by,
        given=given,
        skip=skip,
        extras=extras,
        lot=args.lot,
        expiry=args.expiry,
        override=args.override,
    )
    _warn(res.warnings)
    print(f"visit {res.visit_id}: version {res.version} (the earlier versions are kept)")
    return 0


def _diary_add(args: argparse.Namespace) -> int:
    row = _records(args).add_diary(
        args.code, args.month, args.headache_days, args.migraine_days, args.acute_days, replace=args.replace
    )
    print(f"{args.code} {row['month']}: {row['headache_days']} headache days")
    return 0


def _report(args: argparse.Namespace) -> int:
    from visualizer.records.files import check_target

    if args.out.suffix.lower() != ".pdf":
        raise RecordError(f"--out {args.out}: the report is written as PDF; give a .pdf file name")
    check_target(args.out, "--out")
    record = _records(args).visit_record(args.visit_id)
    from visualizer.records.report import write_handout, write_visit_report

    (write_handout if args.handout else write_visit_report)(record, args.out)
    print(f"wrote {args.out}")
    return 0


CSV_FIELDS = (
    "visit_id", "version", "date", "status", "protocol", "protocol_hash", "product", "lot", "expiry",
    "dilution", "injector", "site_id", "order", "muscle", "side", "planned_units", "given_units",
    "skipped", "skip_reason", "extra", "extra_reason", "override_reason",
)  # fmt: skip


def _cell(v: Any) -> Any:
    """Neutralise spreadsheet formulas in free text (a cell starting with = + - @ is shown as text)."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return "" if v is None else v


def export_csv(data: dict[str, Any]) -> str:
    """One row per site per visit (the version in force)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for v in data["visits"]:
        for s in v["sites"]:
            row = {**v, **s, "visit_id": v["id"]}
            w.writerow([_cell(row.get(k)) for k in CSV_FIELDS])
    return buf.getvalue()


def _export(args: argparse.Namespace) -> int:
    data = _records(args).export(args.code)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n" if args.format == "json" else export_csv(data)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    from visualizer.records.files import write_atomic

    write_atomic(args.out, text.encode("utf-8"))
    print(f"wrote {args.out} ({len(data['visits'])} visits)", file=sys.stderr)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from visualizer.records.maintenance import upgrade

    for line in upgrade(args.db):
        print(line)
    return 0


def _db_backup(args: argparse.Namespace) -> int:
    from visualizer.records.maintenance import backup

    print(backup(args.db, args.file))
    return 0


# ----------------------------------------------------------------------------- parser
def add_commands(sub: Any) -> None:
    """Add the records subcommands to the main parser's subparsers."""
    units_help = "SITE_ID=UNITS (0–50)"

    patient = sub.add_parser("patient", help="patients: add, list, show (records)")
    psub = patient.add_subparsers(dest="patient_command", required=True)
    a = psub.add_parser("add", help="add a patient under a pseudonym code")
    a.add_argument("code", help="unique pseudonym, e.g. TEST-0001 (no real names in codes)")
    a.add_argument("--name", help="optional display name")
    a.add_argument("--birth-year", type=int, metavar="YYYY")
    a.add_argument("--pain", nargs="+", default=[], metavar="REGION", help="usual pain origin region(s)")
    a.add_argument("--pain-point", nargs=3, type=float, metavar=("X", "Y", "Z"), help="usual pain point, mesh mm")
    a.add_argument("--protocol", metavar="ID", help="preferred protocol id")
    a.add_argument("--notes")
    a.set_defaults(records_handler=_patient_add)
    lst = psub.add_parser("list", help="list patients")
    lst.add_argument("--format", choices=("table", "json"), default="table")
    lst.set_defaults(records_handler=_patient_list)
    sh = psub.add_parser("show", help="a patient: usual pain, visits, next due date, outcomes")
    sh.add_argument("code")
    sh.add_argument("--format", choices=("table", "json"), default="table")
    sh.set_defaults(records_handler=_patient_show)

    visit = sub.add_parser("visit", help="visits: record (and sign), list, amend (records)")
    vsub = visit.add_subparsers(dest="visit_command", required=True)
    r = vsub.add_parser("record", help="record and sign a visit; prints the new visit id")
    r.add_argument("code")
    r.add_argument("--plan", type=Path, required=True, help="PLAN.json from `injectviz plan --format json`")
    r.add_argument("--product", required=True)
    r.add_argument("--lot", required=True)
    r.add_argument("--expiry", required=True, metavar="YYYY-MM-DD")
    r.add_argument("--injector", required=True, metavar="NAME")
    r.add_argument("--date", metavar="YYYY-MM-DD", help="visit date (default today)")
    r.add_argument("--given", nargs="+", type=_kv("--given"), metavar="SITE_ID=UNITS", help=units_help)
    r.add_argument("--skip", nargs="+", type=_kv("--skip"), metavar="SITE_ID=REASON")
    r.add_argument("--extra", nargs="+", type=_kv("--extra"), metavar="SITE_ID=UNITS", help="a site not in the plan")
    r.add_argument("--reason", help="why the visit deviates from the plan")
    r.add_argument("--override", metavar="TEXT", help="reason to record a total above a cap (printed in red)")
    r.set_defaults(records_handler=_visit_record)
    vl = vsub.add_parser("list", help="a patient's visits")
    vl.add_argument("code")
    vl.add_argument("--format", choices=("table", "json"), default="table")
    vl.set_defaults(records_handler=_visit_list)
    am = vsub.add_parser("amend", help="amend a signed visit (a new version; the old one is kept)")
    am.add_argument("visit_id", type=int)
    am.add_argument("--reason", required=True, help="why the record is amended")
    am.add_argument("--by", metavar="NAME", help="who amends (default: the login name)")
    am.add_argument("--given", nargs="+", type=_kv("--given"), metavar="SITE_ID=UNITS", help=units_help)
    am.add_argument("--skip", nargs="+", type=_kv("--skip"), metavar="SITE_ID=REASON")
    am.add_argument("--extra", nargs="+", type=_kv("--extra"), metavar="SITE_ID=UNITS")
    am.add_argument("--lot")
    am.add_argument("--expiry", metavar="YYYY-MM-DD")
    am.add_argument("--override", metavar="TEXT")
    am.set_defaults(records_handler=_visit_amend)

    diary = sub.add_parser("diary", help="outcome diary: headache days per month (records)")
    dsub = diary.add_subparsers(dest="diary_command", required=True)
    d = dsub.add_parser("add", help="record one month")
    d.add_argument("code")
    d.add_argument("--month", required=True, metavar="YYYY-MM")
    d.add_argument("--headache-days", type=int, required=True, metavar="N")
    d.add_argument("--migraine-days", type=int, metavar="N")
    d.add_argument("--acute-days", type=int, metavar="N", help="days with acute medication")
    d.add_argument("--replace", action="store_true", help="replace a month already recorded")
    d.set_defaults(records_handler=_diary_add)

    rep = sub.add_parser("report", help="A4 PDF: the visit record, or the patient's handout")
    rep.add_argument("visit_id", type=int)
    rep.add_argument("--out", type=Path, required=True, metavar="FILE.pdf")
    rep.add_argument("--handout", action="store_true", help="the patient's handout instead of the record")
    rep.set_defaults(records_handler=_report)

    ex = sub.add_parser("export", help="a patient's whole record as JSON or CSV")
    ex.add_argument("code")
    ex.add_argument("--format", choices=("json", "csv"), required=True)
    ex.add_argument("--out", type=Path, help="file (default: standard output)")
    ex.set_defaults(records_handler=_export)

    db = sub.add_parser("db", help="records database: upgrade (backs up first), backup FILE")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="bring the schema up to date (makes a backup first)")
    up.set_defaults(records_handler=_db_upgrade)
    bk = dbsub.add_parser("backup", help="online backup of the database to FILE")
    bk.add_argument("file", type=Path)
    bk.set_defaults(records_handler=_db_backup)
