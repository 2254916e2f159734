"""Reading protocol files: YAML (strict), ``extends`` chains, every problem found, the public API.

:func:`load_protocol` reads and validates a file (or a bundled id); :func:`validate_protocol_file`
returns every problem as ``"FILE: field.path: message (got VALUE)"``, and :func:`load_protocol`
raises :class:`~visualizer.errors.ProtocolError` listing them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from visualizer.bundled import bundled_dir
from visualizer.errors import ProtocolError, shorten
from visualizer.protocol_messages import Issue, Loc, format_issue, pydantic_issues
from visualizer.protocol_models import (
    Protocol,
    ftp_issues,
    is_number,
    offset_issues,
    placement_issues,
    site_issues,
    totals_problems,
)
from visualizer.safe_read import load_yaml, read_text

__all__ = [
    "PROTOCOLS_DIR",
    "known_protocol_ids",
    "list_protocols",
    "load_protocol",
    "protocol_json_schema",
    "validate_protocol_file",
]

#: Directory of the protocols bundled with the package.
PROTOCOLS_DIR: Path = bundled_dir("protocols")


# ----------------------------------------------------------------------------- YAML reading
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"found duplicate key {shorten(key)}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> tuple[Any, list[str]]:
    try:
        text = read_text(path, error=ProtocolError)
        data = load_yaml(text, path, loader=_StrictLoader, error=ProtocolError)
    except ProtocolError as exc:
        return None, [str(exc)]
    if data is None:
        return None, [f"{path}: file is empty"]
    if not isinstance(data, dict):
        return None, [f"{path}: the top level must be a mapping of keys (got {type(data).__name__})"]
    return data, []


def _is_path_like(text: str) -> bool:
    return "/" in text or "\\" in text or os.sep in text or text.lower().endswith((".yaml", ".yml"))


def known_protocol_ids() -> list[str]:
    """Ids of the bundled protocols (file names in :data:`PROTOCOLS_DIR`), sorted."""
    return sorted(p.stem for p in PROTOCOLS_DIR.glob("*.yaml"))


def _resolve_extends(name: str, child: Path) -> Path | None:
    if _is_path_like(name):
        return child.parent / name
    for folder in (child.parent, PROTOCOLS_DIR):
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def _read_merged(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any] | None, dict[str, Path], list[str]]:
    """Read ``path`` and, if it ``extends`` another file, overlay its top-level keys on that file's.

    Returns the merged mapping, the file each top-level key came from, and reading problems.
    """
    data, problems = _read_yaml(path)
    if data is None:
        return None, {}, problems
    origin = dict.fromkeys(data, path)
    base_name = data.get("extends")
    if base_name is None:
        return data, origin, problems
    if not isinstance(base_name, str) or not base_name.strip():
        return data, origin, [f"{path}: extends: must be a protocol id or a file path (got {shorten(base_name)})"]
    base_path = _resolve_extends(base_name, path)
    if base_path is None:
        return (
            data,
            origin,
            [
                f"{path}: extends: no protocol {shorten(base_name)} next to this file or among the bundled protocols "
                f"(known ids: {', '.join(known_protocol_ids())}) (got {shorten(base_name)})"
            ],
        )
    key = base_path.resolve()
    if key in chain or key == path.resolve():
        cycle = " → ".join(p.name for p in (*chain, path.resolve(), key))
        return data, origin, [f"{path}: extends: circular chain {cycle} (got {shorten(base_name)})"]
    base, base_origin, base_problems = _read_merged(base_path, (*chain, path.resolve()))
    if base is None:
        return data, origin, [f"{path}: extends: cannot use base {base_path}", *base_problems]
    merged = {k: v for k, v in base.items() if k != "extends"}
    merged_origin = {k: v for k, v in base_origin.items() if k != "extends"}
    merged.update(data)
    merged_origin.update(origin)
    return merged, merged_origin, problems + base_problems


def _raw_site_issues(raw: dict[str, Any]) -> list[Issue]:
    """Side-dependent site checks on a raw mapping (see :func:`site_issues`)."""
    side = raw.get("side")
    placement = raw.get("placement")
    placement = placement if isinstance(placement, dict) else {}
    offsets = placement.get("offset_mm")
    offsets = offsets if isinstance(offsets, dict) else {}
    found: list[Issue] = []
    if placement:
        found += [(("placement", *loc), m, v) for loc, m, v in placement_issues(placement)]
    if offsets:
        found += [(("placement", "offset_mm", *loc), m, v) for loc, m, v in offset_issues(offsets)]
    if side not in ("midline", "bilateral", "left", "right"):
        return found
    names: list[tuple[Loc, str]] = []
    if isinstance(placement.get("landmark"), str):
        names.append((("landmark",), placement["landmark"]))
    arc = placement.get("arc")
    if isinstance(arc, dict):
        names += [(("arc", k), arc[k]) for k in ("from", "to", "via") if isinstance(arc.get(k), str)]
    return found + site_issues(raw.get("id"), side, names, offsets, raw.get("description"))


def _raw_issues(data: dict[str, Any]) -> list[Issue]:
    """Cross-field checks on the raw mapping, run when the model did not validate, so that they
    are reported together with field errors (checks needing unreadable values are skipped)."""
    found: list[Issue] = []
    sites = data.get("sites")
    if isinstance(sites, list):
        for i, raw in enumerate(sites):
            if isinstance(raw, dict):
                found += [(("sites", i, *loc), m, v) for loc, m, v in _raw_site_issues(raw)]
    ftp = data.get("follow_the_pain")
    if isinstance(ftp, dict) and isinstance(ftp.get("muscles"), dict):
        issues = ftp_issues(ftp["muscles"], ftp.get("max_sites"), ftp.get("max_units"), ftp.get("units_per_site"))
        found += [(("follow_the_pain", *loc), m, v) for loc, m, v in issues]
    return found + _raw_totals(data)


def _raw_totals(data: dict[str, Any]) -> list[Issue]:
    sites, expected = data.get("sites"), data.get("expected")
    if not isinstance(sites, list) or not isinstance(expected, dict):
        return []
    rows = []
    for s in sites:
        if not isinstance(s, dict):
            return []
        sid, side, units = s.get("id"), s.get("side"), s.get("units")
        if side not in ("midline", "bilateral", "left", "right") or not is_number(units):
            return []
        rows.append((str(sid), side, float(units)))
    e_sites, e_units, cap = expected.get("sites"), expected.get("units"), data.get("max_total_units")
    if isinstance(e_sites, bool) or not isinstance(e_sites, int) or not is_number(e_units) or not is_number(cap):
        return []
    ftp = data.get("follow_the_pain")
    ftp_max = ftp.get("max_units") if isinstance(ftp, dict) else None
    return totals_problems(rows, e_sites, float(e_units), float(cap), float(ftp_max) if is_number(ftp_max) else None)


def _check_file(path: Path) -> tuple[Protocol | None, list[str]]:
    data, origin, problems = _read_merged(path)
    if data is None:
        return None, problems
    issues: list[Issue] = []
    raw_id = data.get("id")
    if isinstance(raw_id, str) and raw_id != path.stem:
        issues.append((("id",), f"must equal the file name {path.stem!r}", raw_id))
    protocol: Protocol | None = None
    try:
        protocol = Protocol.model_validate(data)
    except ValidationError as exc:
        issues += pydantic_issues(exc)
        issues += _raw_issues(data)
    seen: set[tuple[Loc, str]] = set()
    for issue in issues:
        key = (issue[0], issue[1])
        if key not in seen:  # the raw pass repeats checks the model already reported
            seen.add(key)
            problems.append(format_issue(path, issue, data, origin))
    if problems or protocol is None:
        return None, problems
    protocol._path = path
    return protocol, []


# ----------------------------------------------------------------------------- public API
def validate_protocol_file(path: str | Path) -> list[str]:
    """Every problem in a protocol file, as ``"FILE: field.path: message (got VALUE)"`` lines.

    Reports YAML syntax errors (with line numbers), unknown or missing keys, bad values,
    unknown landmarks and muscles, and cross-field checks (unique ids, site and unit totals
    against ``expected``, follow-the-pain caps, session cap). An empty list means the file
    is valid. Totals are checked against the raw site list even when other fields are bad,
    as long as every site's ``side`` and ``units`` can be read.

    Parameters
    ----------
    path : str or Path
        A ``.yaml`` / ``.yml`` protocol file.

    Returns
    -------
    list of str
    """
    return _check_file(Path(path))[1]


def load_protocol(id_or_path: str | Path) -> Protocol:
    """Load a bundled protocol by id (``"preempt"``) or a protocol file by path.

    Anything containing a path separator or ending in ``.yaml`` / ``.yml`` is a file path;
    anything else is the id of a file in :data:`PROTOCOLS_DIR`.

    Raises
    ------
    ProtocolError
        For an unknown id (the message lists the known ids) or an invalid file (the message
        lists every problem, one per line).
    """
    text = str(id_or_path)
    if _is_path_like(text):
        path = Path(text)
    else:
        path = PROTOCOLS_DIR / f"{text}.yaml"
        if not path.is_file():
            raise ProtocolError(
                f"unknown protocol id {shorten(text)}; known ids: {', '.join(known_protocol_ids()) or '(none)'} "
                "(or give the path of a .yaml file)"
            )
    protocol, problems = _check_file(path)
    if protocol is None:
        noun = "problem" if len(problems) == 1 else "problems"
        raise ProtocolError(f"{path}: invalid protocol ({len(problems)} {noun}):\n" + "\n".join(problems))
    return protocol


def list_protocols() -> list[Protocol]:
    """Every bundled protocol, sorted by id (raises :class:`ProtocolError` if one is invalid)."""
    return sorted((load_protocol(PROTOCOLS_DIR / f"{i}.yaml") for i in known_protocol_ids()), key=lambda p: p.id)


def protocol_json_schema() -> dict[str, Any]:
    """JSON Schema of a protocol file (by alias, ``additionalProperties: false`` everywhere)."""
    return Protocol.model_json_schema(by_alias=True)
