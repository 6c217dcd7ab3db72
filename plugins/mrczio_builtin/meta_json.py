"""JSON metadata, byte-compatible with what python-mrcz writes and reads (EXTTYP ``json``).

Like python-mrcz, numpy arrays become lists and numpy scalars become numbers, so the
dtype of an array is not kept; use the msgpack serializer to keep arrays exact.

Reading is bounded (see :mod:`mrczio.limits`): nesting deeper than
``MAX_METADATA_DEPTH`` and integers longer than ``MAX_METADATA_INT_DIGITS`` digits are a
:class:`~mrczio.errors.MetadataError`, never a ``RecursionError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

from mrczio import limits
from mrczio.contracts import MetadataSerializer
from mrczio.errors import MetadataError
from mrczio.hookspecs import hookimpl

_TOKEN = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


def json_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text, in one linear scan (no parsing)."""
    depth = deepest = 0
    in_string = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] == "\\":  # an escape: only meaningful inside a string
            continue
        if token == '"':
            in_string = not in_string
        elif not in_string:
            depth += 1 if token in "[{" else -1
            deepest = max(deepest, depth)
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > limits.MAX_METADATA_INT_DIGITS:
        raise ValueError(
            f"an integer of {len(text.lstrip('-'))} digits is longer than "
            f"mrczio.limits.MAX_METADATA_INT_DIGITS ({limits.MAX_METADATA_INT_DIGITS})"
        )
    return int(text)


def load_json_object(text: str, what: str = "JSON metadata") -> dict[str, Any]:
    """Parse a JSON object within mrczio's depth and integer bounds, or raise MetadataError."""
    depth = json_depth(text)
    if depth > limits.MAX_METADATA_DEPTH:
        raise MetadataError(
            f"{what} nests {depth} levels deep, more than mrczio.limits.MAX_METADATA_DEPTH "
            f"({limits.MAX_METADATA_DEPTH})"
        )
    try:
        value = json.loads(text, parse_int=_bounded_int)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise MetadataError(f"{what} is damaged: {exc}") from exc
    if not isinstance(value, dict):
        raise MetadataError(f"{what} is a {type(value).__name__}, not an object")
    return value


def check_writable(metadata: Mapping[str, Any], what: str) -> None:
    """Refuse metadata that mrczio could not read back (too deep, integers too long)."""
    if limits.metadata_depth(metadata) > limits.MAX_METADATA_DEPTH:
        raise MetadataError(
            f"metadata nests deeper than mrczio.limits.MAX_METADATA_DEPTH "
            f"({limits.MAX_METADATA_DEPTH}); it cannot be written as {what}"
        )
    big = limits.too_large_integer(metadata)
    if big is not None:
        raise MetadataError(
            f"metadata holds an integer of {len(str(abs(big)))} digits, more than "
            f"mrczio.limits.MAX_METADATA_INT_DIGITS; it cannot be written as {what}"
        )


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
        check_writable(metadata, "JSON")
        try:
            return json.dumps(dict(metadata), default=_to_json_native).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:
            raise MetadataError(f"metadata cannot be written as JSON: {exc}") from exc

    def loads(self, data: bytes) -> dict[str, Any]:
        try:
            text = bytes(data).rstrip(b"\0").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MetadataError(f"JSON metadata is damaged: {exc}") from exc
        return load_json_object(text)


@hookimpl
def mrczio_register_serializers() -> list[MetadataSerializer]:
    return [JsonSerializer()]
