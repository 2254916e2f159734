"""The PyVista scene (visualizer/scene.py): geometry-only actors, colours, updates, cameras, PNGs."""

from __future__ import annotations

import os
from types import SimpleNamespace

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np
import pytest
import pyvista as pv

import visualizer as engine
from visualizer import scene as sc

pv.OFF_SCREEN = True


@pytest.fixture(scope="module")
def head():
    return engine.load_head()


@pytest.fixture(scope="module")
def preempt(head):
    return engine.make_plan(head, engine.load_protocol("preempt"))


@pytest.fixture(scope="module")
def ftp_plan(head):
    return engine.make_plan(
        head, engine.load_protocol("preempt-ftp"), engine.PainOrigin.parse(["left-temporal", "occipital"])
    )


@pytest.fixture
def plotter():
    pl = pv.Plotter(off_screen=True, window_size=(400, 300))
    yield pl
    pl.close()


def _rgb_by_site(mesh: pv.PolyData, n_sites: int) -> np.ndarray:
    rgb = np.asarray(mesh.point_data["rgb"]).reshape(n_sites, -1, 3)
    assert (rgb == rgb[:, :1, :]).all()  # one colour per glyph
    return rgb[:, 0, :]


def test_scene_is_real_geometry_only(plotter, head, preempt):
    """Every actor is a mesh (no 2D text or point sprites) so vtk.js shows the same picture."""
    s = sc.build_scene(plotter, head, preempt)
    for name, actor in s.actors.items():
        assert actor.GetMapper().GetInput().IsA("vtkPolyData"), name
        assert actor.GetProperty().GetRepresentation() == 2, name  # surface, not points
    assert not plotter.renderer.GetActors2D().GetNumberOfItems()
    assert s.actors["labels"].GetVisibility() and s.actors["sites"].GetVisibility()


def test_one_glyph_per_site_coloured_by_muscle(plotter, head, preempt):
    s = sc.build_scene(plotter, head, preempt)
    n = len(preempt.sites)
    sites = s.meshes["sites"]
    assert sites.n_points % n == 0
    colours = _rgb_by_site(sites, n)
    for site, c in zip(preempt.sites, colours, strict=True):
        assert tuple(c) == sc.muscle_color(site.muscle)
    # glyph centres sit on the skin along the normal
    centres = np.asarray(sites.points).reshape(n, -1, 3).mean(axis=1)
    pos = np.array([si.position for si in preempt.sites])
    nrm = np.array([si.normal for si in preempt.sites])
    off = np.einsum("ij,ij->i", centres - pos, nrm)
    assert np.allclose(off, 0.45 * s.radius, atol=0.05)


@pytest.mark.parametrize("plan_name", ["preempt", "ftp_plan"])
def test_markers_never_overlap(request, plotter, head, plan_name):
    plan = request.getfixturevalue(plan_name)
    s = sc.build_scene(plotter, head, plan)
    pos = np.array([si.position for si in plan.sites])
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    d[np.diag_indices_from(d)] = np.inf
    assert d.min() > 2 * s.radius + 1.0  # a visible gap between neighbouring beads
    assert s.radius >= 1.2


def test_follow_the_pain_sites_have_rings(plotter, head, ftp_plan, preempt):
    s = sc.build_scene(plotter, head, ftp_plan)
    n_ftp = sum(si.follow_the_pain for si in ftp_plan.sites)
    assert n_ftp > 0
    ring_pts = s.meshes["ftp_rings"].n_points
    tpl = sc._unit_torus(1.0, 0.16)[0]
    assert ring_pts == n_ftp * len(tpl)
    assert s.actors["ftp_rings"].GetVisibility()
    s.update(plan=preempt)
    assert not s.actors["ftp_rings"].GetVisibility()


def test_toggles_and_highlight(plotter, head, preempt):
    s = sc.build_scene(plotter, head, preempt, show_labels=False)
    assert not s.actors["labels"].GetVisibility()
    s.update(show_labels=True)
    assert s.actors["labels"].GetVisibility()
    site = preempt.sites[7]
    s.update(highlight=site.id)
    assert s.actors["highlight"].GetVisibility()
    centre = np.asarray(s.meshes["highlight"].points).mean(axis=0)
    assert np.linalg.norm(centre - np.array(site.position)) < 3 * s.radius
    s.update(highlight=None)
    assert not s.actors["highlight"].GetVisibility()
    s.update(show_landmarks=True)
    assert s.actors["landmarks"].GetVisibility() and s.actors["landmark_labels"].GetVisibility()


