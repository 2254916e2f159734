"""Shared fixtures: the default head (loaded once) and plans on it."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from visualizer.head import Head, load_head


@pytest.fixture(scope="session")
def head() -> Head:
    return load_head()
