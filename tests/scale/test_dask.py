"""Lazy dask arrays: shape without pixels, one chunk per frame, pickling, distributed."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.errors import DataTypeError
from mrczio.testing.range_server import RangeServer

from .conftest import poisson_movie


def test_to_dask_chunks_and_values(large_movie: tuple[Path, np.ndarray]) -> None:
    path, data = large_movie
    with mrczio.open(path) as reader:
        array = reader.to_dask()
        grouped = reader.to_dask(frames_per_chunk=6)
    assert array.shape == data.shape and array.dtype == data.dtype
    assert array.chunks[0] == (1,) * len(data)
    assert grouped.chunks[0] == (6,) * 6 + (4,)
    np.testing.assert_array_equal(array.compute(), data)
    np.testing.assert_array_equal(array[17].compute(), data[17])
    np.testing.assert_array_equal(grouped[3:9, 5:20, ::7].compute(), data[3:9, 5:20, ::7])
    np.testing.assert_array_equal(array.sum(axis=0).compute(), data.sum(axis=0))


def test_to_dask_reads_no_pixels(served: RangeServer, large_movie: tuple[Path, np.ndarray]) -> None:
    path, data = large_movie
    with mrczio.open(served.url(path.name)) as reader:
        opened = served.log.requests
        array = reader.to_dask()
    assert served.log.requests == opened  # building the graph read nothing
    np.testing.assert_array_equal(array[17].compute(), data[17])


def test_open_dask_stacks_movies_from_a_glob(tmp_path: Path) -> None:
    movies = [poisson_movie(5, (24, 32), seed=s) for s in range(3)]
    for k, movie in enumerate(movies):
        mrczio.imwrite(tmp_path / f"m{k}.mrcz", movie)
    stacked = mrczio.open_dask(str(tmp_path / "m*.mrcz"))
    assert stacked.shape == (3, 5, 24, 32) and stacked.chunks[1] == (1,) * 5
    np.testing.assert_array_equal(stacked.compute(), np.stack(movies))


def test_open_dask_refuses_mismatched_movies(tmp_path: Path) -> None:
    mrczio.imwrite(tmp_path / "a.mrc", poisson_movie(5, (24, 32)))
    mrczio.imwrite(tmp_path / "b.mrc", poisson_movie(6, (24, 32)))
    with pytest.raises(DataTypeError, match="b.mrc"):
        mrczio.open_dask([tmp_path / "a.mrc", tmp_path / "b.mrc"])
    with pytest.raises(mrczio.MrczioError, match="no files match"):
        mrczio.open_dask(str(tmp_path / "*.none"))


@pytest.mark.parametrize("name", ["p.mrc", "p.mrcz", "p.tif"])
def test_readers_survive_pickle(tmp_path: Path, name: str) -> None:
    data = poisson_movie(4, (16, 20))
    mrczio.imwrite(tmp_path / name, data)
    with mrczio.open(tmp_path / name, permissive=True) as reader:
        copy = pickle.loads(pickle.dumps(reader))
    with copy:
        assert (copy.format_name, copy.permissive, copy.shape) == (
            reader.format_name,
            True,
            data.shape,
        )
        np.testing.assert_array_equal(copy[2], data[2])


def test_remote_reader_survives_pickle(
    served: RangeServer, small_movie: tuple[Path, np.ndarray]
) -> None:
    path, data = small_movie
    with mrczio.open(served.url(path.name)) as reader:
        copy = pickle.loads(pickle.dumps(reader))
    with copy:
        assert copy.path == served.url(path.name)
        np.testing.assert_array_equal(copy[17], data[17])


def test_distributed_processes_sum_three_movies(tmp_path: Path) -> None:
    from dask.distributed import Client, LocalCluster

    movies = [poisson_movie(6, (32, 48), seed=s) for s in range(3)]
    for k, movie in enumerate(movies):
        mrczio.imwrite(tmp_path / f"movie{k}.mrcz", movie)
    stacked = mrczio.open_dask(sorted(str(p) for p in tmp_path.glob("movie*.mrcz")))
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        total = client.compute(stacked.sum(axis=1)).result(timeout=120)
        pids = set(client.run(lambda: __import__("os").getpid()).values())
    np.testing.assert_array_equal(total, np.stack(movies).sum(axis=1))
    assert len(pids) == 2 and __import__("os").getpid() not in pids
