"""The imageio v3 plugin class (imported by imageio only when it is first used).

See :mod:`mrczio.imageio_plugin` for registration and the index semantics.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from imageio.core.request import URI_BYTES, InitializationError, IOMode, Request
from imageio.core.v3_plugin_api import ImageProperties, PluginV3

import mrczio
from mrczio.errors import MrczioError
from mrczio.imageio_plugin import EXTENSIONS, extension_of, write_options
from mrczio.reader import StackReader


def _layout(reader: StackReader) -> str:
    """``frames`` (image stack / movie), ``volume`` or ``volumes`` (volume stack)."""
    if reader.ndim == 4:
        return "volumes"
    header = reader.header
    if header is not None and 1 <= int(header["ispg"]) <= 230 and reader.ndim == 3:
        return "volume"
    return "frames"


class MrczioPlugin(PluginV3):
    """Reads and writes MRC, MRCZ and 4-bit MRC through mrczio."""

    def __init__(self, request: Request, **kwargs: Any) -> None:
        super().__init__(request)
        self._reader: StackReader | None = None
        if request.mode.io_mode == IOMode.read:
            self._open_for_reading(request)
        elif extension_of(request) not in EXTENSIONS:
            raise InitializationError(f"mrczio writes {', '.join(EXTENSIONS)}, not {extension_of(request)!r}")

    def _open_for_reading(self, request: Request) -> None:
        path = request.get_local_filename()
        try:
            with open(path, "rb") as handle:
                head = handle.read(1024)
            fmt = mrczio.get_registry().format_for_content(head, path)
            if fmt.name not in ("mrc", "mrcz"):
                raise InitializationError(
                    f"{path}: mrczio's imageio plugin reads MRC and MRCZ, not {fmt.name}"
                )
            self._reader = mrczio.open(path, format=fmt.name)
        except MrczioError as exc:
            raise InitializationError(f"mrczio cannot read {request.raw_uri!r}: {exc}") from exc

    # -- reading ---------------------------------------------------------------------

    @property
    def reader(self) -> StackReader:
        if self._reader is None:
            raise OSError("this imageio resource was opened for writing")
        return self._reader

    def _n_images(self) -> int:
        kind = _layout(self.reader)
        if kind == "volume":
            return 1
        return self.reader.shape[0] if kind == "volumes" else self.reader.n_frames

    def _checked(self, k: int) -> int:
        """``k`` as a non-negative image number; FrameIndexError (IndexError and
        ValueError) when out of range."""
        count = self._n_images()
        if not -count <= k < count:
            raise mrczio.FrameIndexError(
                f"{self.reader.path}: image index {k} is out of range for {count} images"
            )
        return k % count

    def _image(self, k: int) -> np.ndarray:
        reader = self.reader
        k = self._checked(k)
        kind = _layout(reader)
        if kind == "frames":
            return reader[k]
        if kind == "volume":
            return reader.read()
        depth = reader.shape[1]
        return reader[k * depth : (k + 1) * depth]

    def read(self, *, index: Any = None, **kwargs: Any) -> np.ndarray:
        """Whole file (``None``), one ndimage (int) or all on a batch axis (``...``)."""
        if index is None:
            return self.reader.read()
        if index is Ellipsis:
            return np.stack([self._image(k) for k in range(self._n_images())])
        return self._image(int(index))

    def iter(self, **kwargs: Any) -> Iterator[np.ndarray]:
        for k in range(self._n_images()):
            yield self._image(k)

    def properties(self, index: Any = None, **kwargs: Any) -> ImageProperties:
        """Properties of what :meth:`read` returns for ``index``.

        As imageio's v3 plugins do, ``n_images`` is the number of ndimages when the
        result is a batch (``index=...``, or ``index=None`` on a stack or volume stack)
        and None for a single ndimage (``index=k``, or ``index=None`` on one image or
        one volume).
        """
        reader = self.reader
        kind = _layout(reader)
        if index is None:
            shape, batch = (
                reader.shape,
                kind == "volumes" or (kind == "frames" and reader.ndim == 3),
            )
        elif index is Ellipsis:
            shape, batch = (self._n_images(), *self._image_shape()), True
        else:
            self._checked(int(index))
            shape, batch = self._image_shape(), False
        return ImageProperties(
            shape=tuple(shape), dtype=reader.dtype, n_images=self._n_images() if batch else None,
            is_batch=batch, spacing=self._spacing(kind),
        )  # fmt: skip

    def _image_shape(self) -> tuple[int, ...]:
        shape = self.reader.shape
        if _layout(self.reader) == "volume":
            return tuple(shape)
        return tuple(shape[1:]) if len(shape) > 2 else tuple(shape)

    def _spacing(self, kind: str) -> tuple[float, ...] | None:
        vx, vy, vz = self.reader.voxel_size
        if vx <= 0 or vy <= 0:
            return None
        return (vz, vy, vx) if kind != "frames" and vz > 0 else (vy, vx)

    def metadata(self, index: Any = None, exclude_applied: bool = True, **kwargs: Any) -> dict[str, Any]:
        from mrczio.header import header_summary

        reader = self.reader
        meta: dict[str, Any] = {
            "format": reader.format_name,
            "voxel_size": tuple(reader.voxel_size),
            "metadata": dict(reader.metadata),
        }
        if reader.header is not None:
            meta["header"] = header_summary(reader.header)
        return meta

    # -- writing ---------------------------------------------------------------------

    def write(self, ndimage: Any, *, is_batch: bool | None = None, **kwargs: Any) -> bytes | None:
        """Write an array (2-D image, 3-D stack) or a list of 2-D frames.

        Keywords are mrczio write options (``codec``, ``level``, ``filter``, ``blocksize``,
        ``threads``, ``voxel_size``, ``metadata``, ``packed4bit``, ...); imageio-style
        ``clevel``, ``nthreads`` and ``compressor`` are accepted too.
        """
        request = self.request
        path = request.get_local_filename()
        data = np.stack([np.asarray(a) for a in ndimage]) if isinstance(ndimage, list | tuple) else ndimage
        fmt = mrczio.get_registry().format_for_extension(f"x{extension_of(request)}").name
        options = write_options(kwargs)
        options.setdefault("overwrite", True)  # imageio replaces existing files
        mrczio.imwrite(path, data, format=fmt, **options)
        if request._uri_type == URI_BYTES:
            with open(path, "rb") as handle:
                return handle.read()
        return None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        super().close()

    def __repr__(self) -> str:
        return f"<MrczioPlugin {self.request.raw_uri!r}>"
