"""A printable figure of a plan: a rendered view with title, totals, legend and safety findings.

The picture of the view comes in as PNG bytes (rendered by whoever chose the camera: the web app
or the CLI); this module only lays it out with text, so camera handling and composition stay
apart. Pillow draws the text with its bundled font (no system fonts needed, nothing downloaded).
"""

from __future__ import annotations

import datetime as _dt
import io
import textwrap
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from visualizer.plan import DISCLAIMER, Plan
from visualizer.scene import muscle_color
from visualizer.words import muscle_words

MARGIN = 40
INK = (25, 25, 30)
MUTED = (95, 95, 105)
WARN = (185, 20, 20)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


_GLYPHS = str.maketrans({"\u2014": "-", "\u2013": "-", "\u2022": "-", "\u2265": ">=", "\u2264": "<=",
                         "\u2192": "->", "\u00b7": "-"})


def _plain(text: str) -> str:
    """Text the bundled font can draw (dashes, bullets and comparison signs as ASCII)."""
    return str(text).translate(_GLYPHS)


def _num(v: float) -> str:
    return f"{v:g}"


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width_px: int) -> list[str]:
    """Greedy word wrap to ``width_px``."""
    avg = max(1.0, draw.textlength("abcdefghij", font=font) / 10)
    return textwrap.wrap(_plain(text), width=max(10, int(width_px / avg))) or [""]


def compose_figure(view_png: bytes, plan: Plan, *, pain: str = "", date: str | None = None,
                   subtitle_lines: Sequence[str] = ()) -> bytes:
    """The view plus title, totals, pain origin, legend per muscle, safety findings and the
    disclaimer, as PNG bytes (width of the view, at least 1200 px)."""
    view = Image.open(io.BytesIO(view_png)).convert("RGB")
    width = max(1200, view.width)
    if view.width != width:
        view = view.resize((width, round(view.height * width / view.width)))
    scratch = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    f_title, f_big, f_text, f_small = _font(40), _font(28), _font(24), _font(19)
    inner = width - 2 * MARGIN

    # header lines: (text, font, colour)
    header: list[tuple[str, object, tuple[int, int, int]]] = []
    for line in _wrap(scratch, plan.protocol_name, f_title, inner):
        header.append((line, f_title, INK))
    ftp = len(plan.ftp_sites)
    totals = (f"{plan.total_sites} sites   {_num(plan.total_units)} U   {_num(plan.total_volume_ml)} mL"
              + (f"   ({ftp} follow-the-pain)" if ftp else ""))
    header.append((totals, f_big, INK))
    for line in [f"Pain origin: {pain}" if pain else "", *subtitle_lines]:
        if line:
            header.extend((ln, f_text, MUTED) for ln in _wrap(scratch, line, f_text, inner))

    # legend: one entry per muscle of the plan, in two columns
    entries = [(muscle_words(m), t, muscle_color(m)) for m, t in plan.per_muscle.items()]
    col_w = inner // 2
    row_h = 36
    legend_h = row_h * ((len(entries) + 1) // 2) + (row_h if ftp else 0)

    findings = plan.safety_findings
    f_lines: list[tuple[str, object, tuple[int, int, int]]] = []
    if findings:
        f_lines.append((f"Safety warning{'s' if len(findings) > 1 else ''} ({len(findings)}):", f_big, WARN))
        for f in findings:
            wrapped = _wrap(scratch, f.message, f_text, inner - 24)
            f_lines.extend((("- " if i == 0 else "  ") + ln, f_text, WARN) for i, ln in enumerate(wrapped))
    foot = [*_wrap(scratch, DISCLAIMER, f_small, inner)]
    stamp = f"InjectViz - {date or _dt.date.today().isoformat()} - model head, not a patient record"

    def h_of(lines: Sequence[tuple[str, object, tuple[int, int, int]]]) -> int:
        return sum(int(getattr(fn, "size", 20) * 1.35) for _, fn, _ in lines)

    head_h = MARGIN + h_of(header) + 16
    body_h = 20 + legend_h + 16 + h_of(f_lines) + (16 if f_lines else 0)
    foot_h = int(len(foot) * 19 * 1.35) + 30 + MARGIN
    img = Image.new("RGB", (width, head_h + view.height + body_h + foot_h), "white")
    d = ImageDraw.Draw(img)
    y = MARGIN
    for text, fn, col in header:
        d.text((MARGIN, y), text, font=fn, fill=col)
        y += int(getattr(fn, "size", 20) * 1.35)
    img.paste(view, (0, head_h))
    y = head_h + view.height + 20
    for i, (name, t, rgb) in enumerate(entries):
        x = MARGIN + (i % 2) * col_w
        yy = y + (i // 2) * row_h
        d.ellipse((x, yy + 4, x + 22, yy + 26), fill=tuple(rgb), outline=(60, 60, 60))
        d.text((x + 34, yy), f"{name}: {t.sites} site{'s' if t.sites != 1 else ''}, {_num(t.units)} U",
               font=f_text, fill=INK)
    if ftp:
        yy = y + ((len(entries) + 1) // 2) * row_h
        d.ellipse((MARGIN, yy + 4, MARGIN + 22, yy + 26), outline=(20, 20, 24), width=4)
        d.text((MARGIN + 34, yy), "follow-the-pain site (ring around the marker)", font=f_text, fill=INK)
    y += legend_h + 16
    for text, fn, col in f_lines:
        d.text((MARGIN, y), text, font=fn, fill=col)
        y += int(getattr(fn, "size", 20) * 1.35)
    y = head_h + view.height + body_h
    d.line((MARGIN, y, width - MARGIN, y), fill=(200, 200, 200), width=2)
    y += 12
    for ln in foot:
        d.text((MARGIN, y), ln, font=f_small, fill=MUTED)
        y += int(19 * 1.35)
    d.text((MARGIN, y + 4), stamp, font=f_small, fill=MUTED)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
