"""The launcher's side of the session template (``visualizer.app.template``).

``Forker.start()`` starts the template process (it loads Python, VTK, the head and the protocols
once); ``Forker.fork()`` then asks it for a new session process and returns a ``ForkedProcess``:
the parts of ``asyncio.subprocess.Process`` the session pool uses (``pid``, ``stdin``,
``stdout``, ``wait()``, ``send_signal()``, ``kill()``, ``terminate()``, ``returncode``), so the
pool watches, limits and reaps a forked session exactly like a freshly started one.

The session's stdin and stdout are pipes created here and handed to the template with the request
(``SCM_RIGHTS``); the template reports the child's pid and, when it ends, its exit code. Signals
go through a pidfd, so a pid reused after the child was reaped is never signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("injectviz.forks")

TAG = b"@@injectviz "
MESSAGE_MAX = 4096


class TemplateError(Exception):
    """The template did not start (its one-line reason) or is gone."""


class _PipeWriter:
    """The write end of a session's stdin (what the pool writes its configuration line to)."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    def write(self, data: bytes) -> None:
        if self.fd is None:
            return
        view = memoryview(data)
        while view:  # one short line into an empty pipe: never blocks in practice
            n = os.write(self.fd, view)
            view = view[n:]

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


class ForkedProcess:
    """A session process forked by the template (not a child of this process)."""

    def __init__(self, pid: int, stdin_fd: int, stdout: asyncio.StreamReader) -> None:
        self.pid = pid
        self.stdin = _PipeWriter(stdin_fd)
        self.stdout = stdout
        self.returncode: int | None = None
        self._exited: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pidfd: int | None = None
        with contextlib.suppress(OSError, AttributeError):
            self._pidfd = os.pidfd_open(pid)

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            raise ProcessLookupError(self.pid)
        if self._pidfd is not None:
            signal.pidfd_send_signal(self._pidfd, sig)
        else:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def ended(self, code: int) -> None:
        """The template reaped it (``code`` < 0: killed by signal ``-code``)."""
        if self.returncode is not None:
            return
        self.returncode = code
        self.stdin.close()
        if self._pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
            self._pidfd = None
        if not self._exited.done():
            self._exited.set_result(code)


