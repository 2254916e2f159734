""" "Load a scan" in the Plan tab (issue 10): upload, landmark with a progress bar, review, plan.

The page sends the file in pieces of at most :data:`visualizer.scan_upload.CHUNK_BYTES` through the
session's own websocket (trame triggers ``scan_begin``, ``scan_chunk``, ``scan_end``; wslink's
messages stay far below the relay's 1 MB frames and its message cap). The name and size are checked
before anything is received, the format from the first piece (:mod:`visualizer.scan_upload`); the
bytes go to a private temporary file that is removed as soon as the scan is read.

Landmarking (:func:`visualizer.scan_landmarks.landmark_scan`) runs in a worker thread: the
session's event loop keeps serving the page, and each step it starts (read, clean, units, align,
fit, snap, check) moves the progress bar. Then the **review**: the scan is drawn with the found
landmarks, the panel lists each with its confidence (the fit's residual there) and says in words
which are poor or missing; the landmark click mode moves any of them. "Use these landmarks" plans
on the scan; "Cancel" returns to the head used before.

Coordinates on a scan are the scan's own axes in millimetres (scan frame, mm); the plan's
``head_frame`` maps them to the head frame. The plan names the scan by file name and SHA-256
(``plan.head``) with its landmarks (``plan.landmarks``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
from pathlib import Path
from typing import Any

from visualizer.app import body as _body
from visualizer.scan_fit import POOR_MM
from visualizer.scan_upload import CHUNK_BYTES, MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES, ScanUpload
from visualizer.words import landmark_words

__all__ = ["SCAN_STEPS", "ScanControls", "review_rows", "scan_state", "scan_warnings"]

log = logging.getLogger("injectviz.app.scan")

#: The steps the progress bar goes through, in order: (key, words).
SCAN_STEPS: tuple[tuple[str, str], ...] = (
    ("upload", "Uploading the file"),
    ("read", "Reading the file"),
    ("clean", "Cleaning: largest piece, triangles"),
    ("units", "Units from the size"),
    ("align", "Aligning the template head"),
    ("fit", "Fitting the template to the scan"),
    ("snap", "Snapping the landmarks to the skin"),
    ("check", "Checking the landmarks"),
)
_STEP_INDEX = {k: i for i, (k, _) in enumerate(SCAN_STEPS)}


def scan_state() -> dict[str, Any]:
    """The page's scan keys at the start (no scan)."""
    return {
        "scan_phase": "",  # "" | "busy" | "review" | "used"
        "scan_step": "",
        "scan_step_words": "",
        "scan_percent": 0,
        "scan_name": "",
        "scan_review": None,
        "scan_chunk_bytes": CHUNK_BYTES,
        "scan_max_bytes": MAX_UPLOAD_BYTES,
        "scan_accept": ",".join(UPLOAD_SUFFIXES),
    }


def review_rows(found: Any, head: Any) -> list[dict[str, Any]]:
    """One row per landmark of the fit: words, confidence (residual, mm) and its state in words."""
    rows = []
    moved_from = found.landmarks
    for name in sorted(found.fit.residual_mm):
        residual = float(found.fit.residual_mm[name])
        if name in found.fit.missing:
            state, words = "missing", "not on the scan (no skin there): sites that need it are left out"
        elif name in head.landmarks and name in moved_from and _moved(head.landmarks[name], moved_from[name]):
            state, words = "moved", "moved by you"
        elif residual > POOR_MM:
            state, words = "poor", f"poor fit ({residual:.1f} mm): check it and move it if it is wrong"
        else:
            state, words = "ok", "good fit"
        point = head.landmarks.get(name)
        rows.append(
            {
                "name": name,
                "words": landmark_words(name),
                "residual": round(residual, 1),
                "state": state,
                "note": words,
                "point": None if point is None else [round(float(c), 1) for c in point],  # scan frame, mm
            }
        )
    order = {"poor": 0, "missing": 2, "moved": 1, "ok": 1}
    rows.sort(key=lambda r: order[r["state"]])
    return rows


