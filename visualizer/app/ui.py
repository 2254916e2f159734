"""Page layout (trame + Vuetify 3): the 3D view fills the page, a side panel holds the controls.

Plan (injectors), Patient (a calm step-through) and Trainer (quiz) tabs.  Only bindings live here:
every value shown is a state key filled by ``core.InjectVizApp`` from the session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trame.ui.vuetify3 import VAppLayout
from trame.widgets import client, html
from trame.widgets import vuetify3 as v3
from trame_pyvista import PyVistaLocalView, PyVistaRemoteView

from visualizer.app import records_panel
from visualizer.app.faults import JS as FAULTS_JS
from visualizer.app.faults import download_click
from visualizer.plan import DISCLAIMER

if TYPE_CHECKING:  # pragma: no cover
    from visualizer.app.core import InjectVizApp

CSS = """
html, body { overflow: hidden !important; }
.iv-main { height: 100vh; }
.iv-view { position: absolute; inset: 0; }
.iv-view > div { width: 100%; height: 100%; }
.iv-overlay { position: absolute; z-index: 5; pointer-events: none; }
.iv-overlay > * { pointer-events: auto; }
.iv-legend { left: 12px; bottom: 12px; background: rgba(255,255,255,.86); border-radius: 8px;
             padding: 6px 10px; font-size: 13px; line-height: 1.5; max-width: 230px; }
.iv-dot { display: inline-block; width: 11px; height: 11px; border-radius: 50%;
          margin-right: 6px; vertical-align: -1px; border: 1px solid rgba(0,0,0,.25); }
