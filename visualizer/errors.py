"""Exceptions for bad input; every message names the file, field and value at fault.

Values quoted in a message go through :func:`shorten`, which cuts them short *while* formatting,
so that a huge or self-referencing value (a YAML alias bomb, a 60 MB string) never gets expanded.
"""

from __future__ import annotations

from typing import Any

#: Longest quoted value in a message (characters).
QUOTE_LIMIT = 80
_MAX_QUOTE_DEPTH = 8


class InjectVizError(Exception):
    """Base class for every error caused by bad input."""


class ProtocolError(InjectVizError):
    """A protocol file or id is missing, malformed or invalid."""


class LandmarkError(InjectVizError):
    """A landmark is missing, unknown or unusable."""


class MeshError(InjectVizError):
    """A mesh file is unreadable or unusable."""


class PainError(InjectVizError):
    """A pain origin (region name or point) is invalid."""


class DoseError(InjectVizError, ValueError):
    """Chosen units name a site the protocol does not have, or are not a positive number."""


class PlanFileError(InjectVizError):
    """A plan file (e.g. an edited plan JSON given to ``check``) is unreadable or invalid."""


def shorten(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters, computed without ever building the full text.

    Strings, bytes and containers are walked only as far as the budget reaches; nesting deeper
    than a few levels and containers that hold themselves print as ``...``.

    Examples
    --------
    >>> shorten("x" * 10**8, 12)
    "'xxxxxxxx..."
    >>> shorten([[1, 2], {"a": 3}])
    "[[1, 2], {'a': 3}]"
    """
    parts: list[str] = []
    room = [limit + 1]  # one more than allowed, so that we know when to add "..."

    def emit(text: str) -> None:
        if room[0] > 0:
            parts.append(text[: room[0]])
            room[0] -= len(text)

    def walk(v: Any, depth: int, seen: frozenset[int]) -> None:
        if room[0] <= 0:
            return
        if isinstance(v, str | bytes | bytearray):
            emit(repr(v[: room[0]]))
            return
        if isinstance(v, dict | list | tuple | set | frozenset):
            if id(v) in seen or depth >= _MAX_QUOTE_DEPTH:
                emit("...")
                return
            seen = seen | {id(v)}
            if isinstance(v, dict):
                opening, closing = "{", "}"
            elif isinstance(v, list):
                opening, closing = "[", "]"
            elif isinstance(v, tuple):
                opening, closing = "(", ")"
            else:
                opening, closing = "{", "}"
            emit(opening)
            items = v.items() if isinstance(v, dict) else v
            for i, item in enumerate(items):
                if room[0] <= 0:
                    return
                if i:
                    emit(", ")
                if isinstance(v, dict):
                    walk(item[0], depth + 1, seen)
                    emit(": ")
                    walk(item[1], depth + 1, seen)
                else:
                    walk(item, depth + 1, seen)
            emit(closing)
            return
        if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 4 * limit:
            emit("<a very large integer>")
            return
        try:
            emit(repr(v))
        except Exception:  # a value whose repr fails is still reported
            emit(f"<{type(v).__name__}>")

    walk(value, 0, frozenset())
    text = "".join(parts)
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."
