"""MRC2014 checks behind ``mrczio validate`` for plain MRC and MRCZ files.

The header and statistics checks reproduce mrcfile 1.5's ``validate`` verdicts: the map
ID, machine stamp, mode, non-negative sizes and cell lengths, axis order, volume-stack
depth, labels, NVERSION, EXTTYP, statistics that are either correct or marked
undetermined (DMIN >= DMAX, DMEAN <= min(DMIN, DMAX), RMS < 0), and a file size matching the
header. MRCZ files add: PACKED_BYTES equals the chunks' total and nothing follows the
last chunk. Each finding has a stable ``code``; warnings do not make a file invalid.

Deliberate differences from mrcfile: mode 101 (4-bit, MRC2014) is valid; mrczio's own
metadata conventions (an EXTTYP naming the serializer of metadata in the extended
header, as python-mrcz writes it, or a metadata footer) are warnings in plain MRC files
(mrcfile rejects both) and silent in MRCZ; an ISPG outside MRC2014's ranges is a warning
(mrcfile accepts it); statistics are computed in float64 (mrcfile sums float16 data in
float16) and, for mode 0 with IMOD's "unsigned" flag, on unsigned bytes.
"""

from __future__ import annotations

import numpy as np

from mrczio import header as mrc
from mrczio.contracts import Finding, Severity
from mrczio.reader import StackReader
from mrczio.stats import RunningStats
from mrczio_builtin.mrc.chunk_index import data_end
from mrczio_builtin.mrc.reader_base import MrcLayoutReader

KNOWN_EXTTYPS = {b"CCP4", b"MRCO", b"SERI", b"AGAR", b"FEI1", b"FEI2", b"HDF5"}
#: Pixel modes MRC2014 defines (mrcfile reads all but 3 and 101).
MRC2014_MODES = (0, 1, 2, 3, 4, 6, 12, 101)
VALID_STAMPS = ((0x44, 0x44), (0x44, 0x41), (0x11, 0x11))
#: mrcfile compares statistics with ``numpy.isclose(data_value, header_value, rtol=0.01)``.
RTOL, ATOL = 0.01, 1e-8


def findings(reader: StackReader, data: RunningStats | None) -> list[Finding]:
    """Everything wrong with an open MRC-family file."""
    header = reader.header
    if header is None:
        return []
    found = _identity_findings(header) + _dimension_findings(header) + _label_findings(header)
    found += _version_findings(header, _exttyp_status(reader))
    if data is not None:
        found += _stats_findings(header, data)
    if isinstance(reader, MrcLayoutReader):
        found += _size_findings(reader)
    return found


def _finding(code: str, message: str, severity: Severity = "error") -> Finding:
    return Finding(code, severity, message)


def _exttyp_status(reader: StackReader) -> Severity | None:
    """None when EXTTYP is an MRC2014 type or (in MRCZ) names the serializer of the
    metadata read, as python-mrcz writes it; a warning for such metadata in a plain MRC
    file (mrcfile rejects it); else an error."""
    if reader.exttyp in KNOWN_EXTTYPS:
        return None
    if isinstance(reader, MrcLayoutReader) and reader.layout.metadata_location == "extended":
        return "warning" if reader.layout.compressor_id == 0 else None
    return "error"


def _identity_findings(header: np.ndarray) -> list[Finding]:
    """Map ID, machine stamp and pixel mode."""
    found = []
    if bytes(header["map"]) != b"MAP ":
        found.append(
            _finding("map", f"map ID (bytes 208-211) is {bytes(header['map'])!r}, should be b'MAP '")
        )
    stamp = bytes(header["machst"])
    if tuple(stamp[:2]) not in VALID_STAMPS:
        found.append(
            _finding(
                "machine-stamp",
                f"machine stamp 0x{stamp.hex()} is none of 0x44440000, 0x44410000, 0x11110000",
            )
        )
    mode = mrc.split_mode(header)[1]
    if mode not in MRC2014_MODES:
        found.append(
            _finding("mode", f"MODE {mode} is not an MRC2014 mode ({', '.join(map(str, MRC2014_MODES))})")
        )
    return found


def _dimension_findings(header: np.ndarray) -> list[Finding]:
    """Sizes and cell lengths not negative, axes a permutation, ISPG and volume stacks."""
    found = [
        _finding("negative", f"header field {field.upper()} is negative ({int(header[field])})")
        for field in ("nx", "ny", "nz", "mx", "my", "mz", "ispg", "nlabl")
        if int(header[field]) < 0
    ]
    found += [
        _finding("cell", f"cell length CELLA.{axis} is negative ({float(length)})")
        for axis, length in zip("xyz", header["cella"], strict=True)
        if length < 0
    ]
    axes = [int(header[k]) for k in ("mapc", "mapr", "maps")]
    if sorted(axes) != [1, 2, 3]:
        found.append(_finding("axes", f"MAPC/MAPR/MAPS are {axes}, not a permutation of 1, 2, 3"))
    return found + _space_group_findings(header)


