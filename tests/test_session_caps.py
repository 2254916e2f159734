"""The session process's own cap on wslink messages (behind the relay's ChunkGuard)."""

from __future__ import annotations

import struct

import pytest


def test_wslink_unchunker_is_capped_even_after_authentication(monkeypatch):
    import wslink.protocol as wp

    from visualizer.app.worker import cap_wslink_messages

    monkeypatch.setattr(wp, "UnChunker", wp.UnChunker)  # restored after the test
    cap_wslink_messages(4 * 1024 * 1024)
    unchunker = wp.UnChunker()
    unchunker.set_max_message_size(4 * 1024 * 1024 * 1024)  # what wslink does after wslink.hello
    header = struct.pack("<III", 1, 0, 700 * 1024 * 1024)  # 26 bytes claiming 700 MB
    with pytest.raises(ValueError, match="exceeds the allocation limit"):
        unchunker.process_chunk(header + b"x" * 14)
    assert unchunker.pending_messages == {}