def test_muscle_tint_and_pain_heat(plotter, head, preempt):
    s = sc.build_scene(plotter, head, preempt, show_muscles=False)
    rgb = np.asarray(s.meshes["head"].point_data["rgb"]).astype(int)
    assert (rgb == sc.SKIN_RGB.astype(int)).all()
    s.update(show_muscles=True)
    rgb = np.asarray(s.meshes["head"].point_data["rgb"]).astype(int)
    codes = np.asarray(head.mesh.point_data["muscle"])
    cols = [engine.MUSCLES.index(m) - 1 for m in preempt.per_muscle]
    touched = head.muscle_weights[:, cols].max(axis=1) > 0  # inside a PREEMPT area or its soft edge
    assert (rgb[~touched] == sc.SKIN_RGB.astype(int)).all()  # orbicularis oculi is not a PREEMPT muscle
    mine = np.isin(codes, [engine.MUSCLES.index(m) for m in preempt.per_muscle])
    assert (rgb[mine] != sc.SKIN_RGB.astype(int)).any(axis=1).all()
    ring = codes == engine.MUSCLES.index("orbicularis_oculi")
    assert (rgb[ring] == sc.SKIN_RGB.astype(int)).all(axis=1).mean() > 0.8  # but where the brows' areas fade
    # soft edges: along an area's border the tint fades between the skin and the full tint
    w = head.muscle_weights[:, engine.MUSCLES.index("temporalis") - 1]
    full = rgb[w == 1.0][0]
    edge = (w > 0.2) & (w < 0.8)
    assert edge.sum() > 50
    between = np.abs(rgb[edge] - sc.SKIN_RGB) < np.abs(full - sc.SKIN_RGB)
    assert between.any(axis=1).all()
    # a pain point reddens the skin around it, softly, and nothing far away: drawn as a patch
    # just above the skin, so the skin itself (sent once to a browser) never changes
    p = np.asarray(head.landmarks["left_tragus"]) + np.array([0, 10, 45])
    p, _ = head.snap(p)
    skin_mtime = s.meshes["head"].GetMTime()
    s.update(pain_point=p)
    assert s.meshes["head"].GetMTime() == skin_mtime
    assert (np.asarray(s.meshes["head"].point_data["rgb"]) == rgb).all()
    heat = s.meshes["heat"]
    assert s.actors["heat"].GetVisibility() and 0 < heat.n_points < s.meshes["head"].n_points / 5
    hot = np.asarray(heat.point_data["rgb"]).astype(int)
    hp = np.asarray(heat.points)
    d = np.linalg.norm(hp - p, axis=1)
    near, ring = d < 4, (d > 20) & (d < 30)
    redness = hot[:, 0] - hot[:, 2]
    assert redness[near].mean() > redness[ring].mean() > (rgb[:, 0] - rgb[:, 2]).mean()
    assert d.max() < 80  # nothing far away
    gap = s.head.surface.distance_to_surface(hp)
    assert gap.max() < 1.5  # on the skin (0.3 mm above the displayed, decimated skin)
    s.update(pain_point=None)
    assert not s.actors["heat"].GetVisibility()
    assert s.meshes["head"].GetMTime() == skin_mtime


def test_the_plan_carries_the_heat_anchors_and_the_title(head):
    from visualizer.pain import PainOrigin, region_anchors
    from visualizer.planner import make_plan
    from visualizer.protocol import load_protocol

    both = region_anchors(head, ["occipital"])
    left = region_anchors(head, ["left-temporal"])
    assert len(both) == 2 and len(left) == 1
    assert head.frame.to_head(np.asarray(left[0]))[0] < 0
    assert region_anchors(head, []) == []
    plan = make_plan(head, load_protocol("preempt-ftp"), PainOrigin.parse(["left-temporal", "occipital"]))
    assert len(plan.heat_anchors) == 3
    assert np.allclose(plan.heat_anchors[0], left[0], atol=1e-3)
    assert plan.short_name == "PREEMPT with follow-the-pain"
    assert plan.title == f"PREEMPT with follow-the-pain - {plan.total_sites} sites, {plan.total_units:g} U"
    assert make_plan(head, load_protocol("preempt")).heat_anchors == ()


