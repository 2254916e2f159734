"""Login for the front server: who may reach the app, the launcher and the websockets.

When the records are enabled and at least one account exists (``injectviz user add``), every
route but ``/login``, ``/logout`` and ``/health`` needs a logged-in session:

* ``GET /login`` shows the login page; ``POST /login`` checks name and password (Argon2, in a
  thread) and sets the session cookie - HttpOnly, SameSite=Strict, Path=/, and Secure when the page
  came over TLS (directly, or through a trusted proxy saying ``X-Forwarded-Proto: https``);
* without a valid session a page gets 401 with the login form (no data), and the launcher
  (``POST /paraview/``) and a websocket upgrade get 401 BEFORE any session process is claimed;
* a session ends after ``idle`` seconds without a request or a message from its page (15 min by
  default), on logout, or when its account is disabled; its websockets are then closed;
* failed logins are throttled: after 5 failures for a name or from an address, further tries
  wait (1 s, doubling up to 5 min) - answered 429 without checking the password; every attempt
  is logged (never the password) and written to the audit log.

``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed only when the TCP peer is one of the
``--trusted-proxy`` addresses (the reverse proxy on this machine, e.g. 127.0.0.1).

With the records off, or no account in the database, nothing changes: the app runs as before,
on loopback (:func:`refuse_reason` stops a non-loopback start with records and no account).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ipaddress
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote as urlquote

from aiohttp import web

log = logging.getLogger("injectviz.auth")

COOKIE = "injectviz_session"
PUBLIC = frozenset({"/login", "/logout", "/health"})
FAILURES_FREE = 5  # failed logins per name or address before the delay starts
DELAY_FIRST = 1.0
DELAY_MAX = 300.0
FORGET_AFTER = 3600.0  # a name/address with no failure for an hour starts afresh
FORM_MAX = 8 * 1024
ACCOUNT_RECHECK = 10.0  # seconds between re-reading a logged-in account (disabled? role changed?)
REQUIRED_RECHECK = 5.0  # seconds between counting the accounts (login on once the first one is added)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>InjectViz - log in</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f4f6f8;color:#222;margin:0}}
main{{max-width:22em;margin:12vh auto;background:#fff;padding:2em 2.2em;border-radius:10px;
box-shadow:0 2px 12px rgba(0,0,0,.12)}}
h1{{font-size:1.4em;margin:0 0 .2em}} p.sub{{margin:0 0 1.4em;color:#555}}
label{{display:block;margin:.9em 0 .3em;font-weight:600}}
input{{width:100%;box-sizing:border-box;padding:.55em;font-size:1em;border:1px solid #bbb;border-radius:6px}}
button{{margin-top:1.4em;width:100%;padding:.65em;font-size:1em;background:#1565c0;color:#fff;border:0;
border-radius:6px;cursor:pointer}}
.msg{{background:#fdecea;color:#8a1c12;padding:.6em .8em;border-radius:6px;margin:0 0 1em}}
.note{{background:#e8f0fe;color:#174ea6;padding:.6em .8em;border-radius:6px;margin:0 0 1em}}
</style></head>
<body><main>
<h1>InjectViz</h1><p class="sub">Log in with your clinic account.</p>
{message}
<form method="post" action="{action}" autocomplete="on">
<input type="hidden" name="next" value="{next}">
<label for="name">Name</label>
<input id="name" name="name" autocomplete="username" required maxlength="64" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<button id="login" type="submit">Log in</button>
</form></main></body></html>
"""

#: shown over the app's page when login is on: who is logged in, and the way out
USER_BAR = """
<div id="injectviz-user" style="position:fixed;top:12px;left:50%;transform:translateX(-50%);z-index:10000;
font:13px system-ui,sans-serif;background:rgba(255,255,255,.92);border:1px solid #ccc;border-radius:6px;
padding:3px 8px;color:#333">
<span id="injectviz-user-name">{name}</span> ({role}) &middot;
<form method="post" action="logout" style="display:inline;margin:0">
<button id="injectviz-logout" type="submit" style="border:0;background:none;color:#1565c0;cursor:pointer;
padding:0;font:inherit;text-decoration:underline">Log out</button></form></div>
"""


