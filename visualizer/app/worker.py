"""One browser session's process: a single ``InjectVizApp`` on trame's own single-app server.

Started by the front server's launcher (``visualizer.app.launcher``) as
``python -m visualizer.app.worker``; never by a user.  The launcher writes ONE JSON line to this
process's stdin (so the session secret never appears in ``ps``)::

    {"secret": "...", "protocol": "preempt", "mesh": null, "landmarks": null,
     "idle": 20, "address_space_mb": 6144, "max_message": 4194304, "frame": 1048576,
     "db": "sqlite:///..." | null}

and, when it hands the process to a browser, a second line saying who it serves (never taken from
the browser; see ``visualizer.app.access``)::

    {"claim": {"user": "alice", "role": "injector", "address": "10.0.0.7", "login": true}}

The process then loads the head and protocols, builds the app (first scene included), starts the
wslink aiohttp server on 127.0.0.1 with a random port and that secret, and only then prints its
ready line on stdout.  Lines on stdout that start with ``@@injectviz`` are for the launcher:

* ``@@injectviz ready PORT`` - the session can be handed to a browser;
* ``@@injectviz beat`` - every ``BEAT_SECONDS`` from the event loop (a hung loop stops them and
  the launcher kills the process);
* ``@@injectviz claimed`` - the claim line was taken (the launcher waits for it);
* ``@@injectviz error MESSAGE`` - start-up failed (exit 2).

The process exits by itself once its browser has been gone for ``idle`` seconds, when the
launcher's pipe closes, or when its parent dies (``PR_SET_PDEATHSIG``).  Memory is capped with
``RLIMIT_AS`` (checked: llvmpipe/EGL still render under the default cap).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

TAG = "@@injectviz"
BEAT_SECONDS = 1.0
TRIM_AFTER_CPU = 0.05  # s of CPU used since the last heap trim that make the next beat trim again
CONFIG_LINE_MAX = 64 * 1024

log = logging.getLogger("injectviz.session")


def say(*words: object) -> None:
    """One line for the launcher on stdout (never blocks on a closed pipe)."""
    try:
        os.write(1, (" ".join([TAG, *map(str, words)]) + "\n").encode())
    except OSError:
        os._exit(0)  # the launcher is gone


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the launcher dies (no orphaned sessions)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the stdin watch below still ends the process
        pass


def watch_stdin(on_claim: Any = None) -> None:
    """The launcher holds our stdin open; EOF means it is gone: exit.

    A later line ``{"claim": {...}}`` says who this session serves (``visualizer.app.access``);
    it is acknowledged with ``@@injectviz claimed`` (or ``@@injectviz error ...`` and exit).
    """

    def run() -> None:
        try:
            while True:
                line = sys.stdin.buffer.readline(CONFIG_LINE_MAX)
                if not line:
                    break
                if line.strip() and on_claim is not None:
                    try:
                        on_claim(json.loads(line)["claim"])
                    except Exception as exc:
                        say("error", f"bad claim from the launcher ({type(exc).__name__})")
                        os._exit(2)
                    say("claimed")
        except Exception:
            pass
        os._exit(0)

    threading.Thread(target=run, name="stdin-watch", daemon=True).start()


def limit_address_space(megabytes: int) -> None:
    if megabytes and megabytes > 0:
        import resource

        cap = int(megabytes) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def cap_wslink_messages(max_message: int) -> None:
    """wslink lets an authenticated client announce 4 GB chunked messages; cap what it allocates."""
    import wslink.protocol as wp
    from wslink.chunking import UnChunker

    class CappedUnChunker(UnChunker):
        def set_max_message_size(self, size: int) -> None:
            super().set_max_message_size(min(int(size), int(max_message)))

    wp.UnChunker = CappedUnChunker


def give_back_memory() -> None:
    """Return freed heap pages to the system (building the scene leaves ~100 MB of them)."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except Exception:
        pass


def connections(server: Any) -> int:
    ws = getattr(server, "_server", None)
    return sum(len(h.connections) for h in getattr(ws, "_ws_handlers", []) or [])


async def supervise(server: Any, idle: float) -> None:
    """Heartbeat for the launcher; exit once a browser came and has been gone for ``idle`` s."""
    seen = False
    gone_since: float | None = None
    trimmed_at = time.process_time()
    while True:
        say("beat")
        if time.process_time() - trimmed_at > TRIM_AFTER_CPU:
            # the session worked since the last beat (a click, a picture): give the heap pages it
            # freed back to the system now (malloc keeps them otherwise; ~5 MB after a few clicks)
            give_back_memory()
            trimmed_at = time.process_time()
        n = connections(server)
        now = time.monotonic()
        if n:
            seen, gone_since = True, None
        elif seen:
            gone_since = gone_since or now
            if idle > 0 and now - gone_since >= idle:
                log.info("browser gone for %.0f s: session process exits", now - gone_since)
                say("idle")
                os._exit(0)  # the process ends: all of its memory goes back to the system
        await asyncio.sleep(BEAT_SECONDS)


def read_config() -> dict[str, Any]:
    """The launcher's one JSON line on stdin (raises on anything malformed)."""
    with open(0, "rb", buffering=0, closefd=False) as stdin:  # unbuffered: nothing read past the line
        line = b""
        while not line.endswith(b"\n") and len(line) < CONFIG_LINE_MAX:
            part = stdin.read(1)
            if not part:
                break
            line += part
    return json.loads(line or b"{}")


def quiet_vtk() -> None:
    try:
        from vtkmodules.vtkCommonCore import vtkObject

        vtkObject.GlobalWarningDisplayOff()
    except Exception:
        pass