def test_updates_keep_actor_identity(plotter, head, preempt, ftp_plan):
    """Updates replace mesh content in place (trame's local view then sends deltas)."""
    s = sc.build_scene(plotter, head, preempt)

    def ident(a):
        return a.GetAddressAsString("vtkObject"), a.GetMapper().GetInput().GetAddressAsString("vtkObject")

    before = {k: ident(a) for k, a in s.actors.items()}
    s.update(plan=ftp_plan, pain_point=ftp_plan.sites[0].position, highlight=ftp_plan.sites[3].id)
    after = {k: ident(a) for k, a in s.actors.items()}
    assert before == after
    beads = s.meshes["sites"].n_points + s.meshes["ftp_sites"].n_points
    assert beads == len(ftp_plan.sites) * len(sc._unit_sphere(14)[0])


def test_a_new_pain_origin_redraws_only_the_follow_the_pain_sites(plotter, head, ftp_plan):
    """The fixed sites' beads and labels are untouched by a new pain origin (nothing of them is
    sent to a browser again); the follow-the-pain sites' own meshes hold all of those sites."""
    s = sc.build_scene(plotter, head, ftp_plan)
    fixed = [x for x in ftp_plan.sites if not x.follow_the_pain]
    moved = engine.make_plan(head, engine.load_protocol("preempt-ftp"), engine.PainOrigin.parse(["right-temporal"]))
    assert [x.id for x in moved.sites if not x.follow_the_pain] == [x.id for x in fixed]
    mtimes = {k: s.meshes[k].GetMTime() for k in ("sites", "labels", "ftp_sites", "ftp_labels")}

    def fixed_labels() -> list[str]:
        return [t for t, x in zip(s.label_texts, s.plan.sites, strict=True) if not x.follow_the_pain]

    numbers = fixed_labels()
    s.update(plan=moved)
    assert s.meshes["sites"].GetMTime() == mtimes["sites"]
    # the fixed sites' labels are redrawn only when the plan renumbered them
    assert (s.meshes["labels"].GetMTime() == mtimes["labels"]) == (fixed_labels() == numbers)
    mtimes["labels"] = s.meshes["labels"].GetMTime()
    again = engine.make_plan(head, engine.load_protocol("preempt-ftp"), engine.PainOrigin.parse(["right-occipital"]))
    numbers = fixed_labels()
    s.update(plan=again)
    assert s.meshes["sites"].GetMTime() == mtimes["sites"]
    assert (s.meshes["labels"].GetMTime() == mtimes["labels"]) == (fixed_labels() == numbers)
    s.update(plan=moved)
    assert s.meshes["ftp_sites"].GetMTime() > mtimes["ftp_sites"]
    assert s.meshes["ftp_labels"].GetMTime() > mtimes["ftp_labels"]
    n_ftp = sum(x.follow_the_pain for x in moved.sites)
    assert s.meshes["ftp_sites"].n_points == n_ftp * len(sc._unit_sphere(14)[0])
    centres = np.asarray(s.meshes["ftp_sites"].points).reshape(n_ftp, -1, 3).mean(axis=1)
    pos = np.array([x.position for x in moved.sites if x.follow_the_pain])
    assert np.linalg.norm(centres - pos, axis=1).max() < 2 * s.radius
    assert s.actors["ftp_sites"].GetVisibility() and s.actors["ftp_labels"].GetVisibility()
    s.update(plan=engine.make_plan(head, engine.load_protocol("preempt")))  # no follow-the-pain sites
    assert not s.actors["ftp_sites"].GetVisibility() and not s.actors["ftp_labels"].GetVisibility()
    assert s.actors["sites"].GetVisibility()


def test_label_texts_are_made_ahead_for_a_forked_session(plotter, head, preempt):
    """The session template triangulates the 3D texts once (``warm_labels``); a scene built later
    in the same process (a forked session, its PDF report) triangulates none again."""
    sc._text_template.cache_clear()
    assert sc.warm_labels(head, [preempt]) == len(head.landmarks) + len(
        {sc.site_label(x.order, x.units) for x in preempt.sites}
    )
    misses = sc._text_template.cache_info().misses
    s = sc.build_scene(plotter, head, preempt)
    s.update(show_landmarks=True)
    assert sc._text_template.cache_info().misses == misses
    assert s.label_texts == [sc.site_label(x.order, x.units) for x in preempt.sites]


def test_site_near_and_quiz_markers(plotter, head, preempt):
    s = sc.build_scene(plotter, head, preempt)
    site = preempt.sites[10]
    assert s.site_near(np.array(site.position) + 0.5) == site.id
    assert s.site_near(np.array(site.position) + 40) is None
    s.set_markers(guess=site.position, answer=preempt.sites[11].position)
    assert s.actors["guess"].GetVisibility() and s.actors["answer"].GetVisibility()
    s.set_markers()
    assert not s.actors["guess"].GetVisibility()


