"""The napari reader contribution: manifest validated by npe2, lazy layers, no GUI."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from npe2 import PluginManifest

import mrczio
import mrczio.napari as reader_plugin

MANIFEST = Path(mrczio.__file__).with_name("napari.yaml")


def test_manifest_validates_and_imports() -> None:
    manifest = PluginManifest.from_file(MANIFEST)
    manifest.validate_imports()
    (reader,) = manifest.contributions.readers or []
    assert reader.command == "mrczio.get_reader" and "*.mrcz" in reader.filename_patterns
    installed = PluginManifest.from_distribution("mrczio")  # the napari.manifest entry point
    assert installed.contributions.readers == manifest.contributions.readers


def test_layers_are_lazy_with_header_contrast_and_voxel_scale(tmp_path: Path) -> None:
    data = np.random.default_rng(2).poisson(2.0, size=(12, 30, 40)).astype(np.uint16)
    data[3, 4, 5] = 500
    path = tmp_path / "movie.mrcz"
    mrczio.imwrite(path, data, voxel_size=(1.25, 1.5, 2.0))
    read = reader_plugin.get_reader(str(path))
    assert read is not None
    ((array, keywords, kind),) = read(str(path))
    assert kind == "image" and type(array).__module__.startswith("dask")
    assert keywords["name"] == "movie.mrcz"
    assert keywords["scale"] == (2.0, 1.5, 1.25)
    assert keywords["contrast_limits"] == (float(data.min()), 500.0)
    np.testing.assert_array_equal(np.asarray(array[3]), data[3])
    assert "napari" not in sys.modules


def test_tiff_without_statistics_uses_the_middle_frame(tmp_path: Path) -> None:
    data = np.arange(5 * 6 * 7, dtype=np.uint8).reshape(5, 6, 7)
    mrczio.imwrite(tmp_path / "m.tif", data)
    ((array, keywords, _),) = reader_plugin.read_layers([str(tmp_path / "m.tif")])
    assert keywords["contrast_limits"] == (float(data[2].min()), float(data[2].max()))
    assert keywords["scale"] == (1.0, 1.0, 1.0)
    np.testing.assert_array_equal(np.asarray(array), data)


def test_other_files_are_declined(tmp_path: Path) -> None:
    assert reader_plugin.get_reader(str(tmp_path / "notes.txt")) is None
    assert reader_plugin.get_reader([str(tmp_path / "a.mrc"), str(tmp_path / "b.png")]) is None
