"""The injector's Plan tab and the page layout, in Chromium, used the way a person does.

Each test turns and zooms the head with the mouse first (drag, wheel), then works the page.
Findings are matched by their codes (``data-code``), never by message substrings. Screenshots go
to ``tests/artifacts/plan-tab-*.png``.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from e2e_helpers import head_box, open_app, shot, text, view_element, view_image, wait_text

VIEWPORTS = {"desktop": (1280, 800), "tablet-portrait": (768, 1024)}
RAW_COORDS = re.compile(r"\(\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*\)")
INTERNAL_ID = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")  # frontalis_2_right, left_orbital_rim, ...
TITLES = {
    "preempt": "PREEMPT — chronic migraine, fixed-site",
    "preempt-ftp": "PREEMPT with follow-the-pain",
    "glabellar": "Glabellar lines",
}


@pytest.fixture(params=list(VIEWPORTS))
def vpage(request, browser, app_url):
    w, h = VIEWPORTS[request.param]
    p = open_app(browser, app_url, width=w, height=h)
    p.viewport_name = request.param  # type: ignore[attr-defined]
    yield p
    p.context.close()


def turn_and_zoom(page) -> None:
    """What a person does first: drag to rotate the head a little, scroll to zoom."""
    box = view_element(page).bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.45
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 16):
        page.mouse.move(x + 5 * i, y + i)
    page.mouse.up()
    page.mouse.wheel(0, -240)
    page.wait_for_timeout(600)


def choose_protocol(page, pid: str) -> None:
    page.locator("#protocol-select .v-field").click()
    page.locator(".v-overlay-container .v-list-item", has_text=TITLES[pid]).first.click()


def codes(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(f"{selector} [data-code]", "els => els.map(e => e.dataset.code)")


def pixels(page, rgb, tol: int = 40) -> int:
    a = np.asarray(view_image(page)).astype(int)
    return int((np.abs(a - np.array(rgb)).max(axis=2) < tol).sum())


def wait_pixels(page, rgb, at_least: int, timeout_s: float = 15) -> int:
    n = 0
    for _ in range(int(timeout_s * 4)):
        n = pixels(page, rgb)
        if n >= at_least:
            return n
        page.wait_for_timeout(250)
    raise AssertionError(f"only {n} pixels of colour {rgb} in the view")


def ftp_rows(page) -> list[str]:
    return [
        r.locator("td:nth-child(2)").inner_text()
        for r in page.locator("#site-table tbody tr").all()
        if r.locator(".v-chip").count()
    ]


def assert_plain(words: str) -> None:
    assert not RAW_COORDS.search(words), words
    assert not INTERNAL_ID.search(words), words


# ---------------------------------------------------------------------------------------------
def test_pain_side_per_region(page, artifacts):
    """Left temporal and right shoulder in one origin; information is a quiet note, not a warning."""
    turn_and_zoom(page)
    choose_protocol(page, "preempt-ftp")
    wait_text(page, "#total-units", lambda t: t == "155")
    page.locator("#chip-temporal").click()
    page.locator("#side-temporal-left").click()
    page.locator("#chip-shoulder").click()
    page.locator("#side-shoulder-right").click()
    wait_text(page, "#pain-summary", lambda t: t == "left temple, right shoulder")
    page.wait_for_function(
        "() => JSON.stringify(window.trame.state.get('pain_chips')) === "
        "JSON.stringify(['left-temporal', 'right-shoulder'])"
    )
    wait_text(page, "#total-units", lambda t: float(t) > 155)
    page.wait_for_function("() => document.querySelectorAll('#panel-notes [data-code=ftp_added]').length === 1")
    rows = ftp_rows(page)
    assert rows and all(r.startswith(("Left temple", "Right shoulder")) for r in rows), rows
    assert any(r.startswith("Left temple") for r in rows) and any(r.startswith("Right shoulder") for r in rows)
    assert page.locator("#view-warnings").count() == 0  # nothing here is a safety warning
    note = page.locator("#panel-notes [data-code=ftp_added]").inner_text()
    assert_plain(note)
    page.wait_for_timeout(600)
    shot(page, artifacts, "plan-tab-pain-per-region")


def test_controls_that_do_nothing_are_hidden_with_a_reason(vpage, artifacts):
    page = vpage
    turn_and_zoom(page)
    choose_protocol(page, "glabellar")
    wait_text(page, "#total-units", lambda t: t == "20")
    assert page.locator("#pain-unavailable").is_visible()
    assert "no follow-the-pain" in text(page, "#pain-unavailable")
    assert page.locator("#pain-regions").count() == 0 and page.locator("#switch-ftp").count() == 0
    assert page.locator("#click-pain").is_disabled()
    choose_protocol(page, "preempt-ftp")
    wait_text(page, "#total-units", lambda t: t == "155")
    assert page.locator("#pain-regions").is_visible() and page.locator("#switch-ftp").count() == 1
    assert page.locator("#pain-unavailable").count() == 0


def test_aesthetic_protocol_opens_framed_on_the_face(vpage, artifacts):
    page = vpage
    turn_and_zoom(page)
    choose_protocol(page, "glabellar")
    wait_text(page, "#total-units", lambda t: t == "20")
    page.wait_for_timeout(1500)
    # the face fills the view: skin over most of its width, and the five markers spread wide
    img = np.asarray(view_image(page)).astype(int)
    vb = view_element(page).bounding_box()
    violet = np.abs(img - np.array([148, 103, 189])).max(axis=2) < 35
    _, xs = np.nonzero(violet)
    assert len(xs) > 200, "the corrugator markers are not visible"
    spread = (xs.max() - xs.min()) * vb["width"] / img.shape[1]
    assert spread > 0.22 * vb["width"], f"markers only {spread:.0f} px apart: not framed on the face"
    # legend: only this protocol's muscles
    legend = text(page, "#legend")
    assert "procerus" in legend and "corrugator" in legend
    for other in ("frontalis", "temporalis", "trapezius", "occipitalis"):
        assert other not in legend
    shot(page, artifacts, f"plan-tab-glabellar-{page.viewport_name}")


def test_legend_never_covers_the_view(vpage):
    page = vpage
    lb = page.locator("#legend").bounding_box()
    vb = page.locator("#view-3d").bounding_box()
    assert lb["y"] >= vb["y"] + vb["height"] - 1, (lb, vb)  # a bar under the view, not over it


def test_row_click_turns_the_camera_to_a_hidden_site(vpage, artifacts):
    """Row 20 (left occipitalis, behind the head in the front view) comes into view when clicked."""
    page = vpage
    turn_and_zoom(page)
    page.locator("#cam-front").click()
    page.wait_for_timeout(1200)
    yellow = (255, 205, 0)
    row = page.locator("#site-table tbody tr").nth(19)
    assert row.locator("td").first.inner_text() == "20"
    where = row.locator("td:nth-child(2)").inner_text()
    assert "back of the head" in where.lower() and where.lower().startswith("left")
    row.scroll_into_view_if_needed()
    row.click()
    page.wait_for_function("() => window.trame.state.get('selected_site') !== null")
    n = wait_pixels(page, yellow, 150)
    assert "iv-selected" in (row.get_attribute("class") or "")
    shot(page, artifacts, f"plan-tab-row20-{page.viewport_name}")
    assert n >= 150


def test_safety_warning_names_and_rings_its_sites(page, artifacts):
    """Move the left pupil onto the bridge of the nose in landmark mode: the corrugator site is then
    too close to the orbit (a real safety finding) and the landmark is implausible."""
    turn_and_zoom(page)
    page.locator("#click-landmark").click()
    page.locator("#landmark-select .v-field").click()
    item = page.locator(".v-overlay-container .v-list-item", has_text="left pupil")
    assert "the front of the eye" in item.first.inner_text()  # the landmark registry's plain words
    item.first.click()
    page.locator("#cam-front").click()
    page.wait_for_timeout(1500)
    # the procerus marker (between the brows, magenta) guides the click just below it
    img = np.asarray(view_image(page)).astype(int)
    mag = np.abs(img - np.array([227, 119, 194])).max(axis=2) < 30
    ys, xs = np.nonzero(mag)
    assert len(xs) > 8, "the procerus marker is not visible"
    vb = view_element(page).bounding_box()
    sx, sy = vb["width"] / img.shape[1], vb["height"] / img.shape[0]
    page.mouse.click(vb["x"] + xs.mean() * sx, vb["y"] + (ys.max() + 40) * sy)
    wait_text(page, "#moved-landmarks", lambda t: "left pupil" in t)
    page.wait_for_function("() => document.querySelector('#view-warnings [data-code=orbit_margin]')")
    found = codes(page, "#view-warnings")
    assert "orbit_margin" in found and "landmark_far_from_expected" in found, found
    warn = text(page, "#view-warnings")
    assert "left pupil" in warn.lower()
    assert_plain(warn.replace("show site", ""))
    # not dismissable
    assert page.locator("#view-warnings .v-alert__close").count() == 0
    # the named sites are marked in the table ...
    flagged = page.eval_on_selector_all("#site-table tr[data-flagged='1']", "els => els.map(e => e.dataset.site)")
    state_ids = page.evaluate("() => window.trame.state.get('safety_findings').flatMap(f => f.site_ids)")
    assert flagged and set(flagged) == set(state_ids), (flagged, state_ids)
    # ... and ringed in red in 3D
    wait_pixels(page, (220, 20, 20), 30)
    page.wait_for_timeout(500)
    shot(page, artifacts, "plan-tab-safety-warning")
    # "show site N" turns the camera to it and selects its row
    page.locator("#view-warnings .v-btn").first.click()
    page.wait_for_function("() => window.trame.state.get('selected_site') !== null")
    page.locator("#landmarks-reset").click()
    page.wait_for_function("() => !document.querySelector('#view-warnings')")


def test_landmark_labels_do_not_pile_up(page, artifacts):
    turn_and_zoom(page)
    page.locator("#switch-landmarks").click()
    page.locator("#cam-front").click()
    page.wait_for_timeout(1500)
    shot(page, artifacts, "plan-tab-landmarks")
    n = page.evaluate("() => window.trame.state.get('landmark_items').length")
    assert n > 20


def test_figure_download_and_plan_json(page, artifacts):
    from PIL import Image

    turn_and_zoom(page)
    choose_protocol(page, "preempt-ftp")
    wait_text(page, "#total-units", lambda t: t == "155")
    page.locator("#chip-temporal").click()
    page.locator("#side-temporal-left").click()
    wait_text(page, "#total-units", lambda t: float(t) > 155)
    units = text(page, "#total-units")
    page.locator("#download-menu").click()
    with page.expect_download() as d:
        page.locator("#download-png").click()
    png = open(d.value.path(), "rb").read()
    (artifacts / "plan-tab-figure.png").write_bytes(png)
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    h, w, _ = img.shape
    assert w >= 1200 and h > w * 0.8
    band = img[:120]  # title band: white paper with dark text
    assert (band.min(axis=2) > 235).mean() > 0.8 and (band.max(axis=2) < 80).sum() > 500
    skin = (img[..., 0] > 150) & (img[..., 0] - img[..., 2] > 28)
    assert skin.mean() > 0.08
    # the plan file: findings by code, no server paths
    page.locator("#download-menu").click()
    with page.expect_download() as d:
        page.locator("#download-json").click()
    raw = open(d.value.path()).read()
    data = json.loads(raw)
    assert str(data["total_units"]).rstrip("0").rstrip(".") == units
    assert "ftp_added" in {f["code"] for f in data["findings"]}
    for key in ("mesh", "landmarks_file", "protocol_file"):
        assert "/" not in data[key] and "\\" not in data[key], data[key]
    assert "/work/" not in raw and "/home/" not in raw and "/tmp/" not in raw


def test_page_prints_on_a4_with_the_site_table(page, artifacts):
    turn_and_zoom(page)
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.locator("#download-menu").click()
    page.locator("#download-print").click()
    page.wait_for_function("() => window.__printed === 1", timeout=30000)
    assert page.evaluate("() => document.getElementById('print-view').naturalWidth") > 300
    page.emulate_media(media="print")
    page.wait_for_timeout(500)
    rows = page.locator("#site-table tbody tr")
    assert rows.count() == 31
    last = rows.nth(30).bounding_box()
    table = page.locator("#site-table").bounding_box()
    assert last["y"] + last["height"] <= table["y"] + table["height"] + 1  # no scrolling box in print
    assert page.locator("#print-title").is_visible() and page.locator("#print-view").is_visible()
    assert not page.locator("#view-3d").is_visible()  # the canvas (which does not print) is replaced
    pdf = page.pdf(format="A4", print_background=True)
    (artifacts / "plan-tab-print.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 1 <= pages <= 4, pages
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi, for a look
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts / "plan-tab-print.png"), full_page=True)


def test_debug_readout_only_with_debug_flag(browser, app_url):
    p = open_app(browser, app_url)
    try:
        assert p.locator("#update-ms").count() == 0
        assert p.evaluate("() => window.trame.state.get('update_ms')") is not None  # benchmarks read it
    finally:
        p.context.close()
    q = open_app(browser, app_url + "?debug=1")
    try:
        q.wait_for_selector("#update-ms")
    finally:
        q.context.close()


def test_tablet_portrait_layout(browser, app_url, artifacts):
    p = open_app(browser, app_url, width=768, height=1024)
    try:
        turn_and_zoom(p)
        p.locator("#cam-front").click()
        p.wait_for_timeout(1500)
        vb = p.locator("#view-3d").bounding_box()
        sb = p.locator("#side-panel").bounding_box()
        assert sb["y"] >= vb["y"] + vb["height"] - 1 and sb["width"] >= 760, (vb, sb)  # a bottom sheet
        assert vb["width"] >= 760 and vb["height"] >= 380
        # the head (upper part of the picture) is inside the view with a margin: not cropped
        box = head_box(p, top_fraction=0.55)
        assert box["y0"] > vb["y"] + 4 and box["x0"] > vb["x"] + 4 and box["x1"] < vb["x"] + vb["width"] - 4
        # the protocol name is shown in full
        title = p.locator("#title-protocol")
        assert title.is_visible() and text(p, "#title-protocol") == "PREEMPT"
        assert p.evaluate(
            "() => { const e = document.querySelector('#title-protocol'); return e.scrollWidth <= e.clientWidth }"
        )
        shot(p, artifacts, "plan-tab-tablet-portrait")
        # the trainer's quiz summary at this size (looked at; reported if it does not fit)
        p.locator("#tab-trainer").click()
        p.wait_for_timeout(400)
        shot(p, artifacts, "plan-tab-tablet-portrait-trainer")
    finally:
        p.context.close()
