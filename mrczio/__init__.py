"""mrczio: fast, honest reading and writing of electron-microscopy movie stacks.

MRCZ (MRC2014 with one blosc-compressed chunk per frame), plain MRC and more formats
behind one plugin registry. Start with :func:`imread`, :func:`imwrite`, :func:`open`
and :func:`convert`.
"""

from __future__ import annotations

from mrczio.api import (
    append,
    apply_corrections,
    imiter,
    imread,
    imwrite,
    open,
    open_writer,
)
from mrczio.contracts import (
    CodecParameter,
    CorrectionFilter,
    FileFormat,
    FrameCodec,
    MetadataSerializer,
    PixelMode,
    WriteRequest,
)
from mrczio.conversion import ConversionReport, convert
from mrczio.dask import open_dask  # dask itself is imported only when called
from mrczio.errors import (
    AccessDeniedError,
    AmbiguousFormatError,
    ChecksumError,
    CodecError,
    ConversionError,
    CorruptFrameError,
    DataTypeError,
    DirectoryGivenError,
    DiskFullError,
    FileAccessError,
    FormatError,
    FrameIndexError,
    LockError,
    MetadataError,
    MissingFileError,
    MrczioError,
    MrczioWarning,
    NotRegularFileError,
    OptionError,
    OutputExistsError,
    PermissiveReadWarning,
    PixelBudgetError,
    PluginConflictError,
    PluginError,
    PluginLoadWarning,
    PluginOverrideWarning,
    PluginsNotInstalledError,
    TruncatedFileError,
    UnknownCodecError,
    UnknownFilterError,
    UnknownFormatError,
    UnknownSerializerError,
    UnsupportedModeError,
)
from mrczio.hookspecs import hookimpl
from mrczio.imageio_plugin import register_when_imported as _register_imageio_plugin
from mrczio.reader import ReaderInfo, StackReader, VoxelSize
from mrczio.registry import Registry, get_registry
from mrczio.writer import StackWriter

_register_imageio_plugin()  # cheap: registers with imageio only once imageio is imported


def __dir__() -> list[str]:
    return sorted({*globals(), "__version__"})


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use: importing
    ``importlib.metadata`` costs about 11 ms, which a plain read does not need."""
    if name != "__version__":
        raise AttributeError(f"module 'mrczio' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mrczio")
    except PackageNotFoundError:  # running from an uninstalled source tree
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found


__all__ = [
    "AccessDeniedError",
    "AmbiguousFormatError",
    "ChecksumError",
    "CodecError",
    "CodecParameter",
    "ConversionError",
    "ConversionReport",
    "CorrectionFilter",
    "CorruptFrameError",
    "DataTypeError",
    "DirectoryGivenError",
    "DiskFullError",
    "FileAccessError",
    "FileFormat",
    "FormatError",
    "FrameCodec",
    "FrameIndexError",
    "LockError",
    "MetadataError",
    "MetadataSerializer",
    "MissingFileError",
    "MrczioError",
    "MrczioWarning",
    "NotRegularFileError",
    "OptionError",
    "OutputExistsError",
    "PermissiveReadWarning",
    "PixelBudgetError",
    "PixelMode",
    "PluginConflictError",
    "PluginError",
    "PluginLoadWarning",
    "PluginOverrideWarning",
    "PluginsNotInstalledError",
    "ReaderInfo",
    "Registry",
    "StackReader",
    "StackWriter",
    "TruncatedFileError",
    "UnknownCodecError",
    "UnknownFilterError",
    "UnknownFormatError",
    "UnknownSerializerError",
    "UnsupportedModeError",
    "VoxelSize",
    "WriteRequest",
    "__version__",
    "append",
    "apply_corrections",
    "convert",
    "get_registry",
    "hookimpl",
    "imiter",
    "imread",
    "imwrite",
    "open",
    "open_dask",
    "open_writer",
]
