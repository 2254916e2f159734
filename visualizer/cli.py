"""Command line: ``python -m visualizer {protocols,plan,render,validate,check,head}`` (or ``injectviz``).

Bad input — a malformed or hostile file, an option out of range, an overdose in an edited plan —
prints ONE line on stderr naming the file, field and value, exits with code 2 and writes nothing.
Reports (``validate``'s problems, ``check``'s warnings and errors) go to stdout, one per line.
Every file written (``render --out``) is written atomically.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from visualizer.checks import finite_point
from visualizer.errors import InjectVizError, shorten
from visualizer.records import cli as records_cli

EXIT_BAD_INPUT = 2
VIEWS = ("front", "back", "left", "right", "top", "all")
#: Longest error line printed (values inside it are already cut short; this only bounds the list).
MAX_ERROR_LINE = 2000


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error style: one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"error: {_one_line(message)} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="python -m visualizer" if Path(sys.argv[0]).name == "__main__.py" else "injectviz",
        description="InjectViz: protocol-defined injection sites on a 3D head (planning and teaching aid).",
    )
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    records_cli.add_global_options(ap)

    sub.add_parser("protocols", help="list the bundled protocols: id, name, sites, units")

    def body_args(p: argparse.ArgumentParser) -> None:
        g = p.add_argument_group("body type of the bundled head (defaults: today's head)")
        g.add_argument("--sex", type=float, metavar="0..1", help="0 female … 1 male (default 0.5)")
        g.add_argument("--age", type=float, metavar="YEARS", help="18–90 years (default 25)")
        g.add_argument("--weight", type=float, metavar="0..1", help="0 minimum … 1 maximum (default 0.5)")
        g.add_argument("--muscle", type=float, metavar="0..1", help="0 minimum … 1 maximum (default 0.5)")

    def plan_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--protocol", required=True, help="bundled protocol id (see `protocols`) or a YAML file")
        p.add_argument(
            "--pain",
            nargs="+",
            default=[],
            metavar="REGION",
            help="pain origin region(s): frontal temporal occipital neck shoulder, optionally left-/right-",
        )
        p.add_argument(
            "--pain-point",
            nargs=3,
            type=float,
            metavar=("X", "Y", "Z"),
            help="pain origin point on the skin (at most 6 mm off it), mesh coordinates in mm",
        )
        p.add_argument("--no-ftp", action="store_true", help="do not add follow-the-pain sites")
        p.add_argument(
            "--dose", action="append", default=[], metavar="SITE=U",
            help="units chosen at one site within its dose range (repeatable; site ids as in --format json)",
        )  # fmt: skip
        p.add_argument(
            "--mesh", type=Path,
            help="head mesh or scan (STL, OBJ, PLY, VTP, glTF); without --landmarks, landmarks are found automatically",
        )  # fmt: skip
        p.add_argument(
            "--landmarks", type=Path,
            help="landmarks JSON for --mesh (name → [x, y, z] mm, or the file `landmarks` writes)",
        )  # fmt: skip
        p.add_argument(
            "--units", choices=("auto", "mm", "cm", "m"), default=None,
            help="unit of --mesh's coordinates when it is a scan (default: auto from its size)",
        )  # fmt: skip
        body_args(p)

    p = sub.add_parser("plan", help="print the plan")
    plan_args(p)
    p.add_argument("--format", choices=("json", "csv", "table"), default="table")

    r = sub.add_parser("render", help="render the plan offscreen to a PNG")
    plan_args(r)
    r.add_argument("--out", type=Path, required=True, help="output PNG (written atomically)")
    r.add_argument("--view", choices=VIEWS, default="all")
    r.add_argument("--size", type=int, nargs=2, default=None, metavar=("W", "H"), help="16–4096 pixels each")

    lm = sub.add_parser("landmarks", help="find the landmarks on a head scan and write them as JSON")
    lm.add_argument("scan", type=Path, help="head scan: STL, OBJ, PLY, VTP/VTK, glTF/GLB; any position and unit")
    lm.add_argument("--out", type=Path, required=True, help="landmarks JSON (written atomically)")
    lm.add_argument("--units", choices=("auto", "mm", "cm", "m"), default="auto", help="the scan's unit")

    v = sub.add_parser("validate", help="check a protocol file and report every problem")
    v.add_argument("file", type=Path)

    h = sub.add_parser("head", help="the bundled head: write it reshaped to a body type")
    hsub = h.add_subparsers(dest="head_command", required=True, parser_class=_Parser)
    hm = hsub.add_parser("make", help="write the head (mm, its head frame) and its landmarks")
    body_args(hm)
    hm.add_argument("--out", type=Path, required=True, help="mesh file: .ply (or .vtp, keeps normals and muscle map)")
    hm.add_argument("--landmarks-out", type=Path, required=True, help="landmarks JSON (name → [x, y, z] mm)")

    c = sub.add_parser("check", help="re-run every check on a (possibly edited) plan JSON, on the plan's own head")
    c.add_argument("file", type=Path)
    records_cli.add_commands(sub)  # patient, visit, diary, report, export, db (visualizer/records/cli.py)
    return ap


def _one_line(message: str) -> str:
    """A message as one line of bounded length."""
    parts = [part.strip() for part in str(message).splitlines() if part.strip()]
    text = "".join(p + ("" if i == len(parts) - 1 else " " if p.endswith(":") else "; ") for i, p in enumerate(parts))
    return text if len(text) <= MAX_ERROR_LINE else text[: MAX_ERROR_LINE - 3] + "..."


def _summary(path: Path, items: Sequence[str], noun: str) -> str:
    """``FILE: N problems: a; b; …`` with the file name said once."""
    prefix = f"{path}: "
    parts = [i[len(prefix) :] if i.startswith(prefix) else i for i in items]
    plural = noun if len(items) == 1 else noun + "s"
    return f"{path}: {len(items)} {plural}: " + "; ".join(parts)


# ----------------------------------------------------------------------------- option checks
def _body_type(args: argparse.Namespace):  # -> BodyType | None
    """The body-type flags as a :class:`~visualizer.body_type.BodyType` (None when none given)."""
    from visualizer.body_type import body_type_from_options

    return body_type_from_options(sex=args.sex, age=args.age, weight=args.weight, muscle=args.muscle)


def _check_plan_options(args: argparse.Namespace) -> None:
    """Options of ``plan``/``render`` that can be checked before any file is read."""
    _body_type(args)
    if args.pain_point is not None:
        finite_point(args.pain_point, name="--pain-point", error=InjectVizError)


def _p(path: Path) -> str:
    """A path as shown in a message (a hostile, huge one cut short)."""
    text = str(path)
    return text if len(text) <= 300 and text.isprintable() else shorten(text, 300)


def _check_render_options(args: argparse.Namespace) -> None:
    from visualizer.atomic import check_target
    from visualizer.checks import check_image_size

    out: Path = args.out
    if out.suffix.lower() != ".png":
        raise InjectVizError(f"--out {_p(out)}: the picture is written as PNG; give a .png file name")
    check_target(out, label=f"--out {_p(out)}")
    check_image_size(args.size, what="--size")


# ----------------------------------------------------------------------------- commands
def _build_plan(args: argparse.Namespace):
    from visualizer.protocol import load_protocol

    _check_plan_options(args)
    protocol = load_protocol(args.protocol)  # before VTK is imported: a bad file is answered at once

    from visualizer.head import load_head
    from visualizer.pain import PainOrigin
    from visualizer.planner import make_plan

    pain = PainOrigin.parse(args.pain, args.pain_point)
    chosen = _chosen_units(args.dose)
    problems = protocol.units_problems(chosen)
    if chosen and problems:
        raise InjectVizError(f"--dose: {'; '.join(problems)}")
    if args.mesh is not None and (args.landmarks is None or args.units is not None or _is_scan_file(args.landmarks)):
        if _body_type(args) is not None:
            raise InjectVizError("body-type options reshape the bundled head only, not a scan (--mesh); drop one")
        head = _scan_head(args)
    else:
        head = load_head(args.mesh, args.landmarks, body_type=_body_type(args))
    return head, make_plan(head, protocol, pain, follow_the_pain=not args.no_ftp, units=chosen)


def _chosen_units(items: Sequence[str]) -> dict[str, float]:
    """``--dose SITE=U`` values → {site id: units} (InjectVizError naming a malformed one)."""
    out: dict[str, float] = {}
    for item in items:
        sid, eq, value = item.partition("=")
        try:
            units = float(value) if eq and sid.strip() else None
        except ValueError:
            units = None
        if units is None:
            raise InjectVizError(f"--dose {shorten(item)}: write SITE=UNITS, e.g. scm_upper=30")
        if sid.strip() in out:
            raise InjectVizError(f"--dose: site {shorten(sid.strip())} is given twice")
        out[sid.strip()] = units
    return out


def _is_scan_file(landmarks: Path) -> bool:
    """True when a landmarks file is the output of ``landmarks`` (it names its scan and unit)."""
    from visualizer.safe_read import load_json, read_text

    try:
        raw = load_json(read_text(landmarks, what="landmarks file"), landmarks)
    except InjectVizError:
        return False  # load_head reports the problem
    return isinstance(raw, dict) and isinstance(raw.get("scan"), dict) and "format" in raw


def _scan_head(args: argparse.Namespace):
    """The head of ``--mesh`` read as a scan: landmarks found automatically or from ``--landmarks``."""
    from visualizer.head import _read_landmarks
    from visualizer.scan import read_scan
    from visualizer.scan_landmarks import landmark_scan, scan_head

    units = args.units
    if units is None and args.landmarks is not None:
        from visualizer.safe_read import load_json, read_text

        raw = load_json(read_text(args.landmarks, what="landmarks file"), args.landmarks)
        units = str(raw["scan"].get("units", "auto"))
    scan = read_scan(args.mesh, units or "auto")
    if args.landmarks is None:
        found = landmark_scan(args.mesh, scan=scan)
        warnings = [
            f"landmarks found automatically on {scan.path.name}: check them (`injectviz landmarks` writes them "
            "to a file you can correct and pass with --landmarks)",
            *found.warnings,
        ]
        return scan_head(
            scan,
            found.landmarks,
            muscle=found.fit.muscle,
            muscle_weight=found.fit.muscle_weight,
            landmarks_label="found automatically",
            warnings=warnings,
        )
    landmarks = _read_landmarks(args.landmarks)
    return scan_head(scan, landmarks, landmarks_label=str(args.landmarks))


def _cmd_landmarks(args: argparse.Namespace) -> int:
    from visualizer.atomic import atomic_write, check_target

    out: Path = args.out
    if out.suffix.lower() != ".json":
        raise InjectVizError(f"--out {_p(out)}: the landmarks are written as JSON; give a .json file name")
    check_target(out, label=f"--out {_p(out)}")
    from visualizer.scan_landmarks import describe_residuals, landmark_scan

    found = landmark_scan(args.scan, args.units)
    atomic_write(out, found.to_json() + "\n")
    scan = found.scan
    print(
        f"wrote {out}: {len(found.landmarks)} landmarks on {scan.path.name} "
        f"({scan.mesh.n_cells:,} triangles, units {scan.units}{' (from its size)' if scan.units_detected else ''})"
    )
    for line in describe_residuals(found.fit):
        print(line)
    for w in found.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    return 0


def _cmd_protocols() -> int:
    from visualizer.protocol import list_protocols

    for p in list_protocols():
        ftp = p.follow_the_pain
        extra = f" (+ up to {ftp.max_sites} follow-the-pain sites / {ftp.max_units:g} U)" if ftp else ""
        print(f"{p.id:<16} {p.name:<64} {p.fixed_site_count:>3} sites {p.fixed_units:>5g} U{extra}")
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    _, plan = _build_plan(args)
    for w in plan.warnings:
        if w.startswith("landmarks found automatically"):
            print(f"WARNING: {w}", file=sys.stderr)
    if args.format == "json":
        print(plan.to_json())
    elif args.format == "csv":
        sys.stdout.write(plan.to_csv())
    else:
        print(plan.to_table())
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    _check_render_options(args)
    head, plan = _build_plan(args)
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    from visualizer.scene import render_png
    from visualizer.vtk_quiet import VtkMessages

    kwargs = {"size": tuple(args.size)} if args.size else {}
    with VtkMessages() as vtk_msgs:  # rendered in memory, then written atomically by render_png
        try:
            render_png(head, plan, args.out, view=args.view, **kwargs)
        except InjectVizError:
            raise
        except Exception as exc:
            raise InjectVizError(f"--out {args.out}: rendering failed ({shorten(str(exc), 160)})") from None
    if vtk_msgs.errors and not args.out.is_file():
        raise InjectVizError(f"--out {args.out}: rendering failed (VTK: {vtk_msgs.first})")
    print(f"wrote {args.out} ({plan.total_sites} sites, {plan.total_units:g} U)")
    for w in plan.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from visualizer.protocol import validate_protocol_file

    problems = validate_protocol_file(args.file)
    if problems:
        for prob in problems:
            print(prob)
        raise InjectVizError(_summary(args.file, problems, "problem"))
    print(f"{args.file}: OK")
    return 0


MESH_SUFFIXES = (".ply", ".vtp")


def _cmd_head_make(args: argparse.Namespace) -> int:
    import json
    import tempfile

    from visualizer.atomic import atomic_write, check_target

    body = _body_type(args)
    out: Path = args.out
    lm_out: Path = args.landmarks_out
    if out.suffix.lower() not in MESH_SUFFIXES:
        raise InjectVizError(f"--out {_p(out)}: give a {' or '.join(MESH_SUFFIXES)} file name")
    if lm_out.suffix.lower() != ".json":
        raise InjectVizError(f"--landmarks-out {_p(lm_out)}: give a .json file name")
    if out.resolve() == lm_out.resolve():
        raise InjectVizError(f"--out and --landmarks-out name the same file ({_p(out)})")
    check_target(out, label=f"--out {_p(out)}")
    check_target(lm_out, label=f"--landmarks-out {_p(lm_out)}")

    from visualizer.head import body_head, load_head

    head = body_head(body) if body is not None else load_head()
    mesh = head.mesh.copy()
    mesh.points = head.frame.to_head(mesh.points)  # the bundled and the reshaped heads are stored in it
    landmarks = {
        k: [round(float(c), 3) + 0.0 for c in head.frame.to_head(p)] for k, p in sorted(head.landmarks.items())
    }
    with tempfile.TemporaryDirectory(prefix="injectviz-head-") as tmp:
        staged = Path(tmp) / f"head{out.suffix.lower()}"
        if out.suffix.lower() == ".ply":
            mesh.clear_data()
        mesh.save(staged, binary=True)
        data = staged.read_bytes()
    atomic_write(out, data)
    atomic_write(lm_out, json.dumps(landmarks, indent=2) + "\n")
    what = body.describe() if body is not None else "today's head"
    print(f"wrote {out} ({mesh.n_points} points, {mesh.n_cells} triangles; {what})")
    print(f"wrote {lm_out} ({len(landmarks)} landmarks, mm, head frame)")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from visualizer.plan_file import check_plan_file

    result = check_plan_file(args.file)
    for w in result.warnings:
        print(f"WARNING: {w}")
    for e in result.errors:
        print(f"ERROR: {e}")
    plan = result.plan
    print(f"{args.file}: {plan.total_sites} sites, {plan.total_units:g} U, {len(result.errors)} error(s)")
    if result.errors:
        raise InjectVizError(_summary(args.file, result.errors, "error"))
    return 0


def _terminate(signum: int, _frame: object) -> NoReturn:
    """SIGTERM unwinds like Ctrl-C, so that temporary files are removed."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input, 1 a bug)."""
    args = _parser().parse_args(argv)
    if argv is None:  # run as a program, not called from Python code
        signal.signal(signal.SIGTERM, _terminate)
    commands = {
        "protocols": lambda: _cmd_protocols(),
        "plan": lambda: _cmd_plan(args),
        "render": lambda: _cmd_render(args),
        "validate": lambda: _cmd_validate(args),
        "landmarks": lambda: _cmd_landmarks(args),
        "check": lambda: _cmd_check(args),
        "head": lambda: _cmd_head_make(args),
    }
    try:
        if hasattr(args, "records_handler"):  # patient, visit, diary, report, export, db
            return args.records_handler(args)
        return commands[args.command]()
    except InjectVizError as exc:
        sys.stdout.flush()
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, never a traceback on a user's terminal
        print(
            f"error: internal error ({type(exc).__name__}: {shorten(str(exc), 160)}); please report it",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
