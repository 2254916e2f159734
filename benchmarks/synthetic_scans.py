"""Synthetic patients' head scans with known landmarks, for the scan-landmarking harness and tests.

Each patient is the bundled head reshaped to a **random body type** (MakeHuman morph targets,
:func:`visualizer.body_type.morph`: sex, age 18–90, weight, muscle and a random ethnic blend) —
or, with ``warp=True``, by random anisotropic scaling plus a smooth random warp instead — then
made to look like a scan: re-meshed (quadric
decimation then Loop subdivision, so no vertex of ours survives), 0.5 mm noise, a hole at the
crown, the neck cut at a random height, a random rotation and translation, and random units. The
true landmarks are the bundled landmarks put through the same reshaping and placement, snapped
onto the scan's skin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from visualizer.body_type import BodyType, morph
from visualizer.head import load_head

UNIT_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0}


@dataclass
class Patient:
    """A synthetic scan: the mesh in file units, its true landmarks in the scan frame (mm)."""

    mesh: pv.PolyData  # file units
    units: str
    landmarks_mm: dict[str, NDArray[np.float64]]  # scan frame converted to mm
    truth_mesh_mm: pv.PolyData  # the same scan in mm (for the plan on the true landmarks)
    description: str


def _warp(points: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
    """Anisotropic scaling (±12 % per axis) and a smooth random warp (≈ ±4 mm, 80 mm wavelength)."""
    scale = rng.uniform(0.88, 1.12, size=3)
    p = points * scale
    centres = rng.uniform(-120, 120, size=(6, 3)) * [1, 1, 0.8]
    amps = rng.normal(scale=4.0, size=(6, 3))
    for c, a in zip(centres, amps, strict=True):
        w = np.exp(-np.sum((points - c) ** 2, axis=1) / (2 * 70.0**2))
        p = p + w[:, None] * a
    return p


def random_body(rng: np.random.Generator) -> BodyType:
    """A body type drawn across every range (sex, age, weight, muscle, ethnic blend)."""
    blend = rng.dirichlet([1.0, 1.0, 1.0])
    return BodyType(
        sex=rng.uniform(0, 1), age=rng.uniform(18, 90), weight=rng.uniform(0, 1), muscle=rng.uniform(0, 1),
        african=blend[0], asian=blend[1], caucasian=blend[2],
    )  # fmt: skip


def make_patient(seed: int, *, triangles: int = 300_000, noise_mm: float = 0.5, warp: bool = False) -> Patient:
    """One synthetic patient scan (see the module docstring); ``seed`` picks everything."""
    rng = np.random.default_rng(seed)
    head = load_head()
    names = sorted(head.landmarks)
    if warp:
        body_words = "warped"
        lms = np.array([head.landmarks[n] for n in names])
        both = _warp(np.vstack([np.asarray(head.mesh.points, dtype=float), lms]), rng)
        shaped = pv.PolyData(both[: head.mesh.n_points], head.mesh.faces)
        true_lm = both[head.mesh.n_points :]
    else:
        body = random_body(rng)
        body_words = body.describe()
        m = morph(body)
        shaped = pv.PolyData(m.points, head.mesh.faces)
        true_lm = np.array([m.landmarks[n] for n in names])
    # re-mesh: decimate hard, then subdivide back up (new vertices everywhere)
    coarse = shaped.decimate(1.0 - 26_000 / shaped.n_cells).clean()
    level = 1 if triangles <= 80_000 * 1.5 else 2 if triangles <= 320_000 * 1.5 else 3
    remeshed = coarse.subdivide(level, subfilter="loop").clean()
    # crown hole: drop cells within r of the (warped) vertex
    vertex = true_lm[names.index("vertex")]
    r_hole = rng.uniform(15.0, 30.0)
    centres = remeshed.cell_centers().points
    keep = np.linalg.norm(centres - vertex, axis=1) > r_hole
    # neck cut: from just under the chin to below the acromia
    c7z = true_lm[names.index("c7")][2]
    cut_z = rng.uniform(c7z - 25.0, c7z + 45.0)
    keep &= centres[:, 2] > cut_z
    scan = remeshed.extract_cells(np.flatnonzero(keep)).extract_surface(algorithm="dataset_surface").clean()
    scan = scan.connectivity("largest")
    scan = pv.PolyData(np.asarray(scan.points, dtype=float), scan.faces)
    scan = scan.compute_normals(point_normals=True, cell_normals=False, auto_orient_normals=True)
    noise = rng.normal(scale=noise_mm, size=scan.n_points)
    pts = np.asarray(scan.points) + noise[:, None] * np.asarray(scan.point_data["Normals"])
    # place: random rotation, translation, units
    rot = Rotation.random(random_state=seed).as_matrix()
    shift = rng.uniform(-300, 300, size=3)
    units = ("mm", "cm", "m")[int(rng.integers(3))]
    pts_mm = pts @ rot.T + shift
    lm_mm = true_lm @ rot.T + shift
    faces = scan.faces
    truth = pv.PolyData(pts_mm, faces)
    # true landmarks on the scan's skin (those below the cut / in the hole are kept out)
    _, snapped = truth.find_closest_cell(lm_mm, return_closest_point=True)
    dist = np.linalg.norm(snapped - lm_mm, axis=1)
    landmarks = {n: np.asarray(snapped[i]) for i, n in enumerate(names) if dist[i] < 3.0}
    mesh = pv.PolyData(pts_mm / UNIT_MM[units], faces)
    desc = (
        f"seed {seed} ({body_words}): {mesh.n_cells:,} triangles, {units}, crown hole r={r_hole:.0f} mm, "
        f"neck cut {cut_z - c7z:+.0f} mm from C7"
    )
    return Patient(mesh, units, landmarks, truth, desc)
