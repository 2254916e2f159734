"""A patient's head scan read and checked: one surface piece, triangles, converted to millimetres.

Scans come from phones and structured-light scanners in any unit, position and orientation, with
holes, loose pieces and a neck cut anywhere. :func:`read_scan` keeps the largest connected piece,
works out the unit from the size (or takes the one given) and refuses what cannot be a head scan
— empty or unreadable files, too many triangles, an absurd size — with one message naming the
file and the value. Coordinates stay the scan's own, multiplied into millimetres ("scan frame,
mm"); nothing here knows the head frame.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyvista as pv

from visualizer.errors import MeshError, shorten
from visualizer.safe_read import check_regular_file
from visualizer.vtk_quiet import VtkMessages, read_quietly

__all__ = [
    "MAX_SCAN_BYTES",
    "MAX_SCAN_TRIANGLES",
    "MIN_SCAN_TRIANGLES",
    "SCAN_SUFFIXES",
    "UNITS",
    "Progress",
    "Scan",
    "file_sha256",
    "read_scan",
    "units_from_size",
]

#: Millimetres per unit.
UNITS: dict[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1000.0}
#: File types read (lower-case suffixes).
SCAN_SUFFIXES: tuple[str, ...] = (".stl", ".obj", ".ply", ".vtp", ".vtk", ".glb", ".gltf")
#: Largest scan file read (a binary STL of 2M triangles is 100 MB; an ASCII OBJ about 3× that).
MAX_SCAN_BYTES = 400 << 20
#: Most triangles in a scan (phone and structured-light head scans have 10k–2M).
MAX_SCAN_TRIANGLES = 2_000_000
#: Fewest triangles: coarser than this cannot carry the landmarks.
MIN_SCAN_TRIANGLES = 1_000
#: Plausible size of a head scan, its bounding-box diagonal in mm (a face-only scan … head and
#: shoulders). Sizes outside this in every unit are refused as absurd.
HEAD_DIAGONAL_MM: tuple[float, float] = (150.0, 1500.0)


@dataclass
class Scan:
    """A read scan.

    Attributes
    ----------
    mesh : pyvista.PolyData
        The largest piece, triangles only, in the scan's own axes scaled to millimetres.
    path : Path
        Where it was read from.
    sha256 : str
        Hash of the file's bytes (names the head a plan used).
    units : str
        The unit of the file (``mm``, ``cm`` or ``m``); ``mm_per_unit`` converts.
    units_detected : bool
        True when the unit was worked out from the size.
    pieces_dropped : int
        Loose pieces left out (all but the largest).
    notes : list of str
        What was assumed or dropped, in words.
    """

    mesh: pv.PolyData = field(repr=False)
    path: Path
    sha256: str
    units: str
    units_detected: bool
    pieces_dropped: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def mm_per_unit(self) -> float:
        """Millimetres per unit of the file."""
        return UNITS[self.units]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (read in chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def units_from_size(diagonal: float) -> str | None:
    """The unit in which a bounding-box diagonal is a head's size, or None if there is none."""
    lo, hi = HEAD_DIAGONAL_MM
    for name, mm in UNITS.items():
        if lo <= diagonal * mm <= hi:
            return name
    return None


def _declared_triangles(path: Path) -> int | None:
    """Triangle count a binary STL or a PLY header declares (checked before parsing), else None."""
    suffix = path.suffix.lower()
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if suffix == ".stl" and len(head) >= 84 and not head[:5].lower() == b"solid":
        return int(struct.unpack("<I", head[80:84])[0])
    if suffix == ".ply" and head.startswith(b"ply"):
        m = re.search(rb"element\s+face\s+(\d+)", head)
        return int(m.group(1)) if m else None
    return None


def _read_surface(path: Path) -> pv.PolyData:
    data, why = read_quietly(path, "the scan")
    with VtkMessages():
        try:
            if isinstance(data, pv.MultiBlock):  # glTF scenes: every mesh of the scene together
                data = data.combine()
            if not isinstance(data, pv.PolyData):
                data = data.extract_surface(algorithm="dataset_surface")
        except Exception:
            raise MeshError(f"{path}: not a surface mesh ({type(data).__name__})") from None
    if data.n_points == 0 or data.n_cells == 0:
        if why:
            raise MeshError(f"{path}: cannot read the scan{why}")
        raise MeshError(f"{path}: the scan is empty (no points or no surface)")
    return data


#: Called with the name of each step as it starts (``read``, ``clean``, ``units``; the fit adds
#: ``align``, ``fit``, ``snap`` and the landmarking ``check``): a progress bar's hook.
Progress = Callable[[str], None]


def _step(progress: Progress | None, name: str) -> None:
    if progress is not None:
        progress(name)