class Forker:
    """Start the template and fork session processes from it (all methods on the front's loop)."""

    def __init__(self, python: str, env: dict[str, str], init: dict[str, Any], *,
                 start_timeout: float = 120.0, line_limit: int = 256 * 1024,
                 on_log: Callable[[str], None] | None = None) -> None:
        self.python = python
        self.env = env
        self.init = init
        self.start_timeout = start_timeout
        self.line_limit = line_limit
        self.proc: asyncio.subprocess.Process | None = None
        self.pid: int | None = None
        self.ready_seconds = 0.0
        self._sock: socket.socket | None = None
        self._children: dict[int, ForkedProcess] = {}
        self._pending: dict[int, tuple[asyncio.Future, int, int]] = {}
        self._tokens = itertools.count(1)
        self._control: asyncio.Task | None = None
        self._drainer: asyncio.Future | None = None
        self._lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and self._sock is not None

    async def start(self) -> None:
        """Start the template and wait until it has loaded everything (raises ``TemplateError``)."""
        async with self._lock:
            if not self.alive:
                await self._start()

    async def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        t0 = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                self.python, "-m", "visualizer.app.worker", "--template",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None,
                start_new_session=True, env=self.env, limit=self.line_limit, pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs_fd = theirs.fileno()
            theirs.close()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({**self.init, "control_fd": theirs_fd}).encode() + b"\n")
        error = None
        try:
            async with asyncio.timeout(self.start_timeout):
                while True:
                    line = await proc.stdout.readline()
                    if not line:
                        error = "the session template ended while starting"
                        break
                    i = line.find(TAG)
                    if i < 0:
                        continue
                    word, _, rest = line[i + len(TAG):].decode(errors="replace").strip().partition(" ")
                    if word == "template-ready":
                        break
                    if word == "error":
                        error = rest[:500] or "the session template did not start"
                        break
        except TimeoutError:
            error = f"the session template was not ready after {self.start_timeout:.0f} s"
        if error is not None:
            ours.close()
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise TemplateError(error)
        ours.setblocking(False)
        self.proc, self.pid, self._sock = proc, proc.pid, ours
        self.ready_seconds = time.monotonic() - t0
        log.info("session template %d ready (%.1f s)", proc.pid, self.ready_seconds)
        self._control = asyncio.ensure_future(self._read_control(ours, proc))
        self._drainer = asyncio.ensure_future(self._drain(proc))

    @staticmethod
    async def _drain(proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        with contextlib.suppress(Exception):
            while await proc.stdout.readline():
                pass

    async def fork(self, timeout: float = 30.0) -> ForkedProcess:
        """A new session process, forked from the template (started first if it is not running)."""
        if not self.alive:
            await self.start()
        sock = self._sock
        assert sock is not None
        loop = asyncio.get_running_loop()
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        token = next(self._tokens)
        fut = loop.create_future()
        self._pending[token] = (fut, in_w, out_r)
        try:
            try:
                socket.send_fds(sock, [json.dumps({"fork": token}).encode()], [in_r, out_w])
            finally:
                os.close(in_r)
                os.close(out_w)
            async with asyncio.timeout(timeout):
                return await fut
        except BaseException:
            if self._pending.pop(token, None) is not None:
                for fd in (in_w, out_r):
                    with contextlib.suppress(OSError):
                        os.close(fd)
            raise

    async def _read_control(self, sock: socket.socket, proc: asyncio.subprocess.Process) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await loop.sock_recv(sock, MESSAGE_MAX)
                if not data:
                    break
                try:
                    msg = json.loads(data)
                except ValueError:
                    continue
                if "forked" in msg:
                    await self._forked(int(msg["forked"]), int(msg["pid"]))
                elif "failed" in msg:
                    entry = self._pending.pop(msg["failed"], None) if msg["failed"] is not None else None
                    if entry is not None:
                        fut, in_w, out_r = entry
                        for fd in (in_w, out_r):
                            os.close(fd)
                        if not fut.done():
                            fut.set_exception(TemplateError(str(msg.get("error"))[:200]))
                elif "exit" in msg:
                    child = self._children.pop(int(msg["exit"]), None)
                    if child is not None:
                        child.ended(int(msg["code"]))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            # the template is gone, and its children with it (PR_SET_PDEATHSIG): end them all here
            if self._sock is sock:
                self._sock = None
            sock.close()
            for child in list(self._children.values()):
                child.ended(-signal.SIGKILL)
            self._children.clear()
            for fut, in_w, out_r in self._pending.values():
                for fd in (in_w, out_r):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                if not fut.done():
                    fut.set_exception(TemplateError("the session template ended"))
            self._pending.clear()
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            with contextlib.suppress(Exception):
                code = await proc.wait()
                (log.info if code in (0, -signal.SIGKILL) else log.warning)(
                    "session template %d ended (exit %s)", proc.pid, code)

    async def _forked(self, token: int, pid: int) -> None:
        entry = self._pending.pop(token, None)
        if entry is None:  # the request timed out meanwhile: that child has no pipes left, it ends
            return
        fut, in_w, out_r = entry
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=self.line_limit, loop=loop)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
                                     os.fdopen(out_r, "rb", buffering=0))
        child = ForkedProcess(pid, in_w, reader)
        self._children[pid] = child
        if not fut.done():
            fut.set_result(child)

    async def stop(self) -> None:
        """End the template (its children end with it; the pool ends them first)."""
        if self._control is not None:
            self._control.cancel()  # closes the socket and ends the template (see _read_control)
            await asyncio.gather(self._control, return_exceptions=True)
        elif self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
