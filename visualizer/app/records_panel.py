"""The Record tab of the page (trame + Vuetify 3): patient, visit, history, outcomes, reports.

Bindings only: the values shown are state keys filled by :mod:`visualizer.app.records_ctrl`; the
forms (``rec_new``, ``rec_form``, ``rec_diary``, ``rec_query``) stay in the page and go to the
server whole, with the action (``rec_*`` triggers, each checked by :mod:`visualizer.app.inputs`).
"""

from __future__ import annotations

from typing import Any

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from visualizer.app.faults import download_click

CSS = """
.iv-rec input { font-size: 13px; }
.iv-rec .iv-given { min-width: 8.5em; }
.iv-rec #rec-sites td, .iv-rec #rec-sites th, .iv-rec #rec-visits td, .iv-rec #rec-visits th {
  padding: 0 6px !important; }
.iv-rec #rec-sites .v-checkbox .v-selection-control { min-height: 28px; }
.iv-rec-chart { width: 100%; border: 1px solid rgba(0,0,0,.12); border-radius: 6px; }
"""

TRIGGER_NAMES = (
    "rec_search",
    "rec_create",
    "rec_open",
    "rec_close",
    "rec_save_origin",
    "rec_save_protocol",
    "rec_new_visit",
    "rec_open_visit",
    "rec_save_draft",
    "rec_sign",
    "rec_amend",
    "rec_compare",
    "rec_compare_clear",
    "rec_diary_add",
    "rec_visit_pdf",
    "rec_handout_pdf",
)

LOCKED = "rec_visit && rec_visit.readonly && !rec_amending"  # a signed visit, not being amended

# trame's page state is a plain object: a control bound to a field INSIDE a form would change it without the
# page noticing (a tick box would not show its tick, nothing that depends on it would update). Each form
# control therefore replaces its whole form (a copy with the one field changed).
JS = r"""
window.injectvizRec = window.injectvizRec || {
  set: function (key, path, value) {
    var t = window.trame;
    var form = JSON.parse(JSON.stringify(t.state.get(key) || {}));
    var o = form;
    for (var i = 0; i < path.length - 1; i++) {
      if (!o[path[i]] || typeof o[path[i]] !== 'object') { o[path[i]] = {}; }
      o = o[path[i]];
    }
    o[path[path.length - 1]] = value;
    t.state.set(key, form);
  },
};
"""


def bind(key: str, *path: str) -> dict[str, Any]:
    """Props binding a control to ``key`` + ``path`` (JS expressions, e.g. ``'lot'`` or ``row.id``)."""
    expr = key + "".join(f"[{p}]" for p in path)
    return {
        "model_value": (expr,),
        "update_modelValue": f"utils.get('injectvizRec.set')('{key}', [{', '.join(path)}], $event)",
    }


def register(app: Any) -> None:
    """The record's actions as named triggers of ``app``'s server (the page calls them by name)."""
    ctrl = app.records
    for name in TRIGGER_NAMES:
        app.server.trigger(name)(getattr(ctrl, name))
    app.state.client_only("rec_amending")
    app.state.rec_amending = False


def build_tab() -> None:
    """The Record tab's content (call inside its ``VWindowItem``)."""
    from trame.widgets import client

    client.Style(CSS)
    client.Script(JS)
    with html.Div(classes="pa-3 iv-rec", id="record-panel"):
        with html.Div():
            v3.VAlert(
                v_if="rec_error", text=("rec_error",), type="error", density="compact", classes="mb-2", id="rec-error"
            )
            with html.Div(v_if="rec_notes.length", id="rec-notes", classes="mb-2"):
                v3.VAlert(
                    v_for="(n, i) in rec_notes",
                    key="i",
                    text=("n",),
                    density="compact",
                    classes="mb-1",
                    type=("n.startsWith('visit on') || n.startsWith('OVERRIDE') ? 'warning' : 'success'",),
                )
            _choose()
            with html.Div(v_if="rec_patient"):
                _patient_card()
                _visit()
                _history()
                _outcomes()


