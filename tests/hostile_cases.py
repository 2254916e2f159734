"""The hostile-input corpus for the command line (issue 6), shared by the test and the table script.

Small fixed files live in ``tests/hostile/``; everything else (deep nesting, edited plans, FIFOs,
bad meshes) is made by :func:`build_corpus` in a temporary folder. Each :class:`Case` is run as a
user would run it — a subprocess — by :func:`run_case`, which measures it.

Run ``python tests/hostile_cases.py`` for the table of every case (exit code, time, message).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXED = ROOT / "tests" / "hostile"
#: A case that runs longer than this (wall clock) is a hang: it is killed and fails. Generous, because a
#: loaded CI machine stretches wall time (one case took 59.9 s at load 17); the speed target is CPU time,
#: in benchmarks/bench_hostile.py.
HANG_S = 120.0
#: The budget of one case: CPU seconds of the command (load-independent) must stay below it.
BUDGET_S = 5.0


@dataclass(frozen=True)
class Case:
    """One hostile input: arguments (``{c}`` = corpus folder, ``{o}`` = an empty output folder)
    and the texts the one-line message must contain (file, field, value)."""

    id: str
    args: tuple[str, ...]
    needles: tuple[str, ...]


PLAN = ("plan", "--protocol", "preempt")
LM = str(ROOT / "meshes" / "landmarks.json")
MESH = str(ROOT / "meshes" / "head.vtp")

CASES: tuple[Case, ...] = (
    # --- protocol files: validate and --protocol
    Case(
        "yaml-billion-laughs-validate",
        ("validate", str(FIXED / "billion-laughs.yaml")),
        ("billion-laughs.yaml", "line 9", "aliases"),
    ),
    Case(
        "yaml-billion-laughs-protocol",
        (*PLAN[:2], str(FIXED / "billion-laughs.yaml")),
        ("billion-laughs.yaml", "aliases"),
    ),
    Case(
        "yaml-billion-laughs-extends",
        ("validate", "{c}/extends-laughs.yaml"),
        ("extends", "billion-laughs.yaml", "aliases"),
    ),
    Case(
        "yaml-recursive-alias",
        ("validate", str(FIXED / "recursive-alias.yaml")),
        ("recursive-alias.yaml", "name", "[..., ...]"),
    ),
    Case("yaml-10000-deep-validate", ("validate", "{c}/deep.yaml"), ("deep.yaml", "line 1", "nested more than 32")),
    Case("yaml-10000-deep-protocol", (*PLAN[:2], "{c}/deep.yaml"), ("deep.yaml", "nested more than 32")),
    Case("yaml-huge-value-quoted-short", ("validate", "{c}/huge-value.yaml"), ("huge-value.yaml", "muscle", "'xxxx")),
    Case("yaml-5000-digit-int", ("validate", "{c}/big-int.yaml"), ("big-int.yaml", "unreadable value", "digits")),
    Case("yaml-too-large-file", ("validate", "{c}/too-large.yaml"), ("too-large.yaml", "too large", "1048576")),
    Case("yaml-binary-file", ("validate", "{c}/binary.yaml"), ("binary.yaml", "not UTF-8", "0x89")),
    Case("protocol-dev-zero", (*PLAN[:2], "/dev/zero"), ("/dev/zero", "device", "not a regular file")),
    Case("validate-dev-zero", ("validate", "/dev/zero"), ("/dev/zero", "device")),
    Case("protocol-fifo", (*PLAN[:2], "{c}/fifo.yaml"), ("fifo.yaml", "pipe (FIFO)")),
    Case("protocol-folder", (*PLAN[:2], "{c}/folder.yaml"), ("folder.yaml", "a folder")),
    Case("protocol-dev-stdin", (*PLAN[:2], "/dev/stdin"), ("/dev/stdin", "not a regular file")),
    # --- plan files: check
    Case("check-10000-deep-json", ("check", "{c}/deep.json"), ("deep.json", "nested more than 32")),
    Case("check-binary-plan", ("check", str(FIXED / "binary-plan.json")), ("binary-plan.json", "not UTF-8", "0x89")),
    Case(
        "check-no-landmarks_file",
        ("check", "{c}/no-landmarks-file.json"),
        ("no-landmarks-file.json", "landmarks_file", "missing"),
    ),
    Case(
        "check-nan-units",
        ("check", "{c}/nan-units.json"),
        ("nan-units.json", "sites.3 (site 'frontalis_1_right').units", "finite", "nan"),
    ),
    Case(
        "check-nan-position",
        ("check", "{c}/nan-position.json"),
        ("nan-position.json", "sites.5 (site", ".position.1", "nan"),
    ),
    Case(
        "check-position-1.7km",
        ("check", "{c}/far-position.json"),
        ("far-position.json", "sites.2 (site", "position.0", "1700000"),
    ),
    Case(
        "check-position-off-skin", ("check", "{c}/off-skin.json"), ("off-skin.json", "site procerus", "from the skin")
    ),
    Case("check-muscle-heart", ("check", "{c}/heart.json"), ("heart.json", "sites.4 (site", ".muscle", "'heart'")),
    Case(
        "check-duplicate-ids",
        ("check", "{c}/duplicate-ids.json"),
        ("duplicate-ids.json", "site procerus", "duplicate id"),
    ),
    Case(
        "check-1500U-over-30-sites",
        ("check", "{c}/1500-units.json"),
        ("1500-units.json", "total 1505 U", "155 U per session", "400 U cumulative"),
    ),
    Case(
        "check-1500U-one-nan",
        ("check", "{c}/1500-units-nan.json"),
        ("1500-units-nan.json", "sites.7 (site", ".units", "finite", "nan"),
    ),
    Case(
        "check-one-site-55U", ("check", "{c}/55-units.json"), ("55-units.json", "exceeds 50 U per site", "total 205 U")
    ),
    Case(
        "check-ftp-caps",
        ("check", "{c}/ftp-caps.json"),
        ("ftp-caps.json", "follow-the-pain sites exceed the protocol's 8", "cap"),
    ),
    Case("check-volume-mismatch", ("check", "{c}/volume.json"), ("volume.json", "site procerus", "volume_ml 9")),
    Case(
        "check-landmark-moved-off-skin",
        ("check", "{c}/landmark-off.json"),
        ("landmark-off.json", "landmarks", "nasion"),
    ),
    Case("check-landmark-nan", ("check", "{c}/landmark-nan.json"), ("landmark-nan.json", "landmarks.nasion", "nan")),
    Case("check-pain-point-off-head", ("check", "{c}/pain-off.json"), ("pain-off.json", "pain.point", "from the skin")),
    Case("check-huge-id-quoted-short", ("check", "{c}/huge-id.json"), ("huge-id.json", "sites.0", ".id", "'yyyy")),
    Case("check-5000-digit-int", ("check", "{c}/big-int.json"), ("big-int.json", "unreadable JSON value", "digits")),
    Case("check-top-level-list", ("check", "{c}/list.json"), ("list.json", "JSON object", "list")),
    Case("check-dev-zero", ("check", "/dev/zero"), ("/dev/zero", "device")),
    Case("check-folder", ("check", "{c}"), ("a folder",)),
    # --- render and plan options
    Case(
        "render-size-minus-5",
        ("render", *PLAN[1:], "--out", "{o}/x.png", "--size", "-5", "-5"),
        ("--size", "16–4096", "[-5, -5]"),
    ),
    Case("render-size-0", ("render", *PLAN[1:], "--out", "{o}/x.png", "--size", "0", "0"), ("--size", "[0, 0]")),
    Case(
        "render-size-absurd",
        ("render", *PLAN[1:], "--out", "{o}/x.png", "--size", "100000", "100000"),
        ("--size", "[100000, 100000]"),
    ),
    Case("render-out-folder", ("render", *PLAN[1:], "--out", "{o}"), ("--out", "give a .png file name")),
    Case(
        "render-out-folder-named-png",
        ("render", *PLAN[1:], "--out", "{c}/folder.png"),
        ("--out", "folder.png", "is a folder"),
    ),
    Case(
        "render-out-missing-folder",
        ("render", *PLAN[1:], "--out", "{o}/missing/x.png"),
        ("--out", "missing", "does not exist"),
    ),
    Case(
        "plan-pain-point-1000",
        (*PLAN, "--pain-point", "1000", "1000", "1000"),
        ("pain point (1000, 1000, 1000)", "from the skin", "at most 6 mm"),
    ),
    Case(
        "render-pain-point-1000",
        ("render", *PLAN[1:], "--out", "{o}/x.png", "--pain-point", "1000", "1000", "1000"),
        ("pain point", "from the skin"),
    ),
    Case("plan-pain-point-nan", (*PLAN, "--pain-point", "nan", "0", "0"), ("--pain-point", "nan")),
    Case(
        "plan-size-not-a-number", ("render", *PLAN[1:], "--out", "{o}/x.png", "--size", "big", "2"), ("--size", "'big'")
    ),
    # --- meshes and landmarks (VTK's own output must not show)
    Case(
        "mesh-junk-vtp", (*PLAN, "--mesh", "{c}/junk.vtp", "--landmarks", LM), ("junk.vtp", "cannot read mesh", "XML")
    ),
    Case(
        "mesh-truncated-vtp",
        (*PLAN, "--mesh", "{c}/truncated.vtp", "--landmarks", LM),
        ("truncated.vtp", "cannot read mesh"),
    ),
    Case(
        "mesh-random-ply",
        (*PLAN, "--mesh", "{c}/random.ply", "--landmarks", LM),
        ("random.ply", "cannot read mesh", "vtkPLYReader"),
    ),
    Case(
        "mesh-random-stl",
        (*PLAN, "--mesh", "{c}/random.stl", "--landmarks", LM),
        ("random.stl", "cannot read mesh", "vtkSTLReader"),
    ),
    Case("mesh-empty-stl", (*PLAN, "--mesh", "{c}/empty.stl", "--landmarks", LM), ("empty.stl", "mesh")),
    Case("mesh-dev-zero", (*PLAN, "--mesh", "/dev/zero", "--landmarks", LM), ("/dev/zero", "mesh file", "device")),
    Case("mesh-folder", (*PLAN, "--mesh", "{c}/folder.vtp", "--landmarks", LM), ("folder.vtp", "a folder")),
    Case(
        "landmarks-dev-zero",
        (*PLAN, "--mesh", MESH, "--landmarks", "/dev/zero"),
        ("/dev/zero", "landmarks file", "device"),
    ),
    Case(
        "landmarks-10000-deep",
        (*PLAN, "--mesh", MESH, "--landmarks", "{c}/deep.json"),
        ("deep.json", "nested more than 32"),
    ),
    Case(
        "landmarks-nan",
        (*PLAN, "--mesh", MESH, "--landmarks", "{c}/landmarks-nan.json"),
        ("landmarks-nan.json", "'nasion'", "[nan, 0, 0]"),
    ),
    # --- head scans: `landmarks SCAN` and `plan --mesh SCAN` without --landmarks (issue 10)
    Case("scan-empty-stl", ("landmarks", "{c}/empty.stl", "--out", "{o}/lm.json"), ("empty.stl", "scan")),
    Case(
        "scan-random-ply",
        ("landmarks", "{c}/random.ply", "--out", "{o}/lm.json"),
        ("random.ply", "cannot read the scan", "vtkPLYReader"),
    ),
    Case("scan-junk-obj", ("landmarks", "{c}/junk.obj", "--out", "{o}/lm.json"), ("junk.obj", "scan")),
    Case(
        "scan-3M-triangles-ply",
        ("landmarks", "{c}/3M.ply", "--out", "{o}/lm.json"),
        ("3M.ply", "3,000,000 triangles", "at most 2,000,000"),
    ),
    Case(
        "scan-tiny-10-triangles",
        ("landmarks", "{c}/tiny.stl", "--out", "{o}/lm.json"),
        ("tiny.stl", "only 12 triangles", "at least 1000"),
    ),
    Case(
        "scan-absurd-size",
        ("landmarks", "{c}/huge-head.ply", "--out", "{o}/lm.json"),
        ("huge-head.ply", "across", "no unit (mm, cm, m) makes that a head"),
    ),
    Case(
        "scan-wrong-units",
        ("landmarks", MESH, "--units", "m", "--out", "{o}/lm.json"),
        ("head.vtp", "in m the scan is", "wrong --units"),
    ),
    Case(
        "scan-wrong-type",
        ("landmarks", "{c}/scan.txt", "--out", "{o}/lm.json"),
        ("scan.txt", "scan type '.txt'", ".stl"),
    ),
    Case("scan-out-not-json", ("landmarks", MESH, "--out", "{o}/lm.txt"), ("--out", "lm.txt", ".json")),
    Case(
        "plan-scan-absurd-size",
        (*PLAN, "--mesh", "{c}/huge-head.ply"),
        ("huge-head.ply", "no unit (mm, cm, m) makes that a head"),
    ),
    # --- body types of the bundled head (issue 10)
    Case("plan-sex-1.5", (*PLAN, "--sex", "1.5"), ("--sex 1.5", "out of range", "0 to 1")),
    Case("plan-age-150", (*PLAN, "--age", "150"), ("--age 150", "18 to 90", "years")),
    Case("plan-age-17", (*PLAN, "--age", "17"), ("--age 17", "18 to 90")),
    Case("plan-age-nan", (*PLAN, "--age", "nan"), ("--age nan", "18 to 90")),
    Case("plan-muscle-inf", (*PLAN, "--muscle", "inf"), ("--muscle inf", "0 to 1")),
    Case("plan-weight-not-a-number", (*PLAN, "--weight", "heavy"), ("--weight", "'heavy'")),
    Case(
        "render-weight-minus",
        ("render", *PLAN[1:], "--out", "{o}/x.png", "--weight", "-0.1"),
        ("--weight -0.1", "0 to 1"),
    ),
    Case(
        "plan-body-with-mesh",
        (*PLAN, "--sex", "1", "--mesh", MESH, "--landmarks", LM),
        ("body-type options", "bundled head only"),
    ),
    Case(
        "head-make-age-10",
        ("head", "make", "--age", "10", "--out", "{o}/h.ply", "--landmarks-out", "{o}/h.json"),
        ("--age 10", "18 to 90"),
    ),
    Case(
        "head-make-out-txt",
        ("head", "make", "--out", "{o}/h.txt", "--landmarks-out", "{o}/h.json"),
        ("--out", "h.txt", ".ply"),
    ),
    Case(
        "head-make-landmarks-missing-folder",
        ("head", "make", "--sex", "1", "--out", "{o}/h.ply", "--landmarks-out", "{o}/missing/h.json"),
        ("--landmarks-out", "missing", "does not exist"),
    ),
    Case(
        "head-make-same-file",
        ("head", "make", "--out", "{o}/h.ply", "--landmarks-out", "{o}/h.ply"),
        ("--landmarks-out", ".json"),
    ),
    Case("check-body-type-age-200", ("check", "{c}/body-age-200.json"), ("body-age-200.json", "body_type.age", "200")),
    Case(
        "check-body-type-unknown-key",
        ("check", "{c}/body-height.json"),
        ("body-height.json", "body_type.height", "unknown key"),
    ),
    Case(
        "check-body-type-no-blend",
        ("check", "{c}/body-no-blend.json"),
        ("body-no-blend.json", "body_type", "ethnic blend"),
    ),
    Case(
        "check-body-type-dropped",
        ("check", "{c}/body-dropped.json"),
        ("body-dropped.json", "landmarks", "off the skin"),
    ),
)


def _edited(base: dict, out: Path, edit) -> None:  # type: ignore[no-untyped-def]
    d = json.loads(json.dumps(base))
    edit(d)
    out.write_text(json.dumps(d))  # NaN is written as the JSON extension NaN, as Python reads it


def build_corpus(c: Path) -> None:
    """Write every generated hostile input into folder ``c``."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    from visualizer.head import load_head
    from visualizer.pain import PainOrigin
    from visualizer.planner import make_plan
    from visualizer.protocol import load_protocol

    c.mkdir(parents=True, exist_ok=True)
    (c / "deep.yaml").write_text("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    (c / "deep.json").write_text("[" * 10_000 + "]" * 10_000)
    (c / "extends-laughs.yaml").write_text(f"extends: {FIXED / 'billion-laughs.yaml'}\nid: extends-laughs\n")
    glabellar = (ROOT / "protocols" / "glabellar.yaml").read_text()
    (c / "huge-value.yaml").write_text(glabellar.replace("muscle: procerus", "muscle: " + "x" * 500_000, 1))
    (c / "big-int.yaml").write_text("schema: " + "9" * 5000 + "\n")
    (c / "too-large.yaml").write_text("# padding\n" * 200_000)
    (c / "binary.yaml").write_bytes((FIXED / "binary-plan.json").read_bytes())
    (c / "big-int.json").write_text('{"protocol": ' + "9" * 5000 + "}")
    (c / "list.json").write_text("[1, 2, 3]")
    for name in ("folder.yaml", "folder.png", "folder.vtp"):
        (c / name).mkdir(exist_ok=True)
    if not (c / "fifo.yaml").exists():
        os.mkfifo(c / "fifo.yaml")
    mesh_bytes = (ROOT / "meshes" / "head.vtp").read_bytes()
    (c / "junk.vtp").write_text("not a mesh\n")
    (c / "truncated.vtp").write_bytes(mesh_bytes[:20_000])
    rnd = bytes((i * 7919 + 13) % 251 for i in range(3000))  # deterministic noise
    (c / "random.ply").write_bytes(b"ply\n" + rnd)
    (c / "random.stl").write_bytes(rnd)
    (c / "empty.stl").write_bytes(b"")
    (c / "junk.obj").write_text("v 1 2\nf 1 2 3 4 5\nnot an obj\n")
    (c / "scan.txt").write_text("v 0 0 0\n")
    header = "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
    header += "property float z\nelement face 3000000\nproperty list uchar int vertex_indices\nend_header\n"
    (c / "3M.ply").write_bytes(header.encode() + bytes(36))
    import pyvista as pv

    pv.Cube().triangulate().save(c / "tiny.stl")
    huge = pv.read(MESH)
    pv.PolyData(huge.points * 1e5, huge.faces).save(c / "huge-head.ply", binary=True)
    lm = json.loads(Path(LM).read_text())
    (c / "landmarks-nan.json").write_text(json.dumps({**lm, "nasion": [math.nan, 0, 0]}))

    head = load_head()
    base = make_plan(head, load_protocol("preempt"), PainOrigin()).to_dict()
    ftp_base = make_plan(head, load_protocol("preempt-ftp"), PainOrigin.parse(["left-temporal"])).to_dict()

    def set_site(i: int, **kv):  # type: ignore[no-untyped-def]
        return lambda d: d["sites"][i].update(kv)

    _edited(base, c / "no-landmarks-file.json", lambda d: d.pop("landmarks_file"))
    _edited(base, c / "nan-units.json", set_site(3, units=math.nan))
    _edited(base, c / "nan-position.json", lambda d: d["sites"][5]["position"].__setitem__(1, math.nan))
    _edited(base, c / "far-position.json", set_site(2, position=[1_700_000.0, 0.0, 0.0]))
    _edited(
        base, c / "off-skin.json", lambda d: d["sites"][0]["position"].__setitem__(1, d["sites"][0]["position"][1] + 50)
    )
    _edited(base, c / "heart.json", set_site(4, muscle="heart"))
    _edited(base, c / "duplicate-ids.json", set_site(1, id="procerus"))
    _edited(base, c / "volume.json", set_site(0, volume_ml=9.0))

    def fifty_units(d: dict) -> None:
        for s in d["sites"][:30]:
            s["units"], s["volume_ml"] = 50.0, 1.0  # the protocol's 5 U per 0.1 mL

    _edited(base, c / "1500-units.json", fifty_units)
    _edited(base, c / "1500-units-nan.json", lambda d: (fifty_units(d), d["sites"][7].update(units=math.nan)))
    _edited(base, c / "55-units.json", set_site(3, units=55.0, volume_ml=1.1))

    def ten_ftp(d: dict) -> None:
        n = 0
        for s in d["sites"]:
            if s["muscle"] in ("temporalis", "trapezius", "occipitalis") and not s["follow_the_pain"]:
                s["follow_the_pain"] = True
                n += 1
        assert n > 8

    _edited(ftp_base, c / "ftp-caps.json", ten_ftp)
    _edited(
        base,
        c / "landmark-off.json",
        lambda d: d["landmarks"]["nasion"].__setitem__(1, d["landmarks"]["nasion"][1] + 80),
    )
    _edited(base, c / "landmark-nan.json", lambda d: d["landmarks"]["nasion"].__setitem__(0, math.nan))
    _edited(
        base, c / "pain-off.json", lambda d: d.__setitem__("pain", {"regions": [], "point": [1000.0, 1000.0, 1000.0]})
    )
    _edited(base, c / "huge-id.json", set_site(0, id="y" * 1_000_000))

    from visualizer.body_type import BodyType
    from visualizer.head import body_head

    body = make_plan(
        body_head(BodyType(sex=1.0, age=70.0, weight=1.0)), load_protocol("preempt"), PainOrigin()
    ).to_dict()
    _edited(body, c / "body-age-200.json", lambda d: d["body_type"].__setitem__("age", 200))
    _edited(body, c / "body-height.json", lambda d: d["body_type"].__setitem__("height", 1.0))
    _edited(body, c / "body-no-blend.json", lambda d: d["body_type"].update(african=0, asian=0, caucasian=0))
    _edited(body, c / "body-dropped.json", lambda d: d.pop("body_type"))  # its landmarks then miss today's head


@dataclass(frozen=True)
class Result:
    """What one case did."""

    code: int | None  # None: killed after HANG_S
    wall_s: float
    cpu_s: float
    stdout: str
    stderr: str
    written: tuple[str, ...]  # files that appeared in the output folder or the corpus


def _listing(*folders: Path) -> set[str]:
    return {str(p) for f in folders for p in f.rglob("*")}


def run_case(case: Case, corpus: Path, out: Path) -> Result:
    """Run one case as a subprocess (no stdin), killed after :data:`HANG_S`; measure its wall time
    and its own CPU time (``wait4``), so that cases may run side by side."""
    args = [a.replace("{c}", str(corpus)).replace("{o}", str(out)) for a in case.args]
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow", "PYTHONPATH": str(ROOT)}
    out.mkdir(parents=True, exist_ok=True)
    before = _listing(out, corpus)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "visualizer", *args],
        cwd=out, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    streams: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda n=n, f=f: streams.__setitem__(n, f.read()), daemon=True)
        for n, f in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for t in readers:
        t.start()
    killer = threading.Timer(HANG_S, proc.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; tell Popen
    hung = wall >= HANG_S
    for t in readers:
        t.join(5)
    written = tuple(sorted(_listing(out, corpus) - before))
    return Result(
        None if hung else proc.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        streams.get("out", b"").decode(errors="replace"),
        streams.get("err", b"").decode(errors="replace"),
        written,
    )


def run_all(corpus: Path, outs: Path, workers: int = 2) -> dict[str, Result]:
    """Every case, ``workers`` at a time (each case's CPU time is its own)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {c.id: pool.submit(run_case, c, corpus, outs / c.id) for c in CASES}
        return {k: f.result() for k, f in futures.items()}


def main() -> int:
    """Print the table of every case: exit code, wall and CPU time, the message."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        build_corpus(corpus)
        print("| case | exit | wall s | CPU s | stderr lines | message (cut at 150 chars) |")
        print("| --- | --- | --- | --- | --- | --- |")
        results = run_all(corpus, Path(tmp) / "out")
        for case in CASES:
            r = results[case.id]
            msg = r.stderr.strip().replace(str(corpus), "CORPUS").replace(str(ROOT), "ROOT").replace("|", "\\|")
            lines = len(r.stderr.strip().splitlines())
            print(f"| {case.id} | {r.code} | {r.wall_s:.2f} | {r.cpu_s:.2f} | {lines} | {msg[:150]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
