"""A head: skin mesh + landmarks + head frame + muscle map, loaded and checked once.

Positions held by a :class:`Head` are in the **mesh frame** (the coordinates of the mesh file, mm);
``Head.frame`` converts to and from the Neuromag head frame.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyvista as pv
from numpy.typing import ArrayLike, NDArray

from visualizer.errors import LandmarkError, MeshError
from visualizer.frame import FRAME_LANDMARKS, HeadFrame
from visualizer.muscle_map import MAP_LANDMARKS, MUSCLES, label_muscles
from visualizer.surface import Surface

__all__ = ["DEFAULT_LANDMARKS", "DEFAULT_MESH", "MUSCLES", "Head", "load_head"]

MESH_DIR = Path(__file__).resolve().parent.parent / "meshes"
DEFAULT_MESH = MESH_DIR / "head.vtp"
DEFAULT_LANDMARKS = MESH_DIR / "landmarks.json"


@dataclass
class Head:
    """A loaded head.

    Attributes
    ----------
    mesh : pyvista.PolyData
        Triangulated skin with point arrays ``Normals`` and ``muscle`` (codes into ``MUSCLES``).
    landmarks : dict of str to ndarray
        Landmark positions on the skin, mesh frame (mm).
    frame : HeadFrame
        Mesh frame ↔ head frame.
    mesh_path, landmarks_path : Path
        Where they were read from.
    notes : list of str
        Things the loader had to assume (shown in plans).
    cache : dict
        Per-head results that depend only on the head (e.g. placed protocol sites).
    """

    mesh: pv.PolyData = field(repr=False)
    landmarks: dict[str, NDArray[np.float64]] = field(repr=False)
    frame: HeadFrame = field(repr=False)
    mesh_path: Path
    landmarks_path: Path
    notes: list[str] = field(default_factory=list)
    cache: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def surface(self) -> Surface:
        """The locator-backed surface (built on first use)."""
        return Surface(self.mesh)

    @property
    def muscle_codes(self) -> NDArray[np.int8]:
        """Per-point muscle code."""
        return np.asarray(self.mesh.point_data["muscle"])

    @property
    def size_scale(self) -> float:
        """Head width relative to the default head (tragus to tragus / 147.8 mm)."""
        width = float(np.linalg.norm(self.landmarks["right_tragus"] - self.landmarks["left_tragus"]))
        return width / 147.8

    def with_landmarks(self, changes: Mapping[str, ArrayLike], *, note: str = "") -> Head:
        """A copy of this head with some landmarks moved (mesh frame, mm) for one patient.

        The head frame and the muscle map are derived again from the new landmarks; the mesh and
        its locator are shared. Each moved landmark is snapped onto the skin.
        """
        landmarks = dict(self.landmarks)
        for name, value in changes.items():
            p = np.asarray(value, dtype=float)
            if p.shape != (3,) or not np.all(np.isfinite(p)):
                raise LandmarkError(f"landmark {name!r}: expected [x, y, z] in mm, got {value!r}")
            if name in landmarks and np.array_equal(p, landmarks[name]):
                continue  # unchanged
            landmarks[name] = self.surface.closest(p)[0]
        frame = HeadFrame.from_landmarks(*(landmarks[n] for n in FRAME_LANDMARKS))
        mesh = self.mesh.copy(deep=False)
        mesh.point_data["muscle"] = _derived_muscles(mesh, frame, landmarks, self.muscle_codes)
        notes = [*self.notes, note] if note else list(self.notes)
        head = Head(mesh, landmarks, frame, self.mesh_path, self.landmarks_path, notes)
        head.__dict__["surface"] = self.surface  # same skin, same locator
        return head

    def landmark(self, name: str, *, needed_by: str = "") -> NDArray[np.float64]:
        """A landmark's mesh-frame position, or a :class:`LandmarkError` naming what needed it."""
        try:
            return self.landmarks[name]
        except KeyError:
            who = f" (needed by {needed_by})" if needed_by else ""
            raise LandmarkError(
                f"{self.landmarks_path}: landmark {name!r}{who} is missing; "
                f"the file has: {', '.join(sorted(self.landmarks))}"
            ) from None

    def head_landmark(self, name: str, *, needed_by: str = "") -> NDArray[np.float64]:
        """A landmark in head-frame coordinates (mm)."""
        return self.frame.to_head(self.landmark(name, needed_by=needed_by))

    def snap(self, point: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Closest skin point and its outward normal (mesh frame)."""
        p = np.asarray(point, dtype=float)
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            raise ValueError(f"point must be three finite numbers in mm, got {point!r}")
        return self.surface.closest(p)

    def surface_distance(self, p: ArrayLike, q: ArrayLike) -> float:
        """Distance over the skin between two points (mm, see :meth:`Surface.surface_distance`)."""
        return self.surface.surface_distance(p, q)

    def muscle_at(self, point: ArrayLike) -> str:
        """Name of the muscle area under the skin point nearest ``point``."""
        idx = self.mesh.find_closest_point(np.asarray(point, dtype=float))
        return MUSCLES[int(self.muscle_codes[idx])]


def _derived_muscles(
    mesh: pv.PolyData, frame: HeadFrame, landmarks: Mapping[str, NDArray[np.float64]], fallback: NDArray[np.int8]
) -> NDArray[np.int8]:
    """Muscle codes from the landmark rules, or ``fallback`` if a rule's landmark is missing."""
    if any(n not in landmarks for n in MAP_LANDMARKS):
        return fallback
    head_lm = {k: frame.to_head(v) for k, v in landmarks.items()}
    return label_muscles(frame.to_head(mesh.points), frame.dir_to_head(mesh.point_data["Normals"]), head_lm)


def _read_landmarks(path: Path) -> dict[str, NDArray[np.float64]]:
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise LandmarkError(f"{path}: cannot read landmarks file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise LandmarkError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(raw, dict):
        raise LandmarkError(f"{path}: expected an object of name → [x, y, z], got {type(raw).__name__}")
    out: dict[str, NDArray[np.float64]] = {}
    for name, value in raw.items():
        ok = (
            isinstance(value, list)
            and len(value) == 3
            and all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in value)
        )
        if not ok:
            raise LandmarkError(f"{path}: landmark {name!r}: expected [x, y, z] in mm, got {value!r}")
        out[name] = np.asarray(value, dtype=float)
    return out


def _read_mesh(path: Path) -> pv.PolyData:
    if not path.is_file():
        raise MeshError(f"{path}: mesh file not found")
    try:
        data = pv.read(path)
    except Exception as exc:  # VTK readers raise many types; report them all the same way
        raise MeshError(f"{path}: cannot read mesh ({exc})") from None
    if not isinstance(data, pv.PolyData):
        try:
            data = data.extract_surface(algorithm="dataset_surface")
        except Exception:
            raise MeshError(f"{path}: not a surface mesh ({type(data).__name__})") from None
    if data.n_points == 0 or data.n_cells == 0:
        raise MeshError(f"{path}: mesh is empty (no points or no cells)")
    if not np.all(np.isfinite(data.points)):
        raise MeshError(f"{path}: mesh has non-finite point coordinates")
    data = data.triangulate()
    if data.n_cells == 0:
        raise MeshError(f"{path}: mesh has no surface triangles")
    return data


def load_head(mesh: Path | str | None = None, landmarks: Path | str | None = None) -> Head:
    """Load and check a head (default: the bundled MakeHuman head).

    Parameters
    ----------
    mesh : path, optional
        A surface mesh readable by PyVista (.vtp, .ply, .stl, .obj, .vtk), in mm.
    landmarks : path, optional
        JSON object of landmark name → [x, y, z] in the mesh's coordinates (mm). Required when
        ``mesh`` is given (a mesh cannot borrow the default head's landmarks).
    """
    if mesh is None and landmarks is None:
        return _load_default()
    if mesh is None or landmarks is None:
        raise MeshError("give both --mesh and --landmarks (a mesh needs its own landmarks)")
    return _load(Path(mesh), Path(landmarks))


_DEFAULT: Head | None = None


def _load_default() -> Head:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = _load(DEFAULT_MESH, DEFAULT_LANDMARKS)
    return _DEFAULT


def _load(mesh_path: Path, landmarks_path: Path) -> Head:
    landmarks = _read_landmarks(landmarks_path)
    missing = [n for n in FRAME_LANDMARKS if n not in landmarks]
    if missing:
        raise LandmarkError(
            f"{landmarks_path}: the head frame needs {', '.join(FRAME_LANDMARKS)}; missing: {', '.join(missing)}"
        )
    frame = HeadFrame.from_landmarks(*(landmarks[n] for n in FRAME_LANDMARKS))
    data = _read_mesh(mesh_path)
    notes: list[str] = []
    if "Normals" not in data.point_data:
        data = data.compute_normals(point_normals=True, cell_normals=False, auto_orient_normals=True)
    if "muscle" not in data.point_data or len(data.point_data["muscle"]) != data.n_points:
        lacking = [n for n in MAP_LANDMARKS if n not in landmarks]
        if lacking:
            data.point_data["muscle"] = np.zeros(data.n_points, dtype=np.int8)
            notes.append(f"no muscle map: the mesh has none and the landmarks lack {', '.join(lacking)}")
        else:
            data.point_data["muscle"] = _derived_muscles(data, frame, landmarks, np.zeros(data.n_points, np.int8))
            notes.append("muscle map derived from landmark rules (the mesh carries none)")
    head = Head(data, landmarks, frame, mesh_path, landmarks_path, notes)
    # landmarks must lie on the skin: a landmark far off the surface means a wrong file or frame
    names = sorted(landmarks)
    pts = np.array([landmarks[n] for n in names])
    dist = head.surface.distance_to_surface(pts)
    far = [f"{n} ({d:.1f} mm)" for n, d in zip(names, dist, strict=True) if d > 5.0 * head.size_scale]
    if far:
        raise LandmarkError(
            f"{landmarks_path}: landmarks lie off the skin of {mesh_path.name} (more than 5 mm): {', '.join(far)}"
        )
    return head
