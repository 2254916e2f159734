"""InjectViz: protocol-defined injection sites on a 3D head (a planning and teaching aid).

Public API (positions are mesh-frame millimetres; see docs/architecture.md)::

    head = load_head()                      # bundled head, or load_head(mesh_path, landmarks_path)
    protocol = load_protocol("preempt-ftp") # bundled id or a YAML file
    plan = make_plan(head, protocol, PainOrigin.parse(["left-temporal"]))
    print(plan.to_json())
"""

from visualizer.errors import InjectVizError, LandmarkError, MeshError, PainError, ProtocolError
from visualizer.head import MUSCLES, Head, load_head
from visualizer.pain import PainOrigin
from visualizer.plan import Plan, Site
from visualizer.planner import make_plan, prepare
from visualizer.protocol import Protocol, list_protocols, load_protocol

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
