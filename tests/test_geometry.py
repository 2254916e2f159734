"""Frame and surface geometry against analytic answers (sphere) and the default head."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from visualizer.errors import LandmarkError
from visualizer.frame import HeadFrame
from visualizer.surface import Surface, arc_length, point_at_fraction

R = 100.0


@pytest.fixture(scope="module")
def sphere() -> Surface:
    return Surface(pv.Sphere(radius=R, theta_resolution=360, phi_resolution=360).triangulate())


def test_frame_matches_mne_construction() -> None:
    lpa, rpa, nas = np.array([-70.0, 5, -3]), np.array([72.0, -4, 2]), np.array([3.0, 95, 20])
    f = HeadFrame.from_landmarks(lpa, rpa, nas)
    rot = f.rotation
    assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(rot), 1.0)
    h = f.to_head(np.array([lpa, rpa, nas]))
    # tragi on the x axis, left negative, right positive; nasion on +y
    assert np.allclose(h[:2, 1:], 0, atol=1e-9) and h[0, 0] < 0 < h[1, 0]
    assert np.allclose(h[2, [0, 2]], 0, atol=1e-9) and h[2, 1] > 0
    # round trip and matrix agree
    p = np.array([[10.0, 20, 30], [-5, 7, 1]])
    assert np.allclose(f.from_head(f.to_head(p)), p)
    hom = np.c_[p, np.ones(2)] @ f.matrix.T
    assert np.allclose(hom[:, :3], f.to_head(p))


def test_frame_rejects_degenerate_landmarks() -> None:
    with pytest.raises(LandmarkError, match="coincide"):
        HeadFrame.from_landmarks([1, 2, 3], [1, 2, 3], [0, 90, 0])
    with pytest.raises(LandmarkError, match="nasion lies on the tragus line"):
        HeadFrame.from_landmarks([-70, 0, 0], [70, 0, 0], [10, 0, 0])


def test_closest_point_on_sphere(sphere: Surface) -> None:
    q = np.array([[0, 0, 250.0], [30, -40, 10], [200, 200, -100]])
    p, n = sphere.closest(q)
    assert np.allclose(np.linalg.norm(p, axis=1), R, atol=0.2)
    unit = np.linalg.norm
    assert np.allclose(p / unit(p, axis=1, keepdims=True), q / unit(q, axis=1, keepdims=True), atol=1e-2)
    assert np.allclose(n, p / R, atol=1e-2)


def test_plane_arc_is_great_circle(sphere: Surface) -> None:
    a, b, via = np.array([0, R, 0.0]), np.array([0, -R, 0.0]), np.array([0, 0, R])
    arc = sphere.plane_arc(a, b, np.cross(via - a, b - a), via=via)
    assert arc_length(arc) == pytest.approx(np.pi * R, rel=2e-3)
    # the 25 % point of the nasion-vertex-inion analogue is at 45° elevation
    p = point_at_fraction(arc, 0.25)
    assert p == pytest.approx([0, R / np.sqrt(2), R / np.sqrt(2)], abs=0.5)


def test_walk_follows_the_surface(sphere: Surface) -> None:
    start = np.array([0, R, 0.0])
    end = sphere.walk(start, [0, 0, 1], distance=np.pi * R / 4, step=0.5)
    # a quarter-circle walk upward from the equator lands at 45°
    assert end == pytest.approx([0, R / np.sqrt(2), R / np.sqrt(2)], abs=0.8)


def test_surface_distance_on_sphere(sphere: Surface) -> None:
    p = np.array([R, 0, 0.0])
    q = np.array([0, 0, R])
    assert sphere.surface_distance(p, q) == pytest.approx(np.pi * R / 2, rel=3e-3)
    assert sphere.surface_distance(p, p) == 0.0


def test_ray_hit(sphere: Surface) -> None:
    hit = sphere.ray_hit([0, 500, 0], [0, -500, 0])
    assert hit == pytest.approx([0, R, 0], abs=0.1)
    assert sphere.ray_hit([500, 500, 500], [400, 500, 500]) is None
