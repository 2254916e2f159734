"""Which web origins may open a session through the front server."""

from __future__ import annotations

import pytest

from visualizer.app.origins import OriginPolicy, normalize


def test_own_origin_and_its_loopback_aliases_are_allowed_others_not():
    p = OriginPolicy("127.0.0.1", 8080)
    for ok in ("http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "HTTP://LOCALHOST:8080/"):
        assert p.allows(ok), ok
    for bad in (
        None,
        "",
        "null",
        "http://evil.example:8080",
        "http://127.0.0.1:8081",
        "https://127.0.0.1:8080",
        "http://127.0.0.1.evil.example:8080",
        "http://localhost:8080/path",
        "file://",
    ):
        assert not p.allows(bad), bad


def test_allow_origin_adds_an_origin_and_rejects_non_origins():
    p = OriginPolicy("127.0.0.1", 8080, ["https://viz.clinic.example"])
    assert p.allows("https://viz.clinic.example:443")
    with pytest.raises(ValueError, match="not an origin"):
        OriginPolicy("127.0.0.1", 8080, ["viz.clinic.example"])


def test_a_specific_host_allows_only_itself():
    p = OriginPolicy("192.0.2.5", 9000)
    assert p.allows("http://192.0.2.5:9000")
    assert not p.allows("http://localhost:9000")


def test_normalize():
    assert normalize("http://Example.org") == "http://example.org:80"
    assert normalize("ws://example.org") is None
