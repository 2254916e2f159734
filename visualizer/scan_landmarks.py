"""A head scan → its landmarks (found automatically or given by hand) → a :class:`Head` to plan on.

Coordinates are the **scan frame in mm**: the scan file's own axes, multiplied into millimetres by
the unit (``mm_per_unit`` in the landmarks file). :func:`landmark_scan` finds the landmarks
(:mod:`visualizer.scan_fit`); :func:`scan_head` builds the head the planner uses, and
:func:`project_landmarks` puts hand-given landmarks that lie a little off the skin onto it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv
from numpy.typing import NDArray

from visualizer.errors import LandmarkError, MeshError
from visualizer.frame import FRAME_LANDMARKS
from visualizer.head import PROJECT_MM, Head, project_landmarks
from visualizer.muscle_map import WEIGHT_ARRAY
from visualizer.scan import Progress, Scan, read_scan
from visualizer.scan_fit import POOR_MM, Fit, fit_scan

__all__ = [
    "LANDMARKS_FORMAT",
    "PROJECT_MM",
    "ScanLandmarks",
    "landmark_scan",
    "project_landmarks",
    "scan_head",
]

#: ``format`` of the landmarks file ``injectviz landmarks`` writes.
LANDMARKS_FORMAT = "injectviz-scan-landmarks/1"


@dataclass
class ScanLandmarks:
    """A scan with its landmarks found automatically."""

    scan: Scan
    fit: Fit
    warnings: list[str] = field(default_factory=list)

    @property
    def landmarks(self) -> dict[str, NDArray[np.float64]]:
        """Found landmarks on the scan's skin (scan frame, mm)."""
        return self.fit.landmarks

    def to_dict(self) -> dict[str, Any]:
        """The landmarks file's content (a ``landmarks`` object any ``--landmarks`` option reads)."""
        return {
            "format": LANDMARKS_FORMAT,
            "frame": "scan frame: the scan file's own axes in mm (file coordinates × mm_per_unit)",
            "scan": {
                "file": self.scan.path.name,
                "sha256": self.scan.sha256,
                "units": self.scan.units,
                "units_detected": self.scan.units_detected,
                "mm_per_unit": self.scan.mm_per_unit,
                "triangles": int(self.scan.mesh.n_cells),
                "pieces_dropped": self.scan.pieces_dropped,
            },
            "found": "automatically (template fit: similarity + affine start, trimesh nricp_amberg)",
            "landmarks": {k: [round(float(c), 3) for c in v] for k, v in sorted(self.landmarks.items())},
            "residual_mm": dict(sorted(self.fit.residual_mm.items())),
            "missing": sorted(self.fit.missing),
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)


def landmark_scan(
    path: Path | str, units: str = "auto", *, scan: Scan | None = None, progress: Progress | None = None
) -> ScanLandmarks:
    """Read a scan (unless given) and find its landmarks.

    ``progress`` (optional) is called with the name of each step as it starts: ``read``,
    ``clean``, ``units`` (:func:`~visualizer.scan.read_scan`), ``align``, ``fit``, ``snap``
    (:func:`~visualizer.scan_fit.fit_scan`) and ``check``.

    Raises
    ------
    MeshError
        An unreadable or implausible scan, or one that does not fit a head.
    LandmarkError
        When the scan lacks what the head frame needs (the face or an ear).
    """
    scan = scan or read_scan(path, units, progress=progress)
    try:
        fit = fit_scan(scan.mesh, progress=progress)
    except MeshError as exc:
        raise MeshError(f"{scan.path}: {exc}") from None
    if progress is not None:
        progress("check")
    lacking = [n for n in FRAME_LANDMARKS if n not in fit.landmarks]
    if lacking:
        raise LandmarkError(
            f"{scan.path}: the scan does not show {', '.join(lacking)} (no skin there after the fit); "
            "the head frame needs both ears' tragi and the nasion"
        )
    warnings = list(scan.notes)
    if fit.missing:
        warnings.append(f"not on the scan (no skin there): {', '.join(sorted(fit.missing))}")
    warnings.extend(fit.warnings)
    return ScanLandmarks(scan, fit, warnings)


def scan_head(
    scan: Scan,
    landmarks: Mapping[str, NDArray[np.float64]],
    *,
    muscle: NDArray[np.int8] | None = None,
    muscle_weight: NDArray[np.uint8] | None = None,
    landmarks_label: str,
    warnings: list[str] | None = None,
) -> Head:
    """The :class:`~visualizer.head.Head` of a scan with these landmarks (scan frame, mm).

    ``muscle`` (per scan point) is the muscle map carried from the template, ``muscle_weight`` its
    soft area weights (:attr:`~visualizer.scan_fit.Fit.muscle_weight`); without ``muscle`` the
    landmark rules draw the map. The head is *partial*: the planner leaves out sites whose landmarks
    the scan does not carry, with a warning.
    """
    from visualizer.head import _assemble

    mesh = pv.PolyData(np.asarray(scan.mesh.points), scan.mesh.faces)
    if muscle is not None:
        mesh.point_data["muscle"] = np.asarray(muscle, dtype=np.int8)
        if muscle_weight is not None:
            mesh.point_data[WEIGHT_ARRAY] = np.asarray(muscle_weight, dtype=np.uint8)
    lms = {k: np.asarray(v, dtype=float) for k, v in landmarks.items()}
    head = _assemble(mesh, lms, scan.path, Path(landmarks_label))
    head.partial = True
    given = list(warnings or [])
    # what reading the scan assumed or left out (loose pieces, units) is said with any landmarks;
    # then the projection warnings of _assemble (hand landmarks off the skin)
    head.warnings = [*given, *(n for n in scan.notes if n not in given), *head.warnings]
    head.source = {
        "kind": "scan",
        "file": scan.path.name,
        "sha256": scan.sha256,
        "units": scan.units,
        "mm_per_unit": scan.mm_per_unit,
        "landmarks": landmarks_label,
    }
    return head


def describe_residuals(fit: Fit) -> list[str]:
    """One line per landmark: name, residual, and a flag where it is poor (for the CLI)."""
    lines = []
    for name in sorted(fit.residual_mm):
        r = fit.residual_mm[name]
        state = "MISSING" if name in fit.missing else ("POOR" if r > POOR_MM else "ok")
        lines.append(f"{name[:40]:<24} residual {r:5.1f} mm  {state}")
    return lines
