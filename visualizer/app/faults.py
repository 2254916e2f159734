"""When things go wrong between the page and the server: reconnect, restore, checked downloads.

* The page keeps the session's inputs — protocol, pain origin (regions, side, point),
  follow-the-pain, moved landmarks, the doses chosen within the sites' ranges, tab — in its
  address (``#iv=<json>``), so a reload or a reconnect restores them: :data:`JS` sends them to
  the ``restore_inputs`` trigger, which :func:`restore` validates exactly like any other browser
  input before applying them at once.
* When the connection is lost (server restarted, session process gone) the page says so plainly,
  polls its own address with a growing delay, and reloads when the server answers.
* A download is handed to the browser only once its whole payload arrived and checks out (a PNG's
  signature and final ``IEND`` chunk, JSON that parses, CSV ending in a newline).

Points and landmarks are in the head mesh's frame (mm).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from visualizer.app.inputs import STATE, InputRefused, SavedInputs, TypeAdapter, quote
from visualizer.app.state import UserError

_SAVED = TypeAdapter(SavedInputs)

JS = r"""
window.injectvizFaults = window.injectvizFaults || (function () {
  var started = false, lost = false, restoring = true, banner = null;
  function say(text, kind) {
    if (!banner) {
      banner = document.createElement('div');
      banner.id = 'connection-banner';
      banner.setAttribute('role', 'alert');
      banner.style.cssText = 'position:fixed;left:50%;top:56px;transform:translateX(-50%);z-index:100000;' +
        'max-width:640px;padding:10px 16px;border-radius:8px;font:15px/1.4 sans-serif;' +
        'box-shadow:0 2px 8px rgba(0,0,0,.3);color:#fff;';
      document.body.appendChild(banner);
    }
    banner.style.background = kind === 'lost' ? '#b71c1c' : '#37474f';
    banner.textContent = text;
    banner.style.display = 'block';
    if (kind !== 'lost') {
      setTimeout(function () { if (!lost) { banner.style.display = 'none'; } }, 8000);
    }
  }
  function readSaved() {
    var m = /[#&]iv=([^&]*)/.exec(window.location.hash || '');
    if (!m || m[1].length > 8000) { return null; }
    try {
      var v = JSON.parse(decodeURIComponent(m[1]));
      return (v && typeof v === 'object' && !Array.isArray(v)) ? v : null;
    } catch (e) { return null; }
  }
  function writeSaved(saved, tab) {
    if (restoring || lost || !saved || typeof saved !== 'object') { return; }
    var h = '#iv=' + encodeURIComponent(JSON.stringify(Object.assign({}, saved, { tab: tab })));
    if (h.length > 8000 || h === window.location.hash) { return; }
    window.history.replaceState(window.history.state, '',
      window.location.pathname + window.location.search + h);
  }
  function poll(delay) {
    setTimeout(function () {
      var next = Math.min(Math.round(delay * 1.6), 5000);
      fetch(window.location.pathname + window.location.search, { cache: 'no-store' })
        // 401: the login ended (idle, logged out elsewhere): reload to show the login page
        .then(function (r) { if (r.ok || r.status === 401) { window.location.reload(); } else { poll(next); } })
        .catch(function () { poll(next); });
    }, delay);
  }
  function onLost() {
    if (lost) { return; }
    lost = true;
    say('The connection to the InjectViz server was lost. This page reconnects by itself as soon ' +
        'as the server is back, and keeps your inputs.', 'lost');
    poll(500);
  }
  function start() {
    var t = window.trame;
    if (started) { return; }
    if (!t || !t.client || !t.state || !t.state.watch || !t.client.onConnectionClose) {
      setTimeout(start, 100);
      return;
    }
    started = true;
    t.client.onConnectionClose(onLost);
    t.client.onConnectionError(onLost);
    var saved = readSaved();
    function done() {
      restoring = false;
      writeSaved(t.state.get('saved_inputs'), t.state.get('tab'));
    }
    if (saved) { t.trigger('restore_inputs', [saved]).then(done, done); } else { done(); }
    t.state.watch(['saved_inputs', 'tab'], function (s, tab) { writeSaved(s, tab); });
  }
  function problem(data, kind) {
    if (kind === 'png') {
      var b = data instanceof Uint8Array ? data : (data instanceof ArrayBuffer ? new Uint8Array(data) : null);
      if (!b || b.length < 57) { return 'no picture arrived'; }
      var head = [137, 80, 78, 71, 13, 10, 26, 10];
      var tail = [0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130];
      for (var i = 0; i < head.length; i++) { if (b[i] !== head[i]) { return 'not a PNG picture'; } }
      for (var j = 0; j < tail.length; j++) {
        if (b[b.length - tail.length + j] !== tail[j]) { return 'the picture is incomplete'; }
      }
      return null;
    }
    if (kind === 'pdf') {
      var d = data instanceof Uint8Array ? data : (data instanceof ArrayBuffer ? new Uint8Array(data) : null);
      if (!d || d.length < 64) { return 'no document arrived'; }
      if (String.fromCharCode.apply(null, d.subarray(0, 5)) !== '%PDF-') { return 'not a PDF document'; }
      if (String.fromCharCode.apply(null, d.subarray(d.length - 32)).indexOf('%%EOF') < 0) {
        return 'the document is incomplete';
      }
      return null;
    }
    if (typeof data !== 'string' || !data.length) { return 'nothing arrived'; }
    if (kind === 'json') {
      try { JSON.parse(data); } catch (e) { return 'the plan is incomplete'; }
      return null;
    }
    return data.charAt(data.length - 1) === '\n' ? null : 'the table is incomplete';
  }
  function download(name, promise, mime, kind) {
    return Promise.resolve(promise).then(function (data) {
      var why = problem(data, kind);
      if (why) { throw new Error(why); }
      return window.trame.utils.download(name, data, mime);
    }).catch(function (e) {
      say('The download did not complete (' + ((e && e.message) || 'connection lost') +
          '): nothing was saved. Please try again.', 'note');
    });
  }
  return { start: start, download: download, problem: problem };
})();
window.injectvizFaults.start();
"""


def download_click(name_expr: str, trigger_expr: str, mime: str, kind: str) -> str:
    """A click handler that downloads ``trigger_expr``'s result only once it checks out."""
    return f"utils.get('injectvizFaults.download')({name_expr}, {trigger_expr}, '{mime}', '{kind}')"


def snapshot(app: Any) -> dict[str, Any]:
    """The inputs of ``app``'s session the page keeps in its address (mesh frame, mm)."""
    ses = app.session
    point = None if ses.pain_point is None else [round(float(v), 2) for v in ses.pain_point]
    landmarks = {
        k: [round(float(v), 2) for v in np.asarray(ses.head.landmarks[k], dtype=float)] for k in ses.moved_landmarks()
    }
    if (getattr(ses.head, "source", None) or {}).get("kind") == "scan":
        # points on an uploaded scan (scan frame) mean nothing on the head a reload starts with
        point, landmarks = None, {}
    out = {
        "v": 1,
        "protocol": str(ses.protocol.id),
        "regions": list(ses.pain_chips),
        "side": ses.pain_side,
        "point": point,
        "ftp": bool(ses.follow_the_pain),
        "landmarks": landmarks,
        "units": dict(ses.units),  # the doses chosen within the sites' ranges
    }
    records = getattr(app, "records", None)
    if records is not None and records.patient is not None:
        out["patient"] = str(records.patient["code"])  # the record open in the page
    return out


def _on_skin(app: Any, point: list[float], what: str) -> np.ndarray:
    p = np.asarray(point, dtype=float)
    snapped, _ = app.head.snap(p)
    snapped = np.asarray(snapped, dtype=float)
    off = float(np.linalg.norm(snapped - p))
    from visualizer.app.core import OFF_HEAD_MM

    if off > OFF_HEAD_MM:
        raise InputRefused(f"{what} is {off:.0f} mm from the skin (at most {OFF_HEAD_MM:g} mm)")
    return snapped


def restore(app: Any, saved: Any) -> None:
    """Apply the inputs a page kept in its address, all at once, after checking every value.

    The values are browser input: they get the same checks as the page's own controls (types,
    ranges, known protocol ids, regions and landmark names, points on the skin).  Anything wrong
    refuses the whole restore with a message naming the value; the session is left unchanged.
    """
    try:
        s = _SAVED.validate_python(saved).model_dump()
    except Exception as exc:
        raise InputRefused(f"the inputs saved in this page's address are not valid ({quote(str(exc), 160)})") from None
    ses = app.session
    if s["protocol"] is not None:
        STATE["protocol_id"](s["protocol"], app, field="saved protocol")
    base = ses.base_head.landmarks
    moved = {}
    for name, p in s["landmarks"].items():
        if name not in base:
            raise InputRefused(f"saved landmark {quote(name)} is not a landmark of this head")
        moved[name] = _on_skin(app, p, f"saved landmark {name}")
    point = None if s["point"] is None else tuple(float(v) for v in _on_skin(app, s["point"], "the saved pain point"))
    protocol = ses._load(s["protocol"]) if s["protocol"] is not None else ses.protocol
    try:  # checked against the protocol restored with them
        units = ses.checked_units(s["units"], protocol)
    except UserError as exc:
        raise InputRefused(f"the saved doses: {exc}") from None

    def change() -> None:
        ses.protocol = protocol
        ses.units = units
        ses.pain_chips, ses.pain_side = list(s["regions"]), s["side"]
        ses.pain_point = point
        ses.follow_the_pain = bool(s["ftp"])
        ses.head = ses._head_with({**base, **moved}) if moved else ses.base_head

    old_protocol = ses.protocol
    ses._transaction(change)
    if ses.protocol is not old_protocol:
        app._end_quiz()  # a quiz is over the plan it started on
    app.scene.set_landmarks(ses.head)
    with app.state:
        app.state.moved_landmarks = ses.moved_landmarks()
        app.state.tab = s["tab"]
    app._refresh()
    if s.get("patient") and getattr(app, "records", None) is not None:
        app.records.reopen(s["patient"])


def install(app: Any) -> None:
    """Register the ``restore_inputs`` trigger of ``app``'s page."""
    ref = weakref.ref(app)

    def restore_inputs(saved: Any) -> None:
        a = ref()
        if a is not None:
            restore(a, saved)

    app.server.trigger("restore_inputs")(restore_inputs)
