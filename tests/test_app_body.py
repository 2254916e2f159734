"""Issue 10: the app's body-type sliders (visualizer/app/body.py) — preview while moving, then the
plan placed by its rules on the reshaped head."""

from __future__ import annotations

import numpy as np
import pytest

import visualizer as engine
from visualizer.body_type import BodyType
from visualizer.head import body_head
from visualizer.planner import make_plan
from visualizer.protocol import load_protocol

_N = [0]


@pytest.fixture
def app(monkeypatch):
    from trame.app import get_server

    from visualizer.app import body

    # driven directly, as without a server: a slider's plan is placed at once (in a full run the
    # browser tests' Playwright may hold a running loop in this thread, which these tests never turn)
    monkeypatch.setattr(body, "serving_loop", lambda: None)

    from visualizer.app.context import AppContext
    from visualizer.app.core import InjectVizApp

    _N[0] += 1
    a = InjectVizApp(
        get_server(f"test_body_{_N[0]}", client_type="vue3"), AppContext(engine=engine, head=engine.load_head())
    )
    a.server.state.ready()
    yield a
    a.close()


def _set(app, **kw):
    with app.state:
        app.state.update(kw)


def test_sliders_reshape_the_head_and_replace_the_plan(app) -> None:
    default_skin = np.array(app.scene.meshes["head"].points, copy=True)
    assert app.state.body_sex == 0.5 and app.state.body_age == 25
    _set(app, body_sex=1.0, body_age=70.0, body_weight=0.9)
    body = BodyType(sex=1.0, age=70.0, weight=0.9)
    target = body_head(body)
    # the plan on the page is the rules' plan on the reshaped head (no event loop here: placed at once)
    assert app.session.head is target and app.head is target
    assert app.session.plan.body_type == body.to_dict()
    expected = make_plan(target, load_protocol("preempt")).to_dict()
    assert app.session.plan.to_dict()["sites"] == expected["sites"]
    assert app.state.totals["units"] == "155" and len(app.state.site_rows) == 31
    # the drawn skin moved onto the reshaped head
    skin = np.asarray(app.scene.meshes["head"].points)
    assert np.abs(skin - default_skin).max() > 5.0
    assert target.surface.distance_to_surface(skin[::50]).max() < 0.01
    # the scene's sites are the new plan's
    assert np.allclose(app.scene.geometry.positions, [s.position for s in app.session.plan.sites])
    # back to the defaults: today's head and today's plan
    _set(app, body_sex=0.5, body_age=25.0, body_weight=0.5)
    assert app.session.head is engine.load_head() and app.session.plan.body_type is None
    # (the decimated skin's points are held at their closest places on the skin: ≤ 0.1 mm from where
    # the decimation put them)
    assert np.abs(np.asarray(app.scene.meshes["head"].points) - default_skin).max() < 0.1


def test_preview_carries_the_sites_with_the_skin(app) -> None:
    """What a slider tick shows before the plan is placed again."""
    frame = app._preview().at(BodyType(sex=0.0, age=85.0))
    target = body_head(BodyType(sex=0.0, age=85.0))
    pos = np.array([s.position for s in frame.plan.sites])
    assert target.surface.distance_to_surface(pos).max() < 0.01 and frame.plan.total_units == 155


def test_moved_landmarks_are_reset_with_a_message(app) -> None:
    lm = app.session.head.landmarks["left_orbital_rim"] + np.array([0.0, 0.0, 3.0])
    app.session.move_landmark("left_orbital_rim", lm)
    _set(app, body_muscle=1.0)
    assert app.session.moved_landmarks() == []
    assert "left_orbital_rim" in app.state.message


def test_slider_values_are_checked() -> None:
    """What a browser sends for a slider is checked before the app sees it."""
    from visualizer.app.inputs import STATE, InputRefused

    assert STATE["body_age"](40) == 40 and STATE["body_sex"](0.25) == 0.25
    for key, bad in (
        ("body_age", 17.0),
        ("body_age", 91),
        ("body_sex", 1.5),
        ("body_weight", -0.1),
        ("body_muscle", float("nan")),
        ("body_sex", "0.5"),
        ("body_sex", True),
        ("body_age", [40]),
    ):
        with pytest.raises(InputRefused):
            STATE[key](bad)
