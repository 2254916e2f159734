"""Writing record files (exports, reports, backups) atomically and privately."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from visualizer.records.errors import RecordError


def check_target(path: Path, flag: str) -> None:
    """Refuse a target whose folder is missing or which is a folder."""
    if not path.parent.exists():
        raise RecordError(f"{flag} {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise RecordError(f"{flag} {path}: is a folder; give a file name")


def write_atomic(path: Path, produce: Callable[[Path], None] | bytes, flag: str = "--out", mode: int = 0o600) -> None:
    """Write ``path`` via a temporary file in the same folder and ``os.replace``.

    ``produce`` is the bytes, or a function that writes the temporary file it is given. A
    failure leaves no half-written file; the result has ``mode`` (default 0600: it holds patient data).
    """
    check_target(path, flag)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        if isinstance(produce, bytes):
            with os.fdopen(fd, "wb") as fh:
                fh.write(produce)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            os.close(fd)
            produce(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise RecordError(f"{flag} {path}: cannot write ({exc.strerror})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
