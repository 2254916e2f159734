"""The landmark registry and the vocabulary protocol files use to name landmarks.

One row per landmark (:data:`LANDMARK_TABLE`): its name, whether it exists once (midline) or once
per side, plain words for patients and how it is found on the default head (the full derivation is
in ``meshes/README.md`` and ``meshes/build_head.py``). The protocol schema, the muscle map, the
head loader and the app read this table; nothing here knows about meshes or coordinates.

A protocol names a sided landmark bare (``tragus``: each side of a bilateral site uses its own),
as ``opposite:tragus`` (the other side's) or in full (``left_tragus``, in midline sites);
:func:`resolve_landmark` turns any of these into a full name for one side.

Examples
--------
>>> resolve_landmark("tragus", "left")
'left_tragus'
>>> landmark_info("gonion").sided
True
>>> "sternal_notch" in MIDLINE_LANDMARKS
True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from visualizer.checks import check_option
from visualizer.errors import ProtocolError, shorten

__all__ = [
    "FRAME_LANDMARKS",
    "LANDMARKS",
    "LANDMARK_TABLE",
    "MIDLINE_LANDMARKS",
    "OPPOSITE_PREFIX",
    "SIDED_LANDMARKS",
    "LandmarkInfo",
    "landmark_info",
    "landmark_problem",
    "resolve_landmark",
]


@dataclass(frozen=True)
class LandmarkInfo:
    """One landmark.

    Attributes
    ----------
    name : str
        Bare name (``"tragus"``); a sided landmark's full names are ``left_<name>``/``right_<name>``.
    sided : bool
        True when the landmark exists once per side.
    plain : str
        Where it is, in plain words.
    found : str
        How it is found on the default head (short; ``meshes/README.md`` has the full rule).
    """

    name: str
    sided: bool
    plain: str
    found: str


#: Every landmark a head provides.
LANDMARK_TABLE: tuple[LandmarkInfo, ...] = (
    LandmarkInfo("nasion", False, "the deepest point of the nose bridge between the eyes",
                 "deepest point of the mid-sagittal profile at eye height"),
    LandmarkInfo("glabella", False, "the point between the eyebrows",
                 "front ray on the midline at orbital-rim height"),
    LandmarkInfo("inion", False, "the bump at the back of the skull (external occipital protuberance)",
                 "steepest point of the back of the mid-sagittal profile between skull and neck"),
    LandmarkInfo("vertex", False, "the top of the head", "highest point of the mid-sagittal profile"),
    LandmarkInfo("c7", False, "the bony bump at the base of the back of the neck (C7 spinous process)",
                 "ray from behind on the midline at the height of MakeHuman's neck joint"),
    LandmarkInfo("tragus", True, "the small flap in front of the ear canal", "MakeHuman vertex 5456 and its mirror"),
    LandmarkInfo("pupil", True, "the front of the eye, on the mid-pupillary line", "front ray through the eyeball"),
    LandmarkInfo("brow_medial", True, "the inner end of the eyebrow",
                 "front ray 16 mm from the midline at orbital-rim height (chosen)"),
    LandmarkInfo("brow_lateral", True, "the outer end of the eyebrow",
                 "front ray 5 mm lateral to the lateral canthus, 3 mm above orbital-rim height (chosen)"),
    LandmarkInfo("orbital_rim", True, "the top of the bony eye socket above the pupil",
                 "front ray on the pupil line 17 mm above the pupil"),
    LandmarkInfo("lateral_canthus", True, "the outer corner of the eye", "outermost eyelash-helper vertex"),
    LandmarkInfo("mastoid", True, "the bony bump behind the ear lobe",
                 "lateral ray 35 mm behind and 20 mm below the tragus"),
    LandmarkInfo("zygomatic_arch", True, "the cheekbone's upper edge in front of the ear",
                 "lateral ray 15 mm in front of and 3 mm above the tragus"),
    LandmarkInfo("acromion", True, "the tip of the shoulder (AC joint)",
                 "ray from above over MakeHuman's shoulder joint"),
    LandmarkInfo("necklace", True, "where the side of the neck bends into the shoulder",
                 "deepest point of the shoulder line under the neck-to-acromion chord"),
    LandmarkInfo("trichion", False, "the middle of the hairline on the forehead",
                 "midline point 58 mm (straight line) above the glabella (chosen; the mesh has no hairline)"),
    LandmarkInfo("menton", False, "the lowest point of the chin",
                 "lowest midline hit of front rays on the chin before they pass under it"),
    LandmarkInfo("sternal_notch", False, "the dip at the base of the front of the neck, above the breastbone",
                 "most concave point of the midline neck profile below the menton"),
    LandmarkInfo("medial_canthus", True, "the inner corner of the eye", "innermost eyelash-helper vertex"),
    LandmarkInfo("temporal_line", True, "where the forehead turns into the temple (temporal fusion line)",
                 "30 mm above the glabella, where the skin turns more than 45° from facing forward (chosen)"),
    LandmarkInfo("oral_commissure", True, "the corner of the mouth",
                 "lateral end of the lip line (where its groove is under 1 mm deep)"),
    LandmarkInfo("mandibular_border", True, "the lower edge of the jaw below the corner of the mouth",
                 "lowest jaw hit of front rays below the mouth corner before they pass under the jaw"),
    LandmarkInfo("gonion", True, "the angle of the jaw, below and in front of the ear lobe",
                 "widest point of the jaw's lower border traced with lateral rays"),
    LandmarkInfo("clavicular_head", True, "the inner end of the collarbone, beside the notch",
                 "front ray 25 mm from the midline, 5 mm below the sternal notch (chosen)"),
)  # fmt: skip

#: Landmarks on the midline (one of each).
MIDLINE_LANDMARKS: tuple[str, ...] = tuple(m.name for m in LANDMARK_TABLE if not m.sided)
#: Landmarks that exist once per side; full names are ``left_<name>`` and ``right_<name>``.
SIDED_LANDMARKS: tuple[str, ...] = tuple(m.name for m in LANDMARK_TABLE if m.sided)
_FULL_SIDED: tuple[str, ...] = tuple(f"{s}_{n}" for s in ("left", "right") for n in SIDED_LANDMARKS)
#: Every full landmark name a head provides.
LANDMARKS: frozenset[str] = frozenset(MIDLINE_LANDMARKS + _FULL_SIDED)
#: Landmarks the head frame is built from (offsets are head-frame directions, so always needed).
FRAME_LANDMARKS: tuple[str, ...] = ("left_tragus", "right_tragus", "nasion")

OPPOSITE_PREFIX = "opposite:"
_OTHER_SIDE = {"left": "right", "right": "left"}
_BY_NAME = {m.name: m for m in LANDMARK_TABLE}


def landmark_info(name: str) -> LandmarkInfo:
    """The registry row of a landmark, by bare (``"tragus"``) or full (``"left_tragus"``) name."""
    bare = name.split("_", 1)[1] if name.startswith(("left_", "right_")) and name.split("_", 1)[1] in _BY_NAME else name
    check_option("landmark", bare, tuple(_BY_NAME))
    return _BY_NAME[bare]


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""


def resolve_landmark(name: str, side: str) -> str:
    """Resolve a landmark name written in a protocol into a full landmark name for one side.

    Parameters
    ----------
    name : str
        As written in the file: a midline name (``"nasion"``), a bare sided name (``"tragus"``,
        resolved to ``side``), ``"opposite:<name>"`` (resolved to the other side) or a full
        sided name (``"left_tragus"``, returned unchanged).
    side : {"left", "right", "midline"}
        The side of the expanded site the name belongs to.

    Returns
    -------
    str
        A name in :data:`LANDMARKS`, e.g. ``"left_tragus"``.

    Raises
    ------
    ProtocolError
        If the name is unknown, or needs a side that a midline site cannot give.

    Examples
    --------
    >>> resolve_landmark("tragus", "left")
    'left_tragus'
    >>> resolve_landmark("opposite:tragus", "left")
    'right_tragus'
    >>> resolve_landmark("nasion", "right")
    'nasion'
    """
    check_option("side", side, ("left", "right", "midline"), error=ProtocolError)
    if name in MIDLINE_LANDMARKS:
        return name
    if name.startswith(OPPOSITE_PREFIX):
        base = name[len(OPPOSITE_PREFIX) :]
        if base not in SIDED_LANDMARKS:
            raise ProtocolError(
                f"landmark {shorten(name)}: {OPPOSITE_PREFIX!r} must be followed by a sided landmark "
                f"({', '.join(SIDED_LANDMARKS)}){_suggest(base, SIDED_LANDMARKS)}"
            )
        if side == "midline":
            raise ProtocolError(f"landmark {shorten(name)}: {OPPOSITE_PREFIX!r} has no meaning in a midline site")
        return f"{_OTHER_SIDE[side]}_{base}"
    if name in SIDED_LANDMARKS:
        if side == "midline":
            raise ProtocolError(
                f"sided landmark {shorten(name)} needs a side in a midline site: write 'left_{name}' or 'right_{name}'"
            )
        return f"{side}_{name}"
    if name in _FULL_SIDED:
        return name
    vocabulary = MIDLINE_LANDMARKS + SIDED_LANDMARKS + _FULL_SIDED
    raise ProtocolError(
        f"unknown landmark {shorten(name)}{_suggest(name, vocabulary) or '.'} "
        f"Midline: {', '.join(MIDLINE_LANDMARKS)}; sided: {', '.join(SIDED_LANDMARKS)} "
        f"(bare in bilateral sites, left_/right_ in midline sites)"
    )


def landmark_problem(name: str, site_side: str) -> str | None:
    """Why ``name`` cannot be used in a site with ``site_side``, or None.

    ``site_side`` is the site's side in the file: ``midline``, ``bilateral``, or ``left``/``right``
    for a one-sided site (whose bare names resolve to its own side).
    """
    if site_side == "bilateral":
        if name in _FULL_SIDED:
            bare = name.split("_", 1)[1]
            return (
                f"a bilateral site must not name one side's landmark {shorten(name)}: write {shorten(bare)} "
                f"(each side uses its own) or '{OPPOSITE_PREFIX}{bare}' (the other side's)"
            )
        sides: tuple[str, ...] = ("left", "right")
    elif site_side in ("left", "right"):
        sides = (site_side,)
    else:
        sides = ("midline",)
    for side in sides:
        try:
            resolve_landmark(name, side)
        except ProtocolError as exc:
            return str(exc)
    return None
