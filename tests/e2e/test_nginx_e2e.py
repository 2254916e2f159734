"""The clinic deployment, end to end: Debian's nginx with TLS on loopback in front of ``app.py``.

nginx runs as a child of the test (``daemon off``) from a temporary folder with its own config and a
self-signed certificate made here (openssl), on a free port; it connects to the app FROM 127.0.0.2
(``proxy_bind``), and the app trusts ``X-Forwarded-*`` only from 127.0.0.2 (``--trusted-proxy``).
So one machine shows both sides: requests through nginx are believed (TLS -> Secure cookie, wss),
the same headers sent straight to the app from 127.0.0.1 are not.

Chromium (``ignore_https_errors``) logs in through nginx, the app's websocket goes through nginx's
upgrade, a plan is made, and the record is opened; the audit log shows the reads.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_helpers import head_box, start_app, stop_app, wait_for_head

PASSWORD = "correct horse battery"
PROXY_FROM = "127.0.0.2"  # the address nginx connects to the app from
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_bind {proxy_from};
            proxy_http_version 1.1;
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
            proxy_buffering off;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificate(folder: Path) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(folder / "key.pem"),
            "-out",
            str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    exe = nginx_binary()
    if exe is None or shutil.which("openssl") is None:
        if os.environ.get("INJECTVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail("nginx or openssl missing (scripts/test.sh installs Debian's nginx)")
        pytest.skip("nginx or openssl missing (apt-get install nginx)")
    from visualizer.records.accounts import Accounts
    from visualizer.records.db import open_database
    from visualizer.records.service import Records

    tmp = tmp_path_factory.mktemp("nginx")
    tmp.chmod(0o755)
    url = f"sqlite:///{tmp / 'records.sqlite3'}"
    db = open_database(url)
    Accounts(db).add("alice", "injector", PASSWORD)
    Records(db).add_patient("TEST-0002", name="Test Person Beta", pain_regions=["left-temporal"])
    db.dispose()
    make_certificate(tmp)
    port = free_port()
    app, app_url, _ = start_app(
        "--db", url, "--pool", "1", "--trusted-proxy", PROXY_FROM, "--allow-origin", f"https://127.0.0.1:{port}"
    )
    app_port = int(app_url.rstrip("/").rsplit(":", 1)[1])
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(
        NGINX_CONF.format(tmp=tmp, port=port, app_port=app_port, proxy_from=PROXY_FROM, user=user)
    )
    nginx = subprocess.Popen(
        [exe, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"https://127.0.0.1:{port}"
    deadline = time.time() + 20
    while time.time() < deadline:
        if nginx.poll() is not None:
            stop_app(app)
            pytest.fail(
                f"nginx exited: {nginx.stdout.read().decode()[-2000:]} "
                f"{(tmp / 'error.log').read_text()[-2000:] if (tmp / 'error.log').exists() else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    try:
        yield {"url": url, "base": base, "app": app_url.rstrip("/"), "tmp": tmp}
    finally:
        nginx.terminate()
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(timeout=5)
        stop_app(app)


def post_login(url: str, name: str, password: str, headers: dict | None = None) -> tuple[int, str]:
    """POST the login form; (status, Set-Cookie header) without following the redirect."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx))
    data = urllib.parse.urlencode({"name": name, "password": password}).encode()
    req = urllib.request.Request(f"{url}/login", data=data, method="POST", headers=headers or {})
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.headers.get("Set-Cookie", "")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Set-Cookie", "")


def audit(url: str, **kw) -> list[dict]:
    from visualizer.records.audit import entries
    from visualizer.records.db import open_database

    db = open_database(url)
    try:
        return entries(db, **kw)
    finally:
        db.dispose()


def test_login_plan_and_record_through_nginx_with_tls(browser, deployment, artifacts):
    base = deployment["base"]
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True)
    page = ctx.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        r = page.goto(base + "/")
        assert r is not None and r.status == 401
        page.fill("#name", "alice")
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.wait_for_function(
            "() => { const e = document.querySelector('#total-units'); return e && e.textContent.trim().length > 0 }",
            timeout=60_000,
        )
        wait_for_head(page)
        cookie = next(c for c in ctx.cookies() if c["name"] == "injectviz_session")
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert any(u.startswith(f"wss://127.0.0.1:{base.rsplit(':', 1)[1]}/proxy/") for u in sockets), sockets
        # plan: rotate and zoom the head, then set the pain origin (temporal + occipital)
        box = head_box(page)
        cx, cy = (box["x0"] + box["x1"]) / 2, (box["y0"] + box["y1"]) / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + 60, cy, steps=5)
        page.mouse.up()
        page.mouse.wheel(0, -200)
        assert page.inner_text("#total-units") == "155"
        # the pain origin as the region chips send it, through nginx's websocket (PREEMPT hides the chips now)
        page.evaluate("() => window.trame.state.set('pain_chips', ['temporal', 'occipital'])")
        page.wait_for_timeout(2000)  # a refused value would be pushed back by the server by now
        assert page.evaluate("() => window.trame.state.get('pain_chips')") == ["temporal", "occipital"]
        assert page.inner_text("#total-units").strip()  # the plan is still on the page
        page.screenshot(path=str(artifacts / "nginx_tls_plan.png"))
        # record: over the websocket (through nginx) and as a page
        summary = page.evaluate("() => window.trame.trigger('records_patient', ['TEST-0002'])")
        assert summary["code"] == "TEST-0002" and summary["name"] == "Test Person Beta"
        rec = ctx.new_page()
        r = rec.goto(base + "/records/patient/TEST-0002")
        assert r is not None and r.status == 200 and rec.inner_text("#patient-name") == "Test Person Beta"
        rec.screenshot(path=str(artifacts / "nginx_tls_record.png"))
    finally:
        ctx.close()
    reads = [e for e in audit(deployment["url"], user="alice", patient="TEST-0002") if e["action"] == "patient_summary"]
    assert len(reads) == 2 and all(e["source"] == "127.0.0.1 (app)" and e["outcome"] == "ok" for e in reads)


def test_forwarded_headers_only_from_the_configured_proxy(deployment):
    spoof = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    # through nginx (which connects from the trusted 127.0.0.2): TLS is believed -> Secure cookie;
    # nginx replaces the client's own X-Forwarded-For with the address it saw
    status, cookie = post_login(deployment["base"], "alice", PASSWORD, spoof)
    assert status == 303 and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # straight to the app from 127.0.0.1 (not a trusted proxy): the same headers are ignored
    status, cookie = post_login(deployment["app"], "alice", PASSWORD, spoof)
    assert status == 303 and "Secure" not in cookie
    status, _ = post_login(deployment["app"], "mallory", "wrong password 1", spoof)
    assert status == 401
    status, _ = post_login(deployment["base"], "mallory", "wrong password 2", spoof)
    assert status == 401
    failed = [e for e in audit(deployment["url"], user="mallory") if e["action"] == "login"]
    assert [e["outcome"] for e in failed] == ["failed", "failed"]
    assert {e["source"] for e in failed} == {"127.0.0.1 (app)"}  # never the spoofed 203.0.113.9
    assert json.dumps(audit(deployment["url"])).count("203.0.113.9") == 0
