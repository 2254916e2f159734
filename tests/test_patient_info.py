"""The patient view's session length and aftercare come from the protocol files, with sources."""

from __future__ import annotations

import pytest

import visualizer as engine
from visualizer.patient_info import GENERIC, patient_summary, session_minutes

BOXED = ("swallowing", "speaking", "breathing", "muscle weakness", "drooping eyelid")


@pytest.mark.parametrize(
    ("protocol", "sites", "minutes"),
    [
        ("glabellar", 5, 10),
        ("lateral-canthal", 6, 10),
        ("forehead", 5, 10),
        ("preempt", 31, 15),
        ("preempt-ftp", 39, 20),
    ],
)
def test_duration_depends_on_the_protocol_and_is_an_estimate(protocol, sites, minutes):
    p = engine.load_protocol(protocol)
    s = patient_summary(p, sites)
    assert s.minutes == minutes
    assert "estimate" in s.duration and f"{minutes} minutes" in s.duration
    assert "not published" in s.duration_note.lower()


def test_rounding_and_limits():
    assert session_minutes(GENERIC, 0) == 10  # 8 minutes of preparation
    assert session_minutes(GENERIC, 200) == 60  # 8 + 50 = 58 -> 60
    assert session_minutes(GENERIC, -3) == 10


@pytest.mark.parametrize("protocol", ["glabellar", "lateral-canthal", "forehead", "preempt", "preempt-ftp"])
def test_every_bundled_protocol_has_cited_aftercare_with_the_boxed_warning(protocol):
    p = engine.load_protocol(protocol)
    assert p.patient is not None, "bundled protocols give their own patient figures"
    s = patient_summary(p, 10)
    urgent = " ".join(s.urgent).lower()
    for word in BOXED:
        assert word in urgent, word
    assert s.normal and s.starts_to_work and s.come_back
    urls = [u for _, u in s.sources]
    assert any("api.fda.gov" in u for u in urls), "the boxed warning cites the label"
    assert len(urls) >= 3 and all(u.startswith(("http://", "https://")) for u in urls)


def test_migraine_and_cosmetic_aftercare_differ():
    mig = patient_summary(engine.load_protocol("preempt"), 31)
    cos = patient_summary(engine.load_protocol("glabellar"), 5)
    assert "12 weeks" in mig.come_back and "3 months" in cos.come_back
    assert "weeks" in mig.starts_to_work and "days" in cos.starts_to_work


def test_a_protocol_file_without_patient_figures_gets_the_warning_anyway(tmp_path):
    src = (engine.protocol.PROTOCOLS_DIR / "glabellar.yaml").read_text()
    start = src.index("\npatient:\n")
    end = src.index("\nsites:\n")
    path = tmp_path / "glabellar.yaml"
    path.write_text(src[:start] + src[end:])
    p = engine.load_protocol(str(path))
    assert p.patient is None
    s = patient_summary(p, 5)
    assert all(w in " ".join(s.urgent).lower() for w in BOXED)
    assert "ask your injector" in s.come_back.lower()


def test_a_malformed_patient_section_is_refused_with_the_field_named(tmp_path):
    src = (engine.protocol.PROTOCOLS_DIR / "glabellar.yaml").read_text()
    path = tmp_path / "glabellar.yaml"
    path.write_text(src.replace("  seconds_per_site: 15", '  seconds_per_site: "fast"', 1))
    with pytest.raises(engine.ProtocolError, match="seconds_per_site"):
        engine.load_protocol(str(path))
