"""The session template: load Python, VTK, the head and the protocols once; fork one child per session.

Started by the launcher as ``python -m visualizer.app.worker --template`` (never by a user). A
fresh session process would spend seconds (tens of seconds on a loaded machine) importing VTK,
PyVista and trame, reading the head, preparing its sites and decimating the skin for display,
and would hold its own copy of all of it. The template does that once; each session is then a
``fork()`` of it, so those pages are shared copy-on-write between all sessions (their RSS still
counts them; their USS/PSS does not), and a new session only builds its own plotter, scene and
page.

Nothing here ever sees a browser: the template builds no plotter (no GL context), starts no event
loop and no thread, so a fork is safe; each child then is an ordinary session process
(``visualizer.app.worker.serve_session``) with its own limits, secret and port.

Protocol with the launcher:

* stdin: ONE JSON line ``{"protocol": ..., "mesh": ..., "landmarks": ..., "control_fd": N}``;
* stdout: ``@@injectviz template-ready`` once loaded, or ``@@injectviz error MESSAGE`` (exit 2);
* the control socket (``control_fd``, a ``SOCK_SEQPACKET`` socket pair end): the launcher sends
  ``{"fork": TOKEN}`` with two file descriptors (the child's stdin and stdout pipes); the template
  answers ``{"forked": TOKEN, "pid": PID}`` (or ``{"failed": TOKEN, "error": ...}``) and, when a
  child ends, ``{"exit": PID, "code": CODE}`` (negative: killed by that signal). EOF on the socket
  means the launcher is gone: the template exits, and its children die with it
  (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import select
import signal
import socket
import sys
from typing import Any

from visualizer.app.worker import (
    die_with_parent,
    give_back_memory,
    load_context,
    quiet_vtk,
    read_config,
    say,
    serve_session,
    session_config,
    setup_logging,
)

log = logging.getLogger("injectviz.template")

MESSAGE_MAX = 4096

#: modules a session imports while it builds its plotter, scene and page (measured: ~280 modules,
#: matplotlib and PyVista's plotting package the largest); imported here they are shared by all
#: sessions and a new session starts faster. Importing creates no GL context and no thread.
PRELOAD = (
    "pyvista.plotting",
    "pyvista.plotting.plotter",
    "matplotlib",
    "matplotlib.colors",
    "vtkmodules.vtkRenderingOpenGL2",
    "vtkmodules.vtkInteractionWidgets",
    "vtkmodules.vtkRenderingAnnotation",
    "vtkmodules.vtkRenderingFreeType",
    "vtkmodules.vtkInteractionStyle",
    "vtkmodules.vtkChartsCore",
    "vtkmodules.vtkFiltersGeometry",
    "vtkmodules.vtkWebCore",
    "vtkmodules.vtkIOImage",
    "vtkmodules.util.numpy_support",
    "vtkmodules.util.vtkAlgorithm",
    "trame.ui.vuetify3",
    "trame.widgets.vuetify3",
    "trame.widgets.vtk",
    "trame.widgets.html",
    "trame.widgets.client",
    "trame_pyvista",
    "trame_pyvista.widgets",
    "trame_pyvista.ui.vuetify3",
    "trame_vtk.modules.vtk.serializers",
    "trame_vtk.modules.vtk.core",
    "visualizer.app.core",
    "visualizer.app.ui",
    "visualizer.patient_info",
    # what a session imported still after the fork (when it starts its server; measured): the
    # aiohttp web server, wslink's protocol and trame-vtk's view protocols
    "aiohttp.web",
    "wslink.backends.aiohttp",
    "wslink.protocol",
    "wslink.publish",
    "trame_vtk.modules.vtk.protocols",
    "trame_client.module.vue3",
    "trame_vuetify.module.v3",
    "resource",
)


def set_name(name: str) -> None:
    """The process name ``ps -o comm`` and ``top`` show (PR_SET_NAME; Linux only)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)
    except Exception:
        pass


def preload() -> list[str]:
    """Import :data:`PRELOAD` (a missing optional module is skipped); returns those that failed."""
    import importlib

    failed = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    return failed


def thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _send(sock: socket.socket, msg: dict[str, Any]) -> None:
    try:
        sock.send(json.dumps(msg).encode())
    except OSError:
        os._exit(0)  # the launcher is gone


def _child(ctx: Any, sock: socket.socket, wake: tuple[int, int], fds: list[int]) -> None:
    """In the forked child: become an ordinary session process on the given pipes (never returns)."""
    code = 2
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sock.close()
        for fd in wake:
            os.close(fd)
        os.setsid()  # its own process group, like a freshly started session process
        os.dup2(fds[0], 0)
        os.dup2(fds[1], 1)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        die_with_parent()  # cleared by fork(): the template's death ends this session too
        set_name("iv-session")
        asyncio.set_event_loop(asyncio.new_event_loop())
        cfg = session_config()
        if cfg is not None:
            code = serve_session(ctx, cfg)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            log.exception("session process failed")
            say("error", f"session process failed ({type(exc).__name__})")
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code or 0)


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(sock, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def serve_forks(ctx: Any, sock: socket.socket) -> None:
    """Fork a session child for every request on ``sock`` until the launcher goes away."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select() through the wakeup fd
    while True:
        ready, _, _ = select.select([sock, wake_r], [], [], 5.0)
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
        _reap(sock)
        if sock not in ready:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, MESSAGE_MAX, 2)
        except OSError:
            os._exit(0)
        if not data:
            os._exit(0)  # the launcher is gone (its children die with us: PR_SET_PDEATHSIG)
        try:
            token = int(json.loads(data)["fork"])
            if len(fds) != 2:
                raise ValueError(f"expected 2 file descriptors, got {len(fds)}")
        except Exception as exc:
            for fd in fds:
                os.close(fd)
            _send(sock, {"failed": None, "error": f"bad request ({type(exc).__name__})"})
            continue
        if thread_count() > 1:  # a library started a thread: forking now could copy a held lock
            log.warning("the session template runs %d threads; forking anyway", thread_count())
        gc.freeze()  # shared objects stay out of the children's collections (no copy-on-write by gc)
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            _send(sock, {"failed": token, "error": str(exc)[:200]})
            continue
        if pid == 0:
            _child(ctx, sock, (wake_r, wake_w), fds)
        for fd in fds:
            os.close(fd)
        _send(sock, {"forked": token, "pid": pid})


def run_template() -> None:
    """``python -m visualizer.app.worker --template``: load once, then fork sessions."""
    die_with_parent()
    set_name("iv-template")
    setup_logging()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front decides when we stop (Ctrl-C goes to it)
    try:
        cfg = read_config()
        sock = socket.socket(fileno=int(cfg["control_fd"]))
        sock.setblocking(True)
    except Exception as exc:
        say("error", f"bad launcher configuration ({type(exc).__name__})")
        os._exit(2)
    quiet_vtk()
    try:
        ctx = load_context({**cfg, "warm": True})
    except Exception as exc:
        say("error", " ".join(str(exc).split())[:500])
        os._exit(2)
    failed = preload()
    if failed:
        log.info("session template: not preloaded: %s", ", ".join(failed))
    gc.collect()
    give_back_memory()
    say("template-ready", thread_count())
    try:
        serve_forks(ctx, sock)
    except BaseException:
        log.exception("session template failed")
    os._exit(1)
