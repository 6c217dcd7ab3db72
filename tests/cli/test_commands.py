"""The mrczio command: sub-commands, output, exit codes (0 ok, 1 failure, 2 usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.cli import COMMANDS, build_parser, main, parse_size


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_info_json(tmp_path: Path, counts: np.ndarray, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts, voxel_size=1.5, metadata={"dose": 1})
    code, out, _ = run(["info", "--json", str(path)], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["format"] == "mrcz" and info["shape"] == list(counts.shape)
    assert info["dtype"] == "uint8" and info["voxel_size"] == [1.5, 1.5, 1.5]
    assert info["first_chunk"]["codec"] == "zstd" and info["compression_ratio"] > 1
    assert info["metadata_keys"] == ["dose"] and info["error"] is None
    code, out, _ = run(["info", str(path)], capsys)
    assert code == 0 and "mrcz" in out


def test_compress_decompress_round_trip(tmp_path: Path, counts: np.ndarray, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "movie.mrc"
    mrczio.imwrite(source, counts)
    code, _, err = run(["compress", str(source), "-c", "lz4", "-l", "3", "-B", "64K", "-j", "1", "--no-progress"], capsys)
    assert code == 0
    compressed = tmp_path / "movie.mrcz"
    assert f"{source} -> {compressed}" in err
    with mrczio.open(compressed) as reader:
        assert reader.chunk_info(0)["codec"] == "lz4/lz4hc"
    back = tmp_path / "back.mrc"
    code, _, _ = run(["decompress", str(compressed), "-o", str(back)], capsys)
    assert code == 0
    assert back.read_bytes()[1024:] == source.read_bytes()[1024:]


def test_existing_output_is_a_failure(tmp_path: Path, counts: np.ndarray, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "movie.mrc"
    mrczio.imwrite(source, counts)
    (tmp_path / "movie.mrcz").write_bytes(b"keep me")
    code, _, err = run(["compress", str(source)], capsys)
    assert code == 1 and "already exists; add --overwrite" in err
    assert (tmp_path / "movie.mrcz").read_bytes() == b"keep me"
    code, _, _ = run(["compress", str(source), "--overwrite"], capsys)
    assert code == 0 and np.array_equal(mrczio.imread(tmp_path / "movie.mrcz"), counts)


def test_validate_exit_codes(tmp_path: Path, counts: np.ndarray, sample_file, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.mrcz"
    mrczio.imwrite(good, counts)
    code, out, _ = run(["validate", str(good)], capsys)
    assert code == 0 and "valid" in out
    code, out, _ = run(["validate", str(sample_file("EMD-3197.map"))], capsys)
    assert code == 1 and "[nversion]" in out
    broken = tmp_path / "broken.mrc"
    broken.write_bytes(b"\0" * 10)
    code, out, _ = run(["validate", str(broken)], capsys)
    assert code == 1 and "unreadable" in out


def test_validate_catches_wrong_statistics(tmp_path: Path, counts: np.ndarray, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, counts)
    raw = bytearray(path.read_bytes())
    raw[80:84] = np.float32(99).tobytes()  # DMAX
    path.write_bytes(bytes(raw))
    code, out, _ = run(["validate", str(path)], capsys)
    assert code == 1 and "[statistics]" in out


def test_argparse_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["compress", "a.mrc", "-B", "lots"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["compress", "a.mrc", "--keep", "--rm"])
    assert info.value.code == 2


def test_plugins_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plugins", "--json"], capsys)
    assert code == 0 and len(out.splitlines()) == 1
    listing = json.loads(out)
    assert listing["codecs"]["zstd"] == "blosc"
    assert listing["plugins"]["mrcz"].startswith("mrczio ")
    code, out, _ = run(["plugins"], capsys)
    assert code == 0 and "codecs:" in out


def test_demo_runs_and_checks_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["demo", "--frames", "3", "--size", "64", "--dir", str(tmp_path)], capsys)
    assert code == 0
    for name in ("plain MRC", "zstd", "lz4", "zlib", "blosclz", "lz4hc"):
        assert name in out
    assert " NO" not in out
    assert list(tmp_path.iterdir()) == []


def test_console_script_and_module_entry(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "mrczio", "plugins"], capture_output=True, text=True, check=True)
    assert "mrcz" in out.stdout
    missing = subprocess.run([sys.executable, "-m", "mrczio", "info", str(tmp_path / "nope.mrc")], capture_output=True, text=True)
    assert missing.returncode == 1 and "nope.mrc" in missing.stderr
    assert "Traceback" not in missing.stderr
    version = subprocess.run([sys.executable, "-m", "mrczio", "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"mrczio {mrczio.__version__}"


def test_every_command_has_its_own_help_naming_its_output(capsys: pytest.CaptureFixture[str]) -> None:
    texts = {}
    for name in ("info", "compress", "decompress", "convert", "validate", "plugins", "correct", "demo", "bench"):
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        texts[name] = capsys.readouterr().out
        assert "examples:" in texts[name] and "--quiet" in texts[name]
    assert len(set(texts.values())) == len(texts)  # no two commands share a help text
    assert "OUT defaults to IN with the extension .mrcz" in texts["compress"]
    assert "OUT defaults to IN with the extension .mrc," in texts["decompress"]
    assert "There is no default OUT" in texts["convert"]
    assert "--codec" not in texts["decompress"] and "--compression" not in texts["compress"]


def test_command_registry_is_the_parser() -> None:
    """COMMANDS lists modules; each one is a sub-command whose parser runs its run()."""
    import argparse

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for module_name in COMMANDS:
        module = sys.modules[module_name]
        assert sub.choices[module.NAME].get_default("module") is module and callable(module.run)
    assert len(sub.choices) == len(COMMANDS)


def test_codec_options_reach_the_codec(tmp_path: Path, counts: np.ndarray, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.mrc"
    mrczio.imwrite(source, counts)
    code, _, _ = run(["compress", str(source), "-o", str(tmp_path / "a.mrcz"), "-c", "zlib", "-O", "level=7"], capsys)
    assert code == 0
    with mrczio.open(tmp_path / "a.mrcz") as reader:
        assert reader.chunk_info(0)["codec"].startswith("zlib")
    assert np.array_equal(mrczio.imread(tmp_path / "a.mrcz"), counts)
    code, _, err = run(["compress", str(source), "-o", str(tmp_path / "b.mrcz"), "-O", "bogus=1"], capsys)
    assert code == 2 and "--codec-option bogus" in err
    with pytest.raises(SystemExit):
        main(["compress", str(source), "-O", "novalue"])
    code, out, _ = run(["plugins", "-v"], capsys)
    assert code == 0 and "zstd       level=1" in out
    code, out, _ = run(["plugins", "--json"], capsys)
    assert json.loads(out)["codec_parameters"]["zstd"]["level"]["default"] == 1


def test_parse_size() -> None:
    assert parse_size("1M") == 1 << 20
    assert parse_size("128K") == 131072
    assert parse_size("4096") == 4096
    assert parse_size("1MiB") == 1 << 20


def test_info_json_is_one_object_per_line_for_any_number_of_files(
    tmp_path: Path, counts: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    """issue 12: a dict for one file and a list for several; now always JSON Lines."""
    paths = [tmp_path / "a.mrc", tmp_path / "b.mrcz"]
    for path in paths:
        mrczio.imwrite(path, counts)
    (tmp_path / "bad.mrc").write_bytes(b"nonsense")
    code, out, err = run(["info", "--json", str(paths[0]), str(tmp_path / "bad.mrc"), str(paths[1])], capsys)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(records) == 3
    assert [r["path"] for r in records] == [str(paths[0]), str(tmp_path / "bad.mrc"), str(paths[1])]
    assert records[0]["error"] is None and records[2]["format"] == "mrcz"
    assert set(records[1]) == {"path", "error"} and "bad.mrc" in records[1]["error"] and "bad.mrc" in err
    code, out, _ = run(["info", "--json", str(paths[0])], capsys)
    assert code == 0 and len(out.splitlines()) == 1 and isinstance(json.loads(out), dict)


def test_validate_json(tmp_path: Path, counts: np.ndarray, capsys: pytest.CaptureFixture[str]) -> None:
    good, broken = tmp_path / "good.mrcz", tmp_path / "broken.mrc"
    mrczio.imwrite(good, counts)
    broken.write_bytes(b"\0" * 10)
    code, out, _ = run(["validate", "--json", str(good), str(broken)], capsys)
    first, second = (json.loads(line) for line in out.splitlines())
    assert code == 1
    assert first == {"path": str(good), "valid": True, "findings": []}
    assert second["valid"] is False and second["findings"][0]["code"] == "unreadable"
    assert set(second["findings"][0]) == {"code", "severity", "message"}
