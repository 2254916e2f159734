"""The patient tab in a real browser: the session length depends on the protocol, the aftercare and
the boxed warning are on the page (also on a touch screen), and every step frames its site so
that a person recognises where it is.
"""

from __future__ import annotations

import numpy as np
import pytest
from camera_helpers import settled_camera
from e2e_helpers import shot, text, wait_text

import visualizer as engine
from visualizer.framing import CONTEXT_LANDMARKS, is_visible


@pytest.fixture(scope="module")
def head():
    return engine.load_head()


def test_every_step_frames_its_site_with_head_context(page, artifacts, head):
    sites = {s.order: s for s in engine.make_plan(head, engine.load_protocol("preempt")).sites}
    page.locator("#tab-patient").click()
    wait_text(page, "#patient-step", lambda t: t == "Site 1 of 31")
    assert "About 15 minutes (an estimate" in text(page, "#patient-duration")
    legend = text(page, "#patient-legend")
    assert "the injection described now" in legend and "follow" not in legend.lower()
    for n in range(1, 32):
        if n > 1:
            page.locator("#patient-next").click()
            wait_text(page, "#patient-step", lambda t, n=n: t == f"Site {n} of 31")
        page.wait_for_timeout(300)
        cam = settled_camera(page)
        site = sites[n]
        assert is_visible(head, cam, site.position), f"step {n}: its site is not on screen"
        # recognisable: part of the face, an ear or the back of the head is in the picture too
        seen = [k for k in CONTEXT_LANDMARKS if cam.in_view(head.landmarks[k], margin_px=10)]
        assert seen, f"step {n} ({site.description}): no ear, nose or back of the head in view"
        height = 2 * np.linalg.norm(np.subtract(cam.position, cam.focal_point)) * np.tan(np.radians(15))
        assert height >= 200, f"step {n}: a close-up ({height:.0f} mm)"
    page.wait_for_timeout(600)
    shot(page, artifacts, "patient-last-step")


def test_duration_and_aftercare_follow_the_protocol(page):
    page.locator("#protocol-select .v-field").click()
    page.locator(".v-overlay-container .v-list-item", has_text="Glabellar lines").first.click()
    wait_text(page, "#total-units", lambda t: t == "20")
    page.locator("#tab-patient").click()
    wait_text(page, "#patient-duration", lambda t: "About 10 minutes (an estimate" in t)
    assert "3 months" in text(page, "#aftercare-come-back")
    assert "days" in text(page, "#aftercare-onset")


def test_the_boxed_warning_is_visible_on_a_touch_screen(browser, app_url, artifacts):
    ctx = browser.new_context(viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True)
    page = ctx.new_page()
    try:
        page.goto(app_url)
        page.wait_for_function("() => { const e = document.querySelector('#total-units');"
                               " return e && e.textContent.trim().length > 0 }", timeout=30000)
        if not page.locator("#tab-patient").is_visible():
            page.locator("button[title='Show/hide panel']").tap()
        page.locator("#tab-patient").tap()
        warn = page.locator("#patient-urgent")
        warn.scroll_into_view_if_needed()
        assert warn.is_visible()
        words = warn.inner_text().lower()
        for w in ("swallowing", "speaking", "breathing", "muscle weakness", "drooping eyelid"):
            assert w in words, w
        box = warn.bounding_box()
        assert box["width"] > 200 and box["height"] > 60  # shown in full, not a hover tooltip
        page.screenshot(path=str(artifacts / "patient-touch-warning.png"))
    finally:
        ctx.close()
