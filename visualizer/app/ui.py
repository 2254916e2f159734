"""Page layout (trame + Vuetify 3): the 3D view fills the page, a side panel holds the controls.

Plan (injectors), Patient (a calm step-through) and Trainer (quiz) tabs.  Only bindings live here:
every value shown is a state key filled by ``core.InjectVizApp`` from the session, every action is
a function of the server's controller (``ctrl.camera``, ``ctrl.focus_site``, ...) or a named
trigger (``plan_json``, ``snapshot_png``, ...) that the app binds. This module does not import the
app: :func:`build_layout` returns the layout and the two 3D views, the way trame's app template
does. Defaults of the state keys live in ``visualizer.app.defaults``.
"""

from __future__ import annotations

from typing import Any

from trame.ui.vuetify3 import VAppLayout
from trame.widgets import client, html
from trame.widgets import vuetify3 as v3
from trame_pyvista import PyVistaLocalView, PyVistaRemoteView

from visualizer.app import records_panel
from visualizer.app.faults import JS as FAULTS_JS
from visualizer.app.faults import download_click
from visualizer.plan import DISCLAIMER

CSS = """
html, body { overflow: hidden !important; }
.iv-main { height: 100vh; }
.iv-stage { display: flex; flex-direction: column; width: 100%; height: 100%; }
.iv-stage-view { position: relative; flex: 1 1 auto; min-height: 0; }
.iv-view { position: absolute; inset: 0; }
.iv-view > div { width: 100%; height: 100%; }
.iv-overlay { position: absolute; z-index: 5; pointer-events: none; }
.iv-overlay > * { pointer-events: auto; }
/* many findings (a scan's notes) scroll inside the box instead of covering the head; every one is
   also listed in the panel, and the count stays in the title */
#view-warnings ul { max-height: 24vh; overflow-y: auto; }
/* the legend is a bar under the view, never over it (so it never covers a marker) */
.iv-legend { flex: 0 0 auto; background: #fafafa; border-top: 1px solid rgba(0,0,0,.12);
             padding: 4px 12px; font-size: 13px; line-height: 1.6; display: flex; flex-wrap: wrap;
             column-gap: 14px; align-items: center; }
.iv-legend .iv-hint { flex-basis: 100%; }
.iv-table tr.iv-flagged td:first-child { box-shadow: inset 4px 0 0 #c62828; }
.iv-table tr.iv-flagged td { color: #b71c1c; }
.iv-table td.iv-where { white-space: normal !important; padding-top: 3px !important;
                        padding-bottom: 3px !important; line-height: 1.3; }
.iv-title { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0;
            flex: 1 1 auto; }
.iv-print-only { display: none; }
@media print {
  @page { size: A4 portrait; margin: 12mm; }
  html, body { overflow: visible !important; height: auto !important; }
  .v-application, .v-layout { display: block !important; min-height: 0 !important; height: auto !important; }
  /* the view (with the title) first, then the panel with the tables */
  .v-application__wrap { display: flex !important; flex-direction: column !important; min-height: 0 !important;
                         height: auto !important; }
  .v-main { order: 1; }
  .v-navigation-drawer { order: 2; }
  .v-app-bar, #camera-presets, #download-menu, .iv-no-print, .v-tabs, #disclaimer-bar,
  .v-navigation-drawer__append, #message { display: none !important; }
  .v-main { padding: 0 !important; height: auto !important; }
  .iv-main { height: auto !important; }
  .iv-stage { height: auto !important; }
  .iv-stage-view { display: none !important; }
  #print-view { width: 100%; max-height: 120mm; object-fit: contain; }
  .v-navigation-drawer { position: static !important; transform: none !important; width: 100% !important;
                         height: auto !important; box-shadow: none !important; border: 0 !important;
                         visibility: visible !important; }
  .v-navigation-drawer__content { overflow: visible !important; }
  #site-table .v-table__wrapper { height: auto !important; overflow: visible !important; }
  .iv-table td, .iv-table th { font-size: 10pt; }
  .iv-print-only { display: block; }
  tr { break-inside: avoid; }
}
.iv-dot { display: inline-block; width: 11px; height: 11px; border-radius: 50%;
          margin-right: 6px; vertical-align: -1px; border: 1px solid rgba(0,0,0,.25); }
.iv-ring { display: inline-block; width: 12px; height: 12px; border-radius: 50%;
           border: 2.5px solid #141418; margin-right: 6px; vertical-align: -2px; }
.iv-top { left: 12px; right: 12px; top: 10px; }
.iv-dose-row { padding: 3px 0; border-bottom: 1px solid rgba(0,0,0,.06); }
.iv-dose-label { flex: 1 1 auto; min-width: 0; font-size: 13px; line-height: 1.3; padding-right: 8px; }
.iv-dose-field { flex: 0 0 96px; max-width: 96px; }
.iv-dose-field input { text-align: right; }
.iv-table { font-size: 13px; }
.iv-table td, .iv-table th { white-space: nowrap; }
.iv-table tr { cursor: pointer; }
.iv-table tr.iv-selected td { background: #ffe98a !important; font-weight: 600; }
.iv-patient-big { font-size: 30px; line-height: 1.25; font-weight: 600; }
.iv-patient-mid { font-size: 22px; line-height: 1.35; }
.iv-patient-text { font-size: 19px; line-height: 1.5; }
.iv-quiz-prompt { font-size: 22px; font-weight: 600; }
.iv-num { font-variant-numeric: tabular-nums; }
"""

