"""State logic of the web app, without a browser.

* ``Session`` (visualizer/app/state.py): the patient, the plan, patient step-through, the quiz.
* ``InjectVizApp`` driven through its trame state and handlers (no websocket, no browser).
"""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np
import pytest

import visualizer as engine
from visualizer.app import state as st


@pytest.fixture(scope="module")
def head():
    return engine.load_head()


@pytest.fixture
def session(head):
    return st.Session(engine, head)


# ------------------------------------------------------------------------------ Session
def test_default_session(session):
    assert st.protocol_id(session.protocol) == "preempt"
    t = session.totals()
    assert (t["sites"], t["units"], t["ml"], t["ftp_sites"]) == (31, "155", "3.1", 0)
    assert sum(float(r["units"]) for r in t["per_muscle"]) == 155
    assert [r["order"] for r in session.site_rows()] == list(range(1, 32))
    assert session.pain_summary() == "none set"


def test_protocol_change_and_bad_protocol_keeps_state(session):
    session.set_protocol("glabellar")
    assert session.totals()["units"] == "20"
    with pytest.raises(st.UserError, match="no-such"):
        session.set_protocol("no-such")
    assert st.protocol_id(session.protocol) == "glabellar"
    assert session.totals()["units"] == "20"


def test_a_protocol_is_chosen_by_id_never_by_path(session, tmp_path):
    """A browser names protocols by id from the server's set; a path is never opened."""
    from visualizer.protocol import PROTOCOLS_DIR

    for ref in ("/etc/passwd", "/dev/stdin", str(PROTOCOLS_DIR / "glabellar.yaml"), "../protocols/glabellar.yaml"):
        with pytest.raises(st.UserError, match="Unknown protocol"):
            session.set_protocol(ref)
    assert st.protocol_id(session.protocol) == "preempt"


@pytest.mark.parametrize(("side", "expected"), [("left", {"left"}), ("right", {"right"})])
def test_one_sided_pain_gives_sites_on_that_side(session, side, expected):
    session.set_protocol("preempt-ftp")
    session.set_pain(["temporal", "occipital"], side)
    ftp = [r for r in session.site_rows() if r["ftp"]]
    assert ftp and {r["side"] for r in ftp} == expected
    units = float(session.totals()["units"])
    assert 155 < units <= 195 and len(session.site_rows()) <= 39


def test_both_sides_and_regions_validation(session):
    session.set_protocol("preempt-ftp")
    session.set_pain(["temporal"], "both")
    assert {r["side"] for r in session.site_rows() if r["ftp"]} == {"left", "right"}
    with pytest.raises(st.UserError, match="elbow"):
        session.set_pain(["elbow"], "left")
    with pytest.raises(st.UserError, match="sideways"):
        session.set_pain(["temporal"], "sideways")
    assert session.pain_chips == ["temporal"] and session.pain_side == "both"
    assert session.pain_summary() == "temple (both sides)"


def test_pain_side_per_region(session):
    """ "left temporal and right shoulder" in one origin (a side per chip)."""
    session.set_protocol("preempt-ftp")
    session.set_pain(["left-temporal", "right-shoulder"])
    ftp = {(r["muscle_key"], r["side"]) for r in session.site_rows() if r["ftp"]}
    assert ftp == {("temporalis", "left"), ("trapezius", "right")}
    assert session.pain_summary() == "left temple, right shoulder"
    with pytest.raises(st.UserError, match="up-temporal"):
        session.set_pain(["up-temporal"])
    assert session.pain_chips == ["left-temporal", "right-shoulder"]


def test_neck_only_pain_warns(session):
    session.set_protocol("preempt-ftp")
    session.set_pain(["neck"], "both")
    f = session.findings()
    assert [x["code"] for x in f] == ["ftp_region_not_eligible"] and not f[0]["safety"]
    assert "neck" in f[0]["message"]
    assert not any(r["ftp"] for r in session.site_rows())


