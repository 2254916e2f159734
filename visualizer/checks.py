"""The two input checks every module shares: a choice among options and a finite 3D point.

:func:`check_option` words its message as MNE-Python's ``_check_option`` does; :func:`finite_point`
is PyVista's own validator (``pyvista_validation.validate_array3(..., name=)``, a dependency of
PyVista) with bools refused, an optional size limit, and the value quoted short. Both raise the
error class the caller passes, so a protocol problem stays a ``ProtocolError`` and a landmark
problem a ``LandmarkError``.

Examples
--------
>>> check_option("side", "left", ("left", "right", "midline"))
'left'
>>> check_option("side", "up", ("left", "right", "midline"))
Traceback (most recent call last):
...
ValueError: Invalid value for 'side': allowed are 'left', 'right' and 'midline', got 'up'
>>> finite_point([1, 2, 3], name="pain point").tolist()
[1.0, 2.0, 3.0]
>>> finite_point([1, float("nan"), 3], name="pain point")
Traceback (most recent call last):
...
ValueError: pain point must have finite values (got [1, nan, 3])
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pyvista_validation import validate_array3

from visualizer.errors import InjectVizError, shorten

__all__ = ["MAX_IMAGE_PX", "MIN_IMAGE_PX", "check_image_size", "check_option", "finite_point", "option_message"]


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def option_message(name: str, value: Any, allowed: Iterable[Any], *, extra: str = "") -> str:
    """The message of :func:`check_option` (for checks that collect problems instead of raising)."""
    options = list(allowed)
    shown = _join([repr(o) for o in options[:40]]) + (f" (and {len(options) - 40} more)" if len(options) > 40 else "")
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, [str(o) for o in options], n=1, cutoff=0.7)
        hint = f"; did you mean {close[0]!r}?" if close else ""
    what = f"{name} {extra}".strip()
    return f"Invalid value for {what!r}: allowed are {shown}, got {shorten(value)}{hint}"


def check_option(
    name: str, value: Any, allowed: Iterable[Any], *, extra: str = "", error: type[Exception] = ValueError
) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ``error``.

    Parameters
    ----------
    name : str
        What the value is (a parameter, a field path).
    value : object
        The value to check (a hostile one is quoted short in the message).
    allowed : iterable
        The allowed values.
    extra : str
        Words added after the name (e.g. ``"in a midline site"``).
    error : type of Exception
        The exception raised (``ValueError`` by default).

    Returns
    -------
    object
        ``value`` unchanged.
    """
    options = tuple(allowed)
    try:
        ok = value in options
    except TypeError:  # unhashable or oddly-comparing values are never an option
        ok = False
    if not ok:
        raise error(option_message(name, value, options, extra=extra))
    return value


def finite_point(
    value: Any, *, name: str = "point", max_abs: float | None = None, error: type[Exception] = ValueError
) -> NDArray[np.float64]:
    """Three finite real numbers as a float array of shape (3,), or ``error`` naming ``name``.

    Parameters
    ----------
    value : array-like
        The candidate point (from a file, a browser, a command line).
    name : str
        What it is, e.g. ``"landmark 'nasion'"`` or ``"pain point"``.
    max_abs : float, optional
        Largest allowed absolute coordinate (mm), when the caller has a sane bound.
    error : type of Exception
        The exception raised (``ValueError`` by default).

    Returns
    -------
    ndarray of float64, shape (3,)
    """
    flat = value if isinstance(value, list | tuple) else None
    if flat is not None and any(isinstance(c, bool) for c in flat):
        raise error(f"{name} must have real numbers, not true/false (got {shorten(value)})")
    if isinstance(value, str | bytes | dict) or value is None:
        raise error(f"{name} must be three numbers [x, y, z] (got {shorten(value)})")
    try:
        point = validate_array3(value, name=name, must_be_finite=True, dtype_out=float, reshape=False)
    except (TypeError, ValueError) as exc:
        text = str(exc).rstrip(".")
        if not text.startswith(name):
            text = f"{name} must be three numbers [x, y, z]"
        raise error(f"{text} (got {shorten(value)})") from None
    point = np.asarray(point, dtype=float).reshape(3)
    if max_abs is not None and float(np.max(np.abs(point))) > max_abs:
        raise error(f"{name} must lie within {max_abs:g} mm of the origin (got {shorten(value)})")
    return point


#: Picture sizes accepted for a rendered image (pixels per side), on the command line and from a browser.
MIN_IMAGE_PX = 16
MAX_IMAGE_PX = 4096


def check_image_size(size: Any, *, what: str = "size") -> None:
    """Refuse a picture size that is not two whole numbers of MIN_IMAGE_PX–MAX_IMAGE_PX pixels.

    Raises
    ------
    InjectVizError
        Naming ``what`` (e.g. ``"--size"``) and the value (cut short).
    """
    if size is None:
        return
    ok = (
        isinstance(size, list | tuple)
        and len(size) == 2
        and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in size)
        and all(MIN_IMAGE_PX <= int(v) <= MAX_IMAGE_PX for v in size)
    )
    if not ok:
        raise InjectVizError(
            f"{what}: give width and height as whole numbers of {MIN_IMAGE_PX}–{MAX_IMAGE_PX} pixels "
            f"(got {shorten(size)})"
        )
