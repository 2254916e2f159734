"""The muscle registry: one row per muscle a protocol may name.

Everything that needs to know about a muscle reads this table: the protocol schema (which names a
site may use, which muscles follow-the-pain may use), the muscle map (the order of the codes stored
in the mesh's ``muscle`` point array and the rule that draws each area), safety, pain, the scene
(colours) and the app (display names, plain words). Adding a muscle means adding its row here and
its area rule in :mod:`visualizer.muscle_map` — nothing else.

The order of :data:`MUSCLE_TABLE` is the order of the codes in ``meshes/head.vtp`` (code 0 is
"none"): append new rows, never reorder.

Examples
--------
>>> muscle_info("trapezius").display
'Trapezius'
>>> muscle_info("cervical_paraspinal").ftp
False
>>> "procerus" in MUSCLES
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from visualizer.checks import check_option

__all__ = [
    "FTP_MUSCLES",
    "MUSCLES",
    "MUSCLE_TABLE",
    "PAIN_REGIONS",
    "REGIONS",
    "REGION_WORDS",
    "MuscleInfo",
    "area_words",
    "muscle_info",
    "muscles_in_region",
    "pain_region_muscles",
]

#: Body regions a muscle belongs to (the pain regions of :mod:`visualizer.pain` are the first five).
Region = Literal["frontal", "temporal", "occipital", "neck", "shoulder", "periorbital", "jaw", "lower_face"]
REGIONS: tuple[str, ...] = ("frontal", "temporal", "occipital", "neck", "shoulder", "periorbital", "jaw", "lower_face")
#: The regions a patient's usual pain origin is given in (:mod:`visualizer.pain`).
PAIN_REGIONS: tuple[str, ...] = REGIONS[:5]
#: Each region in plain words ("a left temple" pain origin).
REGION_WORDS: dict[str, str] = {
    "frontal": "forehead",
    "temporal": "temple",
    "occipital": "back of the head",
    "neck": "neck",
    "shoulder": "shoulder",
    "periorbital": "area around the eye",
    "jaw": "jaw",
    "lower_face": "mouth and chin",
}

_PREEMPT_FTP = "Blumenfeld 2010: PREEMPT allows follow-the-pain only in temporalis, occipitalis and trapezius"


@dataclass(frozen=True)
class MuscleInfo:
    """One muscle.

    Attributes
    ----------
    name : str
        snake_case name used in protocol files and plans.
    display : str
        Name shown to clinicians (``"Sternocleidomastoid"``).
    plain : str
        Plain words for patients; ``{side}`` is filled in (``"{side} temple"``).
    colour : tuple of int
        Marker colour (RGB 0–255); the area tint is a lighter version of it.
    region : str
        Body region (one of :data:`REGIONS`).
    ftp : bool
        Whether follow-the-pain sites may go into this muscle.
    no_ftp_reason : str
        Why not, with its source (shown when a file asks for FTP here); empty when ``ftp``.
    area : str
        The boundary rule that draws the muscle's area on the skin, in words, with its source
        (the code is in :mod:`visualizer.muscle_map`).
    """

    name: str
    display: str
    plain: str
    colour: tuple[int, int, int]
    region: Region
    ftp: bool
    no_ftp_reason: str
    area: str


#: Every muscle, in code order (the mesh's ``muscle`` array stores 1 + the row index; 0 is "none").
MUSCLE_TABLE: tuple[MuscleInfo, ...] = (
    MuscleInfo(
        "frontalis", "Frontalis", "{side} forehead", (31, 119, 180), "frontal", False, _PREEMPT_FTP,
        "the forehead from the brows up to the hairline (trichion), side to side between the temporal "
        "fusion lines (BOTOX Cosmetic forehead-lines method: sites 0.5–1.5 cm medial to the fusion lines)",
    ),
    MuscleInfo(
        "corrugator", "Corrugator", "{side} inner eyebrow", (148, 103, 189), "frontal", False, _PREEMPT_FTP,
        "over the medial brow: from the bone just above the nasal root out to the mid-pupillary line, "
        "from the orbital rim up about 15 mm (e-mastr forehead dissection: origin medial on bone, tail "
        "in the mid-brow)",
    ),
    MuscleInfo(
        "procerus", "Procerus", "between the eyebrows, just above the nose", (227, 119, 194), "frontal", False,
        _PREEMPT_FTP,
        "the nasal root between the medial canthi, from the nasion up to just above the glabella",
    ),
    MuscleInfo(
        "temporalis", "Temporalis", "{side} temple", (44, 160, 44), "temporal", True, "",
        "the fan inside the temporal fusion line, above the zygomatic arch, from behind the lateral orbital "
        "rim back over the ear (Choi 2016, Toxins 8(9):265; Lee 2017 width:height about 5:4)",
    ),
    MuscleInfo(
        "occipitalis", "Occipitalis", "back of the head, {side}", (150, 150, 0), "occipital", True, "",
        "two bellies on the back of the skull above the superior nuchal line (inion to mastoid), either side "
        "of the midline, reaching about 6 cm up ([c] PREEMPT: sites primarily above the occipital ridge)",
    ),
    MuscleInfo(
        "cervical_paraspinal", "Cervical paraspinal", "back of the neck, {side}", (23, 190, 207), "neck", False,
        "PREEMPT gives no FTP in the neck (Blumenfeld 2010)",
        "the back of the neck beside the midline, from the base of the skull down towards C7, about 3 cm "
        "either side ([d] PREEMPT: upper neck at the base of the skull)",
    ),
    MuscleInfo(
        "trapezius", "Trapezius", "{side} shoulder", (255, 127, 14), "shoulder", True, "",
        "the upper trapezius from the occiput down the back of the neck and over the top of the shoulder to "
        "the acromion (Blumenfeld 2017: supraclavicular part, necklace line to the AC joint)",
    ),
    MuscleInfo(
        "orbicularis_oculi", "Orbicularis oculi", "outer corner of the {side} eye", (0, 128, 128), "periorbital",
        False, _PREEMPT_FTP,
        "a ring around the orbit about 12–15 mm wide, outside the eyelids; the lateral part (crow's feet) "
        "reaches about 2 cm beyond the lateral canthus (Gladstone oculoplastic atlas: sites 1 cm apart)",
    ),
    MuscleInfo(
        "sternocleidomastoid", "Sternocleidomastoid", "{side} side of the neck", (214, 97, 140), "neck", False,
        "PREEMPT gives no FTP in the neck (Blumenfeld 2010)",
        "a band about 3 cm wide from the mastoid process down and forward to the sternal notch (sternal head) "
        "and the medial clavicle (clavicular head)",
    ),
    MuscleInfo(
        "splenius_capitis", "Splenius capitis", "back of the neck, {side}, high up", (0, 114, 178), "neck", False,
        "PREEMPT gives no FTP in the neck (Blumenfeld 2010)",
        "the back and side of the upper neck between the trapezius and the sternocleidomastoid, from below "
        "the mastoid and the lateral superior nuchal line down towards C7",
    ),
    MuscleInfo(
        "levator_scapulae", "Levator scapulae", "{side} side of the neck, low and at the back", (86, 180, 233),
        "neck", False, "PREEMPT gives no FTP in the neck (Blumenfeld 2010)",
        "the lower side of the neck behind the sternocleidomastoid, down to the top of the shoulder blade "
        "(in front of the upper trapezius border)",
    ),
    MuscleInfo(
        "scalenes", "Scalenes", "{side} side of the neck, low and in front", (204, 121, 167), "neck", False,
        "PREEMPT gives no FTP in the neck (Blumenfeld 2010)",
        "the lower side of the neck behind the clavicular head of the sternocleidomastoid, above the clavicle",
    ),
    MuscleInfo(
        "masseter", "Masseter", "{side} jaw, at the back of the cheek", (0, 158, 115), "jaw", False, _PREEMPT_FTP,
        "the jaw from the zygomatic arch down to the angle (gonion) and lower border of the mandible, from in "
        "front of the jaw joint forward about 3 cm; inject about 1 cm above the mandibular border "
        "(nasafordoctors masseter guide)",
    ),
    MuscleInfo(
        "platysma", "Platysma", "front and {side} side of the neck", (128, 0, 0), "neck", False,
        "PREEMPT gives no FTP in the neck (Blumenfeld 2010)",
        "a thin sheet over the front and sides of the neck from the mandibular border down to the clavicles",
    ),
    MuscleInfo(
        "depressor_anguli_oris", "Depressor anguli oris", "below the {side} corner of the mouth", (230, 159, 0),
        "lower_face", False, _PREEMPT_FTP,
        "a triangle from the mouth corner (oral commissure) down to the mandibular border, lateral to the chin",
    ),
    MuscleInfo(
        "mentalis", "Mentalis", "the chin", (120, 94, 240), "lower_face", False, _PREEMPT_FTP,
        "the chin either side of the midline, above the menton and below the lower lip",
    ),
)  # fmt: skip

#: Muscle names (snake_case) a site may name, in code order.
MUSCLES: tuple[str, ...] = tuple(m.name for m in MUSCLE_TABLE)
#: Muscles follow-the-pain sites may go into.
FTP_MUSCLES: frozenset[str] = frozenset(m.name for m in MUSCLE_TABLE if m.ftp)
_BY_NAME = {m.name: m for m in MUSCLE_TABLE}


def muscle_info(name: str) -> MuscleInfo:
    """The registry row of a muscle; ``ValueError`` (naming the allowed ones) for an unknown name."""
    check_option("muscle", name, MUSCLES)
    return _BY_NAME[name]


def muscles_in_region(region: str) -> tuple[str, ...]:
    """Muscles of one body region, in code order."""
    check_option("region", region, REGIONS)
    return tuple(m.name for m in MUSCLE_TABLE if m.region == region)


#: Neck muscles whose areas are not part of the "neck" pain region: a headache patient's neck pain
#: is the back of the neck (PREEMPT's cervical paraspinal sites, Blumenfeld 2010), not the front
#: and side muscles of the cervical dystonia and platysma patterns.
_OUTSIDE_PAIN_AREA = frozenset({"sternocleidomastoid", "splenius_capitis", "levator_scapulae", "scalenes", "platysma"})


def pain_region_muscles(region: str) -> tuple[str, ...]:
    """Muscles whose areas make up a pain region (one of :data:`PAIN_REGIONS`), in code order."""
    check_option("pain region", region, PAIN_REGIONS)
    return tuple(m for m in muscles_in_region(region) if m not in _OUTSIDE_PAIN_AREA)


_PREPOSITIONS = ("between ", "below ", "above ", "behind ", "in front of ")


def area_words(muscle: str, side: str) -> str:
    """A point on a muscle's area in plain words, from its registry ``plain`` words.

    ``side`` is ``left``, ``right`` or ``midline``.

    Examples
    --------
    >>> area_words("occipitalis", "right")
    'a point on the right back of the head'
    >>> area_words("frontalis", "midline")
    'a point on the middle of the forehead'
    >>> area_words("procerus", "midline")
    'a point between the eyebrows, just above the nose'
    """
    plain = muscle_info(muscle).plain
    if ", {side}" in plain:  # "back of the head, {side}" -> "{side} back of the head"
        plain = "{side} " + plain.replace(", {side}", "")
    text = " ".join(plain.format(side=side if side in ("left", "right") else "").split())
    if text.startswith(_PREPOSITIONS):
        return f"a point {text}"
    if text.startswith("the "):
        return f"a point on {text}"
    return f"a point on the {'middle of the ' if side == 'midline' else ''}{text}"
