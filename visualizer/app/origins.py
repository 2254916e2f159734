"""Which web origins may open a session: the server's own origin (and its loopback aliases) plus
the ones given with ``--allow-origin``.  Any other page - another site in the same browser - gets 403.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
WILDCARD = ("", "0.0.0.0", "::", "[::]")
DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize(origin: str) -> str | None:
    """``scheme://host:port`` in lower case with an explicit port, or None if it is not an origin."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except (ValueError, AttributeError):
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port or DEFAULT_PORTS[parts.scheme]}"


def _machine_names() -> set[str]:
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        import psutil

        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family == socket.AF_INET:
                    names.add(a.address)
                elif a.family == socket.AF_INET6 and "%" not in a.address:
                    names.add(f"[{a.address}]")
    except Exception:
        pass
    return {n.lower() for n in names if n}


class OriginPolicy:
    """The set of allowed origins for a server listening on ``host:port``."""

    def __init__(self, host: str, port: int, extra: list[str] | tuple[str, ...] = ()) -> None:
        h = host.strip().lower()
        if h in WILDCARD:
            hosts = {*LOOPBACK, *_machine_names()}
        elif h in LOOPBACK or h == "::1":
            hosts = set(LOOPBACK)
        else:
            hosts = {f"[{h}]" if ":" in h and not h.startswith("[") else h}
        self.allowed = {f"http://{name}:{int(port)}" for name in hosts}
        for item in extra:
            norm = normalize(item)
            if norm is None:
                raise ValueError(f"--allow-origin {item!r} is not an origin like http://host:port")
            self.allowed.add(norm)

    def allows(self, origin: str | None) -> bool:
        norm = normalize(origin) if origin else None
        return norm is not None and norm in self.allowed