def scan_warnings(found: Any, *, reviewed: bool, moved: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The head's warnings for a scan: how its landmarks were found, what the scan lacks, and ONE
    line naming the landmarks with a poor fit (not moved by the user), each with its residual."""
    fit = found.fit
    how = (
        f"landmarks found automatically on {found.scan.path.name} and reviewed in the app"
        + (f" (moved by hand: {', '.join(landmark_words(n) for n in moved)})" if moved else "")
        if reviewed
        else f"landmarks found automatically on {found.scan.path.name}: check them"
    )
    out = [how, *found.scan.notes]
    if fit.missing:
        out.append(f"not on the scan (no skin there): {', '.join(landmark_words(n) for n in sorted(fit.missing))}")
    poor = [n for n in sorted(found.landmarks) if fit.residual_mm.get(n, 0.0) > POOR_MM and n not in moved]
    if poor:
        listed = ", ".join(f"{landmark_words(n)} {fit.residual_mm[n]:.1f} mm" for n in poor)
        out.append(f"landmarks found with a poor fit (residual over {POOR_MM:g} mm), check them: {listed}")
    return out


def _moved(a: Any, b: Any) -> bool:
    import numpy as np

    return not np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


class ScanControls:
    """Mixin of the app class: load a scan, landmark it off the event loop, review, use or cancel.

    The app provides ``state``, ``session``, ``scene``, ``plotter``, ``head``, ``show_message``,
    ``view_update``, ``camera_preset``, ``_refresh`` and ``local``/``local_view``/``remote_view``.
    """

    _scan_upload: ScanUpload | None = None
    _scan_upload_id: str = ""
    _scan_job: Any = None
    _scan_found: Any = None
    _scan_before: tuple[Any, Any, Any] | None = None
    _scan_pool: concurrent.futures.ThreadPoolExecutor | None = None

    # -- upload ------------------------------------------------------------------------------
    def scan_begin(self, name: Any = None, size: Any = None) -> str:
        """Start receiving a scan: name and size checked first; returns the upload's id ("" if refused)."""
        try:
            if self._scan_job is not None:
                raise _user("A scan is being landmarked: wait for it, or cancel it first.")
            self._scan_drop_upload()
            self._scan_upload = ScanUpload(name, size)
            self._scan_upload_id = secrets.token_hex(8)
            with self.state:  # type: ignore[attr-defined]
                self._scan_progress("upload", 0.0)
                self.state.scan_phase = "busy"  # type: ignore[attr-defined]
                self.state.scan_name = self._scan_upload.name  # type: ignore[attr-defined]
            return self._scan_upload_id
        except Exception as exc:
            self._scan_failed(exc, "scan_begin")
            return ""

    def scan_chunk(self, upload_id: Any = None, offset: Any = None, data: Any = None) -> int:
        """One piece of the file, in order; returns the bytes received so far (0: refused, upload ended)."""
        try:
            up = self._scan_current(upload_id)
            up.write(offset, data)
            self._scan_progress("upload", up.received / up.size)
            return up.received
        except Exception as exc:
            self._scan_failed(exc, "scan_chunk")
            return 0

    def scan_end(self, upload_id: Any = None) -> bool:
        """The whole file has been sent: check it is complete and start landmarking it."""
        try:
            up = self._scan_current(upload_id)
            path = up.finish()
        except Exception as exc:
            self._scan_failed(exc, "scan_end")
            return False
        self._scan_upload = None
        self._scan_upload_id = ""
        self._scan_start(up, path)
        return True

    def _scan_current(self, upload_id: Any) -> ScanUpload:
        if self._scan_upload is None or not upload_id or upload_id != self._scan_upload_id:
            raise _user("This upload has ended: choose the file again.")
        return self._scan_upload

    def _scan_drop_upload(self) -> None:
        if self._scan_upload is not None:
            self._scan_upload.discard()
        self._scan_upload = None
        self._scan_upload_id = ""

    # -- landmarking off the event loop ------------------------------------------------------
    def _scan_start(self, upload: ScanUpload, path: Path) -> None:
        loop = _body.serving_loop()

        def step(name: str) -> None:
            if loop is None:
                self._scan_progress(name)
            else:
                loop.call_soon_threadsafe(self._scan_progress, name)

        def work() -> Any:
            from visualizer.scan_landmarks import landmark_scan

            try:
                found = landmark_scan(path, progress=step)
            finally:
                upload.discard()  # the bytes are read (and hashed): the file goes at once
            found.scan.path = Path(upload.name)  # the plan names the user's file, never a server path
            return found

        if loop is None:  # driven directly (tests): at once
            try:
                result = work()
            except Exception as exc:
                self._scan_failed(exc, "landmarks")
                return
            self._scan_review(result)
            return
        if self._scan_pool is None:
            self._scan_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan")
        job = loop.run_in_executor(self._scan_pool, work)
        self._scan_job = job
        job.add_done_callback(self._scan_done)

    def _scan_done(self, job: asyncio.Future) -> None:
        if job is not self._scan_job:  # cancelled meanwhile
            if not job.cancelled() and job.exception() is None:
                log.info("a scan landmarked after its cancel was dropped")
            return
        self._scan_job = None
        if job.cancelled():
            return
        exc = job.exception()
        if exc is not None:
            self._scan_failed(exc, "landmarks")
            return
        try:
            self._scan_review(job.result())
        except Exception as exc:
            self._scan_failed(exc, "scan review")

    def _scan_progress(self, step: str, fraction: float = 0.0) -> None:
        if self._scan_job is None and step != "upload" and _body.serving_loop() is not None:
            return  # a step of a cancelled job
        i = _STEP_INDEX.get(step, 0)
        n = len(SCAN_STEPS)
        with self.state:  # type: ignore[attr-defined]
            self.state.scan_step = step  # type: ignore[attr-defined]
            self.state.scan_step_words = f"{SCAN_STEPS[i][1]} ({i + 1} of {n})"  # type: ignore[attr-defined]
            self.state.scan_percent = round(100 * (i + min(max(fraction, 0.0), 1.0)) / n)  # type: ignore[attr-defined]

    def _scan_failed(self, exc: BaseException, where: str) -> None:
        from visualizer.app import guard

        self._scan_drop_upload()
        with self.state:  # type: ignore[attr-defined]
            if self.state.scan_phase == "busy":  # type: ignore[attr-defined]
                self.state.scan_phase = "used" if self._scan_before is not None else ""  # type: ignore[attr-defined]
            self.state.scan_step = ""  # type: ignore[attr-defined]
            self.state.scan_percent = 0  # type: ignore[attr-defined]
        self.show_message(f"Could not load the scan: {guard.report(exc, where)}", "error")  # type: ignore[attr-defined]

    # -- review --------------------------------------------------------------------------------
    def _scan_review(self, found: Any) -> None:
        """Put the scan with its found landmarks on the page; the plan waits for "Use these landmarks"."""
        from visualizer.scan_landmarks import scan_head

        s: Any = self.session  # type: ignore[attr-defined]
        warnings = scan_warnings(found, reviewed=False)
        head = scan_head(
            found.scan,
            found.landmarks,
            muscle=found.fit.muscle,
            muscle_weight=found.fit.muscle_weight,
            landmarks_label="found automatically",
            warnings=warnings,
        )
        before = self._scan_before or (s.base_head, s.head, s.pain_point)
        s.use_head(head)
        self._scan_before = before
        self._scan_found = found
        self._scan_draw(head, review=True)
        with self.state:  # type: ignore[attr-defined]
            st: Any = self.state  # type: ignore[attr-defined]
            st.scan_phase = "review"
            st.scan_step = "check"
            st.scan_percent = 100
            st.scan_name = found.scan.path.name
            st.click_action = "landmark"
            st.show_landmarks = True
            self._scan_review_state()
        self._refresh(camera=True)  # type: ignore[attr-defined]

    def _scan_review_state(self) -> None:
        found = self._scan_found
        if found is None:
            return
        from visualizer.words import landmark_title

        s: Any = self.session  # type: ignore[attr-defined]
        rows = review_rows(found, s.head)
        st: Any = self.state  # type: ignore[attr-defined]
        st.scan_review = {
            "file": found.scan.path.name,
            "sha256": found.scan.sha256,
            "triangles": int(found.scan.mesh.n_cells),
            "units": found.scan.units,
            "rows": rows,
            "poor": [r["words"] for r in rows if r["state"] == "poor"],
            "missing": [r["words"] for r in rows if r["state"] == "missing"],
            "notes": list(found.warnings),
        }
        st.landmark_items = [{"value": k, "title": landmark_title(k)} for k in sorted(s.head.landmarks)]
        if st.landmark_name not in s.head.landmarks:
            st.landmark_name = "nasion" if "nasion" in s.head.landmarks else sorted(s.head.landmarks)[0]

    def scan_use(self) -> None:
        """Plan on the scan with the landmarks as reviewed."""
        try:
            if self.state.scan_phase != "review":  # type: ignore[attr-defined]
                raise _user("There is no scan under review: load a scan first.")
            self._start_timer()  # type: ignore[attr-defined]
            s: Any = self.session  # type: ignore[attr-defined]
            warnings = scan_warnings(self._scan_found, reviewed=True, moved=s.moved_landmarks())
            saved = (list(s.base_head.warnings), list(s.head.warnings))
            s.base_head.warnings, s.head.warnings = warnings, list(warnings)
            try:
                s.recompute()
            except Exception:
                s.base_head.warnings, s.head.warnings = saved
                raise
            with self.state:  # type: ignore[attr-defined]
                self.state.scan_phase = "used"  # type: ignore[attr-defined]
                self.state.click_action = "pain" if self.session.has_ftp else "select"  # type: ignore[attr-defined]
            self.scene.update(show_sites=True)  # type: ignore[attr-defined]
            self._picker = None
            self.camera_preset("front")  # type: ignore[attr-defined]
            n = len(self.session.plan.sites)  # type: ignore[attr-defined]
            self.show_message(  # type: ignore[attr-defined]
                f"Planned on the scan {self.state.scan_name}: {n} sites.",
                "info",  # type: ignore[attr-defined]
            )
            self._refresh(camera=True)  # type: ignore[attr-defined]
        except Exception as exc:
            self._scan_failed(exc, "scan_use")

    def scan_cancel(self) -> None:
        """Leave the scan (or stop landmarking it) and return to the head used before."""
        try:
            self._scan_drop_upload()
            self._scan_job = None  # a running fit finishes in its thread; its result is dropped
            before, self._scan_before = self._scan_before, None
            self._scan_found = None
            with self.state:  # type: ignore[attr-defined]
                self.state.update(  # type: ignore[attr-defined]
                    {k: v for k, v in scan_state().items() if k.startswith(("scan_phase", "scan_step", "scan_p"))}
                )
                self.state.scan_review = None  # type: ignore[attr-defined]
                self.state.scan_name = ""  # type: ignore[attr-defined]
            if before is None:
                return
            s: Any = self.session  # type: ignore[attr-defined]
            s.base_head, s.head, s.pain_point = before
            s.recompute()
            self._scan_draw(s.head, review=False)
            from visualizer.words import landmark_title

            with self.state:  # type: ignore[attr-defined]
                st: Any = self.state  # type: ignore[attr-defined]
                st.landmark_items = [{"value": k, "title": landmark_title(k)} for k in sorted(s.head.landmarks)]
                if st.click_action == "landmark":
                    st.click_action = "pain" if s.has_ftp else "select"
            self.show_message("Back to the default head.", "info")  # type: ignore[attr-defined]
            self._refresh(camera=True)  # type: ignore[attr-defined]
        except Exception as exc:
            self._scan_failed(exc, "scan_cancel")

    def scan_landmarks_moved(self) -> None:
        """After a landmark moved on the scan: the review's rows follow."""
        if self.state.scan_phase in ("review", "used"):  # type: ignore[attr-defined]
            self._scan_review_state()

    # -- drawing ---------------------------------------------------------------------------------
    def _scan_draw(self, head: Any, *, review: bool) -> None:
        """Draw ``head`` in place of the current one (a new topology: the scene is built again)."""
        from visualizer.app.core import DISPLAY_CELLS
        from visualizer.scene import build_scene

        st: Any = self.state  # type: ignore[attr-defined]
        plotter: Any = self.plotter  # type: ignore[attr-defined]
        plotter.clear_actors()
        self.scene = build_scene(
            plotter,
            head,
            self.session.plan,  # type: ignore[attr-defined]
            show_muscles=bool(st.show_muscles),
            show_labels=bool(st.show_labels),
            antialias=False,
            display_cells=DISPLAY_CELLS,
            show_sites=not review,
            show_landmarks=review or bool(st.show_landmarks),
        )
        self.head = head
        self._picker = None
        self._body_preview = None  # the sliders' preview belongs to the bundled head
        self._body_preview_plan = None
        self._body_shown = None
        self.camera_preset("front")  # type: ignore[attr-defined]
        if self.local:  # type: ignore[attr-defined]
            self.local_view.update()  # type: ignore[attr-defined]
        plotter.clear_on_render_callbacks()

    def scan_close(self) -> None:
        """End of the session: remove any upload in progress."""
        self._scan_drop_upload()
        if self._scan_pool is not None:
            self._scan_pool.shutdown(wait=False, cancel_futures=True)


def _user(text: str) -> Exception:
    from visualizer.app.state import UserError

    return UserError(text)
