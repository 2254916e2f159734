"""Are a head's landmarks plausible? Compare them with a reference head's (e.g. the bundled one).

A landmark moved by hand (the web app's landmark mode) or read from a file can be wrong: the
nasion put on the nose tip, an orbital rim above the eyebrow, a tragus on the cheek. Each
landmark is predicted from the *other* landmarks by the similarity transform (rotation, uniform
scale, translation; Umeyama 1991) that best maps the reference head's landmarks onto this head's;
one farther than :data:`MAX_OFF_MM` (scaled to the head) from its prediction is flagged. Two
anatomical rules are read in the reference head's frame (+z up, +y front) after that alignment.

Inputs are mesh-frame millimetres of each head; findings are :class:`visualizer.plan.Finding`
with ``severity="warning"`` and the landmark names in ``landmarks``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from visualizer.head import Head
from visualizer.plan import Finding
from visualizer.words import LANDMARK_GLOSS, landmark_words

MAX_OFF_MM = 25.0  # a landmark this far from where the others put it is implausible
RIM_ABOVE_BROW_MM = 5.0  # an orbital rim this far above the brow line is implausible
NASION_BELOW_PUPILS_MM = 15.0  # a nasion this far below the pupils is on the nose, not its bridge
NASION_AHEAD_OF_GLABELLA_MM = 10.0  # ... or this far in front of the glabella

LANDMARK_FAR = "landmark_far_from_expected"
NASION_ON_NOSE = "nasion_on_nose"
RIM_ABOVE_BROW = "orbital_rim_above_brow"


def similarity_fit(
    src: NDArray[np.float64], dst: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Scale ``s``, rotation ``R`` and translation ``t`` minimising ``|s R src + t - dst|²`` (Umeyama)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    r = u @ np.diag(sign) @ vt
    var = float((a**2).sum() / len(src))
    s = float((d * sign).sum() / var) if var > 0 else 1.0
    return s, r, mu_d - s * r @ mu_s


def _gloss(name: str) -> str:
    base = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
    g = LANDMARK_GLOSS.get(base)
    return f": it belongs at {g}" if g else ": check where it is"


def check_landmarks(head: Head, reference: Head | Mapping[str, NDArray[np.float64]]) -> list[Finding]:
    """Warnings for landmarks of ``head`` that break plausibility against ``reference``.

    ``reference`` is a head (or its landmark mapping, mesh frame mm) whose landmarks are right,
    e.g. the bundled head or this head before its landmarks were moved.
    """
    ref_lm = reference.landmarks if isinstance(reference, Head) else reference
    names = sorted(n for n in head.landmarks if n in ref_lm)
    if len(names) < 5:
        return []
    cur = np.array([head.landmarks[n] for n in names], dtype=float)
    ref = np.array([ref_lm[n] for n in names], dtype=float)
    flagged: set[int] = set()
    off = np.zeros(len(names))
    scale = 1.0
    for _ in range(3):  # refit without the landmarks found off, so one bad point does not hide in the fit
        new: set[int] = set()
        for i in range(len(names)):
            keep = [j for j in range(len(names)) if j != i and j not in flagged]
            s, r, t = similarity_fit(ref[keep], cur[keep])
            off[i] = float(np.linalg.norm(s * r @ ref[i] + t - cur[i]))
            scale = s
            if off[i] > MAX_OFF_MM * s:
                new.add(i)
        if new == flagged:
            break
        flagged = new
    findings = [
        Finding(
            LANDMARK_FAR,
            "warning",
            f"The {landmark_words(names[i])} is {off[i]:.0f} mm from where the other landmarks put it "
            f"(more than {MAX_OFF_MM * scale:.0f} mm){_gloss(names[i])}.",
            landmarks=(names[i],),
        )
        for i in sorted(flagged, key=lambda i: -off[i])
    ]
    # anatomical rules in the reference frame, after aligning this head onto the reference
    good = [j for j in range(len(names)) if j not in flagged] or list(range(len(names)))
    s, r, t = similarity_fit(cur[good], ref[good])
    frame = reference.frame if isinstance(reference, Head) else head.frame
    aligned = {n: frame.to_head(s * r @ cur[i] + t) / s for i, n in enumerate(names)}
    seen = {f.landmarks[0] for f in findings}
    if "nasion" in aligned and "nasion" not in seen:
        nas = aligned["nasion"]
        pupils = [aligned[k] for k in ("left_pupil", "right_pupil") if k in aligned]
        below = (np.mean([p[2] for p in pupils]) - nas[2]) if pupils else 0.0
        ahead = nas[1] - aligned["glabella"][1] if "glabella" in aligned else 0.0
        if below > NASION_BELOW_PUPILS_MM or ahead > NASION_AHEAD_OF_GLABELLA_MM:
            findings.append(
                Finding(
                    NASION_ON_NOSE,
                    "warning",
                    f"The nasion is {max(below, 0):.0f} mm below the pupils and {max(ahead, 0):.0f} mm in front of "
                    "the glabella: it looks placed on the nose; it belongs at the bridge of the nose, "
                    "between the eyes.",
                    landmarks=("nasion",),
                )
            )
    for side in ("left", "right"):
        rim, brows = f"{side}_orbital_rim", [f"{side}_brow_medial", f"{side}_brow_lateral"]
        if rim in aligned and all(b in aligned for b in brows):
            brow_z = max(aligned[b][2] for b in brows)
            above = aligned[rim][2] - brow_z
            if above > RIM_ABOVE_BROW_MM:
                findings.append(
                    Finding(
                        RIM_ABOVE_BROW,
                        "warning",
                        f"The {landmark_words(rim)} is {above:.0f} mm above the {side} eyebrow: the rim is the upper "
                        "edge of the eye socket, at or below the brow.",
                        landmarks=(rim,),
                    )
                )
    return findings
