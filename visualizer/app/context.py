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

    @classmethod
    def load(cls, *, protocol: str = "preempt", mesh: str | Path | None = None,
             landmarks: str | Path | None = None, **options: Any) -> AppContext:
        """Load the head and check the start-up protocol (raises the engine's errors)."""
        import visualizer as engine  # the public engine API

        t0 = time.perf_counter()
        head = engine.load_head(Path(mesh) if mesh else None, Path(landmarks) if landmarks else None)
        # validate the protocol now so a bad --protocol stops the server with a clear message
        ids = [str(getattr(p, "id", "")) for p in engine.list_protocols()]
        if protocol not in ids:
            engine.load_protocol(protocol)
        return cls(engine=engine, head=head, protocol=protocol,
                   mesh=Path(mesh) if mesh else None,
                   landmarks=Path(landmarks) if landmarks else None,
                   load_seconds=time.perf_counter() - t0, options=dict(options))


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
