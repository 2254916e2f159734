"""Injection protocols: YAML files → validated models → sites expanded per side (public facade).

The code lives in four modules, one idea each; import from here (these names are stable):

* :mod:`visualizer.landmarks` — the landmark registry and the names a file may use
  (:func:`resolve_landmark`);
* :mod:`visualizer.protocol_models` — the schema (:class:`Protocol`, :class:`Site`, …);
* :mod:`visualizer.protocol_loader` — reading files (:func:`load_protocol`,
  :func:`validate_protocol_file`, ``extends`` chains);
* :mod:`visualizer.protocol_messages` — how each problem is worded
  (``"FILE: field.path: message (got VALUE)"``).

Muscle names come from :mod:`visualizer.muscles`.

Examples
--------
>>> p = load_protocol("glabellar")
>>> (p.fixed_site_count, p.fixed_units)
(5, 20.0)
>>> [e.id for e in p.expanded_sites()][:3]
['procerus', 'corrugator_medial_left', 'corrugator_medial_right']
"""

from __future__ import annotations

from visualizer.landmarks import (
    FRAME_LANDMARKS,
    LANDMARKS,
    MIDLINE_LANDMARKS,
    OPPOSITE_PREFIX,
    SIDED_LANDMARKS,
    resolve_landmark,
)
from visualizer.muscles import FTP_MUSCLES, MUSCLES
from visualizer.protocol_loader import (
    PROTOCOLS_DIR,
    known_protocol_ids,
    list_protocols,
    load_protocol,
    protocol_json_schema,
    validate_protocol_file,
)
from visualizer.protocol_models import (
    MAX_OFFSET_MM,
    MAX_SESSION_UNITS,
    MAX_UNITS_PER_SITE,
    SCHEMA_VERSION,
    Aftercare,
    Arc,
    Dilution,
    ExpandedSite,
    Expected,
    FollowThePain,
    Muscle,
    Offset,
    PatientInfo,
    Placement,
    Protocol,
    Site,
    Source,
    UnitsIssue,
)

#: Muscles that may never receive follow-the-pain sites (kept for older callers).
NO_FTP_MUSCLES: frozenset[str] = frozenset(MUSCLES) - FTP_MUSCLES

__all__ = [
    "FRAME_LANDMARKS",
    "LANDMARKS",
    "MAX_OFFSET_MM",
    "MAX_SESSION_UNITS",
    "MAX_UNITS_PER_SITE",
    "MIDLINE_LANDMARKS",
    "MUSCLES",
    "NO_FTP_MUSCLES",
    "OPPOSITE_PREFIX",
    "PROTOCOLS_DIR",
    "SCHEMA_VERSION",
    "SIDED_LANDMARKS",
    "Aftercare",
    "Arc",
    "Dilution",
    "ExpandedSite",
    "Expected",
    "FollowThePain",
    "Muscle",
    "Offset",
    "PatientInfo",
    "Placement",
    "Protocol",
    "Site",
    "Source",
    "UnitsIssue",
    "known_protocol_ids",
    "list_protocols",
    "load_protocol",
    "protocol_json_schema",
    "resolve_landmark",
    "validate_protocol_file",
]
