"""The command line, run as a user would run it (a subprocess), including every kind of bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "visualizer", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def bad(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    for n in needles:
        assert n in result.stderr, (n, result.stderr)


def test_protocols_lists_every_bundled_protocol() -> None:
    r = run("protocols")
    assert r.returncode == 0, r.stderr
    lines = {line.split()[0]: line for line in r.stdout.strip().splitlines()}
    assert set(lines) == {
        "preempt", "preempt-ftp", "glabellar", "lateral-canthal", "forehead", "masseter",
        "cd-torticollis", "cd-laterocollis", "cd-retrocollis", "cd-anterocollis", "platysma", "lower-face",
    }  # fmt: skip
    assert "31 sites   155 U" in lines["preempt"]
    assert "8 follow-the-pain sites / 40 U" in lines["preempt-ftp"]
    assert "5 sites    20 U" in lines["glabellar"] and "6 sites    24 U" in lines["lateral-canthal"]


def test_plan_json_with_pain() -> None:
    r = run("plan", "--protocol", "preempt-ftp", "--pain", "left-temporal", "right-shoulder", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["protocol"] == "preempt-ftp"
    assert d["total_units"] == 185 and len(d["sites"]) == 37
    assert d["total_volume_ml"] == pytest.approx(3.7)
    ftp = [s for s in d["sites"] if s["follow_the_pain"]]
    assert sorted((s["muscle"], s["side"]) for s in ftp) == [("temporalis", "left")] * 2 + [("trapezius", "right")] * 4
    assert all(s["side"] in ("left", "right", "midline") for s in d["sites"])
    assert {s["muscle"] for s in d["sites"]} >= {"cervical_paraspinal", "trapezius"}


def test_plan_csv_and_table() -> None:
    r = run("plan", "--protocol", "glabellar", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["id"] for row in rows[:-1]] == [
        "procerus", "corrugator_medial_right", "corrugator_lateral_right", "corrugator_medial_left", "corrugator_lateral_left",
    ]  # fmt: skip
    assert rows[-1]["id"] == "TOTAL" and rows[-1]["units"] == "20"
    t = run("plan", "--protocol", "preempt")
    assert t.returncode == 0 and "155" in t.stdout and "31 sites" in t.stdout


def test_plan_on_a_protocol_file_and_a_pain_point() -> None:
    lm = json.loads((ROOT / "meshes/landmarks.json").read_text())
    x, y, z = lm["right_mastoid"]
    r = run(
        "plan",
        "--protocol",
        str(ROOT / "protocols/preempt-ftp.yaml"),
        "--pain-point",
        str(x),
        str(y),
        str(z),
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    ftp = [s for s in d["sites"] if s["follow_the_pain"]]
    assert ftp and all(s["side"] == "right" for s in ftp)
    assert d["pain"]["point"] == pytest.approx([x, y, z])


def test_bad_inputs_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    bad(run("plan", "--protocol", "botox-everywhere"), "botox-everywhere", "preempt")
    bad(run("plan", "--protocol", "preempt", "--pain", "left-knee"), "'left-knee'", "temporal")
    broken = tmp_path / "broken.yaml"
    broken.write_text("schema: 1\nid: broken\nsites: [\n")
    bad(run("plan", "--protocol", str(broken)), "broken.yaml", "line")
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text((ROOT / "protocols/glabellar.yaml").read_text().replace("muscle: procerus", "muscle: nose", 1))
    bad(run("plan", "--protocol", str(invalid)), "invalid.yaml", "muscle", "'nose'")
    # a mesh that is not a mesh, and a landmark file without a landmark the protocol needs
    junk = tmp_path / "junk.vtp"
    junk.write_text("not a mesh")
    bad(
        run("plan", "--protocol", "preempt", "--mesh", str(junk), "--landmarks", str(ROOT / "meshes/landmarks.json")),
        "junk.vtp",
    )
    lm = json.loads((ROOT / "meshes/landmarks.json").read_text())
    del lm["right_acromion"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(lm))
    bad(
        run("plan", "--protocol", "preempt", "--mesh", str(ROOT / "meshes/head.vtp"), "--landmarks", str(partial)),
        "partial.json", "right_acromion", "trapezius",
    )  # fmt: skip
    # issue 10: --mesh without --landmarks is a scan whose landmarks are found automatically, with a warning
    auto = run("plan", "--protocol", "preempt", "--mesh", str(ROOT / "meshes/head.vtp"))
    assert auto.returncode == 0 and "landmarks found automatically on head.vtp" in auto.stderr, auto.stderr


def test_render_bad_input_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    bad(run("render", "--protocol", "nope", "--out", str(out)), "nope")
    bad(run("render", "--protocol", "preempt", "--out", str(tmp_path / "missing" / "x.png")), "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_validate_reports_every_problem(tmp_path: Path) -> None:
    ok = run("validate", str(ROOT / "protocols/preempt.yaml"))
    assert ok.returncode == 0 and "OK" in ok.stdout
    text = (ROOT / "protocols/forehead.yaml").read_text()
    text = text.replace("muscle: frontalis", "muscle: frontalus", 1).replace("schema: 1", "schema: 1\ncolour: blue", 1)
    f = tmp_path / "two-problems.yaml"
    f.write_text(text)
    r = run("validate", str(f))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "frontalus" in r.stderr and "colour" in r.stderr and "two-problems.yaml" in r.stderr


def test_check_edited_plan(tmp_path: Path) -> None:
    r = run("plan", "--protocol", "preempt", "--format", "json")
    d = json.loads(r.stdout)
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(d))
    assert run("check", str(f)).returncode == 0
    d["sites"][3]["units"] = 55
    f.write_text(json.dumps(d))
    c = run("check", str(f))
    assert c.returncode == 2 and "exceeds 50 U per site" in c.stderr and "total 205 U" in c.stderr


def test_render_shows_the_head(tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "front.png"
    r = run("render", "--protocol", "preempt-ftp", "--pain", "left-temporal", "--out", str(out), "--view", "front")
    assert r.returncode == 0, r.stderr
    img = np.asarray(Image.open(out).convert("RGB")).astype(float)
    h, w, _ = img.shape
    assert h >= 300 and w >= 300
    assert img.std() > 20  # not blank
    # skin tone (red > green > blue, fairly bright) fills a good part of the centre
    centre = img[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    r_, g_, b_ = centre[..., 0], centre[..., 1], centre[..., 2]
    skin = (r_ > g_ + 8) & (g_ > b_ + 8) & (r_ > 120)
    assert skin.mean() > 0.25, skin.mean()


def test_render_killed_never_leaves_a_partial_picture(tmp_path: Path) -> None:
    """``kill -9`` at any moment of a render: --out is absent or a complete PNG (issue 6)."""
    from PIL import Image

    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow", "PYTHONPATH": str(ROOT)}
    for delay in (0.5, 2.0, 4.0, 8.0):
        out = tmp_path / f"kill-{delay}.png"
        proc = subprocess.Popen(
            [sys.executable, "-m", "visualizer", "render", "--protocol", "preempt", "--out", str(out)],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        if out.exists():
            with Image.open(out) as img:
                img.load()  # a complete picture, or none
                assert img.size == (1800, 1200)
    assert not [p.name for p in tmp_path.iterdir() if p.stat().st_size == 0]  # no 0-byte file under any name


def test_chosen_units_in_plan_and_check(tmp_path: Path) -> None:
    r = run("plan", "--protocol", "cd-torticollis", "--dose", "scm_upper=35", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {s["id"]: s["units"] for s in d["sites"]}["scm_upper"] == 35 and d["total_units"] == 115
    f = tmp_path / "cd.json"
    f.write_text(json.dumps(d))
    assert run("check", str(f)).returncode == 0  # the chosen units are kept by the check
    # out of range: refused on the command line, naming the site and its range
    bad(
        run("plan", "--protocol", "cd-torticollis", "--dose", "scm_upper=45"),
        "--dose",
        "site scm_upper: 45 U",
        "10–40 U",
    )
    bad(run("plan", "--protocol", "cd-torticollis", "--dose", "scm_upper"), "--dose 'scm_upper': write SITE=UNITS")
    bad(run("plan", "--protocol", "cd-torticollis", "--dose", "nope=5"), "Invalid value for 'site'", "'nope'")
    # an edited plan with a dose outside its range fails its check, naming the site
    next(s for s in d["sites"] if s["id"] == "scm_upper")["units"] = 45
    next(s for s in d["sites"] if s["id"] == "scm_upper")["volume_ml"] = 0.9
    f.write_text(json.dumps(d))
    c = run("check", str(f))
    assert c.returncode == 2, c.stdout + c.stderr
    assert "ERROR: Site " in c.stdout and "45 U is outside this site's dose (10–40 U)" in c.stdout
    assert "below the ear" in c.stdout  # the site named by its place
