"""Issue 10 in the browser: the body-type sliders reshape the head and the plan follows."""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import view_element

WAIT_MS = 90_000  # bounded: a settled plan on a loaded machine takes a few seconds


def test_sex_and_age_sliders_reshape_the_head_and_replace_the_plan(page, artifacts: Path) -> None:
    view = view_element(page)
    box = view.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)  # drag-rotate and wheel-zoom first
    page.mouse.down()
    page.mouse.move(cx + 60, cy + 10, steps=6)
    page.mouse.up()
    page.mouse.wheel(0, -150)
    page.wait_for_function("document.querySelector('#total-units').textContent.trim() === '155'", timeout=WAIT_MS)
    before = view.screenshot()

    # drag the sex slider from the middle to the male end
    track = page.locator(".v-input:has(#slider-body_sex) .v-slider-track").first
    track.scroll_into_view_if_needed()
    t = track.bounding_box()
    y = t["y"] + t["height"] / 2
    page.mouse.move(t["x"] + t["width"] * 0.5, y)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(t["x"] + t["width"] * (0.5 + 0.055 * k), y, steps=2)
    page.mouse.up()
    # the age slider by keyboard: 25 → 35 years
    thumb = page.locator(".v-input:has(#slider-body_age) .v-slider-thumb").first
    thumb.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    # the plan is placed again on the reshaped head: its note names the body type, totals unchanged
    page.wait_for_function(
        "[...document.querySelectorAll('#panel-notes')].some(e => e.textContent.includes('sex 1.00, 35 years'))",
        timeout=WAIT_MS,
    )
    assert page.locator("#total-sites").text_content().strip() == "31"
    assert page.locator("#total-units").text_content().strip() == "155"
    page.screenshot(path=str(artifacts / "body_type_male_35.png"))
    assert view.screenshot() != before  # the drawn head changed
