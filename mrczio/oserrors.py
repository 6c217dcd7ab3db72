"""Operating-system errors as mrczio errors: same ``errno``, same stdlib base, user's path.

Code that opens, writes, renames or locks a file wraps the call in
:func:`reraise_os_errors` (or converts one error with :func:`as_mrczio_error`), so a
caller sees, for example, a :class:`~mrczio.errors.MissingFileError` that is also a
``FileNotFoundError`` and a :class:`~mrczio.errors.DiskFullError` that is an ``OSError``
with ``errno == ENOSPC``, and whose message names the file the user asked for, never a
temporary name.
"""

from __future__ import annotations

import errno as errnos
import os
from collections.abc import Iterator
from contextlib import contextmanager

from mrczio.errors import (
    AccessDeniedError,
    DirectoryGivenError,
    DiskFullError,
    FileAccessError,
    MissingFileError,
    MrczioError,
)

_BY_ERRNO: dict[int, type[FileAccessError]] = {
    errnos.ENOENT: MissingFileError,
    errnos.ENOTDIR: MissingFileError,
    errnos.EISDIR: DirectoryGivenError,
    errnos.EACCES: AccessDeniedError,
    errnos.EPERM: AccessDeniedError,
    errnos.EROFS: AccessDeniedError,
    errnos.ENOSPC: DiskFullError,
    errnos.EDQUOT: DiskFullError,
    errnos.EFBIG: DiskFullError,
}

_REASONS: dict[int, str] = {
    errnos.ELOOP: "Too many levels of symbolic links (a symlink loop)",
}


def as_mrczio_error(path: str | os.PathLike[str], exc: OSError, doing: str) -> OSError:
    """``exc`` as the matching :class:`FileAccessError` subclass naming ``path``.

    ``doing`` says what was being done ("opening", "writing", ...); the message reads
    ``PATH: No space left on device (while writing)``. An error that is already an
    mrczio error is returned unchanged.
    """
    if isinstance(exc, MrczioError):
        return exc
    code = exc.errno
    cls = _BY_ERRNO.get(code, FileAccessError) if code is not None else FileAccessError
    reason = _REASONS.get(code or 0) or exc.strerror or str(exc) or type(exc).__name__
    return cls(path, f"{reason} (while {doing})", code)


@contextmanager
def reraise_os_errors(path: str | os.PathLike[str], doing: str) -> Iterator[None]:
    """Turn any plain ``OSError`` raised inside the block into an mrczio error for ``path``."""
    try:
        yield
    except MrczioError:
        raise
    except OSError as exc:
        raise as_mrczio_error(path, exc, doing) from exc
