"""Errors in CLI terms, exit codes, a closed pipe, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.cli import main
from mrczio.cli.messages import cli_message, strip_temp_names
from mrczio.errors import ConversionError, OptionError, OutputExistsError


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def movie(tmp_path: Path, counts: np.ndarray) -> Path:
    path = tmp_path / "movie.mrcz"
    mrczio.imwrite(path, counts)
    return path


def test_no_python_keywords_in_cli_errors(
    tmp_path: Path, movie: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """issue 12: 'pass overwrite=True', 'pass format=...', 'clip=True' become flags."""
    mrczio.imwrite(tmp_path / "movie.mrc", np.zeros((1, 4, 4), np.uint8))
    code, _, err = run(["decompress", str(movie)], capsys)
    assert code == 1 and "--overwrite" in err and "overwrite=True" not in err
    code, _, err = run(["convert", str(movie), "-o", str(tmp_path / "out.txt")], capsys)
    assert code == 2 and "--format NAME" in err and "format=" not in err
    big = tmp_path / "big.mrc"
    mrczio.imwrite(big, np.full((1, 4, 4), 200, np.uint8))
    code, _, err = run(["convert", str(big), "-o", str(tmp_path / "p.mrc"), "--packed4bit"], capsys)
    assert code == 1 and "--clip" in err and "clip=True" not in err
    code, _, err = run(["compress", str(movie), "-o", str(tmp_path / "x.mrcz"), "-c", "nonesuch"], capsys)
    assert code == 2 and "--codec nonesuch: unknown codec" in err
    code, _, err = run(["compress", str(movie), "-o", str(tmp_path / "x.mrcz"), "-l", "12"], capsys)
    assert code == 2 and "--level must be 0..9" in err
    assert not (tmp_path / "x.mrcz").exists()


def test_library_messages_are_rewritten_in_one_place() -> None:
    assert cli_message(
        OutputExistsError("/d/a.mrcz: output file exists; pass overwrite=True to replace it")
    ) == ("/d/a.mrcz: already exists; add --overwrite to replace it")
    assert "--dtype NAME" in cli_message(ConversionError("a: mrc cannot store x (y); pass dtype=... to cast"))
    message = cli_message(
        OptionError(
            "format 'mrcz' does not take option(s) compression, packed4bit; it takes: chunk_format, codec"
        )
    )
    assert (
        message
        == "format 'mrcz' does not take option(s) --compression, --packed4bit; it takes: --chunk-format, --codec"
    )
    gain = cli_message(
        OptionError("gain filter: no gain reference (parameter 'gain' or metadata 'gain_reference')")
    )
    assert "--gain FILE" in gain and "--filters" in gain
    missing = FileNotFoundError(2, "No such file or directory", "/x/nofolder/.out.mrcz.631915ca.part")
    assert cli_message(missing) == "/x/nofolder/out.mrcz: No such file or directory"


def test_temp_names_never_reach_the_user() -> None:
    assert strip_temp_names("/a/b/.out.mrcz.631915ca.part: boom") == "/a/b/out.mrcz: boom"
    assert strip_temp_names("'.x.tif.0123abcd.part'") == "'x.tif'"
    assert strip_temp_names("a .hidden.mrc file") == "a .hidden.mrc file"


def test_output_in_a_missing_folder(movie: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "nofolder" / "out.mrcz"
    code, _, err = run(["convert", str(movie), "-o", str(target)], capsys)
    assert code == 1 and f"{target}: the folder {target.parent} does not exist" in err
    assert ".part" not in err


def test_missing_input_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["compress", str(tmp_path / "nope.mrc")], capsys)
    assert code == 1 and f"{tmp_path / 'nope.mrc'}: No such file or directory" in err
    assert "Errno" not in err and f"to name an output, use -o {tmp_path / 'nope.mrc'}" in err


def _mrczio(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "mrczio", *args], **kwargs)  # type: ignore[call-overload, no-any-return]


def test_a_closed_pipe_ends_quietly(movie: Path) -> None:
    """`mrczio info *.mrc | head`: no 'Broken pipe' message, no traceback."""
    process = _mrczio("info", *[str(movie)] * 200, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait() == 1
    assert err == b""


SLOW_FRAMES = """
import itertools, sys, time
import mrczio.conversion
original = mrczio.conversion.FrameFitter.__call__
calls = itertools.count(1)
def slow(self, frame, index):
    time.sleep(0.05)  # make 'mid-compress' last long enough to hit
    print(f"test-frame {next(calls)}", file=sys.stderr, flush=True)  # the test waits for these
    return original(self, frame, index)
mrczio.conversion.FrameFitter.__call__ = slow
from mrczio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _wait_for_frame(process: subprocess.Popen[bytes], count: int) -> None:
    """Read the command's stderr until it reports frame ``count`` (no timing involved)."""
    assert process.stderr is not None
    for line in iter(process.stderr.readline, b""):
        if line.strip() == f"test-frame {count}".encode():
            return
    pytest.fail(f"the command ended before frame {count}")


def _messages(err: bytes) -> str:
    """The command's own stderr, without the test's frame markers."""
    return "".join(line for line in err.decode().splitlines(True) if not line.startswith("test-frame "))


def test_ctrl_c_prints_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "big.mrc"
    mrczio.imwrite(source, np.random.default_rng(0).integers(0, 255, (200, 64, 64), dtype=np.uint8))
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_FRAMES, "compress", str(source)], stderr=subprocess.PIPE, cwd=tmp_path
    )
    _wait_for_frame(process, 2)  # the first frame is written: the temporary file exists
    assert any(p.name.endswith(".part") for p in tmp_path.iterdir())
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert _messages(err) == "mrczio: interrupted; nothing written\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.mrc"]


def test_ctrl_c_after_some_files_names_what_was_kept(tmp_path: Path) -> None:
    inputs = []
    for name, frames in (("a", 2), ("b", 200)):
        inputs.append(tmp_path / f"{name}.mrc")
        mrczio.imwrite(inputs[-1], np.zeros((frames, 16, 16), np.uint8))
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_FRAMES, "compress", *map(str, inputs)],
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    _wait_for_frame(process, 4)  # a.mrc has 2 frames: b.mrc's first frame is written
    assert any(p.name.startswith(".b.mrcz") for p in tmp_path.iterdir())
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert _messages(err).splitlines()[-1] == (
        f"mrczio: interrupted; nothing partial written, 1 finished kept ({tmp_path / 'a.mrcz'})"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mrc", "a.mrcz", "b.mrc"]
    assert os.path.getsize(tmp_path / "a.mrcz") > 0
