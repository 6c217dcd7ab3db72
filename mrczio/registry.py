"""The registry: one name table per plugin kind, built from the hooks.

``get_registry()`` returns the process-wide registry, built on first use from the
``mrczio`` entry-point group. Tests and embedding applications can build their own with
``Registry.from_plugins([...])`` and pass it to any API call as ``registry=``; nothing
global is mutated.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import pluggy

from mrczio.contracts import (
    CorrectionFilter,
    FileFormat,
    FrameCodec,
    MetadataSerializer,
    PixelMode,
)
from mrczio.errors import (
    AmbiguousFormatError,
    PluginConflictError,
    PluginError,
    UnknownCodecError,
    UnknownFilterError,
    UnknownFormatError,
    UnknownSerializerError,
    UnsupportedModeError,
)
from mrczio.plugin_loader import (
    LoadFailure,
    PluginRecord,
    load_entry_point_plugins,
    new_plugin_manager,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered descriptor and the plugin that provided it."""

    key: Any
    item: T
    plugin: str


class NameTable(Generic[T]):
    """Descriptors of one kind keyed by a unique key; a duplicate key is a conflict."""

    def __init__(self, kind: str, key: Callable[[T], Any], item_type: type) -> None:
        self.kind = kind
        self._key = key
        self._type = item_type
        self._entries: dict[Any, Entry[T]] = {}

    def add(self, item: T, plugin: str) -> None:
        if not isinstance(item, self._type):
            raise PluginError(
                f"plugin {plugin!r} returned {item!r} as a {self.kind}, "
                f"which is not a {self._type.__name__}"
            )
        key = self._key(item)
        if key in self._entries:
            other = self._entries[key].plugin
            raise PluginConflictError(
                f"{self.kind} {key!r} is provided by both plugin {other!r} and plugin {plugin!r}"
            )
        self._entries[key] = Entry(key, item, plugin)

    def get(self, key: Any) -> T | None:
        entry = self._entries.get(key)
        return entry.item if entry else None

    def entries(self) -> list[Entry[T]]:
        return sorted(self._entries.values(), key=lambda e: str(e.key))

    def __contains__(self, key: object) -> bool:
        return key in self._entries


def _normalize_extension(ext: str) -> str:
    ext = ext.lower()
    return ext if ext.startswith(".") else "." + ext