JS = r"""
window.injectviz = window.injectviz || {
  // a WebGL renderer that runs on the CPU (no GPU: SwiftShader, llvmpipe): there every drawn
  // frame costs 100-300 ms of CPU, and multisampling (antialias) doubles it
  softwareGL: function () {
    var self = window.injectviz;
    if (self._software === undefined) {
      self._software = false;
      try {
        var gl = document.createElement('canvas').getContext('webgl');
        if (gl) {
          var info = gl.getExtension('WEBGL_debug_renderer_info');
          var name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
          self._software = /swiftshader|llvmpipe|softpipe|software|basic render/i.test(name);
          var lose = gl.getExtension('WEBGL_lose_context');
          if (lose) { lose.loseContext(); }
        }
      } catch (e) { self._software = false; }
    }
    return self._software;
  },
  // vtk.js asks for no context options: on a software renderer, ask for no multisampling
  // (must run before the 3D view creates its context; this script runs first)
  lightGL: function () {
    if (window.injectviz._light || !window.injectviz.softwareGL()) { return; }
    window.injectviz._light = true;
    var get = HTMLCanvasElement.prototype.getContext;
    HTMLCanvasElement.prototype.getContext = function (type, attrs) {
      if (type === 'webgl2' || type === 'webgl' || type === 'experimental-webgl') {
        attrs = Object.assign({}, attrs || {}, { antialias: false });
      }
      return get.call(this, type, attrs);
    };
  },
  // vtk.js' interactor draws a frame on every animation frame while a mouse button is down and
  // once more when it is released, also for a click that never moved the camera (on a software
  // renderer that frame delays the update the click asked for). A press on the 3D canvas is held
  // back from vtk.js until the pointer moves (a drag, then vtk.js gets the press where it
  // happened); a press released without moving never reaches vtk.js, so a click draws no frame
  // of its own: the next frame drawn is the server's update. Our own listeners on #view-3d (the
  // press and release positions, the click) still see every event.
  tuneView: function () {
    var el = document.getElementById('view-3d');
    if (!el || el.__ivHeld !== undefined) { return; }
    el.__ivHeld = null;
    var flush = function () {
      var h = el.__ivHeld;
      if (h === null) { return; }
      el.__ivHeld = null;
      h.target.dispatchEvent(new PointerEvent('pointerdown', h.init));
    };
    el.addEventListener('pointerdown', function (ev) {
      if (el.__ivHeld !== null) { flush(); return; }  // a second finger (pinch): vtk.js gets both
      if (!ev.isTrusted || !ev.target || ev.target.tagName !== 'CANVAS' || ev.button !== 0) { return; }
      var init = { bubbles: true, cancelable: true, composed: true };
      ['clientX', 'clientY', 'screenX', 'screenY', 'button', 'buttons', 'pointerId', 'pointerType',
        'isPrimary', 'pressure', 'width', 'height', 'ctrlKey', 'shiftKey', 'altKey', 'metaKey'
      ].forEach(function (k) { init[k] = ev[k]; });
      el.__ivHeld = { target: ev.target, init: init };
      ev.stopPropagation();
    }, true);
    el.addEventListener('pointermove', function (ev) {
      var h = el.__ivHeld;
      if (h === null || ev.pointerId !== h.init.pointerId) { return; }
      if (Math.abs(ev.clientX - h.init.clientX) + Math.abs(ev.clientY - h.init.clientY) < 3) {
        ev.stopPropagation();
        return;
      }
      flush();  // a drag: vtk.js gets the press, then this move
    }, true);
    var release = function (ev) {
      var h = el.__ivHeld;
      if (h === null || ev.pointerId !== h.init.pointerId) { return; }
      el.__ivHeld = null;
      ev.stopPropagation();  // vtk.js never saw this press: nothing to end, nothing to draw
    };
    el.addEventListener('pointerup', release, true);
    el.addEventListener('pointercancel', release, true);
  },
  webgl: function () {
    try {
      var c = document.createElement('canvas');
      return !!(c.getContext('webgl2') || c.getContext('webgl'));
    } catch (e) { return false; }
  },
  // the live camera of the browser-rendered view and the view's size in CSS pixels (null in the
  // server-rendered mode, whose camera lives on the server). trame-vtk's VtkLocalView.getCamera()
  // returns a plain object read from its renderer's active camera (not a vtkCamera).
  viewCamera: function (ref) {
    var v = window.trame && window.trame.refs[ref];
    var el = document.getElementById('view-3d');
    if (!v || typeof v.getCamera !== 'function' || !el) { return null; }
    var c = v.getCamera();
    if (!c || !c.position || !c.focalPoint) { return null; }
    var r = el.getBoundingClientRect();
    return { position: Array.from(c.position), focalPoint: Array.from(c.focalPoint),
             viewUp: Array.from(c.viewUp), viewAngle: c.viewAngle,
             width: r.width, height: r.height };
  },
  side: function (chips, r) {
    var list = chips || [];
    for (var i = 0; i < list.length; i++) {
      var c = String(list[i]);
      if (c === r) { return 'both'; }
      if (c === 'left-' + r) { return 'left'; }
      if (c === 'right-' + r) { return 'right'; }
    }
    return null;
  },
  setSide: function (chips, r, side, all) {
    var out = [];
    (all || []).forEach(function (name) {
      var s = name === r ? side : window.injectviz.side(chips, name);
      if (s) { out.push(s === 'both' ? name : s + '-' + name); }
    });
    return out;
  },
  debug: function () {
    try { return new URLSearchParams(window.location.search).get('debug') === '1'; }
    catch (e) { return false; }
  },
  viewSize: function () {
    var el = document.getElementById('view-3d');
    if (!el) { return null; }
    var r = el.getBoundingClientRect();
    return [Math.round(r.width), Math.round(r.height)];
  },
  portrait: function () { return window.innerWidth < 900 && window.innerHeight > window.innerWidth; },
  watchSize: function () {
    if (window.injectviz._watching) { return; }
    window.injectviz._watching = true;
    var t = null;
    var push = function () {
      var st = window.trame && window.trame.state;
      if (!st) { return; }
      st.set('portrait', window.injectviz.portrait());
      setTimeout(function () { st.set('view_size', window.injectviz.viewSize()); }, 200);
    };
    window.addEventListener('resize', function () { clearTimeout(t); t = setTimeout(push, 250); });
    setTimeout(push, 300);
  },
  printWith: function (url) {
    // the browser cannot print a WebGL canvas: print a server-rendered picture of the view instead
    var img = document.getElementById('print-view');
    if (!img || !url) { return; }
    img.onload = function () { setTimeout(function () { window.print(); }, 100); };
    img.src = url;
  },
  // "Load a scan": the file goes to the session in pieces of `chunk` bytes (each one message,
  // far below the relay's frame cap); the server checks the name and size before the first piece
  // and refuses with a message on the page (an empty id or 0 bytes received ends the upload)
  pickScan: function () { var el = document.getElementById('scan-file'); if (el) { el.click(); } },
  uploadScan: async function (file, trigger, chunk) {
    if (!file) { return; }
    var id = await trigger('scan_begin', [file.name, file.size]);
    if (!id) { return; }
    for (var off = 0; off < file.size; off += chunk) {
      var buf = await file.slice(off, off + chunk).arrayBuffer();
      var got = await trigger('scan_chunk', [id, off, new DataView(buf)]);
      if (!got) { return; }
    }
    await trigger('scan_end', [id]);
  },
  scrollRow: function (id) {
    if (!id) { return; }
    setTimeout(function () {
      var el = document.querySelector('#site-table tr[data-site="' + id + '"]');
      if (el) { el.scrollIntoView({ block: 'nearest' }); }
    }, 50);
  },
};
"""