def _field(label: str, model: str, fid: str, *, locked: str = LOCKED, **kw: Any) -> None:
    key, _, name = model.partition(".")
    v3.VTextField(
        label=label,
        density="compact",
        hide_details=True,
        variant="outlined",
        classes="mb-2",
        id=fid,
        disabled=(locked,),
        **bind(key, f"'{name}'"),
        **kw,
    )


def _choose() -> None:
    with html.Div(v_if="!rec_patient", id="rec-choose"):
        html.Div("Open a patient", classes="text-subtitle-2 mb-1")
        with html.Div(classes="d-flex ga-2 mb-2"):
            v3.VTextField(
                label="Code or name",
                v_model="rec_query",
                density="compact",
                hide_details=True,
                variant="outlined",
                id="rec-query",
                clearable=True,
                keyup_enter="trigger('rec_search', [rec_query || ''])",
            )
            v3.VBtn(
                "Search",
                click="trigger('rec_search', [rec_query || ''])",
                id="rec-search",
                color="teal-darken-3",
                variant="tonal",
            )
        with v3.VList(density="compact", v_if="rec_patients.length", id="rec-results", classes="mb-3"):
            v3.VListItem(
                v_for="p in rec_patients",
                key="p.code",
                click="trigger('rec_open', [p.code])",
                title=("p.code + (p.name ? ' \u2014 ' + p.name : '')",),
                subtitle=("p.visits + ' visits' + (p.last_visit ? ', last ' + p.last_visit : '')",),
                id=("`rec-open-${p.code}`",),
            )
        v3.VDivider(classes="my-2")
        html.Div("New patient", classes="text-subtitle-2 mb-1")
        html.Div("Use a pseudonym as the code (no real names in codes).", classes="text-caption mb-1")
        _field("Code (e.g. TEST-0001)", "rec_new.code", "rec-new-code", locked="false")
        _field("Display name (optional)", "rec_new.name", "rec-new-name", locked="false")
        _field("Birth year (optional)", "rec_new.birth_year", "rec-new-birth", locked="false")
        v3.VCheckbox(
            **bind("rec_new", "'with_origin'"),
            density="compact",
            hide_details=True,
            id="rec-new-origin",
            label=(
                "'Keep today\\'s pain origin (' + pain_summary + ') and protocol (' + protocol_name"
                " + ') as this patient\\'s usual ones'",
            ),
        )
        v3.VBtn(
            "Create patient",
            color="teal-darken-3",
            click="trigger('rec_create', [rec_new])",
            id="rec-create",
            prepend_icon="mdi-account-plus",
        )


def _patient_card() -> None:
    with v3.VCard(variant="tonal", color="teal-darken-3", classes="pa-3 mb-3", id="rec-patient"):
        with html.Div(classes="d-flex align-center"):
            html.Div("{{ rec_patient.code }}", classes="text-h6", id="rec-patient-code")
            html.Div("{{ rec_patient.name }}", classes="ml-2 text-body-2")
            v3.VSpacer()
            v3.VBtn("Close", size="small", variant="text", click="trigger('rec_close')", id="rec-close")
        html.Div("Usual pain origin: {{ rec_patient.usual }}", classes="text-body-2", id="rec-usual")
        html.Div("Preferred protocol: {{ rec_patient.protocol }}", classes="text-body-2")
        html.Div("Born {{ rec_patient.birth_year }}", v_if="rec_patient.birth_year", classes="text-body-2")
        html.Div(
            "Next visit due: {{ rec_patient.next_due || 'no migraine visit yet' }}",
            classes="text-body-2 font-weight-bold",
            id="rec-next-due",
        )
    _offer("origin", "Save as the usual origin")
    _offer("protocol", "Save as the preferred protocol")


