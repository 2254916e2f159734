"""Plain words for people: sites, muscles, landmarks and points on the head.

Messages and page texts never show internal ids (``ftp_temporalis_1_left``) or raw coordinates;
they use these words. Points are read in the **head frame** (via ``Head.frame``) to tell left
from right; the muscle under a point comes from the head's muscle map.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from visualizer.head import Head
from visualizer.landmarks import LANDMARK_TABLE
from visualizer.muscles import MUSCLE_TABLE, MUSCLES, area_words

#: Plain words for a site of each muscle (``{side}`` is filled in: left, right or centre): the
#: registry's ``plain`` column (:data:`visualizer.muscles.MUSCLE_TABLE`).
SITE_WORDS: dict[str, str] = {m.name: m.plain for m in MUSCLE_TABLE}

#: Where each landmark is, in plain words: the registry's ``plain`` column
#: (:data:`visualizer.landmarks.LANDMARK_TABLE`), by bare name.
LANDMARK_GLOSS: dict[str, str] = {m.name: m.plain for m in LANDMARK_TABLE}

MIDLINE_MM = 8.0  # a point this close to the midplane (head frame x) is "in the middle"


def muscle_words(muscle: str) -> str:
    """``cervical_paraspinal`` → ``cervical paraspinal``."""
    return str(muscle).replace("_", " ")


def site_words(muscle: str, side: str) -> str:
    """A site of ``muscle`` on ``side`` (left/right/midline) in plain words, capitalised."""
    text = SITE_WORDS.get(muscle, muscle_words(muscle) + ", {side}")
    return text.format(side=side if side != "midline" else "centre").strip().capitalize()


def landmark_words(name: str) -> str:
    """``left_orbital_rim`` → ``left orbital rim``; ``c7`` → ``C7 vertebra``."""
    if name == "c7":
        return "C7 vertebra"
    return str(name).replace("_", " ")


def landmark_title(name: str) -> str:
    """Name plus gloss, for a list a user picks from: "left orbital rim (the top of the bony eye socket ...)"."""
    base = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
    gloss = LANDMARK_GLOSS.get(base)
    words = landmark_words(name)
    return f"{words} ({gloss})" if gloss and not gloss.startswith(words) else words


def side_of(head: Head, point: ArrayLike) -> str:
    """``left``, ``right`` or ``midline`` for a mesh-frame point (head-frame x)."""
    x = float(head.frame.to_head(np.asarray(point, dtype=float))[0])
    if abs(x) <= MIDLINE_MM * head.size_scale:
        return "midline"
    return "right" if x > 0 else "left"


def point_words(head: Head, point: Sequence[float] | ArrayLike) -> str:
    """A point on the head (mesh frame, mm) in plain words: "a point on the left temple".

    Uses the muscle area under the point; off the mapped areas, the nearest landmark.
    """
    p = np.asarray(point, dtype=float)
    side = side_of(head, p)
    muscle = head.muscle_at(p)
    if muscle in MUSCLES:
        return area_words(muscle, side)
    if head.landmarks:
        names = sorted(head.landmarks)
        d = [float(np.linalg.norm(np.asarray(head.landmarks[n]) - p)) for n in names]
        name = names[int(np.argmin(d))]
        return f"a point near the {landmark_words(name)}"
    return "a point on the head"
