"""A head scan uploaded from a browser, received in pieces into a private temporary file.

Everything about the upload is checked before anything is read or allocated for it: the file's
name (a plain file name of a scan type :mod:`visualizer.scan` reads), its announced size (not
empty, at most :data:`MAX_UPLOAD_BYTES`), every piece (the next offset, at most
:data:`CHUNK_BYTES`, never past the announced size) and, from the first piece, the format's own
signature (binary STL whose triangle count matches its size, or ``solid``; ``ply``; a VTK XML or
legacy header; glTF's ``glTF`` magic; an OBJ's text). A glTF may not refer to other files (its
buffers must be embedded): a browser's file must never make the server read one of its own.

The file lives in a fresh directory only this process may read (``0700``), under the user's file
name once checked, and :meth:`ScanUpload.discard` removes both. Nothing here knows trame.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import tempfile
from pathlib import Path

from visualizer.errors import MeshError, shorten
from visualizer.scan import SCAN_SUFFIXES

__all__ = [
    "CHUNK_BYTES",
    "MAX_UPLOAD_BYTES",
    "UPLOAD_SUFFIXES",
    "ScanUpload",
    "check_upload",
    "check_upload_name",
    "sniff_format",
]

#: Largest scan file the app accepts (a binary STL of 2M triangles, the most a scan may have, is
#: 100 MB); the command line reads up to :data:`visualizer.scan.MAX_SCAN_BYTES`.
MAX_UPLOAD_BYTES = 100 << 20
#: Largest piece of a file in one message from the page (the relay's frames are 1 MB).
CHUNK_BYTES = 512 << 10
#: File types accepted from a browser (the legacy ``.vtk`` format is left to the command line).
UPLOAD_SUFFIXES: tuple[str, ...] = tuple(s for s in SCAN_SUFFIXES if s != ".vtk")
#: Bytes of the first piece the format check needs.
SNIFF_BYTES = 4096
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 ._()+-]{0,99}$")
_OBJ_LINE = re.compile(rb"^\s*(#|v|vn|vt|vp|f|l|o|g|s|mtllib|usemtl)(\s|$)")


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.0f} MB" if n >= 1 << 20 else f"{n:,} bytes"


def check_upload_name(name: object) -> str:
    """The checked file name of an upload (a plain name of a scan type), or a :class:`MeshError`.

    A browser sends only a file's own name; a path, a hidden file, control characters or a type
    the scan reader does not take are refused.
    """
    if not isinstance(name, str) or not name.strip():
        raise MeshError("the scan has no file name")
    shown = shorten(name, 60)
    if "/" in name or "\\" in name or "\x00" in name or name in (".", "..") or ".." in name:
        raise MeshError(f"file name {shown}: send the file's own name, not a path")
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise MeshError(
            f"file {shown}: scan type {shorten(suffix or '(none)', 12)} is not read; "
            f"use one of {', '.join(UPLOAD_SUFFIXES)}"
        )
    if not _NAME.match(name):
        raise MeshError(f"file name {shown}: use letters, digits, spaces and . _ - ( ) + only (at most 100 characters)")
    return name


def check_upload(name: object, size: object) -> tuple[str, int]:
    """Check an upload's name and announced size before anything is received."""
    checked = check_upload_name(name)
    if isinstance(size, bool) or not isinstance(size, int):
        raise MeshError(f"{checked}: the file's size is not a whole number of bytes")
    if size <= 0:
        raise MeshError(f"{checked}: the file is empty")
    if size > MAX_UPLOAD_BYTES:
        raise MeshError(
            f"{checked}: the file is {_mb(size)}; at most {_mb(MAX_UPLOAD_BYTES)} is accepted "
            "(decimate the scan to at most 2 million triangles, or save it as binary STL or PLY)"
        )
    return checked, size


