"""Browser-test helpers for the camera: turn and zoom the head with the mouse, read the live camera.

A person rotates by dragging and zooms with the wheel before clicking; these helpers do the same
(with small pauses, so vtk.js and the server's interactor see a real drag, not a teleport), and
read the view's live camera (vtk.js, local mode) to know where a point of the head is on screen.
"""

from __future__ import annotations

import io

import numpy as np

from visualizer.view_camera import ViewCamera, parse_view_camera


def view_ref(page) -> str:
    return page.evaluate("() => Object.keys(window.trame.refs).find(k => k.startsWith('view_'))")


def live_camera(page) -> ViewCamera:
    """The browser view's current camera (local mode only)."""
    cam = page.evaluate(f"() => window.injectviz.viewCamera('{view_ref(page)}')")
    assert cam is not None, "no browser camera (is the view in local mode?)"
    return parse_view_camera(cam, cam["width"], cam["height"])


def settled_camera(page) -> ViewCamera:
    """The live camera once the view has stopped moving (a pushed camera lands asynchronously)."""
    last = None
    for _ in range(20):
        cam = live_camera(page)
        if last is not None and np.allclose(cam.position, last.position, atol=1e-3):
            return cam
        last = cam
        page.wait_for_timeout(250)
    return last


def view_box(page) -> dict:
    return page.locator("#view-3d").bounding_box()


def drag(page, x: float, y: float, dx: float, dy: float = 0.0) -> None:
    """Press, move, release: a rotate-drag.

    One move event carries the whole drag: vtk.js ends a "mouse move" 200 ms after the last
    move event, and on a loaded machine with software WebGL each frame takes longer than that,
    so every later move of a many-step drag would start a new move and turn nothing.
    """
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy)
    page.mouse.up()
    page.wait_for_timeout(800)


def wheel(page, x: float, y: float, notches: int, delta: float = -120.0) -> None:
    """Scroll the wheel over (x, y): negative delta zooms in."""
    page.mouse.move(x, y)
    for _ in range(notches):
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(80)
    page.wait_for_timeout(800)


def view_centre(page) -> tuple[float, float]:
    b = view_box(page)
    return b["x"] + b["width"] * 0.4, b["y"] + b["height"] * 0.45


def on_page(page, pixel) -> tuple[float, float]:
    """A view pixel (top-left origin) as page coordinates."""
    b = view_box(page)
    return b["x"] + float(pixel[0]), b["y"] + float(pixel[1])


def view_pixels(page) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(page.locator("#view-3d").screenshot())).convert("RGB"))


def settled_view_pixels(page, *, still_ms: int = 600, timeout_ms: int = 30000) -> np.ndarray:
    """The view's pixels once the picture has stopped changing for ``still_ms``.

    After a drag or a wheel the picture keeps changing for a while: vtk.js draws the moved camera
    on its next frames, the server-rendered view streams lower-quality images during the
    interaction and a full-quality still image after it, and on a loaded machine those arrive
    seconds later. Compare pixels only with the picture the user ends up looking at.
    """
    last = view_pixels(page)
    waited = 0
    while waited < timeout_ms:
        page.wait_for_timeout(still_ms)
        waited += still_ms
        now = view_pixels(page)
        if now.shape == last.shape and np.array_equal(now, last):
            return now
        last = now
    raise AssertionError(f"the view kept changing for {timeout_ms / 1000:.0f} s")


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.logical_and(a, b).sum()
    union = np.logical_or(a, b).sum()
    return float(inter) / float(union) if union else 0.0


def body_mask(pixels: np.ndarray) -> np.ndarray:
    """Pixels of the body (skin, tinted muscle areas, markers): not the light grey background."""
    a = pixels.astype(int)
    light = (a.min(axis=2) > 200) & (a.max(axis=2) - a.min(axis=2) < 30)
    return ~light
