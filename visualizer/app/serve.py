"""``python app.py``: the front server - one port, one process per browser session.

trame's production model (a launcher starting a dedicated process per session, as in Kitware's
trame images) behind a single aiohttp port:

* ``GET /``, ``/index.html`` and the client's static files (a 503 "busy" page when every session
  slot is taken);
* ``POST /paraview/`` - the launcher the trame client calls first (wslink launcher protocol): it
  hands the browser a warm session process and answers ``sessionURL`` and ``secret``;
* ``GET /proxy/{id}`` - the websocket relay to that session's own process (``visualizer.app.relay``);
* ``GET /health`` - the front's own status; it never touches a session.

The front itself never imports VTK or builds a scene: a crash, a hang or a runaway allocation in a
session stays in that session's process (see ``visualizer.app.launcher`` for the limits).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("injectviz.serve")

SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
BUSY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30">
<title>InjectViz is busy</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:4em auto;color:#222}}</style></head>
<body><h1>InjectViz is busy</h1>
<p>All {n} sessions of this server are in use. Please try again in a few minutes;
this page tries again by itself every 30 seconds.</p>
<p><a href="./">Try again now</a></p></body></html>
"""
BUSY_TEXT = "InjectViz is busy: all {n} sessions are in use. Please try again in a few minutes."


