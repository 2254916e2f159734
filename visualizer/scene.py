"""PyVista scene for a Head and a Plan: shared by the CLI ``render`` command and the web app.

The scene only *draws*: every position, normal and muscle label comes from the ``Head`` or the
``Plan``.  What it computes itself is presentation (colours, marker sizes, label orientation, the
soft heat falloff of the pain origin, camera placement).

Everything drawn is real geometry (glyph meshes and ``pv.Text3D`` labels, colours as per-point
RGB arrays) so that the browser's vtk.js "local" view and the server's "remote" view show the same
picture: vtk.js drops 2D text actors and draws point sprites as squares.

Public API::

    scene = build_scene(plotter, head, plan, show_muscles=True, show_labels=True,
                        highlight=None, pain_point=None)
    scene.update(plan=..., highlight="site-id", pain_point=(x, y, z), show_labels=False, ...)
    set_camera(plotter, head, "front" | "back" | "left" | "right" | "top")
    render_png(head, plan, "out.png", view="front" | ... | "all", size=(1600, 1200))
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyvista as pv
from PIL import Image

from visualizer.atomic import atomic_write
from visualizer.checks import check_image_size
from visualizer.muscle_map import MUSCLES, visible_weights
from visualizer.muscles import MUSCLE_TABLE

if TYPE_CHECKING:
    from visualizer.head import Head
    from visualizer.plan import Plan

__all__ = [
    "MUSCLE_COLORS",
    "SKIN_RGB",
    "VIEWS",
    "Scene",
    "build_scene",
    "focus_camera",
    "muscle_color",
    "muscle_hex",
    "muscle_names",
    "render_png",
    "set_camera",
    "view_direction",
]

VIEWS = ("front", "back", "left", "right", "top")

# --- palette -------------------------------------------------------------------------------
SKIN_RGB = np.array([232, 196, 170], dtype=float)  # warm, light skin tone
BACKGROUND = ("#f4f1ee", "#d9dee5")  # bottom, top of the gradient
LABEL_RGB = (30, 30, 34)
FTP_RING_RGB = (20, 20, 24)
HIGHLIGHT_RGB = (255, 205, 0)
FLAGGED_RGB = (220, 20, 20)  # a site named by a safety finding
LANDMARK_LABEL_MM = 3.0  # height of a landmark's name
HEAT_RGB = np.array([214, 38, 24], dtype=float)
LANDMARK_RGB = (250, 250, 250)
GUESS_RGB = (230, 30, 110)
ANSWER_RGB = (0, 150, 70)

# Marker colours per muscle, from the muscle registry (visualizer/muscles.py; red is kept for the
# pain heat).
MUSCLE_COLORS: dict[str, tuple[int, int, int]] = {m.name: m.colour for m in MUSCLE_TABLE}
_FALLBACK_COLOR = (120, 120, 120)
_TINT_ALPHA = 0.42  # how strongly a muscle area tints the skin
#: How skin is drawn (the head, and the pain glow laid over it): per-point colours, soft light.
_SKIN_LOOK: dict[str, Any] = dict(
    scalars="rgb", rgb=True, smooth_shading=True, ambient=0.22, diffuse=0.78, specular=0.06, specular_power=12
)
_TINT_LIGHTEN = 0.22  # area tints are a lighter version of the marker colour
_HEAT_SIGMA_MM = 16.0  # soft heat area of a clicked pain point
_HEAT_REGION_SIGMA_MM = 26.0  # broader heat around the centre of a chosen pain region
_HEAT_ALPHA = 0.85


def muscle_color(name: str) -> tuple[int, int, int]:
    """RGB 0-255 marker colour of a muscle (grey for an unknown name)."""
    return MUSCLE_COLORS.get(str(name), _FALLBACK_COLOR)


def muscle_hex(name: str) -> str:
    """``#rrggbb`` marker colour of a muscle, for UI legends."""
    r, g, b = muscle_color(name)
    return f"#{r:02x}{g:02x}{b:02x}"


def muscle_names(head: Head | None = None) -> dict[int, str]:
    """Map the integer codes of the mesh point array ``muscle`` to names (``muscle_map.MUSCLES``)."""
    return dict(enumerate(MUSCLES))


# --- small geometry helpers (presentation only) ------------------------------------------------
def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n == 0, 1.0, n)


def _mesh_to_head_rotation(head: Head) -> np.ndarray:
    """3x3 linear part of the mesh->head transform (identity if the head has no frame)."""
    frame = getattr(head, "frame", None)
    m = getattr(frame, "matrix", None) if frame is not None else None
    if m is None:
        return np.eye(3)
    return np.asarray(m, dtype=float)[:3, :3]


def view_direction(head: Head, direction_head: Sequence[float]) -> np.ndarray:
    """A head-frame direction (+x right, +y nasion, +z up) expressed in the mesh frame."""
    r = _mesh_to_head_rotation(head)
    # mesh->head maps v_mesh to R v_mesh; for a direction d_head we need R^-1 d_head.
    d = np.linalg.solve(r, np.asarray(direction_head, dtype=float))
    return _unit(d)


def _orthonormal_frames(normals: np.ndarray, up_hint: np.ndarray, alt_hint: np.ndarray) -> np.ndarray:
    """Per-row rotation matrices with columns (right, up, normal); 'up' follows up_hint."""
    n = _unit(normals)
    up = up_hint[None, :] - (n @ up_hint)[:, None] * n
    weak = np.linalg.norm(up, axis=1) < 0.35
    if np.any(weak):
        alt = alt_hint[None, :] - (n[weak] @ alt_hint)[:, None] * n[weak]
        up[weak] = alt
    up = _unit(up)
    right = np.cross(up, n)
    return np.stack([right, up, n], axis=2)  # (k, 3, 3): columns


@lru_cache(maxsize=8)
def _unit_sphere(res: int = 14) -> tuple[np.ndarray, np.ndarray]:
    s = pv.Sphere(radius=1.0, theta_resolution=res, phi_resolution=max(8, res - 4))
    return np.asarray(s.points, dtype=float), np.asarray(s.faces, dtype=np.int64).reshape(-1, 4)[:, 1:]


