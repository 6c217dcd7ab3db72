"""The benchmark suite's quick mode runs end to end and reports every row and column.

No thresholds: timings on a shared CI machine prove nothing. What must hold is that
every contender ran (or says why not), read back identical pixels, and every table
has its expected shape.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLES = {
    "table1": ["contender", "size (MB)", "size / raw", "size / entropy", "write (s)", "read warm (s)",
               "read cold (s)", "write MB/s", "read warm MB/s", "identical", "note"],
    "ratio_vs_dose": ["dose", "entropy bound", "zstd", "lz4", "lz4hc", "zlib", "blosclz", "python-mrcz rule (zstd)"],
    "ratio_vs_level": ["level", "zstd", "lz4", "lz4hc", "zlib", "blosclz"],
    "speed_vs_threads": ["threads", "zstd compress", "zstd decompress", "zstd compress (blocks)",
                         "zstd decompress (blocks)", "lz4 compress", "lz4 decompress"],
    "goals": ["goal", "target", "measured", "met", "detail"],
}  # fmt: skip
TABLE1_ROWS = [
    "MRC uncompressed (mrczio)", "MRC 4-bit mode 101 (mrczio)", "MRCZ zstd 1 (mrczio, default)",
    "MRCZ zstd 5 (mrczio)", "MRCZ lz4 1 (mrczio)", "MRCZ lz4 5 (mrczio)", "python-mrcz 0.6.0 zstd 1 (default)",
    "mrcfile 1.5 plain", "mrcfile 1.5 gzip", "tifffile LZW", "tifffile zstd",
    "pigz -1 (raw bytes)", "lbzip2 -9 (raw bytes)", "xz -6 (raw bytes)",
]  # fmt: skip


def _install_missing_tools() -> None:
    """Table 1 compares against pigz, lbzip2 and xz: install them (Debian) rather than skip."""
    if all(shutil.which(tool) for tool in ("pigz", "lbzip2", "xz")):
        return
    setup = os.path.join(ROOT, "benchmarks", "setup.sh")
    subprocess.run(["bash", setup, "--tools"], check=True, stdin=subprocess.DEVNULL, timeout=600)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    _install_missing_tools()
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--no-plots", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "report.md").read_text().count("### ") == len(json.loads((out / "results.json").read_text())["tables"])
    return json.loads((out / "results.json").read_text())


def test_every_table_has_its_columns(results: dict) -> None:
    tables = results["tables"]
    for key, columns in TABLES.items():
        assert tables[key]["columns"] == columns
        assert tables[key]["rows"], key
        assert all(len(row) == len(columns) for row in tables[key]["rows"])


def test_table1_has_every_contender_and_each_round_trips(results: dict) -> None:
    rows = {row[0]: row for row in results["tables"]["table1"]["rows"]}
    assert set(TABLE1_ROWS) <= set(rows)
    for name, row in rows.items():
        if row[-1].startswith("skipped"):
            assert name == "MRC 4-bit mode 101 (mrczio)", f"{name}: {row[-1]}"  # only an absent plugin may skip
            continue
        assert row[9] is True, f"{name} did not read back identical pixels"
        assert row[1] > 0 and row[4] > 0 and row[5] > 0


def test_goals_and_entropy_rows(results: dict) -> None:
    goals = [row[0] for row in results["tables"]["goals"]["rows"]]
    for start in ("read mrczio's file >= 1.8x", "read python-mrcz's file >= 1.4x", "read within 10%", "open 2000", "write >= 1.2x", "size <= 0.97x", "one frame of",
                  "Poisson doses", "real uint16 frame", "2 threads", "streaming"):  # fmt: skip
        assert any(goal.startswith(start) for goal in goals), start
    entropy = results["tables"]["entropy"]["rows"]
    assert [row[0] for row in entropy][:3] == ["Poisson 0.1", "Poisson 1.0", "Poisson 4.0"]
    assert all(row[2] >= 1.0 for row in entropy)  # nothing beats the entropy bound of i.i.d. counts
