from typing import Any

import numpy as np

def integer_moments(
    buffer: np.ndarray[Any, Any] | bytes | bytearray | memoryview, itemsize: int, signed: bool, /
) -> tuple[int, int, int, int]: ...