def test_pain_point(session, head):
    session.set_protocol("preempt-ftp")
    p, _ = head.snap(np.asarray(head.landmarks["right_tragus"]) + np.array([0, 10, 45]))
    session.set_pain_point(p)
    ftp = [r for r in session.site_rows() if r["ftp"]]
    assert ftp and {r["side"] for r in ftp} == {"right"}
    assert session.pain_summary() == "a point on the right temple"  # plain words, no coordinates
    with pytest.raises(st.UserError):
        session.set_pain_point([1.0, float("nan"), 2.0])
    assert session.pain_point is not None
    session.set_pain_point(None)
    assert not any(r["ftp"] for r in session.site_rows())


def test_follow_the_pain_toggle(session):
    session.set_protocol("preempt-ftp")
    session.set_pain(["temporal"], "left")
    assert session.totals()["ftp_sites"] > 0
    session.set_follow_the_pain(False)
    assert session.totals()["ftp_sites"] == 0


def test_selection(session):
    sid = session.site_rows()[3]["id"]
    session.select(sid)
    assert session.selected == sid
    with pytest.raises(st.UserError):
        session.select("nope")
    session.set_protocol("glabellar")  # the selected site is gone
    assert session.selected is None


def test_totals_match_the_plan(session):
    session.set_protocol("preempt-ftp")
    session.set_pain(["temporal", "occipital", "shoulder"], "both")
    plan = session.plan
    t = session.totals()
    assert t["sites"] == len(plan.sites)
    assert float(t["units"]) == plan.total_units
    for row in t["per_muscle"]:
        pm = plan.per_muscle[row["muscle_key"]]
        assert (row["sites"], float(row["units"])) == (pm.sites, pm.units)


def test_patient_step_through(session):
    txt = session.patient_text()
    assert txt["step"] == "Site 1 of 31" and "unit" in txt["dose"]
    assert "site 1 of 31 \u2014 " in txt["line"]
    assert session.patient_next() and session.patient_text()["step"] == "Site 2 of 31"
    session.patient_go(30)
    assert not session.patient_next()
    assert session.patient_text()["step"] == "Site 31 of 31"
    session.patient_prev()
    assert session.patient_index == 29
    session.patient_go(-5)
    assert session.patient_index == 0


def test_quiz_round(session, head):
    q = session.quiz_start(seed=1)
    assert q.total == 31 and len(set(q.order)) == 31
    assert st.Quiz(session.plan, seed=1).order == q.order  # deterministic per seed
    # the prompt names the site by its number in the plan, its side and its muscle, in words
    first = q.current_site
    side = "" if first.side == "midline" else f"{first.side} "
    assert q.prompt == f"site {first.order}: {side}{first.muscle.replace('_', ' ')}"
    # a perfect answer scores 100, a far one 0
    site = q.current_site
    a = session.quiz_answer(site.position)
    assert a.error_mm == pytest.approx(0, abs=0.5) and a.score >= 98
    with pytest.raises(st.UserError):
        session.quiz_answer(site.position)
    q.next()
    far = np.asarray(q.current_site.position) * -1
    p, _ = head.snap(far)
    b = session.quiz_answer(p)
    assert b.error_mm > 30 and b.score == 0
    assert b.error_mm >= np.linalg.norm(np.asarray(p) - np.asarray(b.truth)) - 1e-6  # over the surface
    while not q.finished:
        q.next()
        if q.finished:
            break
        session.quiz_answer(q.current_site.position)
    s = q.summary()
    assert s["answered"] == 31 and s["within"] == 30
    assert {r["muscle"] for r in s["rows"]} == {m.replace("_", " ") for m in session.plan.per_muscle}
    worst = max(float(r["worst_mm"]) for r in s["rows"])
    assert worst == pytest.approx(b.error_mm, abs=0.06)
    with pytest.raises(st.UserError):
        session.quiz_answer(site.position)


def test_quiz_prompts_use_the_plans_site_numbers(session):
    q = session.quiz_start(seed=3)
    by_order = {s.order: s for s in session.plan.sites}
    for sid, prompt in q.prompts.items():
        site = session.plan.site(sid)
        assert prompt.startswith(f"site {site.order}: ") and site.muscle.replace("_", " ") in prompt
    assert q.prompts[by_order[1].id] == "site 1: procerus"
    assert by_order[8].side in q.prompts[by_order[8].id]


