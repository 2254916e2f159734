"""Browser input is checked before use (visualizer.app.inputs, guard) and faults are survivable (faults).

Fast tests, no browser: the checks themselves, the guard on a wslink handler, the bounded
snapshot and the restore function.  The browser side is in tests/e2e/test_fuzz.py and
tests/e2e/test_faults.py.
"""

from __future__ import annotations

import asyncio
import logging
import math

import numpy as np
import pytest

from visualizer.app import guard, inputs
from visualizer.app.inputs import InputRefused, check_state, check_trigger, quote

HOSTILE = [
    None,
    True,
    0,
    -1,
    1e308,
    -1e308,
    math.nan,
    math.inf,
    "",
    "/etc/passwd",
    "/dev/stdin",
    "Z" * 3_000_000,
    [],
    [math.nan] * 3,
    {},
    {"a": 1},
]


def _deep(n: int):
    v: list = []
    for _ in range(n):
        v = [v]
    return v


# ------------------------------------------------------------------------------ values
def test_quote_is_bounded():
    assert len(quote("Z" * 60_000_000)) < 80
    assert len(quote(_deep(5000))) < 80
    assert len(quote({str(i): "x" * 1000 for i in range(1000)})) < 80


def test_safe_text_cuts_and_hides_paths():
    t = guard.safe_text("bad file /etc/shadow and ../../etc/passwd in units/mL " + "Z" * 10_000)
    assert "/etc" not in t and "[path]" in t and "units/mL" in t and len(t) < 320


# values of HOSTILE that are legitimate for a key (everything else must be refused)
_LEGIT = {
    "pick_down": [None],
    "pick_up": [None],
    "pain_chips": [[]],
    "message": [""],
    "drawer": [True],
    "follow_the_pain": [True],
    "show_muscles": [True],
    "show_labels": [True],
    "show_landmarks": [True],
    "show_answers": [True],
    "debug": [True],
    "portrait": [True],
    "view_size": [None],
    # well-formed names, refused by membership of the app's sets (next test)
    "protocol_id": ["/etc/passwd", "/dev/stdin"],
    "landmark_name": ["/etc/passwd", "/dev/stdin"],
    "selected_site": [None, "/etc/passwd", "/dev/stdin"],
    # the record's search text: any short text is a search (nothing is looked up by it but names)
    "rec_query": ["", "/etc/passwd", "/dev/stdin"],
    "rec_amending": [True],
    # body-type sliders: 0 is female / minimum weight / minimum muscle (age refuses it)
    "body_sex": [0],
    "body_weight": [0],
    "body_muscle": [0],
}


@pytest.mark.parametrize("key", sorted(inputs.STATE))
def test_every_state_key_refuses_hostile_values(key):
    legit = _LEGIT.get(key, [])
    for v in [*HOSTILE, _deep(3000)]:
        if any(v is x or (type(v) is type(x) and v == x) for x in legit):
            continue
        with pytest.raises(InputRefused) as exc:
            check_state(None, key, v)  # no app: the type and range checks alone
        assert len(str(exc.value)) < 400


def test_membership_sets_come_from_the_app(app):
    assert check_state(app, "protocol_id", "glabellar") == "glabellar"
    for bad in ("/etc/passwd", "/dev/stdin", "../protocols/preempt.yaml", "no-such"):
        with pytest.raises(InputRefused, match="unknown protocol"):
            check_state(app, "protocol_id", bad)
    with pytest.raises(InputRefused, match="unknown landmark"):
        check_state(app, "landmark_name", "elbow")
    with pytest.raises(InputRefused, match="site of this plan"):
        check_state(app, "selected_site", "x")
    with pytest.raises(InputRefused, match="may not change"):
        check_state(app, "totals", {"units": "1"})  # the server's own key
    with pytest.raises(InputRefused, match="may not change"):
        check_state(app, "Z" * 5_000_000, 1)


def test_triggers_check_arity_and_values():
    assert check_trigger(None, "camera", ["front"], {}) == (["front"], {})
    for args, kwargs in (
        ([], {}),
        (["front", 1], {}),
        (["diagonal"], {}),
        ([], {"evil": 1}),
        (["/etc/passwd"], {}),
        ([_deep(2000)], {}),
    ):
        with pytest.raises(InputRefused):
            check_trigger(None, "camera", args, kwargs)
    with pytest.raises(InputRefused, match="not accepted"):
        check_trigger(None, "__init__", [], {})
    with pytest.raises(InputRefused):
        check_trigger(None, "clear_pain", "not a list", {})


@pytest.mark.parametrize(
    "size",
    [[-1, 1], [16384, 16384], [15, 100], [100, 4097], [math.nan, 10], [math.inf, 100], [True, 100], "100x100", [100]],
)
def test_snapshot_size_bounds(size):
    with pytest.raises(InputRefused):
        check_trigger(None, "snapshot_png", [None, size], {})


