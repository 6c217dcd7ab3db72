"""TIFF: LZW multi-page stacks, metadata, row order against RELION in both directions,
the two 4-bit conventions, and files libtiff's tools and Pillow accept."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tifffile

import mrczio
from mrczio.errors import FormatError, MrczioWarning, TruncatedFileError
from mrczio.testing import assert_bit_exact, check_outside, sample_stack


def tiffinfo(path: Path) -> str:
    tool = shutil.which("tiffinfo")
    assert tool, "tiffinfo missing: .ci/install-tools installs libtiff-tools"
    done = subprocess.run([tool, "-D", str(path)], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


def relion(*args: str, cwd: Path | None = None) -> None:
    tool = shutil.which(args[0])
    assert tool, f"{args[0]} missing: .ci/install-tools installs Debian's relion"
    subprocess.run(
        [tool, *args[1:]],
        capture_output=True,
        check=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


@pytest.mark.parametrize("compression", ["lzw", "deflate", "zstd", "none"])
def test_compressions_are_tagged_and_read_by_libtiff(
    tmp_path: Path, counts: np.ndarray, compression: str
) -> None:
    path = tmp_path / "m.tif"
    mrczio.imwrite(path, counts, compression=compression, voxel_size=1.25)
    text = tiffinfo(path)
    names = {"lzw": "LZW", "deflate": "AdobeDeflate", "zstd": "ZSTD", "none": "None"}
    assert text.count("=== TIFF directory") == len(counts)
    assert f"Compression Scheme: {names[compression]}" in text
    assert "Resolution: 8e+07, 8e+07 pixels/cm" in text
    assert_bit_exact(mrczio.imread(path), counts)
    assert check_outside("tiff", str(path), counts) == []


def test_lzw_is_the_default(tmp_path: Path, counts: np.ndarray) -> None:
    mrczio.imwrite(tmp_path / "m.tiff", counts)
    with tifffile.TiffFile(tmp_path / "m.tiff") as tif:
        assert {page.compression for page in tif.pages} == {tifffile.COMPRESSION.LZW}
        assert len(tif.pages) == len(counts)


def test_rows_are_flipped_like_imod_and_relion(tmp_path: Path, counts: np.ndarray) -> None:
    mrczio.imwrite(tmp_path / "m.tif", counts)
    assert_bit_exact(tifffile.imread(tmp_path / "m.tif"), counts[:, ::-1])
    mrczio.imwrite(tmp_path / "raw.tif", counts, flip_y=False)
    assert_bit_exact(tifffile.imread(tmp_path / "raw.tif"), counts)
    assert_bit_exact(mrczio.imread(tmp_path / "raw.tif"), counts)  # the description says top-down


def test_relion_sees_the_same_image_in_our_mrc_and_our_tiff(tmp_path: Path) -> None:
    import mrcfile

    data = sample_stack("uint8", (3, 12, 10), max_value=100)
    mrczio.imwrite(tmp_path / "m.mrcs", data)
    mrczio.convert(tmp_path / "m.mrcs", tmp_path / "m.tif")
    relion(
        "relion_image_handler",
        "--i",
        str(tmp_path / "m.tif"),
        "--o",
        str(tmp_path / "from_tif.mrcs"),
    )
    relion(
        "relion_image_handler",
        "--i",
        str(tmp_path / "m.mrcs"),
        "--o",
        str(tmp_path / "from_mrc.mrcs"),
    )
    from_tif = mrcfile.read(tmp_path / "from_tif.mrcs")
    from_mrc = mrcfile.read(tmp_path / "from_mrc.mrcs")
    assert np.array_equal(from_mrc, data.astype(np.float32))
    assert np.array_equal(from_tif, from_mrc)


def test_relion_written_tiff_reads_as_the_mrc_it_came_from(tmp_path: Path) -> None:
    data = sample_stack("uint8", (3, 12, 10), max_value=100)
    mrczio.imwrite(tmp_path / "m.mrcs", data)
    relion("relion_convert_to_tiff", "--i", "m.mrcs", "--o", "out/", cwd=tmp_path)
    back = mrczio.imread(tmp_path / "out" / "m.tif")
    assert back.dtype == np.int8  # RELION writes mode-0 input as signed bytes
    assert_bit_exact(back.view(np.uint8), data)
    with mrczio.open(tmp_path / "out" / "m.tif") as reader:
        assert reader.voxel_size.x == pytest.approx(1.0)  # RELION's 1e8 pixels/cm


def test_metadata_and_voxel_size_round_trip(tmp_path: Path, counts: np.ndarray) -> None:
    meta = {"dose": 1.1, "detector": "K3", "frames": [1, 2, 3]}
    mrczio.imwrite(tmp_path / "m.tif", counts, voxel_size=(0.83, 0.84, 1.0), metadata=meta)
    with mrczio.open(tmp_path / "m.tif") as reader:
        assert reader.metadata == meta
        assert tuple(reader.voxel_size) == (0.83, 0.84, 1.0)
        assert reader.header is None and reader.format_name == "tiff"


def test_voxel_size_from_resolution_tags_of_foreign_files(tmp_path: Path, counts: np.ndarray) -> None:
    tifffile.imwrite(tmp_path / "f.tif", counts, photometric="minisblack", resolution=(1e8 / 1.06, 1e8 / 1.06),
                     resolutionunit="CENTIMETER", compression="lzw")  # fmt: skip
    with mrczio.open(tmp_path / "f.tif") as reader:
        assert reader.voxel_size.x == pytest.approx(1.06, rel=1e-6)
        assert_bit_exact(reader.read(), counts[:, ::-1])


def test_serialem_packed_4bit(tmp_path: Path) -> None:
    from PIL import Image

    data = sample_stack("uint8", (2, 6, 10), max_value=15)
    path = tmp_path / "p.tif"
    mrczio.imwrite(path, data, packed4bit=True)
    stored = tifffile.imread(path)
    assert stored.shape == (2, 6, 5) and stored.dtype == np.uint8
    flipped = data[:, ::-1]
    assert_bit_exact(stored & 0x0F, flipped[..., 0::2])  # low nibble first
    assert_bit_exact(stored >> 4, flipped[..., 1::2])
    assert "Compression Scheme: LZW" in tiffinfo(path)
    with Image.open(path) as image:
        assert image.size == (5, 6)
    assert_bit_exact(mrczio.imread(path), data)


def test_serialem_packed_4bit_needs_even_width(tmp_path: Path) -> None:
    with pytest.raises(mrczio.ConversionError, match="even width"):
        mrczio.imwrite(tmp_path / "p.tif", np.zeros((2, 4, 5), np.uint8), packed4bit=True)
    assert list(tmp_path.iterdir()) == []


def test_standard_4bit_is_high_nibble_first(tmp_path: Path) -> None:
    data = np.array([[[1, 11, 7, 0]]], np.uint8)
    path = tmp_path / "s.tif"
    mrczio.imwrite(path, data[0], packed4bit="standard")
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        assert page.bitspersample == 4
        raw = tif.filehandle
        raw.seek(page.dataoffsets[0])
        assert raw.read(2) == bytes.fromhex("1b70")
    assert "Bits/Sample: 4" in tiffinfo(path)
    assert_bit_exact(mrczio.imread(path), data[0])
    with pytest.raises(mrczio.OptionError, match="uncompressed"):
        mrczio.imwrite(tmp_path / "t.tif", data, packed4bit="standard", compression="lzw")


def test_foreign_k2_packed_tiff_is_unpacked_by_size(tmp_path: Path) -> None:
    """A SerialEM-style packed K2 super-resolution frame (3838 x 7420 bytes) with no
    mrczio description decodes to 7676 x 7420 pixels, as IMOD and RELION do."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 16, size=(1, 7420, 7676), dtype=np.uint8)
    from mrczio_builtin.mrc.packed4bit import pack_nibbles

    packed = pack_nibbles(pixels[:, ::-1]).reshape(1, 7420, 3838)
    tifffile.imwrite(tmp_path / "k2.tif", packed, photometric="minisblack", compression="lzw")
    with mrczio.open(tmp_path / "k2.tif") as reader:
        assert reader.frame_shape == (7420, 7676)
        assert_bit_exact(reader[0], pixels[0])


