"""What every connection shares: the engine, the loaded head and the start-up options.

Loaded once per process (the head is read-only); each browser connection then builds its own
``Session`` and its own PyVista plotter on top of it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Offscreen rendering without X: pick EGL before VTK is imported (verified on Debian + Mesa).
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


@dataclass
class AppContext:
    engine: Any
    head: Any
    protocol: str = "preempt"
    mesh: Path | None = None
    landmarks: Path | None = None
    load_seconds: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    #: the protocols a browser may choose (by id): the bundled ones plus files given at start-up;
    #: empty = the bundled ones
    protocols: tuple[Any, ...] = ()

    @classmethod
    def load(
        cls,
        *,
        protocol: str = "preempt",
        mesh: str | Path | None = None,
        landmarks: str | Path | None = None,
        **options: Any,
    ) -> AppContext:
        """Load the head and the protocols (raises the engine's errors).

        ``protocol`` is a bundled protocol's id or a protocol file: a file is loaded now (a bad
        one stops the server with a clear message) and joins the set a browser may choose from,
        by id.  A browser never names a file.
        """
        import visualizer as engine  # the public engine API

        t0 = time.perf_counter()
        head = engine.load_head(Path(mesh) if mesh else None, Path(landmarks) if landmarks else None)
        by_id = {str(p.id): p for p in engine.list_protocols()}
        if protocol not in by_id:
            loaded = engine.load_protocol(protocol)  # a file given on the command line
            by_id[str(loaded.id)] = loaded  # it wins over a bundled protocol of the same id
            protocol = str(loaded.id)
        return cls(
            engine=engine,
            head=head,
            protocol=protocol,
            mesh=Path(mesh) if mesh else None,
            landmarks=Path(landmarks) if landmarks else None,
            load_seconds=time.perf_counter() - t0,
            options=dict(options),
            protocols=tuple(sorted(by_id.values(), key=lambda p: str(p.id))),
        )


_DEFAULT: AppContext | None = None


def default_context() -> AppContext:
    """The process-wide context (loaded on first use with the defaults)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = AppContext.load()
    return _DEFAULT


def set_default_context(ctx: AppContext) -> None:
    global _DEFAULT
    _DEFAULT = ctx