# the browser's live camera (local mode) for picks and pictures; null in the server-rendered mode
def local_camera_expr(ref: str) -> str:
    """Client expression: the browser's live camera in the browser-rendered mode, else null."""
    return f"(view_mode === 'local' ? window.injectviz.viewCamera('{ref}') : null)"


def build_layout(server: Any, plotter: Any, view_ref: str, *, records: bool = False) -> tuple[VAppLayout, Any, Any]:
    """The page for one connection: returns ``(layout, local_view, remote_view)``.

    ``records``: with the Record tab (``visualizer.app.records_panel``; its actions bound first).

    Actions call ``server.controller`` functions (bound by the app) and the triggers
    ``plan_json``, ``plan_csv``, ``snapshot_png``, ``print_view``, ``local_click`` and
    ``view_camera`` (the browser's camera after each rotate/zoom/pan).
    ``view_ref`` is the Vue ref of the 3D view (trame-pyvista names it after the plotter).
    """
    ctrl = server.controller
    views: dict[str, Any] = {}
    server.state.trame__title = "InjectViz"
    with VAppLayout(server, full_height=True) as layout:
        client.Style(CSS)
        client.Script(JS + "\nwindow.injectviz.lightGL();\n")
        client.Script(FAULTS_JS)  # reconnect, inputs kept in the address, checked downloads
        client.ClientTriggers(
            mounted="view_mode = utils.get('injectviz.webgl()') ? view_mode : 'remote';"
            "debug = utils.get('injectviz.debug()');"
            "portrait = utils.get('injectviz.portrait()');"
            "utils.get('injectviz.watchSize()')",
        )
        client.ClientStateChange(value="selected_site", change="utils.get('injectviz.scrollRow')(selected_site)")
        _app_bar(ctrl, view_ref)
        # tablet portrait: the panel is a bottom sheet under the view (the view keeps the width)
        with v3.VNavigationDrawer(
            v_model=("drawer",),
            location=("portrait ? 'bottom' : 'right'",),
            width=("portrait ? 430 : 400",),
            mobile_breakpoint="sm",
            elevation=2,
            id="side-panel",
        ):
            _side_panel(ctrl, records)
            with v3.Template(v_slot_append=True):
                html.Div(
                    "Planning and teaching aid, not a medical device: confirm every site on the "
                    "patient by palpation and clinical judgement.",
                    title=DISCLAIMER,
                    id="disclaimer",
                    classes="text-caption pa-2 text-medium-emphasis",
                    style="border-top: 1px solid rgba(0,0,0,.12);",
                )
        with v3.VMain(classes="iv-main"):
            with html.Div(classes="iv-stage"):
                html.Div("InjectViz — {{ protocol_full_name }}", classes="iv-print-only text-h6 mb-2", id="print-title")
                html.Img(id="print-view", classes="iv-print-only", alt="the 3D view")
                with html.Div(classes="iv-stage-view"):
                    _view(ctrl, plotter, view_ref, views)
                    _overlays(ctrl)
                _legend()
    return layout, views["local"], views["remote"]


def _app_bar(ctrl: Any, view_ref: str) -> None:
    with v3.VAppBar(density="compact", color="teal-darken-3", flat=True):
        v3.VAppBarTitle("InjectViz", classes="text-h6", style="flex: 0 0 auto;")
        html.Div(
            "{{ protocol_name }}",
            classes="text-body-1 ml-3 iv-title font-weight-medium",
            id="title-protocol",
            title=("protocol_full_name",),
        )
        with v3.VBtnToggle(density="compact", variant="text", divided=True, classes="mr-2", id="camera-presets"):
            for view in ("front", "back", "left", "right", "top"):
                v3.VBtn(view.title(), size="small", click=(ctrl.camera, f"['{view}']"), id=f"cam-{view}")
            v3.VBtn(
                icon="mdi-restore", size="small", click=(ctrl.camera, "['reset']"), id="cam-reset", title="Reset camera"
            )
        with v3.VMenu():
            with v3.Template(v_slot_activator="{ props }"):
                v3.VBtn(
                    "Download",
                    v_bind="props",
                    prepend_icon="mdi-download",
                    size="small",
                    variant="tonal",
                    id="download-menu",
                )
            with v3.VList(density="compact"):
                v3.VListItem(
                    title="Picture of the view (PNG)",
                    id="download-png",
                    click=download_click(
                        "`injectviz-${protocol_id}.png`",
                        f"trigger('snapshot_png', [{local_camera_expr(view_ref)}, window.injectviz.viewSize()])",
                        "image/png",
                        "png",
                    ),
                )
                v3.VListItem(
                    title="Print the plan (A4)",
                    id="download-print",
                    click=(
                        f"trigger('print_view', [{local_camera_expr(view_ref)}]).then(utils.get('injectviz.printWith'))"
                    ),
                )
                v3.VListItem(
                    title="Plan (JSON)",
                    id="download-json",
                    click=download_click(
                        "`plan-${protocol_id}.json`", "trigger('plan_json')", "application/json", "json"
                    ),
                )
                v3.VListItem(
                    title="Plan (CSV)",
                    id="download-csv",
                    click=download_click("`plan-${protocol_id}.csv`", "trigger('plan_csv')", "text/csv", "csv"),
                )
        v3.VBtn(icon="mdi-tune-vertical", click="drawer = !drawer", title="Show/hide panel")