@lru_cache(maxsize=8)
def _unit_torus(ring: float, tube: float) -> tuple[np.ndarray, np.ndarray]:
    t = pv.ParametricTorus(ringradius=ring, crosssectionradius=tube, u_res=28, v_res=8, w_res=2)
    t = t.triangulate().clean()
    return np.asarray(t.points, dtype=float), np.asarray(t.faces, dtype=np.int64).reshape(-1, 4)[:, 1:]


@lru_cache(maxsize=512)
def _text_template(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Flat triangulated text of height 1, centred at the origin, facing +z (one-sided: with
    back-face culling it is invisible from behind instead of mirrored)."""
    t = pv.Text3D(text, depth=0.0, height=1.0).triangulate()
    pts = np.asarray(t.points, dtype=float)
    pts -= (pts.max(axis=0) + pts.min(axis=0)) / 2.0
    return pts, np.asarray(t.faces, dtype=np.int64).reshape(-1, 4)[:, 1:]


def _tile(
    template: tuple[np.ndarray, np.ndarray],
    rotations: np.ndarray,
    scales: np.ndarray,
    centers: np.ndarray,
    colors: np.ndarray | None,
) -> pv.PolyData:
    """Copies of a template mesh: rotated (columns = local axes), scaled, translated; RGB colours."""
    pts0, tri0 = template
    k = len(centers)
    if k == 0:
        return pv.PolyData()
    # (k, m, 3) = R (k,3,3) @ p (m,3)
    pts = np.einsum("kij,mj->kmi", rotations, pts0) * np.asarray(scales, float).reshape(k, 1, 1)
    pts += np.asarray(centers, float)[:, None, :]
    offs = (np.arange(k) * len(pts0))[:, None, None]
    tris = (tri0[None, :, :] + offs).reshape(-1, 3)
    faces = np.hstack([np.full((len(tris), 1), 3, dtype=np.int64), tris]).ravel()
    mesh = pv.PolyData(pts.reshape(-1, 3), faces)
    if colors is not None:
        rgb = np.repeat(np.asarray(colors, dtype=np.uint8).reshape(k, 3), len(pts0), axis=0)
        mesh.point_data["rgb"] = rgb
    return mesh


def _tile_variable(
    templates: list[tuple[np.ndarray, np.ndarray]],
    rotations: np.ndarray,
    scales: np.ndarray,
    centers: np.ndarray,
    colors: np.ndarray | None,
) -> pv.PolyData:
    """Like _tile with one template per item (used for text labels)."""
    if not templates:
        return pv.PolyData()
    all_pts, all_tris, all_rgb = [], [], []
    base = 0
    for i, (pts0, tri0) in enumerate(templates):
        p = (rotations[i] @ pts0.T).T * scales[i] + centers[i]
        all_pts.append(p)
        all_tris.append(tri0 + base)
        if colors is not None:
            all_rgb.append(np.repeat(np.asarray(colors[i], dtype=np.uint8)[None, :], len(pts0), axis=0))
        base += len(pts0)
    tris = np.vstack(all_tris)
    faces = np.hstack([np.full((len(tris), 1), 3, dtype=np.int64), tris]).ravel()
    mesh = pv.PolyData(np.vstack(all_pts), faces)
    if colors is not None:
        mesh.point_data["rgb"] = np.vstack(all_rgb)
    return mesh


def _replace(target: pv.PolyData, new: pv.PolyData) -> None:
    """Replace a mesh's content in place (keeps the actor and its identity for trame deltas)."""
    if new.n_points == 0:
        # keep one degenerate triangle so renderers never see an empty dataset
        new = pv.PolyData(np.zeros((3, 3)), np.array([3, 0, 1, 2]))
        new.point_data["rgb"] = np.zeros((3, 3), dtype=np.uint8)
    if new.points.dtype != np.float32:  # half the bytes sent to a browser (mm: float32 is ample)
        new.points = np.asarray(new.points, dtype=np.float32)
    target.copy_from(new, deep=False)
    target.Modified()


def site_label(order: Any, units: float) -> str:
    """A site's label as drawn in 3D ("12: 5U")."""
    return f"{int(order)}: {_fmt_units(units)}U"


def warm_labels(head: Any, plans: Iterable[Any] = ()) -> int:
    """Triangulate the texts a scene of ``head`` draws for ``plans`` now (cached per process).

    Called once in the session template, so every forked session (and its first PDF report,
    which builds a scene of its own) finds them ready; returns how many texts are cached.
    """
    for name in getattr(head, "landmarks", {}) or {}:
        _text_template(landmark_label(name))
    for plan in plans:
        g = SiteGeometry.from_plan(plan)
        for o, u in zip(g.order, g.units, strict=False):
            _text_template(site_label(o, u))
    return _text_template.cache_info().currsize


def landmark_label(name: str) -> str:
    """A landmark's name as drawn in 3D ("left orbital rim")."""
    return "C7" if name == "c7" else name.replace("_", " ")


def _declutter(
    names: Sequence[str],
    centers: np.ndarray,
    widths: Sequence[float],
    height: float,
    up: np.ndarray,
    first: str | None = None,
) -> list[int]:
    """Indices of labels to draw so that none overlaps another (greedy; ``first``, then midline names).

    Labels are upright boxes ``width`` × ``height`` mm around their centres; two overlap when they
    are closer than 1.3 heights along ``up`` and closer than their half-widths summed across it
    (so also when one is behind the other as seen from the side).
    """
    order = sorted(range(len(names)), key=lambda i: (names[i] != first, "_" in names[i], names[i]))
    kept: list[int] = []
    for i in order:
        ok = True
        for j in kept:
            d = centers[i] - centers[j]
            vert = abs(float(d @ up))
            across = float(np.linalg.norm(d - (d @ up) * up))
            if vert < 1.3 * height and across < 0.5 * (widths[i] + widths[j]) + 1.0:
                ok = False
                break
        if ok:
            kept.append(i)
    return sorted(kept)


@dataclass
class SiteGeometry:
    """The drawable part of a plan: arrays in plan order."""

    ids: list[str]
    muscles: list[str]
    order: np.ndarray
    units: np.ndarray
    positions: np.ndarray
    normals: np.ndarray
    ftp: np.ndarray

    @classmethod
    def from_plan(cls, plan: Plan | None) -> SiteGeometry:
        sites = plan.sites if plan is not None else ()
        if not sites:
            z = np.zeros((0, 3))
            return cls([], [], np.zeros(0, int), np.zeros(0), z, z, np.zeros(0, bool))
        return cls(
            ids=[str(s.id) for s in sites],
            muscles=[str(s.muscle) for s in sites],
            order=np.array([int(s.order) for s in sites]),
            units=np.array([float(s.units) for s in sites]),
            positions=np.array([s.position for s in sites], dtype=float).reshape(-1, 3),
            normals=_unit(np.array([s.normal for s in sites], dtype=float).reshape(-1, 3)),
            ftp=np.array([bool(s.follow_the_pain) for s in sites]),
        )


def marker_radius(positions: np.ndarray) -> float:
    """Marker radius (mm) so that neighbouring sites never merge: 30 % of the closest spacing."""
    if len(positions) < 2:
        return 3.0
    d = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=2)
    d[np.diag_indices_from(d)] = np.inf
    closest = float(d.min())
    return float(np.clip(0.3 * closest, 1.2, 3.0))