@pytest.mark.parametrize(
    "camera",
    [
        {"position": [math.nan, 0, 0], "focalPoint": [0, 0, 0]},
        {"position": [0, 0, 1e308], "focalPoint": [0, 0, 0]},
        {"position": [0, 0, 1], "focalPoint": [0, 0, 1]},  # looking at itself
        {"position": [0, 0, 500], "focalPoint": [0, 0, 0], "viewUp": [0, 0, 0]},
        {"position": [0, 0, 500], "focalPoint": [0, 0, 0], "viewUp": [0, 0, 1]},  # up along the view
        {"position": [0, 0, 500], "focalPoint": [0, 0, 0], "viewAngle": 0},
        {"position": [0, 0, 500], "focalPoint": [0, 0, 0], "extra": "x"},
        {"position": "0,0,500", "focalPoint": [0, 0, 0]},
    ],
)
def test_bad_cameras_are_refused(camera):
    with pytest.raises(InputRefused):
        check_trigger(None, "snapshot_png", [camera, [100, 100]], {})


def test_local_click_view_size_is_bounded():
    """A click is picked in a render window of the reported size: never 16384 px."""
    ok = check_trigger(None, "on_local_click", [10, 10, 800, 600, None, None, None], {})[0]
    assert ok[:4] == [10.0, 10.0, 800.0, 600.0]
    with pytest.raises(InputRefused):
        check_trigger(None, "on_local_click", [10, 10, 16384, 16384, None, None, None], {})


# ------------------------------------------------------------------------------ the app
_N = [0]


@pytest.fixture(scope="module")
def head():
    import visualizer as engine

    return engine.load_head()


@pytest.fixture
def app(head):
    from trame.app import get_server

    import visualizer as engine
    from visualizer.app.context import AppContext
    from visualizer.app.core import InjectVizApp

    _N[0] += 1
    a = InjectVizApp(get_server(f"test_inputs_{_N[0]}", client_type="vue3"), AppContext(engine=engine, head=head))
    a.server.state.ready()
    yield a
    a.close()