def _view(ctrl: Any, plotter: Any, ref: str, views: dict[str, Any]) -> None:
    # Local (vtk.js) view: clicks are picked on the server with the browser's camera, not with
    # vtk.js' hardware selector (whose readPixels takes seconds on browsers without a GPU).
    local_click = (
        "view_mode === 'local' && trigger('local_click', ["
        "$event.clientX - $event.currentTarget.getBoundingClientRect().left, "
        "$event.clientY - $event.currentTarget.getBoundingClientRect().top, "
        "$event.currentTarget.getBoundingClientRect().width, "
        "$event.currentTarget.getBoundingClientRect().height, "
        f"{local_camera_expr(ref)}, pick_down, pick_up])"
    )
    with html.Div(
        classes="iv-view",
        id="view-3d",
        raw_attrs=[
            '@pointerdown.capture="pick_down = [$event.clientX, $event.clientY]"',
            '@pointerup.capture="pick_up = [$event.clientX, $event.clientY]"',
            f'@click.capture="{local_click}"',
        ],
    ):
        with html.Div(v_if="view_mode === 'local'", style="width: 100%; height: 100%;"):
            # after every rotate/zoom/pan the server takes the browser's camera (presets, pictures
            # and scene updates then start from what the user sees)
            cam = f"window.injectviz.viewCamera('{ref}')"
            views["local"] = PyVistaLocalView(
                plotter,
                interactor_events=("['EndAnimation']",),
                before_scene_loaded="window.injectviz.tuneView()",
                EndAnimation=f"trigger('view_camera', [{cam}, ({cam} || {{}}).width, ({cam} || {{}}).height])",
            )
        # the server-rendered view is mounted once the server has its OpenGL window (server_gl,
        # made when this mode is chosen; visualizer.app.lazy_gl): never on a window that cannot draw
        with (
            html.Div(v_else=True, style="width: 100%; height: 100%;"),
            html.Div(v_if="server_gl", style="width: 100%; height: 100%;"),
        ):
            views["remote"] = PyVistaRemoteView(
                plotter,
                picking_modes=("['click']",),
                click=(ctrl.view_click, "[$event, pick_down, pick_up]"),
                interactive_ratio=0.6,
                still_ratio=1,
                interactive_quality=60,
                still_quality=90,
            )


def _overlays(ctrl: Any) -> None:
    # messages and safety findings on top of the view: never hidden by the panel; a safety
    # finding cannot be dismissed (it goes when the plan no longer has it)
    with html.Div(classes="iv-overlay iv-top"):
        v3.VAlert(
            v_if="message",
            text=("message",),
            type=("message_type === 'error' ? 'error' : 'info'",),
            closable=True,
            density="compact",
            classes="mb-2",
            id="message",
            click_close="message = ''",
        )
        with v3.VAlert(
            v_if="tab === 'plan' && safety_findings.length",
            type=("safety_findings.some(f => f.severity === 'error') ? 'error' : 'warning'",),
            density="compact",
            variant="elevated",
            icon="mdi-alert",
            classes="mb-1",
            id="view-warnings",
            title=("`Safety warning${safety_findings.length > 1 ? 's' : ''} (${safety_findings.length})`",),
        ):
            with html.Ul(classes="pl-4 text-body-2"):
                with html.Li(v_for="(f, i) in safety_findings", key="i", raw_attrs=[':data-code="f.code"']):
                    html.Span("{{ f.message }}")
                    v3.VBtn(
                        "show site {{ n }}",
                        v_for="(n, j) in f.sites",
                        key="j",
                        size="x-small",
                        variant="outlined",
                        classes="ml-1 iv-no-print",
                        click=(ctrl.focus_site, "[f.site_ids[j]]"),
                    )


def _legend() -> None:
    with html.Div(classes="iv-legend", v_if="tab === 'patient'", id="patient-legend"):
        with html.Span():
            html.Span(classes="iv-dot", style="background: #ffcd00; border: 2px solid #8a6d00;")
            html.Span("the injection described now")
        with html.Span():
            html.Span(classes="iv-dot", style="background: #8a8a8a;")
            html.Span("the other injections (colour = muscle)")
        with html.Span(v_if="totals.ftp_sites"):
            html.Span(classes="iv-ring")
            html.Span("{{ totals.ftp_sites }} extra injections where your headaches usually are")
        with html.Span(v_if="pain_chips.length || pain_point"):
            html.Span(classes="iv-dot", style="background: rgba(214,38,24,.75);")
            html.Span("red glow: where your headaches usually are")
    # only the plan's muscles (the same ones tinted on the skin), under the view
    with html.Div(classes="iv-legend", v_if="tab !== 'patient'", id="legend"):
        with html.Span(v_for="(col, m) in muscle_colors", key="m", classes="iv-legend-item"):
            html.Span(classes="iv-dot", style=("{ background: col }",))
            html.Span("{{ m.replace('_', ' ') }}")
        with html.Span(v_if="totals.ftp_sites"):
            html.Span(classes="iv-ring")
            html.Span("follow-the-pain site")
        with html.Span(v_if="tab === 'plan' && flagged_sites.length"):
            html.Span(classes="iv-ring", style="border-color: #dc1414;")
            html.Span("named in a safety warning")
        html.Div(
            "Drag to rotate, scroll to zoom. Click the skin to set the pain origin, a marker to find its row.",
            v_if="tab === 'plan' && click_action === 'pain'",
            classes="text-caption text-medium-emphasis iv-hint iv-no-print",
        )
        html.Div(
            "Drag to rotate, scroll to zoom. Click a marker to find its row.",
            v_if="tab === 'plan' && click_action === 'select'",
            classes="text-caption text-medium-emphasis iv-hint iv-no-print",
        )
        html.Div(
            "Click the skin where the {{ landmark_title }} is on this patient.",
            v_if="tab === 'plan' && click_action === 'landmark'",
            classes="text-caption text-medium-emphasis iv-hint iv-no-print",
        )
        html.Div(
            "Click the head where you would inject.",
            v_if="tab === 'trainer'",
            classes="text-caption text-medium-emphasis iv-hint",
        )


def _side_panel(ctrl: Any, records: bool = False) -> None:
    with v3.VTabs(v_model=("tab",), grow=True, density="compact", color="teal-darken-3", id="tabs"):
        v3.VTab("Plan", value="plan", id="tab-plan", v_if="tabs_shown.includes('plan')")
        v3.VTab("Patient", value="patient", id="tab-patient", v_if="tabs_shown.includes('patient')")
        v3.VTab("Trainer", value="trainer", id="tab-trainer", v_if="tabs_shown.includes('trainer')")
        v3.VTab("Record", value="record", id="tab-record", v_if="rec_on && tabs_shown.includes('record')")
    v3.VDivider()
    with v3.VWindow(v_model=("tab",)):
        with v3.VWindowItem(value="plan"):
            _plan_tab(ctrl)
        with v3.VWindowItem(value="patient"):
            _patient_tab(ctrl)
        with v3.VWindowItem(value="trainer"):
            _trainer_tab(ctrl)
        if records:  # the patient's record (visualizer.app.records_panel)
            with v3.VWindowItem(value="record"):
                records_panel.build_tab()


