"""compress / decompress / convert with many inputs behave like gzip and zstd."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def movies(tmp_path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """a.mrc and b.mrc, different data each, in tmp_path."""
    data = {}
    for name in ("a", "b"):
        data[name] = rng.poisson(1.0, size=(3, 16, 24)).astype(np.uint8)
        mrczio.imwrite(tmp_path / f"{name}.mrc", data[name], voxel_size=1.25, metadata={"name": name})
    return data


def test_glob_with_overwrite_never_writes_one_input_into_another(
    tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    """issue 12: `compress *.mrc --overwrite` with a.mrc b.mrc used to write a into b."""
    before = {n: (tmp_path / f"{n}.mrc").read_bytes() for n in movies}
    code, _, err = run(["compress", str(tmp_path / "a.mrc"), str(tmp_path / "b.mrc"), "--overwrite"], capsys)
    assert code == 0
    for name, data in movies.items():
        assert (tmp_path / f"{name}.mrc").read_bytes() == before[name]
        assert np.array_equal(mrczio.imread(tmp_path / f"{name}.mrcz"), data)
    assert "compress: 2 files" in err and "ratio" in err


def test_output_folder_for_many_inputs(tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    inputs = [str(tmp_path / "a.mrc"), str(tmp_path / "b.mrc")]
    out = tmp_path / "new"
    assert run(["compress", *inputs, "-o", f"{out}/"], capsys)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.mrcz", "b.mrcz"]
    assert run(["decompress", *[str(out / "a.mrcz"), str(out / "b.mrcz")], "-o", str(tmp_path / "plain")], capsys)[0] == 0
    for name, data in movies.items():
        assert np.array_equal(mrczio.imread(tmp_path / "plain" / f"{name}.mrc"), data)


@pytest.mark.parametrize("output", ["x.mrcz", "x.tif"])
def test_one_output_file_for_many_inputs_is_a_usage_error(
    tmp_path: Path, movies: dict[str, np.ndarray], output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["convert", str(tmp_path / "a.mrc"), str(tmp_path / "b.mrc"), "-o", str(tmp_path / output)], capsys)
    assert code == 2 and "names one file but 2 inputs" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mrc", "b.mrc"]


def test_an_input_is_never_an_output_even_with_overwrite(
    tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.mrc", tmp_path / "b.mrc"
    before = b.read_bytes()
    for args in (
        ["convert", str(b), "-o", str(b), "--overwrite"],
        ["decompress", str(b), "--overwrite"],  # b.mrc beside itself
        ["convert", str(a), "--format", "mrc", "-o", str(tmp_path), "--overwrite"],  # tmp/a.mrc
    ):
        code, _, err = run(args, capsys)
        assert code == 2 and "never overwritten" in err, args
    os.link(b, tmp_path / "hard.mrcz")  # the same file under another name
    code, _, err = run(["compress", str(b), "-o", str(tmp_path / "hard.mrcz"), "--overwrite"], capsys)
    assert code == 2 and "never overwritten" in err
    assert b.read_bytes() == before


def test_an_output_of_one_input_is_another_input(tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    mrczio.imwrite(tmp_path / "a.mrcz", movies["b"])
    before = (tmp_path / "a.mrcz").read_bytes()
    code, _, err = run(["compress", str(tmp_path / "a.mrc"), str(tmp_path / "a.mrcz"), "--overwrite"], capsys)
    assert code == 2 and "is an input" in err
    assert (tmp_path / "a.mrcz").read_bytes() == before


def test_two_inputs_with_one_output_name(tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sub").mkdir()
    mrczio.imwrite(tmp_path / "sub" / "a.mrc", movies["b"])
    code, _, err = run(["compress", str(tmp_path / "a.mrc"), str(tmp_path / "sub" / "a.mrc"), "-o", str(tmp_path / "out/")], capsys)
    assert code == 2 and "would both be written to" in err
    assert not (tmp_path / "out").exists()


def test_convert_without_output_is_a_usage_error(tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["convert", str(tmp_path / "a.mrc")], capsys)
    assert code == 2 and "-o OUT" in err and "--format NAME" in err
    code, _, _ = run(["convert", str(tmp_path / "a.mrc"), "--format", "tiff"], capsys)
    assert code == 0 and np.array_equal(mrczio.imread(tmp_path / "a.tif"), movies["a"])


def test_rm_removes_only_verified_inputs(tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.mrc", tmp_path / "b.mrc"
    code, out, _ = run(["compress", str(a), str(b), "--rm", "--json"], capsys)
    assert code == 0 and not a.exists() and not b.exists()
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["verified"], r["input_removed"]) for r in records] == [(True, True)] * 2
    for name, data in movies.items():
        with mrczio.open(tmp_path / f"{name}.mrcz") as reader:
            assert np.array_equal(reader.read(), data) and reader.metadata == {"name": name}
    for flag in (["--clip"], ["--dtype", "uint16"]):
        code, _, err = run(["decompress", str(tmp_path / "a.mrcz"), "--rm", *flag], capsys)
        assert code == 2 and f"combined with {flag[0]}" in err and (tmp_path / "a.mrcz").exists()


def test_rm_removes_an_input_whose_msgpack_arrays_survive(
    tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    """msgpack metadata arrays stay arrays through compress (the serializer is carried),
    so the read-back comparison passes and --rm removes the input."""
    source = tmp_path / "g.mrc"
    gain = np.linspace(0.5, 1.5, 16 * 24, dtype=np.float32).reshape(16, 24)
    mrczio.imwrite(source, movies["a"], metadata={"gain_reference": gain}, metadata_format="msgpack")
    code, out, _ = run(["compress", str(source), "--rm", "--json"], capsys)
    record = json.loads(out)
    assert code == 0 and not source.exists() and record["verified"] is True
    with mrczio.open(tmp_path / "g.mrcz") as reader:
        kept = reader.metadata["gain_reference"]
    assert isinstance(kept, np.ndarray) and kept.dtype == np.float32 and np.array_equal(kept, gain)


def test_rm_keeps_an_input_whose_output_differs(
    tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the difference (here a converter that changes one pixel), the input stays."""
    import mrczio.conversion

    original = mrczio.conversion.FrameFitter.__call__

    def off_by_one(self: object, frame: np.ndarray, index: int) -> np.ndarray:
        out = original(self, frame, index).copy()  # type: ignore[arg-type]
        out[0, 0] += 1
        return out

    monkeypatch.setattr(mrczio.conversion.FrameFitter, "__call__", off_by_one)
    code, out, err = run(["compress", str(tmp_path / "a.mrc"), "--rm", "--json"], capsys)
    assert code == 1 and (tmp_path / "a.mrc").exists()
    assert "frame 0: 1 pixels differ" in json.loads(out)["error"] and "a.mrc kept" in err


