"""The InjectViz trame application: one instance per browser connection.

``InjectVizApp(server, context)`` owns a PyVista plotter, a ``Scene`` and a ``Session`` (patient,
plan, quiz).  ``visualizer.app.serve`` creates one instance per websocket so two browsers never
share a patient, a pain origin or a quiz.  Everything shown comes from the engine's ``Plan`` and
``Head``; this module only moves data between the page, the session and the scene.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np
import pyvista as pv
from trame.app import TrameApp
from trame.decorators import change

from visualizer.app import faults, guard, inputs, lazy_gl, records_ctrl, records_panel
from visualizer.app import state as st
from visualizer.app.body import BodyTypeControls, body_state
from visualizer.app.context import AppContext, default_context
from visualizer.app.defaults import UI_DEFAULTS
from visualizer.app.doses import DoseControls, dose_state
from visualizer.app.scan_ctrl import ScanControls, scan_state
from visualizer.app.ui import build_layout
from visualizer.checks import finite_point
from visualizer.figure import compose_figure
from visualizer.framing import frame_points, frame_site, is_visible
from visualizer.scene import (
    VIEWS,
    build_scene,
    muscle_hex,
    set_camera,
)
from visualizer.surface import OFF_HEAD_MM  # a picked point farther than this from the skin is "off the head"
from visualizer.view_camera import ViewCamera, parse_view_camera
from visualizer.words import landmark_title, landmark_words, point_words

log = logging.getLogger("injectviz.app")

pv.OFF_SCREEN = True

DRAG_PX = 4  # a pointer that moved more than this between down and up was a drag, not a click
PATIENT_STEP_SECONDS = 4.0
SITE_VIEW_MM = 160.0  # a row of the site table turns the view to its site, this much around it
PATIENT_VIEW_MM = 230.0  # a patient step shows at least this much around its site (face/ear/shoulder)
QUIZ_REGION_MM = 240.0  # the trainer's view of a muscle region: the whole face or side of the head
ANSWER_VIEW_MM = 160.0  # after an answer: the true site (and the click, if it fits) in view
# the skin is drawn decimated to this many triangles (sites and clicks use the real surface):
# keeps browsers without a GPU and the server fallback responsive
DISPLAY_CELLS = int(os.environ.get("INJECTVIZ_DISPLAY_CELLS", "60000")) or None

ASSETS = Path(__file__).with_name("assets")
HEAD_EXTENT_LANDMARKS = ("vertex", "nasion", "inion", "left_tragus", "right_tragus")
FACE_EXTENT_MM = 130.0  # a protocol whose sites span less than 90 mm is framed this wide (the face)


def _error_text(exc: BaseException, where: str = "") -> str:
    """The page's message for an error: a user's mistake as such, anything else as an error id."""
    return guard.report(exc, where)


def guarded(fn: Callable) -> Callable:
    """Run a UI handler; any error becomes a message on the page, never a dead server."""

    @functools.wraps(fn)
    def wrapper(self: InjectVizApp, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception as exc:
            self._t0 = None
            self.show_message(_error_text(exc, fn.__name__), "error")
            try:
                self._push_plan_state()
            except Exception:
                log.warning("could not restore state:\n%s", traceback.format_exc())
            return None

    return wrapper


def png_bytes(img: np.ndarray) -> bytes:
    """Encode an RGB(A) image (rows top to bottom, uint8) as PNG, in memory."""
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkIOImage import vtkPNGWriter

    a = np.ascontiguousarray(np.asarray(img, dtype=np.uint8)[::-1])  # VTK rows run bottom-up
    h, w = a.shape[:2]
    comps = a.shape[2] if a.ndim == 3 else 1
    data = vtkImageData()
    data.SetDimensions(w, h, 1)
    arr = numpy_to_vtk(a.reshape(-1, comps), deep=True)
    data.GetPointData().SetScalars(arr)
    writer = vtkPNGWriter()
    writer.SetInputData(data)
    writer.WriteToMemoryOn()
    writer.Write()
    from vtkmodules.util.numpy_support import vtk_to_numpy

    return vtk_to_numpy(writer.GetResult()).tobytes()


class InjectVizApp(DoseControls, ScanControls, BodyTypeControls, TrameApp):
    """One connection's app: a plotter, a scene, a session and the page layout."""

    def __init__(
        self,
        server: Any = None,
        context: AppContext | None = None,
        *,
        protocol: str | None = None,
        page_only: bool = False,
    ) -> None:
        """``page_only`` builds the page without a 3D scene (used once to register static files)."""
        super().__init__(server)
        self.context = context or default_context()
        self.head = self.context.head
        self.session = st.Session(
            self.context.engine, self.head, protocol=protocol or self.context.protocol, protocols=self.context.protocols
        )
        # no OpenGL (EGL, llvmpipe) in this process until the server really draws (visualizer.app.lazy_gl)
        self.plotter = lazy_gl.plotter_without_gl(window_size=(1000, 760))
        self.scene = (
            None
            if page_only
            else build_scene(
                self.plotter,
                self.head,
                self.session.plan,
                show_muscles=UI_DEFAULTS["show_muscles"],
                show_labels=UI_DEFAULTS["show_labels"],
                antialias=False,
                display_cells=DISPLAY_CELLS,
            )
        )
        self._picker = None
        self.view_size: tuple[float, float] = tuple(float(v) for v in self.plotter.window_size)  # type: ignore[assignment]
        if not page_only:
            self.camera_preset("front")
            self._cell_picker()  # builds the skin locator now, not on the first click
        # trame-pyvista names both views' Vue ref after the plotter (only one is mounted at a time)
        self.view_ref = f"view_{self.plotter._id_name}"
        self._play_task: asyncio.Task | None = None
        self._camera_moved = False  # the user rotated/zoomed the browser's view at least once
        self.last_update_ms = 0.0
        self.records = None
        self._init_state()
        records_ctrl.install(self)  # the patient's record, when the server has a database
        self._build_ui()
        guard.install(self)  # every request from the page is checked first (visualizer.app.inputs)
        faults.install(self)  # the page restores its inputs after a reload or a reconnect

    # ------------------------------------------------------------------------------------
    # state
    # ------------------------------------------------------------------------------------
    def _init_state(self) -> None:
        s = self.state
        s.client_only("pick_down", "pick_up")
        s.update(
            {
                **UI_DEFAULTS,
                **body_state(self.session.base_head),
                **scan_state(),
                **dose_state(self.session),
                "pick_down": None,
                "pick_up": None,
                "protocol_items": [
                    {"value": st.protocol_id(p), "title": st.protocol_name(p)} for p in self.session.protocols
                ],
                "protocol_id": st.protocol_id(self.session.protocol),
                "pain_regions_all": list(st.PAIN_REGIONS),
                "pain_chips": [],
                "click_action": "pain" if self.session.has_ftp else "select",
                "landmark_items": [{"value": k, "title": landmark_title(k)} for k in sorted(self.head.landmarks)],
                "landmark_title": landmark_title(UI_DEFAULTS["landmark_name"]),
                "moved_landmarks": [],
                "moved_landmarks_words": [],
                "pain_point_words": "",
                "view_size": None,  # [width, height] of the 3D view in the browser (px), for framing
                "view_framed": False,  # the first picture was framed for that size (or the user moved it)
                "pain_point": None,
                "pain_summary": "none set",
                "selected_site": None,
                "message": "",
                "message_type": "info",
                "message_id": 0,
                "last_click": None,
                "update_ms": 0,
                "findings": [],
                "safety_findings": [],
                "info_findings": [],
                "flagged_sites": [],
                "has_ftp": True,
                "update_timing": {},
                "patient": {},
                "patient_playing": False,
                "quiz": None,
                "quiz_result": None,
                "quiz_summary": None,
                "patient_info": {},
                "muscle_colors": {},
                "views": list(VIEWS),
                "server_gl": False,  # the server can draw (its OpenGL window exists): see use_server_gl
            }
        )
        self._push_plan_state()

    def _push_plan_state(self) -> None:
        ses = self.session
        s = self.state
        with s:
            rows = ses.site_rows()
            tot = ses.totals()
            s.site_rows = rows
            s.dose_rows = ses.dose_rows()
            s.totals = tot
            findings = ses.findings()
            s.findings = findings
            s.safety_findings = [f for f in findings if f["safety"]]
            s.info_findings = [f for f in findings if not f["safety"]]
            s.flagged_sites = ses.flagged_sites()
            s.has_ftp = ses.has_ftp
            s.protocol_id = st.protocol_id(ses.protocol)
            s.protocol_name = st.protocol_short_name(ses.protocol)
            s.protocol_full_name = st.protocol_name(ses.protocol)
            s.pain_chips = list(ses.pain_chips)
            s.pain_side = ses.pain_side
            s.follow_the_pain = ses.follow_the_pain
            s.pain_point = None if ses.pain_point is None else [round(v, 1) for v in ses.pain_point]
            s.pain_summary = ses.pain_summary()
            s.pain_point_words = "" if ses.pain_point is None else point_words(ses.head, ses.pain_point)
            moved = ses.moved_landmarks()
            s.moved_landmarks = moved
            s.moved_landmarks_words = [landmark_words(n) for n in moved]
            s.selected_site = ses.selected
            s.muscle_colors = {r["muscle_key"]: muscle_hex(r["muscle_key"]) for r in tot["per_muscle"]}
            s.patient = ses.patient_text()
            s.patient_info = ses.patient_summary()
            s.saved_inputs = faults.snapshot(self)
            if self.records is not None:
                self.records.on_plan_changed()

    def show_message(self, text: str, kind: str = "info") -> None:
        with self.state:
            self.state.message = text
            self.state.message_type = kind
            self.state.message_id = (self.state.message_id or 0) + 1

    # ------------------------------------------------------------------------------------
    # view helpers
    # ------------------------------------------------------------------------------------
    @property
    def local(self) -> bool:
        return self.state.view_mode != "remote"

    def view_update(self, camera: bool = False) -> None:
        """Send the changed scene to the browser (geometry deltas or a new image)."""
        if self.local:
            self._push_local_delta()
            if camera:
                self.local_view.push_camera()
        else:
            self.remote_view.update()

    def _push_local_delta(self) -> None:
        """Publish only what changed since the last push to the browser's vtk.js view.

        trame-vtk's ``VtkLocalView.update()`` also serializes the whole scene again into the page
        state on every call, which only a newly mounted view reads; that full state is refreshed
        when the view is about to be unmounted (switch to server rendering), so a later remount
        starts from it and the deltas pushed after it.
        """
        lv = self.local_view
        if not self.server.protocol:
            return
        delta = lv._helper.scene(self.plotter.render_window, new_state=False, widgets=lv.get_widgets())
        self.server.protocol.publish("trame.vtk.delta", delta)

    def _apply_scene(self, **kw: Any) -> None:
        self.scene.update(**kw)

    def _start_timer(self, *, override: bool = True) -> None:
        if override or getattr(self, "_t0", None) is None:
            self._t0 = time.perf_counter()

    def _refresh(self, *, camera: bool = False) -> None:
        """Scene <- session, then push the scene and the page state.

        ``update_ms`` (shown on the page) is the server-side time from the start of the handler
        (``_start_timer``: plan recomputation included) to the scene pushed to the browser.
        """
        t0 = getattr(self, "_t0", None) or time.perf_counter()
        self._t0 = None
        t1 = time.perf_counter()
        self._apply_scene(
            plan=self.session.plan,
            pain_point=self.session.pain_point,
            heat_points=self._heat_points(),
            highlight=self._highlight_id(),
            flagged=self.session.flagged_sites(),
        )
        t2 = time.perf_counter()
        self.view_update(camera=camera)
        t3 = time.perf_counter()
        self._push_plan_state()
        t4 = time.perf_counter()
        self.last_update_ms = (t4 - t0) * 1000
        self.last_timing = {
            "plan": (t1 - t0) * 1000,
            "scene": (t2 - t1) * 1000,
            "view": (t3 - t2) * 1000,
            "page": (t4 - t3) * 1000,
        }
        self.state.update_ms = round(self.last_update_ms, 1)
        self.state.update_timing = {k: round(v, 1) for k, v in self.last_timing.items()}
        if self.state.message and self.state.message_type == "error":
            self.state.message = ""  # the last request worked: an older error no longer applies

    def _heat_points(self) -> list:
        plan = self.session.plan
        return list(plan.heat_anchors) if plan is not None else []

    def _highlight_id(self) -> str | None:
        if self.state.tab == "patient":
            return (self.session.patient_text() or {}).get("site_id")
        if self.state.tab == "trainer":
            return None
        return self.session.selected

    # ------------------------------------------------------------------------------------
    # planning
    # ------------------------------------------------------------------------------------
    @change("protocol_id")
    @guarded
    def on_protocol(self, protocol_id: str, **_: Any) -> None:
        self._start_timer()
        if not protocol_id or protocol_id == st.protocol_id(self.session.protocol):
            return
        self.session.set_protocol(protocol_id)
        if self.state.click_action != "landmark":  # without follow-the-pain a pain origin adds nothing
            self.state.click_action = "pain" if self.session.has_ftp else "select"
        self._end_quiz()
        self._apply_scene(plan=self.session.plan)
        self.camera_preset("front")  # frame the new protocol's sites (the face for aesthetic ones)
        self._refresh(camera=True)

    @change("pain_chips", "pain_side")
    @guarded
    def on_pain_regions(self, pain_chips: list, pain_side: str, **_: Any) -> None:
        self._start_timer()
        chips = list(pain_chips or [])
        if chips == self.session.pain_chips and pain_side == self.session.pain_side:
            return
        self.session.set_pain(chips, pain_side)
        self._refresh()

    @change("follow_the_pain")
    @guarded
    def on_follow(self, follow_the_pain: bool, **_: Any) -> None:
        self._start_timer()
        if bool(follow_the_pain) == self.session.follow_the_pain:
            return
        self.session.set_follow_the_pain(bool(follow_the_pain))
        self._refresh()

    @guarded
    def clear_pain(self) -> None:
        self.session.set_pain([], "both")
        self.session.set_pain_point(None)
        self._refresh()

    @guarded
    def clear_pain_point(self) -> None:
        self.session.set_pain_point(None)
        self._refresh()

    def set_pain_point(self, point: Any) -> None:
        """Set the pain origin to a surface point (mesh frame) and update everything."""
        self._start_timer(override=False)
        self.session.set_pain_point(point)
        self._refresh()

    def move_landmark(self, name: str, point: Any) -> None:
        self._start_timer(override=False)
        self.session.move_landmark(name, point)
        self.scene.set_landmarks(self.session.head)
        self.state.last_click = {"kind": "landmark", "name": name, "point": [round(v, 1) for v in point]}
        self.scan_landmarks_moved()
        self._refresh()

    @guarded
    def reset_landmarks(self) -> None:
        self._start_timer()
        self.session.reset_landmarks()
        self.scene.set_landmarks(self.session.head)
        self.scan_landmarks_moved()
        self._refresh()

    @change("click_action")
    @guarded
    def on_click_action(self, click_action: str, **_: Any) -> None:
        if click_action not in ("pain", "select", "landmark"):
            self.state.click_action = "pain"
            raise st.UserError(f"Unknown click action {click_action!r}.")
        if click_action == "landmark" and not self.state.show_landmarks:
            self.state.show_landmarks = True  # the change handler redraws
        self._landmark_focus()

    @change("landmark_name")
    @guarded
    def on_landmark_name(self, landmark_name: str, **_: Any) -> None:
        if landmark_name not in self.session.head.landmarks:
            self.state.landmark_name = "left_tragus"
            raise st.UserError("Unknown landmark: choose one from the list.")
        self.state.landmark_title = landmark_title(landmark_name)
        self._landmark_focus()
        self.view_update()

    def _landmark_focus(self) -> None:
        """In landmark mode the landmark being placed is always labelled (larger, red)."""
        name = self.state.landmark_name if self.state.click_action == "landmark" else None
        self.scene.set_landmark_focus(name)

    @change("selected_site")
    @guarded
    def on_selected(self, selected_site: str | None, **_: Any) -> None:
        if selected_site == self.session.selected:
            return
        self.session.select(selected_site)
        if self.state.tab == "plan":
            self._apply_scene(highlight=self.session.selected)
            self.view_update()

    @change("show_muscles", "show_labels", "show_landmarks", "show_answers", "tab")
    @guarded
    def on_display(self, **_: Any) -> None:
        self._apply_display()
        self.view_update()

    def _apply_display(self) -> None:
        s = self.state
        tab = s.tab
        if tab == "patient":
            self.scene.update(
                show_muscles=False,
                show_labels=False,
                show_sites=True,
                show_landmarks=False,
                highlight=self._highlight_id(),
            )
            self.scene.set_markers()
        elif tab == "trainer":
            self.scene.update(
                show_muscles=bool(s.show_muscles),
                show_labels=bool(s.show_answers),
                show_sites=bool(s.show_answers),
                show_landmarks=bool(s.show_landmarks),
                highlight=None,
            )
        else:
            self.scene.update(
                show_muscles=bool(s.show_muscles),
                show_labels=bool(s.show_labels),
                show_sites=s.scan_phase != "review",  # a scan under review shows its landmarks alone
                show_landmarks=bool(s.show_landmarks),
                highlight=self.session.selected,
            )
            self.scene.set_markers()
        if tab != "patient":
            self._stop_play()

    @change("view_mode")
    @guarded
    def on_view_mode(self, view_mode: str, **_: Any) -> None:
        if view_mode not in ("local", "remote"):
            self.state.view_mode = "local"
            raise st.UserError(f"Unknown view mode {view_mode!r}.")
        if view_mode == "remote":
            self.use_server_gl()  # the server draws from now on: its OpenGL window is made now
            self.local_view.update()  # full scene state for when the browser view is mounted again
        self.view_update(camera=True)

    def use_server_gl(self) -> None:
        """Give the plotter its OpenGL window for good and point both views at it.

        Until then the plotter's window has no OpenGL (``visualizer.app.lazy_gl``); the page mounts
        the server-rendered view only once ``server_gl`` is true, so it never asks for a picture of
        a window that cannot draw.  The browser-rendered view, if it is mounted again later, reads
        the full scene state (``local_view.update()``), which then names the new window.
        """
        old = self.plotter.ren_win
        if lazy_gl.adopt_gl(self.plotter):
            win = self.plotter.ren_win
            # trame-vtk keeps the window its views were built on; they follow the plotter's new one
            self.local_view._VtkLocalView__view = win
            self.remote_view._VtkRemoteView__view = win
            helper = self.remote_view._helper
            self.state[self.remote_view._VtkRemoteView__view_key_id] = helper.id(win)
            # the window without OpenGL can no longer be named by a page (drawing it would crash)
            helper._vtk_core.GetObjectIdMap().FreeObject(old)
        self.state.server_gl = True

    def server_can_draw(self) -> bool:
        """True once the server-rendered view has its OpenGL window (see ``use_server_gl``)."""
        return lazy_gl.has_gl(self.plotter)

    def camera_preset(self, view: str) -> None:
        """Server camera to a named view, framing the plan's sites (the whole head if none).

        A protocol whose sites fit in a small area (the aesthetic ones, on the face) is framed
        closely so its labels are readable; the browser's view aspect (``view_size``) is used so
        the framed head is never cropped.
        """
        pts = self.scene.geometry.positions if self.scene is not None else None
        has = pts is not None and len(pts)
        span = float(np.ptp(pts, axis=0).max()) if has else 0.0
        face = has and span < 90.0
        if has and not face:  # the whole head stays in the picture (crown to ears), not just the sites
            lm = self.session.head.landmarks
            pts = np.vstack([pts, *(np.asarray(lm[k], float)[None] for k in HEAD_EXTENT_LANDMARKS if k in lm)])
        set_camera(
            self.plotter,
            self.head,
            view,
            points=pts if has else None,
            min_extent=FACE_EXTENT_MM if face else 220.0,
            aspect=self._view_aspect(),
        )

    @change("view_size")
    @guarded
    def on_view_size(self, view_size: Any = None, **_: Any) -> None:
        """The browser reported its view size: frame the first picture for it (once)."""
        if self.state.view_framed or self._view_aspect() is None or self.scene is None:
            return
        self.state.view_framed = True
        if self._camera_moved:  # the user turned the view already: never yank it back
            return
        self.camera_preset("front")
        self.view_update(camera=True)

    def _view_aspect(self) -> float | None:
        size = self.state.view_size if self.state.has("view_size") else None
        try:
            w, h = (float(v) for v in size)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            return None
        if not (math.isfinite(w) and math.isfinite(h)) or w < 50 or h < 50:
            return None
        return max(0.2, min(5.0, w / h))

    @guarded
    def focus_site(self, site_id: Any = None) -> None:
        """A row of the site table: select the site and turn the camera to it."""
        if not isinstance(site_id, str) or len(site_id) > 200:
            raise st.UserError("That row could not be read: click it again.")
        self.session.select(site_id)
        self.state.selected_site = self.session.selected
        pos = self.scene.site_position(site_id)
        self._apply_scene(highlight=self.session.selected)
        if pos is not None:
            self._frame_site(pos[0], pos[1], SITE_VIEW_MM)
        self.view_update(camera=True)

    @guarded
    def camera(self, view: str) -> None:
        if view == "reset":
            view = "front"
        if view not in VIEWS:
            raise st.UserError(f"Unknown camera preset {view!r}: choose {', '.join(VIEWS)} or reset.")
        self.camera_preset(view)
        self.view_update(camera=True)

    # ------------------------------------------------------------------------------------
    # clicks on the 3D view
    # ------------------------------------------------------------------------------------
    def _actor_of_local_id(self, remote_id: Any) -> str | None:
        if remote_id is None:
            return None
        for name, actor in self.scene.actors.items():
            try:
                if str(self.local_view.get_scene_object_id(actor)) == str(remote_id):
                    return name
            except Exception:
                continue
        return None

    def _pick_remote(self, event: dict) -> tuple[np.ndarray | None, str | None]:

        pos = event.get("position") or {}
        x, y = float(pos.get("x", -1)), float(pos.get("y", -1))
        picker = self._cell_picker()
        if not picker.Pick(x, y, 0, self.plotter.renderer):
            return None, None
        actor = picker.GetActor()
        name = next((k for k, a in self.scene.actors.items() if a is actor), None)
        return np.array(picker.GetPickPosition(), dtype=float), name

    def adopt_camera(self, camera: Any, width: Any, height: Any) -> ViewCamera:
        """Make the browser's live camera (vtk.js ``getCamera()``, mesh frame) the server's.

        The server's camera then matches what the user sees: picks, pictures, presets and the
        scene updates sent back to the browser all start from it.  In the browser-rendered mode
        the (never shown) server window also takes the view's size, so aspect ratios agree.
        """
        try:
            cam = parse_view_camera(camera, width, height)
        except ValueError as exc:
            raise st.UserError(f"The view could not be read ({exc}): try again.") from None
        cam.apply(self.plotter.camera)
        self.view_size = (cam.width, cam.height)
        if self.local:
            size = (max(2, round(cam.width)), max(2, round(cam.height)))
            if tuple(self.plotter.ren_win.GetSize()) != size:
                self.plotter.ren_win.SetSize(*size)
        self.plotter.renderer.ResetCameraClippingRange()
        return cam

    def server_camera(self) -> ViewCamera:
        """The server's camera and the view size (what a pick or a picture uses)."""
        w, h = self.view_size if self.local else self.plotter.ren_win.GetSize()
        return ViewCamera.from_vtk(self.plotter.camera, w, h)

    def turn_to(self, points: Any, normals: Any = None, *, min_extent: float = 200.0) -> None:
        """Server camera to frame skin points (mesh frame) from outside, head upright.

        The caller pushes it to the browser (``view_update(camera=True)``).
        """
        self._set_pose(frame_points(self.head, points, normals, min_extent=min_extent, aspect=self._server_aspect()))

    def _server_aspect(self) -> float:
        cam = self.server_camera()
        return cam.width / max(cam.height, 1.0)

    def _set_pose(self, pose: Any) -> None:
        """Server camera to a ``framing.Pose`` (30 degree view angle)."""
        self.plotter.camera_position = pose.as_list()
        self.plotter.camera.view_angle = 30.0
        self.plotter.reset_camera_clipping_range()

    @guarded
    def on_view_camera(self, camera: Any = None, width: Any = None, height: Any = None) -> None:
        """The user rotated or zoomed the browser's view: keep the server's camera in step."""
        if self.local and camera is not None:
            self._camera_moved = True
            self.adopt_camera(camera, width, height)

    def pick_with_camera(
        self, x: float, y: float, width: float, height: float, camera: dict | None
    ) -> tuple[np.ndarray | None, str | None]:
        """Pick at view pixel (x, y) (origin top-left) as seen through ``camera`` (the browser's)."""

        w, h = float(width), float(height)
        if w < 2 or h < 2 or not (0 <= float(x) <= w and 0 <= float(y) <= h):
            return None, None
        if camera is not None:
            self.adopt_camera(camera, w, h)
        saved_size = tuple(self.plotter.ren_win.GetSize())
        size = (max(2, round(w)), max(2, round(h)))
        try:
            if saved_size != size:
                self.plotter.ren_win.SetSize(*size)
            self.plotter.renderer.ResetCameraClippingRange()
            picker = self._cell_picker()
            # VTK display coordinates: origin bottom-left, in the window's pixels
            px = float(x) * size[0] / w
            py = (h - float(y)) * size[1] / h
            if not picker.Pick(px, py, 0, self.plotter.renderer):
                return None, None
            actor = picker.GetActor()
            name = next((k for k, a in self.scene.actors.items() if a is actor), None)
            return np.array(picker.GetPickPosition(), dtype=float), name
        finally:
            if tuple(self.plotter.ren_win.GetSize()) != saved_size:
                self.plotter.ren_win.SetSize(*saved_size)

    def _cell_picker(self) -> Any:
        """A cell picker limited to the skin and the site markers (skin via a static locator)."""
        from vtkmodules.vtkCommonDataModel import vtkStaticCellLocator
        from vtkmodules.vtkRenderingCore import vtkCellPicker

        if self._picker is None:
            loc = vtkStaticCellLocator()
            loc.SetDataSet(self.scene.meshes["head"])
            loc.BuildLocator()
            self._locator = loc
        picker = vtkCellPicker()
        picker.SetTolerance(0.0005)
        picker.AddLocator(self._locator)
        picker.PickFromListOn()
        picker.AddPickList(self.scene.actors["head"])
        for name in ("sites", "ftp_sites"):
            if self.scene.actors[name].GetVisibility():
                picker.AddPickList(self.scene.actors[name])
        self._picker = picker
        return picker

    @guarded
    def on_local_click(
        self,
        x: Any = None,
        y: Any = None,
        width: Any = None,
        height: Any = None,
        camera: Any = None,
        down: Any = None,
        up: Any = None,
    ) -> None:
        """A click on the browser-rendered (vtk.js) view: pick on the server with its camera."""
        self._start_timer()
        try:
            if self._is_drag(down, up):
                return
            try:
                args = [float(v) for v in (x, y, width, height)]
            except (TypeError, ValueError):
                raise st.UserError("That click could not be read: click on the head again.") from None
            self.handle_pick(*self.pick_with_camera(*args, camera))
        finally:
            self._t0 = None

    @staticmethod
    def _is_drag(down: Any, up: Any) -> bool:
        if not down or not up:
            return False
        dx, dy = float(up[0]) - float(down[0]), float(up[1]) - float(down[1])
        return dx * dx + dy * dy > DRAG_PX * DRAG_PX

    def pick(self, event: Any) -> tuple[np.ndarray | None, str | None]:
        """World point and actor name of a click event from either view (None if it missed)."""
        if not isinstance(event, dict):
            return None, None
        if event.get("mode") == "remote" or ("position" in event and "worldPosition" not in event):
            return self._pick_remote(event)
        try:  # a hostile or broken position is a miss, never an error
            wp = finite_point(event.get("worldPosition"), name="worldPosition")
        except ValueError:
            return None, None
        return wp, self._actor_of_local_id(event.get("remoteId"))

    def snap(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, n = self.head.snap(point)
        p = np.asarray(p, dtype=float)
        if float(np.linalg.norm(p - point)) > OFF_HEAD_MM:
            raise st.UserError("That click was not on the head: click on the skin.")
        return p, np.asarray(n, dtype=float)

    @guarded
    def on_click(self, event: Any = None, down: Any = None, up: Any = None) -> None:
        self._start_timer()
        try:
            if self._is_drag(down, up):
                return  # the end of a rotate-drag, not a click
            self.handle_pick(*self.pick(event))
        finally:
            self._t0 = None

    def handle_pick(self, point: np.ndarray | None, actor: str | None) -> None:
        """Route a picked world point: select a site, set the pain origin, or answer the quiz."""
        tab = self.state.tab
        if tab == "patient":
            return
        action = self.state.click_action
        if point is None:
            if tab == "trainer" or action in ("pain", "landmark"):
                raise st.UserError("That click missed the head: click on the skin.")
            return
        if tab == "trainer":
            self.quiz_answer(point)
            return
        if actor in ("sites", "ftp_sites", "labels", "ftp_labels", "ftp_rings", "highlight"):
            sid = self.scene.site_near(point, tolerance=4 * self.scene.radius + 4)
            if sid:
                self.state.selected_site = sid
                self.state.last_click = {"kind": "site", "id": sid}
                return
        if action == "landmark":
            p, _ = self.snap(point)
            self.move_landmark(self.state.landmark_name, p)
            return
        if action != "pain":
            sid = self.scene.site_near(point)
            if sid:
                self.state.selected_site = sid
            return
        p, _ = self.snap(point)
        self.state.last_click = {"kind": "pain", "point": [round(v, 1) for v in p]}
        self.set_pain_point(p)

    # ------------------------------------------------------------------------------------
    # patient step-through
    # ------------------------------------------------------------------------------------
    def _patient_show(self, camera: bool = True) -> None:
        text = self.session.patient_text()
        self.state.patient = text
        pos = self.scene.site_position(text.get("site_id", ""))
        self.scene.update(highlight=text.get("site_id"))
        if camera and pos is not None:
            self._frame_site(pos[0], pos[1], PATIENT_VIEW_MM)
        self.view_update(camera=camera)

    def _frame_site(self, position: Any, normal: Any, extent: float) -> None:
        """Server camera to one site (mesh frame), with enough of the head around it to recognise."""
        self._set_pose(frame_site(self.head, position, normal, min_extent=extent, aspect=self._server_aspect()))

    @guarded
    def patient_next(self) -> None:
        if not self.session.patient_next():
            self._stop_play()
        self._patient_show()

    @guarded
    def patient_prev(self) -> None:
        self.session.patient_prev()
        self._patient_show()

    @guarded
    def patient_restart(self) -> None:
        self.session.patient_go(0)
        self._patient_show()

    @guarded
    def patient_play(self) -> None:
        if self._play_task and not self._play_task.done():
            return
        self.state.patient_playing = True
        self._play_task = asyncio.ensure_future(self._play_loop())

    @guarded
    def patient_pause(self) -> None:
        self._stop_play()

    def _stop_play(self) -> None:
        if self._play_task and not self._play_task.done():
            self._play_task.cancel()
        self._play_task = None
        if self.state.patient_playing:
            self.state.patient_playing = False

    async def _play_loop(self) -> None:
        try:
            self._patient_show()
            self.state.flush()
            while True:
                await asyncio.sleep(PATIENT_STEP_SECONDS)
                with self.state:
                    more = self.session.patient_next()
                    self._patient_show()
                    if not more:
                        self.state.patient_playing = False
                        break
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            self.show_message(_error_text(exc, "patient play"), "error")
            self.state.patient_playing = False
            self.state.flush()

    # ------------------------------------------------------------------------------------
    # trainer quiz
    # ------------------------------------------------------------------------------------
    def _quiz_state(self) -> None:
        q = self.session.quiz
        if q is None:
            self.state.quiz = None
            return
        self.state.quiz = {
            "prompt": q.prompt,
            "index": min(q.index + 1, q.total),
            "total": q.total,
            "score": q.score,
            "answered": len(q.answers),
            "finished": q.finished,
            "awaiting_next": q.awaiting_next,
        }
        self.state.quiz_summary = q.summary() if q.finished else None

    def _clear_error(self) -> None:
        """A message about an earlier question or click does not outlive it."""
        if self.state.message:
            self.state.message = ""

    def _turn_to_quiz_region(self) -> None:
        """Camera to the region of the quizzed site: every site of its muscle on its side."""
        q = self.session.quiz
        site = None if q is None else q.current_site
        if site is None:
            return
        same = [s for s in self.session.plan.sites if s.muscle == site.muscle and s.side == site.side]
        self.turn_to([s.position for s in same], [s.normal for s in same], min_extent=QUIZ_REGION_MM)

    @guarded
    def quiz_start(self) -> None:
        self.session.quiz_start()
        with self.state:
            self._clear_error()
            self.state.quiz_result = None
            self.state.show_answers = False
            self._quiz_state()
        self.scene.set_markers()
        self._apply_display()
        self._turn_to_quiz_region()
        self.view_update(camera=True)

    def quiz_answer(self, point: np.ndarray) -> None:
        q = self.session.quiz
        if q is None or q.finished:
            raise st.UserError("Press \u201cStart quiz\u201d, then click where you would inject.")
        if q.awaiting_next:
            raise st.UserError("Already answered: press Next for the next site.")
        p, n = self.snap(point)
        ans = self.session.quiz_answer(p)
        truth = self.scene.site_position(ans.site_id)
        self.scene.set_markers(
            guess=p, guess_normal=n, answer=ans.truth, answer_normal=None if truth is None else truth[1]
        )
        turned = False
        if not is_visible(self.head, self.server_camera(), ans.truth):
            # the true site is off screen or behind the head: show it (with the click if it fits)
            pts = [ans.truth, p] if float(np.linalg.norm(np.subtract(ans.truth, p))) < 150 else [ans.truth]
            nrm = None if truth is None else [truth[1]] * len(pts)
            self.turn_to(pts, nrm, min_extent=ANSWER_VIEW_MM)
            turned = True
        self.view_update(camera=turned)
        with self.state:
            self._clear_error()
            self.state.quiz_result = {
                "prompt": ans.prompt,
                "error_mm": round(ans.error_mm, 1),
                "measured": ans.measured,
                "score": ans.score,
                "within": ans.error_mm <= st.QUIZ_GOOD_MM,
            }
            self._quiz_state()

    @guarded
    def quiz_next(self) -> None:
        q = self.session.quiz
        if q is None:
            raise st.UserError("Start a quiz round first.")
        q.next()
        with self.state:
            self._clear_error()
            self.state.quiz_result = None
            self._quiz_state()
            if q.finished:
                self.state.quiz_summary = q.summary()
        self.scene.set_markers()
        self._turn_to_quiz_region()
        self.view_update(camera=True)

    def _end_quiz(self) -> None:
        self.session.quiz = None
        self.scene.set_markers()
        with self.state:
            self.state.quiz = None
            self.state.quiz_result = None
            self.state.quiz_summary = None

    @guarded
    def quiz_stop(self) -> None:
        self._end_quiz()
        self._clear_error()
        self.view_update()

    # ------------------------------------------------------------------------------------
    # downloads
    # ------------------------------------------------------------------------------------
    def plan_json(self) -> str:
        try:
            return self.session.plan.public().to_json()
        except Exception as exc:
            self.show_message(_error_text(exc), "error")
            return ""

    def plan_csv(self) -> str:
        try:
            return self.session.plan.public().to_csv()
        except Exception as exc:
            self.show_message(_error_text(exc), "error")
            return ""

    def snapshot_png(self, camera: Any = None, size: Any = None, figure: Any = True) -> bytes:
        """PNG of the view as the user sees it, rendered on the server in memory (labels in both modes).

        ``camera``: the browser's live vtk.js camera (mesh frame, mm) in the browser-rendered mode
        (the server adopts it, so the picture is the turned and zoomed view); ignored in the
        server-rendered mode, whose camera is the server's.  ``size``: the view's ``[width,
        height]`` in px (16-4096 each), or None for the view's size.  ``figure``: laid out as a
        printable figure (title, totals, legend) or the bare view.  All are checked first
        (``visualizer.app.inputs``); no file is written.
        """
        try:
            checked = inputs.check_trigger(self, "snapshot_png", [camera, size, figure], {})[0]
            camera, size, figure = [*checked, None, None, True][:3]
            w, h = size or (self.view_size if self.local else tuple(self.plotter.ren_win.GetSize()))
            if camera and self.local:
                self.adopt_camera(camera, w, h)
            w, h = (min(max(round(float(v)), inputs.MIN_IMAGE_PX), inputs.MAX_IMAGE_PX) for v in (w, h))
            # small views are drawn larger (labels stay legible), never past MAX_IMAGE_PX a side
            scale = min(max(1.0, 1400.0 / w), inputs.MAX_IMAGE_PX / max(w, h))
            old = tuple(self.plotter.window_size)
            # the server draws this picture: in an OpenGL window made now if it has none yet
            with lazy_gl.drawing(self.plotter):
                try:
                    self.plotter.window_size = (max(1, round(w * scale)), max(1, round(h * scale)))
                    self.plotter.reset_camera_clipping_range()
                    img = self.plotter.screenshot(None, return_img=True)
                finally:
                    self.plotter.window_size = old
            data = png_bytes(img)
            if not self.local:
                self.remote_view.update()
            return self.figure_png(data) if figure else data
        except Exception as exc:
            self.show_message(_error_text(exc, "snapshot_png"), "error")
            return b""

    def print_view(self, camera: Any = None) -> str:
        """The bare view as a ``data:`` URL, for the page's print layout (a WebGL canvas does not print)."""
        import base64

        data = self.snapshot_png(camera, None, False)
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii") if data else ""

    def figure_png(self, view_png: bytes) -> bytes:
        """The picture of the view laid out as a printable figure (title, totals, legend, findings)."""
        ses = self.session
        pain = ses.pain_summary()
        return compose_figure(view_png, ses.plan, pain="" if pain == "none set" else pain)

    # ------------------------------------------------------------------------------------
    # lifecycle
    # ------------------------------------------------------------------------------------
    def close(self) -> None:
        self._stop_play()
        self.scan_close()
        self._picker = None
        try:
            self.plotter.close()
        except Exception:
            pass
        lazy_gl.release(self.plotter)

    # ------------------------------------------------------------------------------------
    # layout
    # ------------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        """Bind the page's actions (controller functions and triggers), then build the page."""
        ctrl = self.server.controller
        ctrl.view_click = self.on_click  # a click on the server-rendered view
        for name in (
            "camera",
            "focus_site",
            "clear_pain",
            "reset_landmarks",
            "patient_prev",
            "patient_play",
            "patient_pause",
            "patient_next",
            "patient_restart",
            "quiz_start",
            "quiz_stop",
            "quiz_next",
            "scan_use",
            "scan_cancel",
        ):
            setattr(ctrl, name, getattr(self, name))
        for name, fn in (
            ("plan_json", self.plan_json),
            ("plan_csv", self.plan_csv),
            ("snapshot_png", self.snapshot_png),
            ("print_view", self.print_view),
            ("local_click", self.on_local_click),
            ("view_camera", self.on_view_camera),
            ("scan_begin", self.scan_begin),  # "Load a scan" (visualizer.app.scan_ctrl)
            ("scan_chunk", self.scan_chunk),
            ("scan_end", self.scan_end),
            ("set_units", self.set_units),  # the doses chosen within the sites' ranges (visualizer.app.doses)
            ("reset_units", self.reset_units),
        ):
            self.server.trigger(name)(fn)
        if self.records is not None:
            records_panel.register(self)  # the Record tab's actions (visualizer.app.records_ctrl)
        self.ui, self.local_view, self.remote_view = build_layout(
            self.server, self.plotter, self.view_ref, records=self.records is not None
        )
        # trame-pyvista re-sends the scene to BOTH views on every plotter render (a picture, a
        # pick); this app pushes exactly what changed itself (view_update), so drop those hooks
        self.plotter.clear_on_render_callbacks()
