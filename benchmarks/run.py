"""Run the benchmarks: ``python -m benchmarks.run --quick`` or ``--full``.

``--quick`` (the default; what CI runs) uses small frames and one repetition and only
checks that everything runs. ``--full`` uses the paper's data: 60 K2-size frames
(3838 x 3710) at dose 1 for Table 1 and the goals, one K2 frame per paper dose for
Figure 2, and the real uint16 frame. Results go to ``--out`` (results.json, report.md,
plots); ``--docs`` also rewrites docs/benchmarks.md and docs/img/bench-*.png.
``--from-results`` re-renders the report and re-draws the plots from a saved results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks import entropy_coders, figure2, goals
from benchmarks.contenders import all_contenders
from benchmarks.data import K2_SHAPE, PAPER_DOSES, entropy_bytes, real_frame
from benchmarks.report import Table, plot_figure2
from benchmarks.table1 import run_table1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KiB = 1 << 10


@dataclass(frozen=True)
class Config:
    """Sizes and repetitions of one benchmark run."""

    name: str
    shape: tuple[int, int]
    frames: int
    reps: int
    doses: tuple[float, ...]
    levels: tuple[int, ...]
    blocksizes: tuple[int, ...]
    memory_frames: int
    slow_frames: int  # frames given to slow Table-1 contenders (gzip, LZW, bzip2, xz)

    @classmethod
    def quick(cls) -> Config:
        return cls("quick", (512, 512), 6, 1, (0.1, 1.0, 4.0), (1, 5), (64 * KiB, 256 * KiB), 6, 6)

    @classmethod
    def full(cls) -> Config:
        sizes = tuple(b * KiB for b in (64, 128, 256, 512, 1024, 2048, 4096))
        return cls("full", K2_SHAPE, 60, 3, PAPER_DOSES, tuple(range(1, 10)), sizes, 60, 6)


def run(config: Config, directory: str, plots: bool = True) -> dict[str, Any]:
    """Run every benchmark of ``config`` in ``directory``; return the results dict."""
    started = time.time()
    threads = os.cpu_count() or 1
    tables: dict[str, Table] = {}

    def keep(table: Table) -> None:
        tables[table.key] = table
        print(table.markdown(), flush=True)

    stack = goals.goal_stack(config.frames, config.shape)
    contenders = all_contenders(threads) + entropy_coders.entropy_contenders()
    keep(run_table1(stack, entropy_bytes(stack), contenders, config.reps, directory, config.slow_frames))
    frames = figure2.dose_frames(config.doses, config.shape)
    real = real_frame(None if config.name == "full" else config.shape)
    keep(figure2.ratio_vs_dose(frames))
    keep(entropy_coders.size_to_bound_vs_dose(frames))
    keep(figure2.ratio_vs_level(stack[0], config.levels))
    series: dict[str, tuple[np.ndarray, str]] = {
        f"bitshuffle dose {d}": (frames[d], "bitshuffle") for d in (config.doses[0], 1.0, config.doses[-1])
    }
    series[f"shuffle dose {config.doses[-1]}"] = (frames[config.doses[-1]], "shuffle")
    if real is not None:
        series["bitshuffle real uint16"] = (real, "bitshuffle")
        series["shuffle real uint16"] = (real, "shuffle")
    keep(figure2.ratio_vs_blocksize(series, config.blocksizes))
    keep(figure2.blocksize_by_dose(frames, config.blocksizes))
    named = {f"Poisson {d}": f for d, f in frames.items()}
    if real is not None:
        named["real uint16"] = real
    keep(figure2.auto_filter(named))
    speed = figure2.speed_vs_threads(stack[: min(8, len(stack))], config.reps, sorted({1, min(2, threads)}))
    keep(speed)
    table = goals.goals_table()
    goals.io_goals(table, stack, config.reps, directory)
    keep(goals.entropy_goals(table, frames, real))
    goals.thread_goals(table, speed)
    goals.memory_goal(table, config.memory_frames, config.shape, directory)
    keep(table)
    images = plot_figure2(tables, directory) if plots else []
    return {
        "config": config.__dict__,
        "machine": machine(),
        "seconds": time.time() - started,
        "tables": {key: t.to_dict() for key, t in tables.items()},
        "images": images,
    }


def machine() -> dict[str, Any]:
    """Where and with what the numbers were measured."""
    import blosc
    import blosc2

    import mrczio

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mrczio": mrczio.__version__,
        "blosc": blosc.__version__,
        "c-blosc": blosc.blosclib_version,
        "blosc2": blosc2.__version__,
    }
    for name in ("mrcz", "mrcfile", "tifffile", "imagecodecs", "matplotlib"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "not installed"
    cpu = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu
            )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(memory / 2**30, 1),
            "platform": platform.platform(), "load_average": os.getloadavg(), "versions": versions}  # fmt: skip


def render(results: dict[str, Any], command: str) -> str:
    """The Markdown report: machine, command, then every table."""
    info = results["machine"]
    lines = [
        f"Run: `{command}` ({results['config']['name']} mode, {results['seconds'] / 60:.1f} min).",
        (
            f"Machine: {info['cpu']}, {info['cpus']} CPUs, {info['memory_gib']} GiB, {info['platform']}; "
            f"load average at the end {', '.join(f'{x:.1f}' for x in info['load_average'])}."
        ),
        "Versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()) + ".",
        "",
    ]
    for data in results["tables"].values():
        lines.append(Table(**data).markdown())
    for image in results["images"]:
        lines.append(f"![{os.path.basename(image)}](img/{os.path.basename(image)})\n")
    return "\n".join(lines)


def write_docs(results: dict[str, Any], command: str) -> str:
    """Rewrite docs/benchmarks.md (notes from benchmarks/notes.md + generated results)."""
    import shutil

    docs = os.path.join(ROOT, "docs")
    os.makedirs(os.path.join(docs, "img"), exist_ok=True)
    for image in results["images"]:
        shutil.copy(image, os.path.join(docs, "img", os.path.basename(image)))
    with open(os.path.join(ROOT, "benchmarks", "notes.md")) as handle:
        notes = handle.read()
    path = os.path.join(docs, "benchmarks.md")
    with open(path, "w") as handle:
        handle.write(
            notes.rstrip() + "\n\n## Raw results of the last full run\n\n" + render(results, command)
        )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small frames, one repetition (default)")
    mode.add_argument("--full", action="store_true", help="the paper's K2-size data, three repetitions")
    parser.add_argument("--out", help="results folder (default: a new temporary folder)")
    parser.add_argument(
        "--docs", action="store_true", help="rewrite docs/benchmarks.md and docs/img/bench-*.png"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the matplotlib plots")
    parser.add_argument(
        "--from-results",
        metavar="JSON",
        help="only re-render the report, plots (and --docs) from a results.json",
    )
    args = parser.parse_args(argv)
    if args.from_results:
        with open(args.from_results) as handle:
            saved = json.load(handle)
        command = saved.get("command", "python -m benchmarks.run --full")
        if not args.no_plots:  # plots follow the current plotting code, from the saved tables
            folder = os.path.dirname(os.path.abspath(args.from_results))
            saved["images"] = plot_figure2({k: Table(**t) for k, t in saved["tables"].items()}, folder)
        print(write_docs(saved, command) if args.docs else render(saved, command))
        return 0
    config = Config.full() if args.full else Config.quick()
    directory = args.out or tempfile.mkdtemp(prefix="mrczio-bench-")
    os.makedirs(directory, exist_ok=True)
    results = run(config, directory, plots=not args.no_plots)
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    results["command"] = command
    with open(os.path.join(directory, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1, default=float)
    with open(os.path.join(directory, "report.md"), "w") as handle:
        handle.write(render(results, command))
    if args.docs:
        print(f"wrote {write_docs(results, command)}")
    print(f"results in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
