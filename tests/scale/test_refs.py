"""Zarr references: stock zarr + fsspec + numcodecs read the frames without mrczio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
import zarr

import mrczio
from mrczio.cli import main
from mrczio.errors import RefsError
from mrczio.refs import references
from mrczio.testing.range_server import RangeServer


def open_refs(refs: Any) -> Any:
    """How a user without mrczio opens references with zarr 3 (and fsspec's reference fs)."""
    fs = fsspec.filesystem(
        "reference", fo=refs, asynchronous=True, remote_options={"asynchronous": True}
    )
    return zarr.open_array(
        zarr.storage.FsspecStore(fs, read_only=True, path=""), mode="r", zarr_format=2
    )


@pytest.mark.parametrize(
    ("name", "dtype", "options"),
    [
        ("u2.mrcz", np.uint16, {}),
        ("u1.mrcz", np.uint8, {"codec": "lz4", "filter": "bitshuffle"}),
        ("i1.mrcz", np.int8, {}),
        ("f4.mrcz", np.float32, {"codec": "zlib"}),
        ("c8.mrcz", np.complex64, {}),
        ("be.mrcz", np.uint16, {"byteorder": ">"}),
        ("i2.mrc", np.int16, {}),
        ("be.mrc", np.float32, {"byteorder": ">"}),
    ],
)
def test_zarr_reads_identical_pixels(
    tmp_path: Path, name: str, dtype: Any, options: dict[str, Any]
) -> None:
    rng = np.random.default_rng(5)
    data = (rng.poisson(3.0, size=(7, 30, 41)) - (0 if np.dtype(dtype).kind in "uc" else 2)).astype(
        dtype
    )
    mrczio.imwrite(tmp_path / name, data, **options)
    array = open_refs(references(tmp_path / name))
    assert array.shape == data.shape and array.chunks == (1, 30, 41)
    np.testing.assert_array_equal(array[:], data)
    np.testing.assert_array_equal(array[4], data[4])


def test_one_range_request_per_frame_over_http(
    served: RangeServer, large_movie: tuple[Path, np.ndarray]
) -> None:
    path, data = large_movie
    refs = references(served.url(path.name))
    with mrczio.open(path) as reader:
        offset, length = reader.chunk_spans()[17]
    served.log.reset()
    array = open_refs(refs)
    np.testing.assert_array_equal(array[17], data[17])
    assert served.log.entries == [("GET", "/large.mrcz", f"bytes={offset}-{offset + length - 1}")]


def test_references_json_served_over_http(
    served: RangeServer, small_movie: tuple[Path, np.ndarray]
) -> None:
    path, data = small_movie
    assert (
        main(
            [
                "refs",
                str(path),
                "-o",
                str(path.with_suffix(".json")),
                "--url",
                served.url(path.name),
            ]
        )
        == 0
    )
    fs = fsspec.filesystem(
        "reference",
        fo=served.url("small.json"),
        asynchronous=True,
        remote_options={"asynchronous": True},
    )
    array = zarr.open_array(
        zarr.storage.FsspecStore(fs, read_only=True, path=""), mode="r", zarr_format=2
    )
    np.testing.assert_array_equal(array[17], data[17])


def test_cli_prints_references(
    small_movie: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    path, data = small_movie
    assert main(["refs", str(path)]) == 0
    refs = json.loads(capsys.readouterr().out)
    assert refs["version"] == 1 and refs["refs"]["17.0.0"][0] == str(path)
    np.testing.assert_array_equal(open_refs(refs)[:], data)


@pytest.mark.parametrize(
    ("name", "data", "options", "match"),
    [
        ("b2.mrcz", np.ones((3, 8, 8), np.uint16), {"chunk_format": "blosc2"}, "blosc2"),
        ("p4.mrc", np.ones((3, 8, 8), np.uint8), {"packed4bit": True}, "packed"),
        ("p4.mrcz", np.ones((3, 8, 8), np.uint8), {"packed4bit": True}, "packed"),
        ("t.tif", np.ones((3, 8, 8), np.uint8), {}, "only MRC and MRCZ"),
    ],
)
def test_inexpressible_files_are_refused(
    tmp_path: Path, name: str, data: np.ndarray, options: dict[str, Any], match: str
) -> None:
    mrczio.imwrite(tmp_path / name, data, **options)
    with pytest.raises(RefsError, match=match) as caught:
        references(tmp_path / name)
    assert name in str(caught.value)
    assert isinstance(caught.value, mrczio.ConversionError)
