"""A4 PDF reports of a recorded visit (fpdf2): the visit record and the patient's handout.

Input is the dictionary of :meth:`visualizer.records.service.Records.visit_record` — the visit
as stored (plan JSON as computed then; nothing is recomputed). The pictures draw the sites as
given (skipped sites left out, given units in the labels) on the plan's own head, rendered
offscreen by :mod:`visualizer.scene` from the front, back, left and right.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from visualizer.records.files import write_atomic
from visualizer.records.rules import MIGRAINE_INTERVAL_WEEKS, is_migraine

VIEWS = ("front", "back", "left", "right")
DISPLAY_CELLS = 60_000
RED = (190, 20, 20)
DARK = (30, 30, 30)
GREY = (110, 110, 110)
MEDICATION_GUIDE = (
    "BOTOX (onabotulinumtoxinA) Medication Guide, AbbVie / US FDA label: "
    "https://www.rxabbvie.com/pdf/botox_medguide.pdf"
)
HELP_NOW = (
    "Get medical help right away if, in the hours to weeks after the injections, you have trouble swallowing, "
    "speaking or breathing; loss of strength or muscle weakness all over the body; double or blurred vision or "
    "drooping eyelids; a hoarse or changed voice; or trouble saying words clearly. Do not drive or use machines "
    "if this happens."
)
AFTERCARE = (
    "Small bruises, tenderness or a little swelling where the needle went in are common and settle within days.",
    "Neck pain, neck stiffness or a headache can occur in the first weeks; tell your clinic if it troubles you.",
    "The effect builds over one to two weeks. Keep your headache diary every month and bring it to the next visit.",
    "Tell any doctor who treats you that you had botulinum toxin injections, and on what date.",
)


# ----------------------------------------------------------------------------- fonts
def _font_files() -> tuple[Path, Path] | None:
    """DejaVu Sans (regular, bold): shipped with matplotlib (a PyVista dependency) or Debian's fonts."""
    spec = importlib.util.find_spec("matplotlib")
    folders = []
    if spec and spec.submodule_search_locations:
        folders.append(Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf")
    folders.append(Path("/usr/share/fonts/truetype/dejavu"))
    for f in folders:
        reg, bold = f / "DejaVuSans.ttf", f / "DejaVuSans-Bold.ttf"
        if reg.is_file() and bold.is_file():
            return reg, bold
    return None


class _Doc(FPDF):
    def __init__(self, title: str, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._title, self._footer_text = title, footer_text
        fonts = _font_files()
        if fonts:
            self.add_font("DejaVu", "", str(fonts[0]))
            self.add_font("DejaVu", "B", str(fonts[1]))
            self.family_name = "DejaVu"
        else:  # core font: Latin-1 only (text is transliterated by _t)
            self.family_name = "Helvetica"
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)
        self.set_title(title)
        self.set_creator("InjectViz")

    def t(self, text: Any) -> str:
        s = "" if text is None else str(text)
        if self.family_name == "Helvetica":
            s = s.encode("latin-1", "replace").decode("latin-1")
        return s

    def font(self, size: float = 10, bold: bool = False, color: tuple[int, int, int] = DARK) -> None:
        self.set_font(self.family_name, "B" if bold else "", size)
        self.set_text_color(*color)

    def header(self) -> None:
        self.font(8, color=GREY)
        self.cell(0, 4, self.t(self._title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def footer(self) -> None:
        self.set_y(-14)
        self.font(7, color=GREY)
        self.multi_cell(0, 3, self.t(f"{self._footer_text}   Page {self.page_no()}/{{nb}}"), align="C")

    def heading(self, text: str, size: float = 13) -> None:
        self.ln(2)
        self.font(size, bold=True)
        self.multi_cell(0, size * 0.5, self.t(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def para(self, text: str, size: float = 10, color: tuple[int, int, int] = DARK, bold: bool = False) -> None:
        self.font(size, bold=bold, color=color)
        self.multi_cell(0, size * 0.48, self.t(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def fields(self, rows: Sequence[tuple[str, str, tuple[int, int, int]]]) -> None:
        for label, value, color in rows:
            self.font(9, bold=True)
            self.cell(38, 5, self.t(label), new_x=XPos.RIGHT, new_y=YPos.TOP)
            self.font(9, color=color)
            self.multi_cell(0, 5, self.t(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


# ----------------------------------------------------------------------------- pictures
def _given_plan(record: dict[str, Any]):  # -> visualizer.plan.Plan
    """The stored plan with the sites as given: skipped left out, given units in place of planned."""
    from visualizer.plan import Plan

    plan = dict(record["plan"])
    by_id = {s["site_id"]: s for s in record["sites"]}
    sites = []
    for s in plan["sites"]:
        row = by_id.get(s["id"])
        if row is None or row["skipped"]:
            continue
        sites.append({**s, "units": row["given_units"]})
    plan["sites"] = sites
    return Plan.from_dict(plan)


def _head_for(plan_data: dict[str, Any]):  # -> Head | None
    from visualizer.body_type import BodyType
    from visualizer.errors import InjectVizError
    from visualizer.head import DEFAULT_MESH, load_head

    mesh = plan_data.get("mesh")
    try:
        if not mesh or Path(mesh).resolve() == DEFAULT_MESH.resolve():
            body = plan_data.get("body_type")  # the bundled head reshaped to a body type (issue 10)
            return load_head(body_type=BodyType.parse(body) if body is not None else None)
        return load_head(mesh, plan_data.get("landmarks_file"))
    except (InjectVizError, OSError):
        return None


#: the pictures' side in px: 80 mm in print at ~200 dpi (900 px cost 1.6x the time for no visible gain)
PICTURE_PX = 640


class _Viewer:
    """One offscreen render window per process, reused by every report on the same head.

    Building a window (an EGL context) and the head's scene costs more than the four pictures; a
    session or a server that writes several reports pays it once. Not thread-safe: reports are
    made one at a time per process (the app's session loop, the command line).
    """

    plotter: Any = None
    scene: Any = None
    head: Any = None
    size: int = 0

    @classmethod
    def get(cls, head: Any, plan: Any, size: int) -> tuple[Any, Any]:
        import pyvista as pv

        from visualizer.scene import build_scene

        if cls.plotter is None or cls.head is not head or cls.size != size:
            cls.close()
            pl = pv.Plotter(off_screen=True, window_size=[size, size])
            # no SSAA: at this size for an 80 mm picture it is invisible in print and costs 2-5x the time;
            # the skin decimated for display as the app draws it (sites sit on the full surface)
            cls.scene = build_scene(
                pl, head, plan, show_muscles=True, show_labels=True, antialias=False, display_cells=DISPLAY_CELLS
            )
            cls.plotter, cls.head, cls.size = pl, head, size
        else:
            cls.scene.update(plan=plan)
        return cls.plotter, cls.scene

    @classmethod
    def close(cls) -> None:
        if cls.plotter is not None:
            try:
                cls.plotter.close()
            except Exception:  # a window that failed half-way: dropped either way
                pass
        cls.plotter = cls.scene = cls.head = None
        cls.size = 0


def render_views(
    record: dict[str, Any], folder: Path, views: Sequence[str] = VIEWS, size: int = PICTURE_PX
) -> dict[str, Path] | str:
    """JPEG per view in ``folder`` (one offscreen scene, the camera moved); or why there are no pictures."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    head = _head_for(record["plan"])
    if head is None:
        scan = record["plan"].get("head") or {}
        if scan.get("kind") == "scan":  # the app does not keep an uploaded scan: its hash names it
            return (
                f"pictures unavailable: this plan was made on the patient's scan {scan.get('file')!r} "
                f"(SHA-256 {str(scan.get('sha256'))[:12]}…), which the records do not keep"
            )
        return f"pictures unavailable: the head mesh {record['plan'].get('mesh')!r} used for this plan is not found"
    import numpy as np
    from PIL import Image

    from visualizer.scene import set_camera

    plan = _given_plan(record)
    points = np.array([s.position for s in plan.sites], dtype=float).reshape(-1, 3)
    try:
        pl, _scene = _Viewer.get(head, plan, size)
        out = {}
        for v in views:
            set_camera(pl, head, v, points=points if len(points) else None)
            out[v] = folder / f"{v}.jpg"
            pl.render()
            # JPEG goes into the PDF as is (a PNG would be decoded and re-compressed: ~0.3 s a picture)
            Image.fromarray(pl.screenshot(return_img=True)).save(out[v], quality=90)
        return out
    except Exception:
        _Viewer.close()  # never reuse a window that failed
        raise


def _pictures(doc: _Doc, record: dict[str, Any], views: Sequence[str] = VIEWS) -> None:
    with tempfile.TemporaryDirectory(prefix="injectviz-report-") as tmp:
        shots = render_views(record, Path(tmp), views)
        if isinstance(shots, str):
            doc.para(shots, color=RED)
            return
        w = min((doc.epw - 6) / 2, 80.0)
        cols = 2 if len(views) > 1 else 1
        left = doc.l_margin + (doc.epw - cols * w - (cols - 1) * 6) / 2
        if doc.get_y() + w + 8 > doc.h - 20:
            doc.add_page()
        y0 = doc.get_y()
        for i, v in enumerate(views):
            col, row = i % cols, i // cols
            x = left + col * (w + 6)
            y = y0 + row * (w + 8)
            if y + w + 8 > doc.h - 18:
                doc.add_page()
                y0 = doc.get_y() - row * (w + 8)
                y = doc.get_y()
            doc.image(str(shots[v]), x=x, y=y, w=w, h=w)
            doc.set_xy(x, y + w)
            doc.font(9, bold=True)
            doc.cell(w, 5, doc.t(v), align="C")
        doc.set_xy(doc.l_margin, y0 + ((len(views) + cols - 1) // cols) * (w + 8))


# ----------------------------------------------------------------------------- the visit record
def _u(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def visit_report_pdf(record: dict[str, Any]) -> bytes:
    """The visit record as PDF bytes."""
    title = f"InjectViz visit record — patient {record['patient']}, visit {record['id']} (version {record['version']})"
    doc = _Doc(title, record["plan"].get("disclaimer", ""))
    doc.alias_nb_pages()
    doc.add_page()
    doc.heading(f"Visit record: {record['patient']}, {record['date']}", 16)
    status = record["status"] + (
        f", signed {record['signed_at'][:16].replace('T', ' ')} UTC" if record["signed_at"] else ""
    )
    rows = [
        ("Patient code", record["patient"], DARK),
        ("Visit", f"{record['id']}, version {record['version']} of {record['versions']} ({status})", DARK),
        ("Date", record["date"], DARK),
        ("Protocol", f"{record['protocol_name']} [{record['protocol']}]", DARK),
        ("Protocol SHA-256", record["protocol_hash"], DARK),
        ("Indication", record["indication"], DARK),
        ("Product", record["product"], DARK),
        ("Lot", record["lot"] or "-", DARK),
        ("Expiry", record["expiry"] or "-", DARK),
        ("Dilution", record["dilution"], DARK),
        ("Injector", record["injector"], DARK),
    ]
    signer = record.get("signed_by")  # from the audit log (visualizer.records.audit)
    if signer:
        rows.append(
            ("Signed by", f"{signer['who']} on {signer['at'][:16].replace('T', ' ')} UTC ({signer['source']})", DARK)
        )
    elif record["status"] == "signed":
        rows.append(("Signed by", "not in the audit log (signed before accounts were in use)", DARK))
    if record["version"] > 1:
        rows.append(
            (
                "Amended",
                f"by {record['author']} on {record['created_at'][:16].replace('T', ' ')} UTC: {record['amend_reason']}",
                DARK,
            )
        )
    doc.fields(rows)
    if record["override_reason"]:
        doc.ln(1)
        doc.para(f"OVERRIDE: {record['override_reason']}", color=RED, bold=True)
        for w in record["warnings"]:
            if w.startswith("OVERRIDE"):
                doc.para(w, 9, color=RED)
    _site_table(doc, record)
    if record["deviation_reason"]:
        doc.para(f"Reason for deviations from the plan: {record['deviation_reason']}", 9)
    doc.add_page()
    other = [w for w in record["warnings"] if not w.startswith("OVERRIDE")]
    if other:
        doc.heading("Warnings recorded with the visit", 11)
        for w in other:
            doc.para(f"• {w}", 9, color=RED)
    doc.heading("Findings shown at the time of planning", 11)
    for f in record["findings"] or ["none"]:
        doc.para(f"• {f}", 9)
    doc.heading("Sites as given (numbers are the injection order; skipped sites are not drawn)", 11)
    _pictures(doc, record)
    doc.ln(4)
    _signature(doc)
    return bytes(doc.output())


def _site_table(doc: _Doc, record: dict[str, Any]) -> None:
    doc.heading("Sites: planned and given", 12)
    widths = (9, 50, 31, 15, 19, 17, doc.epw - 141)
    head = ("#", "site", "muscle", "side", "planned U", "given U", "note")
    doc.font(8, bold=True)
    doc.set_fill_color(235, 235, 235)
    for w, h in zip(widths, head, strict=True):
        doc.cell(w, 5.5, doc.t(h), border="B", fill=True)
    doc.ln()
    for s in record["sites"]:
        note = (f"skipped: {s['skip_reason']}" if s["skipped"] else
                f"added: {s['extra_reason']}" if s["extra"] else
                "changed" if s["planned_units"] is not None and abs(s["given_units"] - s["planned_units"]) > 1e-9
                else "")  # fmt: skip
        color = RED if (s["skipped"] or s["extra"] or note == "changed") else DARK
        vals = (
            s["order"] or "+",
            s["site_id"],
            s["muscle"],
            s["side"],
            _u(s["planned_units"]),
            "-" if s["skipped"] else _u(s["given_units"]),
            note,
        )
        if doc.get_y() > doc.h - 24:
            doc.add_page()
        doc.font(8, color=color)
        for i, (w, v) in enumerate(zip(widths, vals, strict=True)):
            align = "R" if i in (4, 5) else "L"
            doc.cell(w, 4.6, doc.t(_fit(doc, str(v), w)), align=align)
        doc.ln()
    doc.font(9, bold=True)
    given = [s for s in record["sites"] if not s["skipped"]]
    doc.cell(sum(widths[:4]), 6, doc.t(f"total: {len(given)} sites given of {len(record['sites'])}"), border="T")
    doc.cell(widths[4], 6, _u(record["total_planned_units"]), border="T", align="R")
    doc.cell(widths[5], 6, _u(record["total_given_units"]), border="T", align="R")
    doc.cell(widths[6], 6, "U", border="T")
    doc.ln(8)


def _fit(doc: _Doc, text: str, width: float) -> str:
    if doc.get_string_width(text) <= width - 1.5:
        return text
    while text and doc.get_string_width(text + "…") > width - 1.5:
        text = text[:-1]
    return text + "…"


def _signature(doc: _Doc) -> None:
    if doc.get_y() > doc.h - 45:
        doc.add_page()
    doc.ln(6)
    doc.font(10)
    y = doc.get_y() + 10
    doc.line(doc.l_margin, y, doc.l_margin + 95, y)
    doc.line(doc.l_margin + 115, y, doc.l_margin + doc.epw, y)
    doc.set_xy(doc.l_margin, y + 1)
    doc.cell(95, 5, doc.t("Injector signature"))
    doc.set_x(doc.l_margin + 115)
    doc.cell(0, 5, doc.t("Date"))
    doc.ln(8)


# ----------------------------------------------------------------------------- the handout
def _plain_sites(record: dict[str, Any]) -> list[tuple[str, int]]:
    """Plain-word places ("right temple") with how many injections, in injection order."""
    counts: dict[str, int] = {}
    for s in record["sites"]:
        if s["skipped"]:
            continue
        words = s["description"] or f"{s['side']} {s['muscle']}".replace("midline ", "").strip()
        counts[words] = counts.get(words, 0) + 1
    return list(counts.items())


def handout_pdf(record: dict[str, Any]) -> bytes:
    """The patient's handout as PDF bytes: where, aftercare, when to get help, next visit."""
    doc = _Doc(f"InjectViz — your treatment on {record['date']}", "Keep this sheet. Questions? Ask your clinic.")
    doc.alias_nb_pages()
    doc.add_page()
    doc.heading(f"Your treatment on {record['date']}", 18)
    doc.para(f"Patient code {record['patient']}. Product: {record['product']}, lot {record['lot'] or '-'}.", 10)
    doc.heading("Where you had injections", 13)
    places = [f"• {w}" + (f" ({n} injections)" if n > 1 else "") for w, n in _plain_sites(record)]
    half = (len(places) + 1) // 2
    col_w = doc.epw / 2
    doc.font(8.5)
    y0 = doc.get_y()
    for col, chunk in enumerate((places[:half], places[half:])):
        doc.set_xy(doc.l_margin + col * col_w, y0)
        for line in chunk:
            doc.set_x(doc.l_margin + col * col_w)
            doc.multi_cell(col_w - 3, 4.1, doc.t(line), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if col == 0:
            y_end = doc.get_y()
    doc.set_y(max(y_end, doc.get_y()) + 1)
    given = sum(1 for s in record["sites"] if not s["skipped"])
    doc.para(f"{given} injections in all.", 10, color=GREY)
    doc.heading("After your treatment", 13)
    for line in AFTERCARE:
        doc.para(f"• {line}", 10.5)
    doc.heading("Get medical help right away", 13)
    doc.para(HELP_NOW, 10.5, color=RED, bold=True)
    doc.heading("Your next visit", 13)
    if is_migraine(record["indication"]):
        due = dt.date.fromisoformat(record["date"]) + dt.timedelta(weeks=MIGRAINE_INTERVAL_WEEKS)
        doc.para(f"In about {MIGRAINE_INTERVAL_WEEKS} weeks: on or after {due:%A %d %B %Y}. Please book it now.", 11)
    else:
        doc.para("Your clinic will tell you when to come back.", 11)
    doc.ln(2)
    doc.para(f"Source of the safety advice: {MEDICATION_GUIDE}.", 8, color=GREY)
    doc.add_page()
    doc.heading("The places on a model head (numbers: the order of the injections)", 12)
    _pictures(doc, record, VIEWS)
    return bytes(doc.output())


def write_visit_report(record: dict[str, Any], out: Path) -> Path:
    """Write the visit record PDF atomically (mode 0600)."""
    write_atomic(out, visit_report_pdf(record))
    return out


def write_handout(record: dict[str, Any], out: Path) -> Path:
    """Write the patient's handout PDF atomically (mode 0600)."""
    write_atomic(out, handout_pdf(record))
    return out
