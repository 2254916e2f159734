"""Serve InjectViz: one app instance (own state, own plotter) per browser connection.

Follows the pattern of ``trame.tools.serve``: a single aiohttp server hands every websocket to a
fresh ``InjectVizApp`` running on trame's "generic" backend.  The head mesh is loaded once per
process and shared read-only.  By default the server never shuts itself down (``--timeout 0``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import traceback
import uuid
import weakref
from collections.abc import Callable
from typing import Any

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

log = logging.getLogger("injectviz.serve")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="app.py",
        description="InjectViz in the browser: plan, show a patient, teach.",
    )
    p.add_argument("--host", default=os.environ.get("TRAME_DEFAULT_HOST", "127.0.0.1"),
                   help="interface to listen on (default 127.0.0.1)")
    p.add_argument("-p", "--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    p.add_argument("--server", action="store_true",
                   help="accepted for trame compatibility: InjectViz never opens a browser")
    p.add_argument("--timeout", type=int, default=0,
                   help="seconds without any browser before the server exits; 0 = never (default)")
    p.add_argument("--protocol", default="preempt", help="protocol id or YAML file (default preempt)")
    p.add_argument("--mesh", default=None, help="head mesh file (default: the bundled head)")
    p.add_argument("--landmarks", default=None, help="landmarks JSON for --mesh")
    p.add_argument("--ws-heart-beat", type=int, default=30, help=argparse.SUPPRESS)
    p.add_argument("--ws-max-size", type=int, default=64 * 1024 * 1024, help=argparse.SUPPRESS)
    return p


class MultiSessionServer:
    """aiohttp server: static client files + one trame app per websocket."""

    def __init__(self, make_app: Callable[[str], Any], *, heartbeat: int = 30,
                 max_msg_size: int = 64 * 1024 * 1024, timeout: int = 0) -> None:
        import aiohttp.web as web

        self.make_app = make_app
        self.ws_options = dict(max_msg_size=max_msg_size, heartbeat=heartbeat)
        self.timeout = max(0, int(timeout))
        self.sessions: dict[str, Any] = {}
        self.port: int | None = None
        self._completion: asyncio.Future | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self.web = web.Application()
        self.web.router.add_route("GET", "/", self._index)
        self.web.router.add_route("GET", "/health", self._health)
        # the trame client first asks a "launcher" for its session URL; answer it directly
        self.web.router.add_route("POST", "/paraview/", self._launcher)
        routes = [web.get("/ws", self._ws)]
        www = make_app("__www__")  # builds the page once: registers every static module
        srv = www.server
        for route in sorted(srv.serve.keys(), reverse=True):
            routes.append(web.static(f"/{route}", srv.serve[route], append_version=True))
        routes.append(web.static("/", srv._www, append_version=True))
        self.web.add_routes(routes)
        self._www_app = www

    async def _index(self, request: Any) -> Any:
        import aiohttp.web as web

        if request.query_string:
            raise web.HTTPFound(f"index.html?{request.query_string}")
        raise web.HTTPFound("index.html")

    async def _launcher(self, request: Any) -> Any:
        import aiohttp.web as web

        scheme = "wss" if request.secure else "ws"
        return web.json_response({"sessionURL": f"{scheme}://{request.host}/ws"})

    async def _health(self, request: Any) -> Any:
        import gc

        import aiohttp.web as web

        gc.collect()
        return web.json_response({"ok": True, "sessions": len(self.sessions), "apps_alive": len(_LIVE_APPS)})

    async def _ws(self, request: Any) -> Any:
        import aiohttp
        import aiohttp.web as web

        name = "iv" + uuid.uuid4().hex[:16]
        self._cancel_idle()
        ws = web.WebSocketResponse(**self.ws_options)
        app = None
        task = None
        connection = None
        try:
            app = self.make_app(name)
            _LIVE_APPS.add(app)
            self.sessions[name] = app
            log.info("+ session %s (%d open)", name, len(self.sessions))
            task = app.server.start(backend="generic", exec_mode="task", open_browser=False,
                                    show_connection_info=False, timeout=0)
            await app.server.ready

            async def to_browser(binary: bool, content: Any) -> None:
                if ws.closed:
                    return
                if binary:
                    await ws.send_bytes(content)
                else:
                    await ws.send_str(content)

            await ws.prepare(request)
            connection = await app.server._server.ws.connect()
            connection.on_message(to_browser)
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    await connection.send(msg.type == aiohttp.WSMsgType.BINARY, msg)
        except Exception:
            log.warning("session %s failed:\n%s", name, traceback.format_exc())
        finally:
            try:
                if connection is not None:
                    await connection.close()
                if app is not None:
                    await app.server.stop()
                if task is not None:
                    await asyncio.wait([task], timeout=5)
            except Exception:
                log.warning("closing session %s:\n%s", name, traceback.format_exc())
            if app is not None:
                try:
                    app.close()
                except Exception:
                    pass
                _forget_server(name)
            self.sessions.pop(name, None)
            log.info("- session %s (%d open)", name, len(self.sessions))
            self._arm_idle()
        return ws

    # --- optional idle shutdown (off by default) ---------------------------------------------
    def _arm_idle(self) -> None:
        if self.timeout and not self.sessions and self._completion is not None:
            loop = asyncio.get_event_loop()
            self._cancel_idle()
            self._idle_handle = loop.call_later(self.timeout, self.stop)

    def _cancel_idle(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    async def run(self, host: str = "127.0.0.1", port: int = 8080,
                  on_ready: Callable[[str, int], None] | None = None) -> None:
        import aiohttp.web as web

        self._completion = asyncio.get_event_loop().create_future()
        runner = web.AppRunner(self.web, handle_signals=True)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        if on_ready:
            on_ready(host, self.port)
        self._arm_idle()
        try:
            await self._completion
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        if self._completion is not None and not self._completion.done():
            self._completion.set_result(True)


_LIVE_APPS: weakref.WeakSet = weakref.WeakSet()


def _forget_server(name: str) -> None:
    """Drop the module-level registries that would keep a closed session's server alive."""
    try:
        from trame.app.core import AVAILABLE_SERVERS

        AVAILABLE_SERVERS.pop(name, None)
    except Exception:
        pass
    try:  # trame-vtk keeps one helper (holding the server and its VTK objects) per server name
        from trame_vtk.modules.vtk import HELPERS_PER_SERVER

        HELPERS_PER_SERVER.pop(name, None)
    except Exception:
        pass


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    args, _unknown = build_parser().parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("injectviz").setLevel(logging.INFO)
    # trame's own argument parser reads sys.argv in every session; keep it to known flags
    sys.argv = sys.argv[:1]
    # quieten VTK's "bad X server connection" probe and keep VTK warnings off the console
    try:
        from vtkmodules.vtkCommonCore import vtkObject

        vtkObject.GlobalWarningDisplayOff()
    except Exception:
        pass

    from visualizer.app.context import AppContext, set_default_context

    try:
        ctx = AppContext.load(protocol=args.protocol, mesh=args.mesh, landmarks=args.landmarks)
    except Exception as exc:
        try:
            from visualizer.errors import InjectVizError
        except Exception:  # pragma: no cover
            InjectVizError = ()  # type: ignore[assignment]
        if isinstance(exc, InjectVizError) or isinstance(exc, (FileNotFoundError, ValueError)):  # type: ignore[arg-type]
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    set_default_context(ctx)

    from visualizer.app.core import InjectVizApp

    def make_app(name: str) -> InjectVizApp:
        from trame.app import get_server

        return InjectVizApp(get_server(name, client_type="vue3"), ctx, page_only=(name == "__www__"))

    def warm_up() -> None:
        """Prepare what the first browser needs (display mesh) while nobody waits for it."""
        try:
            from visualizer.app.core import DISPLAY_CELLS
            from visualizer.scene import display_mesh

            display_mesh(ctx.head, DISPLAY_CELLS)
        except Exception:
            log.warning("warm-up failed:\n%s", traceback.format_exc())

    server = MultiSessionServer(make_app, heartbeat=args.ws_heart_beat,
                                max_msg_size=args.ws_max_size, timeout=args.timeout)

    def ready(host: str, port: int) -> None:
        asyncio.get_event_loop().run_in_executor(None, warm_up)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        print(f"InjectViz ready in {time.perf_counter() - t0:.1f} s "
              f"(head loaded in {ctx.load_seconds:.1f} s)", flush=True)
        print("App running at:", flush=True)
        print(f" - Local:   http://{shown}:{port}/", flush=True)
        print(f"InjectViz running at http://{shown}:{port}/", flush=True)

    try:
        asyncio.run(server.run(args.host, args.port, on_ready=ready))
    except KeyboardInterrupt:
        pass
    return 0
