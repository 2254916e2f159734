"""A cheap preview of a body type while its slider moves: the skin and the plan carried with it.

Placing a plan by its rules on a reshaped head needs that head's locator and every site's walk
and arc (about half a second on this machine, see ``benchmarks/bench_body.py``). While a
body-type slider is dragged the app shows this preview instead: the head reshaped
(:func:`visualizer.body_type.morph`) and the current plan's sites held at their places on the
skin (:class:`visualizer.skin_places.SkinPlaces`), which costs a few tens of milliseconds. When the
slider is let go the plan is placed again by its rules on the reshaped head.

Positions are in the reshaped head's own head frame (mm), as :func:`morph` returns them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from visualizer.body_type import BodyType, BodyTypeError, morph
from visualizer.plan import Finding, Plan
from visualizer.skin_places import SkinPlaces, VertexNormals
from visualizer.surface import Surface

__all__ = ["PREVIEW_NOTE", "BodyPreview", "PreviewFrame"]

#: Code of the information finding a preview plan carries.
PREVIEW_NOTE = "body_type_preview"
PREVIEW_TEXT = (
    "Preview: the sites move with the skin; they are placed again by the protocol's rules when the slider stops."
)


@dataclass(frozen=True)
class PreviewFrame:
    """One preview: what to draw for a body type.

    Attributes
    ----------
    display_points, display_normals : ndarray, shape (n, 3)
        The drawn skin's points and unit normals (same order as the display mesh given).
    plan : Plan
        The plan with its sites carried with the skin (an ``info`` finding says it is a preview).
    landmarks : dict of str to ndarray
        The reshaped head's landmarks.
    """

    display_points: NDArray[np.float64]
    display_normals: NDArray[np.float64]
    plan: Plan
    landmarks: dict[str, NDArray[np.float64]]


class BodyPreview:
    """Previews of body types for one drawn skin and one plan.

    Parameters
    ----------
    base_points : array_like, shape (N, 3)
        The bundled head's points (every body type has its triangles).
    base_mesh : pyvista.PolyData
        A head with those triangles on which ``display_points`` lie (the bundled head or a body type).
    display_points : array_like, shape (n, 3)
        Points of the skin as drawn (e.g. a decimated copy), on ``base_mesh``.
    display_faces : array_like, shape (m, 3)
        The drawn skin's triangles (for its normals).
    plan : Plan
        The current plan.
    plan_mesh : pyvista.PolyData
        The mesh the plan was placed on (same triangles as the bundled head).
    plan_surface : Surface, optional
        ``plan_mesh``'s surface (its locator is reused).
    display_places : SkinPlaces, optional
        The display points' places on ``base_mesh`` if already known (they depend only on the
        drawn skin: :meth:`with_plan` reuses them).
    """

    def __init__(self, base_points: ArrayLike, base_mesh, display_points: ArrayLike, display_faces: ArrayLike,
                 plan: Plan, plan_mesh, *, plan_surface: Surface | None = None,
                 display_places: SkinPlaces | None = None) -> None:  # fmt: skip
        n = len(np.asarray(base_points))
        if base_mesh.n_points != n or plan_mesh.n_points != n:
            raise BodyTypeError("a body-type preview needs heads with the bundled head's triangles")
        self._args = (base_points, base_mesh, display_points, display_faces)
        self._display = display_places or SkinPlaces.of(base_mesh, display_points)
        self._normals = VertexNormals(display_faces, len(np.asarray(display_points)))
        self._plan = plan
        positions = np.array([s.position for s in plan.sites], dtype=float).reshape(-1, 3)
        self._sites = SkinPlaces.of(plan_mesh, positions, plan_surface)

    def with_plan(self, plan: Plan, plan_mesh, plan_surface: Surface | None = None) -> BodyPreview:
        """The same drawn skin with another plan (placed on ``plan_mesh``)."""
        return BodyPreview(*self._args, plan, plan_mesh, plan_surface=plan_surface, display_places=self._display)

    def skin_on(self, points: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The drawn skin's points and normals on a head with the bundled triangles and ``points``."""
        shown = self._display.on(points)
        return shown, self._normals(shown)

    def at(self, body: BodyType) -> PreviewFrame:
        """The preview for ``body``."""
        shaped = morph(body)
        points, normals = self.skin_on(shaped.points)
        site_pos = self._sites.on(shaped.points)
        # each site's normal: its triangle's (flat; a preview)
        a, b, c = (shaped.points[self._sites.vertices[:, k]] for k in range(3))
        site_nrm = np.cross(b - a, c - a)
        site_nrm /= np.maximum(np.linalg.norm(site_nrm, axis=1, keepdims=True), 1e-12)
        sites = tuple(
            replace(s, position=tuple(round(float(c), 3) for c in p), normal=tuple(round(float(c), 4) for c in q))
            for s, p, q in zip(self._plan.sites, site_pos, site_nrm, strict=True)
        )
        plan = replace(
            self._plan,
            sites=sites,
            landmarks={k: tuple(round(float(c), 3) for c in v) for k, v in sorted(shaped.landmarks.items())},
            head_frame=tuple(tuple(float(c) for c in row) for row in np.eye(4)),
            body_type=body.to_dict(),
            findings=(*self._plan.findings, Finding(PREVIEW_NOTE, "info", PREVIEW_TEXT)),
        )
        return PreviewFrame(points, normals, plan, shaped.landmarks)