def read_scan(path: Path | str, units: str = "auto", *, progress: Progress | None = None) -> Scan:
    """Read and check a head scan.

    Parameters
    ----------
    path : path
        STL, OBJ, PLY, VTP/VTK or glTF/GLB surface.
    units : {'auto', 'mm', 'cm', 'm'}
        The unit of the file's coordinates; ``auto`` works it out from the scan's size.
    progress : callable, optional
        Called with ``"read"``, ``"clean"`` and ``"units"`` as each step starts.

    Raises
    ------
    MeshError
        Naming the file and what is wrong (unreadable, empty, too many or too few triangles,
        non-finite coordinates, a size that is no head's in any unit).
    """
    path = Path(path)
    if units != "auto" and units not in UNITS:
        raise MeshError(f"--units {shorten(units)}: use auto, {', '.join(UNITS)}")
    if path.suffix.lower() not in SCAN_SUFFIXES:
        raise MeshError(
            f"{path}: scan type {shorten(path.suffix or '(none)')} is not read; use one of {', '.join(SCAN_SUFFIXES)}"
        )
    check_regular_file(path, what="scan", max_bytes=MAX_SCAN_BYTES, error=MeshError)
    declared = _declared_triangles(path)
    if declared is not None and declared > MAX_SCAN_TRIANGLES:
        raise MeshError(
            f"{path}: the scan has {declared:,} triangles; at most {MAX_SCAN_TRIANGLES:,} are read (decimate it first)"
        )
    _step(progress, "read")
    data = _read_surface(path)
    _step(progress, "clean")
    if not np.all(np.isfinite(data.points)):
        raise MeshError(f"{path}: the scan has non-finite point coordinates")
    with VtkMessages():
        data = data.triangulate().clean(tolerance=0.0)
    n_tri = int(data.n_cells)
    if n_tri > MAX_SCAN_TRIANGLES:
        raise MeshError(
            f"{path}: the scan has {n_tri:,} triangles; at most {MAX_SCAN_TRIANGLES:,} are read (decimate it first)"
        )
    if n_tri < MIN_SCAN_TRIANGLES:
        raise MeshError(f"{path}: the scan has only {n_tri} triangles; a head scan needs at least {MIN_SCAN_TRIANGLES}")
    notes: list[str] = []
    with VtkMessages():
        conn = data.connectivity("all")
    region = np.asarray(conn.cell_data["RegionId"])
    count = int(region.max()) + 1 if len(region) else 0
    dropped = 0
    if count > 1:
        sizes = np.bincount(region)
        keep = int(np.argmax(sizes))
        with VtkMessages():
            piece = conn.extract_cells(np.flatnonzero(region == keep))
            data = piece.extract_surface(algorithm="dataset_surface").clean(tolerance=0.0)
        data = pv.PolyData(data.points, data.faces)
        dropped = count - 1
        notes.append(
            f"kept the largest piece of the scan ({sizes[keep]:,} triangles); left out {dropped} loose "
            f"piece(s) of {int(sizes.sum() - sizes[keep]):,} triangles"
        )
    else:
        data = pv.PolyData(data.points, data.faces)
    if data.n_cells < MIN_SCAN_TRIANGLES:
        raise MeshError(
            f"{path}: the largest piece of the scan has only {data.n_cells} triangles; "
            f"a head scan needs at least {MIN_SCAN_TRIANGLES}"
        )
    _step(progress, "units")
    lo, hi = np.asarray(data.points).min(0), np.asarray(data.points).max(0)
    diagonal = float(np.linalg.norm(hi - lo))
    detected = units == "auto"
    if detected:
        found = units_from_size(diagonal)
        if found is None:
            raise MeshError(
                f"{path}: the scan is {diagonal:.4g} units across; no unit (mm, cm, m) makes that a head "
                f"({HEAD_DIAGONAL_MM[0]:g}–{HEAD_DIAGONAL_MM[1]:g} mm)"
            )
        units = found
        if units != "mm":
            notes.append(f"scan units taken as {units} from its size ({diagonal:.3g} {units} across)")
    else:
        mm = diagonal * UNITS[units]
        if not HEAD_DIAGONAL_MM[0] <= mm <= HEAD_DIAGONAL_MM[1]:
            raise MeshError(
                f"{path}: in {units} the scan is {mm:.4g} mm across; a head scan is "
                f"{HEAD_DIAGONAL_MM[0]:g}–{HEAD_DIAGONAL_MM[1]:g} mm (wrong --units?)"
            )
    mesh = pv.PolyData(np.asarray(data.points, dtype=float) * UNITS[units], data.faces)
    return Scan(mesh, path, file_sha256(path), units, detected, dropped, notes)
