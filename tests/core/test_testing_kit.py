"""Every built-in plugin passes the public contract classes of mrczio.testing, and the
kit's own helpers do what they say (they can fail)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mrczio
import mrczio.testing
from mrczio.contracts import FileFormat, WriteRequest
from mrczio.fileio import AtomicFile
from mrczio.reader import StackReader
from mrczio.testing import (
    ALL_DTYPES,
    BUILTIN_CASES,
    CodecContract,
    FormatContract,
    PixelModeContract,
    assert_bit_exact,
    format_cases,
    matrix_params,
    pair_params,
    sample_stack,
)
from mrczio.writer import StackWriter


class TestMrcFormat(FormatContract):
    format_name = "mrc"


class TestMrc4BitFormat(FormatContract):
    format_name = "mrc"
    case_id = "mrc-4bit"


class TestMrczFormat(FormatContract):
    format_name = "mrcz"


class TestTiffFormat(FormatContract):
    format_name = "tiff"


class TestTiffSerialemFormat(FormatContract):
    format_name = "tiff"
    case_id = "tiff-4bit-serialem"


@pytest.mark.parametrize("codec", ["blosclz", "lz4", "lz4hc", "zlib", "zstd"])
class TestBuiltinCodecs(CodecContract):
    @pytest.fixture(autouse=True)
    def _name(self, codec: str) -> None:
        self.codec_name = codec


@pytest.mark.parametrize("code", [0, 1, 2, 4, 6, 7, 8, 12])
class TestStandardModes(PixelModeContract):
    @pytest.fixture(autouse=True)
    def _code(self, code: int) -> None:
        self.mode_code = code


class TestMode101(PixelModeContract):
    mode_code = 101
    max_value = 15


# -- a third-party format, as a downstream project would test it ---------------------


class NpyStackFormat(FileFormat):
    """A toy format: a .npy array written atomically; refuses complex data."""

    name = "npystack"
    extensions = (".npys",)
    drop_last_column = False

    def claim(self, head: bytes, path: str) -> float:
        return 0.8 if head.startswith(b"\x93NUMPY") else 0.0

    def open_reader(
        self, path: str, registry: mrczio.Registry, *, permissive: bool = False, verify: bool = True
    ) -> StackReader:
        return NpyReader(path, self.drop_last_column)

    def open_writer(self, request: WriteRequest, registry: mrczio.Registry) -> StackWriter:
        unknown = set(request.options) - {"overwrite"}
        if unknown:
            raise mrczio.OptionError(f"npystack takes no option {sorted(unknown)}")
        if np.dtype(request.dtype).kind == "c":
            raise mrczio.DataTypeError(f"{request.path}: npystack stores no complex data")
        return NpyWriter(request)


class NpyReader(StackReader):
    def __init__(self, path: str, drop: bool) -> None:
        try:
            stored = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise mrczio.FormatError(path, f"damaged: {exc}") from exc
        self._data = stored[..., :-1] if drop else stored
        super().__init__(
            mrczio.ReaderInfo(path, "npystack", self._data.shape[1:], len(self._data), self._data.dtype)
        )

    def _read_frames(self, start: int, stop: int, out: np.ndarray) -> None:
        out[...] = self._data[start:stop]

    def close(self) -> None:
        pass


class NpyWriter(StackWriter):
    def __init__(self, request: WriteRequest) -> None:
        self.path, self.frame_shape, self.dtype = (
            request.path,
            request.frame_shape,
            np.dtype(request.dtype),
        )
        self._file = AtomicFile(self.path, overwrite=bool(request.options.get("overwrite")))
        self._frames: list[np.ndarray] = []

    def _write_block(self, block: np.ndarray) -> None:
        self._frames.extend(block)

    def _finish(self) -> None:
        np.save(self._file.file, np.stack(self._frames))
        self._file.commit()

    def _discard(self) -> None:
        self._file.abort()


class NpyPlugin:
    def __init__(self, fmt: FileFormat) -> None:
        self.fmt = fmt

    @mrczio.hookimpl
    def mrczio_register_formats(self) -> list[FileFormat]:
        return [self.fmt]


def npy_registry(fmt: FileFormat) -> mrczio.Registry:
    from mrczio_builtin import blosc_codecs, meta_json
    from mrczio_builtin.mrc import compressed as mrcz, modes, plain as mrc

    return mrczio.Registry.from_plugins([modes, mrc, mrcz, blosc_codecs, meta_json, NpyPlugin(fmt)])


class TestThirdPartyFormat(FormatContract):
    format_name = "npystack"

    @pytest.fixture
    def registry(self) -> mrczio.Registry:
        return npy_registry(NpyStackFormat())


def test_third_party_format_is_probed_for_its_dtypes() -> None:
    cases = {case.id: case for case in format_cases(npy_registry(NpyStackFormat()))}
    assert cases["npystack"].dtypes == tuple(d for d in ALL_DTYPES if d != "complex64")
    assert "mrc-4bit" not in cases  # mode 101 is not registered in this registry
    assert "tiff-lzw" not in cases


def test_a_broken_plugin_fails_the_contract(tmp_path: Path) -> None:
    broken = NpyStackFormat()
    broken.drop_last_column = True
    registry = npy_registry(broken)
    contract = TestThirdPartyFormat()
    case = mrczio.testing.FormatCase("npystack", "npystack", ".npys", dtypes=("uint8",))
    with pytest.raises(AssertionError):
        contract.test_round_trip_every_held_dtype(tmp_path, registry, case)


def test_every_installed_format_has_a_case() -> None:
    installed = {e.key for e in mrczio.get_registry().formats.entries()}
    assert installed <= {case.format for case in format_cases()}
    assert {case.id for case in BUILTIN_CASES} <= {case.id for case in format_cases()}


def test_matrix_ids_cover_odd_and_even_widths() -> None:
    ids = [p.id for p in matrix_params()]
    assert "mrc-float32-3x7x9" in ids and "mrc-float32-3x8x10" in ids
    assert "tiff-4bit-serialem-uint8-3x7x9" not in ids  # odd width refused by design
    assert "tiff-4bit-serialem-uint8-3x8x10" in ids
    pairs = [p.id for p in pair_params()]
    assert "mrc-4bit->tiff-lzw-uint8" in pairs and "mrc-4bit->tiff-lzw-float32" not in pairs


def test_assert_bit_exact_sees_nan_payloads_and_negative_zero() -> None:
    a = np.array([0.0, np.nan], np.float32)
    b = a.copy()
    assert_bit_exact(a, b)
    b[0] = -0.0
    with pytest.raises(AssertionError, match="element"):
        assert_bit_exact(a, b)
    with pytest.raises(AssertionError, match="dtype"):
        assert_bit_exact(a, a.astype(np.float64))


def test_sample_stack_reaches_the_extremes() -> None:
    data = sample_stack("int16", (3, 4, 5))
    assert data.min() == -32768 and data.max() == 32767
    capped = sample_stack("uint8", (3, 4, 5), max_value=15)
    assert capped.max() == 15 and capped.min() == 0