def _plan_tab(ctrl: Any) -> None:
    with html.Div(classes="pa-3"):
        with html.Div(id="protocol-select", classes="mb-3"):
            v3.VSelect(
                label="Protocol",
                v_model=("protocol_id",),
                items=("protocol_items",),
                density="compact",
                hide_details=True,
            )
        # totals (always derived from the same plan the view draws)
        with v3.VCard(variant="tonal", color="teal-darken-3", classes="mb-3 pa-2", id="totals"):
            with html.Div(classes="d-flex justify-space-around text-center iv-num"):
                with html.Div():
                    html.Div("{{ totals.sites }}", classes="text-h6", id="total-sites")
                    html.Div("sites", classes="text-caption")
                with html.Div():
                    html.Div("{{ totals.units }}", classes="text-h6", id="total-units")
                    html.Div("units", classes="text-caption")
                with html.Div():
                    html.Div("{{ totals.ml }}", classes="text-h6", id="total-ml")
                    html.Div("mL", classes="text-caption")
                with html.Div():
                    html.Div("{{ totals.ftp_sites }}", classes="text-h6", id="total-ftp")
                    html.Div("follow-the-pain", classes="text-caption")
        _dose_panel()
        # safety findings: prominent in the panel too (not dismissable); information: a quiet note
        with html.Div(v_if="safety_findings.length", id="panel-warnings", classes="mb-3"):
            v3.VAlert(
                v_for="(f, i) in safety_findings",
                key="i",
                text=("f.message",),
                type=("f.severity === 'error' ? 'error' : 'warning'",),
                density="compact",
                classes="mb-1 text-body-2",
                icon="mdi-alert",
                raw_attrs=[':data-code="f.code"'],
            )
        with html.Div(v_if="info_findings.length", id="panel-notes", classes="mb-3"):
            with html.Div(
                v_for="(f, i) in info_findings",
                key="i",
                raw_attrs=[':data-code="f.code"'],
                classes="text-caption text-medium-emphasis d-flex",
            ):
                v3.VIcon("mdi-information-outline", size="small", classes="mr-1")
                html.Span("{{ f.message }}")

        html.Div("Pain origin", classes="text-subtitle-2 mb-1 iv-no-print")
        html.Div(
            "{{ protocol_name }} has no follow-the-pain sites, so a pain origin adds none: the pain "
            "controls are hidden. Choose \u201cPREEMPT with follow-the-pain\u201d to add sites where "
            "the pain starts.",
            v_if="!has_ftp",
            id="pain-unavailable",
            classes="text-body-2 text-medium-emphasis mb-2 iv-no-print",
        )
        with html.Div(v_if="has_ftp", id="pain-regions", classes="mb-1 iv-no-print"):
            # one row per region, each with its own side: "left temple and right shoulder"
            with html.Div(
                v_for="r in pain_regions_all",
                key="r",
                classes="d-flex align-center mb-1",
                raw_attrs=[':id="`pain-row-${r}`"'],
            ):
                v3.VChip(
                    "{{ r }}",
                    size="small",
                    id=("`chip-${r}`",),
                    style="min-width: 104px;",
                    variant=("utils.get('injectviz.side')(pain_chips, r) ? 'flat' : 'outlined'",),
                    color=("utils.get('injectviz.side')(pain_chips, r) ? 'deep-orange-darken-1' : undefined",),
                    prepend_icon=("utils.get('injectviz.side')(pain_chips, r) ? 'mdi-check' : 'mdi-plus'",),
                    raw_attrs=[":aria-pressed=\"!!utils.get('injectviz.side')(pain_chips, r)\""],
                    click=(
                        "pain_chips = utils.get('injectviz.setSide')(pain_chips, r, "
                        "utils.get('injectviz.side')(pain_chips, r) ? null : 'both', pain_regions_all)"
                    ),
                )
                with v3.VBtnToggle(
                    v_if="utils.get('injectviz.side')(pain_chips, r)",
                    model_value=("utils.get('injectviz.side')(pain_chips, r)",),
                    mandatory=True,
                    density="compact",
                    variant="outlined",
                    divided=True,
                    classes="ml-2",
                    style="height: 26px;",
                    update_modelValue=(
                        "pain_chips = utils.get('injectviz.setSide')(pain_chips, r, $event, pain_regions_all)"
                    ),
                    raw_attrs=[':id="`side-${r}`"'],
                ):
                    for side, label in (("left", "Left"), ("both", "Both"), ("right", "Right")):
                        v3.VBtn(label, value=side, size="x-small", id=(f"`side-${{r}}-{side}`",))
        with html.Div(classes="d-flex align-center text-body-2 mb-1", v_if="has_ftp"):
            html.Span("Origin: ", classes="mr-1 text-medium-emphasis")
            html.Span("{{ pain_summary }}", id="pain-summary")
            v3.VSpacer()
            v3.VBtn(
                "Clear",
                size="x-small",
                variant="text",
                click=ctrl.clear_pain,
                id="pain-clear",
                v_if="pain_chips.length || pain_point",
                classes="iv-no-print",
            )
        html.Div(
            "Pain point: {{ pain_point ? pain_point_words : 'none (click the head to set one)' }}",
            classes="text-caption text-medium-emphasis",
            id="pain-point",
            v_if="has_ftp",
        )
        html.Div("A click on the head sets", classes="text-subtitle-2 mt-2 mb-1 iv-no-print")
        with v3.VBtnToggle(
            v_model=("click_action",),
            mandatory=True,
            density="compact",
            variant="outlined",
            divided=True,
            classes="mb-2 iv-no-print",
            id="click-action",
        ):
            v3.VBtn(
                "Pain origin",
                value="pain",
                size="small",
                id="click-pain",
                disabled=("!has_ftp",),
                title=("has_ftp ? '' : 'this protocol has no follow-the-pain sites'",),
            )
            v3.VBtn("Select site", value="select", size="small", id="click-select")
            v3.VBtn("Landmark", value="landmark", size="small", id="click-landmark")
        with html.Div(v_if="click_action === 'landmark' || moved_landmarks.length", classes="mb-2", id="landmark-mode"):
            with html.Div(v_if="click_action === 'landmark'", id="landmark-select"):
                v3.VSelect(
                    label="Landmark to place",
                    v_model=("landmark_name",),
                    items=("landmark_items",),
                    density="compact",
                    hide_details=True,
                    classes="mb-1",
                )
            with html.Div(v_if="moved_landmarks.length", classes="d-flex align-center text-body-2"):
                html.Span("Moved for this patient: {{ moved_landmarks_words.join(', ') }}", id="moved-landmarks")
                v3.VSpacer()
                v3.VBtn("Reset", size="x-small", variant="text", click=ctrl.reset_landmarks, id="landmarks-reset")
        _switch("follow_the_pain", "Follow the pain (extra sites)", "switch-ftp", v_if="has_ftp", classes="iv-no-print")
        with html.Div(classes="d-flex flex-wrap iv-no-print"):
            _switch("show_muscles", "Muscle areas", "switch-muscles", classes="mr-4")
            _switch("show_labels", "Labels", "switch-labels", classes="mr-4")
            _switch("show_landmarks", "Landmarks", "switch-landmarks")
        _scan_panel(ctrl)
        _body_sliders()
        with v3.VBtnToggle(
            v_model=("view_mode",),
            mandatory=True,
            density="compact",
            variant="outlined",
            divided=True,
            classes="mb-3 iv-no-print",
            id="view-mode",
        ):
            v3.VBtn("3D in browser", value="local", size="small", id="mode-local")
            v3.VBtn("3D on server", value="remote", size="small", id="mode-remote")

        html.Div("Per muscle", classes="text-subtitle-2 mt-2")
        with v3.VTable(density="compact", classes="iv-table mb-3", id="per-muscle"):
            with html.Thead():
                with html.Tr():
                    for h in ("Muscle", "Sites", "Units", "mL"):
                        html.Th(h)
            with html.Tbody():
                with html.Tr(v_for="m in totals.per_muscle", key="m.muscle_key"):
                    with html.Td():
                        html.Span(classes="iv-dot", style=("{ background: muscle_colors[m.muscle_key] }",))
                        html.Span("{{ m.muscle }}")
                    html.Td("{{ m.sites }}", classes="iv-num")
                    html.Td("{{ m.units }}", classes="iv-num")
                    html.Td("{{ m.ml }}", classes="iv-num")

        html.Div("Sites (in injection order) \u2014 click a row to turn the view to it", classes="text-subtitle-2")
        with v3.VTable(density="compact", classes="iv-table", id="site-table", fixed_header=True, height=360):
            with html.Thead():
                with html.Tr():
                    for h in ("#", "Location (muscle)", "U", "mL", ""):
                        html.Th(h)
            with html.Tbody():
                with html.Tr(
                    v_for="row in site_rows",
                    key="row.id",
                    click=(ctrl.focus_site, "[row.id]"),
                    classes=("{ 'iv-selected': row.id === selected_site, 'iv-flagged': row.flagged }",),
                    id=("`row-${row.id}`",),
                    raw_attrs=[':data-site="row.id"', ':data-flagged="row.flagged ? 1 : 0"'],
                ):
                    html.Td("{{ row.order }}", classes="iv-num")
                    with html.Td(classes="iv-where"):
                        html.Div("{{ row.where }}", classes="iv-where-text")
                        with html.Div(classes="text-caption text-medium-emphasis iv-muscle"):
                            html.Span(classes="iv-dot", style=("{ background: muscle_colors[row.muscle_key] }",))
                            html.Span("{{ row.muscle }}")
                    html.Td("{{ row.units }}", classes="iv-num")
                    html.Td("{{ row.ml }}", classes="iv-num")
                    with html.Td():
                        v3.VIcon(
                            "mdi-alert",
                            v_if="row.flagged",
                            color="red-darken-3",
                            size="small",
                            title="named in a safety warning",
                        )
                        v3.VChip(
                            "FTP",
                            v_if="row.ftp",
                            size="x-small",
                            color="deep-orange-darken-1",
                            title="follow-the-pain site",
                        )
        html.Div(
            "Server update: {{ update_ms }} ms", v_if="debug", classes="text-caption text-disabled mt-2", id="update-ms"
        )


