"""The camera a viewer sees the head through, as plain data (no trame, no browser).

A browser's vtk.js view reports its live camera as ``{position, focalPoint, viewUp, viewAngle}``
(trame-vtk's ``VtkLocalView.getCamera()``, read from the renderer's active camera); together with
the view's size in CSS pixels that is everything needed to turn a click into a ray, or a point of
the head into a pixel.  Coordinates are in the mesh frame (mm), the frame the scene is drawn in.
Pixels are measured from the view's top-left corner, y downwards, as browser events are.

Every value may come from a browser, so :func:`parse_view_camera` checks type, range and size
and raises ``ValueError`` with a message naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from visualizer.checks import finite_point

MAX_COORD_MM = 1.0e5  # a camera farther than 100 m from the head is not a real view
MAX_VIEW_PX = 16384
MAX_ASPECT = 5.0  # a view wider (or taller) than 5:1 is not a real view


@dataclass(frozen=True)
class ViewCamera:
    """A perspective camera and the size of the view it fills (mesh frame, mm; CSS pixels)."""

    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    view_up: tuple[float, float, float]
    view_angle: float  # vertical, degrees
    width: float
    height: float

    # -- conversions -----------------------------------------------------------------------
    @classmethod
    def from_vtk(cls, camera: Any, width: float, height: float) -> ViewCamera:
        """Copy of a ``vtkCamera``'s pose for a view of ``width`` x ``height`` pixels."""
        return cls(
            tuple(camera.GetPosition()),
            tuple(camera.GetFocalPoint()),  # type: ignore[arg-type]
            tuple(camera.GetViewUp()),
            float(camera.GetViewAngle()),
            float(width),
            float(height),
        )

    def apply(self, camera: Any) -> None:
        """Set a ``vtkCamera`` to this pose (the view size is the caller's business)."""
        camera.SetPosition(*self.position)
        camera.SetFocalPoint(*self.focal_point)
        camera.SetViewUp(*self.view_up)
        camera.SetViewAngle(self.view_angle)
        camera.OrthogonalizeViewUp()

    def to_browser(self) -> dict[str, Any]:
        """The vtk.js spelling (what ``VtkLocalView.setCamera`` takes)."""
        return {
            "position": list(self.position),
            "focalPoint": list(self.focal_point),
            "viewUp": list(self.view_up),
            "viewAngle": self.view_angle,
        }

    # -- geometry ----------------------------------------------------------------------------
    def basis(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Unit vectors (right, up, forward) of the camera, forward = towards the focal point."""
        pos = np.asarray(self.position, dtype=float)
        fwd = np.asarray(self.focal_point, dtype=float) - pos
        fwd /= np.linalg.norm(fwd)
        up = np.asarray(self.view_up, dtype=float)
        up = up - (up @ fwd) * fwd
        up /= np.linalg.norm(up)
        right = np.cross(fwd, up)
        return right, up, fwd

    def project(self, points: ArrayLike) -> NDArray[np.float64]:
        """Pixels (x right, y down, from the top-left corner) of mesh-frame points, shape (n, 2).

        Points behind the camera get NaN.
        """
        p = np.asarray(points, dtype=float).reshape(-1, 3) - np.asarray(self.position, dtype=float)
        right, up, fwd = self.basis()
        depth = p @ fwd
        t = math.tan(math.radians(self.view_angle) / 2.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ny = (p @ up) / (depth * t)  # -1 .. 1 from the bottom to the top edge
            nx = (p @ right) / (depth * t * (self.width / self.height))
        out = np.stack([(nx + 1.0) / 2.0 * self.width, (1.0 - ny) / 2.0 * self.height], axis=1)
        out[depth <= 0] = np.nan
        return out

    def ray(self, x: float, y: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Origin and unit direction of the ray through pixel (x, y) (top-left origin)."""
        right, up, fwd = self.basis()
        t = math.tan(math.radians(self.view_angle) / 2.0)
        nx = 2.0 * x / self.width - 1.0
        ny = 1.0 - 2.0 * y / self.height
        d = fwd + ny * t * up + nx * t * (self.width / self.height) * right
        return np.asarray(self.position, dtype=float), d / np.linalg.norm(d)

    def in_view(self, point: ArrayLike, margin_px: float = 0.0) -> bool:
        """True when ``point`` projects inside the view, at least ``margin_px`` from its edges."""
        x, y = self.project(point)[0]
        if not (math.isfinite(x) and math.isfinite(y)):
            return False
        return margin_px <= x <= self.width - margin_px and margin_px <= y <= self.height - margin_px


def _vec3(obj: Any, field: str) -> tuple[float, float, float]:
    x, y, z = finite_point(obj, name=f"camera {field}", max_abs=MAX_COORD_MM).tolist()
    return (x, y, z)


def _number(obj: Any, field: str, lo: float, hi: float) -> float:
    if isinstance(obj, bool):
        raise ValueError(f"{field} must be a number, got {obj!r}")
    try:
        v = float(obj)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number, got {str(obj)[:40]!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"{field} must be between {lo:g} and {hi:g}, got {v:g}")
    return v


def parse_view_camera(camera: Any, width: Any, height: Any) -> ViewCamera:
    """Check a browser's camera (vtk.js ``getCamera()`` spelling) and view size; ``ValueError`` if bad."""
    if not isinstance(camera, dict):
        raise ValueError("the view's camera is missing")
    pos = _vec3(camera.get("position"), "position")
    foc = _vec3(camera.get("focalPoint"), "focalPoint")
    up = _vec3(camera.get("viewUp"), "viewUp")
    angle = _number(camera.get("viewAngle", 30.0), "camera viewAngle", 1.0, 179.0)
    w = _number(width, "view width", 2.0, MAX_VIEW_PX)
    h = _number(height, "view height", 2.0, MAX_VIEW_PX)
    if not (1.0 / MAX_ASPECT <= w / h <= MAX_ASPECT):
        raise ValueError(f"view size {w:g} x {h:g} is not a plausible view (aspect beyond {MAX_ASPECT:g}:1)")
    fwd = np.subtract(foc, pos)
    dist = float(np.linalg.norm(fwd))
    if dist < 1e-3:
        raise ValueError("camera position and focalPoint are the same point")
    upv = np.asarray(up)
    if float(np.linalg.norm(upv)) < 1e-9 or float(np.linalg.norm(np.cross(fwd / dist, upv))) < 1e-6 * float(
        np.linalg.norm(upv)
    ):
        raise ValueError("camera viewUp is zero or along the view direction")
    return ViewCamera(pos, foc, up, angle, w, h)
