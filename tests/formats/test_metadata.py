"""Metadata serializers and placement (extended header or footer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mrczio


@pytest.mark.parametrize("placement", ["extended", "footer"])
@pytest.mark.parametrize("suffix", [".mrc", ".mrcz"])
def test_msgpack_keeps_arrays_exact(tmp_path: Path, rng: np.random.Generator, counts: np.ndarray, placement: str, suffix: str) -> None:
    gain = rng.normal(1.0, 0.05, size=counts.shape[1:]).astype(np.float32)
    meta = {"gain_reference": gain, "dose": np.float64(1.25), "tags": ["a", "b"], "nested": {"k": np.int16(3)}}
    path = tmp_path / f"a{suffix}"
    mrczio.imwrite(path, counts, metadata=meta, metadata_format="msgpack", metadata_placement=placement)
    with mrczio.open(path) as reader:
        back = reader.metadata
        assert back["gain_reference"].dtype == np.float32
        assert back["gain_reference"].tobytes() == gain.tobytes()
        assert back["dose"] == 1.25 and back["tags"] == ["a", "b"]
        assert back["nested"]["k"] == 3 and back["nested"]["k"].dtype == np.int16
        assert reader.exttyp == (b"MSGP" if placement == "extended" else b"")
        assert np.array_equal(reader.read(), counts)


def test_json_is_what_python_mrcz_writes(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts, metadata={"foo": "bar", "arr": np.arange(3)})
    raw = path.read_bytes()
    assert raw[104:108] == b"json"
    nsymbt = int(np.frombuffer(raw[92:96], "<i4")[0])
    assert raw[1024 : 1024 + nsymbt] == b'{"foo": "bar", "arr": [0, 1, 2]}'


def test_footer_keeps_data_at_byte_1024(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, counts, metadata={"x": 1}, metadata_placement="footer")
    raw = path.read_bytes()
    assert raw[1024 : 1024 + counts.nbytes] == counts.tobytes()
    assert raw.endswith(b"MRCZMETA")


def test_unserialisable_metadata_is_an_error_and_leaves_no_file(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    with pytest.raises(mrczio.MetadataError):
        mrczio.imwrite(path, counts, metadata={"bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_unknown_serializer_is_a_lookup_error(tmp_path: Path, counts: np.ndarray) -> None:
    with pytest.raises(mrczio.UnknownSerializerError):
        mrczio.imwrite(tmp_path / "a.mrc", counts, metadata={"a": 1}, metadata_format="yaml")
