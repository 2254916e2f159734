"""Bounded reading of user files, short quoting, atomic writes, and the full check of a plan file."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from visualizer.atomic import atomic_path, atomic_write
from visualizer.errors import InjectVizError, PainError, PlanFileError, shorten
from visualizer.head import Head, head_from_landmarks
from visualizer.pain import PainOrigin
from visualizer.plan_file import check_plan_file, read_plan_file
from visualizer.planner import limits_of, make_plan
from visualizer.protocol import load_protocol
from visualizer.safe_read import MAX_DEPTH, load_json, load_yaml, read_text
from visualizer.safety import check_sites
from visualizer.surface import OFF_HEAD_MM

ROOT = Path(__file__).resolve().parent.parent
LAUGHS = ROOT / "tests" / "hostile" / "billion-laughs.yaml"


# ----------------------------------------------------------------------------- shorten
def test_shorten_never_expands_a_huge_or_looping_value() -> None:
    lol: list = ["lol"] * 9
    for _ in range(9):
        lol = [lol] * 9  # 9^10 strings if expanded
    loop: list = []
    loop.append(loop)
    texts = [shorten("x" * 10**8), shorten(lol), shorten(loop), shorten({"k" * 10**6: 1}), shorten(10**4000)]
    assert all(len(t) <= 80 for t in texts), texts
    assert texts[0].startswith("'xxx") and texts[0].endswith("...")
    assert shorten([1.5, "a", None]) == "[1.5, 'a', None]" and texts[2] == "[...]"


# ----------------------------------------------------------------------------- reading
def test_yaml_alias_bomb_and_deep_nesting_are_refused_before_building(tmp_path: Path) -> None:
    with pytest.raises(InjectVizError, match=r"laughs: line 9, column \d+: too large: more than 50000 values"):
        load_yaml(LAUGHS.read_text(), "laughs")
    with pytest.raises(InjectVizError, match=rf"deep: line 1, column {MAX_DEPTH + 3}: too large: nested more than 32"):
        load_yaml("a: " + "[" * 10_000 + "]" * 10_000, "deep")
    with pytest.raises(InjectVizError, match="nested more than 32 levels deep once its aliases are expanded"):
        load_yaml("a: &a " + "[" * 20 + "]" * 20 + "\nb: " + "[" * 20 + "*a" + "]" * 20, "aliased")
    with pytest.raises(InjectVizError, match=r"unreadable value.*digits"):
        load_yaml("a: " + "9" * 5000, "int")
    # ordinary aliases and merge keys still work
    assert load_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\nlist: [*b, *b]\n", "ok") == {
        "base": {"x": 1}, "other": {"x": 1, "y": 2}, "list": [{"x": 1}, {"x": 1}],
    }  # fmt: skip


def test_json_depth_and_big_numbers_are_refused() -> None:
    with pytest.raises(InjectVizError, match="nested more than 32"):
        load_json("[" * 10_000 + "]" * 10_000, "deep.json")
    assert load_json('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', "s.json") == {"a": "[" * 42}  # brackets in strings
    with pytest.raises(InjectVizError, match=r"big\.json: unreadable JSON value"):
        load_json("9" * 5000, "big.json")
    with pytest.raises(InjectVizError, match=r"bad\.json: not valid JSON \(line 1, column 2"):
        load_json("{,}", "bad.json")


def test_special_and_oversized_files_are_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    done: list[str] = []

    def read_fifo() -> None:
        with pytest.raises(InjectVizError, match=r"fifo\.yaml: cannot read file: it is a pipe \(FIFO\)"):
            read_text(fifo)
        done.append("ok")

    t = threading.Thread(target=read_fifo, daemon=True)
    t.start()
    t.join(5)
    assert done == ["ok"], "reading a FIFO blocked"
    with pytest.raises(InjectVizError, match="/dev/zero: cannot read file: it is a device"):
        read_text("/dev/zero")
    with pytest.raises(InjectVizError, match="it is a folder"):
        read_text(tmp_path)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 2000)
    with pytest.raises(InjectVizError, match=r"big\.yaml: protocol is too large \(2000 bytes; at most 1000\)"):
        read_text(big, what="protocol", max_bytes=1000)
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\x89PNG\r\n")
    with pytest.raises(InjectVizError, match=r"b\.json: file is not UTF-8 text \(byte 0x89 at offset 0\)"):
        read_text(binary)


# ----------------------------------------------------------------------------- atomic writes
def test_atomic_write_replaces_whole_files_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write(target, "first")
    old_umask = os.umask(0o022)
    os.umask(old_umask)
    assert target.read_text() == "first" and (target.stat().st_mode & 0o777) == (0o666 & ~old_umask)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the renderer crashed")
    assert target.read_text() == "first" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with pytest.raises(InjectVizError, match="is a folder"):
        atomic_write(tmp_path, b"x")
    with pytest.raises(InjectVizError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "x.txt", b"x")


def test_kill_9_during_an_atomic_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("old, complete\n")
    writer = (
        "import sys, time\n"
        "from visualizer.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp, open(tmp, 'w') as f:\n"
        "    for i in range(10_000):\n"
        "        f.write('partial row\\n'); f.flush(); time.sleep(0.01)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer, str(target)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while not [p for p in tmp_path.iterdir() if p.name.startswith(".plan.csv.")] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the temporary file is being written
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert target.read_text() == "old, complete\n"  # never a partial file under the user's name


# ----------------------------------------------------------------------------- pain point, sites
def test_pain_point_off_the_skin_is_an_error_as_in_the_app(head: Head) -> None:
    protocol = load_protocol("preempt-ftp")
    skin = head.landmarks["right_mastoid"]
    normal = head.snap(skin)[1]
    make_plan(head, protocol, PainOrigin.parse([], tuple(skin + 0.5 * OFF_HEAD_MM * normal)))  # near: accepted
    with pytest.raises(PainError, match=r"pain point \(1000, 1000, 1000\) mm is \d+\.\d mm from the skin .*at most 6 mm"):
        make_plan(head, protocol, PainOrigin.parse([], (1000, 1000, 1000)))
    with pytest.raises(PainError, match="from the skin"):
        make_plan(head, protocol, PainOrigin.parse([], tuple(skin + 2 * OFF_HEAD_MM * normal)))


def test_check_sites_never_lets_nan_or_strangers_through(head: Head) -> None:
    """The engine's own checks (used by the app too) flag what the plan-file schema would refuse."""
    protocol = load_protocol("preempt")
    plan = make_plan(head, protocol)
    sites = list(plan.sites)
    sites[3] = replace(sites[3], units=math.nan)
    sites[4] = replace(sites[4], muscle="heart")
    sites[5] = replace(sites[5], position=(1_700_000.0, 0.0, 0.0))
    sites[6] = replace(sites[6], id=sites[0].id)
    findings = check_sites(head, sites, limits_of(protocol))
    text = "\n".join(f.message for f in findings if f.severity == "error")
    assert {f.code for f in findings if f.severity == "error"} >= {"site_invalid"}
    assert f"site {plan.sites[3].id}: units must be a finite number (got nan)" in text
    assert "unknown muscle 'heart'" in text and "1700000.0, 0.0, 0.0) mm is" in text and "duplicate id" in text