def _space_group_findings(header: np.ndarray) -> list[Finding]:
    ispg, nz, mz = (int(header[k]) for k in ("ispg", "nz", "mz"))
    if 401 <= ispg <= 630:
        if mz == 0:
            return [
                _finding("volume-stack", f"volume stack (ISPG {ispg}) with MZ 0: the volume depth is unknown")
            ]
        if nz % mz:
            return [
                _finding("volume-stack", f"volume stack (ISPG {ispg}): NZ {nz} is not a multiple of MZ {mz}")
            ]
    elif ispg > 230:
        message = (
            f"ISPG {ispg} is outside MRC2014's ranges (0 image stack, 1-230 volume, 401-630 volume stack)"
        )
        return [_finding("ispg", message, "warning")]
    return []


def _label_findings(header: np.ndarray) -> list[Finding]:
    """Used labels come first and NLABL counts them (as mrcfile: text after stripping)."""
    has_text = [bool(bytes(label).strip()) for label in header["label"]]
    found = []
    first_empty = has_text.index(False) if False in has_text else len(has_text)
    if any(has_text[first_empty:]):
        found.append(_finding("labels", f"label {first_empty} is empty but a later label has text"))
    nlabl, count = int(header["nlabl"]), sum(has_text)
    if nlabl != count:
        found.append(_finding("labels", f"NLABL is {nlabl} but {count} labels contain text"))
    return found


def _version_findings(header: np.ndarray, exttyp_status: Severity | None) -> list[Finding]:
    found = []
    if int(header["nversion"]) not in (20140, 20141):
        found.append(
            _finding("nversion", f"NVERSION is {int(header['nversion'])}, not 20140 or 20141 (MRC2014)")
        )
    nsymbt, exttyp = int(header["nsymbt"]), bytes(header["exttyp"].item())
    if nsymbt > 0 and exttyp_status == "error":
        found.append(
            _finding("exttyp", f"extended header of {nsymbt} bytes has an unknown type: EXTTYP {exttyp!r}")
        )
    elif nsymbt > 0 and exttyp_status == "warning":
        message = (
            f"EXTTYP {exttyp!r} (mrczio/python-mrcz metadata) is not an MRC2014 type; mrcfile rejects it"
        )
        found.append(_finding("exttyp", message, "warning"))
    return found


def _stats_findings(header: np.ndarray, stats: RunningStats) -> list[Finding]:
    """DMIN/DMAX/DMEAN/RMS equal the data's, unless marked undetermined (mrcfile's rules:
    DMIN >= DMAX, DMEAN <= min(DMIN, DMAX), RMS < 0). An empty file has statistics 0."""
    dmin, dmax, dmean, rms = (float(header[k]) for k in ("dmin", "dmax", "dmean", "rms"))
    low, high = stats.extremes() if stats.count else (0.0, 0.0)
    mean = stats.full_mean() if stats.count else 0.0
    hint = " (mrcfile leaves DMIN/DMAX/DMEAN undetermined for complex data)" if stats.is_complex else ""
    problems = []
    if rms >= 0 and not _close(stats.rms, rms):
        problems.append(f"RMS is {rms} but the data's RMS deviation is {stats.rms}")
    if dmin < dmax:
        problems += [
            f"{name} is {value} but the data {what} is {actual}{hint}"
            for name, value, what, actual in (("DMIN", dmin, "minimum", low), ("DMAX", dmax, "maximum", high))
            if value != _as_header_value(actual)
        ]
    if dmean > min(dmin, dmax) and not _close(mean, dmean):
        problems.append(f"DMEAN is {dmean} but the data mean is {mean}{hint}")
    return [_finding("statistics", p) for p in problems]


def _close(actual: complex, declared: float) -> bool:
    return abs(actual - declared) <= ATOL + RTOL * abs(declared)


def _as_header_value(value: complex) -> complex | float:
    """``value`` as the header's float32 holds it (complex values stay complex)."""
    return value if isinstance(value, complex) else float(np.float32(value))


def _size_findings(reader: MrcLayoutReader) -> list[Finding]:
    layout = reader.layout
    if layout.compressor_id == 0:
        expected = layout.nz * layout.section_nbytes
        actual = layout.data_limit - layout.data_offset
        if actual != expected:
            return [_finding("size", f"data region is {actual} bytes, the header implies {expected}")]
        if layout.metadata_location == "footer":
            message = (
                f"metadata footer after the data (byte {actual + layout.data_offset} on); "
                "mrcfile reports the file as larger than expected"
            )
            return [_finding("footer", message, "warning")]
        return []
    return _chunk_findings(reader)


def _chunk_findings(reader: MrcLayoutReader) -> list[Finding]:
    """PACKED_BYTES equals the chunks' total; the data ends with the last chunk."""
    layout = reader.layout
    spans = reader.chunk_spans()
    total = sum(length for _, length in spans)
    declared = int(layout.header["packed_bytes"])
    found = []
    if declared == 0 and total:
        found.append(
            _finding(
                "packed-bytes", f"PACKED_BYTES is 0 (not recorded); the chunks total {total} bytes", "warning"
            )
        )
    elif declared != total:
        found.append(
            _finding(
                "packed-bytes", f"PACKED_BYTES is {declared} but the {len(spans)} chunks total {total} bytes"
            )
        )
    end = data_end(layout, spans)
    if end != layout.data_limit:
        found.append(
            _finding("size", f"{layout.data_limit - end} unexplained bytes after the last chunk (byte {end})")
        )
    return found
