"""What the patient view says about a plan: how long the session takes and the aftercare.

The figures come from the protocol file's ``patient`` section (cited there); a protocol file
without one gets the generic text below, which always carries the boxed warning on the distant
spread of toxin effect (it applies to every botulinum toxin product).
"""

from __future__ import annotations

from dataclasses import dataclass

from visualizer.protocol import Aftercare, PatientInfo, Protocol, Source

ROUND_TO_MINUTES = 5

BOXED_WARNING_SOURCE = Source(
    citation="BOTOX prescribing information, boxed warning: distant spread of toxin effect "
    "(swallowing and breathing difficulties, muscle weakness, ptosis, diplopia), reported "
    "hours to weeks after injection; applies to all botulinum toxin products",
    url="https://api.fda.gov/drug/label.json?search=openfda.generic_name%3A%22Onabotulinumtoxina%22",
)

GENERIC = PatientInfo(
    setup_minutes=8,
    seconds_per_site=15,
    duration_note="Chosen, not published: 8 minutes of preparation plus 15 s per injection "
    "(this protocol file gives no figures of its own).",
    aftercare=Aftercare(
        normal=[
            "Some soreness, redness or a small bruise where the needle went in is common and settles within a few days."
        ],
        starts_to_work="Ask your injector when to expect the effect for this treatment.",
        come_back="Ask your injector when to come back.",
        urgent=[
            "Get medical help straight away if you have trouble swallowing, speaking or breathing.",
            "Also straight away for new muscle weakness anywhere in the body, a drooping eyelid, "
            "or double or blurred vision.",
            "These signs of the toxin spreading can start hours to weeks after the injections.",
        ],
        sources=[BOXED_WARNING_SOURCE],
    ),
)


@dataclass(frozen=True)
class PatientSummary:
    """The patient view's text for one plan."""

    minutes: int
    duration: str  # "About 15 minutes (an estimate)"
    duration_note: str
    normal: tuple[str, ...]
    starts_to_work: str
    come_back: str
    urgent: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]  # (citation, url)


def session_minutes(info: PatientInfo, n_sites: int) -> int:
    """Estimated session length: preparation + time per injection, rounded to 5 minutes (>= 5)."""
    raw = float(info.setup_minutes) + float(info.seconds_per_site) * max(int(n_sites), 0) / 60.0
    return max(ROUND_TO_MINUTES, round(raw / ROUND_TO_MINUTES) * ROUND_TO_MINUTES)


def patient_summary(protocol: Protocol, n_sites: int) -> PatientSummary:
    """Duration estimate for ``n_sites`` injections and the protocol's aftercare."""
    info = protocol.patient or GENERIC
    minutes = session_minutes(info, n_sites)
    care = info.aftercare
    return PatientSummary(
        minutes=minutes,
        duration=f"About {minutes} minutes (an estimate from the number of injections)",
        duration_note=info.duration_note,
        normal=tuple(care.normal),
        starts_to_work=care.starts_to_work,
        come_back=care.come_back,
        urgent=tuple(care.urgent),
        sources=tuple((s.citation, s.url) for s in care.sources),
    )
