"""Session processes: start them (a small warm pool), hand one to each browser, watch and reap them.

This is the front server's side of wslink's launcher (``wslink/launcher.py``: a session manager
that starts one process per session with a random ``secret`` and answers ``sessionURL``), with
the process started *before* a browser asks (the head and protocols loaded, the app and its first
scene built), so a new browser does not wait for Python, VTK and the head to load.

Every session process (``visualizer.app.worker``) runs under limits, enforced here from outside
the process so that nothing inside it (a hung event loop, a runaway allocation) can dodge them:

* memory: ``RLIMIT_AS`` inside the process, and its RSS read from ``/proc`` every second here
  (over ``memory_mb`` -> SIGKILL);
* a hang watchdog: the process's event loop writes a heartbeat line every second; none for
  ``hang_seconds`` -> SIGKILL (a request that blocks the loop that long is treated as a hang);
* idle: the process exits by itself ``idle`` seconds after its browser left (and is killed here a
  little later if it does not); a claimed session whose browser never connects is ended too;
* a maximum lifetime.

A dead or killed process only frees its slot: other sessions and the front server carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("injectviz.launcher")

TAG = b"@@injectviz "
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Busy(Exception):
    """Every session slot is taken by a browser."""


class Unavailable(Exception):
    """No session process could be started in time."""


class StartupError(Exception):
    """A session process refused the start-up input (bad --protocol, --mesh or --landmarks)."""


@dataclass
class LaunchConfig:
    protocol: str = "preempt"
    mesh: str | None = None
    landmarks: str | None = None
    sessions_max: int = 4
    pool: int = 1
    idle: float = 20.0  # seconds a session process lives on after its browser left
    lifetime: float = 12 * 3600.0
    memory_mb: int = 1024  # RSS limit per session process
    address_space_mb: int = 0  # RLIMIT_AS; 0 = memory_mb + 3072
    hang_seconds: float = 30.0
    start_timeout: float = 120.0  # a starting process must be ready within this
    connect_grace: float = 60.0  # a claimed session's browser must connect within this
    max_message: int = 4 * 1024 * 1024
    frame: int = 1024 * 1024
    max_starting: int = 2
    python: str = sys.executable
    records_db: str | None = None  # the patient records' database URL (None: no records)
    #: fork session processes from a template that loaded Python, VTK, the head and the protocols
    #: once (``visualizer.app.template``); False starts every session process from scratch
    template: bool = True


@dataclass
class SessionProcess:
    proc: Any  # asyncio.subprocess.Process, or a forks.ForkedProcess (the same interface)
    secret: str
    started: float = field(default_factory=time.monotonic)
    state: str = "starting"  # starting -> warm -> claimed -> ended
    port: int | None = None
    id: str | None = None
    claimed_at: float | None = None
    last_beat: float = field(default_factory=time.monotonic)
    browsers: int = 0
    ever_connected: bool = False
    left_at: float | None = None
    static: dict[str, Any] | None = None
    kill_reason: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def orphaned(self) -> bool:
        """Claimed, a browser came, and no browser is connected now."""
        return self.state == "claimed" and self.ever_connected and self.browsers == 0

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.pid}/statm") as f:
                return int(f.read().split()[1]) * PAGE / 2**20
        except (OSError, ValueError, IndexError):
            return 0.0


class SessionPool:
    """Warm pool + claimed sessions, with limits; all methods run on the front's event loop."""

    def __init__(self, config: LaunchConfig, on_change: Callable[[], None] | None = None) -> None:
        self.config = config
        self.procs: list[SessionProcess] = []
        self.sessions: dict[str, SessionProcess] = {}
        self.on_change = on_change
        self.static: dict[str, Any] | None = None
        self.ended = 0
        self._waiters: list[asyncio.Future] = []
        self._task: asyncio.Task | None = None
        self._failures = 0
        self._next_spawn = 0.0
        self._stopping = False
        self._tasks: set[asyncio.Future] = set()  # keeps background tasks referenced
        self.forker: Any = None  # forks.Forker once the template is used

    # ------------------------------------------------------------------ counts
    def claimed(self) -> list[SessionProcess]:
        return [p for p in self.procs if p.state == "claimed"]

    def warm(self) -> list[SessionProcess]:
        """Ready to be handed to a browser (not being ended)."""
        return [p for p in self.procs if p.state == "warm" and not p.kill_reason]

    def starting(self) -> list[SessionProcess]:
        return [p for p in self.procs if p.state == "starting"]

    def in_use(self) -> int:
        """Claimed sessions that a browser holds (or is about to): orphans do not count."""
        return sum(1 for p in self.claimed() if not p.orphaned)

    def can_accept(self) -> bool:
        return not self._stopping and self.in_use() < self.config.sessions_max

    def browsers(self) -> int:
        return sum(p.browsers for p in self.procs)

    def status(self) -> dict[str, Any]:
        return {
            "sessions": len(self.claimed()),
            "browsers": self.browsers(),
            "warm": len(self.warm()),
            "starting": len(self.starting()),
            "sessions_max": self.config.sessions_max,
            "pool": self.config.pool,
            "ended": self.ended,
        }

    # ------------------------------------------------------------------ life cycle
    async def start_first(self) -> dict[str, Any]:
        """Start one process and wait for it: it checks the start-up input and names the static files.

        Raises ``StartupError`` with the process's one-line message if the input is bad.
        """
        from visualizer.app.forks import TemplateError

        try:
            sp = await self._spawn()
        except TemplateError as exc:
            raise StartupError(str(exc)) from None
        deadline = time.monotonic() + self.config.start_timeout
        while sp.state == "starting" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if sp.state != "warm":
            with contextlib.suppress(ProcessLookupError):
                sp.proc.kill()
            await sp.proc.wait()
            raise StartupError(sp.kill_reason or "the session process did not start")
        self._task = asyncio.ensure_future(self._supervise())
        return sp.static or {}

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
        for p in list(self.procs):
            with contextlib.suppress(ProcessLookupError):
                p.proc.terminate()
        for p in list(self.procs):
            try:
                await asyncio.wait_for(p.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    p.proc.kill()
                await p.proc.wait()
        if self.forker is not None:
            await self.forker.stop()

    # ------------------------------------------------------------------ claiming
    async def claim(self) -> SessionProcess:
        """A warm session process for a new browser (waits for one to start if none is warm)."""
        if self._stopping:
            raise Busy()
        if len(self.claimed()) >= self.config.sessions_max:
            orphans = sorted((p for p in self.claimed() if p.orphaned), key=lambda p: p.left_at or 0)
            if not orphans:
                raise Busy()
            self._kill(orphans[0], "its slot went to a new browser (its own browser had left)",
                       sig=signal.SIGTERM)
            self._forget(orphans[0])
        deadline = time.monotonic() + self.config.start_timeout
        while True:
            warm = self.warm()
            if warm:
                sp = warm[0]
                sp.state = "claimed"
                sp.claimed_at = time.monotonic()
                sp.id = secrets.token_hex(16)
                self.sessions[sp.id] = sp
                log.info("session %s -> process %d (%d in use, %d warm)", sp.id[:8], sp.pid,
                         len(self.claimed()), len(self.warm()))
                self._replenish()
                self._changed()
                return sp
            if time.monotonic() > deadline:
                raise Unavailable()
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            self._replenish()
            try:
                await asyncio.wait_for(asyncio.shield(fut), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                pass
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)

    def find(self, session_id: str) -> SessionProcess | None:
        sp = self.sessions.get(session_id)
        return sp if sp is not None and sp.state == "claimed" else None

    def browser_joined(self, sp: SessionProcess) -> None:
        sp.browsers += 1
        sp.ever_connected = True
        sp.left_at = None
        self._changed()

    def browser_left(self, sp: SessionProcess) -> None:
        sp.browsers = max(0, sp.browsers - 1)
        if sp.browsers == 0:
            sp.left_at = time.monotonic()
        self._changed()

    # ------------------------------------------------------------------ processes
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
        env.setdefault("MALLOC_ARENA_MAX", "2")
        # sessions are the parallelism: one compute thread each (no BLAS/OpenMP/VTK thread pools
        # spinning against each other on a small machine, and none in the template that forks
        # them); the operator's own settings win
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VTK_SMP_MAX_THREADS"):
            env.setdefault(var, "1")
        env.setdefault("VTK_SMP_BACKEND_IN_USE", "Sequential")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    async def _spawn(self) -> SessionProcess:
        cfg = self.config
        if cfg.template:
            from visualizer.app.forks import Forker

            if self.forker is None:
                self.forker = Forker(cfg.python, self._env(),
                                     {"protocol": cfg.protocol, "mesh": cfg.mesh, "landmarks": cfg.landmarks},
                                     start_timeout=cfg.start_timeout)
            proc = await self.forker.fork()
        else:
            proc = await asyncio.create_subprocess_exec(
                cfg.python, "-m", "visualizer.app.worker",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None,
                start_new_session=True, env=self._env(), limit=256 * 1024,
            )
        sp = SessionProcess(proc=proc, secret=secrets.token_urlsafe(24))
        self.procs.append(sp)
        line = json.dumps({
            "secret": sp.secret, "protocol": cfg.protocol, "mesh": cfg.mesh, "landmarks": cfg.landmarks,
            "idle": cfg.idle, "address_space_mb": cfg.address_space_mb or cfg.memory_mb + 3072,
            "max_message": cfg.max_message, "frame": cfg.frame, "records_db": cfg.records_db,
        })
        assert proc.stdin is not None
        proc.stdin.write(line.encode() + b"\n")  # stdin stays open: its EOF tells the process we are gone
        reader = asyncio.ensure_future(self._read(sp))
        self._keep(asyncio.ensure_future(self._wait(sp, reader)))
        return sp

    async def _read(self, sp: SessionProcess) -> None:
        assert sp.proc.stdout is not None
        while True:
            try:
                line = await sp.proc.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue  # an over-long line from a library: skip it
            if not line:
                return
            i = line.find(TAG)
            if i < 0:
                text = line.decode(errors="replace").rstrip()
                if text:
                    log.info("process %d: %s", sp.pid, text[:300])
                continue
            word, _, rest = line[i + len(TAG):].decode(errors="replace").strip().partition(" ")
            sp.last_beat = time.monotonic()
            if word == "ready" and sp.state == "starting":
                port, _, static = rest.partition(" ")
                sp.port = int(port)
                with contextlib.suppress(ValueError):
                    sp.static = json.loads(static) if static else None
                sp.state = "warm"
                self._failures = 0
                log.info("process %d warm on port %d (%.1f s)", sp.pid, sp.port, time.monotonic() - sp.started)
                self._wake()
                self._changed()
            elif word == "error":
                sp.kill_reason = rest[:500]

    async def _wait(self, sp: SessionProcess, reader: asyncio.Future) -> None:
        code = await sp.proc.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 2)  # its last words (an error line)
        was = sp.state
        self._forget(sp)
        self.ended += 1
        if was == "starting":
            self._failures += 1
            self._next_spawn = time.monotonic() + min(30.0, 2.0 * self._failures)
        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        why = sp.kill_reason or ("idle" if code == 0 else "crashed")
        if not self._stopping and self._task is not None:  # start-up failures are reported by the caller
            (log.info if code == 0 else log.warning)(
                "process %d (%s%s) ended: %s (%s)", sp.pid, was,
                f", session {sp.id[:8]}" if sp.id else "", how, why)
        self._replenish()
        self._wake()
        self._changed()

    def _forget(self, sp: SessionProcess) -> None:
        if sp.state != "ended":
            sp.state = "ended"
        if sp in self.procs:
            self.procs.remove(sp)
        if sp.id:
            self.sessions.pop(sp.id, None)

    def _kill(self, sp: SessionProcess, reason: str, sig: int = signal.SIGKILL) -> None:
        if sp.kill_reason is None:
            sp.kill_reason = reason
            log.warning("process %d%s: %s", sp.pid, f" (session {sp.id[:8]})" if sp.id else "", reason)
        with contextlib.suppress(ProcessLookupError):
            sp.proc.send_signal(sig)
        if sig != signal.SIGKILL:
            asyncio.get_running_loop().call_later(5, self._force_kill, sp)

    @staticmethod
    def _force_kill(sp: SessionProcess) -> None:
        if sp.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                sp.proc.kill()

    def _replenish(self) -> None:
        if self._stopping or time.monotonic() < self._next_spawn:
            return
        cfg = self.config
        room = cfg.sessions_max - len(self.claimed())
        want = min(room, cfg.pool + len(self._waiters))
        have = len(self.warm()) + len(self.starting())
        can_start = cfg.max_starting - len(self.starting())
        for _ in range(max(0, min(want - have, can_start))):
            self._keep(asyncio.ensure_future(self._spawn_logged()))

    def _keep(self, task: asyncio.Future) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _spawn_logged(self) -> None:
        try:
            await self._spawn()
        except Exception as exc:  # e.g. out of file descriptors: try again later
            self._failures += 1
            self._next_spawn = time.monotonic() + min(30.0, 2.0 * self._failures)
            log.warning("could not start a session process: %s", exc)

    def _wake(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()

    async def _supervise(self) -> None:
        cfg = self.config
        while True:
            now = time.monotonic()
            for sp in list(self.procs):
                if sp.kill_reason or sp.proc.returncode is not None:
                    continue
                rss = sp.rss_mb()
                if rss > cfg.memory_mb:
                    self._kill(sp, f"memory limit: RSS {rss:.0f} MB > {cfg.memory_mb} MB")
                elif sp.state == "starting" and now - sp.started > cfg.start_timeout:
                    self._kill(sp, f"not ready after {cfg.start_timeout:.0f} s")
                elif sp.state != "starting" and now - sp.last_beat > cfg.hang_seconds:
                    self._kill(sp, f"hung: no heartbeat for {now - sp.last_beat:.0f} s")
                elif now - sp.started > cfg.lifetime:
                    self._kill(sp, f"maximum lifetime ({cfg.lifetime:.0f} s) reached", sig=signal.SIGTERM)
                elif (sp.state == "claimed" and not sp.ever_connected
                      and now - (sp.claimed_at or now) > cfg.connect_grace):
                    self._kill(sp, "its browser never connected", sig=signal.SIGTERM)
                elif sp.orphaned and now - (sp.left_at or now) > cfg.idle + 10:
                    self._kill(sp, "browser gone and the process did not exit by itself", sig=signal.SIGTERM)
            self._trim()
            self._replenish()
            await asyncio.sleep(1.0)

    def _trim(self) -> None:
        """End warm processes beyond the pool size (started for a browser that got another one)."""
        if self._waiters:
            return
        for sp in sorted(self.warm(), key=lambda p: p.started)[self.config.pool:]:
            self._kill(sp, "more warm processes than the pool keeps", sig=signal.SIGTERM)
