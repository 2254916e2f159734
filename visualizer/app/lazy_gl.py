"""A session's plotter without OpenGL until the server really draws.

VTK's OpenGL render window loads and initialises EGL as soon as it is *constructed* (VTK 9.7:
``vtkOpenGLRenderWindow::New`` loads libEGL and Mesa's llvmpipe driver, LLVM included): ≈ 80–100 MB
of resident pages in every session process, whether or not the server ever draws. In the
browser-rendered mode (vtk.js) the server never draws: the scene is serialized for the page
(trame-vtk reads the renderers, actors and meshes, not pixels) and a click is picked with a cell
locator (``vtkCellPicker``, geometry only). So a session's plotter starts on VTK's generic
``vtkRenderWindow``, which has no OpenGL at all, and gets a real (EGL) window only when the server
must draw:

* :func:`drawing` — one picture (a snapshot, the print view): the renderers are moved into the
  OpenGL window while it is drawn and back afterwards, so the plotter's window — and its id, to
  which the browser's vtk.js view is bound — never changes;
* :func:`adopt_gl` — the server-rendered view: the OpenGL window becomes the plotter's window
  for good (the caller points the views at it).

Nothing here knows about trame; ``visualizer.app.core`` uses it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from vtkmodules.vtkCommonCore import vtkObjectFactory
from vtkmodules.vtkRenderingCore import vtkRenderWindow

_GL_KEY = "_injectviz_gl_window"


def _seed_pyvista_check() -> None:
    """PyVista's "is there an X server or EGL" check would construct an OpenGL window to find out.

    Answer it from ``VTK_DEFAULT_OPENGL_WINDOW`` when that names EGL (how the app runs), so that
    creating a plotter loads no OpenGL library; otherwise leave PyVista to check as usual.
    """
    if "EGL" not in os.environ.get("VTK_DEFAULT_OPENGL_WINDOW", ""):
        return
    try:
        from pyvista.plotting import plotter as pv_plotter

        check = pv_plotter._warn_xserver
        if not hasattr(check, "has_support"):
            check.has_support = True  # type: ignore[attr-defined]
    except Exception:  # a PyVista without that check: nothing to seed
        pass


def plotter_without_gl(**kwargs: Any) -> Any:
    """A ``pyvista.Plotter(off_screen=True, **kwargs)`` whose window has no OpenGL (yet).

    Its window is VTK's generic ``vtkRenderWindow``: scenes, cameras, sizes, picking and
    trame-vtk's serialization work on it; drawing needs :func:`drawing` or :func:`adopt_gl`.
    """
    import pyvista as pv

    _seed_pyvista_check()
    vtkObjectFactory.SetAllEnableFlags(False, "vtkRenderWindow")  # no OpenGL override while we build
    try:
        plotter = pv.Plotter(off_screen=True, **kwargs)
    finally:
        vtkObjectFactory.SetAllEnableFlags(True, "vtkRenderWindow")
    return plotter


def has_gl(plotter: Any) -> bool:
    """True when the plotter's window can draw (an OpenGL window)."""
    return plotter.ren_win is not None and plotter.ren_win.IsA("vtkOpenGLRenderWindow")


def gl_created(plotter: Any) -> bool:
    """True once this plotter's OpenGL window exists (the EGL libraries are then loaded)."""
    return has_gl(plotter) or getattr(plotter, _GL_KEY, None) is not None


def _renderers(win: vtkRenderWindow) -> list:
    rens = win.GetRenderers()
    return [rens.GetItemAsObject(i) for i in range(rens.GetNumberOfItems())]


def _gl_window(plotter: Any) -> vtkRenderWindow:
    """The plotter's OpenGL window (created the first time, set up like its generic one)."""
    win = getattr(plotter, _GL_KEY, None)
    if win is not None:
        return win
    like = plotter.ren_win
    win = vtkRenderWindow()  # the OpenGL override (EGL here): this loads and initialises it
    win.SetOffScreenRendering(1)
    win.SetSize(*like.GetSize())
    win.SetMultiSamples(like.GetMultiSamples())
    win.SetNumberOfLayers(like.GetNumberOfLayers())
    win.SetAlphaBitPlanes(like.GetAlphaBitPlanes())
    win.SetBorders(like.GetBorders())
    win.SetLineSmoothing(like.GetLineSmoothing())
    win.SetPointSmoothing(like.GetPointSmoothing())
    win.SetPolygonSmoothing(like.GetPolygonSmoothing())
    win.SetDPI(like.GetDPI())
    setattr(plotter, _GL_KEY, win)
    return win


def _move(plotter: Any, src: vtkRenderWindow, dst: vtkRenderWindow) -> None:
    """Renderers of ``src`` into ``dst`` (same order, layers and size); ``dst`` becomes the plotter's."""
    rens = _renderers(src)
    dst.SetSize(*src.GetSize())
    dst.SetNumberOfLayers(src.GetNumberOfLayers())
    for ren in rens:
        src.RemoveRenderer(ren)
    for ren in rens:
        dst.AddRenderer(ren)
    plotter.ren_win = dst
    iren = getattr(plotter, "iren", None)
    if iren is not None:
        with contextlib.suppress(Exception):
            iren.set_render_window(dst)


@contextlib.contextmanager
def drawing(plotter: Any) -> Iterator[Any]:
    """Let the server draw ``plotter`` inside the block; its own window is back afterwards.

    With an OpenGL window already (:func:`adopt_gl`) this does nothing. Otherwise the renderers
    live in the plotter's OpenGL window for the block (size and camera carried over; what the
    block changes on the window, e.g. its size, is kept when they move back).
    """
    if has_gl(plotter):
        yield plotter
        return
    own = plotter.ren_win
    gl = _gl_window(plotter)
    _move(plotter, own, gl)
    try:
        yield plotter
    finally:
        _move(plotter, gl, own)


def adopt_gl(plotter: Any) -> bool:
    """Make the OpenGL window the plotter's window for good; True if it changed now."""
    if has_gl(plotter):
        return False
    own = plotter.ren_win
    _move(plotter, own, _gl_window(plotter))
    plotter._injectviz_generic_window = own  # kept alive: the page's views knew its id
    return True


def release(plotter: Any) -> None:
    """Drop the OpenGL window kept for :func:`drawing` (when the plotter closes)."""
    win = getattr(plotter, _GL_KEY, None)
    if win is not None and win is not plotter.ren_win:
        with contextlib.suppress(Exception):
            win.Finalize()
    with contextlib.suppress(AttributeError):
        delattr(plotter, _GL_KEY)
