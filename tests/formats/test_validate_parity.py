"""``mrczio validate`` gives mrcfile 1.5's verdicts, with a message naming each problem.

The cases rebuild the bad files of mrcfile's own validation tests (and a few more edge
cases of its rules) with ``mrcfile.new`` plus header edits; each file is judged by
``mrcfile.validate`` and by mrczio, and the verdicts must agree. MRCZ-only checks
(unknown compressor id, PACKED_BYTES, bytes after the last chunk) follow.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np
import pytest

import mrczio
from mrczio import header as mrc
from mrczio.validate import Finding, validate

#: Words a message of each finding code must contain (one of them), so it names the problem.
CODE_WORDS = {
    "map": ["map ID"],
    "machine-stamp": ["machine stamp"],
    "mode": ["MODE", "mode"],
    "negative": ["negative"],
    "cell": ["CELLA"],
    "axes": ["MAPC/MAPR/MAPS"],
    "volume-stack": ["MZ"],
    "ispg": ["ISPG"],
    "labels": ["NLABL", "label"],
    "nversion": ["NVERSION"],
    "exttyp": ["EXTTYP"],
    "statistics": ["DMIN", "DMAX", "DMEAN", "RMS"],
    "size": ["bytes"],
    "packed-bytes": ["PACKED_BYTES"],
    "unknown-codec": ["compressor id"],
    "unreadable": ["recognises"],
    "read-warning": ["map ID"],
    "footer": ["footer"],
    "checksum": ["checksum"],
    "data": ["frame"],
}

STATS_DATA = np.arange(-10, 20, dtype=np.float32).reshape(2, 3, 5)
COMPLEX_DATA = (np.arange(12) - 1j * np.arange(12)).astype(np.complex64).reshape(3, 4) + 1j


def mrcfile_verdict(path: Path) -> tuple[bool, str]:
    log = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mrcfile warns about the very problems tested
        return mrcfile.validate(str(path), print_file=log), log.getvalue()


def check_messages(path: Path, found: list[Finding]) -> None:
    for finding in found:
        assert finding.code in CODE_WORDS, finding
        assert finding.severity in ("error", "warning"), finding
        assert any(word in finding.message for word in CODE_WORDS[finding.code]), finding
        if finding.code in ("unreadable", "size", "unknown-codec") and "header" not in finding.message:
            assert str(path) in finding.message or "bytes" in finding.message, finding


def assert_same_verdict(path: Path, expected_codes: set[str]) -> list[Finding]:
    valid, log = mrcfile_verdict(path)
    found = validate(path)
    errors = {f.code for f in found if f.severity == "error"}
    assert valid == (not errors), (log, found)
    assert expected_codes <= {f.code for f in found}, (log, found)
    check_messages(path, found)
    return found


# -- mrcfile's test_validation cases, rebuilt ----------------------------------------------

Edit = Callable[[Any], None]


def set_header(**fields: Any) -> Edit:
    def edit(m: Any) -> None:
        for name, value in fields.items():
            setattr(m.header, name, value)

    return edit


def with_data(data: np.ndarray, **fields: Any) -> Edit:
    def edit(m: Any) -> None:
        m.set_data(data)
        set_header(**fields)(m)

    return edit


def good_file(m: Any) -> None:
    m.set_data(np.arange(36, dtype=np.float32).reshape(3, 3, 4))
    m.voxel_size = 2.3


def labels(nlabl: int, **texts: str) -> Edit:
    def edit(m: Any) -> None:
        for index, text in texts.items():
            m.header.label[int(index[1:])] = text
        m.header.nlabl = nlabl

    return edit


def extended(exttyp: str | None) -> Edit:
    def edit(m: Any) -> None:
        m.set_extended_header(np.arange(10))
        if exttyp is not None:
            m.header.exttyp = exttyp

    return edit


def many_problems(m: Any) -> None:
    data = np.arange(-10, 20, dtype=np.float32).reshape(3, 2, 5)
    m.set_data(data)
    m.set_extended_header(data)
    h = m.header
    h.nz, h.my, h.mz, h.mapc, h.ispg = 2, -1000, -5, 5, -20
    h.cella.y = -12.1
    h.dmin, h.dmax, h.dmean, h.rms = 10, 11, 19.0, 0.0
    h.exttyp, h.nversion, h.nlabl = "fake", 0, 4
    h.label[9] = "test label"


def negative_cella_x(m: Any) -> None:
    m.header.cella.x = -10


def fei2_extended_header(m: Any) -> None:
    """Stands in for mrcfile's epu2.9_example.mrc: an FEI2 extended header."""
    from mrcfile.dtypes import get_ext_header_dtype

    m.set_data(np.arange(24, dtype=np.int16).reshape(2, 3, 4))
    ext = np.zeros(2, dtype=get_ext_header_dtype(b"FEI2"))
    ext["Metadata size"] = ext.dtype.itemsize
    m.set_extended_header(ext)
    m.header.exttyp = "FEI2"


