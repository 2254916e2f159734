"""The InjectViz web app (trame + PyVista): one app instance per browser connection."""

from __future__ import annotations

__all__ = ["InjectVizApp", "main"]


def __getattr__(name: str):  # lazy: importing the package must not pull in VTK
    if name == "InjectVizApp":
        from visualizer.app.core import InjectVizApp

        return InjectVizApp
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> int:
    from visualizer.app.serve import main as _main

    return _main(argv)
