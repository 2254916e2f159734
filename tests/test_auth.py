"""Login at the front server (``visualizer.app.auth``): the gate, throttling, trusted proxies, roles.

The front runs here on its own event loop with a stand-in session pool that records every claim,
so "401 BEFORE any session process is started" is checked directly (the pool is never asked).
No VTK, no session process: fast.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from visualizer.app.auth import COOKIE, Throttle, _safe_next, parse_proxies, refuse_reason

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """Argon2 with small parameters in these tests (a hash carries its own: verification is unchanged)."""
    from argon2 import PasswordHasher

    import visualizer.records.accounts as accounts

    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


class FakePool:
    """What FrontServer needs of a SessionPool; counts claims and assignments."""

    def __init__(self) -> None:
        self.config = SimpleNamespace(sessions_max=4, frame=1 << 20, max_message=4 << 20)
        self.claims = 0
        self.assigned: list[tuple[dict, str | None]] = []

    def can_accept(self) -> bool:
        return True

    def status(self) -> dict:
        return {"sessions": self.claims}

    async def claim(self):
        self.claims += 1
        return SimpleNamespace(id="f" * 32, secret="s" * 24, owner=None, browsers=0, port=1)

    async def assign(self, sp, identity, owner):
        sp.owner = owner
        self.assigned.append((identity, owner))

    def find(self, sid):
        return None

    def browsers(self) -> int:
        return 0


@pytest.fixture
def db(tmp_path: Path):
    from visualizer.records.accounts import Accounts
    from visualizer.records.db import open_database
    from visualizer.records.service import Records

    d = open_database(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    a = Accounts(d)
    a.add("alice", "injector", PASSWORD)
    a.add("tom", "trainer", PASSWORD)
    Records(d).add_patient("TEST-0001", name="Test Person Alpha", pain_regions=["left-temporal"])
    yield d
    d.dispose()


def run_front(db, body, *, trusted=frozenset(), idle=900.0, www: Path | None = None):
    """Start a FrontServer on a free loopback port, run ``await body(base_url, pool, front)``, stop it."""
    from aiohttp import web

    from visualizer.app.origins import OriginPolicy
    from visualizer.app.serve import FrontServer

    async def main():
        pool = FakePool()
        front = FrontServer(pool, None, gate=None, db=db)
        front.gate.idle = idle
        front.gate.trusted = trusted
        if www is not None:
            front._www = www
            front.web.router.add_static("/static", www)
        runner = web.AppRunner(front.web, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        front.origins = OriginPolicy("127.0.0.1", port)
        front.gate.start()
        try:
            return await asyncio.wait_for(body(f"http://127.0.0.1:{port}", pool, front), 60)
        finally:
            await front.close()
            await runner.cleanup()

    # in a thread of its own: a session-scoped Playwright (the browser tests) may hold this thread's loop
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, main()).result()


def client() -> aiohttp.ClientSession:
    """A client that keeps cookies of an IP-address host (aiohttp refuses them by default)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def login(http: aiohttp.ClientSession, base: str, name: str, password: str = PASSWORD, **headers):
    return await http.post(
        f"{base}/login", data={"name": name, "password": password, "next": "/"}, allow_redirects=False, headers=headers
    )