def _offer(what: str, button: str) -> None:
    """An offer to keep today's ``what`` (origin or protocol) as the patient's own, with its button."""
    with v3.VAlert(v_if=f"rec_offer.{what}", type="info", density="compact", classes="mb-2", id=f"rec-offer-{what}"):
        html.Div(f"{{{{ rec_offer.{what} }}}}", classes="text-body-2")
        v3.VBtn(
            button,
            size="small",
            variant="tonal",
            classes="mt-1",
            click=f"trigger('rec_save_{what}')",
            id=f"rec-save-{what}",
        )


def _visit() -> None:
    with html.Div(id="rec-visit", classes="mb-3"):
        with html.Div(classes="d-flex align-center mb-1"):
            html.Div("Today's visit (from the plan on screen)", v_if="!rec_visit", classes="text-subtitle-1")
            html.Div(
                "Visit {{ rec_visit.id }} of {{ rec_visit.date }} \u2014 {{ rec_visit.status }}"
                "{{ rec_visit.versions > 1 ? ', version ' + rec_visit.version : '' }}",
                v_else=True,
                classes="text-subtitle-1",
                id="rec-visit-title",
            )
            v3.VSpacer()
            v3.VBtn(
                "New visit",
                v_if="rec_visit",
                size="small",
                variant="text",
                click="rec_amending = false; trigger('rec_new_visit')",
                id="rec-new-visit",
            )
        html.Div(
            "Signed: read-only. Amend to correct it (a new version; the signed one is kept).",
            v_if="rec_visit && rec_visit.readonly",
            classes="text-caption mb-1",
            id="rec-readonly",
        )
        with html.Div(classes="d-flex ga-2"):
            _field(
                "Date",
                "rec_form.date",
                "rec-date",
                locked="!!rec_visit && rec_visit.readonly",
                placeholder="YYYY-MM-DD",
            )
            _field("Injector", "rec_form.injector", "rec-injector")
        with html.Div(classes="d-flex ga-2"):
            _field("Product", "rec_form.product", "rec-product", locked="!!rec_visit && rec_visit.readonly")
            _field("Lot", "rec_form.lot", "rec-lot")
            _field("Expiry", "rec_form.expiry", "rec-expiry", placeholder="YYYY-MM-DD")
        with v3.VTable(density="compact", classes="iv-table mb-2", id="rec-sites", fixed_header=True, height=300):
            with html.Thead():
                with html.Tr():
                    for h in ("#", "Site", "Plan U", "Skip", "Given U / why skipped"):
                        html.Th(h)
            with html.Tbody():
                with html.Tr(v_for="row in rec_rows", key="row.id", id=("`rec-row-${row.id}`",)):
                    html.Td("{{ row.order }}", classes="iv-num")
                    html.Td(
                        "{{ row.side === 'midline' ? '' : row.side[0].toUpperCase() }} {{ row.muscle }}",
                        title=("row.where",),
                    )
                    html.Td("{{ row.planned }}", classes="iv-num")
                    with html.Td():
                        v3.VCheckbox(
                            v_if="rec_form.sites[row.id]",
                            **bind("rec_form", "'sites'", "row.id", "'skip'"),
                            density="compact",
                            hide_details=True,
                            id=("`rec-skip-${row.id}`",),
                            disabled=(LOCKED,),
                        )
                    with html.Td(classes="iv-given"):
                        v3.VTextField(
                            v_if="rec_form.sites[row.id] && !rec_form.sites[row.id].skip",
                            **bind("rec_form", "'sites'", "row.id", "'given'"),
                            density="compact",
                            hide_details=True,
                            variant="underlined",
                            type="number",
                            min=0,
                            max=50,
                            step=0.5,
                            id=("`rec-given-${row.id}`",),
                            disabled=(LOCKED,),
                        )
                        v3.VTextField(
                            v_if="rec_form.sites[row.id] && rec_form.sites[row.id].skip",
                            **bind("rec_form", "'sites'", "row.id", "'skip_reason'"),
                            density="compact",
                            hide_details=True,
                            variant="underlined",
                            placeholder="why skipped",
                            id=("`rec-reason-${row.id}`",),
                            disabled=(LOCKED,),
                            classes="iv-reason",
                        )
        html.Div(
            "Given: {{ rec_visit.total_given }} U of {{ rec_visit.total_planned }} U planned",
            v_if="rec_visit",
            classes="text-body-2 mb-2 iv-num",
            id="rec-total",
        )
        _field("Reason for deviations from the plan (if any)", "rec_form.reason", "rec-deviation")
        _field("Override reason (only to record a total above a cap)", "rec_form.override", "rec-override")
        with html.Div(v_if="rec_visit && rec_visit.override", classes="text-body-2 text-red mb-2"):
            html.Span("OVERRIDE: {{ rec_visit.override }}")
        with html.Div(v_if="rec_visit && rec_visit.warnings.length", classes="mb-2"):
            v3.VAlert(
                v_for="(w, i) in rec_visit.warnings",
                key="i",
                text=("w",),
                type="warning",
                density="compact",
                classes="mb-1 text-body-2",
            )
        with html.Div(classes="d-flex flex-wrap ga-2"):
            v3.VBtn(
                "Save draft",
                v_if="!rec_visit || !rec_visit.readonly",
                variant="tonal",
                click="trigger('rec_save_draft', [rec_form])",
                id="rec-save-draft",
            )
            v3.VBtn(
                "Sign",
                v_if="!rec_visit || !rec_visit.readonly",
                color="teal-darken-3",
                click="trigger('rec_sign', [rec_form])",
                id="rec-sign",
                prepend_icon="mdi-draw-pen",
            )
            v3.VBtn(
                "Amend\u2026",
                v_if="rec_visit && rec_visit.readonly && !rec_amending",
                variant="tonal",
                click="rec_amending = true",
                id="rec-amend-open",
            )
            v3.VBtn(
                "Visit record (PDF)",
                v_if="rec_visit",
                size="small",
                variant="outlined",
                prepend_icon="mdi-file-pdf-box",
                id="rec-pdf",
                click=download_click(
                    "`visit-${rec_patient.code}-${rec_visit.id}.pdf`",
                    "trigger('rec_visit_pdf', [rec_visit.id])",
                    "application/pdf",
                    "pdf",
                ),
            )
            v3.VBtn(
                "Handout (PDF)",
                v_if="rec_visit",
                size="small",
                variant="outlined",
                prepend_icon="mdi-file-document-outline",
                id="rec-handout",
                click=download_click(
                    "`handout-${rec_patient.code}-${rec_visit.id}.pdf`",
                    "trigger('rec_handout_pdf', [rec_visit.id])",
                    "application/pdf",
                    "pdf",
                ),
            )
        with html.Div(v_if="rec_visit && rec_visit.readonly && rec_amending", classes="mt-2", id="rec-amend-box"):
            _field("Why is the record amended?", "rec_form.amend_reason", "rec-amend-reason", locked="false")
            with html.Div(classes="d-flex ga-2"):
                v3.VBtn(
                    "Save amendment", color="teal-darken-3", click="trigger('rec_amend', [rec_form])", id="rec-amend"
                )
                v3.VBtn(
                    "Cancel",
                    variant="text",
                    click="rec_amending = false; trigger('rec_open_visit', [rec_visit.id])",
                    id="rec-amend-cancel",
                )