# ----------------------------------------------------------------------------- plan files
def _write(tmp_path: Path, data: dict, name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_check_uses_the_landmarks_stored_in_the_plan(head: Head, tmp_path: Path) -> None:
    """A plan whose zygomatic arch was moved up is checked on that head, not the landmarks file's."""
    plan = make_plan(head, load_protocol("preempt"))
    unchanged = check_plan_file(_write(tmp_path, plan.to_dict(), "same.json"))
    assert unchanged.errors == () and unchanged.warnings == plan.warnings
    moved = head.with_landmarks({"left_zygomatic_arch": head.landmarks["left_zygomatic_arch"] + [0.0, 0.0, 30.0]})
    data = plan.to_dict()
    data["landmarks"]["left_zygomatic_arch"] = [round(float(c), 3) for c in moved.landmarks["left_zygomatic_arch"]]
    result = check_plan_file(_write(tmp_path, data))
    cautions = [w for w in result.warnings if "above the left zygomatic arch" in w]
    assert len(cautions) >= 2 and result.errors == ()
    rebuilt = head_from_landmarks(data["mesh"], data["landmarks"], source="plan.json: landmarks")
    assert rebuilt is not head and np.allclose(rebuilt.landmarks["left_zygomatic_arch"], moved.landmarks["left_zygomatic_arch"], atol=1e-3)
    assert head_from_landmarks(data["mesh"], plan.to_dict()["landmarks"], source="x") is head  # same landmarks: cached head


def test_plan_file_schema_names_site_field_and_value(head: Head, tmp_path: Path) -> None:
    data = make_plan(head, load_protocol("glabellar")).to_dict()
    data["sites"][1]["units"] = math.inf
    data["sites"][2]["normal"] = [0, 0, 7]
    data["colour"] = "blue"
    with pytest.raises(PlanFileError) as info:
        read_plan_file(_write(tmp_path, data))
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 'plan.json'}: 3 problems: ")
    assert f"sites.1 (site '{data['sites'][1]['id']}').units: Input should be a finite number (got inf)" in msg
    assert ".normal.2: Input should be less than or equal to 1 (got 7)" in msg and "colour: unknown key" in msg


