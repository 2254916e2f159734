"""The injector's doses in the Plan tab: a site whose protocol gives a dose range (``units_range``,
e.g. the cervical-dystonia templates) gets a number field bounded by its range.

The page sends the chosen units of the site it changed (``set_units``, {expanded site id: units})
or asks for the template's doses again (``reset_units``).  Every value is checked twice: its type,
finiteness and the size of the dict by :mod:`visualizer.app.inputs` before the app sees it, then
against the protocol (:meth:`visualizer.app.state.Session.checked_units`: known site, positive,
within the site's range, at most 50 U, each muscle and the session within its cap, as
``plan --dose`` checks them) — a refusal names the site or the muscle and the units under the
field that changed and changes nothing.  Accepted doses rebuild the plan through ``make_plan``.
"""

from __future__ import annotations

import logging
from typing import Any

from visualizer.app.state import DoseRefused

__all__ = ["DoseControls", "dose_state"]

log = logging.getLogger("injectviz.app.doses")


def dose_state(session: Any) -> dict[str, Any]:
    """The page's dose keys for ``session``: the ranged sites' rows and no field errors."""
    return {"dose_rows": session.dose_rows(), "dose_errors": {}, "dose_version": 0}


class DoseControls:
    """Mixin of the app class: the per-site dose fields.

    The app provides ``state``, ``session``, ``_refresh()``, ``_start_timer()`` and
    ``show_message()``; ``_push_plan_state()`` sends ``dose_rows`` with the rest of the plan.
    """

    def set_units(self, units: dict[str, float]) -> None:
        """The page's chosen units (checked by ``inputs.TRIGGERS['set_units']`` first)."""
        self._start_timer()  # type: ignore[attr-defined]
        try:
            self.session.set_units(units)  # type: ignore[attr-defined]
        except DoseRefused as exc:
            self._dose_refused(str(exc), exc.per_site)
            return
        with self.state:  # type: ignore[attr-defined]
            self.state.dose_errors = {}  # type: ignore[attr-defined]
        self._refresh()  # type: ignore[attr-defined]

    def reset_units(self) -> None:
        """Every ranged site back to the template's dose."""
        self._start_timer()  # type: ignore[attr-defined]
        self.session.reset_units()  # type: ignore[attr-defined]
        with self.state:  # type: ignore[attr-defined]
            self.state.dose_errors = {}  # type: ignore[attr-defined]
            self.state.dose_version = int(self.state.dose_version or 0) + 1  # type: ignore[attr-defined]
        self._refresh()  # type: ignore[attr-defined]

    def _dose_refused(self, text: str, per_site: dict[str, str]) -> None:
        """Show a refusal under the fields it is about (and, naming the sites, as the page's
        message); the fields show the doses the plan keeps again."""
        s: Any = self.state  # type: ignore[attr-defined]
        known = {r["id"] for r in s.dose_rows or []}
        with s:
            s.dose_errors = {sid: words for sid, words in per_site.items() if sid in known}
            s.dose_version = int(s.dose_version or 0) + 1  # the fields are drawn again from the plan's doses
        self.show_message(text, "error")  # type: ignore[attr-defined]
