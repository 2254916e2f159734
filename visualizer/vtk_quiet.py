"""Keep VTK's own error output (C++ messages, its logger, PyVista's warnings) off the terminal.

VTK prints its errors itself — dozens of lines of C++ state for one unreadable file. Code that
reads or renders through VTK runs inside :class:`VtkMessages`, which swallows that output and
keeps the first error's text, so that the caller can raise one message of its own.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from types import TracebackType

import pyvista as pv

__all__ = ["VtkMessages", "read_quietly"]

_ADDRESS = re.compile(r"\s*\(0x[0-9a-fA-F]+\)")


def _clean(text: str, limit: int = 160) -> str:
    text = _ADDRESS.sub("", " ".join(text[: limit * 4].split()))
    text = text.split(" for request: vtkInformation", 1)[0]  # not the executive's state dump
    return text if len(text) <= limit else text[: limit - 3] + "..."


class VtkMessages:
    """Context manager: VTK errors and warnings inside it are collected, not printed.

    Attributes
    ----------
    errors : list of str
        VTK error texts and PyVista reader warnings seen inside the block, cleaned (no object
        addresses) and cut short; filled when the block exits.

    Examples
    --------
    >>> with VtkMessages() as vtk_msgs:  # doctest: +SKIP
    ...     mesh = pv.read(path)
    >>> vtk_msgs.first  # doctest: +SKIP
    'Error parsing XML in stream at line 1, column 0, byte index 0: syntax error'
    """

    def __init__(self) -> None:
        self.errors: list[str] = []

    @property
    def first(self) -> str:
        """The first specific error (a pipeline's generic "returned failure" last), or ``""``."""
        specific = [e for e in self.errors if "returned failure" not in e]
        return (specific or self.errors or [""])[0]

    def __enter__(self) -> VtkMessages:
        self._logging_disable = logging.root.manager.disable
        logging.disable(logging.CRITICAL)  # PyVista's observers log every VTK error
        self._warnings = warnings.catch_warnings(record=True)
        self._caught = self._warnings.__enter__()
        warnings.simplefilter("always")
        self._verbosity = pv.vtk_verbosity("off")  # VTK's own logger (vtkLogger → stderr)
        self._verbosity.__enter__()
        self._catcher = pv.VtkErrorCatcher(raise_errors=False, send_to_logging=False)
        self._catcher.__enter__()  # the output window: C++ error text
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._catcher._stop_observing()
            self.errors = [_clean(e.alert or str(e)) for e in self._catcher.error_events]
            for w in self._caught:
                text = str(w.message)
                quoted = re.search(r'"(.+)"', text, re.S)  # PyVista quotes the VTK message
                self.errors.append(_clean(quoted.group(1) if quoted else text))
        finally:
            self._verbosity.__exit__(exc_type, exc, tb)
            self._warnings.__exit__(exc_type, exc, tb)
            logging.disable(self._logging_disable)


def read_quietly(path: Path, what: str) -> tuple[pv.DataSet | pv.MultiBlock, str]:
    """Read a mesh file with VTK's output kept off the terminal.

    Returns the data and ``" (VTK: first error)"`` (or ``""``), for the caller's own messages.

    Raises
    ------
    MeshError
        ``"PATH: cannot read WHAT (reason) (VTK: ...)"`` when the reader fails.
    """
    from visualizer.errors import MeshError, shorten

    with VtkMessages() as vtk_msgs:
        try:
            data = pv.read(path)
        except Exception as exc:  # VTK readers raise many types; report them all the same way
            data, failure = None, shorten(str(exc), 160)
    why = f" (VTK: {vtk_msgs.first})" if vtk_msgs.first else ""
    if data is None:
        raise MeshError(f"{path}: cannot read {what} ({failure}){why}")
    return data, why
