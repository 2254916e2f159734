"""Where the bundled data lives: ``meshes/`` and ``protocols/``.

The top-level folders of the source tree are the source of truth. A built wheel carries copies of
them inside the package (``visualizer/meshes``, ``visualizer/protocols``; see ``pyproject.toml``),
which a checkout never has; so the package's own copy is used when it exists, the checkout's
folder otherwise.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["bundled_dir"]

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """The folder of bundled data ``name`` (``"meshes"`` or ``"protocols"``), installed or in a checkout."""
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name
