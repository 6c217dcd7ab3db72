"""Damaged, lying and foreign files: every one gives an mrczio error (or, when permissive,
a PermissiveReadWarning and the frames that can be rescued), never another exception, a
hang, or an allocation larger than the file."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cflib.badinputs import (
    allocation_limit,
    base_files,
    chunk_offsets,
    guarded_read,
    set_bytes,
    set_i32,
)
from cflib.cells import record

import mrczio

HEADER = 1024
Damage = Callable[[bytes], bytes]


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, np.ndarray]]:
    return base_files(tmp_path_factory.mktemp("bad-bases"))


def _nsymbt(raw: bytes) -> int:
    return int(struct.unpack_from("<i", raw, 92)[0])


def _truncations(raw: bytes, compressed: bool) -> dict[str, int]:
    """Cut points at every structural boundary (and one byte either side)."""
    data_offset = HEADER + _nsymbt(raw)
    cuts = {"empty": 0, "1 byte": 1, "mid-header": 512, "header-1": HEADER - 1, "header": HEADER,
            "mid-ext-header": HEADER + _nsymbt(raw) // 2, "data-start": data_offset,
            "data-start+1": data_offset + 1, "last-byte-missing": len(raw) - 1,
            "mid-data": (data_offset + len(raw)) // 2}  # fmt: skip
    if compressed:
        for k, offset in enumerate(chunk_offsets(raw, data_offset, 4)):
            cuts[f"chunk{k}-header+8"] = offset + 8
            cuts[f"chunk{k}-payload+3"] = offset + 19
    return {name: cut for name, cut in cuts.items() if 0 <= cut < len(raw)}


def _cases() -> list[tuple[str, str, Damage]]:
    """(base file, case name, damage) for every structural lie we try."""
    cases: list[tuple[str, str, Damage]] = []
    for base in ("mrc-json", "mrcz-json", "mrcz-msgpack-footer", "mrc-fei-ext"):
        lies: dict[str, Damage] = {
            "nx*ny*nz overflows int64": lambda r: set_i32(set_i32(set_i32(bytearray(r), 0, 2**31 - 1), 4, 2**31 - 1), 8, 2**31 - 1),
            "dimensions exceed the file": lambda r: set_i32(bytearray(r), 8, 100000),
            "nx negative": lambda r: set_i32(bytearray(r), 0, -5),
            "nz negative": lambda r: set_i32(bytearray(r), 8, -1),
            "nx zero, nz > 0": lambda r: set_i32(bytearray(r), 0, 0),
            "mode 3 (complex int16)": lambda r: set_i32(bytearray(r), 12, 3 + (struct.unpack_from("<i", r, 12)[0] // 1000) * 1000),
            "mode 5 (undefined)": lambda r: set_i32(bytearray(r), 12, 5),
            "mode 16 (RGB)": lambda r: set_i32(bytearray(r), 12, 16),
            "mode 999": lambda r: set_i32(bytearray(r), 12, 999),
            "compressor id 99": lambda r: set_i32(bytearray(r), 12, 99002),
            "mode negative": lambda r: set_i32(bytearray(r), 12, -2),
            "NSYMBT past the end": lambda r: set_i32(bytearray(r), 92, len(r)),
            "NSYMBT negative": lambda r: set_i32(bytearray(r), 92, -64),
            "NSYMBT 2^31-1": lambda r: set_i32(bytearray(r), 92, 2**31 - 1),
            "unknown EXTTYP": lambda r: set_bytes(bytearray(r), 104, b"ZZZZ"),
            "big-endian stamp on little-endian data": lambda r: set_bytes(bytearray(r), 212, b"\x11\x11\x00\x00"),
            "zero machine stamp": lambda r: set_bytes(bytearray(r), 212, b"\x00\x00\x00\x00"),
            "mixed-endian: dims big-endian": lambda r: set_bytes(bytearray(r), 0, struct.pack(">3i", *struct.unpack_from("<3i", r, 0))),
            "MAP missing": lambda r: set_bytes(bytearray(r), 208, b"\x00\x00\x00\x00"),
            "ispg 401 with mz 0": lambda r: set_i32(set_i32(bytearray(r), 88, 401), 36, 0),
            "16 trailing bytes": lambda r: bytes(r) + b"\x00" * 16,
            "garbage in metadata": lambda r: set_bytes(bytearray(r), HEADER + 1, b"\xff\xfe{[" * 2) if _nsymbt(r) > 12 else bytes(r)[:-40] + b"\xff" * 40,
        }  # fmt: skip
        cases += [(base, name, damage) for name, damage in lies.items()]
    for name in ("chunk cbytes too large", "chunk cbytes zero", "chunk cbytes 15", "chunk nbytes lies",
                 "chunk version byte 99", "chunk payload zeroed", "chunk cbytes points into next chunk"):  # fmt: skip
        cases.append(("mrcz-json", name, _chunk_lie(name)))
    for name in ("footer length too large", "footer unknown type", "footer garbage payload"):
        cases.append(("mrcz-msgpack-footer", name, _footer_lie(name)))
    return cases


def _chunk_lie(name: str) -> Damage:
    def damage(raw: bytes) -> bytes:
        offset = chunk_offsets(raw, HEADER + _nsymbt(raw), 1)[0]
        out = bytearray(raw)
        cbytes = struct.unpack_from("<I", raw, offset + 12)[0]
        if name == "chunk cbytes too large":
            struct.pack_into("<I", out, offset + 12, 0xFFFFFFF0)
        elif name == "chunk cbytes zero":
            struct.pack_into("<I", out, offset + 12, 0)
        elif name == "chunk cbytes 15":
            struct.pack_into("<I", out, offset + 12, 15)
        elif name == "chunk nbytes lies":
            struct.pack_into("<I", out, offset + 4, 1 << 30)
        elif name == "chunk version byte 99":
            out[offset] = 99
        elif name == "chunk payload zeroed":
            out[offset + 16 : offset + cbytes] = bytes(cbytes - 16)
        else:
            struct.pack_into("<I", out, offset + 12, cbytes - 4)
        return bytes(out)

    return damage


def _footer_lie(name: str) -> Damage:
    def damage(raw: bytes) -> bytes:
        out = bytearray(raw)
        if name == "footer length too large":
            struct.pack_into("<Q", out, len(out) - 16, 1 << 60)
        elif name == "footer unknown type":
            out[len(out) - 20 : len(out) - 16] = b"ZZZZ"
        else:
            length = struct.unpack_from("<Q", raw, len(raw) - 16)[0]
            start = len(raw) - 20 - length
            out[start : start + length] = b"\xc1" * length  # 0xc1 is never valid msgpack
        return bytes(out)

    return damage


def _foreign_files() -> dict[str, bytes]:
    png = b"\x89PNG\r\n\x1a\n" + bytes(2000)
    return {
        "empty file": b"",
        "one byte": b"M",
        "text file": b"this is not an MRC file\n" * 100,
        "PNG": png,
        "zeros (2 KiB)": bytes(2048),
        "random bytes": np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "TIFF header only": b"II*\x00\x08\x00\x00\x00",
        "gzip of an MRC": gzip.compress(bytes(1024 + 60)),
        "header of zeros + MAP": bytes(208) + b"MAP " + bytes(812),
    }


def _check(request: pytest.FixtureRequest, path: Path, case: str, base: str) -> str:
    strict = guarded_read(path)
    assert not strict.hung, f"{case}: mrczio hung (> 20 s guard)"
    assert strict.peak <= allocation_limit(path), (
        f"{case}: peak allocation {strict.peak} B exceeds file size {path.stat().st_size} B + slack"
    )
    if strict.error is not None:
        assert strict.mrczio_error, (
            f"{case}: non-mrczio exception {type(strict.error).__name__}: {strict.error}"
        )
        assert str(path) in str(strict.error) or path.name in str(strict.error), (
            f"{case}: the error message must name the file: {strict.error}"
        )
    permissive = guarded_read(path, permissive=True)
    assert not permissive.hung and permissive.peak <= allocation_limit(path)
    if permissive.error is not None:
        assert permissive.mrczio_error, (
            f"{case} (permissive): {type(permissive.error).__name__}: {permissive.error}"
        )
    rescued = permissive.array is not None and strict.error is not None
    if rescued:
        assert any(
            issubclass(w.category, mrczio.PermissiveReadWarning) for w in permissive.warnings
        ), f"{case}: permissive mode rescued data without a PermissiveReadWarning"
    outcome = (
        f"error {type(strict.error).__name__}" if strict.error is not None else "read (harmless)"
    ) + ("; permissive rescues data with a warning" if rescued else "")
    record(request, table="bad inputs", writer=base, reader="mrczio", dtype="", shape=case,
           expected="mrczio error or valid read, bounded memory, no hang", observed=outcome)  # fmt: skip
    return outcome


@pytest.mark.parametrize(
    ("base", "case", "damage"), _cases(), ids=[f"{b}:{c}" for b, c, _ in _cases()]
)
def test_lying_header(
    request: pytest.FixtureRequest,
    bases: dict,
    tmp_path: Path,
    base: str,
    case: str,
    damage: Damage,
) -> None:
    source, _ = bases[base]
    path = tmp_path / source.name
    path.write_bytes(damage(source.read_bytes()))
    _check(request, path, case, base)


@pytest.mark.parametrize("base", ["mrc-json", "mrcz-json", "mrcz-msgpack-footer", "mrc-fei-ext"])
def test_truncated_everywhere(
    request: pytest.FixtureRequest, bases: dict, tmp_path: Path, base: str
) -> None:
    source, data = bases[base]
    raw = source.read_bytes()
    for name, cut in _truncations(raw, base.startswith("mrcz")).items():
        path = tmp_path / f"{name}-{source.name}"
        path.write_bytes(raw[:cut])
        outcome = _check(request, path, f"truncated at {name} (byte {cut})", base)
        assert outcome.startswith("error"), f"truncation at {name} was not reported"
        rescued = guarded_read(path, permissive=True).array
        if rescued is not None and rescued.size:  # whatever is rescued is an exact prefix
            assert np.array_equal(rescued.reshape(-1, 6, 5), data[: rescued.size // 30])


@pytest.mark.parametrize("name", sorted(_foreign_files()))
def test_not_mrc_at_all(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> None:
    path = tmp_path / "foreign.mrc"
    path.write_bytes(_foreign_files()[name])
    outcome = _check(request, path, name, "foreign")
    if (
        name == "header of zeros + MAP"
    ):  # says MAP, all sizes 0: an empty MRC file, as mrcfile reads it
        assert guarded_read(path).array.size == 0
        return
    assert outcome.startswith("error"), f"{name} was read as if it were an image"
