"""Every example in README.md and docs/*.md runs.

Each page's fenced blocks run in document order in one fresh folder, as a reader would
paste them:

- ```` ```python ```` blocks run in one namespace per page (a later block may use names
  an earlier one defined);
- in ```` ```console ```` blocks every ``$ mrczio ...`` line, and in ```` ```sh ````
  blocks every line starting with ``mrczio ``, runs through :func:`mrczio.cli.main`
  (shell globs are expanded; other commands such as ``pip`` are not run) and must exit
  0, or the code a trailing ``# exits N`` comment names;
- a block right after a ``<!-- not-run: reason -->`` line is not run; the reason is
  required. ```` ```text ```` (synopses), ```` ```toml ```` etc. are never run.

The folder starts with sample files the pages may use as "your" files:

- ``movie.mrc``: 8 frames of 128 x 128 synthetic uint8 counts, voxel size 1.06 Å,
  metadata ``{"dose_per_frame": 1.2}``;
- ``movie.mrcz``: the same movie as MRCZ, its msgpack metadata carrying the gain
  reference too (``{"dose_per_frame": 1.2, "gain_reference": <float32 array>}``);
- ``gain.mrc``: that float32 128 x 128 gain reference (values near 1.0).
"""

from __future__ import annotations

import glob
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.cli import main
from mrczio.synthetic import counting_movie

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
NOT_RUN = re.compile(r"^\s*<!--\s*not-run:(?P<reason>.*?)-->\s*$")
SHELL_OPERATORS = re.compile(r"[|&;<>]|\$\(")
EXITS = re.compile(r"#\s*exits\s+(?P<code>\d+)\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    not_run: str | None  # the reason, when marked


def blocks_of(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with their not-run markers."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        indent, start = len(match["indent"]), index
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][indent:])
            index += 1
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = NOT_RUN.match(previous)
        found.append(Block(page, start + 1, match["lang"], "\n".join(body) + "\n", marker["reason"].strip() if marker else None))
        index += 1
    return found


def cli_commands(block: Block) -> list[str]:
    """The ``mrczio ...`` command lines of a console or sh block."""
    if block.lang == "console":
        lines = [line[2:] for line in block.text.splitlines() if line.startswith("$ ")]
    elif block.lang in ("sh", "bash", "shell"):
        lines = block.text.splitlines()
    else:
        return []
    return [line.strip() for line in lines if line.strip().startswith("mrczio ")]


def run_command(command: str) -> None:
    expected = int(EXITS.search(command)["code"]) if EXITS.search(command) else 0  # type: ignore[index]
    words = shlex.split(command, comments=True)
    assert not any(SHELL_OPERATORS.search(w) for w in words if not Path(w).exists()), (
        f"{command!r}: pipes and redirections cannot run here; mark the block not-run with a reason"
    )
    argv: list[str] = []
    for word in words[1:]:
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else []
        argv += matches or [word]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    assert code == expected, f"`{command}` exited {code}, expected {expected}"


def make_samples(folder: Path) -> None:
    movie = counting_movie(8, (128, 128), dose=1.0, seed=12)
    mrczio.imwrite(folder / "movie.mrc", movie, voxel_size=1.06, metadata={"dose_per_frame": 1.2})
    gain = np.random.default_rng(12).normal(1.0, 0.03, (128, 128)).astype(np.float32)
    mrczio.imwrite(folder / "gain.mrc", gain)
    metadata = {"dose_per_frame": 1.2, "gain_reference": gain}
    mrczio.imwrite(folder / "movie.mrcz", movie, voxel_size=1.06, metadata=metadata, metadata_format="msgpack")


def runnable(page: Path) -> bool:
    return any(b.not_run is None and (b.lang == "python" or cli_commands(b)) for b in blocks_of(page))


@pytest.mark.parametrize("page", [p for p in PAGES if runnable(p)], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    make_samples(tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks_of(page):
        if block.not_run is not None:
            continue
        where = f"{page.relative_to(ROOT)}:{block.line}"
        if block.lang == "python":
            exec(compile(block.text, where, "exec"), namespace)  # noqa: S102 - the docs' own examples
        for command in cli_commands(block):
            run_command(command)
        capsys.readouterr()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_markers_give_reasons_and_cli_examples_are_tagged(page: Path) -> None:
    lines = page.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        marker = NOT_RUN.match(line)
        if marker is not None:
            assert marker["reason"].strip(), f"{page.name}:{number}: a not-run marker needs a reason"
            following = next((x for x in lines[number:] if x.strip()), "")
            assert FENCE.match(following), f"{page.name}:{number}: a not-run marker must precede a code block"
    for block in blocks_of(page):
        if block.lang == "":
            assert not any(
                line.lstrip("$ ").startswith("mrczio ") for line in block.text.splitlines()
            ), f"{page.name}:{block.line}: a CLI example in an untagged block; tag it console or sh (or text for a synopsis)"


def test_collector_sees_the_examples() -> None:
    """The collector itself: README has Python and CLI examples, markers are parsed."""
    readme = blocks_of(ROOT / "README.md")
    assert any(b.lang == "python" and "mrczio.imwrite" in b.text for b in readme)
    assert any(cli_commands(b) for b in readme)
    page = ROOT / "docs" / "cli.md"
    assert "mrczio compress gain.mrc" in [c for b in blocks_of(page) for c in cli_commands(b)]


def test_readme_lists_every_command() -> None:
    from mrczio.cli import COMMANDS

    readme = (ROOT / "README.md").read_text()
    cli_page = (ROOT / "docs" / "cli.md").read_text()
    for module_name in COMMANDS:
        name = module_name.rsplit(".", 1)[1]
        assert f"`mrczio {name}" in readme, f"README.md does not list `mrczio {name}`"
        assert f"mrczio {name}" in cli_page, f"docs/cli.md does not list `mrczio {name}`"


def test_plugin_example_on_the_page_is_the_shipped_file() -> None:
    shipped = (ROOT / "docs" / "examples" / "mrczio-lzma" / "mrczio_lzma.py").read_text()
    on_page = [b.text for b in blocks_of(ROOT / "docs" / "plugins.md") if "class LzmaCodec" in b.text]
    assert on_page == [shipped[shipped.index("import lzma") :]]
