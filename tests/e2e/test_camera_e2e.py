"""Clicks and pictures use the camera the user sees, after turning and zooming with the mouse.

Done the way a person does it: drag to rotate, scroll to zoom, then click - in both view modes
(vtk.js in the browser, and images rendered on the server).  Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import numpy as np
import pytest
from camera_helpers import (
    body_mask,
    drag,
    live_camera,
    mask_iou,
    on_page,
    settled_camera,
    settled_view_pixels,
    view_box,
    view_centre,
    view_pixels,
    wheel,
)
from e2e_helpers import choose_protocol, head_box, shot, skin_mask, text, wait_for_head, wait_text

import visualizer as engine

# a horizontal drag of this many pixels turns the head half round: vtk.js turns 360 degrees per
# view width, VTK's trackball on the server 200 degrees (the server-rendered view is 880 px wide)
FTP_TITLE = "PREEMPT with follow-the-pain"
TURN_TO_BACK_PX = {"local": [430], "remote": [395, 395]}


@pytest.fixture(scope="module")
def head():
    return engine.load_head()


def _remote(page) -> None:
    page.locator("#mode-remote").click()
    page.wait_for_selector("#view-3d img", timeout=20000)
    wait_for_head(page)


def _pain_point(page) -> np.ndarray:
    """The pain origin the server set (mesh frame, mm); the page shows it in words only."""
    wait_text(page, "#pain-point", lambda s: "none" not in s)
    p = page.evaluate("() => window.trame.state.get('pain_point')")
    assert p is not None and len(p) == 3, p
    return np.array([float(v) for v in p])


def _view_part(pic):
    """The view inside the downloaded figure: the rows whose left edge is not the page's white
    (the figure's text starts a margin to the right; the view spans the whole width)."""
    a = np.asarray(pic)
    rows = np.flatnonzero((a[:, :3].astype(int) < 250).any(axis=(1, 2)))
    assert len(rows), "no view in the figure"
    return pic.crop((0, int(rows[0]), pic.width, int(rows[-1]) + 1))


def _look_first(page, mode: str) -> None:
    """After a protocol change: switch the view mode, or (browser view) wait for the new
    protocol's framing, a pushed camera that lands after its totals, as a person looks first."""
    if mode == "remote":
        _remote(page)
    else:
        page.wait_for_timeout(1000)
        settled_camera(page)


def _turn_to_back(page, mode: str) -> None:
    x, y = view_centre(page)
    for dx in TURN_TO_BACK_PX[mode]:
        drag(page, x - dx / 2, y, dx)
    wait_for_head(page)


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_after_turning_to_the_back_a_click_on_the_occiput_lands_there(page, artifacts, head, mode):
    choose_protocol(page, FTP_TITLE, "155")  # a click sets the pain origin (follow-the-pain protocol)
    _look_first(page, mode)
    front = head_box(page, top_fraction=0.45)
    _turn_to_back(page, mode)
    if mode == "local":  # the browser's camera now looks at the back of the head
        cam = live_camera(page)
        assert head.frame.to_head(np.asarray(cam.position))[1] < -300, cam
    box = head_box(page, top_fraction=0.45)
    assert abs((box["x1"] - box["x0"]) - (front["x1"] - front["x0"])) < 0.35 * (front["x1"] - front["x0"])
    x, y = (box["x0"] + box["x1"]) / 2, box["y0"] + 0.42 * (box["y1"] - box["y0"])
    page.mouse.click(x, y)
    p = _pain_point(page)
    ph = head.frame.to_head(p)
    # behind the ears (head frame y < 0; the inion is at y = -83) and above them
    assert ph[1] < -50 and ph[2] > 0, f"clicked the occiput, got head-frame {ph.round(1)}"
    assert not page.locator("#message").count()
    page.wait_for_timeout(800)
    if mode == "local":
        # the picked point is where the click was, seen through the live camera ...
        cam = live_camera(page)
        px = on_page(page, cam.project(p)[0])
        assert np.hypot(px[0] - x, px[1] - y) < 4, (px, (x, y))
        # ... and the scene update after the click did not turn the view back to the front
        assert head.frame.to_head(np.asarray(cam.position))[1] < -300, cam
    shot(page, artifacts, f"camera-{mode}-back-click")


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_after_zooming_a_click_on_visible_skin_is_accepted(page, artifacts, head, mode):
    choose_protocol(page, FTP_TITLE, "155")
    _look_first(page, mode)
    before = body_mask(view_pixels(page))
    x, y = view_centre(page)
    wheel(page, x, y, notches=4)
    wait_for_head(page)
    after = body_mask(view_pixels(page))
    assert after.mean() > before.mean() * 1.15, "the wheel did not zoom in"
    # skin now, background before the zoom: only a click with the zoomed camera hits it
    h, w = after.shape
    cand = np.argwhere(after & ~before)
    cand = cand[(cand[:, 0] > 0.1 * h) & (cand[:, 0] < 0.6 * h) & (cand[:, 1] > 0.3 * w) & (cand[:, 1] < 0.9 * w)]
    assert len(cand), "no pixel is skin only after zooming"
    # a pixel deep inside the new skin area (away from edges)
    from scipy.ndimage import distance_transform_edt

    depth = distance_transform_edt(after & ~before)
    r, c = max(cand, key=lambda rc: depth[rc[0], rc[1]])
    b = view_box(page)
    cx, cy = b["x"] + c * b["width"] / w, b["y"] + r * b["height"] / h
    page.mouse.click(cx, cy)
    p = _pain_point(page)
    assert not page.locator("#message").count(), text(page, "#message")
    if mode == "local":
        px = on_page(page, live_camera(page).project(p)[0])
        assert np.hypot(px[0] - cx, px[1] - cy) < 4, (px, (cx, cy))
    page.wait_for_timeout(600)
    shot(page, artifacts, f"camera-{mode}-zoom-click")


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_the_picture_shows_the_turned_view(page, artifacts, mode):
    """The downloaded PNG is the view the user turned to, not the front view."""
    from PIL import Image

    if mode == "remote":
        _remote(page)
    front = skin_mask(settled_view_pixels(page))
    _turn_to_back(page, mode)
    x, y = view_centre(page)
    wheel(page, x, y, notches=2)
    # the view the user looks at when they ask for the picture: on a loaded machine the
    # server-rendered view's full-quality still image after the wheel arrives seconds later
    shown = settled_view_pixels(page)
    page.locator("#download-menu").click()
    with page.expect_download() as d:
        page.locator("#download-png").click()
    path = artifacts / f"camera-{mode}-download.png"
    d.value.save_as(str(path))
    shot(page, artifacts, f"camera-{mode}-download-page")
    pic = _view_part(Image.open(path).convert("RGB"))  # a printable figure: title above, legend below
    h, w = shown.shape[:2]
    assert abs(pic.width / pic.height - w / h) < 0.02, "the picture has the view's shape"
    pic_mask = skin_mask(np.asarray(pic.resize((w, h))))
    same = mask_iou(pic_mask, skin_mask(shown))
    other = mask_iou(pic_mask, front)
    print(f"IoU picture-view {same:.2f}, picture-front {other:.2f}")
    assert same > 0.75, f"picture vs the view on screen: IoU {same:.2f}"
    assert same > other + 0.2, f"picture is as close to the front view ({other:.2f}) as to the view ({same:.2f})"


_POINTS_JS = """() => {
  const ref = Object.keys(window.trame.refs).find(k => k.startsWith('view_'));
  const view = window.trame.refs[ref].$.provides.view;
  return view.renderer.getActors().filter(a => a.getVisibility()).reduce((n, a) => {
    const d = a.getMapper() && a.getMapper().getInputData();
    return n + (d && d.getNumberOfPoints ? d.getNumberOfPoints() : 0); }, 0);
}"""


def test_changes_made_in_server_mode_reach_the_browser_view(page):
    """Only deltas go to the vtk.js view; after a detour through server rendering it is current."""
    page.locator("#protocol-select .v-field").click()
    page.locator(".v-overlay-container .v-list-item", has_text="PREEMPT with follow-the-pain").first.click()
    wait_text(page, "#total-units", lambda t: t == "155")
    page.wait_for_timeout(1500)
    before = page.evaluate(_POINTS_JS)
    _remote(page)
    page.locator("#chip-temporal").click()
    wait_text(page, "#total-units", lambda t: float(t) > 155)
    page.locator("#mode-local").click()
    page.wait_for_selector("#view-3d canvas", timeout=20000)
    wait_for_head(page)
    deadline = 40
    while page.evaluate(_POINTS_JS) <= before and deadline:
        page.wait_for_timeout(250)
        deadline -= 1
    assert page.evaluate(_POINTS_JS) > before, "the follow-the-pain sites never reached the browser view"