def sniff_format(name: str, head: bytes, size: int) -> None:
    """Check that the first bytes of a file (``head``, at most :data:`SNIFF_BYTES`) are its type's.

    Raises
    ------
    MeshError
        Naming the file and what its first bytes are not.
    """
    suffix = os.path.splitext(name)[1].lower()
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix == ".stl":
        if len(head) >= 84 and 84 + 50 * struct.unpack("<I", head[80:84])[0] == size:
            return
        if text[:5].lower() == b"solid" and b"\x00" not in head:
            return
        raise MeshError(
            f"{name}: not an STL file (neither ASCII STL starting with 'solid' nor a binary STL whose "
            "triangle count matches its size)"
        )
    if suffix == ".ply":
        if re.match(rb"ply\r?\n", head):
            return
        raise MeshError(f"{name}: not a PLY file (it does not start with 'ply')")
    if suffix == ".vtp":
        if text.startswith((b"<?xml", b"<VTKFile")):
            return
        raise MeshError(f"{name}: not a VTK XML PolyData file (no XML header)")
    if suffix == ".glb":
        if len(head) >= 12 and head[:4] == b"glTF":
            version, length = struct.unpack("<II", head[4:12])
            if version == 2 and length == size:
                return
        raise MeshError(f"{name}: not a binary glTF 2.0 file (no 'glTF' header matching its size)")
    if suffix == ".gltf":
        if text.startswith(b"{") and b"\x00" not in head:
            return
        raise MeshError(f"{name}: not a glTF file (glTF is JSON text starting with '{{')")
    if suffix == ".obj":
        lines = [ln for ln in head.split(b"\n")[:-1] if ln.strip()] or [head]
        if b"\x00" not in head and all(_OBJ_LINE.match(ln) for ln in lines[:20]):
            return
        raise MeshError(f"{name}: not a Wavefront OBJ file (its first lines are not OBJ text)")
    raise MeshError(f"{name}: scan type {shorten(suffix, 12)} is not read")


def _gltf_self_contained(name: str, path: Path) -> None:
    """A glTF's buffers and images must be embedded (``data:``): it may not name other files."""
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise MeshError(f"{name}: not a glTF file (not valid JSON)") from None
    if not isinstance(doc, dict):
        raise MeshError(f"{name}: not a glTF file (the JSON is not an object)")
    for key in ("buffers", "images"):
        items = doc.get(key) or []
        if not isinstance(items, list):
            raise MeshError(f"{name}: not a glTF file ({key} is not a list)")
        for i, item in enumerate(items):
            uri = item.get("uri") if isinstance(item, dict) else None
            if uri is not None and not (isinstance(uri, str) and uri.startswith("data:")):
                raise MeshError(
                    f"{name}: {key}[{i}] refers to another file; upload a .glb, or a .gltf with its data embedded"
                )


class ScanUpload:
    """One scan arriving in pieces, written to a private temporary file.

    Parameters
    ----------
    name, size
        The file's own name and its size in bytes as the browser announced them (checked here).
    directory
        Where the private directory is made (default: the system's temporary folder).
    """

    def __init__(self, name: object, size: object, directory: str | Path | None = None) -> None:
        self.name, self.size = check_upload(name, size)
        self.received = 0
        self._dir = Path(tempfile.mkdtemp(prefix="injectviz-scan-", dir=directory))  # mode 0700
        self.path = self._dir / self.name
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        self._file = os.fdopen(fd, "wb")

    @property
    def complete(self) -> bool:
        """All announced bytes have arrived."""
        return self.received == self.size

    def write(self, offset: object, data: object) -> None:
        """Append the piece that starts at ``offset`` (pieces come in order, each checked first)."""
        if self._file is None:
            raise MeshError(f"{self.name}: this upload has ended")
        if not isinstance(data, (bytes, bytearray)):
            raise MeshError(f"{self.name}: a piece of the file is not bytes")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset != self.received:
            raise MeshError(f"{self.name}: a piece of the file arrived out of order")
        if not data or len(data) > CHUNK_BYTES:
            raise MeshError(f"{self.name}: a piece of the file has {len(data):,} bytes (1 to {CHUNK_BYTES:,})")
        if self.received + len(data) > self.size:
            raise MeshError(f"{self.name}: more bytes arrived than the {self.size:,} announced")
        if offset == 0:
            sniff_format(self.name, bytes(data[:SNIFF_BYTES]), self.size)
        self._file.write(data)
        self.received += len(data)

    def finish(self) -> Path:
        """Close the complete file and return its path (a :class:`MeshError` if bytes are missing)."""
        if self._file is None:
            raise MeshError(f"{self.name}: this upload has ended")
        if not self.complete:
            raise MeshError(f"{self.name}: only {self.received:,} of {self.size:,} bytes arrived")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        if self.path.suffix.lower() == ".gltf":
            _gltf_self_contained(self.name, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the file and its directory (safe to call more than once)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
        shutil.rmtree(self._dir, ignore_errors=True)
