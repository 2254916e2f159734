#!/usr/bin/env bash
# One command: set up (first time only) and serve the app on the bundled head + PREEMPT.
# Extra arguments go to app.py (e.g. --port 9000 --protocol preempt-ftp).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export VTK_DEFAULT_OPENGL_WINDOW=${VTK_DEFAULT_OPENGL_WINDOW:-vtkEGLRenderWindow}
exec .venv/bin/python app.py "$@"
