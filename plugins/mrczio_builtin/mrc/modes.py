"""The standard MRC pixel modes, one numpy item per pixel.

Modes 0, 1, 2, 4, 6 and 12 are MRC2014; 7 (int32) and 8 (uint32) are python-mrcz's
non-standard additions, readable here but refused by most other readers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mrczio.contracts import PixelMode
from mrczio.hookspecs import hookimpl


class ByteMode(PixelMode):
    """Mode 0: bytes. MRC2014 says signed; IMOD-stamped files may say unsigned.

    Writing ``uint8`` also uses mode 0 (plus IMOD's "unsigned" stamp), so counting movies
    stay one byte per pixel; see docs/formats.md.
    """

    def accepts(self, dtype: Any) -> bool:
        return np.dtype(dtype) in (np.dtype(np.int8), np.dtype(np.uint8))


STANDARD_MODES = (
    ByteMode(0, np.int8, "8-bit integer (int8; uint8 with the IMOD unsigned stamp)"),
    PixelMode(1, np.int16, "16-bit signed integer"),
    PixelMode(2, np.float32, "32-bit float"),
    PixelMode(4, np.complex64, "complex of two 32-bit floats"),
    PixelMode(6, np.uint16, "16-bit unsigned integer"),
    PixelMode(7, np.int32, "32-bit signed integer (python-mrcz extension)"),
    PixelMode(8, np.uint32, "32-bit unsigned integer (python-mrcz extension)"),
    PixelMode(12, np.float16, "16-bit float (MRC2014 revision 20141)"),
)


@hookimpl
def mrczio_register_pixel_modes() -> list[PixelMode]:
    return list(STANDARD_MODES)
