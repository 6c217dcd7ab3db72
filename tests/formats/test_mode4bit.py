"""MRC mode 101 (4-bit, SerialEM/IMOD): packing layout, odd widths, values above 15,
IMOD's older mode-0 4-bit files, MRCZ round trips, and what python-mrcz and mrcfile do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mrczio_builtin.mrc.packed4bit import pack_nibbles, unpack_nibbles

import mrczio
from mrczio import header as mrc
from mrczio.testing import assert_bit_exact, sample_stack


def imod_pack(frames: np.ndarray) -> bytes:
    """IMOD's layout written out longhand: per row, pixel 2i in the low nibble of byte i,
    pixel 2i+1 in the high nibble, a zero pad nibble when nx is odd."""
    out = bytearray()
    for frame in frames:
        for row in frame:
            for i in range(0, len(row), 2):
                high = int(row[i + 1]) if i + 1 < len(row) else 0
                out.append(int(row[i]) | (high << 4))
    return bytes(out)


def data_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    nsymbt = int(np.frombuffer(raw[92:96], "<i4")[0])
    return raw[1024 + nsymbt :]


def test_known_vectors() -> None:
    assert pack_nibbles(np.array([[[11, 7, 13, 12, 1, 0]]], np.uint8)).tobytes() == bytes.fromhex(
        "7bcd01"
    )
    ramp = np.array([[list(range(16)) + list(range(15, -1, -1))]], np.uint8)
    assert pack_nibbles(ramp).tobytes() == bytes.fromhex("1032547698badcfeefcdab8967452301")


@pytest.mark.parametrize("shape", [(6, 10), (6, 9), (3, 6, 10), (3, 5, 9), (2, 1, 1)], ids=str)
def test_file_bytes_follow_imod_and_round_trip(tmp_path: Path, shape: tuple[int, ...]) -> None:
    data = sample_stack("uint8", shape, max_value=15)
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, data, packed4bit=True, voxel_size=0.83)
    stack = data[np.newaxis] if data.ndim == 2 else data
    assert data_bytes(path) == imod_pack(stack)
    with mrczio.open(path) as reader:
        assert int(reader.header["mode"]) == 101
        assert (int(reader.header["nx"]), int(reader.header["ny"])) == (shape[-1], shape[-2])
        assert reader.dtype == np.uint8
        assert reader.voxel_size.x == pytest.approx(0.83)
        assert_bit_exact(reader[len(reader) - 1], stack[-1])
    assert_bit_exact(mrczio.imread(path), data)


def test_mode_option_is_the_same_as_packed4bit(tmp_path: Path) -> None:
    data = sample_stack("uint8", (2, 4, 5), max_value=15)
    mrczio.imwrite(tmp_path / "a.mrc", data, packed4bit=True)
    mrczio.imwrite(tmp_path / "b.mrc", data, mode=101)
    assert data_bytes(tmp_path / "a.mrc") == data_bytes(tmp_path / "b.mrc")


def test_uint8_is_never_packed_by_default(tmp_path: Path) -> None:
    data = sample_stack("uint8", (2, 4, 6), max_value=15)
    mrczio.imwrite(tmp_path / "a.mrc", data)
    with mrczio.open(tmp_path / "a.mrc") as reader:
        assert int(reader.header["mode"]) == 0


def test_values_above_15_are_refused_with_count_and_maximum(tmp_path: Path) -> None:
    data = sample_stack("uint8", (2, 4, 6), max_value=15)
    data[0, 0, :3] = (17, 16, 40)
    path = tmp_path / "a.mrc"
    with pytest.raises(mrczio.ConversionError, match=r"a\.mrc: 3 pixels exceed 15 \(maximum 40\)"):
        mrczio.imwrite(path, data, packed4bit=True)
    assert list(tmp_path.iterdir()) == []


def test_clip_reports_the_count_and_never_touches_neighbours(tmp_path: Path) -> None:
    data = np.zeros((1, 2, 4), np.uint8)
    data[0, 0] = (17, 17, 3, 200)
    path = tmp_path / "a.mrc"
    with pytest.warns(mrczio.MrczioWarning, match="clipped 3 pixels above 15"):
        mrczio.imwrite(path, data, packed4bit=True, clip=True)
    assert_bit_exact(mrczio.imread(path), np.minimum(data, 15)[0])
    with mrczio.open(path) as reader:
        assert float(reader.header["dmax"]) == 15.0


def test_other_dtypes_cannot_be_written_as_101(tmp_path: Path) -> None:
    with pytest.raises(mrczio.DataTypeError, match="mode 101 stores uint8"):
        mrczio.imwrite(tmp_path / "a.mrc", np.zeros((4, 4), np.float32), packed4bit=True)


def test_big_endian_file_has_the_same_nibbles(tmp_path: Path) -> None:
    data = sample_stack("uint8", (2, 3, 7), max_value=15)
    mrczio.imwrite(tmp_path / "le.mrc", data, packed4bit=True)
    mrczio.imwrite(tmp_path / "be.mrc", data, packed4bit=True, byteorder="big")
    assert data_bytes(tmp_path / "le.mrc") == data_bytes(tmp_path / "be.mrc")
    assert_bit_exact(mrczio.imread(tmp_path / "be.mrc"), data)


def write_imod_mode0_4bit(path: Path, frames: np.ndarray, *, flag: bool, label: str = "") -> None:
    """An IMOD-style older 4-bit file: mode 0, nx halved, imodFlags bit 16 (or a label)."""
    nz, ny, nx = frames.shape
    header = mrc.new_header("<")
    header["nx"], header["ny"], header["nz"], header["mode"] = nx // 2, ny, nz, 0
    header["mx"], header["my"], header["mz"] = nx // 2, ny, 1
    header["cella"] = (nx // 2 * 2.0, ny * 2.0, 2.0)
    if flag:
        header["imod_stamp"], header["imod_flags"] = mrc.IMOD_STAMP, 16
    if label:
        mrc.set_label(header, 0, label)
    path.write_bytes(header.tobytes() + imod_pack(frames))


def test_imod_mode0_with_4bit_flag_is_read_as_4bit(tmp_path: Path) -> None:
    data = sample_stack("uint8", (2, 5, 12), max_value=15)
    path = tmp_path / "imod.mrc"
    write_imod_mode0_4bit(path, data, flag=True)
    with mrczio.open(path) as reader:
        assert reader.frame_shape == (5, 12)
        assert reader.voxel_size.x == pytest.approx(1.0)  # mx doubled with nx, as IMOD does
        assert_bit_exact(reader.read(), data)


def test_imod_label_alone_needs_a_k2_k3_size(tmp_path: Path) -> None:
    small = sample_stack("uint8", (1, 5, 12), max_value=15)
    path = tmp_path / "labelled.mrc"
    write_imod_mode0_4bit(path, small, flag=False, label="SerialEM: 4 bits packed")
    with mrczio.open(path) as reader:
        assert reader.frame_shape == (5, 6)  # not a super-resolution size: plain bytes
    header = mrc.new_header("<")
    header["nx"], header["ny"], header["nz"], header["mode"] = 3838, 7420, 1, 0
    mrc.set_label(header, 0, "4 bits packed")
    from mrczio_builtin.mrc.packed4bit import imod_mode0_packed

    assert imod_mode0_packed(header)


def test_4bit_to_mrcz_and_back_is_lossless_and_python_mrcz_reads_it(tmp_path: Path) -> None:
    import mrcz

    data = sample_stack("uint8", (3, 8, 10), max_value=15)
    mrczio.imwrite(tmp_path / "a.mrc", data, packed4bit=True)
    mrczio.convert(tmp_path / "a.mrc", tmp_path / "a.mrcz")
    with mrczio.open(tmp_path / "a.mrcz") as reader:
        assert int(reader.header["mode"]) % 1000 == 0  # stored as uint8 bytes
    got, _ = mrcz.readMRC(str(tmp_path / "a.mrcz"))
    assert_bit_exact(np.asarray(got).reshape(data.shape).view(np.uint8), data)
    report = mrczio.convert(tmp_path / "a.mrcz", tmp_path / "b.mrc", packed4bit=True)
    assert report.lossless
    assert data_bytes(tmp_path / "b.mrc") == data_bytes(tmp_path / "a.mrc")


def test_mrc_to_mrc_keeps_the_packing(tmp_path: Path) -> None:
    data = sample_stack("uint8", (2, 4, 6), max_value=15)
    mrczio.imwrite(tmp_path / "a.mrc", data, packed4bit=True)
    report = mrczio.convert(tmp_path / "a.mrc", tmp_path / "b.mrcs")
    assert "kept 4-bit packing (mode 101)" in report.notes
    with mrczio.open(tmp_path / "b.mrcs") as reader:
        assert int(reader.header["mode"]) == 101
    mrczio.convert(tmp_path / "a.mrc", tmp_path / "c.mrc", packed4bit=False)
    with mrczio.open(tmp_path / "c.mrc") as reader:
        assert int(reader.header["mode"]) == 0


def test_python_mrcz_reads_even_width_and_mrcfile_refuses(tmp_path: Path) -> None:
    """python-mrcz decodes mode 101 only with even nx and MZ 0 (mrcz-format.md 1.5); we
    check the even case against it; mrcfile refuses the mode, as documented."""
    import mrcfile
    import mrcz

    data = sample_stack("uint8", (2, 4, 6), max_value=15)
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, data, packed4bit=True)
    raw = bytearray(path.read_bytes())
    raw[36:40] = (0).to_bytes(4, "little")  # MZ 0: python-mrcz reads MZ as "slices"
    alt = tmp_path / "mz0.mrc"
    alt.write_bytes(bytes(raw))
    got, _ = mrcz.readMRC(str(alt))
    assert_bit_exact(np.asarray(got).reshape(data.shape).astype(np.uint8), data)
    with pytest.raises(ValueError, match="101"):
        mrcfile.open(str(path)).close()


def test_unpack_handles_odd_widths_without_a_copy_of_the_padding() -> None:
    data = sample_stack("uint8", (2, 3, 5), max_value=15)
    packed = pack_nibbles(data)
    assert packed.shape == (2, 9)
    assert_bit_exact(np.ascontiguousarray(unpack_nibbles(packed, 3, 5)), data)
