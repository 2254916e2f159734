"""Command line: ``python -m visualizer {protocols,plan,render,validate,check}``.

Bad input prints one message naming the file, field and value on stderr and exits with code 2;
nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from visualizer.errors import InjectVizError
from visualizer.records import cli as records_cli

EXIT_BAD_INPUT = 2
VIEWS = ("front", "back", "left", "right", "top", "all")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m visualizer",
        description="InjectViz: protocol-defined injection sites on a 3D head (planning and teaching aid).",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    records_cli.add_global_options(ap)

    sub.add_parser("protocols", help="list the bundled protocols: id, name, sites, units")

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
            help="pain origin point on the head, mesh coordinates in mm",
        )
        p.add_argument("--no-ftp", action="store_true", help="do not add follow-the-pain sites")
        p.add_argument("--mesh", type=Path, help="head mesh (mm); needs --landmarks")
        p.add_argument("--landmarks", type=Path, help="landmarks JSON for --mesh (name → [x, y, z] mm)")

    p = sub.add_parser("plan", help="print the plan")
    plan_args(p)
    p.add_argument("--format", choices=("json", "csv", "table"), default="table")

    r = sub.add_parser("render", help="render the plan offscreen to a PNG")
    plan_args(r)
    r.add_argument("--out", type=Path, required=True, help="output PNG")
    r.add_argument("--view", choices=VIEWS, default="all")
    r.add_argument("--size", type=int, nargs=2, default=None, metavar=("W", "H"))

    v = sub.add_parser("validate", help="check a protocol file and report every problem")
    v.add_argument("file", type=Path)

    c = sub.add_parser("check", help="re-run the safety checks on a (possibly edited) plan JSON")
    c.add_argument("file", type=Path)
    records_cli.add_commands(sub)  # patient, visit, diary, report, export, db (visualizer/records/cli.py)
    return ap


def _build_plan(args: argparse.Namespace):
    from visualizer.head import load_head
    from visualizer.pain import PainOrigin
    from visualizer.planner import make_plan
    from visualizer.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    pain = PainOrigin.parse(args.pain, args.pain_point)
    head = load_head(args.mesh, args.landmarks)
    return head, make_plan(head, protocol, pain, follow_the_pain=not args.no_ftp)


def _cmd_protocols() -> int:
    from visualizer.protocol import list_protocols

    for p in list_protocols():
        ftp = p.follow_the_pain
        extra = f" (+ up to {ftp.max_sites} follow-the-pain sites / {ftp.max_units:g} U)" if ftp else ""
        print(f"{p.id:<16} {p.name:<64} {p.fixed_site_count:>3} sites {p.fixed_units:>5g} U{extra}")
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    _, plan = _build_plan(args)
    if args.format == "json":
        print(plan.to_json())
    elif args.format == "csv":
        sys.stdout.write(plan.to_csv())
    else:
        print(plan.to_table())
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() != ".png":
        raise InjectVizError(f"--out {args.out}: the picture is written as PNG; give a .png file name")
    if not args.out.parent.exists():
        raise InjectVizError(f"--out {args.out}: folder {args.out.parent} does not exist")
    head, plan = _build_plan(args)
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    from visualizer.scene import render_png

    # write to a temporary file first, so a failure never leaves a half-written picture
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=args.out.parent)
    os.close(fd)
    try:
        kwargs = {"size": tuple(args.size)} if args.size else {}
        render_png(head, plan, tmp, view=args.view, **kwargs)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the picture the usual permissions
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"wrote {args.out} ({plan.total_sites} sites, {plan.total_units:g} U)")
    for w in plan.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from visualizer.protocol import validate_protocol_file

    problems = validate_protocol_file(args.file)
    if problems:
        for prob in problems:
            print(prob, file=sys.stderr)
        print(f"{args.file}: {len(problems)} problem(s)", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{args.file}: OK")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from visualizer.head import load_head
    from visualizer.plan import Plan
    from visualizer.planner import recheck
    from visualizer.protocol import load_protocol

    try:
        data = json.loads(args.file.read_text())
    except OSError as exc:
        raise InjectVizError(f"{args.file}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InjectVizError(f"{args.file}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        plan = Plan.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InjectVizError(f"{args.file}: not a plan file ({type(exc).__name__}: {exc})") from None
    protocol = load_protocol(data.get("protocol_file") or plan.protocol)
    default_mesh = not data.get("mesh") or Path(data["mesh"]).resolve() == _default_mesh()
    head = load_head() if default_mesh else load_head(data["mesh"], data["landmarks_file"])
    checked = recheck(head, protocol, plan)
    for w in checked.warnings:
        print(f"WARNING: {w}")
    for e in checked.errors:
        print(f"ERROR: {e}", file=sys.stderr)
    print(f"{args.file}: {checked.total_sites} sites, {checked.total_units:g} U, {len(checked.errors)} error(s)")
    return EXIT_BAD_INPUT if checked.errors else 0


def _default_mesh() -> Path:
    from visualizer.head import DEFAULT_MESH

    return DEFAULT_MESH.resolve()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    try:
        if hasattr(args, "records_handler"):
            return args.records_handler(args)
        if args.command == "protocols":
            return _cmd_protocols()
        if args.command == "plan":
            return _cmd_plan(args)
        if args.command == "render":
            return _cmd_render(args)
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "check":
            return _cmd_check(args)
    except InjectVizError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