def test_stale_totals_warn_and_protocol_file_must_match(head: Head, tmp_path: Path) -> None:
    data = make_plan(head, load_protocol("glabellar")).to_dict()
    data["sites"][0]["units"], data["sites"][0]["volume_ml"] = 2.0, 0.05  # 4 U per 0.1 mL
    result = check_plan_file(_write(tmp_path, data))
    assert result.errors == () and any("total_units in the file (20) is not the sites' own (18)" in w for w in result.warnings)
    data["protocol_file"] = str(ROOT / "protocols" / "forehead.yaml")
    with pytest.raises(PlanFileError, match=r"the plan says 'glabellar' but protocol_file '.*forehead\.yaml' holds 'forehead'"):
        check_plan_file(_write(tmp_path, data))
    data["protocol_file"] = "/elsewhere/glabellar.yaml"  # a plan made on another machine: the bundled id
    assert check_plan_file(_write(tmp_path, data)).errors == ()


def test_check_a_plan_made_on_another_mesh(head: Head, tmp_path: Path) -> None:
    """A plan on a moved, scaled mesh is checked on that mesh with the plan's landmarks."""
    import pyvista as pv

    from visualizer.head import load_head

    def tf(p: np.ndarray) -> np.ndarray:
        return 1.1 * np.asarray(p) + np.array([200.0, -50.0, 30.0])

    mesh_path, lm_path = tmp_path / "other.vtp", tmp_path / "other.json"
    pv.PolyData(tf(head.mesh.points), head.mesh.faces).save(mesh_path)
    lm_path.write_text(json.dumps({k: [float(c) for c in tf(v)] for k, v in head.landmarks.items()}))
    other = load_head(mesh_path, lm_path)
    data = make_plan(other, load_protocol("glabellar")).to_dict()
    lm_path.unlink()  # the plan carries its landmarks: the file is not needed any more
    assert check_plan_file(_write(tmp_path, data)).errors == ()
    data["sites"][0]["position"][1] += 40.0
    errors = check_plan_file(_write(tmp_path, data)).errors
    assert len(errors) == 1 and errors[0].startswith(f"site {data['sites'][0]['id']}: position") and "from the skin" in errors[0]
