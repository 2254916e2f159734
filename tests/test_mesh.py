"""The bundled head: a clean surface in the head frame, landmarks on the skin, a muscle map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from visualizer.errors import LandmarkError, MeshError
from visualizer.head import DEFAULT_LANDMARKS, Head, load_head
from visualizer.landmarks import LANDMARKS
from visualizer.muscle_map import MUSCLES

#: every landmark of the registry (visualizer/landmarks.py) must be on the bundled head
REQUIRED = sorted(LANDMARKS)


def test_surface_is_clean_with_one_planar_cut(head: Head) -> None:
    mesh = head.mesh
    assert mesh.is_all_triangles and mesh.n_cells > 100_000
    edges = mesh.extract_feature_edges(
        boundary_edges=True, feature_edges=False, manifold_edges=False, non_manifold_edges=True
    )
    loops = edges.connectivity()
    assert len(np.unique(loops["RegionId"])) == 1  # one boundary: the cut at the bottom
    # the cut is planar (a plane fit leaves < 0.5 mm residual) and lies below the acromia
    pts = np.asarray(edges.points)
    centred = pts - pts.mean(axis=0)
    normal = np.linalg.svd(centred)[2][-1]
    assert np.abs(centred @ normal).max() < 0.5
    assert pts[:, 2].max() < min(head.landmarks["left_acromion"][2], head.landmarks["right_acromion"][2])
    nm = mesh.extract_feature_edges(
        boundary_edges=False, feature_edges=False, manifold_edges=False, non_manifold_edges=True
    )
    assert nm.n_cells == 0


def test_mesh_is_in_the_head_frame_in_millimetres(head: Head) -> None:
    lm = head.landmarks
    assert np.allclose(lm["left_tragus"][1:], 0, atol=1e-3) and np.allclose(lm["right_tragus"][1:], 0, atol=1e-3)
    assert lm["left_tragus"][0] < 0 < lm["right_tragus"][0]
    assert abs(lm["nasion"][0]) < 1e-3 and abs(lm["nasion"][2]) < 1e-3 and lm["nasion"][1] > 0
    assert np.allclose(head.frame.rotation, np.eye(3), atol=1e-6) and np.allclose(head.frame.origin, 0, atol=1e-3)
    # adult proportions (ANSUR II ranges): bitragion ~ 140-160 mm, tragion to vertex ~ 120-140 mm,
    # interpupillary ~ 55-70 mm, biacromial ~ 320-420 mm
    assert 135 < np.linalg.norm(lm["right_tragus"] - lm["left_tragus"]) < 165
    assert 115 < lm["vertex"][2] < 150
    assert 55 < np.linalg.norm(lm["right_pupil"] - lm["left_pupil"]) < 70
    assert 300 < np.linalg.norm(lm["right_acromion"] - lm["left_acromion"]) < 420


def test_landmarks_complete_on_skin_and_mirrored(head: Head) -> None:
    names = json.loads(Path(DEFAULT_LANDMARKS).read_text())
    assert set(REQUIRED) <= set(names)
    pts = np.array([head.landmarks[n] for n in REQUIRED])
    assert head.surface.distance_to_surface(pts).max() < 0.05
    for n in REQUIRED:
        if n.startswith("left_"):
            right = head.landmarks["right_" + n[5:]]
            assert np.linalg.norm(head.landmarks[n] * [-1, 1, 1] - right) < 0.5, n
        elif not n.startswith("right_"):
            assert abs(head.landmarks[n][0]) < 0.5, n
    lm = head.landmarks
    # a few orderings any anatomist would check
    assert lm["glabella"][2] > lm["nasion"][2] and lm["vertex"][2] > lm["glabella"][2]
    assert lm["inion"][1] < 0 and lm["c7"][2] < lm["inion"][2]
    for s in ("left", "right"):
        assert lm[f"{s}_orbital_rim"][2] > lm[f"{s}_pupil"][2]
        assert abs(lm[f"{s}_lateral_canthus"][0]) > abs(lm[f"{s}_pupil"][0]) > abs(lm[f"{s}_brow_medial"][0])
        assert lm[f"{s}_mastoid"][1] < lm[f"{s}_tragus"][1] < lm[f"{s}_zygomatic_arch"][1]
        assert abs(lm[f"{s}_necklace"][0]) < abs(lm[f"{s}_acromion"][0])


def test_face_and_neck_landmarks_sit_where_anatomy_puts_them(head: Head) -> None:
    lm = {k: head.head_landmark(k) for k in head.landmarks}
    # hairline: 55-61 mm above the glabella (Korean sample trichion-glabella 55.4 / 61.4 mm)
    assert 55.0 <= np.linalg.norm(lm["trichion"] - lm["glabella"]) <= 61.5
    assert lm["menton"][2] < lm["nasion"][2] - 90  # face height (menton-sellion 113-123 mm, ANSUR II)
    assert lm["sternal_notch"][2] < lm["menton"][2] - 30 and abs(lm["sternal_notch"][1]) < 60
    for s in ("left", "right"):
        sign = 1 if s == "right" else -1
        mc, lc = lm[f"{s}_medial_canthus"], lm[f"{s}_lateral_canthus"]
        # eye fissure 25-35 mm wide; the inner corner between the midline and the pupil line
        assert 25 <= np.linalg.norm(lc - mc) <= 35
        assert 0 < sign * mc[0] < sign * lm[f"{s}_pupil"][0]
        # the temporal line: above the lateral brow, on the forehead's edge (0.5-1.5 cm beyond the
        # label's lateral forehead sites)
        tl = lm[f"{s}_temporal_line"]
        assert abs(sign * tl[0] - sign * lm[f"{s}_brow_lateral"][0]) < 10 and tl[2] > lm[f"{s}_brow_lateral"][2] + 20
        oc = lm[f"{s}_oral_commissure"]
        assert 15 <= sign * oc[0] <= 32 and lm["menton"][2] < oc[2] < lm["nasion"][2] - 50  # mouth 30-64 mm wide
        mb, go = lm[f"{s}_mandibular_border"], lm[f"{s}_gonion"]
        assert mb[2] < oc[2] - 15 and abs(mb[0] - oc[0]) < 1.0  # straight below the mouth corner
        # the jaw angle: behind and above the border below the mouth, in front of and below the ear
        assert go[1] < mb[1] and go[2] > mb[2] and go[1] < lm[f"{s}_zygomatic_arch"][1] and go[2] < oc[2]
        assert lm[f"{s}_tragus"][1] < go[1] + 30
        ch = lm[f"{s}_clavicular_head"]
        assert 15 <= sign * ch[0] <= 40 and abs(ch[2] - lm["sternal_notch"][2]) < 15


def test_muscle_map_covers_every_muscle_symmetrically(head: Head) -> None:
    codes = head.muscle_codes
    pts = np.asarray(head.mesh.points)
    for code, name in enumerate(MUSCLES):
        if name == "none":
            continue
        mask = codes == code
        assert mask.sum() > 50, name
        left, right = (pts[mask, 0] < 0).sum(), (pts[mask, 0] > 0).sum()
        assert abs(left - right) <= 0.05 * mask.sum() + 5, name


def test_broken_inputs_are_named(tmp_path: Path, head: Head) -> None:
    with pytest.raises(MeshError, match=r"nothere\.vtp: mesh file not found"):
        load_head(tmp_path / "nothere.vtp", DEFAULT_LANDMARKS)
    bad_json = tmp_path / "lm.json"
    bad_json.write_text("{ nope")
    with pytest.raises(LandmarkError, match=r"lm\.json: not valid JSON"):
        load_head(head.mesh_path, bad_json)
    bad_json.write_text(json.dumps({"nasion": [0, 1], "left_tragus": [0, 0, 0], "right_tragus": [1, 0, 0]}))
    with pytest.raises(LandmarkError, match=r"lm\.json: landmark 'nasion' has shape \(2,\).*\(got \[0, 1\]\)"):
        load_head(head.mesh_path, bad_json)
    bad_json.write_text(json.dumps({"nasion": [0, 90, 0], "left_tragus": [-70, 0, 0]}))
    with pytest.raises(LandmarkError, match="missing: right_tragus"):
        load_head(head.mesh_path, bad_json)
    moved = {k: np.add(v, [0, 0, 40]).tolist() for k, v in head.landmarks.items()}
    bad_json.write_text(json.dumps(moved))
    with pytest.raises(LandmarkError, match="off the skin"):
        load_head(head.mesh_path, bad_json)
    with pytest.raises(MeshError, match="both --mesh and --landmarks"):
        load_head(head.mesh_path, None)
