"""Shared fixtures for lazy and remote access: movies on disk and a local Range server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import mrczio
import mrczio.dask
from mrczio.testing.range_server import RangeServer


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RangeServer]:
    """A Range-honouring HTTP server on 127.0.0.1 serving ``tmp_path``."""
    with RangeServer(tmp_path) as server:
        yield server


@pytest.fixture(autouse=True)
def _close_cached_readers() -> Iterator[None]:
    yield
    mrczio.dask.clear_cache()


def poisson_movie(
    frames: int, shape: tuple[int, int], dose: float = 1.0, seed: int = 7
) -> np.ndarray:
    return np.random.default_rng(seed).poisson(dose, size=(frames, *shape)).astype(np.uint16)


@pytest.fixture
def small_movie(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """40 frames of 64 x 64 uint16 as MRCZ (about 50 KB: smaller than the remote prefix)."""
    data = poisson_movie(40, (64, 64))
    path = tmp_path / "small.mrcz"
    mrczio.imwrite(path, data)
    return path, data


@pytest.fixture
def large_movie(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """40 frames of 256 x 256 uint16 as MRCZ (about 1 MB: chunks of ~25 KB)."""
    data = poisson_movie(40, (256, 256), dose=3.0)
    path = tmp_path / "large.mrcz"
    mrczio.imwrite(path, data)
    return path, data
