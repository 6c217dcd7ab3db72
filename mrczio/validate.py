"""Validation of MRC-family files: findings as data, printing left to the caller.

The checks follow MRC2014 (and mrcfile's ``validate``) and add what MRCZ needs: every
chunk decodes, and PACKED_BYTES matches the chunks. Each finding has a stable ``code``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mrczio import api
from mrczio.errors import MrczioError
from mrczio.registry import Registry, get_registry
from mrczio.stats import RunningStats

Severity = Literal["error", "warning"]
KNOWN_EXTTYPS = {b"CCP4", b"MRCO", b"SERI", b"AGAR", b"FEI1", b"FEI2", b"HDF5"}


@dataclass(frozen=True)
class Finding:
    """One problem found in a file."""

    code: str
    severity: Severity
    message: str


def validate(path: str | os.PathLike[str], registry: Registry | None = None) -> list[Finding]:
    """Check ``path``; an empty list means it is a valid file of its format."""
    name = os.fspath(path)
    reg = registry or get_registry()
    try:
        reader = api.open(name, registry=reg)
    except MrczioError as exc:
        return [Finding("unreadable", "error", str(exc))]
    except OSError as exc:
        return [Finding("unreadable", "error", f"{name}: {exc.strerror or exc}")]
    with reader:
        findings = _header_findings(reader.header, reg) if reader.header is not None else []
        findings += _data_findings(reader)
    return findings


def _header_findings(header: np.ndarray, registry: Registry) -> list[Finding]:
    found: list[Finding] = []

    def add(code: str, message: str, severity: Severity = "error") -> None:
        found.append(Finding(code, severity, message))

    if bytes(header["map"]) != b"MAP ":
        add("map", f"map ID is {bytes(header['map'])!r}, should be b'MAP '")
    if tuple(int(b) for b in header["machst"][:2]) not in ((0x44, 0x44), (0x44, 0x41), (0x11, 0x11)):
        add("machine-stamp", f"machine stamp {bytes(header['machst']).hex()} is not a valid one")
    for field in ("nx", "ny", "nz", "mx", "my", "mz", "ispg", "nlabl"):
        if int(header[field]) < 0:
            add("negative", f"header field {field} is negative ({int(header[field])})")
    if sorted(int(header[k]) for k in ("mapc", "mapr", "maps")) != [1, 2, 3]:
        add("axes", "MAPC/MAPR/MAPS are not a permutation of 1, 2, 3")
    if int(header["nversion"]) not in (20140, 20141):
        add("nversion", f"NVERSION is {int(header['nversion'])}, not 20140 or 20141")
    exttyp = bytes(header["exttyp"].item())
    if int(header["nsymbt"]) > 0 and exttyp not in KNOWN_EXTTYPS and registry.serializer_for_exttyp(exttyp) is None:
        add("exttyp", f"extended header type {exttyp!r} is not recognised")
    if 401 <= int(header["ispg"]) <= 630 and (int(header["mz"]) <= 0 or int(header["nz"]) % int(header["mz"])):
        add("volume-stack", "volume stack with NZ not a multiple of MZ")
    if not 0 <= int(header["nlabl"]) <= 10 or any(
        bytes(header["label"][i]).strip(b"\0 ") == b"" for i in range(min(int(header["nlabl"]), 10))
    ):
        add("labels", "NLABL does not match the contiguous text labels")
    return found


def _data_findings(reader: Any) -> list[Finding]:
    stats = RunningStats()
    try:
        for frame in reader:
            stats.add(frame)
    except MrczioError as exc:
        return [Finding("data", "error", str(exc))]
    found = _stats_findings(reader.header, stats) if reader.header is not None else []
    found += _size_findings(reader)
    return found


def _stats_findings(header: np.ndarray, stats: RunningStats) -> list[Finding]:
    if stats.count == 0:
        return []
    dmin, dmax, dmean, rms = (float(header[k]) for k in ("dmin", "dmax", "dmean", "rms"))
    problems = []
    if dmax >= dmin and (dmin != np.float32(stats.minimum) or dmax != np.float32(stats.maximum)):
        problems.append(f"DMIN/DMAX {dmin}/{dmax} but data spans {stats.minimum}/{stats.maximum}")
    if dmean >= min(dmin, dmax) and not math.isclose(dmean, stats.mean, rel_tol=0.01, abs_tol=1e-6):
        problems.append(f"DMEAN {dmean} but data mean is {stats.mean}")
    if rms >= 0 and not math.isclose(rms, stats.rms, rel_tol=0.01, abs_tol=1e-6):
        problems.append(f"RMS {rms} but data RMS deviation is {stats.rms}")
    return [Finding("statistics", "error", p) for p in problems]


def _size_findings(reader: Any) -> list[Finding]:
    layout = getattr(reader, "layout", None)
    if layout is None:
        return []
    if layout.compressor_id == 0:
        expected = layout.data_offset + layout.nz * layout.section_nbytes
        actual = layout.data_limit
        if actual != expected:
            return [Finding("size", "error", f"data region is {actual - layout.data_offset} bytes, header implies {expected - layout.data_offset}")]
        return []
    chunks = reader.chunk_spans()
    total = sum(length for _, length in chunks)
    declared = int(layout.header["packed_bytes"])
    found = []
    if declared != total:
        found.append(Finding("packed-bytes", "warning", f"PACKED_BYTES is {declared}, chunks total {total}"))
    end = chunks[-1][0] + chunks[-1][1] if chunks else layout.data_offset
    if end != layout.data_limit:
        found.append(Finding("size", "warning", f"{layout.data_limit - end} unexplained bytes after the last chunk"))
    return found