def _dose_panel() -> None:
    """The doses the injector chooses, one field per site with a range (``dose_rows``; issue 11).

    Only bindings: the page sends ``{site id: units}`` (``set_units``) when a field is left or
    Enter is pressed; the server checks it against the protocol, and a refusal comes back as
    ``dose_errors`` (shown under the field) with the plan's own dose in the field again.
    """
    with html.Div(v_if="dose_rows.length", id="dose-panel", classes="mb-3"):
        with html.Div(classes="d-flex align-center"):
            html.Div("Dose per site (within its range)", classes="text-subtitle-2")
            v3.VSpacer()
            v3.VBtn(
                "Back to template",
                size="x-small",
                variant="text",
                click="trigger('reset_units')",
                v_if="dose_rows.some((r) => r.changed)",
                id="dose-reset",
                classes="iv-no-print",
                title="every site back to the protocol's starting dose",
            )
        with html.Div(
            v_for="row in dose_rows",
            key="row.id",
            classes="iv-dose-row",
            raw_attrs=[':id="`dose-row-${row.id}`"', ':data-changed="row.changed ? 1 : 0"'],
        ):
            with html.Div(classes="d-flex align-center"):
                with html.Div(classes="iv-dose-label"):
                    html.Span(classes="iv-dot", style=("{ background: muscle_colors[row.muscle_key] }",))
                    html.Span("{{ row.label }}")
                    html.Div(
                        "range {{ row.range }}{{ row.changed ? ` \u00b7 template ${row.template} U` : '' }}",
                        classes="text-caption text-medium-emphasis iv-dose-range",
                        raw_attrs=[':id="`dose-range-${row.id}`"'],
                    )
                v3.VTextField(
                    model_value=("row.units",),
                    type="number",
                    suffix="U",
                    density="compact",
                    variant="outlined",
                    hide_details=True,
                    error=("!!dose_errors[row.id]",),
                    classes="iv-dose-field iv-num",
                    raw_attrs=[
                        ':key="`${row.id}:${dose_version}`"',
                        ':min="row.min"',
                        ':max="row.max"',
                        ':step="row.step"',
                        ':id="`dose-${row.id}`"',
                        ':aria-label="`Units at ${row.label} (${row.range})`"',
                        "@change=\"trigger('set_units', [{ [row.id]: Number($event.target.value) }])\"",
                        '@keydown.enter="$event.target.blur()"',
                    ],
                )
            html.Div(
                "{{ dose_errors[row.id] }}",
                v_if="dose_errors[row.id]",
                classes="text-caption text-error iv-dose-error",
                raw_attrs=[':id="`dose-error-${row.id}`"', 'role="alert"'],
            )