@dataclass
class LoginSession:
    """One logged-in browser: its account, where it came from, when it was last active."""

    token: str
    name: str
    role: str
    address: str
    tls: bool
    created: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    checked: float = field(default_factory=time.monotonic)
    ended: asyncio.Future | None = None

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    @property
    def identity(self) -> dict[str, Any]:
        """What the session process is told about its user (never the token)."""
        return {"user": self.name, "role": self.role, "address": self.address, "login": True}


LOGIN_KEY: web.RequestKey[Any] = web.RequestKey("injectviz_login", object)
ADDRESS_KEY: web.RequestKey[str] = web.RequestKey("injectviz_address", str)
TLS_KEY: web.RequestKey[bool] = web.RequestKey("injectviz_tls", bool)


def login_of(request: web.Request) -> LoginSession | None:
    """The request's login session (None: no login on this server, or a public route)."""
    return request.get(LOGIN_KEY)


def address_of(request: web.Request) -> str:
    """The browser's address as the gate worked it out (trusted proxies considered)."""
    return request.get(ADDRESS_KEY) or request.remote or "unknown"


def tls_of(request: web.Request) -> bool:
    """Whether the page came over TLS (directly or via a trusted proxy)."""
    return bool(request.get(TLS_KEY))


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0

    def wait(self, now: float) -> float:
        """Seconds before the next try may be checked (0: now)."""
        if now - self.last > FORGET_AFTER:
            self.count = 0
        if self.count < FAILURES_FREE:
            return 0.0
        delay = min(DELAY_MAX, DELAY_FIRST * 2 ** (self.count - FAILURES_FREE))
        return max(0.0, self.last + delay - now)