def load_context(cfg: dict[str, Any]) -> Any:
    """Head, protocols and the engine's prepared data (raises the engine's errors).

    With ``cfg["warm"]`` also computes what every session on this head would otherwise compute
    again: the skin as drawn (decimated, with normals) and the start-up protocol's prepared sites,
    both cached on the head (``head.cache``).
    """
    from visualizer.app.context import AppContext, set_default_context

    ctx = AppContext.load(
        protocol=cfg.get("protocol") or "preempt", mesh=cfg.get("mesh"), landmarks=cfg.get("landmarks")
    )
    set_default_context(ctx)
    from visualizer.app import core

    if cfg.get("warm"):
        from visualizer.app import state as st
        from visualizer.scene import display_weights, warm_labels

        display_weights(ctx.head, core.DISPLAY_CELLS)  # the skin as drawn and its muscle weights
        ses = st.Session(ctx.engine, ctx.head, protocol=ctx.protocol, protocols=ctx.protocols)
        # the 3D texts of the head's landmarks and the start-up plan's site labels (0.3 s of a
        # session's start and of its first PDF report, on a loaded machine)
        warm_labels(ctx.head, [ses.plan])
    return ctx


def apply_role(app: Any) -> None:
    """After the claim: a viewer's page starts on (and stays on) the patient view."""
    from visualizer.app import access

    try:
        allowed = access.tabs_allowed(("plan", "patient", "trainer", "record"))
        with app.state:
            app.state.tabs_shown = allowed  # the page shows only the account's tabs
            if app.state.tab not in allowed and allowed:
                app.state.tab = allowed[0]
    except Exception:
        log.warning("could not apply the account's role to the page", exc_info=True)


def serve_session(ctx: Any, cfg: dict[str, Any]) -> int:
    """Build this session's app on ``ctx`` and serve it until its browser is gone (ends the process)."""
    secret = str(cfg["secret"])
    from visualizer.app import access

    access.configure(cfg.get("db"))
    app_box: dict[str, Any] = {}

    def on_claim(data: Any) -> None:
        access.claim(data)
        app, loop = app_box.get("app"), app_box.get("loop")
        if app is not None and loop is not None:
            loop.call_soon_threadsafe(apply_role, app)

    watch_stdin(on_claim)
    limit_address_space(int(cfg.get("address_space_mb") or 0))
    frame = int(cfg.get("frame") or 1024 * 1024)
    os.environ["TRAME_WS_MAX_MSG_SIZE"] = str(frame)  # wslink's chunk size, both directions
    # the chunk size wslink announces to the page (maxMsgSize) must fit the relay's frame cap
    os.environ["WSLINK_MAX_MSG_SIZE"] = str(frame)
    os.environ["WSLINK_READY_MSG"] = ""
    cap_wslink_messages(int(cfg.get("max_message") or 4 * 1024 * 1024))

    from trame.app import get_server

    from visualizer.app.core import InjectVizApp

    # trame reads its options (and wslink's secret) from argv; the real argv never holds the secret
    sys.argv = [sys.argv[0], "--server", "--no-http", f"--authKey={secret}"]
    server = get_server("injectviz", client_type="vue3")
    if cfg.get("db"):  # the patient records (the front opened them and checked who may reach them)
        ctx.options = {**ctx.options, "records_db": str(cfg["db"])}
    app = InjectVizApp(server, ctx)
    access.install(app)  # records triggers, refused for a role without access
    # no first render here: the page draws the scene itself (vtk.js) and the server makes its
    # OpenGL window only when it must draw (a picture, the server-rendered view): ≈ 80-100 MB of
    # EGL/llvmpipe pages that most sessions never need (visualizer.app.lazy_gl)
    give_back_memory()

    idle = float(cfg.get("idle") or 0)

    def ready(**_: Any) -> None:
        app_box["app"], app_box["loop"] = app, asyncio.get_event_loop()
        static = {k: str(v[0] if isinstance(v, (list, tuple)) else v) for k, v in server.serve.items()}
        say("ready", server.port, json.dumps({"serve": static, "www": str(server._www)}))
        asyncio.get_event_loop().create_task(supervise(server, idle))

    server.controller.on_server_ready.add(ready)
    server.start(
        host="127.0.0.1",
        port=0,
        timeout=0,
        open_browser=False,
        show_connection_info=False,
        backend="aiohttp",
        exec_mode="main",
    )
    os._exit(0)  # skip interpreter teardown (VTK objects): the process is done


def session_config() -> dict[str, Any] | None:
    """This session's configuration from stdin, or None (after telling the launcher why)."""
    try:
        cfg = read_config()
        if len(str(cfg["secret"])) < 16:
            raise ValueError("the session secret is too short")
        return cfg
    except Exception as exc:
        say("error", f"bad launcher configuration ({type(exc).__name__})")
        return None


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s session[%(process)d] %(name)s %(message)s", force=True
    )
    logging.getLogger("injectviz").setLevel(logging.INFO)


def main() -> int:
    """One session in a process of its own (``python -m visualizer.app.worker``)."""
    die_with_parent()
    setup_logging()
    cfg = session_config()
    if cfg is None:
        return 2
    quiet_vtk()
    try:
        ctx = load_context(cfg)
    except Exception as exc:
        say("error", " ".join(str(exc).split())[:500])
        os._exit(2)  # no interpreter teardown (the stdin-watch thread holds stdin)
    return serve_session(ctx, cfg)


def run() -> None:
    """``main`` with a hard exit: no interpreter teardown (VTK objects, the stdin-watch thread)."""
    try:
        code = main()
    except BaseException as exc:
        log.exception("session process failed")
        say("error", f"session process failed ({type(exc).__name__})")
        code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    if sys.argv[1:] == ["--template"]:
        from visualizer.app.template import run_template

        run_template()
    else:
        run()