def _fmt_units(u: float) -> str:
    return f"{u:g}"


def display_mesh(head: Head, max_cells: int | None = None) -> tuple[pv.PolyData, np.ndarray | None]:
    """The skin mesh as drawn: a copy with normals (decimated to about ``max_cells`` triangles when
    the mesh is larger, so browsers without a GPU stay responsive) and its per-point muscle codes.

    Positions and picks never use this mesh: sites come from the plan and clicks are snapped to
    the real surface by the engine. Cached on ``head.cache`` when the head has one.
    """
    with _DISPLAY_LOCK:  # one computation even when a warm-up thread and a session race
        return _display_mesh(head, max_cells)


_DISPLAY_LOCK = threading.Lock()


def _display_mesh(head: Head, max_cells: int | None) -> tuple[pv.PolyData, np.ndarray | None]:
    src = head.mesh
    key = f"scene:display-mesh:{max_cells}"
    cache = getattr(head, "cache", None)
    if isinstance(cache, dict) and key in cache:
        mesh, codes = cache[key]
        return mesh.copy(deep=True), (None if codes is None else codes.copy())
    mesh = pv.PolyData()
    mesh.copy_from(src, deep=True)
    for name in list(mesh.point_data.keys()):
        del mesh.point_data[name]
    for name in list(mesh.cell_data.keys()):
        del mesh.cell_data[name]
    decimated = bool(max_cells and mesh.n_cells > max_cells)
    if decimated:
        mesh = mesh.triangulate().decimate(1.0 - float(max_cells) / mesh.n_cells)
    if decimated or "Normals" not in src.point_data:
        mesh = mesh.compute_normals(
            cell_normals=False,
            point_normals=True,
            split_vertices=False,
            consistent_normals=True,
            auto_orient_normals=False,
        )
    else:
        mesh.point_data["Normals"] = np.asarray(src.point_data["Normals"])
    for name in list(mesh.point_data.keys()):
        if name != "Normals":
            del mesh.point_data[name]
    codes = None
    if "muscle" in src.point_data:
        src_codes = np.asarray(src.point_data["muscle"]).astype(int)
        if decimated:
            from scipy.spatial import cKDTree

            _, idx = cKDTree(np.asarray(src.points)).query(np.asarray(mesh.points))
            codes = src_codes[idx]
        else:
            codes = src_codes
    if isinstance(cache, dict):
        cache[key] = (mesh.copy(deep=True), None if codes is None else codes.copy())
    return mesh, codes


def display_weights(head: Head, max_cells: int | None = None) -> np.ndarray | None:
    """The muscle weights of the display mesh (``display_mesh(head, max_cells)``), cached on the head.

    None when there is nothing to carry over (no muscle map, or the skin is drawn undecimated).
    """
    mesh, codes = display_mesh(head, max_cells)
    get = getattr(head, "muscle_weights", None)
    src = np.asarray(get, dtype=float) if get is not None and not callable(get) else None
    if codes is None or src is None or src.ndim != 2 or len(src) == len(codes):
        return None
    return _display_weights(head, max_cells, src, mesh)


def _display_weights(head: Head, max_cells: int | None, src: np.ndarray, shown: pv.PolyData) -> np.ndarray:
    """Muscle weights ``src`` (per skin point) carried to the display mesh ``shown``: each display
    point takes its nearest skin point's. Cached (read-only) on ``head.cache`` next to the display
    mesh, so sessions forked from the template share one copy and skip the nearest-point search
    (≈ 0.2-0.3 s per scene)."""
    key = f"scene:display-weights:{max_cells}"
    cache = getattr(head, "cache", None)
    if isinstance(cache, dict) and key in cache and len(cache[key]) == shown.n_points:
        return cache[key]
    from scipy.spatial import cKDTree

    _, idx = cKDTree(np.asarray(head.mesh.points)).query(np.asarray(shown.points))
    out = np.asarray(src[idx], dtype=float)
    if isinstance(cache, dict):
        out.flags.writeable = False
        cache[key] = out
    return out


