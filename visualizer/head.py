"""A head: skin mesh + landmarks + head frame + muscle map, loaded and checked once.

Positions held by a :class:`Head` are in the **mesh frame** (the coordinates of the mesh file, mm);
``Head.frame`` converts to and from the Neuromag head frame.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyvista as pv
from numpy.typing import ArrayLike, NDArray

from visualizer.body_type import BodyType, morph
from visualizer.bundled import bundled_dir
from visualizer.checks import finite_point
from visualizer.errors import LandmarkError, MeshError, shorten
from visualizer.frame import FRAME_LANDMARKS, HeadFrame
from visualizer.muscle_map import (
    MAP_LANDMARKS,
    MUSCLES,
    WEIGHT_ARRAY,
    hard_weights,
    muscle_areas,
    weights_from_array,
    weights_to_array,
)
from visualizer.safe_read import check_regular_file, load_json, read_text
from visualizer.surface import Surface
from visualizer.vtk_quiet import VtkMessages, read_quietly

__all__ = [
    "DEFAULT_LANDMARKS",
    "DEFAULT_MESH",
    "MUSCLES",
    "Head",
    "body_head",
    "head_from_landmarks",
    "is_default_mesh",
    "load_head",
]

MESH_DIR = bundled_dir("meshes")
DEFAULT_MESH = MESH_DIR / "head.vtp"
DEFAULT_LANDMARKS = MESH_DIR / "landmarks.json"


@dataclass
class Head:
    """A loaded head.

    Attributes
    ----------
    mesh : pyvista.PolyData
        Triangulated skin with point arrays ``Normals``, ``muscle`` (codes into ``MUSCLES``) and,
        when the map has soft edges, ``muscle_weight`` (per-muscle weights, see
        :mod:`visualizer.muscle_map`).
    landmarks : dict of str to ndarray
        Landmark positions on the skin, mesh frame (mm).
    frame : HeadFrame
        Mesh frame ↔ head frame.
    mesh_path, landmarks_path : Path
        Where they were read from.
    notes : list of str
        Things the loader had to assume (shown in plans).
    body_type : BodyType or None
        The body type of the bundled head this head was morphed to (None: the mesh as read).
    cache : dict
        Per-head results that depend only on the head (e.g. placed protocol sites).
    partial : bool
        A scan that may lack parts (neck cut, holes): the planner leaves out the sites it cannot
        carry, with a warning, instead of stopping.
    warnings : list of str
        Warnings about the head itself (landmarks found automatically, projected onto the skin).
    source : dict
        Which head this is when it is a scan (file name, SHA-256, units, where the landmarks came
        from); empty for a mesh given with its landmarks.
    """

    mesh: pv.PolyData = field(repr=False)
    landmarks: dict[str, NDArray[np.float64]] = field(repr=False)
    frame: HeadFrame = field(repr=False)
    mesh_path: Path
    landmarks_path: Path
    notes: list[str] = field(default_factory=list)
    body_type: BodyType | None = None
    cache: dict[str, object] = field(default_factory=dict, repr=False, compare=False)
    partial: bool = False
    warnings: list[str] = field(default_factory=list)
    source: dict[str, object] = field(default_factory=dict)

    @cached_property
    def surface(self) -> Surface:
        """The locator-backed surface (built on first use)."""
        return Surface(self.mesh)

    @property
    def muscle_codes(self) -> NDArray[np.int8]:
        """Per-point muscle code."""
        return np.asarray(self.mesh.point_data["muscle"])

    @property
    def muscle_weights(self) -> NDArray[np.float32]:
        """Per-point weight of each muscle's area in [0, 1], shape (n, len(MUSCLES) - 1).

        Column k is code k + 1. A map without soft edges (a mesh that carries only codes) gives
        weights of 0 and 1.
        """
        codes = self.muscle_codes
        if WEIGHT_ARRAY in self.mesh.point_data:
            return weights_from_array(np.asarray(self.mesh.point_data[WEIGHT_ARRAY]), codes)
        return hard_weights(codes)

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
            p = finite_point(value, name=f"landmark {shorten(name)}", error=LandmarkError)
            if name in landmarks and np.array_equal(p, landmarks[name]):
                continue  # unchanged
            landmarks[name] = self.surface.closest(p)[0]
        frame = HeadFrame.from_landmarks(*(landmarks[n] for n in FRAME_LANDMARKS))
        mesh = self.mesh.copy(deep=False)
        _derive_muscles(mesh, frame, landmarks)
        notes = [*self.notes, note] if note else list(self.notes)
        head = Head(
            mesh, landmarks, frame, self.mesh_path, self.landmarks_path, notes, self.body_type,
            partial=self.partial, warnings=list(self.warnings), source=dict(self.source),
        )  # fmt: skip
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
        return self.surface.closest(finite_point(point, name="point"))

    def surface_distance(self, p: ArrayLike, q: ArrayLike) -> float:
        """Distance over the skin between two points (mm, see :meth:`Surface.surface_distance`)."""
        return self.surface.surface_distance(p, q)

    def muscle_at(self, point: ArrayLike) -> str:
        """Name of the muscle area under the skin point nearest ``point``."""
        idx = self.mesh.find_closest_point(np.asarray(point, dtype=float))
        return MUSCLES[int(self.muscle_codes[idx])]


def _derive_muscles(mesh: pv.PolyData, frame: HeadFrame, landmarks: Mapping[str, NDArray[np.float64]]) -> bool:
    """Draw the muscle map (point arrays ``muscle`` and ``muscle_weight``) from the landmark rules.

    Returns False, leaving the mesh's arrays as they are, when a rule's landmark is missing.
    """
    if any(n not in landmarks for n in MAP_LANDMARKS):
        return False
    head_lm = {k: frame.to_head(v) for k, v in landmarks.items()}
    areas = muscle_areas(frame.to_head(mesh.points), frame.dir_to_head(mesh.point_data["Normals"]), head_lm)
    mesh.point_data["muscle"] = areas.codes
    mesh.point_data[WEIGHT_ARRAY] = weights_to_array(areas.weights)
    return True


def _read_landmarks(path: Path) -> dict[str, NDArray[np.float64]]:
    text = read_text(path, what="landmarks file", error=LandmarkError)
    raw = load_json(text, path, error=LandmarkError)
    if isinstance(raw, Mapping) and "landmarks" in raw and "format" in raw:  # `injectviz landmarks` output
        raw = raw["landmarks"]
    return _check_landmarks(raw, path)


def _check_landmarks(raw: object, source: str | Path) -> dict[str, NDArray[np.float64]]:
    """``name → [x, y, z]`` (finite mm) as arrays, or a :class:`LandmarkError` naming ``source``."""
    if not isinstance(raw, Mapping):
        raise LandmarkError(f"{source}: expected an object of name → [x, y, z], got {type(raw).__name__}")
    out: dict[str, NDArray[np.float64]] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or len(name) > 64:
            raise LandmarkError(f"{source}: landmark names must be text of at most 64 characters (got {shorten(name)})")
        if not isinstance(value, list | tuple):  # JSON arrays only (no strings, objects or numbers)
            raise LandmarkError(
                f"{source}: landmark {shorten(name)} must be three numbers [x, y, z] in mm (got {shorten(value)})"
            )
        out[name] = finite_point(value, name=f"{source}: landmark {shorten(name)}", error=LandmarkError)
    return out


#: Largest mesh file read (the bundled head is 5 MB).
MAX_MESH_BYTES = 512 << 20


def _read_mesh(path: Path) -> pv.PolyData:
    check_regular_file(path, what="mesh file", max_bytes=MAX_MESH_BYTES, error=MeshError)
    data, why = read_quietly(path, "mesh")
    if not isinstance(data, pv.PolyData):
        try:
            with VtkMessages():
                data = data.extract_surface(algorithm="dataset_surface")
        except Exception:
            raise MeshError(f"{path}: not a surface mesh ({type(data).__name__})") from None
    if data.n_points == 0 or data.n_cells == 0:
        if why:
            raise MeshError(f"{path}: cannot read mesh{why}")
        raise MeshError(f"{path}: mesh is empty (no points or no cells)")
    if not np.all(np.isfinite(data.points)):
        raise MeshError(f"{path}: mesh has non-finite point coordinates")
    with VtkMessages():
        data = data.triangulate()
    if data.n_cells == 0:
        raise MeshError(f"{path}: mesh has no surface triangles")
    return data


def load_head(
    mesh: Path | str | None = None, landmarks: Path | str | None = None, *, body_type: BodyType | None = None
) -> Head:
    """Load and check a head (default: the bundled MakeHuman head).

    Parameters
    ----------
    mesh : path, optional
        A surface mesh readable by PyVista (.vtp, .ply, .stl, .obj, .vtk), in mm.
    landmarks : path, optional
        JSON object of landmark name → [x, y, z] in the mesh's coordinates (mm). Required when
        ``mesh`` is given (a mesh cannot borrow the default head's landmarks).
    body_type : BodyType, optional
        Reshape the bundled head to this body type (:mod:`visualizer.body_type`); the result is in
        the morphed head's own head frame. Only for the bundled head (not with ``mesh``).
    """
    if body_type is not None:
        if mesh is not None or landmarks is not None:
            raise MeshError(
                "body-type options reshape the bundled head only; drop --mesh/--landmarks or the body-type options"
            )
        return body_head(body_type)
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


def body_head(body: BodyType) -> Head:
    """The bundled head reshaped to ``body`` (its own head frame, mm); today's head for the defaults.

    The triangles, the muscle map and the landmarks' places on the skin are the bundled head's
    (:func:`visualizer.body_type.morph`); the normals are recomputed. The last two are cached.
    """
    if body.is_default:
        return _load_default()
    return _body_head(body)


@functools.lru_cache(maxsize=2)
def _body_head(body: BodyType) -> Head:
    base = _load_default()
    shaped = morph(body, np.asarray(base.mesh.points))
    mesh = pv.PolyData(shaped.points, base.mesh.faces)
    surface = Surface(mesh)
    mesh.point_data["Normals"] = surface.point_normals
    mesh.point_data["muscle"] = base.muscle_codes
    if WEIGHT_ARRAY in base.mesh.point_data:  # same points, same map
        mesh.point_data[WEIGHT_ARRAY] = np.asarray(base.mesh.point_data[WEIGHT_ARRAY])
    frame = HeadFrame.from_landmarks(*(shaped.landmarks[n] for n in FRAME_LANDMARKS))
    notes = [*base.notes, f"bundled head reshaped to a body type: {body.describe()}"]
    head = Head(mesh, shaped.landmarks, frame, base.mesh_path, base.landmarks_path, notes, body)
    head.__dict__["surface"] = surface
    return head


def _load(mesh_path: Path, landmarks_path: Path) -> Head:
    landmarks = _read_landmarks(landmarks_path)
    _check_frame_landmarks(landmarks, landmarks_path)
    return _assemble(_read_mesh(mesh_path), landmarks, mesh_path, landmarks_path)


def _check_frame_landmarks(landmarks: Mapping[str, object], source: str | Path) -> None:
    missing = [n for n in FRAME_LANDMARKS if n not in landmarks]
    if missing:
        raise LandmarkError(
            f"{source}: the head frame needs {', '.join(FRAME_LANDMARKS)}; missing: {', '.join(missing)}"
        )


def _assemble(
    data: pv.PolyData,
    landmarks: dict[str, NDArray[np.float64]],
    mesh_path: Path,
    landmarks_path: Path,
    *,
    rederive_muscles: bool = False,
) -> Head:
    """A head from a read mesh and checked landmarks; landmarks must lie on the skin."""
    frame = HeadFrame.from_landmarks(*(landmarks[n] for n in FRAME_LANDMARKS))
    notes: list[str] = []
    if "Normals" not in data.point_data:
        with VtkMessages():
            data = data.compute_normals(point_normals=True, cell_normals=False, auto_orient_normals=True)
    has_map = "muscle" in data.point_data and len(data.point_data["muscle"]) == data.n_points
    if rederive_muscles and has_map:
        data = data.copy(deep=False)
        _derive_muscles(data, frame, landmarks)
    elif not has_map:
        if WEIGHT_ARRAY in data.point_data:  # weights without codes: not a map of ours
            del data.point_data[WEIGHT_ARRAY]
        lacking = [n for n in MAP_LANDMARKS if n not in landmarks]
        if lacking:
            data.point_data["muscle"] = np.zeros(data.n_points, dtype=np.int8)
            notes.append(f"no muscle map: the mesh has none and the landmarks lack {', '.join(lacking)}")
        else:
            _derive_muscles(data, frame, landmarks)
            notes.append("muscle map derived from landmark rules (the mesh carries none)")
    head = Head(data, landmarks, frame, mesh_path, landmarks_path, notes)
    # landmarks must lie on the skin: up to PROJECT_MM off they are projected onto it (with a
    # warning); farther means a wrong file or frame
    projected, warnings = project_landmarks(head.surface, landmarks, source=landmarks_path)
    if warnings:
        head.landmarks = projected
        head.frame = HeadFrame.from_landmarks(*(projected[n] for n in FRAME_LANDMARKS))
        head.warnings.extend(warnings)
    return head


#: Hand-given landmarks up to this far off the skin (mm) are projected onto it (with a warning).
PROJECT_MM = 10.0
#: Below this (mm) a landmark counts as on the skin (kept as given).
ON_SKIN_MM = 1.0


def project_landmarks(
    surface: Surface, landmarks: Mapping[str, NDArray[np.float64]], *, source: str | Path
) -> tuple[dict[str, NDArray[np.float64]], list[str]]:
    """Put given landmarks onto the skin (mesh frame, mm).

    A landmark up to :data:`PROJECT_MM` off the skin is projected onto it; a warning names each
    one that was more than :data:`ON_SKIN_MM` off and its distance. Farther than
    :data:`PROJECT_MM` is a :class:`LandmarkError` naming each.
    """
    names = sorted(landmarks)
    pts = np.array([landmarks[n] for n in names], dtype=float).reshape(-1, 3)
    snapped, _ = surface.closest(pts)
    dist = np.linalg.norm(snapped - pts, axis=1)
    far = [f"{n} ({d:.1f} mm)" for n, d in zip(names, dist, strict=True) if d > PROJECT_MM]
    if far:
        shown = ", ".join(far[:6]) + (f" and {len(far) - 6} more" if len(far) > 6 else "")
        raise LandmarkError(f"{source}: landmarks lie off the skin (more than {PROJECT_MM:g} mm): {shown}")
    moved = [f"{n} {d:.1f} mm" for n, d in zip(names, dist, strict=True) if d > ON_SKIN_MM]
    if not moved:
        return dict(landmarks), []
    out = {n: (snapped[i] if dist[i] > ON_SKIN_MM else pts[i]) for i, n in enumerate(names)}
    return out, [f"{source}: landmarks off the skin projected onto it: {', '.join(moved)}"]


def is_default_mesh(mesh: str | Path | None) -> bool:
    """True when ``mesh`` is empty or names the bundled head mesh (this install's copy)."""
    if not mesh:
        return True
    try:
        return Path(mesh).resolve() == DEFAULT_MESH.resolve()
    except (OSError, RuntimeError, ValueError):
        return False


def head_from_landmarks(
    mesh: str | Path | None, landmarks: object, *, source: str | Path, body_type: BodyType | None = None
) -> Head:
    """The head a stored plan was made on: its mesh with **the plan's own landmarks**.

    Parameters
    ----------
    mesh : path or None
        The plan's mesh; None, empty or the bundled mesh's path mean the bundled head.
    landmarks : mapping of str to [x, y, z]
        The landmarks stored in the plan, mesh frame (mm). They replace the mesh's own landmarks
        (moved landmarks re-derive the frame and the muscle map, as in the app); each must be
        finite and lie on the skin.
    source : str or Path
        Names the plan in messages (e.g. ``"plan.json: landmarks"``).
    body_type : BodyType, optional
        The plan's body type of the bundled head (its ``body_type``); the landmarks then belong to
        the reshaped head.

    Raises
    ------
    LandmarkError, MeshError
    """
    lms = _check_landmarks(landmarks, source)
    _check_frame_landmarks(lms, source)
    label = Path(str(source))
    if is_default_mesh(mesh):
        base = _load_default() if body_type is None else body_head(body_type)
        same = set(lms) == set(base.landmarks) and all(
            float(np.max(np.abs(p - base.landmarks[n]))) <= 0.01 for n, p in lms.items()
        )
        if same:  # the plan's landmarks are the bundled ones (rounded): the bundled head as it is
            return base
        head = _assemble(base.mesh, lms, base.mesh_path, label, rederive_muscles=True)
        head.__dict__["surface"] = base.surface  # same skin, same locator
        head.body_type = base.body_type
        return head
    if body_type is not None:
        raise LandmarkError(f"{source}: a body type applies to the bundled head only, not to {shorten(str(mesh))}")
    return _assemble(_read_mesh(Path(mesh)), lms, Path(mesh), label)  # type: ignore[arg-type]
