"""The progress bar: percentage, MB/s and ETA on a terminal, nothing otherwise."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.cli import main
from mrczio.progress import Progress, format_duration


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_shows_throughput_and_eta() -> None:
    bar = Progress(10, "movie.mrc", stream=FakeTerminal(), step_bytes=2_000_000)
    bar.done = 4
    line = bar.line(elapsed=2.0)  # 4 frames of 2 MB in 2 s: 4 MB/s, 6 frames left: 3 s
    assert line.startswith("movie.mrc [")
    assert " 40% 4/10 4.0 MB/s ETA 0:03" in line
    steps = Progress(3, "correct", stream=FakeTerminal())
    steps.done = 1
    assert "1/3 0.5/s ETA 0:04" in steps.line(elapsed=2.0)


def test_bar_draws_only_on_a_terminal() -> None:
    terminal, pipe = FakeTerminal(), io.StringIO()
    for stream in (terminal, pipe):
        with Progress(2, "x", stream=stream, step_bytes=1) as bar:
            bar(1)
            bar(1)
    assert "2/2" in terminal.getvalue() and terminal.getvalue().endswith("\n")
    assert pipe.getvalue() == ""


def test_clear_erases_the_bar_for_the_result_line() -> None:
    terminal = FakeTerminal()
    with Progress(1, "x", stream=terminal, clear=True) as bar:
        bar(1)
    assert terminal.getvalue().endswith("\r\x1b[K")


def test_format_duration() -> None:
    assert format_duration(75.2) == "1:15"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(-1) == "0:00"


def test_cli_bar_with_progress_and_silent_without(
    tmp_path: Path, counts: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    mrczio.imwrite(tmp_path / "a.mrc", counts)
    assert main(["compress", str(tmp_path / "a.mrc"), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "MB/s ETA" in err and f"{len(counts)}/{len(counts)}" in err
    assert main(["compress", str(tmp_path / "a.mrc"), "--overwrite"]) == 0  # stderr is not a terminal
    assert "MB/s" not in capsys.readouterr().err
