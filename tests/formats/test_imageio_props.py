"""``improps`` follows imageio's v3 convention: ``n_images`` for batches, None for one ndimage.

imageio documents ``ImageProperties.n_images`` as "number of images in the file if
``index=...``, None for single images"; its pillow, tifffile, pyav and opencv plugins
give the count exactly when ``is_batch`` is true. For every layout and index, improps
must also describe what ``imread`` returns for the same index.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np
import pytest

import mrczio
from mrczio.testing import sample_stack

iio = pytest.importorskip("imageio.v3")  # imageio is a core dependency; this never skips


def write(path: Path, data: np.ndarray, **options: Any) -> Path:
    mrczio.imwrite(path, data, **options)
    return path


def volume_stack(path: Path) -> Path:
    """Three volumes of 2 x 4 x 5 (ISPG 401, MZ 2), written by mrcfile."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.new(str(path)) as mrc:
            mrc.set_data(np.arange(120, dtype=np.float32).reshape(3, 2, 4, 5))
    return path


#: (name, file maker, ndimage shape, ndimages, whether index=None reads a batch).
LAYOUTS = [
    ("image", lambda d: write(d / "i.mrc", sample_stack("uint16", (1, 9, 11))[0]), (9, 11), 1, False),
    ("movie", lambda d: write(d / "m.mrcz", sample_stack("uint16", (4, 9, 11))), (9, 11), 4, True),
    ("volume", lambda d: write(d / "v.mrc", sample_stack("float32", (5, 6, 7)), volume=True), (5, 6, 7), 1, False),
    ("volume_stack", lambda d: volume_stack(d / "vs.mrc"), (2, 4, 5), 3, True),
]


@pytest.mark.parametrize(("name", "make", "image_shape", "count", "batch"), LAYOUTS, ids=[layout[0] for layout in LAYOUTS])
def test_n_images_is_none_for_one_ndimage(
    tmp_path: Path, name: str, make: Any, image_shape: tuple[int, ...], count: int, batch: bool
) -> None:
    path = make(tmp_path)
    whole = iio.improps(path)
    assert whole.is_batch == batch
    assert whole.n_images == (count if batch else None)
    assert whole.shape == iio.imread(path).shape
    every = iio.improps(path, index=...)
    assert (every.n_images, every.is_batch, every.shape) == (count, True, (count, *image_shape))
    assert every.shape == iio.imread(path, index=...).shape
    for k in (0, count - 1, -1):
        one = iio.improps(path, index=k)
        assert (one.n_images, one.is_batch, one.shape) == (None, False, image_shape)
        assert one.shape == iio.imread(path, index=k).shape
    with pytest.raises(IndexError):
        iio.improps(path, index=count)


def test_same_convention_as_imageio_pillow(tmp_path: Path) -> None:
    """The reference: imageio's own pillow plugin on a PNG (one image)."""
    png = tmp_path / "a.png"
    iio.imwrite(png, np.zeros((9, 11), dtype=np.uint8))
    mrc = write(tmp_path / "a.mrc", np.zeros((9, 11), dtype=np.uint8))
    for index in (None, 0, ...):
        theirs, ours = iio.improps(png, index=index), iio.improps(mrc, index=index)
        assert (ours.n_images, ours.is_batch, ours.shape) == (theirs.n_images, theirs.is_batch, theirs.shape)