class Registry:
    """All formats, pixel modes, codecs, serializers and filters of a plugin manager."""

    def __init__(
        self,
        manager: pluggy.PluginManager,
        records: Sequence[PluginRecord] = (),
        failures: Sequence[LoadFailure] = (),
    ) -> None:
        self.manager = manager
        self.records = list(records)
        self.failures = list(failures)
        self.formats: NameTable[FileFormat] = NameTable("format", lambda f: f.name, FileFormat)
        self.modes: NameTable[PixelMode] = NameTable("pixel mode", lambda m: m.code, PixelMode)
        self.codecs: NameTable[FrameCodec] = NameTable("codec", lambda c: c.name, FrameCodec)
        self.codec_ids: NameTable[FrameCodec] = NameTable(
            "compressor id", lambda c: c.compressor_id, FrameCodec
        )
        self.serializers: NameTable[MetadataSerializer] = NameTable(
            "serializer", lambda s: s.name, MetadataSerializer
        )
        self.exttyps: NameTable[MetadataSerializer] = NameTable(
            "serializer EXTTYP", lambda s: s.exttyp, MetadataSerializer
        )
        self.filters: NameTable[CorrectionFilter] = NameTable(
            "filter", lambda f: f.name, CorrectionFilter
        )
        self._collect()

    # -- construction -------------------------------------------------------------

    @classmethod
    def from_entry_points(cls) -> Registry:
        """Build a registry from every plugin installed in the ``mrczio`` group."""
        manager = new_plugin_manager()
        records, failures = load_entry_point_plugins(manager)
        return cls(manager, records, failures)

    @classmethod
    def from_plugins(cls, plugins: Iterable[object]) -> Registry:
        """Build a registry from explicit plugin modules or objects (for tests)."""
        manager = new_plugin_manager()
        for plugin in plugins:
            manager.register(plugin)
        manager.check_pending()
        return cls(manager)

    def _collect(self) -> None:
        hook = self.manager.hook
        self._collect_hook(hook.mrczio_register_formats, [self.formats])
        self._collect_hook(hook.mrczio_register_pixel_modes, [self.modes])
        self._collect_hook(hook.mrczio_register_codecs, [self.codecs, self.codec_ids])
        self._collect_hook(hook.mrczio_register_serializers, [self.serializers, self.exttyps])
        self._collect_hook(hook.mrczio_register_filters, [self.filters])

    def _collect_hook(self, caller: pluggy.HookCaller, tables: list[NameTable[Any]]) -> None:
        # Call each implementation ourselves so every descriptor keeps its plugin name.
        for impl in reversed(caller.get_hookimpls()):
            name = self.manager.get_name(impl.plugin) or repr(impl.plugin)
            items = cast(Iterable[Any], impl.function() or ())
            for item in items:
                for table in tables:
                    table.add(item, name)

    # -- lookups ------------------------------------------------------------------

    def format(self, name: str) -> FileFormat:
        fmt = self.formats.get(name.lower())
        if fmt is None:
            known = ", ".join(e.key for e in self.formats.entries())
            raise UnknownFormatError(f"unknown format {name!r}; installed formats: {known}")
        return fmt

    def format_for_extension(self, path: str | os.PathLike[str]) -> FileFormat:
        """The format whose extension list matches the end of ``path`` (longest wins)."""
        lower = os.fspath(path).lower()
        best: tuple[int, FileFormat] | None = None
        for entry in self.formats.entries():
            for ext in entry.item.extensions:
                ext = _normalize_extension(ext)
                if lower.endswith(ext) and (best is None or len(ext) > best[0]):
                    best = (len(ext), entry.item)
        if best is None:
            raise UnknownFormatError(
                f"{os.fspath(path)}: no installed format handles this extension; "
                f"pass format=... (installed: {', '.join(e.key for e in self.formats.entries())})"
            )
        return best[1]

    def format_for_content(self, head: bytes, path: str) -> FileFormat:
        """The format that claims ``head`` with the highest confidence."""
        claims = [(e.item.claim(head, path), e.item) for e in self.formats.entries()]
        claims = [(c, f) for c, f in claims if c > 0]
        if not claims:
            raise UnknownFormatError(f"{path}: no installed format recognises this file")
        claims.sort(key=lambda cf: cf[0], reverse=True)
        if len(claims) > 1 and claims[0][0] == claims[1][0]:
            names = ", ".join(f.name for c, f in claims if c == claims[0][0])
            raise AmbiguousFormatError(f"{path}: formats {names} claim this file equally")
        return claims[0][1]

    def mode(self, code: int, path: str | None = None) -> PixelMode:
        mode = self.modes.get(code)
        if mode is None:
            known = ", ".join(str(e.key) for e in self.modes.entries())
            raise UnsupportedModeError(path, f"unsupported MRC mode {code} (known modes: {known})")
        return mode

    def mode_for_dtype(self, dtype: Any) -> PixelMode | None:
        """The pixel mode that stores ``dtype`` by default (lowest code wins), or None."""
        for entry in sorted(self.modes.entries(), key=lambda e: e.key):
            if entry.item.accepts(dtype):
                return entry.item
        return None

    def codec(self, name: str) -> FrameCodec:
        codec = self.codecs.get(name.lower())
        if codec is None:
            known = ", ".join(e.key for e in self.codecs.entries())
            raise UnknownCodecError(name, f"unknown codec {name!r}; installed codecs: {known}")
        return codec

    def codec_for_id(self, compressor_id: int) -> FrameCodec | None:
        return self.codec_ids.get(compressor_id)

    def serializer(self, name: str) -> MetadataSerializer:
        ser = self.serializers.get(name.lower())
        if ser is None:
            known = ", ".join(e.key for e in self.serializers.entries())
            raise UnknownSerializerError(f"unknown metadata serializer {name!r}; installed: {known}")
        return ser

    def serializer_for_exttyp(self, exttyp: bytes) -> MetadataSerializer | None:
        return self.exttyps.get(bytes(exttyp))

    def filter(self, name: str) -> CorrectionFilter:
        flt = self.filters.get(name.lower())
        if flt is None:
            known = ", ".join(e.key for e in self.filters.entries())
            raise UnknownFilterError(f"unknown correction filter {name!r}; installed: {known}")
        return flt

    def distribution_of(self, plugin_name: str) -> str:
        for record in self.records:
            if record.name == plugin_name:
                return f"{record.distribution} {record.version}".strip()
        return "(registered directly)"


_default: Registry | None = None
_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry, built from entry points on first use."""
    global _default
    with _lock:
        if _default is None:
            _default = Registry.from_entry_points()
        return _default
