"""InjectViz: protocol-defined injection sites on a 3D head (a planning and teaching aid).

Public API (positions are mesh-frame millimetres; see docs/architecture.md)::

    head = load_head()                      # bundled head, or load_head(mesh_path, landmarks_path)
    protocol = load_protocol("preempt-ftp") # bundled id or a YAML file
    plan = make_plan(head, protocol, PainOrigin.parse(["left-temporal"]))
    print(plan.to_json())

The names are imported on first use, so that ``python -m visualizer validate`` does not pay for
VTK and PyVista.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from visualizer.errors import InjectVizError, LandmarkError, MeshError, PainError, ProtocolError
    from visualizer.head import MUSCLES, Head, load_head
    from visualizer.pain import PainOrigin
    from visualizer.plan import Plan, Site
    from visualizer.planner import make_plan, prepare
    from visualizer.protocol import Protocol, list_protocols, load_protocol

_HOME = {
    "InjectVizError": "errors", "LandmarkError": "errors", "MeshError": "errors", "PainError": "errors",
    "ProtocolError": "errors", "MUSCLES": "head", "Head": "head", "load_head": "head", "PainOrigin": "pain",
    "Plan": "plan", "Site": "plan", "make_plan": "planner", "prepare": "planner", "Protocol": "protocol",
    "list_protocols": "protocol", "load_protocol": "protocol",
}  # fmt: skip

__all__ = [
    "MUSCLES",
    "Head",
    "InjectVizError",
    "LandmarkError",
    "MeshError",
    "PainError",
    "PainOrigin",
    "Plan",
    "Protocol",
    "ProtocolError",
    "Site",
    "list_protocols",
    "load_head",
    "load_protocol",
    "make_plan",
    "prepare",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'visualizer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"visualizer.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