.iv-ring { display: inline-block; width: 12px; height: 12px; border-radius: 50%;
           border: 2.5px solid #141418; margin-right: 6px; vertical-align: -2px; }
.iv-top { left: 12px; right: 12px; top: 10px; }
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
  viewSize: function () {
    var el = document.getElementById('view-3d');
    if (!el) { return null; }
    var r = el.getBoundingClientRect();
    return [r.width, r.height];
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
    return f"(view_mode === 'local' ? window.injectviz.viewCamera('{ref}') : null)"


def build_layout(app: InjectVizApp) -> VAppLayout:
    server = app.server
    server.trigger("plan_json")(app.plan_json)
    server.trigger("plan_csv")(app.plan_csv)
    server.trigger("snapshot_png")(app.snapshot_png)
    server.trigger("local_click")(app.on_local_click)
    server.trigger("view_camera")(app.on_view_camera)
    if app.records is not None:
        records_panel.register(app)

    server.state.trame__title = "InjectViz"
    with VAppLayout(server, full_height=True) as layout:
        client.Style(CSS)
        client.Script(JS)
        client.Script(FAULTS_JS)  # reconnect, inputs kept in the address, checked downloads
        client.ClientTriggers(
            mounted="view_mode = utils.get('injectviz.webgl()') ? view_mode : 'remote'",
        )
        client.ClientStateChange(value="selected_site",
                                 change="utils.get('injectviz.scrollRow')(selected_site)")
        _app_bar(app)
        with v3.VNavigationDrawer(v_model=("drawer", True), location="right", width=400,
                                  mobile_breakpoint="sm", elevation=2, id="side-panel"):
            _side_panel(app)
            with v3.Template(v_slot_append=True):
                html.Div(
                    "Planning and teaching aid, not a medical device: confirm every site on the "
                    "patient by palpation and clinical judgement.",
                    title=DISCLAIMER, id="disclaimer",
                    classes="text-caption pa-2 text-medium-emphasis",
                    style="border-top: 1px solid rgba(0,0,0,.12);",
                )
        with v3.VMain(classes="iv-main"):
            with html.Div(style="position: relative; width: 100%; height: 100%;"):
                _view(app)
                _overlays(app)
    return layout


def _app_bar(app: InjectVizApp) -> None:
    with v3.VAppBar(density="compact", color="teal-darken-3", flat=True):
        v3.VAppBarTitle("InjectViz", classes="text-h6", style="flex: 0 0 auto;")
        html.Div("{{ protocol_name }}", classes="text-body-2 ml-4 d-none d-md-block",
                 id="title-protocol")
        v3.VSpacer()
        with v3.VBtnToggle(density="compact", variant="text", divided=True, classes="mr-2",
                           id="camera-presets"):
            for view in ("front", "back", "left", "right", "top"):
                v3.VBtn(view.title(), size="small", click=(app.camera, f"['{view}']"),
                        id=f"cam-{view}")
            v3.VBtn(icon="mdi-restore", size="small", click=(app.camera, "['reset']"),
                    id="cam-reset", title="Reset camera")
        with v3.VMenu():
            with v3.Template(v_slot_activator="{ props }"):
                v3.VBtn("Download", v_bind="props", prepend_icon="mdi-download", size="small",
                        variant="tonal", id="download-menu")
            with v3.VList(density="compact"):
                v3.VListItem(
                    title="Picture of the view (PNG)", id="download-png",
                    click=download_click(
                        "`injectviz-${protocol_id}.png`",
                        f"trigger('snapshot_png', [{local_camera_expr(app.view_ref)}, "
                        "window.injectviz.viewSize()])",
                        "image/png", "png"),
                )
                v3.VListItem(
                    title="Plan (JSON)", id="download-json",
                    click=download_click("`plan-${protocol_id}.json`", "trigger('plan_json')",
                                         "application/json", "json"),
                )
                v3.VListItem(
                    title="Plan (CSV)", id="download-csv",
                    click=download_click("`plan-${protocol_id}.csv`", "trigger('plan_csv')", "text/csv", "csv"),
                )
        v3.VBtn(icon="mdi-tune-vertical", click="drawer = !drawer", title="Show/hide panel")


def _view(app: InjectVizApp) -> None:
    ref = app.view_ref
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
            app.local_view = PyVistaLocalView(
                app.plotter, interactor_events=("['EndAnimation']",),
                EndAnimation=f"trigger('view_camera', [{cam}, ({cam} || {{}}).width, ({cam} || {{}}).height])",
            )
        with html.Div(v_else=True, style="width: 100%; height: 100%;"):
            app.remote_view = PyVistaRemoteView(
                app.plotter,
                picking_modes=("['click']",),
                click=(app.on_click, "[$event, pick_down, pick_up]"),
                interactive_ratio=0.6,
                still_ratio=1,
                interactive_quality=60,
                still_quality=90,
            )


def _overlays(app: InjectVizApp) -> None:
    # messages and safety warnings on top of the view: never hidden by the panel
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
        with v3.VAlert(v_if="tab === 'plan' && warnings.length", type="warning", density="compact",
                       variant="elevated", icon="mdi-alert", classes="mb-1", id="view-warnings",
                       title=("`Safety warning${warnings.length > 1 ? 's' : ''} (${warnings.length})`",)):
            with html.Ul(classes="pl-4 text-body-2"):
                html.Li("{{ w }}", v_for="(w, i) in warnings", key="i")
        with html.Div(v_if="tab === 'plan' && plan_errors.length"):
            v3.VAlert(v_for="(w, i) in plan_errors", key="i", text=("w",), type="error",
                      density="compact", variant="elevated", classes="mb-1")
    with html.Div(classes="iv-overlay iv-legend", v_if="tab === 'patient'", id="patient-legend"):
        with html.Div():
            html.Span(classes="iv-dot", style="background: #ffcd00; border: 2px solid #8a6d00;")
            html.Span("the injection described now")
        with html.Div():
            html.Span(classes="iv-dot", style="background: #8a8a8a;")
            html.Span("the other injections (colour = muscle)")
        with html.Div(v_if="totals.ftp_sites"):
            html.Span(classes="iv-ring")
            html.Span("{{ totals.ftp_sites }} extra injections where your headaches usually are")
        with html.Div(v_if="pain_chips.length || pain_point"):
            html.Span(classes="iv-dot", style="background: rgba(214,38,24,.75);")
            html.Span("red glow: where your headaches usually are")
    with html.Div(classes="iv-overlay iv-legend", v_if="tab !== 'patient'", id="legend"):
        with html.Div(v_for="(col, m) in muscle_colors", key="m"):
            html.Span(classes="iv-dot", style=("{ background: col }",))
            html.Span("{{ m.replace('_', ' ') }}")
        with html.Div(v_if="totals.ftp_sites"):
            html.Span(classes="iv-ring")
            html.Span("follow-the-pain site")
        html.Div("Drag to rotate, scroll to zoom. Click the skin to set the pain origin, a marker "
                 "to find its row.", v_if="tab === 'plan' && click_action === 'pain'",
                 classes="text-caption text-medium-emphasis")
        html.Div("Click the skin where {{ landmark_name.replace(/_/g, ' ') }} is on this patient.",
                 v_if="tab === 'plan' && click_action === 'landmark'",
                 classes="text-caption text-medium-emphasis")
        html.Div("Click the head where you would inject.", v_if="tab === 'trainer'",
                 classes="text-caption text-medium-emphasis")


def _side_panel(app: InjectVizApp) -> None:
    with v3.VTabs(v_model=("tab", "plan"), grow=True, density="compact", color="teal-darken-3",
                  id="tabs"):
        v3.VTab("Plan", value="plan", id="tab-plan")
        v3.VTab("Patient", value="patient", id="tab-patient")
        v3.VTab("Trainer", value="trainer", id="tab-trainer")
        v3.VTab("Record", value="record", id="tab-record", v_if="rec_on")
    v3.VDivider()
    with v3.VWindow(v_model=("tab",)):
        with v3.VWindowItem(value="plan"):
            _plan_tab(app)
        with v3.VWindowItem(value="patient"):
            _patient_tab(app)
        with v3.VWindowItem(value="trainer"):
            _trainer_tab(app)
        if app.records is not None:  # the patient's record (visualizer.app.records_panel)
            with v3.VWindowItem(value="record"):
                records_panel.build_tab(app)


def _plan_tab(app: InjectVizApp) -> None:
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
        # warnings: prominent in the panel too
        with html.Div(v_if="warnings.length", id="panel-warnings", classes="mb-3"):
            v3.VAlert(v_for="(w, i) in warnings", key="i", text=("w",), type="warning",
                      density="compact", classes="mb-1 text-body-2", icon="mdi-alert")

        html.Div("Pain origin", classes="text-subtitle-2 mb-1")
        with v3.VChipGroup(v_model=("pain_chips", []), multiple=True, column=True,
                           selected_class="bg-deep-orange-darken-1", id="pain-chips"):
            v3.VChip("{{ r }}", v_for="r in pain_regions_all", key="r", value=("r",),
                     filter=True, variant="outlined", size="small", id=("`chip-${r}`",))
        with v3.VBtnToggle(v_model=("pain_side", "both"), mandatory=True, density="compact",
                           variant="outlined", divided=True, classes="mb-2", id="pain-side"):
            v3.VBtn("Left", value="left", size="small", id="side-left")
            v3.VBtn("Both", value="both", size="small", id="side-both")
            v3.VBtn("Right", value="right", size="small", id="side-right")
        with html.Div(classes="d-flex align-center text-body-2 mb-1"):
            html.Span("Origin: ", classes="mr-1 text-medium-emphasis")
            html.Span("{{ pain_summary }}", id="pain-summary")
            v3.VSpacer()
            v3.VBtn("Clear", size="x-small", variant="text", click=app.clear_pain, id="pain-clear",
                    v_if="pain_chips.length || pain_point")
        html.Div("Clicked point: {{ pain_point ? pain_point.join(', ') + ' mm' : 'none' }}",
                 classes="text-caption text-medium-emphasis", id="pain-point")
        html.Div("A click on the head sets", classes="text-subtitle-2 mt-2 mb-1")
        with v3.VBtnToggle(v_model=("click_action", "pain"), mandatory=True, density="compact",
                           variant="outlined", divided=True, classes="mb-2", id="click-action"):
            v3.VBtn("Pain origin", value="pain", size="small", id="click-pain")
            v3.VBtn("Select site", value="select", size="small", id="click-select")
            v3.VBtn("Landmark", value="landmark", size="small", id="click-landmark")
        with html.Div(v_if="click_action === 'landmark' || moved_landmarks.length", classes="mb-2",
                      id="landmark-mode"):
            v3.VSelect(v_if="click_action === 'landmark'", label="Landmark to place",
                       v_model=("landmark_name",), items=("landmark_items",), density="compact",
                       hide_details=True, classes="mb-1")
            with html.Div(v_if="moved_landmarks.length", classes="d-flex align-center text-body-2"):
                html.Span("Moved for this patient: {{ moved_landmarks.join(', ') }}",
                          id="moved-landmarks")
                v3.VSpacer()
                v3.VBtn("Reset", size="x-small", variant="text", click=app.reset_landmarks,
                        id="landmarks-reset")
        v3.VSwitch(v_model=("follow_the_pain", True), label="Follow the pain (extra sites)",
                   density="compact", hide_details=True, color="teal-darken-3", id="switch-ftp")
        with html.Div(classes="d-flex flex-wrap"):
            v3.VSwitch(v_model=("show_muscles", True), label="Muscle areas", density="compact",
                       hide_details=True, classes="mr-4", id="switch-muscles", color="teal-darken-3")
            v3.VSwitch(v_model=("show_labels", True), label="Labels", density="compact",
                       hide_details=True, classes="mr-4", id="switch-labels", color="teal-darken-3")
            v3.VSwitch(v_model=("show_landmarks", False), label="Landmarks", density="compact",
                       hide_details=True, id="switch-landmarks", color="teal-darken-3")
        with v3.VBtnToggle(v_model=("view_mode", "local"), mandatory=True, density="compact",
                           variant="outlined", divided=True, classes="mb-3", id="view-mode"):
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

        html.Div("Sites (in injection order) \u2014 click a row to find it", classes="text-subtitle-2")
        with v3.VTable(density="compact", classes="iv-table", id="site-table", fixed_header=True,
                       height=360):
            with html.Thead():
                with html.Tr():
                    for h in ("#", "Muscle", "Side", "U", "mL", ""):
                        html.Th(h)
            with html.Tbody():
                with html.Tr(
                    v_for="row in site_rows",
                    key="row.id",
                    click="selected_site = (selected_site === row.id ? null : row.id)",
                    classes=("{ 'iv-selected': row.id === selected_site }",),
                    id=("`row-${row.id}`",),
                    raw_attrs=[':data-site="row.id"'],
                ):
                    html.Td("{{ row.order }}", classes="iv-num")
                    with html.Td():
                        html.Span(classes="iv-dot", style=("{ background: muscle_colors[row.muscle_key] }",))
                        html.Span("{{ row.muscle }}")
                    html.Td("{{ row.side }}")
                    html.Td("{{ row.units }}", classes="iv-num")
                    html.Td("{{ row.ml }}", classes="iv-num")
                    with html.Td():
                        v3.VChip("FTP", v_if="row.ftp", size="x-small", color="deep-orange-darken-1",
                                 title="follow-the-pain site")
        html.Div("Server update: {{ update_ms }} ms", classes="text-caption text-disabled mt-2",
                 id="update-ms")


def _patient_tab(app: InjectVizApp) -> None:
    with html.Div(classes="pa-4", id="patient-panel"):
        html.Div("Your treatment", classes="iv-patient-mid mb-2")
        html.P(
            "{{ totals.sites }} small injections with a very fine needle.",
            classes="iv-patient-text mb-1",
        )
        html.P("{{ patient_info.duration }}.", classes="iv-patient-text", id="patient-duration",
               title=("patient_info.duration_note",))
        with v3.VCard(variant="tonal", color="teal-darken-3", classes="pa-4 my-4"):
            html.Div("{{ patient.step }}", classes="iv-patient-big", id="patient-step")
            html.Div("{{ patient.where }}", classes="iv-patient-mid mt-1", id="patient-where")
            html.Div("{{ patient.dose }}", classes="iv-patient-mid", id="patient-dose")
        with html.Div(classes="d-flex justify-center ga-2 mb-4"):
            v3.VBtn(icon="mdi-skip-previous", size="large", click=app.patient_prev,
                    id="patient-prev", title="Previous")
            v3.VBtn(icon="mdi-play", size="large", color="teal-darken-3", click=app.patient_play,
                    v_if="!patient_playing", id="patient-play", title="Play")
            v3.VBtn(icon="mdi-pause", size="large", color="teal-darken-3", click=app.patient_pause,
                    v_else=True, id="patient-pause", title="Pause")
            v3.VBtn(icon="mdi-skip-next", size="large", click=app.patient_next, id="patient-next",
                    title="Next")
            v3.VBtn(icon="mdi-restart", size="large", variant="text", click=app.patient_restart,
                    id="patient-restart", title="Start again")
        # the boxed warning: always on the page (never behind a hover or a click)
        with v3.VAlert(type="error", variant="tonal", icon="mdi-alert-octagon", classes="mb-4",
                       id="patient-urgent", title="Warning signs that need urgent care"):
            with html.Ul(classes="iv-patient-text pl-4"):
                html.Li("{{ u }}", v_for="(u, i) in patient_info.urgent", key="i")
        with html.Div(id="aftercare"):
            html.Div("Afterwards", classes="iv-patient-mid mb-1")
            html.Div("What is normal", classes="text-subtitle-1 font-weight-bold")
            with html.Ul(classes="iv-patient-text pl-5 mb-2", id="aftercare-normal"):
                html.Li("{{ a }}", v_for="(a, i) in patient_info.normal", key="i", classes="mb-1")
            html.Div("When it starts to work", classes="text-subtitle-1 font-weight-bold")
            html.P("{{ patient_info.starts_to_work }}", classes="iv-patient-text mb-2",
                   id="aftercare-onset")
            html.Div("When to come back", classes="text-subtitle-1 font-weight-bold")
            html.P("{{ patient_info.come_back }}", classes="iv-patient-text mb-2",
                   id="aftercare-come-back")
        with html.Details(classes="text-caption text-medium-emphasis", id="patient-sources"):
            html.Summary("Where this information comes from")
            html.P("Time: {{ patient_info.duration_note }}", classes="mt-1 mb-1")
            with html.Ul(classes="pl-4"):
                with html.Li(v_for="(src, i) in patient_info.sources", key="i"):
                    html.A("{{ src.citation }}", href=("src.url",), target="_blank",
                           rel="noopener noreferrer")


def _trainer_tab(app: InjectVizApp) -> None:
    with html.Div(classes="pa-3", id="trainer-panel"):
        with html.Div(classes="d-flex ga-2 mb-3"):
            v3.VBtn("Start quiz", color="teal-darken-3", click=app.quiz_start, id="quiz-start",
                    prepend_icon="mdi-school")
            v3.VBtn("Stop", variant="text", click=app.quiz_stop, v_if="quiz", id="quiz-stop")
        html.Div("The quiz covers every site of {{ protocol_name }}, in a new order each round, "
                 "numbered as in the plan. Click where you would inject; the error is measured over "
                 "the skin.", v_if="!quiz", classes="text-body-2 mb-3")
        with html.Div(v_if="quiz && !quiz.finished"):
            html.Div("Site {{ quiz.index }} of {{ quiz.total }}", classes="text-caption",
                     id="quiz-progress")
            html.Div("Find {{ quiz.prompt }}", classes="iv-quiz-prompt mb-2", id="quiz-prompt")
            with v3.VAlert(v_if="quiz_result", type=("quiz_result.within ? 'success' : 'warning'",),
                           density="compact", classes="mb-2", id="quiz-result"):
                html.Div("Error {{ quiz_result.error_mm }} mm {{ quiz_result.measured }} \u2014 score "
                         "{{ quiz_result.score }}", classes="iv-num")
                html.Div("No path over the skin joins the two points: this is the straight line "
                         "through the body.", v_if="quiz_result.measured !== 'over the skin'",
                         classes="text-caption")
                html.Div("Green ring: the true site. Pink dot: your click.", classes="text-caption")
            v3.VBtn("Next", v_if="quiz.awaiting_next", click=app.quiz_next, color="teal-darken-3",
                    id="quiz-next", append_icon="mdi-arrow-right")
            html.Div("Score so far: {{ quiz.score }} ({{ quiz.answered }} answered)",
                     classes="text-body-2 mt-2 iv-num", id="quiz-score")
        with v3.VCard(v_if="quiz_summary", variant="tonal", classes="pa-3 mb-3", id="quiz-summary"):
            html.Div("Round complete", classes="text-h6")
            html.Div("Score {{ quiz_summary.score }} \u2014 {{ quiz_summary.within }} of "
                     "{{ quiz_summary.answered }} sites within {{ quiz_summary.within_mm }} mm; "
                     "mean error {{ quiz_summary.mean_mm }} mm", classes="text-body-2 mb-2 iv-num")
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
        v3.VSwitch(v_model=("show_answers", False), label="Show the answers (all sites)",
                   density="compact", hide_details=True, id="switch-answers", color="teal-darken-3")
        v3.VSwitch(v_model=("show_landmarks", False), label="Landmarks", density="compact",
                   hide_details=True, color="teal-darken-3")
        v3.VSwitch(v_model=("show_muscles", True), label="Muscle areas", density="compact",
                   hide_details=True, color="teal-darken-3")
