"""Trainer quiz scoring: distances over the skin, wrong clicks anywhere on the body, round order."""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np
import pytest

import visualizer as engine
from visualizer.app import state as st
from visualizer.skin_distance import OVER_SKIN, STRAIGHT, skin_distance


@pytest.fixture(scope="module")
def head():
    return engine.load_head()


@pytest.fixture(scope="module")
def plan(head):
    return engine.make_plan(head, engine.load_protocol("preempt"))


def _site(plan, order):
    return next(s for s in plan.sites if s.order == order)


def _chest(head):
    """The front of the body, midline, 200 mm below the ears (where the bust meets the chest)."""
    f = head.frame
    p = head.surface.ray_hit(f.from_head(np.array([0.0, 400.0, -200.0])), f.from_head(np.array([0.0, -400.0, -200.0])))
    assert p is not None
    return head.snap(p)[0]


@pytest.mark.parametrize(
    ("x", "nd", "text"),
    [
        (10.0, 0, "10"),
        (100.0, 1, "100"),
        (2.5, 2, "2.5"),
        (2.0, 2, "2"),
        (0.1, 3, "0.1"),
        (-0.0, 1, "0"),
        (155.0, 2, "155"),
        (3.14159, 2, "3.14"),
    ],
)
def test_number_format_keeps_integer_zeros(x, nd, text):
    assert st._fmt(x, nd) == text


def test_summary_says_within_10_mm(head):
    s = st.Session(engine, head)
    q = s.quiz_start(seed=1)
    s.quiz_answer(q.current_site.position)
    assert q.summary()["within_mm"] == "10"


def test_each_round_has_its_own_order_and_a_seed_reproduces_one(head):
    s = st.Session(engine, head)
    orders = {tuple(s.quiz_start().order) for _ in range(4)}
    assert len(orders) == 4  # 31! orders: four equal ones would be a stuck generator
    assert st.Quiz(s.plan, seed=7).order == st.Quiz(s.plan, seed=7).order
    seeded = st.Session(engine, head, quiz_seed=100)
    a, b = seeded.quiz_start().order, seeded.quiz_start().order
    assert a != b and a == st.Session(engine, head, quiz_seed=100).quiz_start().order


def test_a_chest_click_for_a_forehead_site_is_scored_over_the_skin(head, plan):
    forehead = _site(plan, 4)  # frontalis
    chest = _chest(head)
    d = skin_distance(head.surface, chest, forehead.position)
    chord = float(np.linalg.norm(chest - np.asarray(forehead.position)))
    assert d.how == OVER_SKIN
    # over the chin and the face: longer than the straight line, not absurdly so
    assert chord < d.mm < 1.6 * chord, (d, chord)
    s = st.Session(engine, head)
    q = s.quiz_start(seed=1)
    while q.current_site.order != 4:
        s.quiz_answer(q.current_site.position)
        q.next()
    a = s.quiz_answer(chest)
    assert a.score == 0 and a.error_mm == pytest.approx(d.mm) and a.measured == OVER_SKIN


@pytest.mark.parametrize(("a", "b"), [(17, 4), (28, 4), (1, 30), (22, 9)])
def test_long_distances_are_plausible(head, plan, a, b):
    p, q = np.asarray(_site(plan, a).position), np.asarray(_site(plan, b).position)
    d = skin_distance(head.surface, p, q)
    chord = float(np.linalg.norm(p - q))
    assert d.how == OVER_SKIN and chord <= d.mm < 1.8 * chord, (a, b, d, chord)


def test_short_distances_are_exact_and_symmetric(head, plan):
    s = _site(plan, 4)
    p = np.asarray(s.position)
    assert skin_distance(head.surface, p, p).mm == 0.0
    q, _ = head.snap(p + np.array([5.0, 0.0, 0.0]))
    d1 = skin_distance(head.surface, p, q).mm
    d2 = skin_distance(head.surface, q, p).mm
    assert d1 == pytest.approx(d2, abs=0.05)
    assert np.linalg.norm(q - p) <= d1 < np.linalg.norm(q - p) * 1.05


def test_no_path_over_the_skin_is_the_straight_line_and_says_so():
    """Two separate pieces of mesh: the distance is the straight line, labelled as such."""
    import pyvista as pv

    from visualizer.surface import Surface

    two = pv.Sphere(radius=50).merge(pv.Sphere(radius=50, center=(200, 0, 0)))
    surf = Surface(two.triangulate())
    d = skin_distance(surf, (50, 0, 0), (150, 0, 0))
    assert d.how == STRAIGHT and d.mm == pytest.approx(100, abs=1)
    same = skin_distance(surf, (0, 0, 50), (0, 0, -50))
    assert same.how == OVER_SKIN and same.mm == pytest.approx(np.pi * 50, rel=0.03)