VOLUMES = np.arange(120, dtype=np.float32).reshape(3, 2, 4, 5)

#: (mrcfile test name, edit of a new mrcfile, finding codes mrczio must report).
MRCFILE_CASES: list[tuple[str, Edit, set[str]]] = [
    ("good_file", good_file, set()),
    ("short_map_id", set_header(map=b"MAP\0"), {"map"}),
    ("incorrect_machine_stamp", set_header(machst=bytearray(b"    ")), {"machine-stamp"}),
    ("invalid_mode", with_data(np.arange(12, dtype=np.float32).reshape(1, 3, 4), mode=8), {"mode"}),
    ("file_too_small", with_data(np.arange(12, dtype=np.float32).reshape(1, 3, 4), nz=2), {"size"}),
    ("file_too_large", with_data(np.arange(36, dtype=np.float32).reshape(3, 3, 4), nz=2), {"size"}),
    ("negative_mx", set_header(mx=-10), {"negative"}),
    ("negative_my", set_header(my=-10), {"negative"}),
    ("negative_mz", set_header(mz=-10), {"negative"}),
    ("negative_ispg", set_header(ispg=-10), {"negative"}),
    ("negative_nlabl", set_header(nlabl=-3), {"negative", "labels"}),
    ("negative_cella_x", negative_cella_x, {"cell"}),
    ("invalid_axis_mapping", set_header(mapc=3, mapr=4, maps=-200), {"axes"}),
    ("mz_correct_for_volume_stack", with_data(VOLUMES), set()),
    ("mz_incorrect_for_volume_stack", with_data(VOLUMES, mz=5), {"volume-stack"}),
    ("nlabl_too_large", labels(3, l1="test label"), {"labels"}),
    ("nlabl_too_small", labels(1, l1="test label"), {"labels"}),
    ("empty_labels_in_list", labels(2, l2="test label"), {"labels"}),
    ("old_format_version", set_header(nversion=20140), set()),
    ("incorrect_format_version", set_header(nversion=20139), {"nversion"}),
    ("missing_exttyp", extended(None), {"exttyp"}),
    ("unknown_exttyp", extended("Fake"), {"exttyp"}),
    ("incorrect_rms", with_data(STATS_DATA, rms=9.0), {"statistics"}),
    ("rms_undetermined", with_data(STATS_DATA, rms=-15), set()),
    ("incorrect_dmin", with_data(STATS_DATA, dmin=-11), {"statistics"}),
    ("incorrect_dmax", with_data(STATS_DATA, dmax=15), {"statistics"}),
    ("min_and_max_undetermined", with_data(STATS_DATA, dmin=30.1, dmax=30.0), set()),
    ("incorrect_dmean", with_data(STATS_DATA, dmean=-2.5), {"statistics"}),
    ("incorrect_dmean_with_undetermined_dmin_and_dmax", with_data(STATS_DATA, dmin=20, dmax=-30.1, dmean=-2.5), {"statistics"}),
    ("mean_undetermined", with_data(STATS_DATA, dmean=-11), set()),
    ("min_max_and_mean_undetermined", with_data(STATS_DATA, dmin=30.1, dmax=30.0, dmean=29.9), set()),
    (
        "many_problems_simultaneously",
        many_problems,
        {"negative", "cell", "axes", "labels", "nversion", "exttyp", "statistics", "size"},
    ),
    ("validate_good_files[float32]", with_data(np.arange(36, dtype=np.float32).reshape(3, 3, 4)), set()),
    ("validate_good_files[uint16]", with_data(np.arange(36, dtype=np.uint16).reshape(3, 3, 4)), set()),
    ("validate_good_files[FEI2]", fei2_extended_header, set()),
]