def test_values_above_15_and_clip(tmp_path: Path) -> None:
    data = np.full((1, 2, 4), 3, np.uint8)
    data[0, 0, 0] = 99
    with pytest.raises(mrczio.ConversionError, match=r"1 pixels exceed 15 \(maximum 99\)"):
        mrczio.imwrite(tmp_path / "p.tif", data, packed4bit=True)
    with pytest.warns(mrczio.MrczioWarning, match="clipped 1 pixels"):
        mrczio.imwrite(tmp_path / "p.tif", data, packed4bit=True, clip=True)
    assert mrczio.imread(tmp_path / "p.tif").max() == 15


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    def frames():
        yield np.zeros((4, 4), np.uint8)
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        mrczio.imwrite(tmp_path / "m.tif", frames())
    assert list(tmp_path.iterdir()) == []


def test_damaged_tiff_errors_name_the_file(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "bad.tif"
    path.write_bytes(b"II*\0" + bytes(4))
    with pytest.raises(mrczio.FormatError, match="bad.tif"):
        mrczio.open(path)


def test_unknown_option_and_compression(tmp_path: Path, counts: np.ndarray) -> None:
    with pytest.raises(mrczio.OptionError, match="codec"):
        mrczio.imwrite(tmp_path / "m.tif", counts, codec="zstd")
    with pytest.raises(mrczio.OptionError, match="compression"):
        mrczio.imwrite(tmp_path / "m.tif", counts, compression="jpeg")


def test_rgb_tiff_is_refused(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((4, 4, 3), np.uint8), photometric="rgb")
    with pytest.raises(mrczio.FormatError, match="rgb.tif"):
        mrczio.open(tmp_path / "rgb.tif")


# -- a page chain cut short ----------------------------------------------------------------


def _page_offsets(path: Path) -> list[int]:
    with tifffile.TiffFile(path) as tif:
        return [int(page.offset) for page in tif.pages]


@pytest.mark.parametrize("bigtiff", [False, True])
def test_a_file_cut_inside_a_later_page_directory_is_refused(tmp_path: Path, bigtiff: bool) -> None:
    """tifffile stops at the damaged directory and only logs it; mrczio refuses instead
    of silently returning fewer frames."""
    stack = np.random.default_rng(8).poisson(2.0, (5, 40, 48)).astype(np.uint8)
    whole = tmp_path / "whole.tif"
    mrczio.imwrite(whole, stack, bigtiff=bigtiff)
    data = whole.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: _page_offsets(whole)[4] + 1])  # inside the last page's directory
    with pytest.raises(FormatError, match="page chain breaks after page 3") as raised:
        mrczio.open(cut)
    assert str(cut) in str(raised.value)
    with (
        pytest.warns(MrczioWarning, match="reading the 4 pages found"),
        mrczio.open(cut, permissive=True) as reader,
    ):
        np.testing.assert_array_equal(reader.read(), stack[:4])


def test_a_directory_pointer_past_the_end_is_a_truncated_file(tmp_path: Path) -> None:
    whole = tmp_path / "whole.tif"
    mrczio.imwrite(whole, np.zeros((4, 16, 16), np.uint8))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(whole.read_bytes()[: _page_offsets(whole)[2] - 1])
    with pytest.raises(TruncatedFileError, match="past the end of the file"):
        mrczio.open(cut)


def test_foreign_multipage_files_end_their_chain(tmp_path: Path) -> None:
    stack = np.arange(3 * 8 * 9, dtype=np.uint16).reshape(3, 8, 9)
    path = tmp_path / "foreign.tif"
    tifffile.imwrite(path, stack, contiguous=False, photometric="minisblack")
    with mrczio.open(path) as reader:
        assert reader.n_frames == 3
