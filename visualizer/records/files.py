"""Writing record files (exports, reports, backups): atomically and privately (mode 0600).

Built on :mod:`visualizer.atomic` (temporary file in the target's folder, fsync, ``os.replace``);
the temporary file is created 0600 before any patient data goes into it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from visualizer.atomic import atomic_path
from visualizer.atomic import check_target as _check_target
from visualizer.errors import InjectVizError
from visualizer.records.errors import RecordError


def check_target(path: Path, flag: str) -> None:
    """Refuse a target that cannot be written (a folder, a missing or read-only folder, a device)."""
    try:
        _check_target(path, label=f"{flag} {path}")
    except InjectVizError as exc:
        raise RecordError(str(exc)) from None


def write_atomic(path: Path, produce: Callable[[Path], None] | bytes, flag: str = "--out", mode: int = 0o600) -> None:
    """Write ``path`` atomically with ``mode`` (default 0600: it holds patient data).

    ``produce`` is the bytes, or a function that fills the (already created, empty, 0600)
    temporary file it is given. A failure leaves no half-written file and the target untouched.
    """
    check_target(path, flag)
    try:
        with atomic_path(path) as tmp:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            with os.fdopen(fd, "wb") as fh:
                if isinstance(produce, bytes):
                    fh.write(produce)
            if not isinstance(produce, bytes):
                produce(tmp)
            os.chmod(tmp, mode)
    except OSError as exc:
        raise RecordError(f"{flag} {path}: cannot write ({exc.strerror or exc})") from None