#: More edges of the same rules, judged the same way.
EXTRA_CASES: list[tuple[str, Edit, set[str]]] = [
    ("empty_file", lambda m: None, set()),
    ("empty_file_with_statistics", set_header(rms=5, dmin=1, dmax=2), {"statistics"}),
    ("dmin_equal_dmax_is_undetermined", with_data(STATS_DATA, dmin=5, dmax=5, dmean=-20, rms=-1), set()),
    ("map_id_with_data", with_data(STATS_DATA, map=b"fake"), {"map"}),
    ("nlabl_beyond_ten", labels(11, l0="a", l1="b"), {"labels"}),
    ("label_of_spaces_is_empty", labels(1, l1="   "), set()),
    ("label_beyond_nlabl", labels(1, l0="a", l5="late"), {"labels"}),
    ("negative_cella_z", lambda m: setattr(m.header.cella, "z", -1.5), {"cell"}),
    ("volume_stack_mz_0", with_data(VOLUMES, mz=0), {"volume-stack"}),
    ("ispg_between_ranges", with_data(STATS_DATA, ispg=300), {"ispg"}),
    ("ispg_past_volume_stacks", with_data(STATS_DATA, ispg=700), {"ispg"}),
    ("big_endian", with_data(STATS_DATA.astype(">f4")), set()),
    ("int8", with_data(np.arange(-60, 60, dtype=np.int8).reshape(2, 6, 10)), set()),
    ("float16", with_data(np.linspace(-3, 3, 60, dtype=np.float16).reshape(2, 5, 6)), set()),
    ("complex_as_mrcfile_writes_it", with_data(COMPLEX_DATA), set()),
    (
        "complex_with_real_part_statistics",
        with_data(COMPLEX_DATA, dmin=COMPLEX_DATA.real.min(), dmax=COMPLEX_DATA.real.max(), dmean=COMPLEX_DATA.real.mean()),
        {"statistics"},
    ),
    (
        "complex_with_zero_imaginary_and_real_statistics",
        with_data(COMPLEX_DATA.real.astype(np.complex64), dmin=0, dmax=11, dmean=5.5),
        set(),
    ),
    ("nan_minimum", with_data(np.array([[np.nan, 1.0], [2.0, 3.0]], dtype=np.float32), dmin=1, dmax=3, dmean=-5, rms=-1), {"statistics"}),
]


def build(path: Path, edit: Edit) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mrcfile warns when data or headers are odd
        with mrcfile.new(str(path)) as m:
            edit(m)
    return path


@pytest.mark.parametrize(("name", "edit", "codes"), MRCFILE_CASES + EXTRA_CASES, ids=[c[0] for c in MRCFILE_CASES + EXTRA_CASES])
def test_same_verdict_as_mrcfile(tmp_path: Path, name: str, edit: Edit, codes: set[str]) -> None:
    found = assert_same_verdict(build(tmp_path / f"{name}.mrc", edit), codes)
    if not codes:
        assert [f for f in found if f.severity == "error"] == []


def test_verdicts_on_real_files(tmp_path: Path, sample_file: Callable[[str], Path]) -> None:
    """mrcfile's emdb, emdb_cryst and FEI1 cases on the same public files."""
    found = assert_same_verdict(sample_file("EMD-3197.map"), {"nversion"})
    assert {f.code for f in found} == {"nversion"}
    found = assert_same_verdict(sample_file("EMD-3001.map"), {"nversion", "exttyp"})
    assert {f.code for f in found} == {"nversion", "exttyp"}
    assert assert_same_verdict(sample_file("fei-extended.mrc"), set()) == []


