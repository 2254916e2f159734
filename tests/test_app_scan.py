"""Issue 10, the app's "Load a scan" driven directly (no browser): the file in pieces, the
landmarks found with a progress through every step, the review, a moved landmark, the plan on
the scan, and Cancel back to the default head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import visualizer as engine
from visualizer.scan_upload import CHUNK_BYTES

ROOT = Path(__file__).resolve().parents[1]
FSAVERAGE = ROOT / "tests" / "scans" / "fsaverage-head.ply"
_N = [0]


@pytest.fixture
def app(monkeypatch):
    from trame.app import get_server

    from visualizer.app import body

    monkeypatch.setattr(body, "serving_loop", lambda: None)  # no event loop: landmarked at once
    from visualizer.app.context import AppContext
    from visualizer.app.core import InjectVizApp

    _N[0] += 1
    a = InjectVizApp(
        get_server(f"test_scan_{_N[0]}", client_type="vue3"), AppContext(engine=engine, head=engine.load_head())
    )
    a.server.state.ready()
    yield a
    a.close()


def _upload(app, name: str, data: bytes) -> bool:
    uid = app.scan_begin(name, len(data))
    if not uid:
        return False
    for off in range(0, len(data), CHUNK_BYTES):
        if not app.scan_chunk(uid, off, data[off : off + CHUNK_BYTES]):
            return False
    return app.scan_end(uid)


def test_scan_review_move_use_and_cancel(app, monkeypatch) -> None:
    from visualizer.app import scan_ctrl

    steps: list[str] = []
    seen = scan_ctrl.ScanControls._scan_progress
    monkeypatch.setattr(
        scan_ctrl.ScanControls, "_scan_progress", lambda self, s, f=0.0: (steps.append(s), seen(self, s, f))
    )
    default_head = app.session.head
    default_sites = len(app.session.plan.sites)
    data = FSAVERAGE.read_bytes()
    assert _upload(app, "fsaverage-head.ply", data)
    # every step went by, in order
    assert list(dict.fromkeys(steps)) == [k for k, _ in scan_ctrl.SCAN_STEPS]
    assert app.state.scan_phase == "review" and app.state.scan_percent == 100
    review = app.state.scan_review
    assert review["file"] == "fsaverage-head.ply" and review["units"] == "m"
    rows = {r["name"]: r for r in review["rows"]}
    assert rows["nasion"]["state"] in ("ok", "poor") and rows["left_acromion"]["state"] == "missing"
    assert "left acromion" in review["missing"]
    # the scan is drawn (in mm), landmarks on, the sites hidden until "Use these landmarks"
    assert app.head is app.session.head and app.head is not default_head
    assert app.scene.meshes["head"].n_points > 1000 and not app.scene.show_sites and app.scene.show_landmarks
    assert app.state.click_action == "landmark"
    # move the nasion 4 mm up (landmark mode, a click snapped onto the scan)
    nasion = np.asarray(app.session.head.landmarks["nasion"])
    target = nasion + np.array([0.0, 0.0, 4.0])  # scan frame, mm: fsaverage's +z is up
    app.state.landmark_name = "nasion"
    app.handle_pick(target, "head")
    assert app.session.moved_landmarks() == ["nasion"]
    assert {r["name"]: r for r in app.state.scan_review["rows"]}["nasion"]["state"] == "moved"
    # plan on the scan
    app.scan_use()
    assert app.state.scan_phase == "used" and app.scene.show_sites
    plan = app.session.plan.public().to_dict()
    assert plan["head"]["kind"] == "scan" and plan["head"]["file"] == "fsaverage-head.ply"
    assert plan["head"]["sha256"] == __import__("hashlib").sha256(data).hexdigest()
    assert plan["mesh"] == "fsaverage-head.ply"  # never the server's temporary path
    assert np.allclose(plan["landmarks"]["nasion"], app.session.head.landmarks["nasion"], atol=1e-3)
    assert 0 < len(plan["sites"]) < default_sites  # no shoulders on this scan: trapezius left out
    assert any("left out" in w or "cannot carry" in w for w in plan["warnings"])
    assert app.state.totals["sites"] == len(plan["sites"])
    # the sliders do nothing to a scan
    with app.state:
        app.state.body_sex = 1.0
    assert app.session.head.source.get("kind") == "scan"
    # back to the default head
    app.scan_cancel()
    assert app.session.head is default_head and app.head is default_head
    assert len(app.session.plan.sites) == default_sites and app.state.scan_phase == ""
    assert app.scene.show_sites


def test_bad_uploads_say_why_and_keep_the_head(app, tmp_path: Path) -> None:
    head = app.session.head
    assert not _upload(app, "../etc/passwd.ply", b"ply\n")
    assert "not a path" in app.state.message and app.state.message_type == "error"
    assert not _upload(app, "head.ply", b"\x00\x01garbage" * 100)
    assert "not a PLY file" in app.state.message
    assert not _upload(app, "head.stl", b"")
    assert "empty" in app.state.message
    # a well-formed file that is no head: read, then refused by the fit, in words
    import pyvista as pv

    box = pv.Cube(x_length=200, y_length=200, z_length=200).triangulate().subdivide(4)
    path = tmp_path / "box.stl"
    box.save(path)
    assert _upload(app, "box.stl", path.read_bytes())  # received whole; landmarking refuses it
    assert "Could not load the scan" in app.state.message and "error id" not in app.state.message
    assert "/tmp" not in app.state.message
    assert app.session.head is head and app.state.scan_phase == ""


@pytest.fixture
def rec_app(tmp_path, monkeypatch):
    from trame.app import get_server

    from visualizer.app import access, body
    from visualizer.app.context import AppContext
    from visualizer.app.core import InjectVizApp
    from visualizer.records.db import open_database

    monkeypatch.setattr(body, "serving_loop", lambda: None)
    monkeypatch.setattr(access, "_IDENTITY", access.Identity(None, None, "test", False))
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    open_database(url).dispose()
    ctx = AppContext(engine=engine, head=engine.load_head(), options={"records_db": url})
    a = InjectVizApp(get_server(f"scan_rec_{tmp_path.name}", client_type="vue3"), ctx)
    a.server.state.ready()
    yield a
    a.close()


def test_a_visit_on_a_scan_keeps_its_hash_and_landmarks(rec_app, tmp_path: Path) -> None:
    """The record stores which head: the scan's SHA-256 with its landmarks; the report and the
    comparison read it without the scan file (which the server does not keep)."""
    import hashlib

    from visualizer.records.compare import compare_with_plan
    from visualizer.records.report import render_views

    a, r = rec_app, rec_app.records
    data = FSAVERAGE.read_bytes()
    assert _upload(a, "fsaverage-head.ply", data)
    a.scan_use()
    r.rec_create({"code": "SCAN-1", "with_origin": False})
    r.rec_sign({**a.state.rec_form, "injector": "Dr T", "lot": "L-1", "expiry": "2099-01-01"})
    assert not a.state.rec_error, a.state.rec_error
    visit = r.records.visit_record(a.state.rec_patient["visits"][0]["id"])
    stored = visit["plan"]
    assert stored["head"]["kind"] == "scan" and stored["head"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored["mesh"] == "fsaverage-head.ply" and "tmp" not in stored["mesh"]
    assert set(stored["landmarks"]) == set(a.session.head.landmarks) and "nasion" in stored["landmarks"]
    # the report says why there are no pictures, naming the scan by its hash
    why = render_views(visit, tmp_path)
    assert isinstance(why, str) and "patient's scan 'fsaverage-head.ply'" in why and "SHA-256" in why
    # the same scan today: the same head; the default head: another one
    assert compare_with_plan(visit, a.session.plan).same_head
    a.scan_cancel()
    assert not compare_with_plan(visit, a.session.plan).same_head


def test_a_downloaded_scan_plan_checks_with_the_scan_beside_it(app, tmp_path: Path, monkeypatch) -> None:
    """`injectviz check` on the app's plan JSON needs the scan file (by the name the plan gives, in
    the working folder): with it the plan passes; without it the message names the file."""
    import shutil

    from visualizer.errors import InjectVizError
    from visualizer.plan_file import check_plan_file

    assert _upload(app, "fsaverage-head.ply", FSAVERAGE.read_bytes())
    app.scan_use()
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(app.plan_json())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InjectVizError, match=r"fsaverage-head\.ply"):
        check_plan_file(plan_path)
    shutil.copy(FSAVERAGE, tmp_path / "fsaverage-head.ply")
    result = check_plan_file(plan_path)
    assert not result.errors, result.errors
    assert len(result.plan.sites) == len(app.session.plan.sites)
