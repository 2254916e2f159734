"""The A4 PDF reports: text read back with pdftotext, pages rasterised with pdftoppm and looked at."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import record_visit, run_cli


@pytest.fixture(autouse=True)
def _pdf_tools() -> None:
    if shutil.which("pdftotext") and shutil.which("pdftoppm"):
        return
    if os.environ.get("INJECTVIZ_REQUIRE_PDFTOOLS") == "1":
        pytest.fail("pdftotext/pdftoppm missing (Debian: apt-get install poppler-utils; scripts/test.sh installs it)")
    pytest.skip("pdftotext/pdftoppm missing (apt-get install poppler-utils)")


def _pages(pdf: Path, tmp: Path) -> list[np.ndarray]:
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp / "page")], check=True)
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(tmp.glob("page-*.png"))]


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def _red(img: np.ndarray) -> int:
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return int(((r > 150) & (g < 70) & (b < 70)).sum())


def test_visit_record_pdf(db_url, plan_file, tmp_path, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    rc, out, err = record_visit(
        capsys,
        db_url,
        plan_file,
        "--skip",
        "trapezius_3_right=patient declined",
        "--given",
        "procerus=10",
        "frontalis_1_right=10",
        "--reason",
        "strong procerus",
        "--override",
        "TEST override reason",
    )
    assert rc == 0, err
    vid = out.strip()
    pdf = tmp_path / "visit.pdf"
    rc, out, err = run_cli(capsys, "--db", db_url, "report", vid, "--out", str(pdf))
    assert rc == 0, err
    assert pdf.read_bytes()[:5] == b"%PDF-" and (pdf.stat().st_mode & 0o777) == 0o600
    text = _text(pdf)
    from visualizer.records.plan_input import load_checked_plan

    for needle in (
        "TEST-0001",
        "2026-01-05",
        "preempt",
        load_checked_plan(plan_file).protocol_hash,
        "BOTOX 100 U",
        "TESTLOT-1",
        "2027-12-31",
        "5 U per 0.1 mL",
        "Dr Test",
        "skipped: patient declined",
        "OVERRIDE: TEST override reason",
        "strong procerus",
        "Injector signature",
        "front",
        "back",
        "left",
        "right",
    ):
        assert needle in text, needle
    assert "160" in text and "155" in text  # given and planned totals
    pages = _pages(pdf, tmp_path)
    assert len(pages) == 2
    assert _red(pages[0]) > 50  # the override (and the changed rows) in red
    # page 2: four different pictures of the head, not blank (cut out of the page by their grey backdrop)
    shots = _pictures(pages[1])
    assert len(shots) == 4
    for q in shots:
        assert q.std() > 10
    h = min(q.shape[0] for q in shots)
    w = min(q.shape[1] for q in shots)
    cut = [q[:h, :w].astype(int) for q in shots]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(cut[i] - cut[j]).mean() > 3, (i, j)


def _pictures(page: np.ndarray) -> list[np.ndarray]:
    """The rendered views on a page: blocks of non-white rows and columns, top-left to bottom-right."""
    ink = (page < 245).any(axis=2)

    def runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
        out, start = [], None
        for i, v in enumerate([*mask.tolist(), False]):
            if v and start is None:
                start = i
            elif not v and start is not None:
                if i - start >= min_len:
                    out.append((start, i))
                start = None
        return out

    side = page.shape[1] // 5  # a picture is about a third of the page wide
    rows = runs(ink.mean(axis=1) > 0.3, side)
    out = []
    for r0, r1 in rows:
        for c0, c1 in runs(ink[r0:r1].mean(axis=0) > 0.5, side):
            out.append(page[r0:r1, c0:c1])
    return out


def test_handout_pdf(db_url, plan_file, tmp_path, capsys):
    run_cli(capsys, "--db", db_url, "patient", "add", "TEST-0001")
    vid = record_visit(
        capsys,
        db_url,
        plan_file,
        "--skip",
        "procerus=declined",
    )[1].strip()
    pdf = tmp_path / "handout.pdf"
    rc, _out, err = run_cli(capsys, "--db", db_url, "report", vid, "--out", str(pdf), "--handout")
    assert rc == 0, err
    text = " ".join(_text(pdf).split())
    assert "Your treatment on 2026-01-05" in text
    assert "between the eyebrows" not in text  # the skipped site is not listed
    assert "right temple" in text and "30 injections in all" in text
    assert "on or after Monday 30 March 2026" in text  # 12 weeks later
    assert "Get medical help right away" in text and "trouble swallowing" in text
    assert "TESTLOT-1" in text
    assert len(_pages(pdf, tmp_path)) == 2


def test_report_refusals(db_url, tmp_path, capsys):
    rc, _, err = run_cli(capsys, "--db", db_url, "report", "1", "--out", str(tmp_path / "x.png"))
    assert rc == 2 and "give a .pdf file name" in err
    rc, _out, err = run_cli(capsys, "--db", db_url, "report", "42", "--out", str(tmp_path / "x.pdf"))
    assert rc == 2 and "visit 42: no such visit" in err and not (tmp_path / "x.pdf").exists()