def _history() -> None:
    with html.Div(id="rec-history", classes="mb-3"):
        html.Div("History", classes="text-subtitle-1")
        with v3.VTable(density="compact", classes="iv-table mb-2", id="rec-visits"):
            with html.Thead():
                with html.Tr():
                    for h in ("Date", "Protocol", "Given U", "Lot", "Status"):
                        html.Th(h)
            with html.Tbody():
                with html.Tr(
                    v_for="v in rec_patient.visits",
                    key="v.id",
                    id=("`rec-visit-${v.id}`",),
                    click="rec_amending = false; trigger('rec_open_visit', [v.id])",
                    classes=("{ 'iv-selected': rec_visit && rec_visit.id === v.id }",),
                ):
                    html.Td("{{ v.date }}")
                    html.Td("{{ v.protocol }}")
                    html.Td("{{ v.total_given_units }}", classes="iv-num")
                    html.Td("{{ v.lot }}")
                    html.Td("{{ v.status }}{{ v.version > 1 ? ' (v' + v.version + ')' : '' }}")
        html.Div("No visits yet.", v_if="!rec_patient.visits.length", classes="text-caption mb-2")
        with html.Div(classes="d-flex ga-2 mb-2"):
            v3.VBtn(
                "Compare with last visit",
                size="small",
                variant="tonal",
                prepend_icon="mdi-compare",
                click="trigger('rec_compare')",
                id="rec-compare",
                disabled=("!rec_patient.visits.length",),
            )
            v3.VBtn(
                "Hide last visit",
                v_if="rec_compare",
                size="small",
                variant="text",
                click="trigger('rec_compare_clear')",
                id="rec-compare-clear",
            )
        with v3.VCard(v_if="rec_compare", variant="outlined", classes="pa-2", id="rec-compare-box"):
            html.Div(
                "Last visit {{ rec_compare.visit_date }}: {{ rec_compare.sites }} sites drawn as blue ghost "
                "markers beside today's plan.",
                classes="text-body-2 mb-1",
                id="rec-compare-title",
            )
            html.Div("No differences to today's plan.", v_if="!rec_compare.differences.length", classes="text-body-2")
            with html.Ul(classes="pl-4 text-body-2", id="rec-differences"):
                html.Li("{{ d }}", v_for="(d, i) in rec_compare.differences", key="i")


