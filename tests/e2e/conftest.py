"""End-to-end fixtures: start ``app.py`` on a free port and drive Debian's Chromium with Playwright.

* ``app_url``: one server per test session (``python app.py --port 0``), stopped at the end.
* ``browser``: headless Chromium from ``INJECTVIZ_CHROMIUM``, ``/usr/lib/chromium/chromium`` or
  ``/usr/bin/chromium`` (``playwright install`` is not needed).
* ``page``: a fresh browser context (its own connection, so its own patient) at 1280x800, loaded
  and waited until the 3D view has drawn the head.

Screenshots go to ``tests/artifacts/`` (gitignored). Tests are skipped, with the reason, when
Playwright or Chromium is missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_helpers import ARTIFACTS, CHROMIUM_ARGS, chromium_path, close_page, open_app, start_app, stop_app


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def app_server():
    proc, url, _ = start_app()
    yield proc, url
    stop_app(proc)


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server[1]


@pytest.fixture(scope="session")
def browser():
    required = os.environ.get("INJECTVIZ_REQUIRE_BROWSER") == "1"  # set by scripts/test.sh (and so CI)
    try:
        from playwright import sync_api
    except ImportError:
        if required:
            pytest.fail("playwright is not installed, and the browser tests are required")
        pytest.skip("playwright is not installed")
    exe = chromium_path()
    if exe is None:
        msg = "Chromium not found (apt-get install chromium, or set INJECTVIZ_CHROMIUM)"
        if required:
            pytest.fail(msg)
        pytest.skip(msg)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    p = open_app(browser, app_url)
    yield p
    close_page(p)