def test_quiz_score_curve():
    assert st.quiz_score(0) == 100
    assert st.quiz_score(15) == 50
    assert st.quiz_score(30) == 0 and st.quiz_score(300) == 0
    assert st.quiz_score(float("nan")) == 0


def test_two_sessions_are_independent(head):
    a, b = st.Session(engine, head), st.Session(engine, head)
    a.set_protocol("preempt-ftp")
    a.set_pain(["temporal"], "left")
    a.quiz_start()
    assert st.protocol_id(b.protocol) == "preempt" and b.pain_chips == [] and b.quiz is None
    assert b.totals()["units"] == "155"


# ------------------------------------------------------------------------------ the trame app
_N = [0]


@pytest.fixture
def app(head):
    from trame.app import get_server

    from visualizer.app.context import AppContext
    from visualizer.app.core import InjectVizApp

    _N[0] += 1
    ctx = AppContext(engine=engine, head=head)
    a = InjectVizApp(get_server(f"test_app_{_N[0]}", client_type="vue3"), ctx)
    a.server.state.ready()
    yield a
    a.close()


def _set(app, **kw):
    with app.state:
        app.state.update(kw)


def test_app_state_follows_the_session(app):
    s = app.state
    assert s.totals["units"] == "155" and len(s.site_rows) == 31
    _set(app, protocol_id="glabellar")
    assert s.totals["units"] == "20" and len(s.site_rows) == 5
    from visualizer.scene import _unit_sphere

    assert app.scene.meshes["sites"].n_points == 5 * len(_unit_sphere(14)[0])


def test_app_click_sets_pain_and_drag_is_ignored(app, head):
    _set(app, protocol_id="preempt-ftp")
    p, _ = head.snap(np.asarray(head.landmarks["left_tragus"]) + np.array([0, 10, 45]))
    ev = {"mode": "local", "worldPosition": list(p + 0.3), "remoteId": "whatever"}
    app.on_click(ev, [100, 100], [130, 120])  # moved 36 px: the end of a drag
    assert app.state.pain_point is None
    app.on_click(ev, [100, 100], [101, 101])
    assert app.state.pain_point is not None
    assert app.state.pain_point[0] < 0
    ftp = [r for r in app.state.site_rows if r["ftp"]]
    assert ftp and {r["side"] for r in ftp} == {"left"}
    assert app.scene.pain_point is not None
    assert app.last_update_ms > 0  # measured; its target lives in benchmarks/bench_app.py


def test_app_pain_glow_is_drawn_at_the_plans_heat_anchors(app):
    _set(app, protocol_id="preempt-ftp")
    _set(app, pain_chips=["temporal", "occipital"], pain_side="left")
    anchors = np.asarray(app.session.plan.heat_anchors)
    assert anchors.shape == (2, 3)  # one region per chip on the left side
    assert np.allclose(app.scene.heat_points, anchors)
    assert app.scene.actors["heat"].GetVisibility()
    _set(app, pain_chips=[])
    assert app.session.plan.heat_anchors == () and len(app.scene.heat_points) == 0


def test_app_bad_requests_become_messages(app):
    _set(app, protocol_id="nope")
    assert "nope" in app.state.message and app.state.message_type == "error"
    assert app.state.protocol_id == "preempt" and app.state.totals["units"] == "155"
    _set(app, pain_chips=["elbow"])
    assert "elbow" in app.state.message
    assert app.state.pain_chips == []
    _set(app, protocol_id="preempt-ftp")  # a click sets the pain origin (preempt: it selects a site)
    assert app.state.click_action == "pain"
    app.on_click(None, None, None)  # a click on the background
    assert "missed the head" in app.state.message
    far = {"mode": "local", "worldPosition": [0, 900, 0], "remoteId": None}
    app.on_click(far, None, None)
    assert "not on the head" in app.state.message
    app.camera("diagonal")
    assert "diagonal" in app.state.message
    _set(app, view_mode="hologram")
    assert app.state.view_mode == "local"


def test_app_hostile_click_position_is_a_miss(app):
    _set(app, protocol_id="preempt-ftp")  # a click sets the pain origin, so a miss is said
    app.state.message = ""
    app.on_click({"mode": "local", "worldPosition": ["x", 1, 2]}, None, None)
    assert "missed the head" in app.state.message and app.state.message_type == "error"


