#!/usr/bin/env bash
# One command: set up (first time only), make sure Chromium is there, run every test
# (unit, render and browser end-to-end) and ruff. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/chromium ] && [ ! -x /usr/lib/chromium/chromium ]; then
  echo "installing Debian's chromium for the browser tests" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y chromium >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y chromium >/dev/null; }
fi
export INJECTVIZ_REQUIRE_BROWSER=1  # browser tests fail, never skip, here
export VTK_DEFAULT_OPENGL_WINDOW=${VTK_DEFAULT_OPENGL_WINDOW:-vtkEGLRenderWindow}
.venv/bin/ruff check visualizer tests app.py benchmarks meshes
exec .venv/bin/python -m pytest "$@"
