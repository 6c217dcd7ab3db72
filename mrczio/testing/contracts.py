"""Contract test classes for format, codec and pixel-mode plugins.

Subclass one in a test module, name the plugin, and pytest runs the contract::

    from mrczio.testing import CodecContract, FormatContract

    class TestLzmaCodec(CodecContract):
        codec_name = "lzma"

    class TestMyFormat(FormatContract):
        format_name = "myformat"

Every built-in plugin passes the same classes (tests/core/test_testing_kit.py). Override the
``registry`` fixture to test a plugin that is not installed through entry points::

    @pytest.fixture
    def registry(self):
        return mrczio.Registry.from_plugins([mrczio_builtin.mrc.compressed, my_plugin])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import mrczio
from mrczio.chunks import CHUNK_HEADER_SIZE
from mrczio.registry import Registry
from mrczio.testing.asserts import assert_bit_exact
from mrczio.testing.cases import ALL_DTYPES, FormatCase, format_cases, sample_stack


class _RegistryFixture:
    @pytest.fixture
    def registry(self) -> Registry:
        """The registry the plugin is looked up in (the installed plugins by default)."""
        return mrczio.Registry.from_entry_points()


class FormatContract(_RegistryFixture):
    """What every :class:`mrczio.FileFormat` must do. Set ``format_name``; set ``options``
    for write options the tests should use; ``case_id`` picks a :class:`FormatCase`
    (default: the first case of the format)."""

    format_name: ClassVar[str]
    case_id: ClassVar[str | None] = None

    @pytest.fixture
    def case(self, registry: Registry) -> FormatCase:
        for case in format_cases(registry):
            if case.format == self.format_name and (self.case_id is None or case.id == self.case_id):
                return case
        raise LookupError(f"format {self.format_name!r} (case {self.case_id!r}) is not installed")

    def _data(self, case: FormatCase, shape: tuple[int, ...] = (3, 8, 10)) -> np.ndarray:
        dtype = "uint8" if "uint8" in case.dtypes else case.dtypes[0]
        return sample_stack(dtype, shape, seed=7, max_value=case.max_value)

    def _write(self, case: FormatCase, registry: Registry, path: str, data: np.ndarray, **kw: Any) -> None:
        mrczio.imwrite(path, data, format=case.format, registry=registry, **{**dict(case.options), **kw})

    def test_has_name_and_extensions(self, registry: Registry) -> None:
        fmt = registry.format(self.format_name)
        assert fmt.name == self.format_name
        assert fmt.extensions and all(ext.startswith(".") for ext in fmt.extensions)

    def test_round_trip_every_held_dtype(self, tmp_path: Path, registry: Registry, case: FormatCase) -> None:
        assert case.dtypes, f"{case.id} holds no dtype exactly"
        for dtype in case.dtypes:
            data = sample_stack(dtype, (3, 8, 10), max_value=case.max_value)
            path = case.path(tmp_path, f"rt-{dtype}")
            self._write(case, registry, path, data)
            assert_bit_exact(mrczio.imread(path, registry=registry), data, f"{case.id} {dtype}")

    def test_claims_its_own_files_by_content(
        self, tmp_path: Path, registry: Registry, case: FormatCase
    ) -> None:
        path = case.path(tmp_path)
        self._write(case, registry, path, self._data(case))
        with open(path, "rb") as handle:
            head = handle.read(1024)
        assert registry.format_for_content(head, path).name == self.format_name
        assert registry.format_for_extension(path).name == self.format_name

    def test_does_not_claim_foreign_bytes(self, registry: Registry) -> None:
        fmt = registry.format(self.format_name)
        assert fmt.claim(b"", "empty") == 0
        assert fmt.claim(bytes(range(256)) * 4, "noise.bin") == 0
        assert fmt.claim(b"\x89PNG\r\n\x1a\n" + bytes(1016), "x.png") == 0

    def test_reader_is_lazy_and_indexable(self, tmp_path: Path, registry: Registry, case: FormatCase) -> None:
        data = self._data(case, (4, 6, 10))
        path = case.path(tmp_path)
        self._write(case, registry, path, data)
        with mrczio.open(path, registry=registry) as reader:
            assert len(reader) == 4 and reader.frame_shape == (6, 10) and reader.dtype == data.dtype
            assert_bit_exact(reader[2], data[2], "frame 2")
            assert_bit_exact(reader[-1], data[-1], "frame -1")
            assert_bit_exact(reader[1:3], data[1:3], "frames 1:3")
            assert_bit_exact(np.stack(list(reader)), data, "iteration")
            with pytest.raises(IndexError):
                reader[4]

    def test_two_d_image_reads_back_two_d(self, tmp_path: Path, registry: Registry, case: FormatCase) -> None:
        data = self._data(case, (6, 10))
        path = case.path(tmp_path)
        self._write(case, registry, path, data)
        assert_bit_exact(mrczio.imread(path, registry=registry), data, "2-D image")

    def test_voxel_size_and_metadata(self, tmp_path: Path, registry: Registry, case: FormatCase) -> None:
        # A format that declares it stores neither must still accept both arguments.
        path = case.path(tmp_path)
        self._write(
            case,
            registry,
            path,
            self._data(case),
            voxel_size=(1.25, 1.5, 2.0),
            metadata={"dose": 1.5},
        )
        with mrczio.open(path, registry=registry) as reader:
            if case.stores_voxel_size:
                assert reader.voxel_size[:2] == pytest.approx((1.25, 1.5), rel=1e-6)
            if case.stores_metadata:
                assert reader.metadata.get("dose") == 1.5
            assert len(reader.voxel_size) == 3 and isinstance(reader.metadata, dict)

    def test_refuses_to_overwrite(self, tmp_path: Path, registry: Registry, case: FormatCase) -> None:
        path = case.path(tmp_path)
        self._write(case, registry, path, self._data(case))
        before = Path(path).read_bytes()
        with pytest.raises(mrczio.OutputExistsError):
            self._write(case, registry, path, self._data(case)[:1])
        assert Path(path).read_bytes() == before

    def test_failed_write_leaves_nothing(self, tmp_path: Path, registry: Registry, case: FormatCase) -> None:
        data = self._data(case)

        def frames() -> Any:
            yield data[0]
            raise RuntimeError("detector unplugged")

        with pytest.raises(RuntimeError):
            self._write(case, registry, case.path(tmp_path), frames())
        assert os.listdir(tmp_path) == []

    def test_errors_name_the_file(self, tmp_path: Path, registry: Registry, case: FormatCase) -> None:
        path = case.path(tmp_path)
        self._write(case, registry, path, self._data(case, (3, 32, 40)))
        size = os.path.getsize(path)
        with open(path, "r+b") as handle:
            handle.truncate(size // 2)
        with (
            pytest.raises(mrczio.MrczioError) as caught,
            mrczio.open(path, format=self.format_name, registry=registry) as reader,
        ):
            reader.read()
        assert os.path.basename(path) in str(caught.value)

    def test_unknown_option_is_refused(self, tmp_path: Path, registry: Registry, case: FormatCase) -> None:
        with pytest.raises(mrczio.OptionError):
            self._write(case, registry, case.path(tmp_path), self._data(case), no_such_option_xyz=1)


class CodecContract(_RegistryFixture):
    """What every :class:`mrczio.FrameCodec` must do. Set ``codec_name``."""

    codec_name: ClassVar[str]

    @pytest.mark.parametrize("dtype", ALL_DTYPES)
    def test_chunk_round_trip(self, registry: Registry, dtype: str) -> None:
        codec = registry.codec(self.codec_name)
        frame = sample_stack(dtype, (37, 53), seed=3)
        chunk = codec.encode(np.ascontiguousarray(frame))
        out = np.empty_like(frame)
        codec.decode_into(chunk, out)
        assert_bit_exact(out, frame, f"{self.codec_name} {dtype}")

    def test_chunk_says_its_length(self, registry: Registry) -> None:
        codec = registry.codec(self.codec_name)
        frame = sample_stack("uint8", (64, 64), max_value=3)
        chunk = bytes(codec.encode(frame))
        assert len(chunk) >= CHUNK_HEADER_SIZE
        assert int.from_bytes(chunk[12:16], "little") == len(chunk)

    def test_config_round_trip(self, registry: Registry) -> None:
        codec = registry.codec(self.codec_name)
        config = codec.get_config()
        assert config["id"] == self.codec_name
        rebuilt = type(codec).from_config(config)
        assert rebuilt.get_config() == config
        with pytest.raises(mrczio.OptionError):
            codec.configured(no_such_parameter_xyz=1)

    def test_lookup_by_name_and_id(self, registry: Registry) -> None:
        codec = registry.codec(self.codec_name)
        assert registry.codec_for_id(codec.compressor_id) is codec

    def test_file_round_trip(self, tmp_path: Path, registry: Registry) -> None:
        data = sample_stack("uint16", (3, 9, 11))
        path = tmp_path / "a.mrcz"
        mrczio.imwrite(path, data, codec=self.codec_name, registry=registry)
        assert_bit_exact(mrczio.imread(path, registry=registry), data, self.codec_name)


class PixelModeContract(_RegistryFixture):
    """What every :class:`mrczio.PixelMode` must do. Set ``mode_code``; ``max_value``
    caps sample values for packed modes."""

    mode_code: ClassVar[int]
    max_value: ClassVar[int | None] = None

    @pytest.mark.parametrize("nx", [1, 9, 10])
    def test_pack_unpack_inverse(self, registry: Registry, nx: int) -> None:
        mode = registry.mode(self.mode_code)
        frames = sample_stack(mode.dtype, (2, 5, nx), max_value=self.max_value)
        stored = np.ascontiguousarray(mode.pack(frames)).astype(mode.storage_dtype("<"), copy=False)
        raw = stored.reshape(2, -1).view(np.uint8)
        assert raw.shape[1] == mode.section_nbytes(5, nx)
        back = mode.unpack(raw if mode.packed else raw.view(mode.storage_dtype("<")), 5, nx)
        assert_bit_exact(np.asarray(back).astype(mode.dtype), frames, f"mode {self.mode_code}")

    def test_mrc_file_round_trip(self, tmp_path: Path, registry: Registry) -> None:
        mode = registry.mode(self.mode_code)
        data = sample_stack(mode.dtype, (3, 6, 9), max_value=self.max_value)
        path = tmp_path / "a.mrc"
        mrczio.imwrite(path, data, mode=self.mode_code, registry=registry)
        with mrczio.open(path, registry=registry) as reader:
            assert reader.header is not None and int(reader.header["mode"]) == self.mode_code
            assert_bit_exact(reader.read(), data, f"mode {self.mode_code}")
