"""Regenerate the default head mesh, its landmarks and its muscle map from the MakeHuman OBJ.

Usage (from the project root; the OBJ is the CC0 MakeHuman "hm08" base mesh)::

    python meshes/build_head.py ../shared/assets/makehuman/base.obj

Writes ``meshes/head.vtp`` (skin, mm, head frame, point arrays ``Normals`` and ``muscle``) and
``meshes/landmarks.json``. The product reads only those two files; this script is the record of
how they were made. Every landmark rule is written out below (and in meshes/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pyvista as pv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from visualizer.frame import HeadFrame  # noqa: E402
from visualizer.muscle_map import label_muscles  # noqa: E402
from visualizer.surface import Surface  # noqa: E402

DM_TO_MM = 100.0
CLIP_Z_RAW_MM = 480.0  # keep everything above 4.8 dm: the whole upper trapezius and the acromion
KEEP_MARGIN_MM = 20.0  # faces kept before subdividing, so the final cut is clean
SUBDIVISIONS = 2

# MakeHuman vertex picked by eye on close-up renders (right ear, the bump in front of the concha)
RIGHT_TRAGUS_VERTEX = 5456


def read_obj(path: Path) -> tuple[np.ndarray, dict[str, list[list[int]]]]:
    """Vertices (dm, MakeHuman axes) and faces per OBJ group."""
    verts: list[list[float]] = []
    groups: dict[str, list[list[int]]] = {}
    current = "default"
    with path.open() as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(t) for t in line.split()[1:4]])
            elif line.startswith("g "):
                current = line.split()[1]
            elif line.startswith("f "):
                groups.setdefault(current, []).append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    return np.asarray(verts), groups


def to_raw_mm(v: np.ndarray) -> np.ndarray:
    """MakeHuman (dm; +x model's left, +y up, +z front) → mm with +x right, +y front, +z up."""
    v = np.asarray(v, dtype=float) * DM_TO_MM
    return np.stack([-v[..., 0], v[..., 2], v[..., 1]], axis=-1)


def group_centre(verts: np.ndarray, groups: dict, name: str) -> np.ndarray:
    """Mean of a helper group's vertices (joint cubes give joint centres)."""
    idx = np.unique(np.asarray(groups[name]).ravel())
    return to_raw_mm(verts[idx].mean(axis=0))


def mirror_vertex(points: np.ndarray, index: int) -> int:
    """Index of the vertex at the mirror image (x → −x) of ``index``."""
    target = points[index] * np.array([-1.0, 1.0, 1.0])
    return int(np.argmin(np.linalg.norm(points - target, axis=1)))


def midline_profile(surf: Surface) -> np.ndarray:
    """Points of the mid-sagittal (x = 0) section of the surface."""
    nodes, _ = surf._section(np.zeros(3), np.array([1.0, 0.0, 0.0]))
    return nodes


def lateral_hit(surf: Surface, y: float, z: float, sign: float) -> np.ndarray:
    """Skin point hit by a ray coming from far out on side ``sign`` toward the midline."""
    hit = surf.ray_hit([sign * 400.0, y, z], [0.0, y, z])
    if hit is None:
        raise RuntimeError(f"lateral ray at y={y}, z={z} missed the skin")
    return hit


def front_hit(surf: Surface, x: float, z: float) -> np.ndarray:
    """Skin point hit by a ray coming from in front of the face toward the back."""
    hit = surf.ray_hit([x, 400.0, z], [x, -400.0, z])
    if hit is None:
        raise RuntimeError(f"frontal ray at x={x}, z={z} missed the skin")
    return hit


def build(obj: Path, out_dir: Path) -> None:
    verts, groups = read_obj(obj)
    raw = to_raw_mm(verts)
    faces = np.asarray(groups["body"])

    # 1. skin above the cut, triangulated and loop-subdivided
    keep = (raw[faces][:, :, 2] >= CLIP_Z_RAW_MM - KEEP_MARGIN_MM).any(axis=1)
    quads = faces[keep]
    cells = np.hstack([np.full((len(quads), 1), 4), quads]).ravel()
    skin = pv.PolyData(raw, cells).clean().triangulate()
    skin = skin.subdivide(SUBDIVISIONS, "loop")
    skin = skin.clip("z", origin=(0.0, 0.0, CLIP_Z_RAW_MM), invert=False).triangulate().clean()
    skin = skin.extract_largest().extract_surface(algorithm="dataset_surface").triangulate()
    surf = Surface(skin)

    # 2. frame landmarks in raw coordinates
    right_tragus_raw = surf.closest(raw[RIGHT_TRAGUS_VERTEX])[0]
    left_tragus_raw = surf.closest(raw[mirror_vertex(raw, RIGHT_TRAGUS_VERTEX)])[0]
    eye_r = group_centre(verts, groups, "joint-r-eye")  # model's right → +x
    eye_z = eye_r[2]
    prof = midline_profile(surf)
    front = prof[prof[:, 1] > eye_r[1] - 30]
    band = front[(front[:, 2] > eye_z - 10) & (front[:, 2] < eye_z + 25)]
    nasion_raw = band[np.argmin(band[:, 1])]  # deepest point of the nasal root
    frame = HeadFrame.from_landmarks(left_tragus_raw, right_tragus_raw, nasion_raw)

    # 3. everything into the head frame
    skin.points = frame.to_head(skin.points)
    surf = Surface(skin)
    verts_h = frame.to_head(raw)

    def joint(name: str) -> np.ndarray:
        return frame.to_head(group_centre(verts, groups, name))

    lm: dict[str, np.ndarray] = {}
    lm["left_tragus"] = frame.to_head(left_tragus_raw)
    lm["right_tragus"] = frame.to_head(right_tragus_raw)
    lm["nasion"] = frame.to_head(nasion_raw)

    prof = midline_profile(surf)
    front = prof[prof[:, 1] > 40]
    back = prof[prof[:, 1] < 0]
    lm["nasion"][2]
    top = prof[np.argmax(prof[:, 2])]
    lm["vertex"] = top  # highest point of the head in the head frame

    # inion: on the back of the midline, between the deepest point of the neck's hollow and the
    # most posterior point of the skull (opisthocranion), the inflection where the skull's
    # convexity turns into the neck's concavity (the steepest point of the profile)
    back = back[np.argsort(back[:, 2])]
    window = back[(back[:, 2] > -60) & (back[:, 2] < 90)]
    hollow_z = window[np.argmax(window[:, 1]), 2]
    opis_z = window[window[:, 2] > hollow_z][np.argmin(window[window[:, 2] > hollow_z][:, 1]), 2]
    zs = np.linspace(hollow_z, opis_z, 60)
    ys = np.interp(zs, window[:, 2], window[:, 1])
    slope = np.abs(np.gradient(ys, zs))
    k = int(np.argmax(slope[3:-3])) + 3
    lm["inion"] = surf.ray_hit([0.0, -400.0, zs[k]], [0.0, 0.0, zs[k]])

    # c7: the skin of the back midline at the height of MakeHuman's neck joint
    neck = joint("joint-neck")
    hit = surf.ray_hit([0.0, -400.0, neck[2]], [0.0, 0.0, neck[2]])
    lm["c7"] = hit

    for side, sign, eye_name, lash in (
        ("right", 1.0, "joint-r-eye", "helper-r-eyelashes-1"),
        ("left", -1.0, "joint-l-eye", "helper-l-eyelashes-1"),
    ):
        eye = joint(eye_name)
        # pupil: the front of the eye, straight ahead of the eyeball's centre
        lm[f"{side}_pupil"] = front_hit(surf, eye[0], eye[2])
        # lateral canthus: outer end of the eyelash helper, moved onto the skin
        lashes = verts_h[np.unique(np.asarray(groups[lash]).ravel())]
        outer = lashes[np.argmax(sign * lashes[:, 0])]
        lm[f"{side}_lateral_canthus"] = surf.closest(outer)[0]
        # orbital rim (supraorbital margin) on the pupil line: 17 mm above the pupil (half an
        # adult orbit's ~34 mm height), or just above the upper-lid sulcus if that is higher
        pup = lm[f"{side}_pupil"]
        zs = np.arange(pup[2], pup[2] + 30.0, 0.25)
        hits = np.array([front_hit(surf, eye[0], z) for z in zs])
        sulcus_z = zs[hits[:, 1] < pup[1]].max() if (hits[:, 1] < pup[1]).any() else pup[2]
        lm[f"{side}_orbital_rim"] = front_hit(surf, eye[0], max(pup[2] + 17.0, sulcus_z + 1.0))
        rim_z = lm[f"{side}_orbital_rim"][2]
        # eyebrow ends (no brow geometry on the base mesh): medial end 16 mm from the midline
        # at rim height (above the inner canthus), lateral end 5 mm beyond the lateral canthus,
        # 3 mm above rim height — typical adult brow shape, chosen here and stated in README
        lm[f"{side}_brow_medial"] = front_hit(surf, sign * 16.0, rim_z)
        lc = lm[f"{side}_lateral_canthus"]
        lm[f"{side}_brow_lateral"] = front_hit(surf, lc[0] + sign * 5.0, rim_z + 3.0)
        tr = lm[f"{side}_tragus"]
        # zygomatic arch, upper edge: 15 mm in front of the tragus, 3 mm above it, on the skin
        lm[f"{side}_zygomatic_arch"] = lateral_hit(surf, tr[1] + 15.0, tr[2] + 3.0, sign)
        # mastoid process: behind the ear lobe, 35 mm behind and 20 mm below the tragus
        lm[f"{side}_mastoid"] = lateral_hit(surf, tr[1] - 35.0, tr[2] - 20.0, sign)
        # acromion: the skin straight above MakeHuman's shoulder joint
        sh = joint("joint-r-shoulder" if side == "right" else "joint-l-shoulder")
        hit = surf.ray_hit([sh[0], sh[1], sh[2] + 300.0], sh)
        lm[f"{side}_acromion"] = hit
        # necklace: on the coronal section through the acromion, the deepest point under the
        # straight line from the side of the neck (at c7 height + 40 mm) to the acromion
        ac = lm[f"{side}_acromion"]
        nodes, _ = surf._section(ac, np.array([0.0, 1.0, 0.0]))
        upper = nodes[(sign * nodes[:, 0] > 15.0) & (sign * nodes[:, 0] < sign * ac[0]) & (nodes[:, 2] > ac[2] - 10)]
        z_top = lm["c7"][2] + 40.0
        side_neck = upper[np.argmin(np.abs(upper[:, 2] - z_top) + 1e3 * (upper[:, 2] < lm["c7"][2]))]
        seg = ac - side_neck
        between = upper[(sign * upper[:, 0] > sign * side_neck[0]) & (sign * upper[:, 0] < sign * ac[0])]
        t = np.clip(((between - side_neck) @ seg) / (seg @ seg), 0, 1)
        depth = np.linalg.norm(side_neck + t[:, None] * seg - between, axis=1)
        lm[f"{side}_necklace"] = between[np.argmax(depth)]

    # glabella: the midline between the brows, at the height of the supraorbital margins
    rim_z = 0.5 * (lm["left_orbital_rim"][2] + lm["right_orbital_rim"][2])
    lm["glabella"] = front_hit(surf, 0.0, rim_z)

    # every landmark exactly on the surface
    names = sorted(lm)
    snapped, _ = surf.closest(np.array([lm[k] for k in names]))
    landmarks = {k: [round(float(c), 3) for c in p] for k, p in zip(names, snapped, strict=True)}

    skin = skin.compute_normals(point_normals=True, cell_normals=False, auto_orient_normals=True)
    skin.point_data["muscle"] = label_muscles(
        np.asarray(skin.points), np.asarray(skin.point_data["Normals"]), {k: np.array(v) for k, v in landmarks.items()}
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    skin.save(out_dir / "head.vtp")
    (out_dir / "landmarks.json").write_text(json.dumps(landmarks, indent=2) + "\n")
    print(f"head.vtp: {skin.n_points} points, {skin.n_cells} triangles, bounds {np.round(skin.bounds, 1)}")
    for k in names:
        print(f"  {k:24s} {landmarks[k]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("obj", type=Path, nargs="?", default=ROOT.parent / "shared/assets/makehuman/base.obj")
    ap.add_argument("--out", type=Path, default=ROOT / "meshes")
    args = ap.parse_args()
    build(args.obj, args.out)


if __name__ == "__main__":
    main()
