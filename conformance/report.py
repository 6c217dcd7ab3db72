"""Run the conformance suite and write docs/conformance.md from what actually happened.

Usage (from the repository root)::

    python conformance/report.py            # runs pytest on conformance/, writes the doc
    python conformance/report.py --check    # also exit 1 if any cell failed

Every test that is a matrix cell attaches its writer, reader, dtype, shape, expected and
observed outcome (``cflib.cells.record``); this script collects them through a small
pytest plugin and renders the tables. Nothing in the document is typed by hand except
the fixed prose below.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from cflib.readers import versions


class Collector:
    """pytest plugin: gathers recorded cells and per-test outcomes."""

    def __init__(self) -> None:
        self.cells: list[dict[str, Any]] = []
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.outcomes[report.outcome] += 1
            if report.outcome == "failed":
                self.failures.append(report.nodeid)
            for key, value in report.user_properties:
                if key == "cell":
                    cell = json.loads(value)
                    cell["passed"] = report.outcome == "passed"
                    self.cells.append(cell)


def _aggregate(
    cells: list[dict[str, Any]], row: tuple[str, ...], column: str
) -> dict[tuple, dict[str, Counter[str]]]:
    table: dict[tuple, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for cell in cells:
        label = cell["expected"] if cell["passed"] else f"FAILED ({cell['expected']})"
        table[tuple(cell[k] for k in row)][cell[column]][label] += 1
    return table


def _short(label: str) -> str:
    if label.startswith("refuse"):
        return "refuse"
    if label.startswith("garbage"):
        return "garbage"
    return label


def _cell_text(counter: Counter[str]) -> str:
    merged: Counter[str] = Counter()
    for label, count in counter.items():
        merged[_short(label) if not label.startswith("FAILED") else "**FAILED**"] += count
    if len(merged) == 1:
        return next(iter(merged))
    return ", ".join(f"{label} ×{count}" for label, count in merged.most_common())


def _matrix(
    cells: list[dict[str, Any]], row: tuple[str, ...], column: str, columns: list[str]
) -> list[str]:
    table = _aggregate(cells, row, column)
    lines = ["| " + " | ".join(row) + " | " + " | ".join(columns) + " |",
             "|" + "---|" * (len(row) + len(columns))]  # fmt: skip
    for key in sorted(table):
        values = [_cell_text(table[key][c]) if c in table[key] else "—" for c in columns]
        lines.append("| " + " | ".join(map(str, key)) + " | " + " | ".join(values) + " |")
    return lines


def _known(cells: list[dict[str, Any]]) -> list[str]:
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    for cell in cells:
        if cell["expected"].startswith(("refuse", "garbage")):
            key = (cell["reader"], cell["expected"])
            count, example = seen.get(key, (0, cell["observed"]))
            seen[key] = (count + 1, example)
    lines = [
        "| reader | expected behaviour (documented, asserted) | cells | observed example |",
        "|---|---|---|---|",
    ]
    for (reader, label), (count, example) in sorted(seen.items()):
        example = re.sub(r"/tmp/\S*/", ".../", example).replace("|", "/")[:140]
        lines.append(f"| {reader} | {label} | {count} | {example} |")
    return lines


def _simple(cells: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| writer | reader | dtype | case | expected | observed | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in sorted(cells, key=lambda c: (c["writer"], c["reader"], c["dtype"], c["shape"])):
        result = "pass" if cell["passed"] else "**FAIL**"
        lines.append(f"| {cell['writer']} | {cell['reader']} | {cell['dtype']} | {cell['shape']} | "
                     f"{cell['expected']} | {cell['observed'].replace('|', '/')[:100]} | {result} |")  # fmt: skip
    return lines


def _grouped_simple(cells: list[dict[str, Any]], keys: tuple[str, ...]) -> list[str]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for cell in cells:
        groups[tuple(cell[k] for k in keys)].append(cell)
    lines = [
        "| " + " | ".join(keys) + " | cells | expected | result |",
        "|" + "---|" * (len(keys) + 3),
    ]
    for key in sorted(groups):
        members = groups[key]
        expected = sorted({m["expected"] for m in members})
        failed = sum(not m["passed"] for m in members)
        result = "pass" if not failed else f"**{failed} FAILED**"
        lines.append(
            "| "
            + " | ".join(map(str, key))
            + f" | {len(members)} | {'; '.join(expected)} | {result} |"
        )
    return lines


PROSE = """# Conformance report: what mrczio reads and writes, checked against other readers

Generated by `python conformance/report.py` from a run of the conformance suite
(`python -m pytest conformance`); do not edit by hand. Every cell below is a test that
asserts its expected outcome, so a cell that changes behaviour fails the suite.

Comparison levels: **B2** exact array (same dtype and shape, compared bit for bit, so
NaN payloads and -0.0 count); **B2s** the same items in the same order when the reader
drops one-pixel axes; **B1** identical data bytes (the reader's item type differs, e.g.
int8 for uint8 mode 0); **V** identical values after a lossless cast (gemmi and RELION
return float32). **refuse**: the reader must reject the file with the documented error;
**garbage**: the reader "succeeds" (RELION exits 0) with wrong data, and the suite
reproduces the documented wrong result exactly. Legacy readers that return garbage
with exit status 0 are why every cell compares arrays.

