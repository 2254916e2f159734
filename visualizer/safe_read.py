"""Reading files a user hands us: regular files only, size-capped, bounded YAML and JSON.

Every file named on the command line (a protocol, a landmarks file, a plan, a mesh) may be
hostile: ``/dev/zero``, a FIFO, a folder, a 2 GB file, a "billion laughs" YAML whose aliases
expand to 10⁹ nodes, or 10 000 nested brackets. The functions here refuse all of these before
building anything, with an :class:`~visualizer.errors.InjectVizError` (or the subclass the
caller asks for) whose message names the file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from visualizer.errors import InjectVizError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_TEXT_BYTES",
    "check_regular_file",
    "load_json",
    "load_yaml",
    "read_text",
]

#: Largest text file read (protocols, landmarks and plan files are a few kB to a few hundred kB).
MAX_TEXT_BYTES = 1 << 20
#: Deepest nesting of lists/mappings accepted in a YAML or JSON file (ours nest 5 deep at most).
MAX_DEPTH = 32
#: Most YAML nodes a document may hold, counting every alias as a full copy of what it names.
MAX_NODES = 50_000


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular_file(
    path: Path, *, what: str = "file", max_bytes: int = MAX_TEXT_BYTES, error: type[InjectVizError] = InjectVizError
) -> int:
    """Refuse anything but an existing regular file of at most ``max_bytes``; return its size.

    Only ``stat`` is used (the file is not opened), so a FIFO or a device cannot block or feed
    us endless data.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: cannot read {what}: it is {_kind(st.st_mode)}, not a regular file")
    if st.st_size > max_bytes:
        raise error(f"{path}: {what} is too large ({st.st_size} bytes; at most {max_bytes})")
    return st.st_size


def read_text(
    path: str | Path,
    *,
    what: str = "file",
    max_bytes: int = MAX_TEXT_BYTES,
    error: type[InjectVizError] = InjectVizError,
) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes``.

    The file is opened non-blocking and checked again on the open descriptor (a path swapped for a
    FIFO between the two checks still cannot block), and at most ``max_bytes + 1`` bytes are read.
    """
    path = Path(path)
    check_regular_file(path, what=what, max_bytes=max_bytes, error=error)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{path}: cannot read {what}: it is {_kind(st.st_mode)}, not a regular file")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{path}: {what} is too large (more than {max_bytes} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "is it a binary file?"
        ) from None


# ----------------------------------------------------------------------------- YAML
class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting and alias expansion before any object is built.

    Sizes are counted on the node graph while it is composed: a node's size counts an alias as a
    full copy of the node it names, so a "billion laughs" document is refused after a few
    thousand nodes, not after building (or printing) a billion.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._size: dict[int, tuple[int, int]] = {}  # id(node) → (expanded nodes, expanded depth)
        self._total = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        alias = self.check_event(yaml.AliasEvent)
        mark = self.peek_event().start_mark
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooBig(f"nested more than {MAX_DEPTH} levels deep", mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if alias:
            # a recursive alias (to a node still being composed) counts as one node
            size, depth = self._size.get(id(node), (1, 1))
        elif isinstance(node, yaml.SequenceNode):
            kids = [self._size.get(id(c), (1, 1)) for c in node.value]
            size, depth = 1 + sum(k[0] for k in kids), 1 + max((k[1] for k in kids), default=0)
        elif isinstance(node, yaml.MappingNode):
            kids = [self._size.get(id(c), (1, 1)) for kv in node.value for c in kv]
            size, depth = 1 + sum(k[0] for k in kids), 1 + max((k[1] for k in kids), default=0)
        else:
            size, depth = 1, 1
        self._size[id(node)] = (size, depth)
        self._total += size if alias else 1
        if self._total > MAX_NODES or size > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES} values once its aliases (*name) are expanded", mark)
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested more than {MAX_DEPTH} levels deep once its aliases are expanded", mark)
        return node


class _TooBig(yaml.MarkedYAMLError):
    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def load_yaml(
    text: str,
    source: str | Path,
    *,
    loader: type[yaml.SafeLoader] | None = None,
    error: type[InjectVizError] = InjectVizError,
) -> Any:
    """Parse one YAML document safely (SafeLoader, bounded depth and alias expansion).

    Parameters
    ----------
    text : str
        The document.
    source : str or Path
        Names the file in messages.
    loader : type, optional
        A :class:`yaml.SafeLoader` subclass adding constructors (e.g. duplicate-key checks); it is
        combined with the bounds.
    """
    cls = _BoundedLoader if loader is None else type("_Loader", (_BoundedLoader, loader), {})
    try:
        return yaml.load(text, Loader=cls)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        prefix = "too large" if isinstance(exc, _TooBig) else "YAML syntax error"
        raise error(f"{source}: {where}: {prefix}: {what}") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: YAML error: {str(exc)[:200]}") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. an int of 5000 digits
        raise error(f"{source}: unreadable value ({type(exc).__name__}: {str(exc)[:120]})") from None


# ----------------------------------------------------------------------------- JSON
def _json_depth_problem(text: str) -> str | None:
    """How the bracket nesting of JSON text breaks :data:`MAX_DEPTH`, or None (strings skipped)."""
    depth = 0
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, i) + 1
                return f"line {line}: nested more than {MAX_DEPTH} levels deep"
        elif ch in "]}":
            depth -= 1
    return None


def load_json(text: str, source: str | Path, *, error: type[InjectVizError] = InjectVizError) -> Any:
    """Parse JSON text with bounded nesting; big-integer and syntax errors become ``error``."""
    problem = _json_depth_problem(text)
    if problem:
        raise error(f"{source}: too large: {problem}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an int of 5000 digits
        raise error(f"{source}: unreadable JSON value ({type(exc).__name__}: {str(exc)[:120]})") from None
