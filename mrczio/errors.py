"""The mrczio exception and warning hierarchy.

Every error mrczio raises on purpose derives from :class:`MrczioError`. Several also
derive from the standard exception a caller would naturally catch (``ValueError``,
``LookupError``, ``IndexError``, ``FileExistsError``, ``OSError``), so existing
``except`` clauses keep working while new code can catch by intent.

One class per kind of damage, whatever the format: a file whose frame data does not
decode (a damaged MRCZ chunk, a damaged TIFF page) raises :class:`CorruptFrameError`,
stored checksums that do not match raise :class:`ChecksumError`, a file that ends
early raises :class:`TruncatedFileError`, unreadable metadata :class:`MetadataError`,
and any other structural lie :class:`FormatError`. Failures of the file system (missing
file, directory, permission, full disk, FIFO) are :class:`FileAccessError` subclasses
that are also the matching ``OSError`` and keep its ``errno``.
"""

from __future__ import annotations

import os


class MrczioError(Exception):
    """Root of every error raised by mrczio."""


class FormatError(MrczioError, ValueError):
    """A file is not what its header claims, or is damaged.

    ``path`` names the file (or ``"<stream>"``); the message always repeats it.
    """

    def __init__(self, path: str | os.PathLike[str] | None, message: str) -> None:
        self.path = os.fspath(path) if path is not None else "<stream>"
        self.reason = message
        super().__init__(f"{self.path}: {message}")


class TruncatedFileError(FormatError):
    """The file ends before the structure its header describes."""


class UnsupportedModeError(FormatError):
    """The MRC mode (pixel type) is unknown to every installed plugin."""


class UnknownFormatError(MrczioError, LookupError):
    """No installed format plugin claims the file or extension."""


class AmbiguousFormatError(MrczioError, LookupError):
    """Two format plugins claim a file with the same confidence."""


class UnknownCodecError(MrczioError, LookupError):
    """A frame codec name or compressor id is not registered.

    ``codec`` holds the name or id exactly as it was asked for.
    """

    def __init__(self, codec: str | int, message: str | None = None) -> None:
        self.codec = codec
        super().__init__(message or f"unknown frame codec {codec!r}")


class UnknownSerializerError(MrczioError, LookupError):
    """A metadata serializer name or EXTTYP is not registered."""


class UnknownFilterError(MrczioError, LookupError):
    """A correction filter name is not registered."""


class MetadataError(MrczioError, ValueError):
    """Metadata could not be encoded, or stored metadata could not be decoded."""


class CodecError(MrczioError, ValueError):
    """Compression or decompression of one frame failed."""


class CorruptFrameError(FormatError, CodecError):
    """A frame's stored bytes are damaged: they do not decode, or decode to the wrong size.

    Raised for every format (an MRCZ chunk, a TIFF page); ``frame`` is the frame index
    when known. It is both a :class:`FormatError` and a :class:`CodecError`.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None, message: str, *, frame: int | None = None
    ) -> None:
        self.frame = frame
        super().__init__(path, message)


class ChecksumError(CorruptFrameError):
    """Bytes of a file do not match the checksum stored for them (frame, header or metadata).

    A kind of damage like any other (:class:`CorruptFrameError`); ``frame`` is the frame
    index when a frame's checksum failed, else ``None``.
    """


class FrameIndexError(MrczioError, IndexError, ValueError):
    """A frame index is out of range (both an ``IndexError`` and a ``ValueError``)."""


class OptionError(MrczioError, ValueError):
    """An option is unknown to the chosen format, or has a bad value."""


class DataTypeError(MrczioError, TypeError):
    """An array's dtype or shape cannot be stored in the requested format."""


class ConversionError(MrczioError, ValueError):
    """Data cannot be converted to the target without loss (and loss was not allowed)."""


class OutputExistsError(MrczioError, FileExistsError):
    """The output file exists (or is the input) and overwriting was not asked for."""


class FileAccessError(MrczioError, OSError):
    """The operating system refused a file operation (open, read, write, rename, lock).

    Also an ``OSError`` with the original ``errno``; ``filename`` and ``path`` are the
    user's file (never a temporary name), and the message names it first.
    """

    def __init__(self, path: str | os.PathLike[str], message: str, errno: int | None = None) -> None:
        super().__init__(errno, message, os.fspath(path))
        self.path = os.fspath(path)
        self.reason = message

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    def __reduce__(self) -> tuple[type[FileAccessError], tuple[str, str, int | None]]:
        return type(self), (self.path, self.reason, self.errno)


class MissingFileError(FileAccessError, FileNotFoundError):
    """The file (or its folder) does not exist."""


class DirectoryGivenError(FileAccessError, IsADirectoryError):
    """A directory was given where a file is needed."""


class AccessDeniedError(FileAccessError, PermissionError):
    """The file or its folder may not be read or written by this user."""


class NotRegularFileError(FileAccessError):
    """The path is a FIFO, socket or device; mrczio only reads and writes regular files."""


class DiskFullError(FileAccessError):
    """The file system is full (``ENOSPC``) or the user's quota is used up (``EDQUOT``)."""


class LockError(FileAccessError, TimeoutError):
    """Another process holds the file's lock (an append or in-place rewrite is running)."""


class PixelBudgetError(MrczioError, MemoryError):
    """A read would allocate more pixels than :data:`mrczio.limits.MAX_PIXELS` allows.

    Guards against files whose header claims an absurd size; raise the budget (or set
    it to ``None``) to read a genuinely larger stack in one piece.
    """


class PluginError(MrczioError):
    """A plugin is malformed: a bad hook, a bad descriptor, a failed import."""


class PluginConflictError(PluginError):
    """Two plugins or distributions claim the same name or id."""


class PluginsNotInstalledError(PluginError):
    """mrczio runs from a source tree whose entry points are not installed."""


class MrczioWarning(UserWarning):
    """Root of every warning mrczio emits."""


class PermissiveReadWarning(MrczioWarning, RuntimeWarning):
    """A problem that ``permissive=True`` turned from an error into a warning."""


class PluginLoadWarning(MrczioWarning):
    """A third-party plugin failed (to import, or in a hook) and was disabled."""


class PluginOverrideWarning(MrczioWarning):
    """A third-party format is used where a built-in format also matched (warned once)."""


# -- detector corrections ------------------------------------------------------------


class CorrectionInputError(MrczioError, ValueError):
    """A stack or reference handed to a detector correction cannot be corrected as it
    is: empty, of a mismatched shape, or with values the filter cannot represent."""


class NonFiniteInputError(CorrectionInputError):
    """A stack, reference or running sum holds NaN or infinity where a correction needs
    finite values (refused rather than spread into every later frame or stack)."""


class CorrectionWarning(MrczioWarning, RuntimeWarning):
    """A correction ran but something looks wrong: a gain reference that matches the
    data better flipped or transposed, a dose rate outside the calibrated range."""


class RemoteError(MrczioError, OSError):
    """A remote file (URL) could not be reached, or its server cannot serve byte ranges."""


class RefsError(ConversionError):
    """A file's frames cannot be described as zarr references (blosc2 chunks, 4-bit, ...)."""
