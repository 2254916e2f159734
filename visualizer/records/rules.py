"""The record's rules as pure functions (no database): values, dates, caps, intervals.

Each refusal raises :class:`~visualizer.records.errors.RecordError` whose message names the
field and the value. Sources: the 400 U cumulative limit per 3 months and the 50 U per-site
ceiling are in :mod:`visualizer.safety` (BOTOX label, cited in ``protocols/README.md``); the
12-week PREEMPT re-treatment interval is from Blumenfeld 2010 (``protocols/preempt.yaml``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from visualizer.records.errors import RecordError
from visualizer.safety import CUMULATIVE_LIMIT_U, MAX_UNITS_PER_SITE

CUMULATIVE_WINDOW_DAYS = 90
CUMULATIVE_LABEL = "cumulative limit per 3 months"
MIGRAINE_INTERVAL_WEEKS = 12
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
MAX_TEXT = 2000


def check_code(code: str) -> str:
    """A patient code (a pseudonym): 1–40 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit."""
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise RecordError(
            f"patient code {code!r}: use 1–40 letters, digits, '.', '_' or '-' (a pseudonym such as TEST-0001)"
        )
    return code


def parse_date(text: str, field: str) -> dt.date:
    """``YYYY-MM-DD`` → date (refuses anything else, e.g. ``2025-02-30``)."""
    if isinstance(text, dt.date):
        return text
    if not isinstance(text, str) or not _DATE_RE.match(text):
        raise RecordError(f"{field} {text!r}: not a date; use YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{field} {text!r}: no such date") from None


def parse_month(text: str, field: str = "--month") -> str:
    """``YYYY-MM`` (month 01–12, year 1900–2200) → the same text."""
    m = _MONTH_RE.match(text) if isinstance(text, str) else None
    if not m or not (1 <= int(m.group(2)) <= 12) or not (1900 <= int(m.group(1)) <= 2200):
        raise RecordError(f"{field} {text!r}: not a month; use YYYY-MM")
    return text


def days_in_month(month: str) -> int:
    """Number of days of a ``YYYY-MM`` month."""
    y, m = (int(p) for p in month.split("-"))
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return (nxt - dt.date(y, m, 1)).days


def check_day_count(value: int | None, field: str, month: str) -> int | None:
    """Days in a month: a whole number from 0 to the month's length (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{field} {value!r}: must be a whole number of days")
    n = days_in_month(month)
    if not 0 <= value <= n:
        raise RecordError(f"{field} {value}: must be between 0 and {n} (days in {month})")
    return value


def check_birth_year(year: int | None, today: dt.date | None = None) -> int | None:
    """A birth year from 1900 to this year."""
    if year is None:
        return None
    today = today or dt.date.today()
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= today.year:
        raise RecordError(f"--birth-year {year!r}: must be a year from 1900 to {today.year}")
    return year


def check_units(value: float, field: str) -> float:
    """Units at one site: finite, ≥ 0 and ≤ 50 (the label's per-site ceiling)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"{field} {value!r}: units must be a number")
    v = float(value)
    if not math.isfinite(v):
        raise RecordError(f"{field} {value!r}: units must be a finite number")
    if v < 0:
        raise RecordError(f"{field} {v:g}: units must not be negative")
    if v > MAX_UNITS_PER_SITE:
        raise RecordError(f"{field} {v:g}: exceeds {MAX_UNITS_PER_SITE:g} U per site")
    return v


def parse_units(text: str, field: str) -> float:
    """Text → units, checked by :func:`check_units`."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise RecordError(f"{field} {text!r}: units must be a number") from None
    return check_units(v, field)