@pytest.mark.parametrize("view", sc.VIEWS)
def test_camera_views_follow_the_head_frame(plotter, head, view):
    sc.set_camera(plotter, head, view)
    pos, focal, _up = (np.array(v) for v in plotter.camera_position)
    d = head.frame.to_head(pos) - head.frame.to_head(focal)
    d /= np.linalg.norm(d)
    expected = {"front": (0, 1, 0), "back": (0, -1, 0), "left": (-1, 0, 0), "right": (1, 0, 0), "top": (0, 0, 1)}[view]
    assert np.allclose(d, expected, atol=1e-6)


def test_camera_on_a_rotated_head():
    """Directions come from head.frame, not from the mesh axes."""
    theta = np.radians(30)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = rot  # mesh -> head
    fake = SimpleNamespace(mesh=pv.Sphere(radius=90), frame=SimpleNamespace(matrix=m))
    pl = pv.Plotter(off_screen=True)
    sc.set_camera(pl, fake, "front")
    pos, focal, _ = (np.array(v) for v in pl.camera_position)
    d = rot @ (pos - focal)
    assert np.allclose(d / np.linalg.norm(d), (0, 1, 0), atol=1e-6)
    pl.close()
    with pytest.raises(ValueError, match="'view'"):
        sc.set_camera(pl, fake, "sideways")


def test_scene_on_a_foreign_head_without_muscle_map(plotter):
    """A sphere head with no muscle array and no landmarks still draws."""
    sphere = pv.Sphere(radius=80, theta_resolution=40, phi_resolution=40)
    fake_head = SimpleNamespace(mesh=sphere, landmarks={}, frame=SimpleNamespace(matrix=np.eye(4)))
    site = SimpleNamespace(
        id="a", muscle="frontalis", units=5.0, position=(0, 80, 0), normal=(0, 1, 0), follow_the_pain=True, order=1
    )
    plan = SimpleNamespace(sites=[site])
    s = sc.build_scene(plotter, fake_head, plan)
    assert s.meshes["sites"].n_points > 0 and s.actors["ftp_rings"].GetVisibility()


def _skin_fraction(path) -> float:
    from PIL import Image

    a = np.asarray(Image.open(path).convert("RGB")).astype(int)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    return float(((r > 120) & (r - b > 28) & (r >= g) & (g >= b - 5) & (r < 252)).mean())


@pytest.mark.parametrize("view", ["front", "all"])
def test_render_png(tmp_path, head, ftp_plan, view):
    out = sc.render_png(head, ftp_plan, tmp_path / f"{view}.png", view=view, size=(600, 450))
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _skin_fraction(out) > 0.1
    with pytest.raises(ValueError):
        sc.render_png(head, ftp_plan, tmp_path / "x.png", view="diagonal")


def test_only_the_plans_muscles_are_tinted(plotter, head, preempt):
    glabellar = engine.make_plan(head, engine.load_protocol("glabellar"))
    s = sc.build_scene(plotter, head, glabellar)
    rgb = np.asarray(s.meshes["head"].point_data["rgb"]).astype(int)
    codes = np.asarray(head.mesh.point_data["muscle"])
    skin = sc.SKIN_RGB.astype(int)
    for m in ("procerus", "corrugator"):
        assert (rgb[codes == engine.MUSCLES.index(m)] != skin).any(axis=1).all(), m
    near = head.muscle_weights[:, [engine.MUSCLES.index(m) - 1 for m in ("procerus", "corrugator")]].max(axis=1) > 0
    for m in ("frontalis", "temporalis", "trapezius", "occipitalis"):
        area = codes == engine.MUSCLES.index(m)
        assert (rgb[area & ~near] == skin).all(), m  # untinted but for the soft edge of a glabellar area
        assert (area & ~near).sum() > 0.5 * area.sum(), m
    s.update(plan=preempt)  # a new protocol re-tints
    rgb = np.asarray(s.meshes["head"].point_data["rgb"]).astype(int)
    assert (rgb[codes == engine.MUSCLES.index("temporalis")] != skin).any(axis=1).all()


def test_flagged_sites_get_a_red_ring(plotter, head, preempt):
    s = sc.build_scene(plotter, head, preempt)
    assert not s.actors["flagged"].GetVisibility()
    ids = [preempt.sites[1].id, preempt.sites[2].id]
    s.update(flagged=ids)
    assert s.actors["flagged"].GetVisibility()
    m = s.meshes["flagged"]
    rgb = np.asarray(m.point_data["rgb"])
    assert (rgb == sc.FLAGGED_RGB).all()
    centres = [np.asarray(preempt.site(i).position) for i in ids]
    d = np.linalg.norm(np.asarray(m.points)[:, None] - np.array(centres)[None], axis=2).min(axis=1)
    assert d.max() < 3 * s.radius + 2  # the rings sit around those two sites only
    s.update(flagged=[])
    assert not s.actors["flagged"].GetVisibility()


