"""Protocol-file problems: located issues, and the one-line messages they become.

A check anywhere in the protocol code reports an *issue*: ``(field path, message, value)``.
Several issues found by one model check travel inside one pydantic error (:func:`bundle`) and
are unpacked again here (:func:`pydantic_issues`); :func:`format_issue` turns each into
``"FILE: field.path (site 'id'): message (got VALUE) [inherited from BASE]"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from visualizer.errors import shorten

__all__ = ["NO_VALUE", "Issue", "Loc", "bundle", "format_issue", "pydantic_issues"]

#: Placeholder for "no value to show" in an issue.
NO_VALUE: Any = object()
Loc = tuple[str | int, ...]
Issue = tuple[Loc, str, Any]
_ISSUES = "injectviz_checks"


def bundle(issues: list[Issue]) -> PydanticCustomError:
    """Bundle several located problems into one pydantic error (expanded again by the formatter)."""
    summary = "; ".join(f"{'.'.join(map(str, loc)) or '(top level)'}: {msg}" for loc, msg, _ in issues)
    return PydanticCustomError(_ISSUES, "{summary}", {"summary": summary, "issues": issues})


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return shorten(value)


def pydantic_issues(exc: ValidationError) -> list[Issue]:
    """Flatten a ValidationError into located issues (expanding bundled model checks)."""
    out: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == _ISSUES:
            out.extend((loc + tuple(sub), msg, value) for sub, msg, value in err["ctx"]["issues"])
            continue
        msg = err["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        if err["type"] == "missing":
            out.append((loc, "required field is missing", NO_VALUE))
        elif err["type"] == "extra_forbidden":
            out.append((loc, f"unknown key {shorten(loc[-1])} (not in the schema)", err["input"]))
        else:
            out.append((loc, msg, err["input"]))
    return out


def _field_part(part: str | int) -> str:
    """A location part as shown in a message (a huge key from a hostile file is cut short)."""
    return str(part) if isinstance(part, int) or len(part) <= 40 else shorten(part, 40)


def format_issue(path: Path, issue: Issue, data: dict[str, Any], origin: dict[str, Path]) -> str:
    """``FILE: field.path (site 'id'): message (got VALUE) [inherited from BASE]``."""
    loc, msg, value = issue
    field = ".".join("(key)" if part == "[key]" else _field_part(part) for part in loc) or "(top level)"
    hint = ""
    if len(loc) >= 2 and loc[0] == "sites" and isinstance(loc[1], int):
        sites = data.get("sites")
        if isinstance(sites, list) and loc[1] < len(sites) and isinstance(sites[loc[1]], dict):
            sid = sites[loc[1]].get("id")
            if isinstance(sid, str):
                hint = f" (site {shorten(sid)})"
    inherited = ""
    if loc and isinstance(loc[0], str) and origin.get(loc[0], path) != path:
        inherited = f" [inherited from {origin[loc[0]].name}]"
    got = "" if value is NO_VALUE else f" (got {_show(value)})"
    return f"{path}: {field}{hint}: {msg}{got}{inherited}"