def test_snapshot_is_bounded_in_memory_and_a_real_png(app, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None
    try:
        data = app.snapshot_png(None, [64, 48], False)  # the bare view (default: the figure around it)
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[-8:-4] == b"IEND"
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (w, h) == (1400, 1050)  # small views are drawn larger, same aspect
        tiny = app.snapshot_png(None, [16, 16])  # the smallest picture is drawn at 1400 px
        assert int.from_bytes(tiny[16:20], "big") == 1400
        assert app.snapshot_png(None, [16384, 16384]) == b""
        assert "4096" in app.state.message
        assert app.snapshot_png({"position": [math.nan, 0, 0], "focalPoint": [0, 0, 0]}, None) == b""
        assert tuple(app.plotter.window_size) == (1000, 760)  # the view is left as it was
        assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file
    finally:
        tempfile.tempdir = None


def test_restore_applies_everything_or_nothing(app, head):
    from visualizer.app import faults

    p, _ = head.snap(np.asarray(head.landmarks["left_tragus"]) + np.array([0, 10, 45]))
    lm, _ = head.snap(np.asarray(head.landmarks["left_tragus"]) + np.array([0, 3, 2]))
    saved = {
        "v": 1,
        "protocol": "preempt-ftp",
        "regions": ["temporal"],
        "side": "left",
        "point": [float(v) for v in p],
        "ftp": False,
        "landmarks": {"left_tragus": [float(v) for v in lm]},
        "tab": "trainer",
    }
    faults.restore(app, saved)
    snap = faults.snapshot(app)
    assert snap["protocol"] == "preempt-ftp" and snap["regions"] == ["temporal"] and snap["side"] == "left"
    assert snap["ftp"] is False and list(snap["landmarks"]) == ["left_tragus"]
    assert np.allclose(snap["point"], p, atol=0.01) and app.state.tab == "trainer"
    assert app.state.saved_inputs == snap  # what the page writes into its address
    before = faults.snapshot(app)
    for bad in (
        dict(saved, protocol="/etc/passwd"),
        dict(saved, point=[0.0, 900.0, 0.0]),
        dict(saved, landmarks={"elbow": [0.0, 0.0, 0.0]}),
        dict(saved, side="up"),
        dict(saved, regions=["temporal"] * 50),
        dict(saved, extra=1),
        dict(saved, point=[math.nan] * 3),
        "not a dict",
    ):
        with pytest.raises(InputRefused):
            faults.restore(app, bad)
        assert faults.snapshot(app) == before


# ------------------------------------------------------------------------------ the guard
class _Handler:
    """The parts of a wslink handler the guard touches, recording what would go to the browser."""

    def __init__(self, protocol):
        self.functionMap = {
            "trame.state.update": (protocol, type(protocol).update_state),
            "trame.trigger": (protocol, type(protocol).trigger),
            "boom": (protocol, lambda self, x: 1 / 0),
        }
        self.sent: list = []

    async def sendWrappedError(self, rpcid, code, message, data=None, client_id=None):
        self.sent.append((code, message, data))


def _run(coro):
    """Run a coroutine to its end on a loop of its own (another loop may run in this thread)."""
    import threading

    out: dict = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed back to the test
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _call(handler, uri, *args):
    obj, fn = handler.functionMap[uri]
    res = fn(obj, *args)
    return _run(res) if asyncio.iscoroutine(res) else res


def test_guard_checks_state_updates_and_triggers_first(app, caplog):
    from wslink.protocol import EXCEPTION_ERROR

    proto = app.server._root_protocol if getattr(app.server, "_root_protocol", None) else None
    if proto is None:  # not started: a protocol object bound to this server
        from trame_server.protocol import CoreServer

        proto = CoreServer.__new__(CoreServer)
        proto.server = app.server
        proto._clients_state = {}
        proto.publish = lambda *a, **k: None
    h = _Handler(proto)
    guard.protect_handler(h, lambda: app)
    # a refused key leaves the state as it was and says so on the page
    _call(h, "trame.state.update", [{"key": "protocol_id", "value": "/etc/shadow"}])
    assert app.state.protocol_id == "preempt" and "unknown protocol" in app.state.message
    assert "/etc" not in app.state.message
    _call(h, "trame.state.update", [{"key": "protocol_id", "value": "glabellar"}])
    assert app.state.totals["units"] == "20"
    _call(h, "trame.state.update", "malformed")
    assert "malformed" in app.state.message
    # triggers: wrong arity and bad values never reach the app
    _call(h, "trame.trigger", "snapshot_png", [None, [16384, 16384]], {})
    assert "4096" in app.state.message
    _call(h, "trame.trigger", app.server.controller.trigger_name(app.camera), [], {})
    assert "missing" in app.state.message
    # a server fault: an error id on the page, the details in the log only
    with caplog.at_level(logging.ERROR, logger="injectviz.guard"):
        _call(h, "boom", 1)
    assert "error id" in app.state.message and "ZeroDivision" not in app.state.message
    eid = app.state.message.split("error id ")[1][:8]
    assert eid in caplog.text and "ZeroDivisionError" in caplog.text
    # and wslink's own error reply never carries a traceback
    _run(
        h.sendWrappedError(
            1,
            EXCEPTION_ERROR,
            "Exception raised",
            {"method": "x", "exception": "E('/etc/shadow')", "trace": 'Traceback\n  File "/x.py"'},
        )
    )
    _code, message, data = h.sent[-1]
    assert "Traceback" not in str(data) and "/etc" not in str(data) and "error id" in message


def test_every_control_of_the_page_has_a_check(app):
    """Each state key the page's template writes and each trigger it calls has an entry in inputs.

    (A control without one would be refused by the server: add it to ``inputs.STATE`` or
    ``inputs.TRIGGERS``.)
    """
    import re

    html = app.ui.html
    app.server.state.ready()
    scripts = [v for k, v in app.server.state.to_dict().items() if k.startswith("trame__") and isinstance(v, str)]
    written = set(re.findall(r'v-model(?::[\w-]+)?="(\w+)"', html))
    for value in re.findall(r'"([^"]*)"', html):
        written |= {m.group(1) for m in re.finditer(r"(?<![\w.'=!<>])([a-z_]\w*)\s*=(?![=>])", value)}
    assert {"protocol_id", "pain_chips", "pick_down"} <= written  # a table row calls focus_site
    assert written <= set(inputs.STATE), written - set(inputs.STATE)
    names = set()
    for text in [html, *scripts]:
        names |= set(re.findall(r"""trigger\(\s*['"]([\w.-]+)['"]""", text))
    assert {"snapshot_png", "restore_inputs", "local_click"} <= names
    for name in names:
        fn = app.server.controller.trigger_fn(name)
        assert fn is not None, name
        from visualizer.app.guard import method_name

        assert method_name(fn) in inputs.TRIGGERS, f"trigger {name} runs {method_name(fn)}: no entry in inputs.TRIGGERS"


def test_arguments_not_sent_keep_the_functions_defaults():
    """Only the arguments the page sent are passed on (checked); the function's defaults do the rest."""
    assert check_trigger(None, "snapshot_png", [], {}) == ([], {})
    assert check_trigger(None, "snapshot_png", [None, [880.5, 600]], {}) == ([None, [880.5, 600.0]], {})
    assert check_trigger(None, "snapshot_png", [], {"size": [100, 100]}) == ([None, [100.0, 100.0]], {})


def test_a_viewer_may_run_only_the_patient_step_through(monkeypatch):
    """The waiting-room kiosk: a crafted page of a viewer cannot plan, quiz or open records."""
    from visualizer.app import access
    from visualizer.app.inputs import TRIGGERS, VIEWER_TRIGGERS, InputRefused, check_trigger

    assert VIEWER_TRIGGERS <= set(TRIGGERS)
    monkeypatch.setattr(access, "_IDENTITY", access.Identity("vera", "viewer", "127.0.0.1", True))
    assert check_trigger(None, "patient_next", [], {}) == ([], {})
    for method in ("quiz_start", "clear_pain", "reset_landmarks", "plan_json", "rec_close"):
        with pytest.raises(InputRefused, match="not available to your account"):
            check_trigger(None, method, [], {})
    monkeypatch.setattr(access, "_IDENTITY", access.Identity("tom", "trainer", "127.0.0.1", True))
    assert check_trigger(None, "quiz_start", [], {}) == ([], {})