def test_without_login_everything_is_401_and_no_session_process_is_claimed(db, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("<html><body>APP</body></html>")

    async def body(base, pool, front):
        async with client() as http:
            r = await http.get(f"{base}/")
            assert r.status == 401 and "Log in" in await r.text() and "APP" not in await r.text()
            for path in ("/index.html", "/records/", "/records/patient/TEST-0001", "/static/index.html"):
                r = await http.get(base + path)
                text = await r.text()
                assert r.status == 401, path
                assert "Alpha" not in text and "APP" not in text and "visits" not in text, path
            r = await http.post(f"{base}/paraview/", json={})
            assert r.status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                await http.ws_connect(f"{base}/proxy/{'f' * 32}")
            assert exc.value.status == 401
            http.cookie_jar.update_cookies({COOKIE: "made-up-token-of-enough-length-1234567890"})
            r = await http.post(f"{base}/paraview/", json={})
            assert r.status == 401
            assert (await http.get(f"{base}/health")).status == 200
        assert pool.claims == 0  # no session process was ever handed out

    run_front(db, body, www=www)


def test_login_sets_a_strict_httponly_cookie_and_opens_the_launcher(db, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("<html><body>APP</body></html>")

    async def body(base, pool, front):
        async with client() as http:
            r = await login(http, base, "alice")
            assert r.status == 303
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
            assert "Secure" not in cookie  # plain HTTP, no trusted proxy
            r = await http.get(f"{base}/")
            text = await r.text()
            assert r.status == 200 and "APP" in text and "alice" in text and "Log out" in text
            r = await http.post(f"{base}/paraview/", json={})
            data = await r.json()
            assert r.status == 200 and data["sessionURL"].startswith("ws://USE_HOST/proxy/")
            identity, owner = pool.assigned[-1]
            assert identity == {"user": "alice", "role": "injector", "address": "127.0.0.1", "login": True}
            assert owner in front.gate.sessions
            r = await http.get(f"{base}/records/patient/TEST-0001")
            assert r.status == 200 and "Test Person Alpha" in await r.text()
            r = await http.post(f"{base}/logout", allow_redirects=False)
            assert r.status == 303 and not front.gate.sessions
            assert (await http.post(f"{base}/paraview/", json={})).status == 401

    run_front(db, body, www=www)


def test_a_trainer_gets_the_app_but_not_the_records(db):
    from visualizer.records.audit import entries

    async def body(base, pool, front):
        async with client() as http:
            assert (await login(http, base, "tom")).status == 303
            for path in ("/records/", "/records/patient/TEST-0001"):
                r = await http.get(base + path)
                text = await r.text()
                assert r.status == 403 and "no access to patient records" in text
                assert "Alpha" not in text
            r = await http.post(f"{base}/paraview/", json={})
            assert r.status == 200
            assert pool.assigned[-1][0]["role"] == "trainer"

    run_front(db, body)
    denied = [e for e in entries(db, user="tom") if e["outcome"] == "denied"]
    assert [e["action"] for e in denied] == ["list_patients", "patient_summary"]
    assert denied[1]["patient"] == "TEST-0001" and denied[1]["source"] == "127.0.0.1 (app)"


def test_failed_logins_are_throttled_per_name_and_logged(db, caplog):
    from visualizer.records.audit import entries

    async def body(base, pool, front):
        async with client() as http:
            for _ in range(5):
                r = await login(http, base, "alice", "wrong password!")
                assert r.status == 401 and "Wrong name or password" in await r.text()
            r = await login(http, base, "alice")  # the right password, but now it must wait
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
            assert "alice" not in {s.name for s in front.gate.sessions.values()}
            await asyncio.sleep(1.2)  # the first delay is 1 s
            assert (await login(http, base, "alice")).status == 303

    with caplog.at_level("WARNING", logger="injectviz.auth"):
        run_front(db, body)
    outcomes = [e["outcome"] for e in entries(db, user="alice") if e["action"] == "login"]
    assert outcomes == ["failed"] * 5 + ["throttled", "ok"]
    assert sum("failed" in r.getMessage() for r in caplog.records) == 5
    assert not any("wrong password" in r.getMessage() for r in caplog.records)  # never the password


def test_throttle_delay_grows_per_name_and_per_address():
    t = Throttle()
    for i in range(5):
        assert t.wait("alice", "10.0.0.1", now=100.0 + i) == 0
        t.failed("alice", "10.0.0.1", now=100.0 + i)
    assert t.wait("alice", "10.0.0.9", now=104.5) == pytest.approx(0.5)  # by name, from anywhere
    assert t.wait("bob", "10.0.0.1", now=104.5) == pytest.approx(0.5)  # by address, any name
    assert t.wait("bob", "10.0.0.9", now=104.5) == 0
    t.failed("alice", "10.0.0.1", now=106.0)
    assert t.wait("alice", "10.0.0.1", now=106.0) == pytest.approx(2.0)  # 1, 2, 4, ... s
    t.succeeded("alice", "10.0.0.1")
    assert t.wait("alice", "10.0.0.1", now=106.0) == 0


def test_forwarded_headers_are_believed_only_from_the_trusted_proxy(db):
    spoof = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}

    async def body(base, pool, front):
        async with client() as http:
            r = await login(http, base, "alice", **spoof)
            assert r.status == 303 and "Secure" in r.headers["Set-Cookie"]
            s = next(iter(front.gate.sessions.values()))
            assert s.address == "203.0.113.9" and s.tls
            # a Secure cookie is not sent over plain HTTP: send it as the browser would over TLS
            r = await http.post(f"{base}/paraview/", json={}, headers={**spoof, "Cookie": f"{COOKIE}={s.token}"})
            assert (await r.json())["sessionURL"].startswith("wss://")

    run_front(db, body, trusted=parse_proxies(["127.0.0.1"]))

    async def untrusted(base, pool, front):
        async with client() as http:
            r = await login(http, base, "alice", **spoof)
            assert r.status == 303 and "Secure" not in r.headers["Set-Cookie"]
            s = next(iter(front.gate.sessions.values()))
            assert s.address == "127.0.0.1" and not s.tls

    run_front(db, untrusted, trusted=parse_proxies(["127.0.0.2"]))


def test_idle_sessions_end(db):
    async def body(base, pool, front):
        async with client() as http:
            assert (await login(http, base, "alice")).status == 303
            assert (await http.post(f"{base}/paraview/", json={})).status == 200
            await asyncio.sleep(1.6)
            assert not front.gate.sessions  # ended by the watcher
            assert (await http.post(f"{base}/paraview/", json={})).status == 401

    run_front(db, body, idle=1.0)


def test_a_disabled_account_is_logged_out(db, monkeypatch):
    import visualizer.app.auth as auth
    from visualizer.records.accounts import Accounts

    monkeypatch.setattr(auth, "ACCOUNT_RECHECK", 0.0)

    async def body(base, pool, front):
        async with client() as http:
            assert (await login(http, base, "alice")).status == 303
            assert (await http.post(f"{base}/paraview/", json={})).status == 200
            await asyncio.to_thread(Accounts(db).disable, "alice")
            assert (await http.post(f"{base}/paraview/", json={})).status == 401
            assert (await login(http, base, "alice")).status == 401

    run_front(db, body)


def test_start_checks():
    assert refuse_reason("0.0.0.0", True, 0) and "user add" in refuse_reason("0.0.0.0", True, 0)
    assert refuse_reason("127.0.0.1", True, 0) is None
    assert refuse_reason("0.0.0.0", True, 1) is None
    assert refuse_reason("0.0.0.0", False, 0) is None
    with pytest.raises(ValueError, match="--trusted-proxy 'nginx'"):
        parse_proxies(["nginx"])
    assert parse_proxies(["::ffff:127.0.0.1", "[::1]"]) == {"127.0.0.1", "::1"}


@pytest.mark.parametrize("bad", ["//evil.example/", "https://evil.example/", "\\\\evil", "/x\r\nSet-Cookie: a", "x"])
def test_next_after_login_stays_on_this_server(bad):
    assert _safe_next(bad) == ""
    assert re.match(r"^\./records/patient/TEST-0001$", _safe_next("/records/patient/TEST-0001"))


def test_app_refuses_non_loopback_with_records_and_no_account(tmp_path, capsys):
    from visualizer.app.serve import main

    rc = main(["--host", "0.0.0.0", "--port", "0", "--db", f"sqlite:///{tmp_path / 'r.sqlite3'}"])
    err = capsys.readouterr().err
    assert rc == 2 and "no account" in err and "injectviz user add" in err
