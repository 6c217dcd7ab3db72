"""Public helpers for test suites that check mrczio formats, codecs and conversions.

Needs pytest. What is here:

- :class:`FormatCase`, :func:`format_cases`: the installed formats, each as one or more
  ways of writing it, with the dtypes it holds (third-party formats are probed).
- :func:`matrix_params`, :func:`pair_params`: ``pytest.param`` lists for
  format x dtype x shape matrices and for every ordered pair of formats.
- :func:`sample_stack`, :func:`assert_bit_exact`, :func:`round_trip`, :func:`write_case`.
- :func:`check_outside`: the matching outside readers (mrcfile, python-mrcz, tifffile,
  Pillow, libtiff's tiffinfo) for a written file.
- :class:`FormatContract`, :class:`CodecContract`, :class:`PixelModeContract`: contract
  test classes to subclass for a plugin.

See docs/testing-kit.md.
"""

from mrczio.testing.asserts import assert_bit_exact, round_trip, write_case
from mrczio.testing.cases import (
    ALL_DTYPES,
    BUILTIN_CASES,
    SHAPES,
    FormatCase,
    case_for,
    format_cases,
    sample_stack,
)
from mrczio.testing.contracts import CodecContract, FormatContract, PixelModeContract
from mrczio.testing.outside import OUTSIDE_READERS, Refused, check_outside
from mrczio.testing.params import matrix_params, pair_max_value, pair_params

__all__ = [
    "ALL_DTYPES",
    "BUILTIN_CASES",
    "OUTSIDE_READERS",
    "SHAPES",
    "CodecContract",
    "FormatCase",
    "FormatContract",
    "PixelModeContract",
    "Refused",
    "assert_bit_exact",
    "case_for",
    "check_outside",
    "format_cases",
    "matrix_params",
    "pair_max_value",
    "pair_params",
    "round_trip",
    "sample_stack",
    "write_case",
]