@pytest.mark.parametrize("container", ["gzip", "bz2"])
def test_compressed_container_is_unreadable(tmp_path: Path, sample_file: Callable[[str], Path], container: str) -> None:
    """mrcfile's gzip/bzip2 EMDB cases: mrcfile finds NVERSION 0 inside; mrczio reads no
    gzip or bzip2 containers, so its verdict (invalid) comes from "unreadable"."""
    import bz2
    import gzip

    module = gzip if container == "gzip" else bz2
    path = tmp_path / f"emd_3197.map.{container}"
    path.write_bytes(module.compress(sample_file("EMD-3197.map").read_bytes()))
    found = assert_same_verdict(path, {"unreadable"})
    assert str(path) in found[0].message


def test_not_an_mrc_file(tmp_path: Path) -> None:
    text = tmp_path / "README.txt"
    text.write_text("This is not an MRC file, but it is long enough to have a header. " * 20)
    found = assert_same_verdict(text, {"unreadable"})
    assert str(text) in found[0].message


def test_fake_map_id_on_empty_file(tmp_path: Path) -> None:
    """mrcfile's incorrect_map_id: no MAP and no sizes is not recognised as MRC at all."""
    path = build(tmp_path / "fake.mrc", set_header(map=b"fake"))
    found = assert_same_verdict(path, {"unreadable"})
    assert str(path) in found[0].message


def test_map_id_warning_while_reading_is_a_finding(tmp_path: Path) -> None:
    found = validate(build(tmp_path / "a.mrc", with_data(STATS_DATA, map=b"fake")))
    assert {(f.code, f.severity) for f in found} == {("map", "error"), ("read-warning", "warning")}


def test_many_problems_all_reported(tmp_path: Path) -> None:
    """mrcfile prints 14 problems for this file; mrczio reports each of them."""
    found = validate(build(tmp_path / "many.mrc", many_problems))
    messages = "\n".join(f.message for f in found)
    for word in ("MY", "MZ", "ISPG", "CELLA.y", "MAPC/MAPR/MAPS", "label 1 is empty", "NLABL is 4",
                 "NVERSION", "EXTTYP", "RMS", "DMIN", "DMAX", "DMEAN", "bytes"):  # fmt: skip
        assert word in messages, (word, messages)
    assert len(found) == 14


# -- MRCZ ----------------------------------------------------------------------------------

def field_offset(name: str) -> int:
    return int(mrc.HEADER_DTYPE.fields[name][1])  # type: ignore[index]


def patch(path: Path, name: str, value: Any) -> None:
    raw = bytearray(path.read_bytes())
    item = np.array(value, dtype=mrc.HEADER_DTYPE.fields[name][0].newbyteorder("<"))  # type: ignore[index]
    offset = field_offset(name)
    raw[offset : offset + item.nbytes] = item.tobytes()
    path.write_bytes(bytes(raw))


@pytest.fixture
def movie(tmp_path: Path, counts: np.ndarray) -> Path:
    """An MRCZ movie ending with its last chunk, as python-mrcz writes them: without
    mrczio's checksum block, which would report the header edits below first."""
    path = tmp_path / "movie.mrcz"
    mrczio.imwrite(path, counts)
    with mrczio.open(path) as reader:
        offset, length = reader.chunk_spans()[-1]  # type: ignore[attr-defined]
    with path.open("r+b") as handle:
        handle.truncate(offset + length)
    return path


def test_good_mrcz_has_no_findings(movie: Path, tmp_path: Path, counts: np.ndarray) -> None:
    assert validate(movie) == []
    as_written = tmp_path / "as_written.mrcz"
    mrczio.imwrite(as_written, counts, metadata={"dose": 1.5})
    assert validate(as_written) == []


def test_unknown_compressor_id(movie: Path) -> None:
    patch(movie, "mode", 999_000 + int(np.frombuffer(movie.read_bytes()[12:16], "<i4")[0]) % 1000)
    with pytest.raises(mrczio.UnknownCodecError) as info:
        mrczio.imread(movie)
    assert str(movie) in str(info.value) and "999" in str(info.value)
    assert info.value.codec == 999
    (finding,) = validate(movie)
    assert (finding.code, finding.severity) == ("unknown-codec", "error")
    assert str(movie) in finding.message and "compressor id 999" in finding.message


