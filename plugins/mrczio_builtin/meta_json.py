"""JSON metadata, byte-compatible with what python-mrcz writes and reads (EXTTYP ``json``).

Like python-mrcz, numpy arrays become lists and numpy scalars become numbers, so the
dtype of an array is not kept; use the msgpack serializer to keep arrays exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

from mrczio.contracts import MetadataSerializer
from mrczio.errors import MetadataError
from mrczio.hookspecs import hookimpl


def _to_json_native(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Enum):
        return f"Enum.{type(value).__name__}.{value.name}"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "serialize"):
        return value.serialize()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JsonSerializer(MetadataSerializer):
    name = "json"
    exttyp = b"json"

    def dumps(self, metadata: Mapping[str, Any]) -> bytes:
        try:
            return json.dumps(dict(metadata), default=_to_json_native).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise MetadataError(f"metadata cannot be written as JSON: {exc}") from exc

    def loads(self, data: bytes) -> dict[str, Any]:
        try:
            value = json.loads(bytes(data).rstrip(b"\0").decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MetadataError(f"JSON metadata is damaged: {exc}") from exc
        if not isinstance(value, dict):
            raise MetadataError(f"JSON metadata is a {type(value).__name__}, not an object")
        return value


@hookimpl
def mrczio_register_serializers() -> list[MetadataSerializer]:
    return [JsonSerializer()]
