"""The browser camera as data: checking hostile input, projecting points, framing regions."""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np
import pytest

import visualizer as engine
from visualizer.framing import frame_points, is_visible
from visualizer.view_camera import ViewCamera, parse_view_camera

GOOD = {"position": [0, 600, 0], "focalPoint": [0, 0, 0], "viewUp": [0, 0, 1], "viewAngle": 30}


@pytest.fixture(scope="module")
def head():
    return engine.load_head()


@pytest.mark.parametrize(
    ("camera", "width", "height", "needle"),
    [
        (None, 800, 600, "missing"),
        ({**GOOD, "position": [0, 1]}, 800, 600, "position"),
        ({**GOOD, "position": [0, "x", 1]}, 800, 600, "position"),
        ({**GOOD, "focalPoint": [0, float("nan"), 0]}, 800, 600, "focalPoint"),
        ({**GOOD, "focalPoint": [0, 1e9, 0]}, 800, 600, "focalPoint"),
        ({**GOOD, "viewUp": [0, 1, 0]}, 800, 600, "viewUp"),
        ({**GOOD, "viewUp": [0, 0, 0]}, 800, 600, "viewUp"),
        ({**GOOD, "focalPoint": [0, 600, 0]}, 800, 600, "same point"),
        ({**GOOD, "viewAngle": 0}, 800, 600, "viewAngle"),
        ({**GOOD, "viewAngle": True}, 800, 600, "viewAngle"),
        (GOOD, 0, 600, "width"),
        (GOOD, 800, 1e9, "height"),
        (GOOD, "wide", 600, "width"),
        (GOOD, 2, 16000, "aspect"),
    ],
)
def test_bad_cameras_are_refused_with_the_field_named(camera, width, height, needle):
    with pytest.raises(ValueError, match=needle):
        parse_view_camera(camera, width, height)


def test_projection_agrees_with_vtk_and_inverts_the_ray():
    """Our pixel of a point = VTK's display coordinate (y flipped); the ray through it hits it."""
    import pyvista as pv

    cam = parse_view_camera(
        {"position": [120, 500, 80], "focalPoint": [5, -10, 20], "viewUp": [0.1, 0, 1], "viewAngle": 28}, 900, 600
    )
    pl = pv.Plotter(off_screen=True, window_size=(900, 600))
    try:
        pl.add_mesh(pv.Sphere(radius=1))
        cam.apply(pl.camera)
        pl.renderer.ResetCameraClippingRange()
        pts = np.array([[0, 0, 0], [40, 30, -20], [-60, 10, 50]], dtype=float)
        ours = cam.project(pts)
        for p, (x, y) in zip(pts, ours, strict=True):
            pl.renderer.SetWorldPoint(*p, 1.0)
            pl.renderer.WorldToDisplay()
            dx, dy, _ = pl.renderer.GetDisplayPoint()
            assert x == pytest.approx(dx, abs=0.05) and y == pytest.approx(600 - dy, abs=0.05)
            o, d = cam.ray(x, y)
            off = (p - o) - ((p - o) @ d) * d
            assert np.linalg.norm(off) < 1e-6
    finally:
        pl.close()
    behind = cam.project([cam.position[0] * 2, cam.position[1] * 2, cam.position[2] * 2])
    assert np.isnan(behind).all()


def test_frames_are_upright_from_outside_and_show_their_points(head):
    plan = engine.make_plan(head, engine.load_protocol("preempt"))
    centre = np.asarray(head.frame.origin)
    for site in plan.sites:
        pose = frame_points(head, [site.position], [site.normal], min_extent=230)
        cam = ViewCamera(pose.position, pose.focal_point, pose.view_up, 30.0, 880, 752)
        assert is_visible(head, cam, site.position), site.id
        # outside the skin, looking inwards, the head's up is the picture's up
        assert np.linalg.norm(np.subtract(pose.position, centre)) > 250
        up_head = head.frame.dir_to_head(np.asarray(pose.view_up))
        assert up_head[2] > 0.5, (site.id, up_head)
        # enough context: the view is at least 230 mm tall where the site is
        dist = np.linalg.norm(np.subtract(pose.position, pose.focal_point))
        assert 2 * dist * np.tan(np.radians(15)) >= 229


def test_a_point_behind_the_head_is_not_visible(head):
    plan = engine.make_plan(head, engine.load_protocol("preempt"))
    occ = next(s for s in plan.sites if s.muscle == "occipitalis")
    front = ViewCamera((0, 700, 0), (0, 0, 0), (0, 0, 1), 30.0, 800, 600)
    assert not is_visible(head, front, occ.position)
