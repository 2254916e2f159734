"""The outcome chart: headache days per month, the baseline and each treatment cycle (matplotlib, PNG).

Input is :meth:`visualizer.records.service.Records.patient_summary` (``outcomes`` and the
``assessment`` of :mod:`visualizer.records.outcomes`: baseline, cycles, NICE TA260 flags). The
chart is drawn off screen (Agg) into memory; nothing is written to disk.
"""

from __future__ import annotations

import io
from typing import Any

from visualizer.records.outcomes import EPISODIC_DAYS

WIDTH_IN, HEIGHT_IN, DPI = 4.4, 2.9, 170  # shown about 370 px wide in the side panel


def _label(month: str, first: bool = False) -> str:
    """``J`` for a month; January, July and the first month also show the year (``J\n26``)."""
    y, m = month.split("-")
    letter = "JFMAMJJASOND"[int(m) - 1]
    return f"{letter}\n{y[2:]}" if first or m in ("01", "07") else letter


def outcome_chart_png(summary: dict[str, Any]) -> bytes:
    """PNG of the diary: bars per month (baseline months grey, cycles coloured), baseline and cycle means.

    Returns ``b""`` when the patient has no diary months.
    """
    outcomes = summary.get("outcomes") or []
    if not outcomes:
        return b""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    a = summary.get("assessment") or {}
    months = sorted({o["month"] for o in outcomes} | _cycle_months(a))
    months = _continuous(months)
    days = {o["month"]: o["headache_days"] for o in outcomes}
    x = {m: i for i, m in enumerate(months)}
    baseline_months = set(a.get("baseline_months") or [])
    cycle_of = {m: c["cycle"] for c in a.get("cycles") or [] for m in c["months"]}
    palette = ["#00796b", "#f57c00", "#5e35b1", "#c2185b", "#1976d2", "#689f38"]

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    ax = fig.add_subplot()
    for m in months:
        if m not in days:
            continue
        c = cycle_of.get(m)
        if m in baseline_months:
            color = "#9e9e9e"
        elif c is None:  # a visit month or a month outside baseline and cycles: drawn, not counted
            color = "#e6e6e6"
        else:
            color = palette[(c - 1) % len(palette)]
        ax.bar(x[m], days[m], width=0.75, color=color, edgecolor="#bdbdbd" if c is None else color, zorder=2)
    base = a.get("baseline_headache_days")
    if base is not None:
        ax.axhline(base, color="#424242", lw=1.4, ls="--", zorder=3, label=f"baseline {base:g} days/month")
        ax.axhline(0.7 * base, color="#424242", lw=0.9, ls=":", zorder=3,
                   label=f"30 % below baseline ({0.7 * base:.1f})")
    ax.axhline(EPISODIC_DAYS, color="#b71c1c", lw=0.9, ls="-.", zorder=3, label=f"{EPISODIC_DAYS} days (episodic)")
    for c in a.get("cycles") or []:
        visit_month = c["visit_date"][:7]
        if visit_month in x:
            ax.axvline(x[visit_month], color="#00796b", lw=1.0, zorder=1)
            ax.text(x[visit_month] + 0.08, 0.98, f"visit {c['cycle']}", transform=ax.get_xaxis_transform(),
                    fontsize=7, va="top", color="#00695c")
        ms = [m for m in c["months"] if m in x]
        if c.get("mean_headache_days") is not None and ms:
            color = palette[(c["cycle"] - 1) % len(palette)]
            ax.plot([x[ms[0]] - 0.4, x[ms[-1]] + 0.4], [c["mean_headache_days"]] * 2, color=color, lw=2.2,
                    zorder=4, label=f"cycle {c['cycle']} mean {c['mean_headache_days']:g}")
    ax.set_xticks(range(len(months)), [_label(m, i == 0) for i, m in enumerate(months)], fontsize=7)
    ax.set_xlim(-0.6, len(months) - 0.4)
    ax.set_ylim(0, 31)
    ax.set_ylabel("headache days / month", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", color="#e0e0e0", zorder=0)
    ax.set_title(f"{summary.get('code', '')}: headache days/month (grey: baseline, pale: not counted)", fontsize=8)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", pad_inches=0.05)
    return buf.getvalue()


def _cycle_months(a: dict[str, Any]) -> set[str]:
    return {c["visit_date"][:7] for c in a.get("cycles") or []}


def _continuous(months: list[str]) -> list[str]:
    """Every month from the first to the last (gaps shown as gaps, never hidden)."""
    if not months:
        return []
    y, m = (int(p) for p in months[0].split("-"))
    out = []
    while True:
        cur = f"{y:04d}-{m:02d}"
        out.append(cur)
        if cur >= months[-1] or len(out) > 600:
            return out
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