def check_text(value: str | None, field: str, *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    """Free text: stripped; required → not blank; at most ``limit`` characters; no control characters."""
    if value is None:
        if required:
            raise RecordError(f"{field}: required")
        return None
    if not isinstance(value, str):
        raise RecordError(f"{field} {value!r}: must be text")
    v = value.strip()
    if required and not v:
        raise RecordError(f"{field}: required (got an empty value)")
    if len(v) > limit:
        raise RecordError(f"{field}: {len(v)} characters; at most {limit}")
    if any(ord(c) < 32 and c not in "\n\t" for c in v):
        raise RecordError(f"{field} {v[:40]!r}: contains control characters")
    return v or None


def check_signable(lot: str | None, expiry: dt.date | None, visit_date: dt.date) -> None:
    """Lot and expiry are required to sign; an expiry before the visit date is refused."""
    if not lot:
        raise RecordError("--lot: required to sign a visit (the product's lot number)")
    if expiry is None:
        raise RecordError("--expiry: required to sign a visit (the product's expiry date, YYYY-MM-DD)")
    if expiry < visit_date:
        raise RecordError(
            f"--expiry {expiry.isoformat()}: the product expired before the visit date {visit_date.isoformat()}"
        )


def max_window_total(
    visits: Iterable[tuple[dt.date, float]], around: dt.date, days: int = CUMULATIVE_WINDOW_DAYS
) -> tuple[float, dt.date, dt.date]:
    """The largest total of any ``days``-day window that contains ``around``.

    Returns ``(total, first day, last day)`` of that window. ``visits`` are ``(date, units)``
    pairs and must include the visit being checked.
    """
    items = sorted(visits)
    best = (0.0, around, around)
    starts = {d for d, _ in items if around - dt.timedelta(days=days - 1) <= d <= around}
    for start in sorted(starts):
        end = start + dt.timedelta(days=days - 1)
        total = sum(u for d, u in items if start <= d <= end)
        if total > best[0] + 1e-9:
            best = (total, start, end)
    return best


def cap_problems(given_total: float, cap: float, protocol_id: str, window: tuple[float, dt.date, dt.date]) -> list[str]:
    """Why this visit needs an override: over the protocol's cap, or over the cumulative limit."""
    problems = []
    if given_total > cap + 1e-9:
        problems.append(f"given total {given_total:g} U exceeds the {protocol_id} maximum of {cap:g} U per session")
    total, start, end = window
    if total > CUMULATIVE_LIMIT_U + 1e-9:
        problems.append(
            f"patient total {total:g} U from {start.isoformat()} to {end.isoformat()} exceeds the "
            f"{CUMULATIVE_LIMIT_U:g} U {CUMULATIVE_LABEL}"
        )
    return problems


def dose_problems(protocol_json: Mapping[str, Any], given: Iterable[tuple[str, float]]) -> list[str]:
    """Given units outside a site's dose range (``units_range``), or a muscle over its cap.

    A fixed-dose site given another dose is a deviation that needs a reason, not an override.

    ``protocol_json`` is the protocol as pinned in the record; ``given`` the ``(site id, units)``
    pairs actually given at the plan's sites (skipped and extra sites left out). Sites the
    protocol does not have (follow-the-pain sites) are left out; the session cap, the cumulative
    limit and the 50 U per site are checked by :func:`cap_problems` and :func:`check_units`.
    """
    from visualizer.protocol import Protocol

    try:
        protocol = Protocol.model_validate(dict(protocol_json))
    except ValueError:  # pinned under an older protocol schema: no ranges to hold the units to (the
        return []  # 50 U per site, the session cap and the cumulative limit still apply)
    known = {e.id for e in protocol.expanded_sites()}
    ranged = {e.id for e in protocol.expanded_sites() if e.units_range is not None}
    chosen = {sid: float(u) for sid, u in given if sid in known}
    return [
        f"given units at {i.text}" if i.kind == "outside_range" else i.text
        for i in protocol.units_issues(chosen, present=chosen)
        if (i.kind == "outside_range" and i.site_ids[0] in ranged) or i.kind == "muscle_cap"
    ]


def is_migraine(indication: str) -> bool:
    """Whether a protocol's indication is migraine (the 12-week re-treatment interval applies)."""
    return "migraine" in indication.lower()


def interval_warning(visit_date: dt.date, earlier: Sequence[dt.date]) -> str | None:
    """A warning when a migraine visit comes less than 12 weeks after the previous one."""
    before = [d for d in earlier if d <= visit_date]
    if not before:
        return None
    prev = max(before)
    gap = (visit_date - prev).days
    if gap < MIGRAINE_INTERVAL_WEEKS * 7:
        return (
            f"visit on {visit_date.isoformat()} is {gap} days ({gap / 7:.1f} weeks) after the previous migraine "
            f"visit on {prev.isoformat()}; the re-treatment interval is {MIGRAINE_INTERVAL_WEEKS} weeks"
        )
    return None


def next_due(migraine_dates: Sequence[dt.date]) -> dt.date | None:
    """12 weeks after the last migraine visit (None without one)."""
    return max(migraine_dates) + dt.timedelta(weeks=MIGRAINE_INTERVAL_WEEKS) if migraine_dates else None
