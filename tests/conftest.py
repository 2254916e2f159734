"""Shared fixtures: the default head (loaded once) and plans on it."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

# The tests never touch the user's own records: the default database (platformdirs' user data
# folder) is a private temporary folder for this run, also for every app and CLI they start.
_DATA_HOME = tempfile.mkdtemp(prefix="injectviz-test-data-")
os.environ["XDG_DATA_HOME"] = _DATA_HOME
os.environ.pop("INJECTVIZ_DB", None)
atexit.register(shutil.rmtree, _DATA_HOME, ignore_errors=True)

from visualizer.head import Head, load_head  # noqa: E402  (after the environment above)


@pytest.fixture(scope="session")
def head() -> Head:
    return load_head()


_APPS = [0]


@pytest.fixture
def trame_app(head: Head):
    """An ``InjectVizApp`` on the default head with a trame server of its own (no browser)."""
    from trame.app import get_server

    import visualizer as engine
    from visualizer.app.context import AppContext
    from visualizer.app.core import InjectVizApp

    _APPS[0] += 1
    a = InjectVizApp(get_server(f"trame_app_{_APPS[0]}", client_type="vue3"), AppContext(engine=engine, head=head))
    a.server.state.ready()
    yield a
    a.close()
