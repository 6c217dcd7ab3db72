"""msgpack metadata (EXTTYP ``MSGP``) that stores numpy arrays and scalars exactly.

Arrays travel as a msgpack extension (type 42) holding dtype string, shape and raw bytes,
so a float32 gain reference comes back bit for bit with its dtype and shape.

Reading is bounded (see :mod:`mrczio.limits`): nesting deeper than
``MAX_METADATA_DEPTH`` is a :class:`~mrczio.errors.MetadataError`; msgpack integers are
at most 64 bits by the format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgpack
import numpy as np

from mrczio import limits
from mrczio.contracts import MetadataSerializer
from mrczio.errors import MetadataError
from mrczio.hookspecs import hookimpl
from mrczio_builtin.meta_json import check_writable

NDARRAY_EXT = 42


def _pack_array(array: np.ndarray) -> msgpack.ExtType:
    array = np.ascontiguousarray(array)
    if array.dtype.hasobject:
        raise TypeError("object arrays cannot be stored")
    payload = msgpack.packb([array.dtype.str, list(array.shape), array.tobytes()])
    return msgpack.ExtType(NDARRAY_EXT, payload)


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _pack_array(value)
    if isinstance(value, np.generic):
        return _pack_array(np.asarray(value))
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be stored in msgpack metadata")


def _unpack_ext(code: int, data: bytes) -> Any:
    if code != NDARRAY_EXT:
        return msgpack.ExtType(code, data)
    dtype_str, shape, raw = msgpack.unpackb(data)
    dtype = np.dtype(dtype_str)
    if dtype.hasobject:
        raise ValueError("object dtype in stored array")
    count = math.prod(int(n) for n in shape) if shape else 1  # exact: no int64 wrap-around
    if count * dtype.itemsize != len(raw):
        raise ValueError(f"stored array {shape} of {dtype} does not match its {len(raw)} bytes")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return array[()] if not shape else array


class MsgpackSerializer(MetadataSerializer):
    name = "msgpack"
    exttyp = b"MSGP"

    def dumps(self, metadata: Mapping[str, Any]) -> bytes:
        check_writable(metadata, "msgpack")
        try:
            packed: bytes = msgpack.packb(dict(metadata), default=_default, use_bin_type=True)
            return packed
        except (TypeError, ValueError, OverflowError) as exc:
            raise MetadataError(f"metadata cannot be written as msgpack: {exc}") from exc

    def loads(self, data: bytes) -> dict[str, Any]:
        try:
            # unpackb bounds every container by the input length, so a lying size
            # cannot make it allocate more than the stored bytes imply.
            value = msgpack.unpackb(bytes(data), ext_hook=_unpack_ext, raw=False, strict_map_key=False)
        except Exception as exc:  # msgpack raises several unrelated exception types
            raise MetadataError(f"msgpack metadata is damaged: {exc}") from exc
        if not isinstance(value, dict):
            raise MetadataError(f"msgpack metadata is a {type(value).__name__}, not a map")
        if limits.metadata_depth(value) > limits.MAX_METADATA_DEPTH:
            raise MetadataError(
                "msgpack metadata nests deeper than mrczio.limits.MAX_METADATA_DEPTH "
                f"({limits.MAX_METADATA_DEPTH})"
            )
        return value


@hookimpl
def mrczio_register_serializers() -> list[MetadataSerializer]:
    return [MsgpackSerializer()]
