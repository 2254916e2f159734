"""``pip install .`` (not editable) gives a working ``injectviz``: the wheel carries the bundled
head and protocols, and the installed package finds them (issue 6, packaging).

The wheel is built from a copy of the source tree without build isolation (no download), installed
with ``--no-deps`` into a fresh venv that borrows this venv's site-packages for the heavy
dependencies through a ``.pth`` line — which adds the folder to ``sys.path`` without running its
``.pth`` files, so this checkout's editable install stays invisible. The commands run outside the
checkout, without PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "visualizer", "meshes", "protocols")

# building the wheel and installing it into a fresh venv (each step bounded at 300 s) runs inside
# the first test's setup: a longer bound than the suite's 300 s per test
pytestmark = pytest.mark.timeout(900)


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (cmd, r.stdout[-2000:], r.stderr[-4000:])
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(dist),
            str(src),
        ],
        tmp,
    )
    wheel = next(dist.glob("injectviz-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "visualizer/meshes/head.vtp",
        "visualizer/meshes/landmarks.json",
        "visualizer/protocols/preempt.yaml",
    } <= names

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp)
    py = venv / "bin" / "python"
    purelib = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_injectviz_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)], tmp
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"
    return venv, env


def test_installed_package_is_not_the_checkout(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    venv, env = installed
    code = "import visualizer.head as h, visualizer.protocol as p; print(h.__file__); print(h.MESH_DIR); print(p.PROTOCOLS_DIR)"
    lines = _run([str(venv / "bin" / "python"), "-c", code], tmp_path, env).stdout.split()
    for line in lines:
        assert Path(line).resolve().is_relative_to(venv.resolve()), lines  # nothing read from the checkout


def test_installed_injectviz_lists_plans_and_renders(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    venv, env = installed
    exe = str(venv / "bin" / "injectviz")
    listing = _run([exe, "protocols"], tmp_path, env).stdout
    assert {line.split()[0] for line in listing.splitlines()} == {
        "preempt", "preempt-ftp", "glabellar", "lateral-canthal", "forehead", "masseter",
        "cd-torticollis", "cd-laterocollis", "cd-retrocollis", "cd-anterocollis", "platysma", "lower-face",
    }  # fmt: skip
    plan = json.loads(
        _run(
            [exe, "plan", "--protocol", "preempt-ftp", "--pain", "left-temporal", "--format", "json"], tmp_path, env
        ).stdout
    )
    assert plan["total_units"] == 165 and plan["mesh"] == ""  # the bundled head: no path in a plan
    out = tmp_path / "front.png"
    _run(
        [exe, "render", "--protocol", "glabellar", "--view", "front", "--size", "320", "240", "--out", str(out)],
        tmp_path,
        env,
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front.png"]  # no temporary file left
