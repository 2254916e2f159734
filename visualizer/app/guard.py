"""Between the browser and the app: check every request first, and never send internals back.

:func:`install` is called by each ``InjectVizApp``.  When its trame server starts (whatever serves
it: the in-process multi-session server, a process per session, ``trame``'s own ``start``), the
session's wslink handler gets:

* every RPC wrapped: ``trame.state.update`` and ``trame.trigger`` are validated against
  :mod:`visualizer.app.inputs` BEFORE the app sees them (refused keys are pushed back to the
  page with the server's value), trame-vtk's view RPCs have their sizes bounded, and any failure
  becomes a message on the page instead of an exception;
* its error reply replaced: wslink would send ``repr(exception)`` and the Python traceback (server
  paths, values) to the browser; the page now gets "Server error (error id ...)" and the log gets
  the details under that id.

Page messages and log lines quote values cut short (:func:`visualizer.app.inputs.quote`).
"""

from __future__ import annotations

import inspect
import logging
import re
import secrets
import traceback
import types
import weakref
from collections.abc import Callable
from typing import Any

from visualizer.app.inputs import MAX_NAME, STATE, InputRefused, check_rpc, check_state, check_trigger, quote

log = logging.getLogger("injectviz.guard")

#: trame-vtk's RPCs of the server-rendered view (pictures, mouse, camera): they draw a window, so
#: they are refused until the session has an OpenGL window (``visualizer.app.lazy_gl``)
SERVER_DRAWN = ("viewport.image.", "viewport.mouse.", "viewport.camera.")
MAX_CHANGES = 64  # state changes in one update (the page sends a handful)
MAX_MESSAGE = 300  # characters of an error message shown on the page
_PATH = re.compile(r"(?<!\w)(?:~|\.{1,2})?(?:/[^\s/'\"(),;:]+)+/?")


def new_error_id() -> str:
    """A short random id that ties a message on the page to the details in the server log."""
    return secrets.token_hex(4)


def safe_text(text: str, limit: int = MAX_MESSAGE) -> str:
    """A message fit for a browser: cut short, absolute paths replaced by ``[path]``."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit].rstrip() + "..."
    return _PATH.sub("[path]", text)


def _user_error_types() -> tuple[type, ...]:
    from visualizer.app.state import UserError
    from visualizer.errors import InjectVizError

    return (UserError, InjectVizError, InputRefused)


def report(exc: BaseException, where: str = "") -> str:
    """Log an error and return the text for the page.

    A user's mistake (``UserError``, the engine's ``InjectVizError``, a refused input) is shown as
    its own message, cut short and without paths.  Anything else is a fault of the server: it is
    logged with its traceback under a new error id, and the page only sees the id.
    """
    if isinstance(exc, _user_error_types()):
        return safe_text(str(exc))
    eid = new_error_id()
    tb = "".join(traceback.format_tb(exc.__traceback__))
    log.error("error %s in %s: %s: %s\n%s", eid, where or "a request", type(exc).__name__, quote(str(exc), 200), tb)
    return (
        f"Something went wrong on the server (error id {eid}); the details are in the server "
        "log. The page is still working."
    )


# ------------------------------------------------------------------------------------------
# installing on the session's wslink handler
# ------------------------------------------------------------------------------------------
def install(app: Any) -> None:
    """Protect ``app``'s server: called once per app, takes effect when its server starts."""
    ref = weakref.ref(app)

    def on_bind(ws_server: Any) -> None:
        handlers = _handlers(ws_server)
        if not handlers:
            log.error("no wslink handler found on %s: requests are not checked", type(ws_server).__name__)
        for h in handlers:
            protect_handler(h, ref)

    app.server.controller.on_server_bind.add(on_bind)


def _handlers(ws_server: Any) -> list[Any]:
    """The wslink handlers of a wslink web server (generic: ``_websockets``; aiohttp: ``_ws_handlers``)."""
    from wslink.protocol import WslinkHandler

    found: list[Any] = []
    for v in list(vars(ws_server).values()):
        items = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else [v]
        found.extend(x for x in items if isinstance(x, WslinkHandler) and x not in found)
    return found


def protect_handler(handler: Any, app_ref: Callable[[], Any]) -> None:
    """Wrap every RPC of ``handler`` and replace its error reply (idempotent)."""
    if getattr(handler, "_injectviz_guarded", False):
        return
    for uri, (obj, func) in list(handler.functionMap.items()):
        handler.functionMap[uri] = (obj, _wrap_rpc(uri, func, app_ref))
    original = type(handler).sendWrappedError

    async def send_error(
        self: Any, rpcid: Any, code: int, message: str, data: Any = None, client_id: Any = None
    ) -> Any:
        from wslink.protocol import EXCEPTION_ERROR

        if code == EXCEPTION_ERROR or (isinstance(data, dict) and "trace" in data):
            eid = new_error_id()
            log.error("error %s in an RPC: %s", eid, quote(data, 400))
            message, data = f"Server error (error id {eid})", {"error_id": eid}
        else:
            message = safe_text(message, 120)
            data = safe_text(quote(data), 120) if data else None
        return await original(self, rpcid, code, message, data, client_id)

    handler.sendWrappedError = types.MethodType(send_error, handler)
    handler._injectviz_guarded = True


