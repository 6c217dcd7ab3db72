"""Result tables, their Markdown rendering and the Figure-2 style plots."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Table:
    """One result table: a title, column names, rows of cells and free-text notes."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.key}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in self.rows]
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value).replace("|", "/")


def plot_figure2(tables: dict[str, Table], directory: str) -> list[str]:
    """Write docs/img/bench-*.png style plots from the Figure-2 tables; returns paths."""
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    specs = [
        ("ratio_vs_dose", "dose (e-/pixel/frame)", "compression ratio (raw / compressed)", True),
        ("entropy_coders_vs_dose", "dose (e-/pixel/frame)", "size / entropy bound", True),
        ("ratio_vs_level", "compression level", "compression ratio (raw / compressed)", False),
        ("ratio_vs_blocksize", "block size (KiB)", "size / entropy bound", True),
        ("speed_vs_threads", "threads", "GB/s (uncompressed bytes)", False),
    ]
    for key, xlabel, ylabel, logx in specs:
        table = tables.get(key)
        if table is None or not table.rows:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        x = [row[0] for row in table.rows]
        for index, name in enumerate(table.columns[1:], start=1):
            if "(MB)" in name:  # an absolute size beside ratios: not on the same axis
                continue
            y = [row[index] if isinstance(row[index], int | float) else math.nan for row in table.rows]
            ax.plot(x, y, marker="o", label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if logx:
            ax.set_xscale("log")
        ax.set_title(table.title, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(directory, f"bench-{key.replace('_', '-')}.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