Shapes: image (6×7, one 2-D image), stack (3×5×7), prime (2×13×11), even (2×8×10),
row1 (3×1×9), col1 (2×8×1), pixel1 (1×1×1); volumes use ISPG 1, MZ = NZ. `uint4` is mode
101 (4-bit, IMOD row padding). Writers `mrc`/`mrc-be`/`mrc-volume` are plain MRC
(little-endian, big-endian, volume); `mrcz-<codec>` are MRCZ chunks (blosc1 unless
`-blosc2`).
"""


def render(collector: Collector) -> str:
    cells = collector.cells
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cell in cells:
        by_table[cell["table"]].append(cell)
    out = [PROSE]
    passed, failed = collector.outcomes.get("passed", 0), collector.outcomes.get("failed", 0)
    out += ["## Summary", "", (f"- tests run: {passed + failed + collector.outcomes.get('skipped', 0)}; "
            f"passed {passed}, failed {failed}, skipped {collector.outcomes.get('skipped', 0)}"),
            (f"- matrix cells recorded: {len(cells)} "
            f"({', '.join(f'{t}: {len(c)}' for t, c in sorted(by_table.items()))})"), ""]  # fmt: skip
    if collector.failures:
        out += ["Failed tests:", ""] + [f"- `{n}`" for n in collector.failures] + [""]
    out += ["## Versions", "", "| component | version |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in versions().items()] + [""]
    readers = ["mrczio", "mrcfile", "mrcz", "gemmi", "libccp4", "relion"]
    out += ["## mrczio writes, others read", "",
            ("Rows: writer and dtype; columns: reader; each entry aggregates the shapes "
            "(×n when outcomes differ by shape). mrcz = python-mrcz 0.6.0, libccp4 = the CCP4 C "
            "library through `conformance/tools/ccp4dump.c`, relion = `relion_image_handler`."), ""]  # fmt: skip
    out += _matrix(by_table["mrczio writes"], ("writer", "dtype"), "reader", readers) + [""]
    out += ["## Known refusals and documented garbage (third-party behaviour, not mrczio bugs)", ""]
    out += _known(
        [c for c in cells if c["table"] in ("mrczio writes", "TIFF", "others write", "headers")]
    ) + [""]
    out += ["## Header fields (voxel size, validate, extended header, metadata)", ""]
    out += _simple(by_table["headers"]) + [""]
    out += ["## Others write, mrczio reads", ""]
    out += _grouped_simple(by_table["others write"], ("writer", "dtype")) + [""]
    out += ["## TIFF (row order stated per reader) and imageio", ""]
    out += _matrix([c for c in by_table["TIFF"] if c["writer"] == "mrczio tiff (LZW)"], ("dtype",), "reader",
                   ["mrczio", "tifffile", "pillow", "libtiff", "relion"]) + [""]  # fmt: skip
    out += _simple([c for c in by_table["TIFF"] if c["writer"] != "mrczio tiff (LZW)"]) + [""]
    out += _grouped_simple(by_table["imageio"], ("writer", "reader", "shape")) + [""]
    out += ["## Conversions (round trips)", ""] + _simple(by_table["conversions"]) + [""]
    out += ["## Bad and edge inputs", "",
            ("Each case is read strictly and with `permissive=True` in a worker thread under a 20 s "
            "hang guard and tracemalloc: the result must be a valid read or an mrczio error naming "
            "the file, peak allocation ≤ file size + 1 MiB; permissive reads that rescue data must "
            "warn with `PermissiveReadWarning`, and rescued frames must be an exact prefix. A "
            "derandomized hypothesis fuzz (300 mutated files per base file) checks the same."), ""]  # fmt: skip
    out += _grouped_simple(by_table["bad inputs"], ("writer", "shape", "observed")) + [""]
    out += [NOTES]
    return "\n".join(out) + "\n"


NOTES = """## Known limitations and findings

- A file cut short at its end: files mrczio writes end with a checksum block, so a cut
  there is reported (`ChecksumError`; a permissive read warns and returns the frames).
  Files without one (python-mrcz's) cannot tell a cut-off metadata footer from trailing
  bytes, which every MRC reader ignores.
- Core fix made by this suite: a block of zeros (no `MAP`, all sizes 0) was claimed as an
  empty MRC file; it is now refused as an unknown format.
- gzip/bzip2-wrapped MRC (mrcfile's `compression=`) is refused; decompress first.
- Not runnable here (no Debian package): IMOD, EMAN2, SerialEM, MotionCor2, cryoSPARC;
  their behaviour is described in mrc-conformance.md from source reading only.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "conformance.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when a test failed")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -k mrcfile)")
    args = parser.parse_args(argv)
    collector = Collector()
    status = pytest.main(
        [str(HERE), "-q", "-p", "no:cacheprovider", *args.pytest_args], plugins=[collector]
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(collector))
    print(f"wrote {args.output} ({len(collector.cells)} cells)")
    return int(status != 0) if args.check else 0


if __name__ == "__main__":
    sys.exit(main())
