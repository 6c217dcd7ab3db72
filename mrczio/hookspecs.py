"""Hook specifications: the whole contract between mrczio and its plugins.

A plugin is a module (or object) whose functions are marked with :data:`hookimpl` and
named after the specs below. It is found through the ``mrczio`` entry-point group, the
same group mrczio's own built-in plugins use::

    [project.entry-points.mrczio]
    lzma = "mrczio_lzma"

Every hook here is a *collect* hook: mrczio calls it through pluggy
(``manager.hook.mrczio_register_formats()``), which calls each implementation in
pluggy's order (``tryfirst``/``trylast`` honoured) inside any hook wrappers
(``wrapper=True`` or ``hookwrapper=True``, which may inspect or change the collected
lists), and mrczio builds one name table per kind from the returned descriptors, each
attributed to the plugin that returned it (see :mod:`mrczio.hook_calls`). Collect (rather
than ``firstresult``) is deliberate: a name claimed twice must be reported as a conflict,
not silently resolved by plugin order, and format sniffing must see every claim to detect
ties. The descriptor contracts live in :mod:`mrczio.contracts`.

An implementation must return a list (or tuple) of descriptors of its hook's kind. A
third-party plugin whose implementation raises (``SystemExit`` included) or returns
anything else is disabled with a :class:`~mrczio.errors.PluginLoadWarning` naming it; the
host and the other plugins carry on.

A plugin needs only ``pluggy`` and the project name to implement hooks::

    import pluggy
    hookimpl = pluggy.HookimplMarker("mrczio")

    @hookimpl
    def mrczio_register_codecs():
        return [MyCodec()]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from mrczio.contracts import (
        CorrectionFilter,
        FileFormat,
        FrameCodec,
        MetadataSerializer,
        PixelMode,
    )

PROJECT_NAME = "mrczio"
ENTRY_POINT_GROUP = "mrczio"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def mrczio_register_formats() -> Sequence[FileFormat]:
    """Return file formats (MRC, MRCZ, TIFF, ...) this plugin provides.

    A format claims files from their first bytes with a confidence, opens readers and
    writers. Names (``format.name``) must be unique across all plugins.
    """
    raise NotImplementedError


@hookspec
def mrczio_register_pixel_modes() -> Sequence[PixelMode]:
    """Return MRC pixel modes (the MODE word, 0..999) this plugin can decode/encode.

    Packed modes such as SerialEM's 4-bit mode 101 are added this way; MRC and MRCZ
    readers look modes up here instead of in a fixed table.
    """
    raise NotImplementedError


@hookspec
def mrczio_register_codecs() -> Sequence[FrameCodec]:
    """Return frame codecs: each compresses one frame into one self-delimiting chunk.

    ``codec.name`` is what users pass as ``codec=``; ``codec.compressor_id`` is what an
    MRCZ file stores as ``MODE // 1000``. Both must be unique.
    """
    raise NotImplementedError


@hookspec
def mrczio_register_serializers() -> Sequence[MetadataSerializer]:
    """Return metadata serializers (JSON, msgpack, ...), unique by name and EXTTYP."""
    raise NotImplementedError


@hookspec
def mrczio_register_filters() -> Sequence[CorrectionFilter]:
    """Return detector correction filters (outliers, gain, koma, ...), unique by name."""
    raise NotImplementedError
