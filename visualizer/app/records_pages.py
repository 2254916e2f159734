"""Read-only record pages of the front server: ``/records/`` (patients) and ``/records/patient/CODE``.

Only a role with the ``records`` permission (injector) - or anyone on a loopback server without
accounts, like the command line - sees them; a trainer or viewer gets 403, and the refusal is in
the audit log like every read (:class:`visualizer.records.audit.AuditedRecords`).  Every value is
HTML-escaped; a database problem is a short message, never a traceback.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from typing import Any

from aiohttp import web

from visualizer.app.auth import address_of, login_of

log = logging.getLogger("injectviz.records_pages")

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse}} td,th{{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left}}
.warn{{color:#8a1c12}}</style></head>
<body><p><a href="{root}">InjectViz</a> &middot; <a href="{root}records/">Patients</a></p>
<h1 id="title">{title}</h1>
{body}</body></html>
"""


def actor_for(request: web.Request) -> Any:
    """Who is asking: the logged-in account, or (no accounts) this machine's user, local."""
    from visualizer.records.audit import Actor, cli_actor

    s = login_of(request)
    where = f"{address_of(request)} (app)"
    if s is not None:
        return Actor(s.name, s.role, where)
    local = cli_actor().who.replace("(command line)", "(no login)")
    return Actor(local, None, where)


def _page(request: web.Request, title: str, body: str, status: int = 200) -> web.Response:
    root = "../" * max(0, request.path.count("/") - 1)
    return web.Response(
        status=status,
        content_type="text/html",
        text=PAGE.format(title=html.escape(title), body=body, root=root or "./"),
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


class RecordPages:
    """The ``/records/`` routes on one records database."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/records", _to_slash)
        app.router.add_get("/records/", self.patients)
        app.router.add_get("/records/patient/{code}", self.patient)

    async def _allowed(self, request: web.Request, action: str, code: str | None = None) -> web.Response | None:
        from visualizer.records.accounts import allows
        from visualizer.records.audit import append

        s = login_of(request)
        if s is None or allows(s.role, "records"):
            return None
        actor = actor_for(request)
        log.warning("%s (%s) from %s: %s refused (no access to records)", s.name, s.role, actor.source, action)
        try:
            await asyncio.to_thread(append, self.db, actor, action, outcome="denied", code=code)
        except Exception as exc:
            log.warning("audit log not written (%s)", type(exc).__name__)
        return _page(
            request,
            "No access to patient records",
            f"<p class=warn id=refused>Your account ({html.escape(s.role)}) has no access to patient records.</p>",
            status=403,
        )

    async def patients(self, request: web.Request) -> web.Response:
        refused = await self._allowed(request, "list_patients")
        if refused is not None:
            return refused
        from visualizer.errors import InjectVizError
        from visualizer.records.audit import AuditedRecords

        try:
            rows = await asyncio.to_thread(AuditedRecords(self.db, actor_for(request)).list_patients)
        except InjectVizError as exc:
            return _page(request, "Patients", f"<p class=warn>{html.escape(_short(exc))}</p>", status=503)
        body = (
            "<table id=patients><tr><th>Code</th><th>Name</th><th>Visits</th><th>Last visit</th></tr>"
            + "".join(
                f'<tr><td><a href="patient/{html.escape(p["code"], quote=True)}">{html.escape(p["code"])}</a></td>'
                f"<td>{html.escape(p['name'] or '')}</td><td>{p['visits']}</td>"
                f"<td>{html.escape(p['last_visit'] or '-')}</td>"
                "</tr>"
                for p in rows
            )
            + "</table>"
        )
        return _page(request, "Patients", body if rows else "<p>No patients yet.</p>")

    async def patient(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        if not CODE.match(code):
            return _page(request, "No such patient", "<p>Not a patient code.</p>", status=404)
        refused = await self._allowed(request, "patient_summary", code)
        if refused is not None:
            return refused
        from visualizer.errors import InjectVizError
        from visualizer.records.audit import AuditedRecords
        from visualizer.records.errors import NotFoundError

        try:
            p = await asyncio.to_thread(AuditedRecords(self.db, actor_for(request)).patient_summary, code)
        except NotFoundError:
            return _page(request, "No such patient", f"<p>No patient {html.escape(code)}.</p>", status=404)
        except InjectVizError as exc:
            return _page(request, "Patient", f"<p class=warn>{html.escape(_short(exc))}</p>", status=503)
        pain = ", ".join(p["usual_pain"].get("regions") or []) or "-"
        visits = "".join(
            f"<tr><td>{v['id']}</td><td>{html.escape(v['date'])}</td><td>{html.escape(v['protocol'])}</td>"
            f"<td>{v['total_given_units']:g}</td><td>{html.escape(v['status'])}</td>"
            f"<td>{html.escape(v['lot'] or '-')}</td></tr>"
            for v in p["visits"]
        )
        body = (
            f"<p id=patient-name>{html.escape(p['name'] or '')}</p>"
            f"<p>Usual pain: {html.escape(pain)}; "
            f"preferred protocol: {html.escape(p['preferred_protocol'] or '-')}; "
            f"next due: {html.escape(p['next_due'] or '-')}</p>"
            "<table id=visits><tr><th>Visit</th><th>Date</th><th>Protocol</th><th>Given U</th><th>Status</th>"
            f"<th>Lot</th></tr>{visits}</table>" + ("" if p["visits"] else "<p>No visits yet.</p>")
        )
        return _page(request, f"Patient {code}", body)


async def _to_slash(request: web.Request) -> web.Response:
    raise web.HTTPFound("records/")


_PATH = re.compile(r"(?<!\w)(?:~|\.{1,2})?(?:/[^\s/'\"(),;:]+)+/?")


def _short(exc: BaseException) -> str:
    """A database message fit for a page: no paths, cut short (the front never imports VTK via guard)."""
    return _PATH.sub("[path]", " ".join(str(exc).split()))[:200]