def _scan_panel(ctrl: Any) -> None:
    """ "Load a scan" (issue 10): upload, progress through the steps, review of the landmarks, use or cancel."""
    with html.Div(id="scan-panel", classes="mb-2 iv-no-print"):
        html.Div("Head: the patient's own scan", classes="text-subtitle-2 mt-2")
        html.Input(
            type="file",
            id="scan-file",
            accept=("scan_accept",),
            style="display: none;",
            change="utils.get('injectviz.uploadScan')($event.target.files[0], trigger, scan_chunk_bytes);"
            "$event.target.value = ''",
        )
        with html.Div(v_if="!scan_phase", classes="d-flex align-center"):
            v3.VBtn(
                "Load a scan",
                prepend_icon="mdi-upload",
                size="small",
                variant="tonal",
                color="teal-darken-3",
                click="utils.get('injectviz.pickScan')()",
                id="scan-load",
            )
            html.Span(
                "STL, OBJ, PLY, VTP, GLB or glTF; up to {{ Math.round(scan_max_bytes / 1048576) }} MB",
                classes="text-caption text-medium-emphasis ml-2",
            )
        with html.Div(v_if="scan_phase === 'busy'", id="scan-progress"):
            html.Div("{{ scan_name }}: {{ scan_step_words }}", classes="text-body-2", id="scan-step")
            v3.VProgressLinear(
                model_value=("scan_percent",), height=8, color="teal-darken-3", rounded=True, id="scan-bar"
            )
            v3.VBtn("Cancel", size="x-small", variant="text", click=ctrl.scan_cancel, id="scan-cancel-busy")
        with html.Div(v_if="scan_phase === 'review' && scan_review", id="scan-review"):
            html.Div(
                "Review the landmarks found on {{ scan_review.file }} ({{ scan_review.triangles.toLocaleString() }} "
                "triangles, {{ scan_review.units }}). To move one, choose it under \u201cLandmark to place\u201d "
                "and click the skin where it is.",
                classes="text-body-2 mb-1",
            )
            v3.VAlert(
                v_if="scan_review.poor.length",
                text=("`Poor fit, check: ${scan_review.poor.join(', ')}`",),
                type="warning",
                density="compact",
                classes="mb-1 text-body-2",
                id="scan-poor",
            )
            v3.VAlert(
                v_if="scan_review.missing.length",
                text=("`Not on the scan (sites that need them are left out): ${scan_review.missing.join(', ')}`",),
                type="info",
                density="compact",
                classes="mb-1 text-body-2",
                id="scan-missing",
            )
            with v3.VTable(
                density="compact", classes="iv-table mb-1", id="scan-landmarks", height=220, fixed_header=True
            ):
                with html.Thead():
                    with html.Tr():
                        for h in ("Landmark", "Fit (mm)", ""):
                            html.Th(h)
                with html.Tbody():
                    with html.Tr(
                        v_for="r in scan_review.rows",
                        key="r.name",
                        raw_attrs=[':data-landmark="r.name"', ':data-state="r.state"'],
                        click="click_action = 'landmark'; landmark_name = r.name",
                    ):
                        html.Td("{{ r.words }}")
                        html.Td("{{ r.state === 'missing' ? '\u2014' : r.residual }}", classes="iv-num")
                        with html.Td(classes="text-caption"):
                            v3.VIcon("mdi-alert", v_if="r.state === 'poor'", color="orange-darken-3", size="small")
                            html.Span("{{ r.note }}")
            with html.Div(classes="d-flex"):
                v3.VBtn(
                    "Use these landmarks",
                    color="teal-darken-3",
                    size="small",
                    click=ctrl.scan_use,
                    id="scan-use",
                    classes="mr-2",
                )
                v3.VBtn("Cancel", size="small", variant="text", click=ctrl.scan_cancel, id="scan-cancel")
        with html.Div(v_if="scan_phase === 'used'", classes="d-flex align-center text-body-2", id="scan-used"):
            html.Span("Planned on the scan {{ scan_name }}")
            v3.VSpacer()
            v3.VBtn("Back to the default head", size="x-small", variant="text", click=ctrl.scan_cancel, id="scan-back")


def _switch(key: str, label: str, id: str, **props: Any) -> None:
    """A compact on/off switch bound to the state ``key`` (the app's look: teal, no hint line)."""
    v3.VSwitch(v_model=(key,), label=label, id=id, density="compact", hide_details=True, color="teal-darken-3", **props)


def _body_sliders() -> None:
    """Body type of the bundled head (issue 10): the head and the plan follow the sliders."""
    from visualizer.app.body import BODY_SLIDERS

    with html.Div(id="body-type", classes="mb-2 iv-no-print"):
        html.Div("Head: body type", classes="text-subtitle-2 mt-2")
        html.Div(
            "The head reshapes while a slider moves; the sites are placed again when it stops.",
            classes="text-caption text-medium-emphasis mb-1",
        )
        for key, label, lo, hi, step, low_words, high_words in BODY_SLIDERS:
            with html.Div(classes="d-flex align-center"):
                html.Span(label, classes="text-body-2", style="min-width: 84px;")
                html.Span(low_words, classes="text-caption text-medium-emphasis mr-1")
                v3.VSlider(
                    v_model=(key,),
                    min=lo,
                    max=hi,
                    step=step,
                    density="compact",
                    hide_details=True,
                    thumb_label=True,
                    color="teal-darken-3",
                    id=f"slider-{key}",
                    disabled=("!!scan_phase",),  # a scan has its own shape
                    aria_label=f"{label} of the head",
                )
                html.Span(high_words, classes="text-caption text-medium-emphasis ml-1")


