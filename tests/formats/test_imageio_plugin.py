"""imageio v3 through mrczio's plugin: index semantics, improps, immeta, write options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.testing import assert_bit_exact, sample_stack

iio = pytest.importorskip("imageio.v3")  # imageio is a core dependency; this never skips


@pytest.fixture
def movie(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = sample_stack("uint16", (4, 9, 11))
    path = tmp_path / "m.mrcz"
    mrczio.imwrite(path, data, voxel_size=(1.5, 1.25, 2.0))
    return path, data


@pytest.mark.parametrize("suffix", [".mrc", ".mrcs", ".mrcz"])
def test_imread_imwrite_round_trip(tmp_path: Path, suffix: str) -> None:
    data = sample_stack("float32", (3, 7, 9))
    path = tmp_path / f"a{suffix}"
    iio.imwrite(path, data)
    with mrczio.open(path) as reader:
        assert reader.format_name == ("mrcz" if suffix == ".mrcz" else "mrc")
    assert_bit_exact(iio.imread(path), data)


def test_index_semantics(movie: tuple[Path, np.ndarray]) -> None:
    path, data = movie
    assert_bit_exact(iio.imread(path), data)
    assert_bit_exact(iio.imread(path, index=2), data[2])
    assert_bit_exact(iio.imread(path, index=-1), data[-1])
    assert_bit_exact(iio.imread(path, index=...), data)
    assert_bit_exact(np.stack(list(iio.imiter(path))), data)
    with pytest.raises(IndexError):
        iio.imread(path, index=4)
    with pytest.raises(ValueError):  # FrameIndexError is both
        iio.imread(path, index=4)


def test_improps_reports_shape_dtype_images_and_spacing(movie: tuple[Path, np.ndarray]) -> None:
    path, data = movie
    props = iio.improps(path)
    assert props.shape == data.shape and props.dtype == data.dtype
    assert props.n_images == 4 and props.is_batch
    assert props.spacing == pytest.approx((1.25, 1.5))
    one = iio.improps(path, index=0)
    assert one.shape == (9, 11) and not one.is_batch and one.n_images is None
    assert iio.improps(path, index=...).shape == (4, 9, 11)


def test_immeta(movie: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, _ = movie
    meta = iio.immeta(path)
    assert meta["format"] == "mrcz" and meta["voxel_size"][0] == pytest.approx(1.5)
    assert meta["header"]["nx"] == 11
    mrczio.imwrite(tmp_path / "b.mrc", np.zeros((2, 3), np.int16), metadata={"dose": 2.0})
    assert iio.immeta(tmp_path / "b.mrc")["metadata"] == {"dose": 2.0}


def test_volume_is_one_ndimage(tmp_path: Path) -> None:
    data = sample_stack("float32", (5, 6, 7))
    path = tmp_path / "v.mrc"
    mrczio.imwrite(path, data, volume=True, voxel_size=(1.0, 2.0, 3.0))
    props = iio.improps(path)
    assert (
        props.n_images is None  # imageio: None for a single ndimage
        and not props.is_batch
        and props.spacing == pytest.approx((3.0, 2.0, 1.0))
    )
    assert_bit_exact(iio.imread(path, index=0), data)
    assert iio.imread(path, index=...).shape == (1, 5, 6, 7)


def test_write_codec_options(tmp_path: Path) -> None:
    data = sample_stack("uint8", (3, 16, 16), max_value=3)
    iio.imwrite(tmp_path / "a.mrcz", data, codec="lz4", clevel=5, nthreads=1, blocksize=65536)
    with mrczio.open(tmp_path / "a.mrcz") as reader:
        info = reader.chunk_info(0)
    assert info["codec"].startswith("lz4") and info["blocksize"] <= 65536
    assert (
        int(reader_mode(tmp_path / "a.mrcz")) // 1000
        == mrczio.get_registry().codec("lz4").compressor_id
    )
    assert_bit_exact(iio.imread(tmp_path / "a.mrcz"), data)


def test_4bit_mrc(tmp_path: Path) -> None:
    data = sample_stack("uint8", (3, 6, 9), max_value=15)
    iio.imwrite(tmp_path / "a.mrc", data, packed4bit=True)
    with mrczio.open(tmp_path / "a.mrc") as reader:
        assert int(reader.header["mode"]) == 101
    assert_bit_exact(iio.imread(tmp_path / "a.mrc"), data)
    assert iio.improps(tmp_path / "a.mrc").dtype == np.uint8


def test_bytes_round_trip_and_list_of_frames(tmp_path: Path) -> None:
    data = sample_stack("int16", (2, 5, 6))
    encoded = iio.imwrite("<bytes>", data, extension=".mrcz")
    assert isinstance(encoded, bytes) and encoded[208:212] == b"MAP "
    assert_bit_exact(iio.imread(encoded, extension=".mrcz"), data)
    iio.imwrite(tmp_path / "l.mrcs", [data[0], data[1]])
    assert_bit_exact(iio.imread(tmp_path / "l.mrcs"), data)


def test_plugin_is_selected_by_name_and_refuses_other_files(
    tmp_path: Path, movie: tuple[Path, np.ndarray]
) -> None:
    path, data = movie
    assert_bit_exact(iio.imread(path, plugin="mrczio"), data)
    iio.imwrite(tmp_path / "x.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(OSError):
        iio.imread(tmp_path / "x.png", plugin="mrczio")


def test_import_mrczio_does_not_import_imageio_but_registers_once_it_is() -> None:
    code = (
        "import sys, mrczio; assert 'imageio' not in sys.modules; "
        "import imageio.v3, imageio.config as c; "
        "assert 'mrczio' in c.known_plugins; "
        "assert c.known_extensions['.mrcz'][0].priority == ['mrczio']; print('ok')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_registration_after_imageio_was_imported_first() -> None:
    code = "import imageio.v3 as iio, mrczio, imageio.config as c; assert 'mrczio' in c.known_plugins; print('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr


def reader_mode(path: Path) -> int:
    with mrczio.open(path) as reader:
        return int(reader.header["mode"])