def test_app_row_and_3d_selection(app):
    sid = app.state.site_rows[5]["id"]
    _set(app, selected_site=sid)
    assert app.scene.highlight == sid and app.scene.actors["highlight"].GetVisibility()
    site = app.session.plan.site(app.state.site_rows[9]["id"])
    app.handle_pick(np.asarray(site.position), "sites")
    assert app.state.selected_site == site.id
    assert app.state.pain_point is None  # picking a marker selects, it does not set pain


def test_app_patient_and_trainer(app, head):
    _set(app, tab="patient")
    assert not app.scene.show_labels and not app.scene.show_muscles
    first = app.state.patient["site_id"]
    assert app.scene.highlight == first
    app.patient_next()
    assert app.state.patient["step"] == "Site 2 of 31"
    assert app.scene.highlight == app.state.patient["site_id"] != first
    _set(app, tab="trainer")
    assert not app.scene.actors["sites"].GetVisibility()  # answers hidden
    app.quiz_start()
    q = app.state.quiz
    assert q["index"] == 1 and q["total"] == 31 and q["prompt"]
    truth = app.session.quiz.current_site
    app.handle_pick(np.asarray(truth.position) + 0.2, "head")
    r = app.state.quiz_result
    assert r["error_mm"] < 1.0 and r["score"] >= 95
    assert app.scene.actors["guess"].GetVisibility() and app.scene.actors["answer"].GetVisibility()
    app.quiz_next()
    assert app.state.quiz["index"] == 2 and app.state.quiz_result is None
    _set(app, show_answers=True)
    assert app.scene.actors["sites"].GetVisibility()


def test_app_downloads(app):
    import json

    data = json.loads(app.plan_json())
    assert data["total_units"] == 155 and len(data["sites"]) == 31
    assert app.plan_csv().splitlines()[0].startswith("order,")
    png = app.snapshot_png({"position": [0, 800, 0], "focalPoint": [0, 0, 0], "viewUp": [0, 0, 1], "viewAngle": 30})
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_app_has_no_opengl_window_until_the_server_draws(app):
    """The plotter starts without OpenGL (visualizer.app.lazy_gl); a picture is drawn in an OpenGL
    window made then, and the page's views keep the window (and id) they were built on; the
    server-rendered mode moves the plotter to the OpenGL window for good."""
    from visualizer.app import lazy_gl

    win = app.plotter.ren_win
    assert not lazy_gl.gl_created(app.plotter) and not win.IsA("vtkOpenGLRenderWindow")
    assert not app.server_can_draw() and app.state.server_gl is False
    png = app.snapshot_png(None, [400, 300], False)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = _png_pixels(png)
    assert img.shape[:2] == (1050, 1400)  # a small view is drawn larger (1400 px wide)
    assert (np.abs(img[..., :3].astype(int) - img[0, 0, :3]).sum(axis=-1) > 30).mean() > 0.05  # the head
    assert lazy_gl.gl_created(app.plotter) and app.plotter.ren_win is win  # the window did not change
    assert tuple(win.GetSize()) == (1000, 760) and win.GetRenderers().GetNumberOfItems() >= 2
    _set(app, view_mode="remote")
    assert app.plotter.ren_win.IsA("vtkOpenGLRenderWindow") and app.server_can_draw()
    assert app.state.server_gl is True
    assert app.remote_view._VtkRemoteView__view is app.plotter.ren_win
    assert app.state[app.remote_view._VtkRemoteView__view_key_id] == app.remote_view._helper.id(app.plotter.ren_win)
    assert app.snapshot_png(None, [400, 300], False)[:8] == b"\x89PNG\r\n\x1a\n"
    _set(app, view_mode="local")
    assert app.local_view._VtkLocalView__view is app.plotter.ren_win  # the browser view follows it


def _png_pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)))