def test_packed_bytes_wrong(movie: Path) -> None:
    declared = int(np.frombuffer(movie.read_bytes(), "<i8", 1, field_offset("packed_bytes"))[0])
    patch(movie, "packed_bytes", declared + 7)
    (finding,) = validate(movie)
    assert (finding.code, finding.severity) == ("packed-bytes", "error")
    assert f"PACKED_BYTES is {declared + 7}" in finding.message and f"total {declared} bytes" in finding.message


def test_packed_bytes_not_recorded_is_a_warning(movie: Path) -> None:
    patch(movie, "packed_bytes", 0)
    (finding,) = validate(movie)
    assert (finding.code, finding.severity) == ("packed-bytes", "warning")


def test_bytes_after_last_chunk(movie: Path) -> None:
    size = movie.stat().st_size
    with movie.open("ab") as handle:
        handle.write(b"tail" * 3)
    (finding,) = validate(movie)
    assert (finding.code, finding.severity) == ("size", "error")
    assert "12 unexplained bytes after the last chunk" in finding.message and str(size) in finding.message


def test_truncated_chunk_is_a_size_finding(movie: Path) -> None:
    movie.write_bytes(movie.read_bytes()[:-5])
    (finding,) = validate(movie)
    assert (finding.code, finding.severity) == ("size", "error")
    assert str(movie) in finding.message


def test_damaged_chunk_is_a_finding_naming_the_frame(movie: Path) -> None:
    with mrczio.open(movie) as reader:
        offset, _ = reader.chunk_spans()[2]  # type: ignore[attr-defined]
    raw = bytearray(movie.read_bytes())
    start = offset + 16 + 20  # inside the third chunk's compressed bytes
    raw[start : start + 40] = bytes(b ^ 0x5A for b in raw[start : start + 40])
    movie.write_bytes(bytes(raw))
    (finding,) = validate(movie)
    assert finding.code in ("checksum", "data") and finding.severity == "error"
    assert str(movie) in finding.message and "frame 2" in finding.message
    check_messages(movie, [finding])


def test_mrcz_header_rules_use_the_pixel_mode(movie: Path) -> None:
    patch(movie, "nversion", 20139)
    patch(movie, "mapc", 7)
    assert {f.code for f in validate(movie)} == {"nversion", "axes"}


def test_unsupported_mode_is_a_mode_finding(tmp_path: Path) -> None:
    path = build(tmp_path / "m5.mrc", with_data(STATS_DATA))
    patch(path, "mode", 5)
    found = assert_same_verdict(path, {"mode"})
    assert str(path) in found[0].message and "5" in found[0].message


# -- deliberate differences from mrcfile -------------------------------------------------


@pytest.mark.parametrize(
    ("options", "code"),
    [({"metadata": {"dose": 1.5}}, "exttyp"), ({"metadata": {"dose": 1.5}, "metadata_placement": "footer"}, "footer")],
)
def test_mrczio_metadata_in_plain_mrc_is_a_warning(tmp_path: Path, counts: np.ndarray, options: dict[str, Any], code: str) -> None:
    """mrcfile rejects mrczio's metadata conventions; mrczio warns that it will."""
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, counts, **options)
    assert mrcfile_verdict(path)[0] is False
    found = validate(path)
    assert [(f.code, f.severity) for f in found] == [(code, "warning")]
    assert "mrcfile" in found[0].message
    check_messages(path, found)


def test_mrcz_metadata_in_extended_header_is_silent(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts, metadata={"dose": 1.5})
    assert validate(path) == []


def test_mode_101_is_valid(tmp_path: Path, counts: np.ndarray) -> None:
    """MRC2014 defines mode 101 (4-bit); mrcfile cannot read it."""
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, np.minimum(counts, 15), packed4bit=True)
    assert mrcfile_verdict(path)[0] is False
    assert validate(path) == []
