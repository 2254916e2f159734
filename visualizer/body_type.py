"""Body types of the default head: MakeHuman's macro morphs (sex, age, weight, muscle, ethnic blend).

The bundled head is MakeHuman's base mesh, subdivided and cut (``meshes/build_head.py``). Its body
types come from MakeHuman's CC0 macro targets, reduced once to a small table
(``meshes/body_types.npz``, rebuilt by ``meshes/build_body_types.py``; see meshes/README.md):
per-vertex offsets of the 5,006 base vertices our head is made from, and the sparse linear map
from those vertices to every point of ``head.vtp`` (Loop subdivision and the cut are linear).

The targets are combined the way MakeHuman's macro modifier does (``macro.json``): a target named
``universal-{sex}-{age}-{muscle}-{weight}`` gets the product of the four blend weights, an ethnic
target ``{race}-{sex}-{age}`` the product of three; each variable blends linearly between its two
neighbouring levels (female–male; child–young–old; min–average–max muscle and weight).

**Today's head is the default body type** (sex 0.5, 25 years, weight 0.5, muscle 0.5, the three
ethnic blends 1/3 each — MakeHuman's defaults): a body type moves the bundled head by the
*difference* of the combined targets between the requested and the default values, so the
defaults give today's head exactly and every other body type differs from it as MakeHuman's
model does.

The topology never changes: the muscle map is carried point for point, and each landmark keeps its
barycentric position in its triangle, so it stays on the skin. The morphed head is written in its
**own head frame** (Neuromag, mm), rebuilt from its morphed tragi and nasion.

No anny, torch or MakeHuman code at run time: numpy and scipy only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy import sparse

from visualizer.bundled import bundled_dir
from visualizer.errors import InjectVizError, shorten
from visualizer.frame import FRAME_LANDMARKS, HeadFrame

__all__ = [
    "AGE_RANGE",
    "BODY_FIELDS",
    "BodyType",
    "BodyTypeError",
    "MorphedHead",
    "body_type_from_options",
    "macro_weights",
    "morph",
]

TABLE = bundled_dir("meshes") / "body_types.npz"

#: Ages accepted (years): adults only.
AGE_RANGE = (18.0, 90.0)
#: MakeHuman's age scale: 0 ↔ 1 year, 0.5 ↔ 25 years, 1 ↔ 90 years (linear in between).
_MH_MIN_AGE, _MH_MID_AGE, _MH_MAX_AGE = 1.0, 25.0, 90.0

#: The four user-facing variables: name → (low, high, what the ends mean) — for messages and UIs.
BODY_FIELDS: dict[str, tuple[float, float, str]] = {
    "sex": (0.0, 1.0, "0 female … 1 male"),
    "age": (AGE_RANGE[0], AGE_RANGE[1], "years"),
    "weight": (0.0, 1.0, "0 minimum … 1 maximum"),
    "muscle": (0.0, 1.0, "0 minimum … 1 maximum"),
}


class BodyTypeError(InjectVizError):
    """A body-type value is missing, not a number or out of its range."""


class BodyType(BaseModel):
    """One body type of the default head (all fields optional; the defaults give today's head).

    Attributes
    ----------
    sex : float
        0 female … 1 male (0.5 = today's head).
    age : float
        Years, 18–90 (25 = today's head).
    weight, muscle : float
        0 minimum … 1 maximum (0.5 = today's head).
    african, asian, caucasian : float
        Ethnic blend, each 0–1 (normalised to sum 1 as in MakeHuman; 1/3 each = today's head).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    sex: float = Field(0.5, ge=0.0, le=1.0)
    age: float = Field(25.0, ge=AGE_RANGE[0], le=AGE_RANGE[1])
    weight: float = Field(0.5, ge=0.0, le=1.0)
    muscle: float = Field(0.5, ge=0.0, le=1.0)
    african: float = Field(1 / 3, ge=0.0, le=1.0)
    asian: float = Field(1 / 3, ge=0.0, le=1.0)
    caucasian: float = Field(1 / 3, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _some_blend(self) -> BodyType:
        if self.african + self.asian + self.caucasian <= 0.0:
            raise ValueError("the ethnic blend (african, asian, caucasian) needs at least one value above 0")
        return self

    @property
    def is_default(self) -> bool:
        """True when this body type gives today's head (within 1e-6 in every variable)."""
        return bool(np.allclose(self._vector(), BodyType()._vector(), atol=1e-6))

    def _vector(self) -> NDArray[np.float64]:
        blend = np.array([self.african, self.asian, self.caucasian]) / (self.african + self.asian + self.caucasian)
        return np.array([self.sex, self.age / 100.0, self.weight, self.muscle, *blend])

    def to_dict(self) -> dict[str, float]:
        """Plain JSON-ready values (the plan's head description; not rounded, so that a stored plan
        gives back exactly the same head)."""
        return {k: float(v) for k, v in self.model_dump().items()}

    def describe(self) -> str:
        """Short words, e.g. ``sex 0.50, 25 years, weight 0.50, muscle 0.50``."""
        return f"sex {self.sex:.2f}, {self.age:.0f} years, weight {self.weight:.2f}, muscle {self.muscle:.2f}"

    @classmethod
    def parse(cls, data: object, *, source: str = "body_type") -> BodyType:
        """A body type from a mapping (e.g. a plan's ``body_type``), or a :class:`BodyTypeError` naming
        ``source``, the field and the value."""
        if not isinstance(data, dict):
            raise BodyTypeError(f"{source}: expected an object of sex, age, weight, muscle…, got {shorten(data)}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            where = f"{source}.{loc}" if loc else source
            value = shorten(err.get("input"), 60)
            raise BodyTypeError(f"{where}: {err['msg']} (got {value})") from None


def body_type_from_options(**values: float | None) -> BodyType | None:
    """A body type from command-line style options (``sex=…, age=…``; None = not given).

    Returns None when no option was given (today's head, no morph). A value out of range raises
    a :class:`BodyTypeError` naming the flag and the value, e.g. ``--age 150: …``.
    """
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        return None
    for name, value in given.items():
        if name not in BODY_FIELDS:
            raise BodyTypeError(f"--{name}: not a body-type option (use {', '.join(BODY_FIELDS)})")
        lo, hi, meaning = BODY_FIELDS[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
        if not ok or not lo <= float(value) <= hi:
            shown = f"{value:g}" if isinstance(value, float) else shorten(value, 40)
            raise BodyTypeError(f"--{name} {shown}: out of range, give {lo:g} to {hi:g} ({meaning})")
    return BodyType(**{k: float(v) for k, v in given.items()})


# ----------------------------------------------------------------------------- macro weights
def _two_sided(value: float, low: str, mid: str, high: str) -> dict[str, float]:
    """MakeHuman's blend of a 0..1 variable with levels at 0, 0.5 and 1."""
    if value < 0.5:
        lo = max(0.0, 1.0 - 2.0 * value)
        return {low: lo, mid: 1.0 - lo, high: 0.0}
    hi = max(0.0, 2.0 * value - 1.0)
    return {low: 0.0, mid: 1.0 - hi, high: hi}


def mh_age(years: float) -> float:
    """Age in years → MakeHuman's 0..1 age value."""
    if years < _MH_MID_AGE:
        return (years - _MH_MIN_AGE) / ((_MH_MID_AGE - _MH_MIN_AGE) * 2.0)
    return 0.5 + (years - _MH_MID_AGE) / ((_MH_MAX_AGE - _MH_MID_AGE) * 2.0)


def _age_blend(years: float) -> dict[str, float]:
    """MakeHuman's child/young/old weights (``human.py``: ``_setAgeVals``); adults have no baby part."""
    a = mh_age(years)
    if a < 0.5:
        young = max(0.0, (a - 0.1875) * 3.2)
        child = max(0.0, min(1.0, 5.333 * a) - young)
        return {"child": child, "young": young, "old": 0.0}
    old = max(0.0, a * 2.0 - 1.0)
    return {"child": 0.0, "young": 1.0 - old, "old": old}


def macro_weights(body: BodyType, names: tuple[str, ...]) -> NDArray[np.float64]:
    """Weight of each macro target (file stem, e.g. ``universal-male-young-maxmuscle-averageweight``)."""
    sex = {"female": 1.0 - body.sex, "male": body.sex}
    age = _age_blend(body.age)
    muscle = _two_sided(body.muscle, "minmuscle", "averagemuscle", "maxmuscle")
    weight = _two_sided(body.weight, "minweight", "averageweight", "maxweight")
    total = body.african + body.asian + body.caucasian
    race = {"african": body.african / total, "asian": body.asian / total, "caucasian": body.caucasian / total}
    out = np.zeros(len(names))
    for k, name in enumerate(names):
        parts = name.split("-")
        if parts[0] == "universal":
            _, s, a, m, w = parts
            out[k] = sex[s] * age[a] * muscle[m] * weight[w]
        else:
            r, s, a = parts
            out[k] = race[r] * sex[s] * age[a]
    return out


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class _Table:
    names: tuple[str, ...]
    targets: NDArray[np.float32]  # (K, n_base, 3), mm, default head frame
    m: sparse.csr_matrix  # head.vtp points ← base vertices
    lm_names: tuple[str, ...]
    lm_vertices: NDArray[np.int64]  # (L, 3) head.vtp point ids
    lm_weights: NDArray[np.float64]  # (L, 3) barycentric
    n_points: int
    default_weights: NDArray[np.float64]


@functools.cache
def _table() -> _Table:
    with np.load(TABLE, allow_pickle=False) as z:
        names = tuple(str(n) for n in z["target_names"])
        rot = np.asarray(z["rotation"], dtype=np.float64)
        raw = z["targets"].astype(np.float32) * np.float32(0.1)  # 1/1000 dm → mm, MakeHuman axes
        # MakeHuman axes (+x model's left, +y up, +z front) → +x right, +y front, +z up → head frame
        raw_mm = np.stack([-raw[..., 0], raw[..., 2], raw[..., 1]], axis=-1)
        targets = (raw_mm @ rot.T.astype(np.float32)).astype(np.float32)
        m = sparse.csr_matrix(
            (z["m_data"].astype(np.float32), z["m_indices"].astype(np.int32), z["m_indptr"]),
            shape=(int(z["n_points"]), targets.shape[1]),
        )
        table = _Table(
            names=names,
            targets=targets,
            m=m,
            lm_names=tuple(str(n) for n in z["lm_names"]),
            lm_vertices=z["lm_vertices"].astype(np.int64),
            lm_weights=z["lm_weights"].astype(np.float64),
            n_points=int(z["n_points"]),
            default_weights=macro_weights(BodyType(), names),
        )
    return table


@dataclass(frozen=True)
class MorphedHead:
    """A body type's head: the bundled head's points moved, in the morphed head's own frame.

    Attributes
    ----------
    body : BodyType
        What was asked for.
    points : ndarray, shape (N, 3)
        Every point of the bundled ``head.vtp``, same order and triangles, head frame (mm).
    landmarks : dict of str to ndarray
        Every bundled landmark carried with the skin (same barycentric place), head frame (mm).
    faces : ndarray, shape (F, 3)
        The bundled head's triangles (point indices; the same for every body type).
    """

    body: BodyType
    points: NDArray[np.float64]
    landmarks: dict[str, NDArray[np.float64]]
    faces: NDArray[np.int64]


@functools.cache
def _bundled() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    from visualizer.head import load_head  # VTK only when the caller did not pass the points

    mesh = load_head().mesh
    return np.asarray(mesh.points, dtype=np.float64), np.asarray(mesh.regular_faces, dtype=np.int64)


def morph(body: BodyType, default_points: NDArray[np.floating[Any]] | None = None) -> MorphedHead:
    """The bundled head reshaped to ``body`` (head frame of the morphed head, mm).

    Parameters
    ----------
    body : BodyType
    default_points : ndarray, shape (N, 3), optional
        The bundled ``head.vtp`` points (default head frame, mm); read from the bundled head if
        not given.
    """
    t = _table()
    bundled_points, faces = _bundled()
    pts = bundled_points if default_points is None else np.asarray(default_points, dtype=np.float64)
    if pts.shape != (t.n_points, 3):
        raise BodyTypeError(f"body types apply to the bundled head only ({t.n_points} points, got {len(pts)})")
    w = macro_weights(body, t.names) - t.default_weights
    used = np.flatnonzero(np.abs(w) > 1e-9)
    if len(used):
        delta = np.tensordot(w[used].astype(np.float32), t.targets[used], axes=1)
        pts = pts + t.m @ delta
    lms = np.einsum("lk,lkc->lc", t.lm_weights, pts[t.lm_vertices])
    landmarks = {n: lms[i] for i, n in enumerate(t.lm_names)}
    frame = HeadFrame.from_landmarks(*(landmarks[n] for n in FRAME_LANDMARKS))
    return MorphedHead(
        body=body,
        points=frame.to_head(pts),
        landmarks={n: frame.to_head(p) for n, p in landmarks.items()},
        faces=faces,
    )