def test_one_failing_file_does_not_stop_the_others(
    tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.mrc"
    broken.write_bytes(b"\0" * 100)
    code, out, err = run(["compress", str(tmp_path / "a.mrc"), str(broken), str(tmp_path / "b.mrc"), "--json"], capsys)
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["error"] is None for r in records] == [True, False, True]
    assert "broken.mrc" in records[1]["error"] and "broken.mrc" in err
    assert "2 files, 1 failed" in err
    assert (tmp_path / "a.mrcz").exists() and (tmp_path / "b.mrcz").exists()
    assert not (tmp_path / "broken.mrcz").exists()


def test_json_schema_of_transcoding_commands(tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["compress", str(tmp_path / "a.mrc"), "--json", "-q"], capsys)
    record = json.loads(out)
    assert code == 0 and set(record) == {
        "command", "input", "output", "format", "error", "frames", "bytes_in", "bytes_out",
        "ratio", "seconds", "changed_pixels", "verified", "input_removed",
    }  # fmt: skip
    assert record["command"] == "compress" and record["format"] == "mrcz" and record["frames"] == 3
    assert record["bytes_in"] == (tmp_path / "a.mrc").stat().st_size
    assert record["bytes_out"] == (tmp_path / "a.mrcz").stat().st_size
    assert record["ratio"] == pytest.approx(record["bytes_in"] / record["bytes_out"], rel=1e-3)
    code, out, _ = run(["compress", str(tmp_path / "a.mrc"), "--json", "-q"], capsys)
    failed = json.loads(out)
    assert code == 1 and set(failed) == set(record) and failed["bytes_out"] is None
    assert "--overwrite" in failed["error"]


def test_quiet_and_verbose(tmp_path: Path, movies: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["compress", str(tmp_path / "a.mrc"), "-q"], capsys)
    assert code == 0 and out == "" and err == ""
    code, _, err = run(["compress", str(tmp_path / "b.mrc"), "-v", "-l", "3"], capsys)
    assert code == 0 and "options: {'level': 3}" in err
    code, _, err = run(["compress", str(tmp_path / "b.mrc"), "-q"], capsys)
    assert code == 1 and err.startswith("mrczio: error: ")
