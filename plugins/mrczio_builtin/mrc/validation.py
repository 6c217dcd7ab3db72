"""MRC2014 checks behind ``mrczio validate`` for plain MRC and MRCZ files.

They follow MRC2014 and mrcfile's ``validate`` and add what MRCZ needs: PACKED_BYTES
matches the chunks and nothing unexplained follows the last chunk. Each finding has a
stable ``code``.
"""

from __future__ import annotations

import math

import numpy as np

from mrczio.contracts import Finding, Severity
from mrczio.reader import StackReader
from mrczio.stats import RunningStats
from mrczio_builtin.mrc.chunk_index import data_end
from mrczio_builtin.mrc.reader_base import MrcLayoutReader

KNOWN_EXTTYPS = {b"CCP4", b"MRCO", b"SERI", b"AGAR", b"FEI1", b"FEI2", b"HDF5"}


def findings(reader: StackReader, data: RunningStats | None) -> list[Finding]:
    """Everything wrong with an open MRC-family file."""
    if reader.header is None:
        return []
    found = _header_findings(reader.header, _exttyp_known(reader))
    if data is not None:
        found += _stats_findings(reader.header, data)
    if isinstance(reader, MrcLayoutReader):
        found += _size_findings(reader)
    return found


def _exttyp_known(reader: StackReader) -> bool:
    """True when EXTTYP is a standard type or named the serializer of the metadata read."""
    if reader.exttyp in KNOWN_EXTTYPS:
        return True
    return isinstance(reader, MrcLayoutReader) and reader.layout.metadata_location == "extended"


def _header_findings(header: np.ndarray, exttyp_known: bool) -> list[Finding]:
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
    if int(header["nsymbt"]) > 0 and not exttyp_known:
        add("exttyp", f"extended header type {exttyp!r} is not recognised")
    if 401 <= int(header["ispg"]) <= 630 and (int(header["mz"]) <= 0 or int(header["nz"]) % int(header["mz"])):
        add("volume-stack", "volume stack with NZ not a multiple of MZ")
    if not 0 <= int(header["nlabl"]) <= 10 or any(
        bytes(header["label"][i]).strip(b"\0 ") == b"" for i in range(min(int(header["nlabl"]), 10))
    ):
        add("labels", "NLABL does not match the contiguous text labels")
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


def _size_findings(reader: MrcLayoutReader) -> list[Finding]:
    layout = reader.layout
    if layout.compressor_id == 0:
        expected = layout.data_offset + layout.nz * layout.section_nbytes
        actual = layout.data_limit
        if actual != expected:
            return [Finding("size", "error", f"data region is {actual - layout.data_offset} bytes, header implies {expected - layout.data_offset}")]
        return []
    spans = reader.chunk_spans()
    total = sum(length for _, length in spans)
    declared = int(layout.header["packed_bytes"])
    found = []
    if declared != total:
        found.append(Finding("packed-bytes", "warning", f"PACKED_BYTES is {declared}, chunks total {total}"))
    end = data_end(layout, spans)
    if end != layout.data_limit:
        found.append(Finding("size", "warning", f"{layout.data_limit - end} unexplained bytes after the last chunk"))
    return found
