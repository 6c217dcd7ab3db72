"""Shared fixtures: small synthetic stacks, a fresh registry, the real sample files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.sample_data import sample_path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def counts(rng: np.random.Generator) -> np.ndarray:
    """A small uint8 counting movie: 4 frames of 37 x 53 (odd sizes on purpose)."""
    return rng.poisson(1.0, size=(4, 37, 53)).astype(np.uint8)


@pytest.fixture
def builtin_registry() -> mrczio.Registry:
    """A registry built from the installed entry points, independent of the global one."""
    return mrczio.Registry.from_entry_points()


@pytest.fixture(scope="session")
def sample_file():
    """Return the path of a real sample file (EMD-3001.map, EMD-3197.map, fei-extended.mrc)."""

    def find(name: str) -> Path:
        return sample_path(name)

    return find
