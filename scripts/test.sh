#!/usr/bin/env bash
# One command: set up (first time only), make sure Chromium, poppler-utils and nginx are there, run every
# test (unit, render, records on SQLite and PostgreSQL, browser end-to-end, the docstring examples
# of visualizer/, the golden plans) and ruff (lint and format check). Extra
# arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/chromium ] && [ ! -x /usr/lib/chromium/chromium ]; then
  echo "installing Debian's chromium for the browser tests" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y chromium >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y chromium >/dev/null; }
fi
if ! command -v pdftoppm >/dev/null || ! command -v pdftotext >/dev/null; then
  echo "installing Debian's poppler-utils (pdftoppm, pdftotext) for the report tests" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y poppler-utils >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y poppler-utils >/dev/null; }
fi
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "installing Debian's nginx for the TLS reverse-proxy test (run as the test's own child, never as a service)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y nginx >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y nginx >/dev/null; }
fi
export INJECTVIZ_REQUIRE_BROWSER=1  # browser tests fail, never skip, here
export INJECTVIZ_REQUIRE_PG=1 INJECTVIZ_REQUIRE_PDFTOOLS=1  # records tests on PostgreSQL and PDF checks, too
export VTK_DEFAULT_OPENGL_WINDOW=${VTK_DEFAULT_OPENGL_WINDOW:-vtkEGLRenderWindow}
.venv/bin/ruff check visualizer tests app.py benchmarks meshes
.venv/bin/ruff format --check visualizer tests app.py benchmarks meshes
# a throwaway PostgreSQL server (loopback only) for the records tests, stopped when pytest ends
exec bash scripts/with-postgres.sh .venv/bin/python -m pytest "$@"