def _outcomes() -> None:
    with html.Div(id="rec-outcomes"):
        html.Div("Outcomes: headache diary", classes="text-subtitle-1")
        with html.Div(classes="d-flex ga-2"):
            _field("Month", "rec_diary.month", "rec-diary-month", locked="false", placeholder="YYYY-MM")
            _field("Headache days", "rec_diary.headache_days", "rec-diary-days", locked="false", type="number")
        with html.Div(classes="d-flex ga-2"):
            _field("Migraine days", "rec_diary.migraine_days", "rec-diary-migraine", locked="false", type="number")
            _field("Acute medication days", "rec_diary.acute_days", "rec-diary-acute", locked="false", type="number")
        with html.Div(classes="d-flex align-center ga-2 mb-2"):
            v3.VBtn(
                "Add month",
                color="teal-darken-3",
                variant="tonal",
                click="trigger('rec_diary_add', [rec_diary])",
                id="rec-diary-add",
            )
            v3.VCheckbox(
                **bind("rec_diary", "'replace'"),
                label="replace a month already recorded",
                density="compact",
                hide_details=True,
                id="rec-diary-replace",
            )
        html.Img(
            v_if="rec_chart",
            src=("rec_chart",),
            classes="iv-rec-chart mb-2",
            id="rec-chart",
            alt="Headache days per month against the baseline",
        )
        html.Div(
            "Baseline: {{ rec_patient.baseline }} headache days/month (the months before the first visit).",
            v_if="rec_patient.baseline !== null",
            classes="text-body-2 mb-1",
            id="rec-baseline",
        )
        with html.Div(id="rec-flags"):
            with v3.VAlert(
                v_for="(f, i) in rec_patient.flags", key="i", type="warning", density="compact", classes="mb-1"
            ):
                html.Div("{{ f.flag }}: {{ f.reason }}", classes="text-body-2 font-weight-bold")
                html.A(
                    "{{ f.source }}",
                    href=("rec_patient.source",),
                    target="_blank",
                    rel="noopener noreferrer",
                    classes="text-caption",
                )
        html.Div(
            "Flags follow NICE TA260 (section 1.2): review continuation when headache days fall by less "
            "than 30 % after 2 cycles; now episodic after 3 consecutive months under 15 headache days.",
            classes="text-caption text-medium-emphasis",
        )
