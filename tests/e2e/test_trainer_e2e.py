"""The trainer tab in a real browser: the camera shows the quizzed region, exact clicks score
under 1 mm after the trainee has turned and zoomed the head, wrong clicks anywhere on the body
are scored, and error banners do not outlive their question.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from camera_helpers import drag, on_page, settled_camera, view_box, view_centre, wheel
from e2e_helpers import choose_protocol, shot, wait_text

import visualizer as engine
from visualizer.framing import is_visible


@pytest.fixture(scope="module")
def head():
    return engine.load_head()


def _plan(head, protocol: str):
    return {s.order: s for s in engine.make_plan(head, engine.load_protocol(protocol)).sites}


def _asked(page, sites) -> object:
    """The site the prompt asks for ("Find site 17: left occipitalis" -> the plan's site 17)."""
    prompt = wait_text(page, "#quiz-prompt", lambda t: t.startswith("Find site "))
    order = int(re.match(r"Find site (\d+): ", prompt).group(1))
    site = sites[order]
    assert site.muscle.replace("_", " ") in prompt and (site.side in prompt or site.side == "midline")
    return site


def _click_point(page, point) -> tuple[float, float]:
    x, y = on_page(page, settled_camera(page).project(point)[0])
    page.mouse.click(x, y)
    return x, y


def _result(page) -> tuple[float, str, int]:
    res = wait_text(page, "#quiz-result", lambda t: " mm " in t)
    m = re.search(r"Error ([\d.]+) mm (over the skin|in a straight line) \u2014 score (\d+)", res)
    assert m, res
    return float(m.group(1)), m.group(2), int(m.group(3))


def test_quiz_after_turning_and_zooming(page, artifacts, head):
    sites = _plan(head, "preempt")
    page.locator("#tab-trainer").click()
    page.locator("#quiz-start").click()
    site = _asked(page, sites)
    page.wait_for_timeout(800)
    # Start turned the camera to the quizzed site's region
    assert is_visible(head, settled_camera(page), site.position), "quizzed site not on screen after Start"
    shot(page, artifacts, "trainer-start-region")
    # a stale error: a click on the background, then the answer clears it
    b = view_box(page)
    page.mouse.click(b["x"] + b["width"] - 20, b["y"] + 20)
    wait_text(page, "#message", lambda t: "missed the head" in t)
    # the trainee turns the head a little and zooms in, then clicks exactly on the site
    x, y = view_centre(page)
    drag(page, x, y, 30, 10)
    wheel(page, x, y, notches=1)
    cam = settled_camera(page)
    assert is_visible(head, cam, site.position), "site left the view after a small turn"
    _click_point(page, site.position)
    err, how, score = _result(page)
    assert how == "over the skin" and err < 1.0 and score >= 97, (err, score)
    assert not page.locator("#message").count(), "the error banner outlived its question"
    page.wait_for_timeout(600)
    shot(page, artifacts, "trainer-exact-click")
    # Next: a new site, and the camera on its region
    page.locator("#quiz-next").click()
    wait_text(page, "#quiz-progress", lambda t: t == "Site 2 of 31")
    site2 = _asked(page, sites)
    page.wait_for_timeout(800)
    assert is_visible(head, settled_camera(page), site2.position), "quizzed site not on screen after Next"
    # a click on the chest: scored (large error over the skin, score 0), never a stuck round
    page.locator("#cam-front").click()
    page.wait_for_timeout(1200)
    f = head.frame
    chest = head.surface.ray_hit(
        f.from_head(np.array([0.0, 400.0, -190.0])), f.from_head(np.array([0.0, -400.0, -190.0]))
    )
    _click_point(page, chest)
    err, how, score = _result(page)
    chord = float(np.linalg.norm(np.asarray(chest) - np.asarray(site2.position)))
    assert score == 0 and how == "over the skin" and chord <= err < 2.0 * chord, (err, chord)
    assert not page.locator("#message").count()
    page.wait_for_timeout(1000)
    # after the answer the true site is on screen
    assert is_visible(head, settled_camera(page), site2.position), "true site not shown after the answer"
    shot(page, artifacts, "trainer-chest-click")
    page.locator("#quiz-next").click()
    wait_text(page, "#quiz-progress", lambda t: t == "Site 3 of 31")


def test_a_whole_round_of_exact_clicks(page, artifacts, head):
    """Glabellar (5 sites): every exact click under 1 mm; the summary says 'within 10 mm'."""
    sites = _plan(head, "glabellar")
    choose_protocol(page, "Glabellar lines", "20")
    page.locator("#tab-trainer").click()
    page.locator("#quiz-start").click()
    asked = []
    for i in range(1, 6):
        wait_text(page, "#quiz-progress", lambda t, i=i: t == f"Site {i} of 5")
        site = _asked(page, sites)
        asked.append(site.order)
        page.wait_for_timeout(500)
        _click_point(page, site.position)
        err, how, _ = _result(page)
        assert err < 1.0 and how == "over the skin", (site.order, err)
        page.locator("#quiz-next").click()
    assert sorted(asked) == [1, 2, 3, 4, 5]
    summary = wait_text(page, "#quiz-summary", lambda t: "Round complete" in t)
    assert "5 of 5 sites within 10 mm" in summary, summary
    page.wait_for_timeout(500)
    shot(page, artifacts, "trainer-summary")
    # a new round starts afresh (its order is its own: see tests/test_trainer.py)
    page.locator("#quiz-start").click()
    wait_text(page, "#quiz-progress", lambda t: t == "Site 1 of 5")
    assert not page.locator("#quiz-summary").count()
