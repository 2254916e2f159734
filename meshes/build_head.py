"""Regenerate the default head mesh, its landmarks and its muscle map from the MakeHuman OBJ.

Usage (from the project root; the OBJ is the CC0 MakeHuman "hm08" base mesh)::

    python meshes/build_head.py ../shared/assets/makehuman/base.obj
    python meshes/build_head.py --muscles-only     # redraw only the muscle map of meshes/head.vtp

Writes ``meshes/head.vtp`` (skin, mm, head frame, point arrays ``Normals``, ``muscle`` and ``muscle_weight``) and
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
from visualizer.muscle_map import WEIGHT_ARRAY, muscle_areas, weights_to_array  # noqa: E402
from visualizer.surface import Surface  # noqa: E402

DM_TO_MM = 100.0
CLIP_Z_RAW_MM = 480.0  # keep everything above 4.8 dm: the whole upper trapezius and the acromion
KEEP_MARGIN_MM = 20.0  # faces kept before subdividing, so the final cut is clean
SUBDIVISIONS = 2

#: Straight-line trichion-glabella distance used for the hairline (mm; chosen between 55.4 and 61.4)
TRICHION_GLABELLA_MM = 58.0

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


def front_profile(surf: Surface, x: float, z_from: float, z_to: float, step: float = 0.5) -> np.ndarray:
    """Front-ray hits at ``x`` for heights from ``z_from`` down to ``z_to`` (NaN rows where none)."""
    rows = []
    for z in np.arange(z_from, z_to, -step):
        hit = surf.ray_hit([x, 400.0, z], [x, -400.0, z])
        rows.append(hit if hit is not None else [np.nan, np.nan, np.nan])
    return np.asarray(rows, dtype=float)


def last_before_jump(hits: np.ndarray, axis: int, sign: float, jump_mm: float = 5.0) -> np.ndarray:
    """The last hit of a downward ray profile before the rays pass under an overhang.

    Going down a profile of rays (front rays: ``axis`` 1; lateral rays: ``axis`` 0 with
    ``sign`` the side), the rays hit the chin or the jaw until they pass below it and hit the neck,
    further in by more than ``jump_mm``: the hit just before that jump is the lower border.
    """
    depth = sign * hits[:, axis]
    for i in range(1, len(hits)):
        if np.isfinite(depth[i - 1]) and (not np.isfinite(depth[i]) or depth[i - 1] - depth[i] > jump_mm):
            return hits[i - 1]
    raise RuntimeError("no overhang found on the profile")


def lip_line_corner(surf: Surface, sign: float, z_start: float) -> np.ndarray:
    """The oral commissure: the lateral end of the lip line (the groove between the lips).

    From the midline outward in 0.5 mm steps, the groove is the deepest front-ray hit within
    2.5 mm of the previous groove height (a ray through the lip gap counts as deepest); it ends
    where it is less than 1 mm deep (relative to the lips 3 mm above and below it).
    """
    z_prev, last = z_start, None
    for x in np.arange(0.0, 45.0, 0.5):
        zs = np.arange(z_prev + 2.5, z_prev - 2.5, -0.25)
        hits = np.array([surf.ray_hit([sign * x, 400.0, z], [sign * x, -400.0, z]) for z in zs], dtype=object)
        ys = np.array([h[1] if h is not None else -np.inf for h in hits], dtype=float)
        lips = np.array([front_hit(surf, sign * x, z_prev + d)[1] for d in (-3.0, 3.0)])
        g = int(np.argmin(np.maximum(ys, 0.0)))
        depth = float(lips.mean() - max(ys[g], 0.0)) if np.isfinite(ys[g]) else 99.0
        if depth < 1.0:
            break
        z_prev = float(zs[g])
        last = front_hit(surf, sign * x, z_prev)
    if last is None:
        raise RuntimeError("no lip line found")
    return last


def face_and_neck_landmarks(surf: Surface, lm: dict[str, np.ndarray], verts_h: np.ndarray, groups: dict) -> None:
    """The landmarks of the lower face, the hairline, the temporal lines and the neck (head frame).

    Adds ``trichion``, ``menton``, ``sternal_notch`` and, per side, ``medial_canthus``,
    ``temporal_line``, ``oral_commissure``, ``mandibular_border``, ``gonion`` and
    ``clavicular_head`` to ``lm`` (the rules are in meshes/README.md).
    """

    def helper(name: str) -> np.ndarray:
        return verts_h[np.unique(np.asarray(groups[name]).ravel())]

    # trichion: the base mesh has no hairline (its hair helper is a proxy that hangs in front of
    # the forehead), so: the point of the mid-sagittal profile, going up from the glabella, 58 mm
    # in a straight line from it — between the 55.4 and 61.4 mm trichion-glabella means of a
    # Korean sample (meshes/README.md; chosen, not published as such)
    prof_up = front_profile(surf, 0.0, lm["glabella"][2] + 100.0, lm["glabella"][2])[::-1]
    reach = np.linalg.norm(prof_up - lm["glabella"], axis=1)
    lm["trichion"] = prof_up[int(np.nanargmax(reach >= TRICHION_GLABELLA_MM))]

    # stomion (not exported): the deepest groove of the midline profile 18-40 mm below the nose
    # tip (deepest relative to the profile 3 mm above and below); menton: the lowest hit of the
    # chin before front rays pass under it to the neck
    prof = front_profile(surf, 0.0, lm["nasion"][2] - 20.0, lm["nasion"][2] - 140.0)
    tip = int(np.nanargmax(prof[:, 1]))
    k = int(3 / 0.5)
    window = range(tip + int(18 / 0.5), tip + int(40 / 0.5))
    groove = [0.5 * (prof[i - k, 1] + prof[i + k, 1]) - prof[i, 1] for i in window]
    stomion = prof[window[int(np.nanargmax(groove))]]
    lm["menton"] = last_before_jump(prof[tip:], 1, 1.0)

    # suprasternal notch: where the front of the neck turns into the chest — the most concave
    # point of the midline profile 20-100 mm below the menton (concave relative to the profile
    # 12 mm above and below it)
    neck = front_profile(surf, 0.0, lm["menton"][2] - 8.0, lm["menton"][2] - 112.0, 1.0)
    k = 12
    concavity = [0.5 * (neck[i - k, 1] + neck[i + k, 1]) - neck[i, 1] for i in range(k, len(neck) - k)]
    notch = neck[k + int(np.nanargmax(concavity))]
    lm["sternal_notch"] = notch

    glabella_z = lm["glabella"][2]
    for side, sign in (("right", 1.0), ("left", -1.0)):
        # medial canthus: the inner end of the eyelash helper, moved onto the skin
        lashes = helper(f"helper-{side[0]}-eyelashes-1")
        lm[f"{side}_medial_canthus"] = surf.closest(lashes[np.argmin(sign * lashes[:, 0])])[0]
        # temporal fusion line at the height of the forehead's lower row (30 mm above the
        # glabella): going out from the midline, where the skin turns more than 45° from facing
        # forward to facing sideways (the forehead's edge; chosen, not published)
        z = glabella_z + 30.0
        for x in np.arange(10.0, 80.0, 0.5):
            p = front_hit(surf, sign * x, z)
            n = surf.closest(p)[1]
            if sign * n[0] > n[1]:
                lm[f"{side}_temporal_line"] = p
                break
        # oral commissure: the lateral end of the lip line
        lm[f"{side}_oral_commissure"] = lip_line_corner(surf, sign, float(stomion[2]))
        oc = lm[f"{side}_oral_commissure"]
        # mandibular border below the mouth corner: front rays on the commissure's vertical
        # line, the lowest hit on the jaw before they pass under it
        below = front_profile(surf, oc[0], oc[2] - 5.0, oc[2] - 80.0)
        lm[f"{side}_mandibular_border"] = last_before_jump(below, 1, 1.0)
        # gonion: the lower border of the jaw traced backward with lateral rays (coronal sections
        # every 2 mm from 10 mm behind the commissure to the tragus; on each, going down, the
        # first hit whose skin faces more downward than sideways); the angle of the mandible is
        # the widest point of that border (where bigonial breadth is measured)
        trace = []
        for y in np.arange(oc[1] - 10.0, lm[f"{side}_tragus"][1], -2.0):
            for z in np.arange(oc[2], oc[2] - 90.0, -0.5):
                hit = surf.ray_hit([sign * 400.0, y, z], [0.0, y, z])
                if hit is not None and -surf.closest(hit)[1][2] > sign * surf.closest(hit)[1][0]:
                    trace.append(hit)
                    break
        trace_a = np.asarray(trace)
        lm[f"{side}_gonion"] = trace_a[int(np.argmax(sign * trace_a[:, 0]))]
        # clavicular head of the sternocleidomastoid: the skin over the medial clavicle, 25 mm
        # from the midline and 5 mm below the notch (the sternoclavicular joints lie either side
        # of the notch; the clavicular head takes the medial third of the clavicle; chosen)
        lm[f"{side}_clavicular_head"] = front_hit(surf, sign * 25.0, float(notch[2]) - 5.0)


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
    face_and_neck_landmarks(surf, lm, verts_h, groups)

    # every landmark exactly on the surface
    names = sorted(lm)
    snapped, _ = surf.closest(np.array([lm[k] for k in names]))
    landmarks = {k: [round(float(c), 3) for c in p] for k, p in zip(names, snapped, strict=True)}

    skin = skin.compute_normals(point_normals=True, cell_normals=False, auto_orient_normals=True)
    draw_muscles(skin, landmarks)
    out_dir.mkdir(parents=True, exist_ok=True)
    skin.save(out_dir / "head.vtp")
    (out_dir / "landmarks.json").write_text(json.dumps(landmarks, indent=2) + "\n")
    print(f"head.vtp: {skin.n_points} points, {skin.n_cells} triangles, bounds {np.round(skin.bounds, 1)}")
    for k in names:
        print(f"  {k:24s} {landmarks[k]}")


def draw_muscles(skin: pv.PolyData, landmarks: dict[str, list[float]]) -> None:
    """Draw the muscle map on the skin: point arrays ``muscle`` (codes) and ``muscle_weight``."""
    areas = muscle_areas(
        np.asarray(skin.points), np.asarray(skin.point_data["Normals"]), {k: np.array(v) for k, v in landmarks.items()}
    )
    skin.point_data["muscle"] = areas.codes
    skin.point_data[WEIGHT_ARRAY] = weights_to_array(areas.weights)


def redraw_muscles(out_dir: Path) -> None:
    """Redraw only the muscle map of an existing ``head.vtp`` (points, triangles, landmarks unchanged)."""
    path = out_dir / "head.vtp"
    skin = pv.read(path)
    draw_muscles(skin, json.loads((out_dir / "landmarks.json").read_text()))
    skin.save(path)
    counts = np.bincount(np.asarray(skin.point_data["muscle"]).astype(int))
    print(f"{path}: muscle map redrawn on {skin.n_points} points; points per code {counts.tolist()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("obj", type=Path, nargs="?", default=ROOT.parent / "shared/assets/makehuman/base.obj")
    ap.add_argument("--out", type=Path, default=ROOT / "meshes")
    ap.add_argument("--muscles-only", action="store_true", help="redraw only the muscle map of --out/head.vtp")
    args = ap.parse_args()
    if args.muscles_only:
        redraw_muscles(args.out)
    else:
        build(args.obj, args.out)


if __name__ == "__main__":
    main()
