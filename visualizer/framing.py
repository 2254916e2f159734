"""Camera poses that frame a part of the head recognisably (mesh frame, mm; no VTK, no trame).

Used by the patient step-through (one site at a time) and the trainer (the region of the quizzed
site, then the true site and the trainee's click).  A view looks at the sites from outside the
head, between their skin normal and the direction from the head's centre, keeps the head upright
(its +z up) and is never closer than ``min_extent`` mm across, so there is always enough of the
face, ear, neck or shoulder around the sites to tell where on the body they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from visualizer.view_camera import ViewCamera

VIEW_ANGLE = 30.0  # degrees, vertical (the app's cameras all use it)
MAX_ELEVATION_DEG = 55.0  # never look at the head from more than this above or below


@dataclass(frozen=True)
class Pose:
    """Camera position, focal point and view-up (mesh frame, mm)."""

    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    view_up: tuple[float, float, float]

    def as_list(self) -> list[tuple[float, float, float]]:
        """PyVista's ``camera_position`` spelling."""
        return [self.position, self.focal_point, self.view_up]


def _unit(v: ArrayLike) -> NDArray[np.float64]:
    a = np.asarray(v, dtype=float)
    n = float(np.linalg.norm(a))
    return a / n if n > 1e-12 else a


def head_centre(head: Any) -> NDArray[np.float64]:
    """The head-frame origin (between the ears) in mesh coordinates."""
    return np.asarray(head.frame.origin, dtype=float)


def head_up(head: Any) -> NDArray[np.float64]:
    """The head's +z (up) as a mesh-frame direction."""
    return _unit(head.frame.dir_from_head(np.array([0.0, 0.0, 1.0])))


def frame_points(
    head: Any,
    points: ArrayLike,
    normals: ArrayLike | None = None,
    *,
    min_extent: float = 200.0,
    aspect: float = 1.2,
    margin: float = 1.35,
) -> Pose:
    """A pose that shows all ``points`` (mesh frame) from outside the head, upright.

    Parameters
    ----------
    points, normals : array_like, shape (n, 3)
        Skin points to show and their outward normals (normals optional).
    min_extent : float
        The view is at least this many mm across (context around a single site).
    aspect : float
        Width / height of the view the pose is for.
    margin : float
        Factor on the points' spread.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    centre = head_centre(head)
    up = head_up(head)
    focal = pts.mean(axis=0)
    outward = _unit(focal - centre)
    if normals is not None:
        nrm = _unit(np.asarray(normals, dtype=float).reshape(-1, 3).mean(axis=0))
        if float(np.linalg.norm(nrm)) > 0.5:
            outward = _unit(0.5 * nrm + 0.5 * outward)
    # keep the head upright: limit how far above/below the view looks from
    elev = math.asin(float(np.clip(outward @ up, -1.0, 1.0)))
    lim = math.radians(MAX_ELEVATION_DEG)
    if abs(elev) > lim:
        horiz = outward - (outward @ up) * up
        if float(np.linalg.norm(horiz)) < 1e-6:  # straight above/below: look from the front
            horiz = _unit(head.frame.dir_from_head(np.array([0.0, 1.0, 0.0])))
        horiz = _unit(horiz)
        e = math.copysign(lim, elev)
        outward = _unit(math.cos(e) * horiz + math.sin(e) * up)
    # how far: the points' spread across the view, at least min_extent
    right = _unit(np.cross(-outward, up))
    v_up = _unit(np.cross(right, -outward))
    rel = pts - focal
    half_w = float(np.abs(rel @ right).max()) * margin if len(pts) > 1 else 0.0
    half_h = float(np.abs(rel @ v_up).max()) * margin if len(pts) > 1 else 0.0
    half_h = max(half_h, half_w / max(aspect, 1e-3), min_extent / 2.0)
    dist = half_h / math.tan(math.radians(VIEW_ANGLE) / 2.0)
    pos = focal + outward * dist
    return Pose(tuple(pos), tuple(focal), tuple(v_up))  # type: ignore[arg-type]


CONTEXT_LANDMARKS = ("left_tragus", "right_tragus", "nasion", "inion")  # ear, nose, back of the head
CONTEXT_MM = 60.0  # a site farther than this from every context landmark is framed with the nearest


def frame_site(
    head: Any, position: ArrayLike, normal: ArrayLike, *, min_extent: float = 230.0, aspect: float = 1.2
) -> Pose:
    """Frame one site so that a person recognises where on the body it is.

    Sites far from the face, the ears and the back of the head (e.g. on the shoulder) are framed
    together with the nearest of those landmarks, so the picture always shows part of the head.
    """
    p = np.asarray(position, dtype=float)
    pts, nrm = [p], [np.asarray(normal, dtype=float)]
    anchors = [np.asarray(head.landmarks[n], dtype=float) for n in CONTEXT_LANDMARKS if n in head.landmarks]
    if anchors:
        d = [float(np.linalg.norm(a - p)) for a in anchors]
        k = int(np.argmin(d))
        if d[k] > CONTEXT_MM:
            pts.append(anchors[k])
            nrm = [nrm[0], nrm[0]]  # look along the site's normal, not the anchor's
    return frame_points(head, pts, nrm, min_extent=min_extent, aspect=aspect, margin=1.25)


def is_visible(
    head: Any, camera: ViewCamera, point: ArrayLike, *, margin_px: float = 20.0, tolerance_mm: float = 3.0
) -> bool:
    """True when a skin point is inside the view and not hidden behind other skin."""
    p = np.asarray(point, dtype=float)
    if not camera.in_view(p, margin_px):
        return False
    origin = np.asarray(camera.position, dtype=float)
    hit = head.surface.ray_hit(origin, p + _unit(p - origin) * tolerance_mm)
    return hit is None or float(np.linalg.norm(np.asarray(hit) - p)) <= tolerance_mm
