"""Remote reading over HTTP range requests (a local server on 127.0.0.1 counts them)."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio import remote
from mrczio.errors import RemoteError
from mrczio.fileio import PositionalFile
from mrczio.positional import is_url, open_positional
from mrczio.remote import RemoteFile, RemoteSettings
from mrczio.testing.range_server import RangeServer


def test_remote_file_has_the_positional_file_interface() -> None:
    public = [name for name in dir(PositionalFile) if not name.startswith("_")]
    for name in public:
        assert hasattr(RemoteFile, name), name
        mine, theirs = getattr(RemoteFile, name), getattr(PositionalFile, name)
        if callable(theirs):
            assert inspect.signature(mine) == inspect.signature(theirs), name
    _memory(b"0123456789", "iface.bin")
    source = RemoteFile("memory://iface.bin")
    assert (source.path, source.size, source.read_at(2, 3), source.closed) == (
        "memory://iface.bin",
        10,
        b"234",
        False,
    )
    source.close()
    assert source.closed


def _memory(data: bytes, name: str) -> None:
    import fsspec

    fsspec.filesystem("memory").pipe(f"/{name}", data)


def test_is_url() -> None:
    assert is_url("https://a/b.mrcz") and is_url("s3://bucket/k") and is_url("memory://x")
    assert not is_url("/data/movie.mrcz") and not is_url("movie.mrcz") and not is_url("C:\\m.mrcz")


def test_small_movie_open_and_frame_17_costs_two_requests(
    served: RangeServer, small_movie: tuple[Path, np.ndarray]
) -> None:
    path, data = small_movie
    served.log.reset()
    with mrczio.open(served.url(path.name)) as reader:
        frame = reader[17]
        assert reader.format_name == "mrcz" and reader.shape == data.shape
    np.testing.assert_array_equal(frame, data[17])
    # Prefix and suffix range requests in parallel (they give the size: no HEAD);
    # format sniffing reuses them and the whole 50 KB file is then in memory.
    assert served.log.requests == 2, served.log.entries
    assert all(method == "GET" for method, _, _ in served.log.entries)


def test_large_movie_frame_costs_one_request_of_its_chunk(
    served: RangeServer, large_movie: tuple[Path, np.ndarray]
) -> None:
    path, data = large_movie
    with mrczio.open(path) as local:
        offset, length = local.chunk_spans()[17]
    served.log.reset()
    with mrczio.open(served.url(path.name)) as reader:
        opened = served.log.requests
        sent = served.log.bytes_sent
        frame = reader[17]
        np.testing.assert_array_equal(reader[:], data)
    np.testing.assert_array_equal(frame, data[17])
    # 1 MB file, 25 KB chunks: prefix + tail; the chunk index at the end of the file
    # comes with the tail, so there is no walk. Open + frame 17 = 3 requests.
    assert opened == 2, served.log.entries
    assert served.log.entries[opened][2] == f"bytes={offset}-{offset + length - 1}"
    assert sent <= path.stat().st_size + 2 * remote.settings.tail_bytes


def test_large_chunks_walk_reads_headers_not_bodies(
    served: RangeServer, large_movie: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file without a chunk index (as python-mrcz writes them), chunks much larger than
    the read-ahead (here by shrinking the settings): one small request per chunk header,
    never a chunk body, until a frame is read."""
    _, data = large_movie
    path = large_movie[0].with_name("no-index.mrcz")
    mrczio.imwrite(path, data, checksums=False)
    small = RemoteSettings(prefix_bytes=2048, tail_bytes=1024, min_readahead=256, max_readahead=4096)
    monkeypatch.setattr(remote, "settings", small)
    served.log.reset()
    with mrczio.open(served.url(path.name)) as reader:
        opened, sent = served.log.requests, served.log.bytes_sent
        np.testing.assert_array_equal(reader[17], data[17])
    assert opened == 2 + (len(data) - 1), served.log.entries  # ends, then one per later chunk
    assert sent <= 2048 + 1024 + 256 * len(data)
    assert served.log.requests == opened + 1


def test_plain_mrc_remote(served: RangeServer, tmp_path: Path) -> None:
    data = np.random.default_rng(3).normal(size=(40, 96, 80)).astype(np.float32)  # 1.2 MB
    mrczio.imwrite(tmp_path / "plain.mrc", data)
    served.log.reset()
    with mrczio.open(served.url("plain.mrc")) as reader:
        opened = served.log.requests
        np.testing.assert_array_equal(reader[17], data[17])
    section = 96 * 80 * 4
    assert opened == 2
    assert served.log.entries[-1][2] == f"bytes={1024 + 17 * section}-{1024 + 18 * section - 1}"


@pytest.mark.parametrize("name", ["packed.mrc", "packed.mrcz"])
def test_4bit_remote(served: RangeServer, tmp_path: Path, name: str) -> None:
    data = np.random.default_rng(4).integers(0, 16, size=(40, 128, 200)).astype(np.uint8)
    mrczio.imwrite(tmp_path / name, data, packed4bit=True)
    served.log.reset()
    with mrczio.open(served.url(name)) as reader:
        np.testing.assert_array_equal(reader[17], data[17])
        np.testing.assert_array_equal(reader[:], data)
    assert served.log.requests <= 2 + len(data)