class Throttle:
    """Failed logins per name and per address, with a growing delay after ``FAILURES_FREE``."""

    def __init__(self) -> None:
        self._by: dict[str, _Failures] = {}

    def wait(self, name: str, address: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return max(self._get(f"n:{name}").wait(now), self._get(f"a:{address}").wait(now))

    def failed(self, name: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in (f"n:{name}", f"a:{address}"):
            f = self._get(key)
            f.wait(now)  # forgets an old streak
            f.count += 1
            f.last = now
        if len(self._by) > 100_000:  # a flood of made-up names: keep the newest
            for k in sorted(self._by, key=lambda k: self._by[k].last)[:50_000]:
                del self._by[k]

    def succeeded(self, name: str, address: str) -> None:
        self._by.pop(f"n:{name}", None)
        self._by.pop(f"a:{address}", None)

    def _get(self, key: str) -> _Failures:
        f = self._by.get(key)
        if f is None:
            f = self._by[key] = _Failures()
        return f


def parse_proxies(values: list[str]) -> frozenset[str]:
    """``--trusted-proxy`` addresses, normalised (raises ValueError naming a bad one)."""
    out = set()
    for v in values:
        try:
            ipaddress.ip_address(v.strip().strip("[]"))
            out.add(_norm(v))
        except ValueError:
            raise ValueError(f"--trusted-proxy {v!r}: not an IP address (e.g. 127.0.0.1)") from None
    return frozenset(out)


def refuse_reason(host: str, records_on: bool, accounts: int) -> str | None:
    """Why the server must not start (records on, listening beyond loopback, no account), or None."""
    if records_on and accounts == 0 and host.strip().lower() not in LOOPBACK_HOSTS:
        return (
            f"--host {host}: the records are on and there is no account, so anyone who reaches this "
            "address could read them. Add an account first (`injectviz user add NAME --role injector`), "
            "listen on a loopback address (127.0.0.1), or give --no-records to serve planning without records."
        )
    return None


class Gate:
    """Sessions, throttling and the aiohttp middleware of the front server."""

    def __init__(
        self,
        db: Any | None,
        *,
        idle: float = 900.0,
        trusted_proxies: frozenset[str] = frozenset(),
        origins: Callable[[], Any] | None = None,
    ) -> None:
        self.db = db
        self.idle = idle
        self.trusted = trusted_proxies
        self.origins = origins or (lambda: None)
        self.sessions: dict[str, LoginSession] = {}
        self.throttle = Throttle()
        self._required = False
        self._required_at = -1e9
        self._index: str | None = None
        self._task: asyncio.Task | None = None
        self._writer: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ state
    def accounts(self) -> Any:
        from visualizer.records.accounts import Accounts

        return Accounts(self.db)

    async def required(self) -> bool:
        """Login is on: records enabled and at least one active account (re-counted every few s)."""
        if self.db is None:
            return False
        now = time.monotonic()
        if self._required or now - self._required_at < REQUIRED_RECHECK:
            return self._required  # once on, stays on for this server's life
        self._required_at = now
        try:
            self._required = await asyncio.to_thread(lambda: self.accounts().count_active() > 0)
        except Exception as exc:  # database away: fail closed if it ever had accounts
            log.warning(
                "cannot count the accounts (%s): login stays %s", type(exc).__name__, "on" if self._required else "off"
            )
        return self._required

    def client_address(self, request: web.Request) -> str:
        """The browser's address: the peer, or (from a trusted proxy) the nearest untrusted X-Forwarded-For hop."""
        peer = _norm(request.remote or "")
        if peer not in self.trusted:
            return peer or "unknown"
        hops = [_norm(h) for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in self.trusted:
                return hop or "unknown"
        return peer

    def is_tls(self, request: web.Request) -> bool:
        """The page came over TLS: a direct TLS socket, or a trusted proxy's ``X-Forwarded-Proto: https``."""
        if request.secure and request.transport is not None and request.transport.get_extra_info("sslcontext"):
            return True
        if _norm(request.remote or "") in self.trusted:
            return request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"
        return False

    async def session(self, request: web.Request) -> LoginSession | None:
        """The request's live login session (touched), or None."""
        token = request.cookies.get(COOKIE, "")
        s = self.sessions.get(token) if 20 <= len(token) <= 100 else None
        if s is None:
            return None
        now = time.monotonic()
        if now - s.last_seen > self.idle:
            self.end(s, "idle timeout")
            return None
        if now - s.checked > ACCOUNT_RECHECK:
            s.checked = now
            try:
                acct = await asyncio.to_thread(self.accounts().current, s.name)
            except Exception:
                acct = None
            if acct is None or acct.role != s.role:
                self.end(s, "account disabled or changed")
                return None
        s.touch()
        return s

    def end(self, s: LoginSession, why: str) -> None:
        """End a login session: forget the token and close its websockets."""
        if self.sessions.pop(s.token, None) is not None:
            log.info("login session of %s from %s ended: %s", s.name, s.address, why)
            self._audit(s.name, s.role, s.address, "logout", detail=why)
        if s.ended is not None and not s.ended.done():
            s.ended.set_result(why)

    def ended_future(self, s: LoginSession) -> asyncio.Future:
        if s.ended is None:
            s.ended = asyncio.get_running_loop().create_future()
        return s.ended

    async def watch(self) -> None:
        """End idle sessions (their websockets close) every few seconds."""
        while True:
            await asyncio.sleep(min(5.0, max(0.2, self.idle / 4)))
            now = time.monotonic()
            for s in list(self.sessions.values()):
                if now - s.last_seen > self.idle:
                    self.end(s, "idle timeout")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self.watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.shutdown(wait=True)  # the last lines are written before the server exits
            self._writer = None

    def _audit(
        self, who: str, role: str | None, address: str, action: str, *, outcome: str = "ok", detail: str | None = None
    ) -> None:
        """Append a login/logout line off the event loop (one writer thread: lines stay in order)."""
        if self.db is None:
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")
        self._writer.submit(self._audit_now, who, role, address, action, outcome, detail)

    def _audit_now(
        self, who: str, role: str | None, address: str, action: str, outcome: str, detail: str | None
    ) -> None:
        from visualizer.records.audit import Actor, append

        try:
            append(self.db, Actor(who[:64], role, f"{address} (app)"), action, outcome=outcome, detail=detail)
        except Exception as exc:
            log.warning("audit log not written (%s): %s %s", type(exc).__name__, action, who[:64])

    # ------------------------------------------------------------------ routes
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/login", self.login_page)
        app.router.add_post("/login", self.login)
        app.router.add_get("/logout", self.logout)
        app.router.add_post("/logout", self.logout)
        app.middlewares.append(self.middleware)

    def _login_html(
        self,
        *,
        message: str = "",
        note: str = "",
        next_path: str = "",
        status: int = 200,
        headers: dict[str, str] | None = None,
        at: str = "/login",
    ) -> web.Response:
        msg = (f'<p class="msg" id="login-error">{html.escape(message)}</p>' if message else "") + (
            f'<p class="note">{html.escape(note)}</p>' if note else ""
        )
        action = "../" * max(0, at.count("/") - 1) + "login"  # relative: works behind a proxy's prefix too
        body = LOGIN_PAGE.format(
            message=msg, next=html.escape(next_path if _safe_next(next_path) else "", quote=True), action=action
        )
        return web.Response(
            status=status,
            text=body,
            content_type="text/html",
            headers={
                "Cache-Control": "no-store",
                "X-Frame-Options": "DENY",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                "frame-ancestors 'none'",
                **(headers or {}),
            },
        )

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        if not await self.required():
            raise web.HTTPFound("./")
        note = "You were logged out." if request.query.get("out") else ""
        return self._login_html(note=note, next_path=request.query.get("next", ""))

    async def login(self, request: web.Request) -> web.StreamResponse:
        if not await self.required():
            raise web.HTTPFound("./")
        origin = request.headers.get("Origin")
        policy = self.origins()
        if origin is not None and origin != "null" and policy is not None and not policy.allows(origin):
            log.warning("login from a page of origin %s refused", origin[:100])
            return web.Response(status=403, text="This page may not log in to InjectViz.")
        if (request.content_length or 0) > FORM_MAX:
            return web.Response(status=413, text="Too large.")
        try:
            form = await request.post()
        except Exception:
            return self._login_html(message="The login form could not be read.", status=400)
        name = str(form.get("name", ""))[:64].strip().lower()
        password = str(form.get("password", ""))
        next_path = str(form.get("next", ""))
        address = self.client_address(request)
        wait = self.throttle.wait(name, address)
        if wait > 0:
            log.warning("login of %r from %s: throttled (%.0f s to wait)", name, address, wait)
            self._audit(name or "?", None, address, "login", outcome="throttled")
            return self._login_html(
                message=f"Too many failed logins. Wait {int(wait) + 1} s, then try again.",
                next_path=next_path,
                status=429,
                headers={"Retry-After": str(int(wait) + 1)},
            )
        acct = await asyncio.to_thread(self.accounts().verify, name, password) if name and password else None
        if acct is None:
            self.throttle.failed(name, address)
            log.warning("login of %r from %s: failed", name, address)
            self._audit(name or "?", None, address, "login", outcome="failed")
            return self._login_html(message="Wrong name or password.", next_path=next_path, status=401)
        self.throttle.succeeded(name, address)
        tls = self.is_tls(request)
        s = LoginSession(token=secrets.token_urlsafe(32), name=acct.name, role=acct.role, address=address, tls=tls)
        self.sessions[s.token] = s
        log.info("login of %s (%s) from %s", acct.name, acct.role, address)
        self._audit(acct.name, acct.role, address, "login")
        resp = web.HTTPSeeOther(_safe_next(next_path) or "./")
        resp.set_cookie(COOKIE, s.token, httponly=True, samesite="Strict", secure=tls, path="/")
        resp.headers["Cache-Control"] = "no-store"
        raise resp

    async def logout(self, request: web.Request) -> web.StreamResponse:
        token = request.cookies.get(COOKIE, "")
        s = self.sessions.get(token)
        if s is not None:
            self.end(s, "logged out")
        resp = web.HTTPSeeOther("login?out=1")
        resp.del_cookie(COOKIE, path="/")
        raise resp

    # ------------------------------------------------------------------ the gate
    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        request[TLS_KEY] = self.is_tls(request)
        request[ADDRESS_KEY] = self.client_address(request)
        if request.path in PUBLIC or not await self.required():
            return await handler(request)
        s = await self.session(request)
        if s is None:
            upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
            if upgrade or request.method != "GET" or request.path.startswith(("/paraview", "/proxy")):
                log.info("%s %s from %s without a login: 401", request.method, request.path[:80], address_of(request))
                return web.Response(status=401, text="Log in first.", headers={"Cache-Control": "no-store"})
            nxt = request.path_qs if request.path not in ("/", "/index.html") else ""
            return self._login_html(next_path=nxt, status=401, at=request.path)
        request[LOGIN_KEY] = s
        return await handler(request)

    def index_html(self, path: Any, s: LoginSession | None) -> web.StreamResponse:
        """The app's page; with login on, with a small bar naming the user and a log-out button."""
        if s is None:
            return web.FileResponse(path, headers={"Cache-Control": "no-cache, no-store"})
        if self._index is None:
            self._index = path.read_text(encoding="utf-8")
        bar = USER_BAR.format(name=html.escape(s.name), role=html.escape(s.role))
        text = self._index.replace("</body>", bar + "</body>", 1) if "</body>" in self._index else self._index + bar
        return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-cache, no-store"})


def _norm(addr: str) -> str:
    addr = addr.strip().strip("[]")
    with contextlib.suppress(ValueError):
        ip = ipaddress.ip_address(addr)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip)
    return addr[:64]


def _safe_next(path: str) -> str:
    """A path of this server to go to after login (never another site), or ''."""
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return ""
    if len(path) > 500 or any(ord(c) < 32 for c in path):
        return ""
    return "." + urlquote(path, safe="/?=&%.-_~")


# ---------------------------------------------------------------------------------------------
# the front server's flags and start-up check
# ---------------------------------------------------------------------------------------------
def add_arguments(p: Any) -> None:
    """``--db``, ``--records``, ``--trusted-proxy``, ``--login-idle-minutes`` on the front's parser."""
    if "--db" not in getattr(p, "_option_string_actions", {}):  # another module may have added it
        p.add_argument(
            "--db",
            metavar="URL",
            default=None,
            help="records database URL: turns the patient records on (default: off; $INJECTVIZ_DB also turns them on)",
        )
    p.add_argument(
        "--records",
        action="store_true",
        help="serve the patient records with the default database (the user's data folder); the default "
        "unless --no-records",
    )
    p.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="the reverse proxy's address (e.g. 127.0.0.1): only its X-Forwarded-For/-Proto "
        "headers are believed; repeatable",
    )
    p.add_argument(
        "--login-idle-minutes",
        type=float,
        default=15.0,
        metavar="MIN",
        help="log a browser out after this many minutes without activity (default 15)",
    )


def records_url(args: Any) -> str | None:
    """The records database URL, or None when ``--no-records`` turned them off.

    ``--db URL``, else ``$INJECTVIZ_DB``, else the default SQLite file in the user's data folder
    (records are on by default; ``--records`` says so explicitly).
    """
    from visualizer.records.db import resolve_url

    if getattr(args, "no_records", False):
        return None
    return resolve_url(getattr(args, "db", None))


def _new_sqlite_file(url: str) -> bool:
    """Whether ``url`` is a SQLite file that does not exist yet."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from visualizer.records.db import sqlite_path

    try:
        path = sqlite_path(make_url(url))
    except ArgumentError:
        return False
    return path is not None and not path.exists()


def prepare(args: Any) -> tuple[Any, str | None]:
    """Open the records (if on) and check the start may go ahead: ``(database or None, problem or None)``."""
    try:
        parse_proxies(args.trusted_proxy)
    except ValueError as exc:
        return None, str(exc)
    if not 1 <= args.login_idle_minutes <= 24 * 60:
        return None, f"--login-idle-minutes {args.login_idle_minutes:g}: choose 1..1440"
    url = records_url(args)
    if url is None:
        return None, None
    if refuse_reason(args.host, True, 0) and _new_sqlite_file(url):
        return None, refuse_reason(args.host, True, 0)  # a database not made yet holds no account: create nothing
    from visualizer.errors import InjectVizError
    from visualizer.records.accounts import Accounts
    from visualizer.records.db import open_database

    try:
        db = open_database(url)
        n = Accounts(db).count_active()
    except InjectVizError as exc:
        return None, " ".join(str(exc).split())[:500]
    problem = refuse_reason(args.host, True, n)
    if problem:
        db.dispose()
        return None, problem
    return db, None