def default_sessions_max(memory_mb: int) -> int:
    """Sessions this machine holds: 60 % of its memory at ``memory_mb`` each, 6 per core."""
    try:
        import psutil

        total_mb = psutil.virtual_memory().total / 2**20
    except Exception:
        total_mb = 4096
    by_memory = int(total_mb * 0.6 // max(64, memory_mb))
    by_cpu = 6 * (os.cpu_count() or 1)
    return max(1, min(by_memory, by_cpu))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="app.py",
        description="InjectViz in the browser: plan, show a patient, teach. "
                    "One port; each browser gets its own session process.",
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
    p.add_argument("--sessions-max", type=int, default=None,
                   help="browser sessions at the same time (default: sized to this machine's memory "
                        "and cores); beyond it a new browser gets a 'busy, try again' page")
    p.add_argument("--pool", type=int, default=None,
                   help="session processes kept ready ahead of browsers (default 2, 1 on one core)")
    p.add_argument("--session-idle", type=float, default=20.0,
                   help="seconds a session process stays after its browser left (default 20)")
    p.add_argument("--session-lifetime", type=float, default=12 * 3600.0,
                   help="maximum seconds a session process lives (default 43200)")
    p.add_argument("--session-memory-mb", type=int, default=1024,
                   help="memory (RSS) a session process may use before it is ended (default 1024)")
    p.add_argument("--no-template", action="store_true",
                   help="start every session process from scratch instead of forking it from a template "
                        "process that loaded the head once (slower to start, more memory per session)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="another web origin (scheme://host:port) allowed to open sessions, e.g. the "
                        "address of a reverse proxy; repeatable")
    p.add_argument("--db", metavar="URL", default=None,
                   help="patient records database URL (default: $INJECTVIZ_DB or a SQLite file in the "
                        "user's data folder); records are served on a loopback address only")
    p.add_argument("--no-records", action="store_true",
                   help="serve planning, patient view and trainer without the patient records")
    p.add_argument("--ws-heart-beat", type=int, default=30, help=argparse.SUPPRESS)
    p.add_argument("--ws-max-size", type=int, default=4 * 1024 * 1024, help=argparse.SUPPRESS)
    p.add_argument("--session-hang-seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    return p


def check_args(args: argparse.Namespace) -> str | None:
    """The first problem with the numeric flags, as one sentence, or None."""
    if not 0 <= args.port <= 65535:
        return f"--port {args.port}: choose 0..65535"
    if args.timeout < 0:
        return f"--timeout {args.timeout}: must be 0 (never) or more"
    if args.sessions_max is not None and not 1 <= args.sessions_max <= 1000:
        return f"--sessions-max {args.sessions_max}: choose 1..1000"
    if args.pool is not None and not 0 <= args.pool <= 16:
        return f"--pool {args.pool}: choose 0..16"
    if not 1 <= args.session_idle <= 86400:
        return f"--session-idle {args.session_idle}: choose 1..86400 seconds"
    if not 10 <= args.session_lifetime <= 7 * 86400:
        return f"--session-lifetime {args.session_lifetime}: choose 10..604800 seconds"
    if not 256 <= args.session_memory_mb <= 1024 * 1024:
        return f"--session-memory-mb {args.session_memory_mb}: choose at least 256"
    if not 64 * 1024 <= args.ws_max_size <= 256 * 1024 * 1024:
        return f"--ws-max-size {args.ws_max_size}: choose 65536..268435456 bytes"
    return None


def check_origins(args: argparse.Namespace) -> str | None:
    from visualizer.app.origins import OriginPolicy

    try:
        OriginPolicy(args.host, 1, args.allow_origin)
    except ValueError as exc:
        return str(exc)
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_records(args: argparse.Namespace) -> str | None:
    """Records only on loopback (until access control lands), and a database that opens.

    The database is opened (created on first use, as ``injectviz`` does) before any session
    process starts, so a bad ``--db`` stops the start-up with one message.
    """
    if args.no_records:
        return None
    if not is_loopback(args.host):
        return (f"--host {args.host}: the patient records are served on a loopback address only (127.0.0.1, "
                "::1, localhost) until access control is in place; listen on 127.0.0.1, or give "
                "--no-records to serve planning without records")
    from visualizer.errors import InjectVizError
    from visualizer.records.db import open_database, resolve_url

    try:
        open_database(args.db).dispose()
    except InjectVizError as exc:
        return " ".join(str(exc).split())[:500]
    args.db = resolve_url(args.db)  # every session process opens the same database
    return None


def precheck_inputs(args: argparse.Namespace) -> str | None:
    """Check --protocol, --mesh and --landmarks before any session process is started.

    Files must be readable regular files (a FIFO or a device never reaches a loader) and the
    protocol must load; the mesh itself is then read by the first session process, which stops the
    start-up the same way (one message, exit 2) if it is malformed.
    """
    for flag, value in (("--mesh", args.mesh), ("--landmarks", args.landmarks), ("--protocol", args.protocol)):
        if value is None or (flag == "--protocol" and "/" not in value and not value.endswith((".yaml", ".yml"))):
            continue
        path = Path(value)
        if not path.exists():
            return f"{flag} {value}: no such file"
        if not path.is_file():
            return f"{flag} {value}: not a regular file"
        if not os.access(path, os.R_OK):
            return f"{flag} {value}: not readable"
    try:
        from visualizer.errors import InjectVizError
        from visualizer.protocol import list_protocols, load_protocol

        if args.protocol not in {str(getattr(p, "id", "")) for p in list_protocols()}:
            load_protocol(args.protocol)
    except (InjectVizError, OSError, ValueError) as exc:
        return " ".join(str(exc).split())[:500]
    return None


class FrontServer:
    """The aiohttp application in front of the session processes."""

    def __init__(self, pool: Any, origins: Any, *, timeout: int = 0, heartbeat: int = 30) -> None:
        import aiohttp.web as web

        self.pool = pool
        self.origins = origins
        self.timeout = timeout
        self.heartbeat = heartbeat
        self.t0 = time.monotonic()
        self._no_browser_since = time.monotonic()
        self._client: Any = None
        self._www: Path | None = None
        self.done = asyncio.get_running_loop().create_future()
        self.web = web.Application(client_max_size=64 * 1024)
        self.web.router.add_get("/", self._root)
        self.web.router.add_get("/index.html", self._index)
        self.web.router.add_get("/health", self._health)
        self.web.router.add_post("/paraview/", self._launch)
        self.web.router.add_post("/paraview", self._launch)
        self.web.router.add_get("/proxy/{sid}", self._proxy)

    def add_static(self, static: dict[str, Any]) -> None:
        """The trame client's files, as named by a session process (same venv, same paths)."""
        import aiohttp.web as web

        serve = static.get("serve") or {}
        routes = [web.static(f"/{route}", serve[route], append_version=True)
                  for route in sorted(serve, reverse=True)]
        self._www = Path(static["www"])
        routes.append(web.static("/", self._www, append_version=True))
        self.web.add_routes(routes)

    # ------------------------------------------------------------------ pages
    def _busy(self) -> Any:
        import aiohttp.web as web

        return web.Response(status=503, text=BUSY_PAGE.format(n=self.pool.config.sessions_max),
                            content_type="text/html", headers={"Retry-After": "30", "Cache-Control": "no-store"})

    async def _root(self, request: Any) -> Any:
        import aiohttp.web as web

        if not self.pool.can_accept():
            return self._busy()
        raise web.HTTPFound(f"index.html?{request.query_string}" if request.query_string else "index.html")

    async def _index(self, request: Any) -> Any:
        import aiohttp.web as web

        if not self.pool.can_accept():
            return self._busy()
        assert self._www is not None
        return web.FileResponse(self._www / "index.html", headers={"Cache-Control": "no-cache, no-store"})

    async def _health(self, request: Any) -> Any:
        import aiohttp.web as web

        return web.json_response({"ok": True, "uptime_s": round(time.monotonic() - self.t0, 1),
                                  **self.pool.status()})

    # ------------------------------------------------------------------ launcher
    async def _launch(self, request: Any) -> Any:
        import aiohttp.web as web

        from visualizer.app.launcher import Busy, Unavailable

        origin = request.headers.get("Origin")
        if origin is not None and not self.origins.allows(origin):
            log.warning("launcher: refused a request from origin %s", origin[:100])
            return web.json_response({"error": "This page may not open InjectViz sessions."}, status=403)
        try:
            sp = await self.pool.claim()
        except Busy:
            return web.json_response({"error": BUSY_TEXT.format(n=self.pool.config.sessions_max)},
                                     status=503, headers={"Retry-After": "30"})
        except Unavailable:
            return web.json_response({"error": "No session could be started just now. Please try again."},
                                     status=503, headers={"Retry-After": "10"})
        # built from our own configuration: USE_HOST is trame's placeholder that the page replaces
        # with its own location (the request's Host header is never echoed)
        return web.json_response({"id": sp.id, "sessionURL": f"ws://USE_HOST/proxy/{sp.id}",
                                  "secret": sp.secret}, headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------------ websocket relay
    async def _proxy(self, request: Any) -> Any:
        import aiohttp
        import aiohttp.web as web

        from visualizer.app.relay import relay

        origin = request.headers.get("Origin")
        if not self.origins.allows(origin):
            log.warning("websocket from origin %s refused", (origin or "(none)")[:100])
            raise web.HTTPForbidden(text="This page may not connect to InjectViz.")
        sid = request.match_info["sid"]
        sp = self.pool.find(sid) if SESSION_ID.match(sid) else None
        if sp is None:
            raise web.HTTPNotFound(text="This session has ended: reload the page.")
        if sp.browsers:
            raise web.HTTPForbidden(text="This session is open in another page.")
        if self._client is None:
            self._client = aiohttp.ClientSession()
        self.pool.browser_joined(sp)
        try:
            return await relay(request, f"ws://127.0.0.1:{sp.port}/ws", client=self._client,
                               frame=self.pool.config.frame, max_message=self.pool.config.max_message,
                               heartbeat=self.heartbeat, name=sid[:8])
        finally:
            self.pool.browser_left(sp)

    # ------------------------------------------------------------------ life cycle
    def changed(self) -> None:
        if self.pool.browsers():
            self._no_browser_since = None
        elif self._no_browser_since is None:
            self._no_browser_since = time.monotonic()

    async def watch_idle(self) -> None:
        """``--timeout``: exit after that many seconds without any browser (0 = never)."""
        while self.timeout > 0:
            await asyncio.sleep(0.5)
            since = self._no_browser_since
            if since is not None and time.monotonic() - since >= self.timeout and not self.done.done():
                log.info("no browser for %d s: exiting (--timeout)", self.timeout)
                self.done.set_result(True)

    def stop(self) -> None:
        if not self.done.done():
            self.done.set_result(True)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


async def run(args: argparse.Namespace, t0: float) -> int:
    import aiohttp.web as web

    from visualizer.app.launcher import LaunchConfig, SessionPool, StartupError
    from visualizer.app.origins import OriginPolicy

    cores = os.cpu_count() or 1
    config = LaunchConfig(
        protocol=args.protocol, mesh=args.mesh, landmarks=args.landmarks,
        sessions_max=args.sessions_max or default_sessions_max(args.session_memory_mb),
        pool=args.pool if args.pool is not None else (2 if cores > 1 else 1),
        idle=args.session_idle, lifetime=args.session_lifetime, memory_mb=args.session_memory_mb,
        hang_seconds=args.session_hang_seconds, max_message=args.ws_max_size,
        frame=min(1024 * 1024, args.ws_max_size), template=not args.no_template,
        records_db=None if args.no_records else args.db,
    )
    config.pool = min(config.pool, config.sessions_max)
    front: FrontServer | None = None
    pool = SessionPool(config, on_change=lambda: front.changed() if front else None)
    loop = asyncio.get_running_loop()
    runner = None
    try:
        try:
            static = await pool.start_first()  # checks --protocol/--mesh/--landmarks; nothing is served yet
        except StartupError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 2
        front = FrontServer(pool, None, timeout=args.timeout, heartbeat=args.ws_heart_beat)
        front.add_static(static)
        runner = web.AppRunner(front.web, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        try:
            await site.start()
        except OSError as exc:
            print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})", file=sys.stderr,
                  flush=True)
            return 2
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else args.port
        front.origins = OriginPolicy(args.host, port, args.allow_origin)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, front.stop)
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "", "::") else args.host
        print(f"InjectViz ready in {time.perf_counter() - t0:.1f} s "
              f"(up to {config.sessions_max} sessions, {config.pool} kept ready)", flush=True)
        print("App running at:", flush=True)
        print(f" - Local:   http://{shown}:{port}/", flush=True)
        print(f"InjectViz running at http://{shown}:{port}/", flush=True)
        idle = asyncio.ensure_future(front.watch_idle())
        await front.done
        idle.cancel()
        return 0
    finally:
        await pool.stop()
        if front is not None:
            await front.close()
        if runner is not None:
            await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    args, _unknown = build_parser().parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("injectviz").setLevel(logging.INFO)
    problem = check_args(args) or check_origins(args) or check_records(args) or precheck_inputs(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run(args, t0))
    except KeyboardInterrupt:
        return 0
