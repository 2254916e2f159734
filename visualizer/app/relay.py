"""Forward one browser websocket to its own session process (and back).

Follows wslink's aiohttp relay (``wslink/backends/aiohttp/relay.py``, "forward" mode: a browser
websocket is paired with a client websocket to ``ws://host:port/ws``), with what a public front
needs on top:

* the browser side has a small ``max_msg_size`` (one wslink chunk plus its header), no
  compression (no decompression bombs), and a heartbeat;
* every browser frame must be a binary wslink chunk whose header passes ``ChunkGuard`` before it
  is forwarded; a text frame or a bad header closes that connection (the front and every other
  session carry on);
* when the session process goes away, the browser websocket is closed at once (code 1011), so the
  page learns of it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from aiohttp import web

from visualizer.app.chunks import ChunkError, ChunkGuard

log = logging.getLogger("injectviz.relay")

HEADER_ROOM = 4096  # wslink's MSG_OVERHEAD: a chunk's header and framing on top of the chunk size
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_SESSION_ENDED = 1011


def cut(data: Any, limit: int = 120) -> str:
    """A short, printable quote of a payload for a log line."""
    text = repr(data[:limit]) if isinstance(data, (bytes, bytearray, str)) else repr(data)[:limit]
    size = len(data) if isinstance(data, (bytes, bytearray, str)) else 0
    return f"{text[:limit]}{'...' if size > limit else ''} ({size} bytes)"


async def relay(
    request: web.Request,
    upstream_url: str,
    *,
    client: aiohttp.ClientSession,
    frame: int,
    max_message: int,
    heartbeat: float = 30.0,
    name: str = "",
) -> web.WebSocketResponse:
    """Serve ``request`` (a browser websocket upgrade) by forwarding it to ``upstream_url``.

    Parameters
    ----------
    frame
        wslink chunk size of the session process; browser frames larger than this (plus header
        room) close the connection before they are read into memory.
    max_message
        Largest message (all chunks) a browser may announce.
    """
    try:
        upstream = await client.ws_connect(
            upstream_url, compress=0, max_msg_size=4 * (frame + HEADER_ROOM), heartbeat=None, autoping=True
        )
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        log.warning("session %s: cannot reach its process (%s)", name, type(exc).__name__)
        raise web.HTTPServiceUnavailable(text="This session has ended: reload the page.") from None
    browser = web.WebSocketResponse(max_msg_size=frame + HEADER_ROOM, compress=False, heartbeat=heartbeat)
    await browser.prepare(request)
    guard = ChunkGuard(max_message)

    async def browser_to_session() -> None:
        async for msg in browser:
            if msg.type == aiohttp.WSMsgType.BINARY:
                try:
                    guard.check(msg.data)
                except ChunkError as exc:
                    log.warning(
                        "session %s: browser frame refused, connection closed: %s; frame %s",
                        name,
                        exc,
                        cut(msg.data, 32),
                    )
                    await browser.close(code=CLOSE_TOO_BIG, message=b"message refused")
                    return
                await upstream.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                log.warning("session %s: text frame refused, connection closed: %s", name, cut(msg.data))
                await browser.close(code=CLOSE_POLICY, message=b"binary wslink frames only")
                return
            elif msg.type == aiohttp.WSMsgType.ERROR:
                log.warning("session %s: browser connection error: %s", name, cut(str(browser.exception())))
                return

    async def session_to_browser() -> None:
        async for msg in upstream:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await browser.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await browser.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.ERROR:
                return

    tasks = [asyncio.ensure_future(browser_to_session()), asyncio.ensure_future(session_to_browser())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        session_ended = tasks[1] in done
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                exc = t.exception()
                log.warning("session %s: relay stopped (%s: %s)", name, type(exc).__name__, cut(str(exc)))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not browser.closed:
            await browser.close(
                code=CLOSE_SESSION_ENDED if session_ended else aiohttp.WSCloseCode.GOING_AWAY,
                message=b"session ended" if session_ended else b"",
            )
        if not upstream.closed:
            await upstream.close()
    return browser
