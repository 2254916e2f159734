"""Placement on heads that are not the default: nothing may depend on the default's coordinates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pyvista as pv

from visualizer.errors import LandmarkError
from visualizer.head import Head, load_head
from visualizer.pain import PainOrigin
from visualizer.planner import make_plan
from visualizer.protocol import load_protocol


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    rot_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rot_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rot_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rot_z @ rot_y @ rot_x


def _write_head(tmp: Path, mesh: pv.PolyData, landmarks: dict[str, np.ndarray], name: str) -> tuple[Path, Path]:
    mpath, lpath = tmp / f"{name}.vtp", tmp / f"{name}.json"
    mesh.save(mpath)
    lpath.write_text(json.dumps({k: [float(c) for c in v] for k, v in landmarks.items()}))
    return mpath, lpath


def _transformed(head: Head, tmp: Path, scale: float, rot: np.ndarray, shift: np.ndarray, name: str):
    def tf(p: np.ndarray) -> np.ndarray:
        return scale * np.asarray(p) @ rot.T + shift

    mesh = pv.PolyData(tf(head.mesh.points), head.mesh.faces)
    lms = {k: tf(v) for k, v in head.landmarks.items()}
    return tf, load_head(*_write_head(tmp, mesh, lms, name))


@pytest.mark.parametrize("pid", ["preempt-ftp", "glabellar", "lateral-canthal"])
def test_rigidly_moved_default_gives_the_same_plan(head: Head, tmp_path: Path, pid: str) -> None:
    rot = _rotation(0.3, -0.5, 2.0)
    tf, moved = _transformed(head, tmp_path, 1.0, rot, np.array([120.0, -40.0, 900.0]), "moved")
    assert "muscle map derived" in " ".join(moved.notes)  # no muscle array on this mesh: rules rebuild it
    protocol = load_protocol(pid)
    pain = PainOrigin.parse(["left-temporal", "right-shoulder"])
    a = make_plan(head, protocol, pain)
    b = make_plan(moved, protocol, pain)
    assert [s.id for s in a.sites] == [s.id for s in b.sites]
    for sa, sb in zip(a.sites, b.sites, strict=True):
        assert np.linalg.norm(tf(sa.position) - np.asarray(sb.position)) < 1.5, sa.id
        assert np.dot(np.asarray(sa.normal) @ rot.T, sb.normal) > 0.98, sa.id
    assert a.total_units == b.total_units


def test_rescaled_rotated_default_keeps_sites_anatomical(head: Head, tmp_path: Path) -> None:
    rot = _rotation(-0.2, 0.1, -1.2)
    _, big = _transformed(head, tmp_path, 1.15, rot, np.array([-30.0, 10.0, 5.0]), "big")
    plan = make_plan(big, load_protocol("preempt-ftp"), PainOrigin.parse(["occipital"]))
    assert plan.total_sites == 33 and plan.total_units == 165
    pos = np.array([s.position for s in plan.sites])
    assert big.surface.distance_to_surface(pos).max() < 0.5
    for s in plan.sites:
        assert big.muscle_at(s.position) == s.muscle, s.id
        x = big.frame.to_head(s.position)[0]
        assert (x < 0) if s.side == "left" else (x > 0) if s.side == "right" else abs(x) < 1.5


def _ellipsoid_head(tmp: Path) -> Head:
    """A 150 × 190 × 230 mm ellipsoid with landmarks placed by direction from its centre."""
    sphere = pv.Sphere(radius=1.0, theta_resolution=240, phi_resolution=240).triangulate()
    axes = np.array([75.0, 95.0, 115.0])
    mesh = pv.PolyData(sphere.points * axes, sphere.faces)
    locator_mesh = mesh.copy()
    directions = {
        "nasion": (0, 1, 0), "glabella": (0, 1, 0.22), "vertex": (0, 0, 1), "inion": (0, -1, 0.15),
        "c7": (0, -1, -0.8), "tragus": (1, 0, 0), "pupil": (0.38, 1, 0.02), "orbital_rim": (0.38, 1, 0.24),
        "brow_medial": (0.18, 1, 0.24), "brow_lateral": (0.62, 1, 0.27), "lateral_canthus": (0.55, 1, 0.0),
        "mastoid": (1, -0.45, -0.25), "zygomatic_arch": (1, 0.2, 0.03), "acromion": (1, -0.35, -1.6),
        "necklace": (0.55, -0.35, -1.6),
    }  # fmt: skip
    landmarks: dict[str, np.ndarray] = {}
    for name, d in directions.items():
        d = np.asarray(d, dtype=float)
        sides = [("", d)] if d[0] == 0 else [("right_", d), ("left_", d * [-1, 1, 1])]
        for prefix, v in sides:
            v = v / np.linalg.norm(v)
            t = 1.0 / np.sqrt(np.sum((v / axes) ** 2))  # exact ray-ellipsoid hit
            landmarks[prefix + name] = locator_mesh.find_closest_cell(t * v, return_closest_point=True)[1]
    return load_head(*_write_head(tmp, mesh, landmarks, "ellipsoid"))


@pytest.mark.parametrize("pid", ["preempt", "glabellar", "forehead", "lateral-canthal"])
def test_protocols_place_on_an_ellipsoid(tmp_path: Path, pid: str) -> None:
    egg = _ellipsoid_head(tmp_path)
    plan = make_plan(egg, load_protocol(pid))
    assert plan.total_sites == load_protocol(pid).fixed_site_count
    pos = np.array([s.position for s in plan.sites])
    assert egg.surface.distance_to_surface(pos).max() < 0.5
    by_id = {s.id: s for s in plan.sites}
    for sid, s in by_id.items():
        if sid.endswith("_left"):
            right = by_id[sid[: -len("_left")] + "_right"]
            assert np.linalg.norm(np.asarray(s.position) * [-1, 1, 1] - right.position) < 1.0, sid
    # distances are millimetres over the skin, not fractions of the default head
    if pid == "preempt":
        corr = egg.frame.to_head(by_id["corrugator_right"].position)
        brow = egg.head_landmark("right_brow_medial")
        assert np.linalg.norm(corr - brow) == pytest.approx(10.0, abs=1.0)


def test_missing_landmark_is_named(tmp_path: Path, head: Head) -> None:
    lms = {k: v for k, v in head.landmarks.items() if k != "left_zygomatic_arch"}
    lpath = tmp_path / "lm.json"
    lpath.write_text(json.dumps({k: v.tolist() for k, v in lms.items()}))
    partial = load_head(head.mesh_path, lpath)
    with pytest.raises(
        LandmarkError, match=r"lm\.json: landmark 'left_zygomatic_arch' \(needed by .*preempt.*temporalis"
    ):
        make_plan(partial, load_protocol("preempt"))