def test_site_labels_carry_the_plans_numbers(plotter, head, ftp_plan):
    s = sc.build_scene(plotter, head, ftp_plan)
    assert s.label_texts == [f"{x.order}: {x.units:g}U" for x in ftp_plan.sites]
    assert [x.order for x in ftp_plan.sites] == list(range(1, ftp_plan.total_sites + 1))


def test_landmark_labels_do_not_overlap(plotter, head, preempt):
    s = sc.build_scene(plotter, head, preempt, show_landmarks=True)
    names = s.landmark_label_names
    assert 8 <= len(names) < len(head.landmarks)  # some names are left out on the crowded face
    s.set_landmark_focus("left_orbital_rim")
    assert "left_orbital_rim" in s.landmark_label_names  # the one being placed is always named
    h = sc.LANDMARK_LABEL_MM
    lms = head.landmarks
    for a in s.landmark_label_names:
        for b in s.landmark_label_names:
            if a < b:
                d = np.asarray(lms[a]) - np.asarray(lms[b])
                vert = abs(float(d @ s.up))
                across = float(np.linalg.norm(d - (d @ s.up) * s.up))
                wa, wb = (len(sc.landmark_label(n)) * 0.62 * h for n in (a, b))
                assert vert >= 1.3 * h - 1.0 or across >= 0.5 * (wa + wb) - 1.0, (a, b)


def test_figure_has_title_totals_and_legend(head, ftp_plan, tmp_path):
    import io

    from PIL import Image

    from visualizer.figure import compose_figure

    view = tmp_path / "v.png"
    Image.new("RGB", (1000, 700), (200, 160, 140)).save(view)
    png = compose_figure(view.read_bytes(), ftp_plan, pain="left temple", date="2026-01-01")
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert img.shape[1] == 1200 and img.shape[0] > 700 * 1.2 + 300
    top, bottom = img[:100], img[-150:]
    assert (top.max(axis=2) < 80).sum() > 500 and (bottom.max(axis=2) < 140).sum() > 300  # text above and below
    # a legend dot in each of the plan's muscle colours under the view
    below = img[100 + 840 :]
    for m in ftp_plan.per_muscle:
        c = np.array(sc.muscle_color(m))
        assert (np.abs(below - c).max(axis=2) < 6).sum() > 100, m


def test_a_selected_sites_ring_leaves_its_label_readable(plotter, head, preempt):
    """The highlight ring of the selected site never runs through that site's "order: units" label."""
    s = sc.build_scene(plotter, head, preempt)
    ids = list(s.geometry.ids)
    for i in (0, 19):  # procerus (face) and row 20 (left occipitalis)
        s.update(highlight=ids[i])
        ring = np.asarray(s.meshes["highlight"].points)
        # this site's own label: its slice of the labels mesh (one text mesh per site, in order)
        sizes = [len(sc._text_template(t)[0]) for t in s.label_texts]
        start = sum(sizes[:i])
        own = np.asarray(s.meshes["labels"].points)[start : start + sizes[i]]
        assert len(own)
        gap = np.min(np.linalg.norm(own[:, None, :] - ring[None, :, :], axis=2))
        assert gap > 0.2 * s.radius, f"site {i + 1}: the ring touches its label ({gap:.2f} mm)"


def test_display_weights_are_computed_once_per_head_and_shared(plotter, head, preempt):
    """The decimated skin's muscle weights are computed once (the session template does it) and
    every scene on that head reuses the same read-only array, with the same colours as computing
    them afresh."""
    cells = 20000  # decimated: the weights are carried over from the nearest skin points
    import dataclasses

    own = dataclasses.replace(head, cache={})  # the same head with a cache of its own
    fresh = sc.build_scene(plotter, own, preempt, display_cells=cells)
    cached = sc.display_weights(head, cells)
    assert cached is not own.cache[f"scene:display-weights:{cells}"]
    assert cached is not None and not cached.flags.writeable
    assert sc.display_weights(head, cells) is cached
    s = sc.build_scene(plotter, head, preempt, display_cells=cells)
    assert s._muscle_weights() is cached
    assert len(cached) == s.meshes["head"].n_points
    assert np.array_equal(s.meshes["head"].point_data["rgb"], fresh.meshes["head"].point_data["rgb"])