def test_other_fsspec_protocol(small_movie: tuple[Path, np.ndarray]) -> None:
    path, data = small_movie
    _memory(path.read_bytes(), "movies/small.mrcz")
    with mrczio.open("memory://movies/small.mrcz") as reader:
        np.testing.assert_array_equal(reader[17], data[17])
        assert isinstance(reader[0], np.ndarray)


def test_missing_url_is_a_remote_error(served: RangeServer) -> None:
    with pytest.raises(RemoteError, match="nothing.mrcz"):
        mrczio.open(served.url("nothing.mrcz"))


def test_server_without_ranges_is_refused(tmp_path: Path, large_movie: tuple[Path, np.ndarray]) -> None:
    path, _ = large_movie
    server = RangeServer(tmp_path, honour_ranges=False)
    with server, pytest.raises(RemoteError, match="ignored a range request"):
        mrczio.open(server.url(path.name))


def test_unknown_protocol_is_a_remote_error() -> None:
    with pytest.raises(RemoteError, match="nosuchproto"):
        open_positional("nosuchproto://host/movie.mrcz")


def test_truncated_read_beyond_size(served: RangeServer, small_movie: tuple[Path, np.ndarray]) -> None:
    path, _ = small_movie
    source = open_positional(served.url(path.name))
    try:
        with pytest.raises(mrczio.TruncatedFileError, match="small.mrcz"):
            source.read_at(source.size - 4, 8)
    finally:
        source.close()


# -- URL patterns -------------------------------------------------------------------------


def test_open_dask_expands_a_pattern_over_an_http_folder_listing(tmp_path: Path, served: RangeServer) -> None:
    for k in (2, 0, 1):
        mrczio.imwrite(tmp_path / f"m{k}.mrcz", np.full((2, 8, 8), k, np.uint8))
    mrczio.imwrite(tmp_path / "other.mrc", np.zeros((2, 8, 8), np.uint8))
    pattern = f"http://127.0.0.1:{served.port}/m*.mrcz"
    stacked = mrczio.open_dask(pattern)
    assert stacked.shape == (3, 2, 8, 8)
    np.testing.assert_array_equal(stacked.compute()[:, 0, 0, 0], [0, 1, 2])  # sorted by name
    with pytest.raises(mrczio.MissingFileError, match="no files match") as raised:
        mrczio.open_dask(f"http://127.0.0.1:{served.port}/zz*.mrcz")
    assert "zz*.mrcz" in str(raised.value)


def test_open_dask_expands_a_pattern_on_an_fsspec_file_system(tmp_path: Path) -> None:
    for k in range(3):
        path = tmp_path / f"x{k}.mrcz"
        mrczio.imwrite(path, np.full((2, 4, 4), 10 + k, np.uint8))
        _memory(path.read_bytes(), f"glob-run/x{k}.mrcz")
    assert remote.glob_urls("memory://glob-run/x[01].mrcz") == [
        "memory:///glob-run/x0.mrcz",
        "memory:///glob-run/x1.mrcz",
    ]
    np.testing.assert_array_equal(
        mrczio.open_dask("memory://glob-run/x*.mrcz").compute()[:, 0, 0, 0], [10, 11, 12]
    )


@pytest.mark.parametrize(
    ("url", "pattern"),
    [
        ("http://host/run/*.mrcz", True),
        ("https://host/a.mrcz?X-Amz-Signature=ab[c]?d", False),  # a signed URL is one file
        ("https://host/a.mrcz?list=*", False),
        ("s3://bucket/run/a?.mrcz", True),
        ("s3://bucket/run/a.mrcz", False),
    ],
)
def test_which_urls_are_patterns(url: str, pattern: bool) -> None:
    assert remote.has_wildcards(url) is pattern


# -- TIFF over HTTP ------------------------------------------------------------------------


def test_a_remote_tiff_reads_bit_exact_with_few_requests(tmp_path: Path, served: RangeServer) -> None:
    stack = (
        np.random.default_rng(9).poisson(3.0, (30, 256, 256)).astype(np.uint16)
    )  # ~3.9 MB: beyond the prefix
    mrczio.imwrite(tmp_path / "movie.tif", stack, voxel_size=1.25)
    with mrczio.open(served.url("movie.tif")) as reader:
        assert (reader.format_name, reader.shape, reader.voxel_size.x) == ("tiff", stack.shape, 1.25)
        opened = served.log.requests
        served.log.reset()
        np.testing.assert_array_equal(reader[17], stack[17])
        one_frame = served.log.requests
        one_frame_bytes = served.log.bytes_sent
        np.testing.assert_array_equal(reader.read(), stack)
    assert one_frame <= 3
    assert one_frame_bytes < stack.nbytes / 5  # a frame, not the file
    assert served.log.bytes_sent < 2 * stack.nbytes
    assert opened <= 40  # page directories are read through read-ahead windows


def test_a_cut_remote_tiff_is_refused(tmp_path: Path, served: RangeServer) -> None:
    whole = tmp_path / "whole.tif"
    mrczio.imwrite(whole, np.zeros((6, 64, 64), np.uint8))
    (tmp_path / "cut.tif").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(mrczio.TruncatedFileError, match="page chain breaks"):
        mrczio.open(served.url("cut.tif"))
