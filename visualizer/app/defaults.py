"""The web app's UI defaults, in one place: the page's initial state and the scene's first draw.

``visualizer.app.core`` puts these into the trame state and builds the scene with them; the
layout (``visualizer.app.ui``) binds to the state keys and sets no defaults of its own.
"""

from __future__ import annotations

from typing import Any

UI_DEFAULTS: dict[str, Any] = {
    "drawer": True,  # the side panel is open
    "tab": "plan",
    "tabs_shown": ["plan", "patient", "trainer", "record"],  # the account's tabs (a viewer: patient only)
    "view_mode": "local",  # 3D in the browser (vtk.js); "remote" = rendered on the server
    "show_muscles": True,
    "show_labels": True,
    "show_landmarks": False,
    "show_answers": False,  # trainer: all sites shown
    "follow_the_pain": True,
    "pain_side": "both",  # side of a bare pain region chip
    "landmark_name": "left_tragus",  # landmark mode: the landmark a click places
    "debug": False,  # ?debug=1 in the page address shows developer timings
    "portrait": False,  # set by the page: a narrow portrait window (panel as a bottom sheet)
}
