"""The relay's wslink chunk-header guard: what a browser frame may claim before it is forwarded."""

from __future__ import annotations

import pytest

from visualizer.app.chunks import HEADER, ChunkError, ChunkGuard

MB = 1024 * 1024


def frame(mid: int, offset: int, total: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(mid, offset, total) + payload


def test_a_normal_message_in_chunks_passes_and_is_forgotten_when_complete():
    g = ChunkGuard(4 * MB)
    g.check(frame(7, 0, 10, b"01234"))
    assert g.pending_bytes == 10
    g.check(frame(7, 5, 10, b"56789"))
    assert g.pending_bytes == 0


def test_a_26_byte_frame_claiming_700_mb_is_refused():
    g = ChunkGuard(4 * MB)
    with pytest.raises(ChunkError, match="734003200-byte message"):
        g.check(frame(1, 0, 700 * MB, b"x" * 14))
    assert g.pending_bytes == 0


@pytest.mark.parametrize(
    ("frames", "needle"),
    [
        ([b"short"], "shorter than a chunk header"),
        ([frame(1, 8, 10, b"xyz")], "overruns"),
        ([frame(1, 0, 100, b"a"), frame(1, 1, 200, b"b")], "different sizes"),
        ([frame(i, 0, 100, b"a") for i in range(9)], "messages open at once"),
        ([frame(i, 0, 3 * MB, b"a") for i in range(3)], "too many bytes"),
    ],
)
def test_bad_chunk_sequences_are_refused(frames, needle):
    g = ChunkGuard(4 * MB)
    with pytest.raises(ChunkError, match=needle):
        for f in frames:
            g.check(f)