def _patient_tab(ctrl: Any) -> None:
    with html.Div(classes="pa-4", id="patient-panel"):
        html.Div("Your treatment", classes="iv-patient-mid mb-2")
        html.P(
            "{{ totals.sites }} small injections with a very fine needle.",
            classes="iv-patient-text mb-1",
        )
        html.P(
            "{{ patient_info.duration }}.",
            classes="iv-patient-text",
            id="patient-duration",
            title=("patient_info.duration_note",),
        )
        with v3.VCard(variant="tonal", color="teal-darken-3", classes="pa-4 my-4"):
            html.Div("{{ patient.step }}", classes="iv-patient-big", id="patient-step")
            html.Div("{{ patient.where }}", classes="iv-patient-mid mt-1", id="patient-where")
            html.Div("{{ patient.dose }}", classes="iv-patient-mid", id="patient-dose")
        with html.Div(classes="d-flex justify-center ga-2 mb-4"):
            v3.VBtn(
                icon="mdi-skip-previous", size="large", click=ctrl.patient_prev, id="patient-prev", title="Previous"
            )
            v3.VBtn(
                icon="mdi-play",
                size="large",
                color="teal-darken-3",
                click=ctrl.patient_play,
                v_if="!patient_playing",
                id="patient-play",
                title="Play",
            )
            v3.VBtn(
                icon="mdi-pause",
                size="large",
                color="teal-darken-3",
                click=ctrl.patient_pause,
                v_else=True,
                id="patient-pause",
                title="Pause",
            )
            v3.VBtn(icon="mdi-skip-next", size="large", click=ctrl.patient_next, id="patient-next", title="Next")
            v3.VBtn(
                icon="mdi-restart",
                size="large",
                variant="text",
                click=ctrl.patient_restart,
                id="patient-restart",
                title="Start again",
            )
        # the boxed warning: always on the page (never behind a hover or a click)
        with v3.VAlert(
            type="error",
            variant="tonal",
            icon="mdi-alert-octagon",
            classes="mb-4",
            id="patient-urgent",
            title="Warning signs that need urgent care",
        ):
            with html.Ul(classes="iv-patient-text pl-4"):
                html.Li("{{ u }}", v_for="(u, i) in patient_info.urgent", key="i")
        with html.Div(id="aftercare"):
            html.Div("Afterwards", classes="iv-patient-mid mb-1")
            html.Div("What is normal", classes="text-subtitle-1 font-weight-bold")
            with html.Ul(classes="iv-patient-text pl-5 mb-2", id="aftercare-normal"):
                html.Li("{{ a }}", v_for="(a, i) in patient_info.normal", key="i", classes="mb-1")
            html.Div("When it starts to work", classes="text-subtitle-1 font-weight-bold")
            html.P("{{ patient_info.starts_to_work }}", classes="iv-patient-text mb-2", id="aftercare-onset")
            html.Div("When to come back", classes="text-subtitle-1 font-weight-bold")
            html.P("{{ patient_info.come_back }}", classes="iv-patient-text mb-2", id="aftercare-come-back")
        with html.Details(classes="text-caption text-medium-emphasis", id="patient-sources"):
            html.Summary("Where this information comes from")
            html.P("Time: {{ patient_info.duration_note }}", classes="mt-1 mb-1")
            with html.Ul(classes="pl-4"):
                with html.Li(v_for="(src, i) in patient_info.sources", key="i"):
                    html.A("{{ src.citation }}", href=("src.url",), target="_blank", rel="noopener noreferrer")


def _trainer_tab(ctrl: Any) -> None:
    with html.Div(classes="pa-3", id="trainer-panel"):
        with html.Div(classes="d-flex ga-2 mb-3"):
            v3.VBtn(
                "Start quiz", color="teal-darken-3", click=ctrl.quiz_start, id="quiz-start", prepend_icon="mdi-school"
            )
            v3.VBtn("Stop", variant="text", click=ctrl.quiz_stop, v_if="quiz", id="quiz-stop")
        html.Div(
            "The quiz covers every site of {{ protocol_name }}, in a new order each round, "
            "numbered as in the plan. Click where you would inject; the error is measured over "
            "the skin.",
            v_if="!quiz",
            classes="text-body-2 mb-3",
        )
        with html.Div(v_if="quiz && !quiz.finished"):
            html.Div("Site {{ quiz.index }} of {{ quiz.total }}", classes="text-caption", id="quiz-progress")
            html.Div("Find {{ quiz.prompt }}", classes="iv-quiz-prompt mb-2", id="quiz-prompt")
            with v3.VAlert(
                v_if="quiz_result",
                type=("quiz_result.within ? 'success' : 'warning'",),
                density="compact",
                classes="mb-2",
                id="quiz-result",
            ):
                html.Div(
                    "Error {{ quiz_result.error_mm }} mm {{ quiz_result.measured }} \u2014 score "
                    "{{ quiz_result.score }}",
                    classes="iv-num",
                )
                html.Div(
                    "No path over the skin joins the two points: this is the straight line through the body.",
                    v_if="quiz_result.measured !== 'over the skin'",
                    classes="text-caption",
                )
                html.Div("Green ring: the true site. Pink dot: your click.", classes="text-caption")
            v3.VBtn(
                "Next",
                v_if="quiz.awaiting_next",
                click=ctrl.quiz_next,
                color="teal-darken-3",
                id="quiz-next",
                append_icon="mdi-arrow-right",
            )
            html.Div(
                "Score so far: {{ quiz.score }} ({{ quiz.answered }} answered)",
                classes="text-body-2 mt-2 iv-num",
                id="quiz-score",
            )
        with v3.VCard(v_if="quiz_summary", variant="tonal", classes="pa-3 mb-3", id="quiz-summary"):
            html.Div("Round complete", classes="text-h6")
            html.Div(
                "Score {{ quiz_summary.score }} \u2014 {{ quiz_summary.within }} of "
                "{{ quiz_summary.answered }} sites within {{ quiz_summary.within_mm }} mm; "
                "mean error {{ quiz_summary.mean_mm }} mm",
                classes="text-body-2 mb-2 iv-num",
            )
            with v3.VTable(density="compact", classes="iv-table"):
                with html.Thead():
                    with html.Tr():
                        for h in ("Muscle", "Sites", "Mean mm", "Worst mm"):
                            html.Th(h)
                with html.Tbody():
                    with html.Tr(v_for="r in quiz_summary.rows", key="r.muscle"):
                        html.Td("{{ r.muscle }}")
                        html.Td("{{ r.n }}", classes="iv-num")
                        html.Td("{{ r.mean_mm }}", classes="iv-num")
                        html.Td("{{ r.worst_mm }}", classes="iv-num")
        v3.VDivider(classes="my-2")
        html.Div("Teaching aids", classes="text-subtitle-2")
        _switch("show_answers", "Show the answers (all sites)", "switch-answers")
        _switch("show_landmarks", "Landmarks", "trainer-switch-landmarks")
        _switch("show_muscles", "Muscle areas", "trainer-switch-muscles")
