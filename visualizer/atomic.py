"""Writing files atomically: a reader (or a crash) never sees a half-written file.

The data goes to a hidden temporary file in the target's own folder (same file system), is
flushed to disk, and then renamed over the target with :func:`os.replace`, which is atomic. On
any failure the temporary file is removed. A ``kill -9`` can at worst leave that hidden
temporary file, never a partial file under the target's name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from visualizer.errors import InjectVizError

__all__ = ["atomic_path", "atomic_write", "check_target"]


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")


def check_target(target: Path, *, label: str | None = None) -> None:
    """Refuse a target that cannot be written atomically: a folder, a device or FIFO, a missing
    or read-only folder. ``label`` starts the message (default: the path, e.g. ``"--out x.png"``).
    """
    label = label or str(target)
    if target.is_dir():
        raise InjectVizError(f"{label}: is a folder; give a file name inside it")
    if target.exists() and not target.is_file():
        raise InjectVizError(f"{label}: exists and is not a regular file; give another file name")
    if not target.parent.is_dir():
        raise InjectVizError(f"{label}: folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise InjectVizError(f"{label}: folder {target.parent} is not writable")


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; when the block succeeds, it replaces ``target``.

    The caller writes the temporary file (it does not exist yet when yielded). If the block
    raises, or leaves no file, ``target`` is untouched and the temporary file is removed.

    Examples
    --------
    >>> with atomic_path("out.png") as tmp:  # doctest: +SKIP
    ...     image.save(tmp)
    """
    target = Path(target)
    check_target(target)
    tmp = _temp_name(target)
    try:
        yield tmp
        if not tmp.is_file():
            raise InjectVizError(f"{target}: nothing was written")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write(target: str | Path, data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``target`` atomically (mode 0666 less the umask, like an ordinary file).

    Raises
    ------
    InjectVizError
        If the target is a folder or another non-regular file, its folder is missing, or the
        write fails (no space, no permission); the message names the file.
    """
    target = Path(target)
    payload = data.encode(encoding) if isinstance(data, str) else data
    try:
        with atomic_path(target) as tmp:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
    except OSError as exc:
        raise InjectVizError(f"{target}: cannot write ({exc.strerror or exc})") from None
    return target
