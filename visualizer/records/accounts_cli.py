"""``injectviz user add|list|disable|passwd`` and ``injectviz audit``: accounts and the audit log.

A password is read from ``--password-file FILE`` (its first line) or typed at a prompt (twice,
not echoed); it is never a command-line argument, and no password or hash is ever printed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from visualizer.records.errors import RecordError

PASSWORD_FILE_MAX = 4096


def _db(args: argparse.Namespace):
    from visualizer.records.db import open_database

    return open_database(args.db)


def read_password(path: Path | None, *, confirm: bool = True) -> str:
    """The new password: the first line of ``path``, or typed twice at a prompt."""
    if path is not None:
        try:
            if not path.is_file():
                raise RecordError("--password-file: not a regular file")  # no name: it may be a mistyped password
            with path.open("rb") as f:
                data = f.read(PASSWORD_FILE_MAX + 1)
        except OSError as exc:
            raise RecordError(f"--password-file {path}: cannot read it ({exc.strerror})") from None
        if len(data) > PASSWORD_FILE_MAX:
            raise RecordError(f"--password-file {path}: more than {PASSWORD_FILE_MAX} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordError(f"--password-file {path}: not UTF-8 text") from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        raise RecordError("no terminal to ask for the password: give --password-file FILE")
    first = getpass.getpass("New password: ")
    if confirm and getpass.getpass("Repeat it: ") != first:
        raise RecordError("the two passwords differ; nothing was changed")
    return first


def _user_add(args: argparse.Namespace) -> int:
    from visualizer.records.accounts import Accounts, check_name, check_role

    check_name(args.name)
    check_role(args.role)
    password = read_password(args.password_file)
    acct = Accounts(_db(args)).add(args.name, args.role, password)
    print(f"added user {acct.name} ({acct.role})")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    from visualizer.records.accounts import Accounts

    rows = Accounts(_db(args)).list()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<24} {'role':<9} {'status':<9} created")
    for u in rows:
        print(
            f"{u['name']:<24} {u['role']:<9} {'disabled' if u['disabled'] else 'active':<9} "
            f"{(u['created_at'] or '-')[:16].replace('T', ' ')}"
        )
    if not rows:
        print("  (no users: the app runs without login, on loopback only)")
    return 0


def _user_disable(args: argparse.Namespace) -> int:
    from visualizer.records.accounts import Accounts

    Accounts(_db(args)).disable(args.name)
    print(f"disabled user {args.name} (a running server logs it out at its next request)")
    return 0


def _user_passwd(args: argparse.Namespace) -> int:
    from visualizer.records.accounts import Accounts, check_name

    check_name(args.name)
    accounts = Accounts(_db(args))
    if accounts.current(args.name) is None and args.name not in {u["name"] for u in accounts.list()}:
        raise RecordError(f"user {args.name!r}: no such user (see `injectviz user list`)")
    accounts.set_password(args.name, read_password(args.password_file))
    print(f"changed the password of {args.name}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from visualizer.records.audit import entries

    rows = entries(_db(args), patient=args.patient, user=args.user)
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(f"{'when (UTC)':<19}  {'who':<28} {'from':<24} {'action':<18} {'outcome':<7} patient  visit")
    for e in rows:
        print(_line(e))
    if not rows:
        print("  (no entries)")
    return 0


def _line(e: dict[str, Any]) -> str:
    when = (e["at"] or "")[:19].replace("T", " ")
    return (
        f"{when:<19}  {e['who'][:28]:<28} {e['source'][:24]:<24} {e['action'][:18]:<18} {e['outcome']:<7} "
        f"{e['patient'] or '-':<8} {e['visit'] if e['visit'] is not None else '-'}"
        + (f"  {e['detail']}" if e["detail"] else "")
    )


class _NoPasswordArgument(argparse.Action):
    """``--password``: refused without repeating the value (it would be in the shell history and ``ps``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            "--password: a password is never given as an argument (shell history, `ps`): use "
            "--password-file FILE or type it at the prompt"
        )


def _password_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-file", type=Path, metavar="FILE", help="read the password from FILE's first line")
    p.add_argument("--password", nargs="?", action=_NoPasswordArgument, help=argparse.SUPPRESS)


def add_commands(sub: Any) -> None:
    """``user`` and ``audit`` subcommands (records handlers: ``args.records_handler``)."""
    user = sub.add_parser("user", help="accounts of the app: add, list, disable, passwd")
    usub = user.add_subparsers(dest="user_command", required=True)
    a = usub.add_parser("add", help="add an account (asks for the password, or --password-file)")
    a.add_argument("name", help="login name: lower-case letters, digits, '.', '_', '-'")
    a.add_argument(
        "--role",
        required=True,
        choices=("injector", "trainer", "viewer"),
        help="injector: everything; trainer: plans, patient view, quiz, no records; "
        "viewer: the patient step-through only",
    )
    _password_options(a)
    a.set_defaults(records_handler=_user_add)
    lst = usub.add_parser("list", help="list accounts (never a password or hash)")
    lst.add_argument("--format", choices=("table", "json"), default="table")
    lst.set_defaults(records_handler=_user_list)
    d = usub.add_parser("disable", help="disable an account (it can no longer log in)")
    d.add_argument("name")
    d.set_defaults(records_handler=_user_disable)
    p = usub.add_parser("passwd", help="change an account's password")
    p.add_argument("name")
    _password_options(p)
    p.set_defaults(records_handler=_user_passwd)

    au = sub.add_parser("audit", help="the audit log: every read and write of the records (who, when, what, where)")
    au.add_argument("--patient", metavar="CODE", help="only this patient")
    au.add_argument("--user", metavar="NAME", help="only this user")
    au.add_argument("--format", choices=("table", "json"), default="table")
    au.set_defaults(records_handler=_audit)
