from typing import Any

class RansError(ValueError): ...

STORED: int
GROUPED: int
PLANES: int
NSTATES: int
SCALE_BITS: int

def encode(
    data: Any, itemsize: int, method: int = -1, bits: int = 0, swapped: bool = False
) -> bytes: ...
def decode_into(body: Any, out: Any, itemsize: int) -> None: ...
def crc32c(data: Any, hw: int = -1) -> int: ...