def test_app_update_reports_where_its_time_goes(app, head):
    """Each click's server-side time is recorded with its parts (the speed target itself lives in
    benchmarks/bench_app.py and bench_interaction.py, not in a timed unit test)."""
    _set(app, protocol_id="preempt-ftp")
    pts = [
        head.snap(np.asarray(head.landmarks[k]) + np.array([0, 0, 30]))[0]
        for k in ("left_tragus", "right_tragus", "inion", "left_mastoid")
    ]
    for p in pts:
        app.handle_pick(np.asarray(p), "head")
        parts = app.last_timing
        assert set(parts) == {"plan", "scene", "view", "page"}
        assert all(v >= 0 for v in parts.values())
        assert app.last_update_ms >= sum(parts.values()) - 1e-6
        assert app.state.update_timing == {k: round(v, 1) for k, v in parts.items()}


def test_app_local_click_is_picked_with_the_browser_camera(app, head):
    """vtk.js view clicks arrive as pixel + camera; the server picks the same surface point."""
    _set(app, protocol_id="preempt-ftp")
    target, _ = head.snap(np.asarray(head.landmarks["right_tragus"]) + np.array([0, 10, 45]))
    normal = np.asarray(head.snap(target)[1])
    cam = {"position": list(target + 300 * normal), "focalPoint": list(target), "viewUp": [0, 0, 1], "viewAngle": 30}
    app.on_local_click(400, 300, 800, 600, cam, [400, 300], [400, 300])  # centre of an 800x600 view
    assert app.state.pain_point is not None
    assert np.linalg.norm(np.asarray(app.state.pain_point) - target) < 1.0
    assert {r["side"] for r in app.state.site_rows if r["ftp"]} == {"right"}
    # the server takes the browser's camera and view size (presets, pictures start from it)
    assert np.allclose(app.plotter.camera.position, cam["position"], atol=1e-6)
    assert tuple(app.plotter.ren_win.GetSize()) == (800, 600)
    before = app.state.pain_point
    app.on_local_click(400, 300, 800, 600, cam, [300, 300], [400, 300])  # a drag
    assert app.state.pain_point == before
    app.on_local_click(5, 5, 800, 600, cam, None, None)  # background in the corner
    assert "missed the head" in app.state.message
    app.on_local_click("a", None, 800, 600, cam, None, None)
    assert "could not be read" in app.state.message


def test_moving_a_landmark_replaces_its_sites(session, head):
    """Landmark picking mode: the session's head gets the moved landmark; sites follow it."""
    before = {s.id: np.asarray(s.position) for s in session.plan.sites}
    lm = np.asarray(head.landmarks["left_tragus"])
    p, _ = head.snap(lm + np.array([0, 8, 6]))
    session.move_landmark("left_tragus", p)
    assert session.moved_landmarks() == ["left_tragus"]
    assert head.landmarks["left_tragus"] is not session.head.landmarks["left_tragus"]
    assert np.allclose(head.landmarks["left_tragus"], lm)  # the shared head is untouched
    after = {s.id: np.asarray(s.position) for s in session.plan.sites}
    moved = [k for k in before if np.linalg.norm(before[k] - after[k]) > 0.5]
    assert moved, "some sites depend on the tragus"
    with pytest.raises(st.UserError, match="nasal_tip"):
        session.move_landmark("nasal_tip", p)
    session.reset_landmarks()
    assert session.moved_landmarks() == []
    assert all(np.allclose(before[s.id], s.position) for s in session.plan.sites)


def test_app_landmark_mode(app, head):
    _set(app, click_action="landmark", landmark_name="right_tragus")
    assert app.state.show_landmarks and app.scene.actors["landmarks"].GetVisibility()
    p, _ = head.snap(np.asarray(head.landmarks["right_tragus"]) + np.array([0, 6, 8]))
    app.handle_pick(p, "head")
    assert app.state.moved_landmarks == ["right_tragus"]
    assert app.state.pain_point is None
    app.reset_landmarks()
    assert app.state.moved_landmarks == []
    _set(app, click_action="teleport")
    assert "teleport" in app.state.message and app.state.click_action == "pain"


def test_app_error_message_clears_after_a_good_request(app, head):
    _set(app, protocol_id="preempt-ftp")
    app.on_click(None, None, None)
    assert "missed the head" in app.state.message
    p, _ = head.snap(np.asarray(head.landmarks["left_tragus"]) + np.array([0, 10, 45]))
    app.handle_pick(p, "head")
    assert app.state.message == ""