def _wrap_rpc(uri: str, func: Callable, app_ref: Callable[[], Any]) -> Callable:
    async def rpc(obj: Any, *args: Any, **kwargs: Any) -> Any:
        app = app_ref()
        try:
            if uri == "trame.state.update":
                return _state_update(app, obj, func, args, kwargs)
            if uri == "trame.trigger":
                return await _trigger(app, obj, func, args, kwargs)
            if uri.startswith(SERVER_DRAWN) and app is not None and not app.server_can_draw():
                raise InputRefused("the server-rendered view is not on")  # no OpenGL window to draw
            checked = check_rpc(app, uri, list(args), dict(kwargs))
            if checked is not None:
                args, kwargs = tuple(checked[0]), checked[1]
            result = func(obj, *args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        except InputRefused as exc:
            log.warning("refused %s: %s", uri, quote(str(exc), 200))
            _show(app, f"The server refused a request from this page: {exc}.")
        except Exception as exc:
            _show(app, report(exc, f"RPC {uri}"))
        return None

    rpc.__name__ = getattr(func, "__name__", "rpc")
    return rpc


def _show(app: Any, text: str) -> None:
    if app is None:
        return
    try:
        app.show_message(safe_text(text), "error")
    except Exception:
        log.warning("could not show a message on the page:\n%s", traceback.format_exc())


def _state_update(app: Any, obj: Any, func: Callable, args: tuple, kwargs: dict) -> None:
    """``trame.state.update``: apply the changes that pass their check, push back the others."""
    if kwargs or len(args) != 1 or not isinstance(args[0], list):
        raise InputRefused("a malformed state update")
    changes = args[0]
    if len(changes) > MAX_CHANGES:
        raise InputRefused(f"{len(changes)} state changes at once (at most {MAX_CHANGES})")
    accepted: list[dict] = []
    refused_keys: list[str] = []
    reasons: list[str] = []
    for ch in changes:
        if not isinstance(ch, dict) or "key" not in ch or set(ch) - {"key", "value"}:
            reasons.append(f"a malformed change {quote(ch)}")
            continue
        key = ch["key"]
        try:
            value = check_state(app, key, ch.get("value"))
        except InputRefused as exc:
            reasons.append(str(exc))
            if isinstance(key, str) and key in STATE:  # a control of the page: show the server's value
                refused_keys.append(key)
            continue
        accepted.append({"key": key, "value": value})
    if accepted:
        func(obj, accepted)
    if reasons:
        _push_back(app, obj, refused_keys)
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise InputRefused(f"{reasons[0]}{more}; nothing else was changed")


def _push_back(app: Any, obj: Any, keys: list[str]) -> None:
    """Send the server's value of refused keys back, so the page shows what the server holds."""
    if app is None or not keys:
        return
    known = [k for k in dict.fromkeys(keys) if k in app.state]
    if not known:
        return
    try:
        obj.clear_state_client_cache(*known)
        obj.force_push_state(*known)
    except Exception:
        log.warning("could not push refused keys back:\n%s", traceback.format_exc())


def method_name(fn: Any) -> str:
    """The app method a trigger runs: a plain function's name, or a controller function's ``func``."""
    return getattr(fn, "__name__", "") or getattr(getattr(fn, "func", None), "__name__", "")


async def _trigger(app: Any, obj: Any, func: Callable, args: tuple, kwargs: dict) -> Any:
    """``trame.trigger(name, args, kwargs)``: run the trigger only with checked arguments."""
    if kwargs or not 1 <= len(args) <= 3:
        raise InputRefused("a malformed action")
    name = args[0]
    targs = args[1] if len(args) > 1 else []
    tkwargs = args[2] if len(args) > 2 else {}
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise InputRefused(f"an unknown action {quote(name)}")
    fn = app.server.controller.trigger_fn(name) if app is not None else None
    if fn is None:
        raise InputRefused(f"an unknown action {quote(name)}")
    method = method_name(fn)
    try:
        vargs, vkwargs = check_trigger(app, method, targs, tkwargs)
    except InputRefused as exc:
        raise InputRefused(f"action {method or name}: {exc}") from None
    result = func(obj, name, vargs, vkwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
