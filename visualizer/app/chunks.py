"""Check wslink chunk headers from a browser before a session process allocates anything.

wslink (``wslink/chunking.py``) splits every message into websocket frames that start with a
12-byte header: message id, offset and total size (three little-endian uint32).  Its receiving
``UnChunker`` allocates ``bytearray(total)`` on the first chunk of a message, and once a client is
authenticated it accepts totals up to 4 GB: a 26-byte frame claiming 700 MB would allocate 700 MB.
``ChunkGuard`` follows one browser connection's frames in the relay and refuses, before they are
forwarded, any frame whose header claims more than the cap, points outside its message, or opens
too many messages at once.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("<III")  # id, offset, total size (wslink.chunking)


class ChunkError(ValueError):
    """A frame that breaks the chunking rules (the connection is closed)."""


class ChunkGuard:
    """Per-connection bookkeeping of partially received wslink messages.

    Parameters
    ----------
    max_message
        Largest message (sum of its chunks) a browser may send, in bytes.
    max_pending
        How many messages may be partially received at the same time.
    """

    def __init__(self, max_message: int, max_pending: int = 8) -> None:
        self.max_message = int(max_message)
        self.max_pending = int(max_pending)
        self._pending: dict[int, list[int]] = {}  # id -> [total, received]

    @property
    def pending_bytes(self) -> int:
        """Bytes the session process holds allocated for incomplete messages."""
        return sum(total for total, _ in self._pending.values())

    def check(self, frame: bytes) -> None:
        """Accept one binary frame or raise ``ChunkError`` saying why not."""
        if len(frame) < HEADER.size:
            raise ChunkError(f"frame of {len(frame)} bytes is shorter than a chunk header")
        mid, offset, total = HEADER.unpack_from(frame)
        size = len(frame) - HEADER.size
        if total > self.max_message:
            raise ChunkError(f"chunk header claims a {total}-byte message (limit {self.max_message})")
        if offset + size > total:
            raise ChunkError(f"chunk at offset {offset} with {size} bytes overruns its {total}-byte message")
        entry = self._pending.get(mid)
        if entry is None:
            if len(self._pending) >= self.max_pending:
                raise ChunkError(f"more than {self.max_pending} messages open at once")
            if self.pending_bytes + total > 2 * self.max_message:
                raise ChunkError("too many bytes announced by unfinished messages")
            entry = self._pending[mid] = [total, 0]
        elif entry[0] != total:
            raise ChunkError("chunks of one message announce different sizes")
        entry[1] += size
        if entry[1] >= total:
            del self._pending[mid]
