"""The registry: one name table per plugin kind, built from the hooks.

``get_registry()`` returns the process-wide registry, built on first use from the
``mrczio`` entry-point group. Tests and embedding applications can build their own with
``Registry.from_plugins([...])`` and pass it to any API call as ``registry=``; nothing
global is mutated.

The registration hooks are called through pluggy (see :mod:`mrczio.hook_calls`), so
``tryfirst``/``trylast`` and hook wrappers work, and every descriptor stays attributed
to the plugin that returned it. A third-party plugin whose hook raises (even
``SystemExit``) or returns something other than a list of the right descriptors is
disabled with a :class:`~mrczio.errors.PluginLoadWarning` naming it; so is a format whose
``claim`` raises. When a third-party format outbids a built-in one (a higher claim on a
file's content, or a longer matching extension such as ``.x.mrcz``), mrczio says so once
with a :class:`~mrczio.errors.PluginOverrideWarning`.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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
    PluginLoadWarning,
    PluginOverrideWarning,
    UnknownCodecError,
    UnknownFilterError,
    UnknownFormatError,
    UnknownSerializerError,
    UnsupportedModeError,
)
from mrczio.hook_calls import HookRecorder, is_builtin
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
    builtin: bool = False


class NameTable(Generic[T]):
    """Descriptors of one kind keyed by a unique key; a duplicate key is a conflict."""

    def __init__(self, kind: str, key: Callable[[T], Any], item_type: type) -> None:
        self.kind = kind
        self._key = key
        self._type = item_type
        self._entries: dict[Any, Entry[T]] = {}

    def add(self, item: T, plugin: str, builtin: bool = False) -> None:
        if not isinstance(item, self._type):
            raise PluginError(
                f"plugin {plugin!r} returned {item!r} as a {self.kind}, which is not a {self._type.__name__}"
            )
        key = self._key(item)
        if key in self._entries:
            other = self._entries[key].plugin
            raise PluginConflictError(
                f"{self.kind} {key!r} is provided by both plugin {other!r} and plugin {plugin!r}"
            )
        self._entries[key] = Entry(key, item, plugin, builtin)

    def accepts(self, item: object) -> bool:
        return isinstance(item, self._type)

    def remove_plugin(self, plugin: str) -> None:
        """Drop every descriptor ``plugin`` provided."""
        self._entries = {k: e for k, e in self._entries.items() if e.plugin != plugin}

    def owner(self, key: Any) -> Entry[T] | None:
        return self._entries.get(key)

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
        self.filters: NameTable[CorrectionFilter] = NameTable("filter", lambda f: f.name, CorrectionFilter)
        self._warned: set[tuple[str, ...]] = set()
        self._warn_lock = threading.Lock()
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

    def _tables(self) -> list[tuple[pluggy.HookCaller, list[NameTable[Any]]]]:
        hook = self.manager.hook
        return [
            (hook.mrczio_register_formats, [self.formats]),
            (hook.mrczio_register_pixel_modes, [self.modes]),
            (hook.mrczio_register_codecs, [self.codecs, self.codec_ids]),
            (hook.mrczio_register_serializers, [self.serializers, self.exttyps]),
            (hook.mrczio_register_filters, [self.filters]),
        ]

    def _collect(self) -> None:
        """Call every registration hook; disable third-party plugins that misbehave."""
        recorder = HookRecorder(self.manager)
        while True:
            collected, failed = self._call_all(recorder)
            if not failed:
                break
            for name, problem in failed.items():
                self._disable(name, problem)
        for tables, contributions in collected:
            for plugin, items in contributions:
                builtin = self._is_builtin_name(plugin)
                for item in items:
                    for table in tables:
                        table.add(item, plugin, builtin)

    def _call_all(
        self, recorder: HookRecorder
    ) -> tuple[list[tuple[list[NameTable[Any]], list[tuple[str, list[Any]]]]], dict[str, str]]:
        collected = []
        failed: dict[str, str] = {}
        for caller, tables in self._tables():
            outcome = recorder.call(caller)
            for name, exc in outcome.failures.items():
                failed.setdefault(name, f"{caller.name} raised {type(exc).__name__}: {exc}")
            contributions = []
            for part in outcome.contributions:
                problem = _contribution_problem(part.result, tables[0])
                if problem:
                    failed.setdefault(part.plugin, f"{caller.name} returned {problem}")
                else:
                    contributions.append((part.plugin, list(part.result)))
            collected.append((tables, contributions))
        return collected, failed

    def _disable(self, name: str, problem: str) -> None:
        plugin = self.manager.get_plugin(name)
        if plugin is None or is_builtin(plugin):
            raise PluginError(f"mrczio's built-in plugin {name!r} is broken: {problem}")
        self.manager.unregister(plugin)
        self.manager.set_blocked(name)
        self._warn_plugin_failure(name, problem)

    def _warn_plugin_failure(self, name: str, problem: str) -> None:
        dist = self.distribution_of(name)
        self.failures.append(LoadFailure(name, dist, problem))
        warnings.warn(
            f"mrczio plugin {name!r} ({dist}) was disabled: {problem}",
            PluginLoadWarning,
            stacklevel=4,
        )

    def _is_builtin_name(self, name: str) -> bool:
        plugin = self.manager.get_plugin(name)
        return plugin is not None and is_builtin(plugin)

    def _warn_once(self, key: tuple[str, ...], message: str) -> None:
        with self._warn_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        warnings.warn(message, PluginOverrideWarning, stacklevel=4)

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
        matches: list[tuple[str, Entry[FileFormat]]] = []
        for entry in self.formats.entries():
            found = [e for e in map(_normalize_extension, entry.item.extensions) if lower.endswith(e)]
            if found:
                matches.append((max(found, key=len), entry))
        if not matches:
            raise UnknownFormatError(
                f"{os.fspath(path)}: no installed format handles this extension; "
                f"pass format=... (installed: {', '.join(e.key for e in self.formats.entries())})"
            )
        matches.sort(key=lambda m: len(m[0]), reverse=True)
        (ext, winner), rest = matches[0], matches[1:]
        beaten = [(x, e) for x, e in rest if e.builtin and len(x) < len(ext)]
        if beaten and not winner.builtin:
            shorter, builtin = beaten[0]
            why = f"its extension {ext!r} is longer than {shorter!r} and matches {os.fspath(path)}"
            self._warn_outbid(winner, builtin, why, "extension")
        return winner.item

    def format_for_content(self, head: bytes, path: str) -> FileFormat:
        """The format that claims ``head`` with the highest confidence."""
        claims = [(c, e) for e in self.formats.entries() if (c := self._claim(e, head, path)) > 0]
        if not claims:
            raise UnknownFormatError(f"{path}: no installed format recognises this file")
        claims.sort(key=lambda ce: ce[0], reverse=True)
        if len(claims) > 1 and claims[0][0] == claims[1][0]:
            names = ", ".join(e.key for c, e in claims if c == claims[0][0])
            raise AmbiguousFormatError(f"{path}: formats {names} claim this file equally")
        best, winner = claims[0]
        beaten = [(c, e) for c, e in claims[1:] if e.builtin]
        if beaten and not winner.builtin:
            confidence, builtin = beaten[0]
            why = f"it claims {path} with confidence {best:g} > {confidence:g}"
            self._warn_outbid(winner, builtin, why, "content")
        return winner.item

    def _claim(self, entry: Entry[FileFormat], head: bytes, path: str) -> float:
        """``entry``'s claim on a file; a third-party claim that fails disables its format."""
        try:
            confidence = entry.item.claim(head, path)
            if isinstance(confidence, bool) or not isinstance(confidence, int | float):
                raise TypeError(f"claim returned {type(confidence).__name__}, not a number")
            return float(confidence)
        except Exception as exc:
            if entry.builtin:
                raise
            self.formats.remove_plugin(entry.plugin)
            self._warn_plugin_failure(entry.plugin, f"format {entry.key!r}: {type(exc).__name__}: {exc}")
            return 0.0

    def _warn_outbid(self, winner: Entry[FileFormat], builtin: Entry[FileFormat], why: str, how: str) -> None:
        self._warn_once(
            (how, winner.plugin, str(builtin.key)),
            f"format {winner.key!r} of plugin {winner.plugin!r} ({self.distribution_of(winner.plugin)}) "
            f"is used instead of mrczio's built-in format {builtin.key!r}: {why} "
            "(pass format=... to choose; warned once)",
        )

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


def _contribution_problem(result: Any, table: NameTable[Any]) -> str | None:
    """Why a hook's return value is unusable, or None if it is a list of descriptors."""
    if isinstance(result, str | bytes) or not isinstance(result, Sequence | list | tuple | set):
        return f"a {type(result).__name__}, not a list of {table.kind} descriptors"
    wrong = [item for item in result if not table.accepts(item)]
    if wrong:
        return f"{wrong[0]!r}, which is not a {table.kind} descriptor"
    return None
