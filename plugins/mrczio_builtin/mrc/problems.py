"""How MRC-family readers report damage: raise, or warn and go on in permissive mode."""

from __future__ import annotations

import warnings

from mrczio.errors import FormatError, PermissiveReadWarning


def complain(path: str, message: str, permissive: bool, error: type[FormatError] = FormatError) -> None:
    """Raise ``error`` or, in permissive mode, warn and carry on."""
    if not permissive:
        raise error(path, message)
    warnings.warn(f"{path}: {message}", PermissiveReadWarning, stacklevel=3)
