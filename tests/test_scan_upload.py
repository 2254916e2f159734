"""Issue 10, the app's "Load a scan": an upload's name, size and format are checked before the
scan is read (visualizer/scan_upload.py), and the file never outlives the upload."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from visualizer.errors import MeshError
from visualizer.scan_upload import (
    CHUNK_BYTES,
    MAX_UPLOAD_BYTES,
    ScanUpload,
    check_upload,
    check_upload_name,
    sniff_format,
)

ROOT = Path(__file__).resolve().parents[1]
FSAVERAGE = ROOT / "tests" / "scans" / "fsaverage-head.ply"


def _send(up: ScanUpload, data: bytes) -> None:
    for off in range(0, len(data), CHUNK_BYTES):
        up.write(off, data[off : off + CHUNK_BYTES])


def test_a_real_scan_arrives_whole_and_goes_away(tmp_path: Path) -> None:
    data = FSAVERAGE.read_bytes()
    up = ScanUpload("fsaverage-head.ply", len(data), directory=tmp_path)
    assert up.path.parent.stat().st_mode & 0o777 == 0o700  # only this process may read it
    _send(up, data)
    path = up.finish()
    assert path.read_bytes() == data and path.name == "fsaverage-head.ply"
    assert path.stat().st_mode & 0o777 == 0o600
    up.discard()
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_oversize_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(MeshError, match=r"head\.stl: the file is 101 MB; at most 100 MB"):
        ScanUpload("head.stl", MAX_UPLOAD_BYTES + (1 << 20), directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", [0, -5])
def test_empty_file_refused(tmp_path: Path, size: int) -> None:
    with pytest.raises(MeshError, match=r"head\.ply: the file is empty"):
        ScanUpload("head.ply", size, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", [1.5, "100", None, True])
def test_size_must_be_a_whole_number(size: object) -> None:
    with pytest.raises(MeshError, match="not a whole number of bytes"):
        check_upload("head.ply", size)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("head.docx", r"scan type '\.docx' is not read; use one of \.stl"),
        ("head", r"scan type '\(none\)' is not read"),
        ("head.vtk", r"scan type '\.vtk' is not read"),  # legacy VTK: the command line only
        ("notes.txt", r"scan type '\.txt'"),
    ],
)
def test_wrong_format_refused_by_name(name: str, words: str) -> None:
    with pytest.raises(MeshError, match=words):
        check_upload_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.stl",
        "/etc/head.stl",
        "..\\..\\windows\\head.obj",
        "scans/head.ply",
        "..stl",
        "a..b.stl",
        "head\x00.stl",
    ],
)
def test_path_like_names_refused(name: str) -> None:
    with pytest.raises(MeshError, match="not a path"):
        check_upload_name(name)


@pytest.mark.parametrize("name", [".hidden.stl", "-rf.stl", "head\n.stl", "h\u00e9ad.stl", "x" * 120 + ".stl"])
def test_odd_names_refused(name: str) -> None:
    with pytest.raises(MeshError, match="use letters, digits"):
        check_upload_name(name)


def test_plain_names_accepted() -> None:
    for name in ("head.STL", "Patient scan (2).glb", "head_v2.obj", "a-b+c.gltf", "x.vtp"):
        assert check_upload_name(name) == name


@pytest.mark.parametrize(
    ("name", "head", "size", "words"),
    [
        ("h.stl", b"\x00" * 84, 10_000, "not an STL file"),  # binary header whose count does not match
        ("h.stl", b"PK\x03\x04" + b"\x00" * 200, 204, "not an STL file"),  # a zip renamed
        ("h.ply", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 108, "not a PLY file"),
        ("h.vtp", b"GARBAGE" * 10, 70, "not a VTK XML PolyData file"),
        ("h.glb", b"glTF" + struct.pack("<II", 2, 999), 500, "not a binary glTF"),
        ("h.gltf", b"\xff\xfe\x00garbage", 11, "not a glTF file"),
        ("h.obj", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 50, 58, "not a Wavefront OBJ"),
        ("h.obj", b"hello world\nthis is not obj\n", 28, "not a Wavefront OBJ"),
    ],
)
def test_garbage_bytes_refused_by_their_signature(name: str, head: bytes, size: int, words: str) -> None:
    with pytest.raises(MeshError, match=words):
        sniff_format(name, head, size)


def test_right_signatures_pass() -> None:
    n = 3
    sniff_format("h.stl", b"\x00" * 80 + struct.pack("<I", n) + b"\x00" * 10, 84 + 50 * n)
    sniff_format("h.stl", b"solid head\nfacet normal 0 0 1\n", 1000)
    sniff_format("h.ply", FSAVERAGE.read_bytes()[:4096], FSAVERAGE.stat().st_size)
    sniff_format("h.vtp", b'<?xml version="1.0"?>\n<VTKFile type="PolyData">', 1000)
    sniff_format("h.glb", b"glTF" + struct.pack("<II", 2, 1000), 1000)
    sniff_format("h.gltf", b'  {"asset": {"version": "2.0"}}', 100)
    sniff_format("h.obj", b"# scan\nv 0 0 0\nv 1 0 0\nf 1 2 3\n", 100)


def test_garbage_upload_stops_at_the_first_piece(tmp_path: Path) -> None:
    data = b"\x13\x37" * 5000
    up = ScanUpload("head.ply", len(data), directory=tmp_path)
    with pytest.raises(MeshError, match="not a PLY file"):
        up.write(0, data[:CHUNK_BYTES])
    assert up.received == 0
    up.discard()
    assert list(tmp_path.iterdir()) == []


def test_pieces_are_checked(tmp_path: Path) -> None:
    data = FSAVERAGE.read_bytes()
    up = ScanUpload("head.ply", len(data), directory=tmp_path)
    with pytest.raises(MeshError, match="out of order"):
        up.write(10, data[10:20])
    with pytest.raises(MeshError, match="not bytes"):
        up.write(0, "ply\n")
    with pytest.raises(MeshError, match=r"1 to 524,288"):
        up.write(0, b"")
    with pytest.raises(MeshError, match=r"1 to 524,288"):
        up.write(0, data[:4096] + b"\x00" * CHUNK_BYTES)
    up.write(0, data[:1000])
    with pytest.raises(MeshError, match="only 1,000 of"):
        up.finish()
    with pytest.raises(MeshError, match="more bytes arrived than"):
        up.write(1000, data[1000:] + b"extra")
    up.discard()
    with pytest.raises(MeshError, match="has ended"):
        up.write(1000, data[1000:2000])
    assert list(tmp_path.iterdir()) == []


def test_gltf_naming_another_file_is_refused(tmp_path: Path) -> None:
    doc = b'{"asset": {"version": "2.0"}, "buffers": [{"uri": "../../../etc/passwd", "byteLength": 10}]}'
    up = ScanUpload("head.gltf", len(doc), directory=tmp_path)
    up.write(0, doc)
    with pytest.raises(MeshError, match=r"buffers\[0\] refers to another file"):
        up.finish()
    up.discard()