class Scene:
    """All actors of one plotter's scene, updated in place.

    Actors (``scene.actors[name]``): ``head``, ``sites`` and ``ftp_sites`` (the fixed and the
    follow-the-pain sites' beads), ``ftp_rings``, ``labels`` and ``ftp_labels``, ``highlight``,
    ``landmarks``, ``landmark_labels``, ``guess``, ``answer``, ``heat``.

    The pain glow (``heat``) is a small patch of the skin drawn just above it, so a new pain origin
    or pain region changes only that patch: the skin itself (its colours included) is not touched
    and never has to be sent to a browser again.
    """

    def __init__(
        self,
        plotter: pv.Plotter,
        head: Head,
        plan: Plan | None = None,
        *,
        show_muscles: bool = True,
        show_labels: bool = True,
        show_sites: bool = True,
        show_landmarks: bool = False,
        highlight: str | None = None,
        pain_point: Sequence[float] | None = None,
        heat_points: Iterable[Sequence[float]] | None = None,
        display_cells: int | None = None,
    ) -> None:
        self.plotter = plotter
        self.head = head
        self.plan = None
        self.geometry = SiteGeometry.from_plan(None)
        self.show_muscles = bool(show_muscles)
        self.show_labels = bool(show_labels)
        self.show_sites = bool(show_sites)
        self.show_landmarks = bool(show_landmarks)
        self.highlight: str | None = None
        self.pain_point: np.ndarray | None = None
        self.heat_points: np.ndarray = np.zeros((0, 3))
        self.radius = 3.0
        self.up = view_direction(head, (0, 0, 1))
        self.forward = view_direction(head, (0, 1, 0))
        self.actors: dict[str, Any] = {}
        self.meshes: dict[str, pv.PolyData] = {}
        self.display_cells = display_cells

        self._build_head()
        self._base_rgb = self._skin_rgb(False)
        self._tinted_rgb = self._skin_rgb(True)  # re-made for each plan's muscles in update()
        self.flagged: tuple[str, ...] = ()
        self.label_texts: list[str] = []  # the site labels drawn, in plan order ("20: 5U")
        self.landmark_label_names: list[str] = []  # the landmarks whose names are drawn
        self.landmark_focus: str | None = None
        self._tint_muscles: frozenset[str] | None = None
        self._add_heat()
        self._group_keys: dict[str, tuple] = {}
        for name in (
            "sites",
            "ftp_sites",
            "ftp_rings",
            "labels",
            "ftp_labels",
            "highlight",
            "flagged",
            "landmarks",
            "landmark_labels",
            "guess",
            "answer",
        ):
            self._add_overlay(name)
        self._build_landmarks()
        self.update(plan=plan, highlight=highlight, pain_point=pain_point, heat_points=heat_points, _force=True)

    # -- construction ---------------------------------------------------------------------
    def _build_head(self) -> None:
        mesh, codes = display_mesh(self.head, self.display_cells)
        self._codes = codes
        mesh.point_data["rgb"] = np.zeros((mesh.n_points, 3), dtype=np.uint8)
        self.meshes["head"] = mesh
        self.actors["head"] = self.plotter.add_mesh(
            mesh,
            **_SKIN_LOOK,
            name="head",
            pickable=True,
            show_scalar_bar=False,
        )

    def _add_heat(self) -> None:
        skin = self.meshes["head"]
        self._skin_faces = np.asarray(skin.regular_faces, dtype=np.int64)
        self._skin_normals = np.asarray(skin.point_normals, dtype=float)
        mesh = pv.PolyData()
        _replace(mesh, pv.PolyData())
        self.meshes["heat"] = mesh
        self.actors["heat"] = self.plotter.add_mesh(
            mesh,
            **_SKIN_LOOK,
            name="heat",
            pickable=False,
            show_scalar_bar=False,
        )
        self.actors["heat"].SetVisibility(False)

    def _add_overlay(self, name: str) -> None:
        mesh = pv.PolyData()
        _replace(mesh, pv.PolyData())
        self.meshes[name] = mesh
        kw = dict(ambient=0.3, diffuse=0.75, specular=0.15, smooth_shading=True)
        if name in ("labels", "ftp_labels", "landmark_labels"):
            kw = dict(ambient=0.6, diffuse=0.4, specular=0.0, smooth_shading=False, culling="back")
        self.actors[name] = self.plotter.add_mesh(
            mesh,
            scalars="rgb",
            rgb=True,
            name=name,
            pickable=(name in ("sites", "ftp_sites")),
            show_scalar_bar=False,
            **kw,
        )
        self.actors[name].SetVisibility(False)

    def _skin_rgb(self, tinted: bool, muscles: Iterable[str] | None = None) -> np.ndarray:
        """Skin colours; ``tinted`` lays the muscle areas over it (only ``muscles`` if given).

        Each area tints by its per-point weight (soft edges that blend into the skin; a map
        without weights tints by its hard codes).
        """
        n = self.meshes["head"].n_points
        rgb = np.tile(SKIN_RGB, (n, 1))
        wanted = None if muscles is None else set(muscles)
        weights = self._muscle_weights() if tinted else None
        if weights is not None:
            weights = visible_weights(weights, None if wanted is None else [m for m in MUSCLES[1:] if m in wanted])
            names = muscle_names(self.head)
            for col in range(weights.shape[1]):
                name = names.get(col + 1, "none")
                if name in MUSCLE_COLORS and (wanted is None or name in wanted):
                    w = weights[:, col]
                    sel = np.flatnonzero(w > 0.0)
                    if sel.size:
                        tint = np.array(MUSCLE_COLORS[name], float)
                        tint = tint + (255.0 - tint) * _TINT_LIGHTEN
                        rgb[sel] += (_TINT_ALPHA * w[sel])[:, None] * (tint - SKIN_RGB)
        return rgb

    def _muscle_weights(self) -> np.ndarray | None:
        """Per display point, each muscle's weight (columns: codes 1…), or None without a map."""
        codes = self._muscle_codes()
        if codes is None:
            return None
        cache = getattr(self.head, "cache", None)
        shared = cache.get(f"scene:display-weights:{self.display_cells}") if isinstance(cache, dict) else None
        if shared is not None and len(shared) == len(codes):
            return shared  # computed once for this head (display_weights), read-only
        get = getattr(self.head, "muscle_weights", None)
        src = np.asarray(get, dtype=float) if get is not None and not callable(get) else None
        if src is None or src.ndim != 2:
            src = np.zeros((len(codes), len(MUSCLES) - 1))
            on = (codes > 0) & (codes < len(MUSCLES))
            src[np.flatnonzero(on), codes[on] - 1] = 1.0
            return src
        if len(src) == len(codes):
            return src
        # a decimated display mesh: each display point takes its nearest skin point's weights
        return _display_weights(self.head, self.display_cells, src, self.meshes["head"])

    def _muscle_codes(self) -> np.ndarray | None:
        return self._codes

    def set_landmarks(self, head: Head) -> None:
        """Redraw the landmarks of ``head`` (same mesh, e.g. after a landmark was moved)."""
        self.head = head
        self._build_landmarks()
        self._update_visibility()

    def _build_landmarks(self) -> None:
        lms = dict(getattr(self.head, "landmarks", {}) or {})
        if not lms:
            return
        names = sorted(lms)
        pts = np.array([lms[k] for k in names], dtype=float).reshape(-1, 3)
        # landmark normals: from the head's snap when available, else outward from the centroid
        normals = []
        for p in pts:
            nrm = None
            snap = getattr(self.head, "snap", None)
            if snap is not None:
                try:
                    nrm = np.asarray(snap(p)[1], dtype=float)
                except Exception:
                    nrm = None
            if nrm is None:
                nrm = p - np.asarray(self.meshes["head"].center)
            normals.append(nrm)
        normals = _unit(np.array(normals))
        rot = _orthonormal_frames(normals, self.up, self.forward)
        lm_r = 1.6
        _replace(
            self.meshes["landmarks"],
            _tile(
                _unit_sphere(10),
                rot,
                np.full(len(pts), lm_r),
                pts + normals * lm_r * 0.3,
                np.tile(LANDMARK_RGB, (len(pts), 1)),
            ),
        )
        h = LANDMARK_LABEL_MM
        centers = pts + normals * 0.8 + rot[:, :, 1] * (lm_r + h * 0.9)
        keep = _declutter(
            names, centers, [len(landmark_label(n)) * 0.62 * h for n in names], h, self.up, first=self.landmark_focus
        )
        self.landmark_label_names = [names[i] for i in keep]
        texts = [_text_template(landmark_label(names[i])) for i in keep]
        scale = np.array([h * (1.3 if names[i] == self.landmark_focus else 1.0) for i in keep])
        colors = np.array([(200, 30, 30) if names[i] == self.landmark_focus else (60, 60, 60) for i in keep])
        _replace(
            self.meshes["landmark_labels"],
            _tile_variable(texts, rot[keep], scale, centers[keep], colors.reshape(-1, 3)),
        )

    def set_landmark_focus(self, name: str | None) -> None:
        """Label this landmark always (larger, red): the one being placed."""
        if name != self.landmark_focus:
            self.landmark_focus = name
            self._build_landmarks()

    # -- updates --------------------------------------------------------------------------
    def update(
        self,
        *,
        plan: Any = ...,
        highlight: Any = ...,
        pain_point: Any = ...,
        heat_points: Any = ...,
        show_muscles: Any = ...,
        show_labels: Any = ...,
        show_sites: Any = ...,
        show_landmarks: Any = ...,
        flagged: Any = ...,
        _force: bool = False,
    ) -> None:
        """Change any part of the scene; arguments left out keep their value.

        ``flagged``: ids of sites a safety finding names (drawn with a red ring).
        """
        plan_changed = plan is not ... and (plan is not self.plan or _force)
        skin_changed = _force
        heat_changed = _force
        if plan is not ...:
            self.plan = plan
            self.geometry = SiteGeometry.from_plan(plan)
            self.radius = marker_radius(self.geometry.positions)
            muscles = frozenset(self.geometry.muscles)
            if muscles != self._tint_muscles:  # only the plan's muscles are tinted
                self._tint_muscles = muscles
                self._tinted_rgb = self._skin_rgb(True, muscles)
                if self.show_muscles:  # the untinted skin needs no resend
                    skin_changed = heat_changed = True
        if flagged is not ...:
            new_f = tuple(sorted(str(i) for i in (flagged or ())))
            if new_f != self.flagged:
                self.flagged = new_f
                self._update_flagged()
        if show_muscles is not ... and bool(show_muscles) != self.show_muscles:
            self.show_muscles = bool(show_muscles)
            skin_changed = heat_changed = True
        if pain_point is not ...:
            new = None if pain_point is None else np.asarray(pain_point, dtype=float).reshape(3)
            if (new is None) != (self.pain_point is None) or (
                new is not None and not np.allclose(new, self.pain_point)
            ):
                heat_changed = True
            self.pain_point = new
        if heat_points is not ...:
            new_h = np.zeros((0, 3)) if heat_points is None else np.asarray(list(heat_points), float).reshape(-1, 3)
            if new_h.shape != self.heat_points.shape or not np.allclose(new_h, self.heat_points):
                heat_changed = True
            self.heat_points = new_h
        if show_labels is not ...:
            self.show_labels = bool(show_labels)
        if show_sites is not ...:
            self.show_sites = bool(show_sites)
        if show_landmarks is not ...:
            self.show_landmarks = bool(show_landmarks)
        if highlight is not ...:
            self.highlight = None if highlight in (None, "") else str(highlight)
            self._update_highlight()
        if plan_changed:
            self._update_sites()
            self._update_highlight()
            self._update_flagged()
        if skin_changed:
            self._update_skin()
        if heat_changed:
            self._update_heat()
        self._update_visibility()

    def _skin_colors(self) -> np.ndarray:
        return self._tinted_rgb if self.show_muscles else self._base_rgb

    def _update_skin(self) -> None:
        mesh = self.meshes["head"]
        mesh.point_data["rgb"] = np.clip(np.rint(self._skin_colors()), 0, 255).astype(np.uint8)
        mesh.Modified()

    def heat_weights(self) -> np.ndarray:
        """Pain-glow strength (0..1) at each skin point of the displayed mesh."""
        pts = np.asarray(self.meshes["head"].points, dtype=float)
        w = np.zeros(len(pts))
        src = [(c, _HEAT_REGION_SIGMA_MM) for c in self.heat_points]
        if self.pain_point is not None:
            src.append((self.pain_point, _HEAT_SIGMA_MM))
        for c, sigma in src:
            d2 = np.einsum("ij,ij->i", pts - c, pts - c)
            w = np.maximum(w, np.exp(-d2 / (2 * sigma**2)))
        w[w < 2e-3] = 0.0
        return w

    def _update_heat(self) -> None:
        """The glow: the skin's triangles near the pain, recoloured, lifted 0.3 mm off the skin."""
        w = self.heat_weights()
        faces = self._skin_faces
        sel = (w[faces] > 0).any(axis=1)
        if not sel.any():
            _replace(self.meshes["heat"], pv.PolyData())
            return
        f = faces[sel]
        used, inverse = np.unique(f, return_inverse=True)
        a = (_HEAT_ALPHA * w[used])[:, None]
        rgb = (1 - a) * self._skin_colors()[used] + a * HEAT_RGB
        pts = np.asarray(self.meshes["head"].points, dtype=float)[used] + 0.3 * self._skin_normals[used]
        tris = inverse.reshape(-1, 3)
        patch = pv.PolyData(pts, np.hstack([np.full((len(tris), 1), 3, dtype=np.int64), tris]).ravel())
        patch.point_data["rgb"] = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
        _replace(self.meshes["heat"], patch)

    #: the site markers in two actors each: the protocol's fixed sites and the follow-the-pain
    #: sites. A new pain origin moves only the latter, so only their (small) meshes change and
    #: are sent to a browser again; the fixed sites' beads and labels stay where they are.
    SITE_GROUPS = (("sites", "labels", False), ("ftp_sites", "ftp_labels", True))

    def _update_sites(self) -> None:
        g = self.geometry
        r = self.radius
        self.label_texts = [site_label(o, u) for o, u in zip(g.order, g.units, strict=False)]
        # a new plan with the same sites (most pain changes) changes nothing to draw or to send
        key = (
            tuple(g.ids),
            np.asarray(g.positions).tobytes(),
            np.asarray(g.normals).tobytes(),
            tuple(g.muscles),
            tuple(np.asarray(g.order).tolist()),
            tuple(np.asarray(g.units).tolist()),
            tuple(np.asarray(g.ftp).tolist()),
            float(r),
        )
        if key == getattr(self, "_sites_key", None):
            return
        self._sites_key = key
        ftp_mask = np.asarray(g.ftp, dtype=bool)
        for beads, labels, is_ftp in self.SITE_GROUPS:
            idx = np.flatnonzero(ftp_mask == is_ftp)
            where = (np.asarray(g.positions)[idx].tobytes(), np.asarray(g.normals)[idx].tobytes(), float(r))
            # unchanged meshes (and what a browser holds of them) stay as they are; the labels
            # change alone when follow-the-pain sites in other regions renumber the plan
            bead_key = (*where, tuple(g.muscles[i] for i in idx))
            label_key = (*where, tuple(self.label_texts[i] for i in idx))
            if bead_key != self._group_keys.get(beads):
                self._group_keys[beads] = bead_key
                self._draw_beads(idx, beads)
            if label_key != self._group_keys.get(labels):
                self._group_keys[labels] = label_key
                self._draw_labels(idx, labels)
        # follow-the-pain sites: a dark ring lying on the skin around the bead
        ftp = np.flatnonzero(ftp_mask)
        if len(ftp):
            ring = _tile(
                _unit_torus(1.0, 0.16),
                _orthonormal_frames(g.normals[ftp], self.up, self.forward),
                np.full(len(ftp), 1.75 * r),
                g.positions[ftp] + g.normals[ftp] * 0.25 * r,
                np.tile(FTP_RING_RGB, (len(ftp), 1)),
            )
        else:
            ring = pv.PolyData()
        _replace(self.meshes["ftp_rings"], ring)

    def _draw_beads(self, idx: np.ndarray, name: str) -> None:
        """The beads of the plan's sites ``idx`` (plan order) into mesh ``name``, coloured by muscle."""
        g = self.geometry
        if len(idx) == 0:
            _replace(self.meshes[name], pv.PolyData())
            return
        r = self.radius
        rot = _orthonormal_frames(g.normals[idx], self.up, self.forward)
        colors = np.array([muscle_color(g.muscles[i]) for i in idx], dtype=np.uint8)
        centers = g.positions[idx] + g.normals[idx] * (0.45 * r)
        _replace(self.meshes[name], _tile(_unit_sphere(14), rot, np.full(len(idx), r), centers, colors))

    def _draw_labels(self, idx: np.ndarray, name: str) -> None:
        """The labels ("order: units U") of the plan's sites ``idx`` into mesh ``name``."""
        g = self.geometry
        k = len(idx)
        if k == 0:
            _replace(self.meshes[name], pv.PolyData())
            return
        r = self.radius
        positions, normals = g.positions[idx], g.normals[idx]
        # labels "order: units U", upright, above the marker. On skin that faces up (shoulders,
        # crown) the label is tilted toward the front or the back (whichever side the site is on)
        # so it reads in the front/back views, from where those sites are approached.
        texts = [_text_template(self.label_texts[i]) for i in idx]
        h = max(2.4, 1.15 * r)
        center = np.asarray(self.meshes["head"].center, dtype=float)
        ahead = (positions - center) @ self.forward
        outward = np.where(ahead[:, None] >= 0, 1.0, -1.0) * self.forward[None, :]
        facing_up = np.clip(normals @ self.up, 0.0, 1.0)[:, None]
        label_n = _unit(normals + 0.9 * facing_up * outward)
        rot_l = _orthonormal_frames(label_n, self.up, self.forward)
        tilt = np.linalg.norm(np.cross(label_n, normals), axis=1)[:, None]  # sin(angle)
        lift = normals * (1.0 + 0.5 * h * tilt)
        # above the marker and clear of its rings: follow-the-pain (1.75 r), safety (2.1 r) and the
        # selected site's highlight (2.5 r, tube 0.22), so a selected site's number stays readable
        centers_l = positions + lift + rot_l[:, :, 1] * (r * 3.1 + h * 0.55)
        _replace(self.meshes[name], _tile_variable(texts, rot_l, np.full(k, h), centers_l, np.tile(LABEL_RGB, (k, 1))))

    def _update_highlight(self) -> None:
        g = self.geometry
        if self.highlight is None or self.highlight not in g.ids:
            _replace(self.meshes["highlight"], pv.PolyData())
            return
        i = g.ids.index(self.highlight)
        rot = _orthonormal_frames(g.normals[i : i + 1], self.up, self.forward)
        r = self.radius
        ring = _tile(
            _unit_torus(1.0, 0.22),
            rot,
            np.array([2.5 * r]),
            g.positions[i : i + 1] + g.normals[i : i + 1] * 0.5 * r,
            np.array([HIGHLIGHT_RGB]),
        )
        _replace(self.meshes["highlight"], ring)

    def _update_flagged(self) -> None:
        g = self.geometry
        idx = [g.ids.index(i) for i in self.flagged if i in g.ids]
        if not idx:
            _replace(self.meshes["flagged"], pv.PolyData())
            return
        rot = _orthonormal_frames(g.normals[idx], self.up, self.forward)
        r = self.radius
        ring = _tile(
            _unit_torus(1.0, 0.2),
            rot,
            np.full(len(idx), 2.1 * r),
            g.positions[idx] + g.normals[idx] * 0.4 * r,
            np.tile(FLAGGED_RGB, (len(idx), 1)),
        )
        _replace(self.meshes["flagged"], ring)

    def _update_visibility(self) -> None:
        self.actors["heat"].SetVisibility(self.meshes["heat"].n_points > 3)  # 3: the empty placeholder
        has_ftp = bool(np.any(self.geometry.ftp))
        has_fixed = not bool(np.all(self.geometry.ftp))  # (False without sites)
        self.actors["sites"].SetVisibility(self.show_sites and has_fixed)
        self.actors["ftp_sites"].SetVisibility(self.show_sites and has_ftp)
        self.actors["ftp_rings"].SetVisibility(self.show_sites and has_ftp)
        self.actors["labels"].SetVisibility(self.show_sites and self.show_labels and has_fixed)
        self.actors["ftp_labels"].SetVisibility(self.show_sites and self.show_labels and has_ftp)
        self.actors["highlight"].SetVisibility(
            self.show_sites and self.highlight is not None and self.highlight in self.geometry.ids
        )
        self.actors["flagged"].SetVisibility(self.show_sites and any(i in self.geometry.ids for i in self.flagged))
        has_lm = bool(getattr(self.head, "landmarks", None))
        self.actors["landmarks"].SetVisibility(self.show_landmarks and has_lm)
        self.actors["landmark_labels"].SetVisibility(self.show_landmarks and has_lm)

    # -- quiz markers ---------------------------------------------------------------------
    def set_markers(
        self,
        guess: Sequence[float] | None = None,
        answer: Sequence[float] | None = None,
        answer_normal: Sequence[float] | None = None,
        guess_normal: Sequence[float] | None = None,
    ) -> None:
        """Trainer markers: the trainee's click (pink) and the true site (green)."""
        for name, p, nrm, rgb, shape in (
            ("guess", guess, guess_normal, GUESS_RGB, "sphere"),
            ("answer", answer, answer_normal, ANSWER_RGB, "ring"),
        ):
            if p is None:
                _replace(self.meshes[name], pv.PolyData())
                self.actors[name].SetVisibility(False)
                continue
            p = np.asarray(p, float).reshape(1, 3)
            nrm = _unit(np.asarray(nrm if nrm is not None else p[0] - self.meshes["head"].center, float).reshape(1, 3))
            rot = _orthonormal_frames(nrm, self.up, self.forward)
            if shape == "sphere":
                m = _tile(_unit_sphere(12), rot, np.array([2.2]), p + nrm * 1.0, np.array([rgb]))
            else:
                m = _tile(_unit_torus(1.0, 0.25), rot, np.array([4.0]), p + nrm * 0.8, np.array([rgb]))
                m = m.merge(_tile(_unit_sphere(10), rot, np.array([1.6]), p + nrm * 0.8, np.array([rgb])))
            _replace(self.meshes[name], m)
            self.actors[name].SetVisibility(True)

    # -- helpers for the UI ---------------------------------------------------------------
    def site_near(self, point: Sequence[float], tolerance: float | None = None) -> str | None:
        """The id of the site whose marker contains ``point`` (a picked world point), or None."""
        g = self.geometry
        if not g.ids:
            return None
        tol = tolerance if tolerance is not None else 1.8 * self.radius
        d = np.linalg.norm(g.positions - np.asarray(point, float).reshape(1, 3), axis=1)
        i = int(np.argmin(d))
        return g.ids[i] if d[i] <= tol else None

    def site_position(self, site_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        g = self.geometry
        if site_id not in g.ids:
            return None
        i = g.ids.index(site_id)
        return g.positions[i], g.normals[i]


def build_scene(
    plotter: pv.Plotter,
    head: Head,
    plan: Plan | None,
    *,
    show_muscles: bool = True,
    show_labels: bool = True,
    highlight: str | None = None,
    pain_point: Sequence[float] | None = None,
    antialias: bool = True,
    **kwargs: Any,
) -> Scene:
    """Add the head, sites, labels and pain heat to ``plotter``; returns the updatable Scene.

    ``antialias`` (SSAA) is for pictures; interactive server rendering is ~3x faster without it.
    Other keyword arguments go to :class:`Scene` (``show_sites``, ``show_landmarks``,
    ``heat_points``, ``display_cells``).
    """
    _style_plotter(plotter, antialias=antialias)
    return Scene(
        plotter,
        head,
        plan,
        show_muscles=show_muscles,
        show_labels=show_labels,
        highlight=highlight,
        pain_point=pain_point,
        **kwargs,
    )


def _style_plotter(plotter: pv.Plotter, *, antialias: bool = True) -> None:
    plotter.set_background(BACKGROUND[0], top=BACKGROUND[1])
    if not antialias:
        plotter.disable_anti_aliasing()  # pyvista's default theme asks for 8x MSAA
    else:
        try:
            plotter.enable_anti_aliasing("ssaa")
        except Exception:
            pass


# --- camera --------------------------------------------------------------------------------
_VIEW_DIRS = {  # camera position direction (head frame), view-up (head frame)
    "front": ((0, 1, 0), (0, 0, 1)),
    "back": ((0, -1, 0), (0, 0, 1)),
    "left": ((-1, 0, 0), (0, 0, 1)),
    "right": ((1, 0, 0), (0, 0, 1)),
    "top": ((0, 0, 1), (0, 1, 0)),
}


def _scene_center_and_size(head: Head) -> tuple[np.ndarray, float]:
    b = np.asarray(head.mesh.bounds, dtype=float).reshape(3, 2)
    return b.mean(axis=1), float(np.linalg.norm(b[:, 1] - b[:, 0]))


def set_camera(
    plotter: pv.Plotter,
    head: Head,
    view: str,
    *,
    zoom: float = 1.0,
    points: Any = None,
    min_extent: float = 220.0,
    aspect: float | None = None,
) -> None:
    """Point the camera at the head from a named view (head-frame directions).

    Frames ``points`` (e.g. the plan's site positions) with a margin, at least ``min_extent`` mm
    across; without points, frames the whole mesh. ``aspect`` (width / height) is that of the
    view that will show it (default: this plotter's viewport).
    """
    if view not in _VIEW_DIRS:
        raise ValueError(
            f"Invalid value for the 'view' parameter: allowed values are "
            f"{', '.join(repr(v) for v in VIEWS)}, but got {view!r} instead."
        )
    d_head, up_head = _VIEW_DIRS[view]
    d = view_direction(head, d_head)
    up = view_direction(head, up_head)
    up = _unit(up - (up @ d) * d)
    right = np.cross(d, up) * -1.0
    mb = np.asarray(head.mesh.bounds, dtype=float).reshape(3, 2)
    pts = None if points is None else np.asarray(points, dtype=float).reshape(-1, 3)
    if pts is not None and len(pts):
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        center = (lo + hi) / 2
        half = np.maximum((hi - lo) / 2 * 1.2 + 12.0, min_extent / 2)
        lo, hi = np.maximum(center - half, mb[:, 0]), np.minimum(center + half, mb[:, 1])
        b = np.stack([lo, hi], axis=1)
    else:
        b = mb
    corners = np.array([[x, y, z] for x in b[0] for y in b[1] for z in b[2]])
    center = b.mean(axis=1)
    rel = corners - center
    half_w = float(np.abs(rel @ right).max())
    half_h = float(np.abs(rel @ up).max())
    depth = float(np.abs(rel @ d).max())
    view_angle = 30.0
    t = np.tan(np.radians(view_angle) / 2)
    if aspect is None:
        try:  # aspect of this renderer's viewport (a subplot is a part of the window)
            w, h = plotter.window_size
            x0, y0, x1, y1 = plotter.renderer.GetViewport()
            aspect = max(float(w) * (x1 - x0) / max(float(h) * (y1 - y0), 1.0), 1e-3)
        except Exception:
            aspect = 1.0
    dist = max(half_h / t, half_w / (t * aspect)) * 1.05 + depth
    dist /= max(zoom, 1e-3)
    plotter.camera_position = [tuple(center + d * dist), tuple(center), tuple(up)]
    plotter.camera.view_angle = view_angle
    plotter.reset_camera_clipping_range()


def focus_camera(
    plotter: pv.Plotter, head: Head, position: Sequence[float], normal: Sequence[float], *, distance: float = 330.0
) -> None:
    """Look at a surface point from outside along (a softened) normal, head upright."""
    p = np.asarray(position, float)
    n = _unit(np.asarray(normal, float))
    up = view_direction(head, (0, 0, 1))
    center, _ = _scene_center_and_size(head)
    # blend the normal with the direction from the head's centre so the view stays calm
    outward = _unit(0.6 * n + 0.4 * _unit(p - center))
    if abs(float(outward @ up)) > 0.95:
        up = view_direction(head, (0, 1, 0))
    plotter.camera_position = [tuple(p + outward * distance), tuple(p), tuple(up)]
    plotter.camera.view_angle = 30.0
    plotter.reset_camera_clipping_range()


# --- offscreen picture ---------------------------------------------------------------------
def _legend_entries(plan: Plan) -> list[tuple[str, str]]:
    muscles = list(dict.fromkeys(s.muscle for s in plan.sites))
    return [(m.replace("_", " "), muscle_hex(m)) for m in muscles]


def render_png(
    head: Head,
    plan: Plan,
    path: str | Path,
    *,
    view: str = "front",
    size: tuple[int, int] | None = None,
    pain_point: Sequence[float] | None = None,
    heat_points: Iterable[Sequence[float]] | None = None,
    show_muscles: bool = True,
    show_labels: bool = True,
    title: bool = True,
) -> Path:
    """Render the plan offscreen to a PNG. ``view`` is one of VIEWS or ``"all"`` (a grid)."""
    path = Path(path)
    check_image_size(size)
    if view != "all" and view not in _VIEW_DIRS:
        raise ValueError(
            f"Invalid value for the 'view' parameter: allowed values are "
            f"{', '.join(repr(v) for v in (*VIEWS, 'all'))}, but got {view!r} instead."
        )
    if pain_point is None:
        pain_point = plan.pain.get("point")
    if heat_points is None:
        heat_points = plan.heat_anchors
    if view == "all":
        size = size or (1800, 1200)
        pl = pv.Plotter(off_screen=True, shape=(2, 3), window_size=list(size), border=False)
        order = ["front", "left", "right", "back", "top", None]
        for i, v in enumerate(order):
            pl.subplot(i // 3, i % 3)
            _style_plotter(pl)
            if v is None:
                _legend_panel(pl, plan)
                continue
            Scene(
                pl,
                head,
                plan,
                show_muscles=show_muscles,
                show_labels=show_labels,
                pain_point=pain_point,
                heat_points=heat_points,
            )
            set_camera(pl, head, v, points=_site_points(plan))
            pl.add_text(v, position="upper_left", font_size=12, color="#333333")
    else:
        size = size or (1400, 1200)
        pl = pv.Plotter(off_screen=True, window_size=list(size))
        build_scene(
            pl,
            head,
            plan,
            show_muscles=show_muscles,
            show_labels=show_labels,
            pain_point=pain_point,
            heat_points=heat_points,
        )
        set_camera(pl, head, view, points=_site_points(plan))
        if title:
            pl.add_text(plan.title, position="upper_left", font_size=14, color="#222222")
            entries = _legend_entries(plan)
            if entries:
                pl.add_legend(
                    [*entries, ("follow-the-pain (ring)", "#141418")],
                    bcolor="white",
                    border=True,
                    size=(0.2, 0.035 * (len(entries) + 1)),
                    loc="upper right",
                    face="circle",
                )
    image = pl.screenshot(None, return_img=True)  # rendered in memory: nothing on disk yet
    pl.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buf, format="PNG")
    atomic_write(path, buf.getvalue())  # a crash or kill never leaves a partial picture
    return path


def _site_points(plan: Plan) -> np.ndarray | None:
    g = SiteGeometry.from_plan(plan)
    return g.positions if len(g.positions) else None


def _legend_panel(pl: pv.Plotter, plan: Plan) -> None:
    pl.add_text(plan.title, position="upper_left", font_size=12, color="#222222")
    entries = _legend_entries(plan)
    if any(s.follow_the_pain for s in plan.sites):
        entries.append(("follow-the-pain (ring)", "#141418"))
    if entries:
        # "center" puts the box's corner at the centre (it would run off the panel): pin it left
        pl.add_legend(
            entries,
            bcolor="white",
            border=False,
            size=(0.8, min(0.8, 0.09 * len(entries))),
            loc="center left",
            face="circle",
        )
