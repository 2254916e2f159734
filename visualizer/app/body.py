"""Body-type sliders of the app (issue 10): sex, age, weight and muscle of the bundled head.

While a slider moves, each change shows a **preview** — the head reshaped and the current plan's
sites carried with the skin (:class:`visualizer.body_preview.BodyPreview`, tens of milliseconds;
``benchmarks/bench_body.py``). When the values have been still for :data:`SETTLE_S`, the plan is
**placed again by its rules** on the reshaped head (:func:`visualizer.head.body_head`), exactly as
``injectviz plan --sex … --age …`` does, and the page's plan (totals, rows, checks) follows.

The values arrive as state keys ``body_sex``, ``body_age``, ``body_weight``, ``body_muscle``,
checked by :mod:`visualizer.app.inputs` before they reach this module. A moved landmark belongs to
one head: a new body type drops the moved landmarks (the page says so); a pain point is carried
with the skin.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
from trame.decorators import change

from visualizer.body_preview import BodyPreview
from visualizer.body_type import BodyType
from visualizer.head import body_head
from visualizer.skin_places import SkinPlaces

__all__ = ["BODY_KEYS", "BODY_SLIDERS", "SETTLE_S", "BodyTypeControls", "body_state"]

log = logging.getLogger(__name__)

#: State key → BodyType field.
BODY_KEYS = {"body_sex": "sex", "body_age": "age", "body_weight": "weight", "body_muscle": "muscle"}
#: Seconds without a change before the plan is placed again by its rules.
SETTLE_S = 0.35
#: The sliders: state key, label, min, max, step, words at the ends.
BODY_SLIDERS = (
    ("body_sex", "Sex", 0.0, 1.0, 0.05, "female", "male"),
    ("body_age", "Age (years)", 18.0, 90.0, 1.0, "18", "90"),
    ("body_weight", "Weight", 0.0, 1.0, 0.05, "min", "max"),
    ("body_muscle", "Muscle", 0.0, 1.0, 0.05, "min", "max"),
)


def body_state(head: Any) -> dict[str, float]:
    """The sliders' values for ``head`` (today's head: the defaults)."""
    body = getattr(head, "body_type", None) or BodyType()
    return {key: float(getattr(body, field)) for key, field in BODY_KEYS.items()}


def serving_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop serving this session, or None when the app is driven directly (tests)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class BodyTypeControls:
    """Mixin of the app class: the body-type sliders.

    The app provides ``state``, ``session`` (with ``base_head``, ``head``, ``plan``, ``pain_point``,
    ``recompute()``), ``scene`` (``meshes['head']``, ``set_landmarks``, ``update``), ``head``,
    ``view_update()``, ``_refresh()``, ``_start_timer()``, ``show_message()`` and ``_picker``.
    """

    _body_preview: BodyPreview | None = None
    _body_preview_plan: Any = None
    _body_settle: asyncio.TimerHandle | None = None
    _body_shown: BodyType | None = None

    # -- values ----------------------------------------------------------------------------
    def body_type(self) -> BodyType:
        """The body type the sliders show (checked values; see inputs.STATE)."""
        s: Any = self.state  # type: ignore[attr-defined]
        return BodyType(**{field: float(s[key]) for key, field in BODY_KEYS.items()})

    def current_body_type(self) -> BodyType:
        """The body type of the head the plan is placed on."""
        head: Any = self.session.base_head  # type: ignore[attr-defined]
        return head.body_type or BodyType()

    # -- preview while the slider moves ----------------------------------------------------
    def _preview(self) -> BodyPreview:
        s: Any = self.session  # type: ignore[attr-defined]
        if self._body_preview is None:
            from visualizer.head import load_head

            base = load_head()
            shown = self.scene.meshes["head"]  # type: ignore[attr-defined]
            # the drawn skin lies on the head it was drawn for: hold it by its places on that head
            drawn_on = self.scene.head  # type: ignore[attr-defined]
            self._body_preview = BodyPreview(
                base.mesh.points,
                drawn_on.mesh,
                np.asarray(shown.points),
                np.asarray(shown.regular_faces),
                s.plan,
                s.head.mesh,
                plan_surface=s.head.surface,
            )
            self._body_preview_plan = s.plan
        elif self._body_preview_plan is not s.plan:
            self._body_preview = self._body_preview.with_plan(s.plan, s.head.mesh, s.head.surface)
            self._body_preview_plan = s.plan
        return self._body_preview

    @change(*BODY_KEYS)
    def on_body_type(self, **_: Any) -> None:
        """A slider moved: show the preview now, place the plan by its rules once it is still."""
        if self.state.scan_phase:  # type: ignore[attr-defined]  # a scan is loaded: its shape is its own
            return
        body = self.body_type()
        if body == self._body_shown or (self._body_shown is None and body == self.current_body_type()):
            return
        self._start_timer()  # type: ignore[attr-defined]
        frame = self._preview().at(body)
        skin = self.scene.meshes["head"]  # type: ignore[attr-defined]
        skin.points = frame.display_points
        skin.point_data["Normals"] = frame.display_normals
        self.scene.update(plan=frame.plan)  # type: ignore[attr-defined]
        self._body_shown = body
        self.view_update()  # type: ignore[attr-defined]
        self._schedule_settle()

    def _schedule_settle(self) -> None:
        if self._body_settle is not None:
            self._body_settle.cancel()
        loop = serving_loop()
        if loop is None:  # no event loop (tests drive the app directly): place at once
            self.body_settle()
            return
        self._body_settle = loop.call_later(SETTLE_S, self.body_settle)

    # -- the plan placed by its rules --------------------------------------------------------
    def body_settle(self) -> None:
        """Place the plan by its rules on the head of the sliders' body type."""
        self._body_settle = None
        try:
            self._apply_body(self.body_type())
        except Exception as exc:  # never a traceback on the page
            log.exception("body type")
            self.show_message(f"Could not reshape the head: {exc}", "error")  # type: ignore[attr-defined]

    def _apply_body(self, body: BodyType) -> None:
        s: Any = self.session  # type: ignore[attr-defined]
        self._start_timer()  # type: ignore[attr-defined]
        old_head = s.head
        new_head = body_head(body)
        moved = s.moved_landmarks()
        pain = s.pain_point
        if pain is not None:  # the pain point stays on the same spot of the skin
            place = SkinPlaces.of(old_head.mesh, np.asarray(pain, dtype=float), old_head.surface)
            pain = tuple(float(c) for c in place.on(new_head.mesh.points)[0])
        s.use_head(new_head, pain)
        # the drawn skin follows the new head by its places on the head it was drawn for
        skin = self.scene.meshes["head"]  # type: ignore[attr-defined]
        skin.points, skin.point_data["Normals"] = self._preview().skin_on(new_head.mesh.points)
        self.head = new_head
        self.scene.head = new_head  # type: ignore[attr-defined]
        self.scene.set_landmarks(new_head)  # type: ignore[attr-defined]
        self._picker = None  # the pick locator is built on the drawn skin: build it again
        self._body_shown = None
        if moved:
            self.show_message(  # type: ignore[attr-defined]
                f"Head reshaped: the moved landmarks ({', '.join(moved)}) were reset to the new head's own.", "info"
            )
        self._refresh()  # type: ignore[attr-defined]
