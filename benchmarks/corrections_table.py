"""The closing table of issue 16: every outlier method on one realistic synthetic detector.

Run from the repository root::

    PYTHONPATH=.:plugins:benchmarks python benchmarks/corrections_table.py           # 40 x 1024^2
    PYTHONPATH=.:plugins:benchmarks python benchmarks/corrections_table.py --write   # also docs

The detector (``mrczio/synthetic.py``) has charge sharing (paper K2 PSF weights), a
1.5 % CMOS block pattern, static hot pixels (with 2x2 clusters), birth-death hot
pixels, transient hot pixels (on for 8 consecutive frames), dead pixels and hot/dead
column segments. Each method detects on the raw counts and fills; the table reports

- precision over all flagged pixels, recall of static defects (hot + dead, incl. lines)
  and of transient hot pixels separately;
- ``restored_fraction``: static hot/dead pixels whose corrected sum is within 4 sigma of
  the defect-free expectation; the same for transient pixels;
- ``moved_per_mpix``: normal pixels whose sum moved by more than 2 sigma, per Mpix;
- ``specimen_subtracted_r``: mean frame-pair R after subtracting the true rate (what is
  left is correlated detector noise; the outlier-free row is the floor);
- gamma error: eq. 10 on a 300 e-/pix flat stack of the same detector (same block
  pattern), corrected by the method, at two dose rates (worst absolute error);
- time of detect + fill and its peak traced memory (``tracemalloc``, a separate run).

Baselines (``corrections_baselines.py``) have no fill of their own: their flagged
pixels are replaced in every frame by the 5x5 median of the time sum divided by n.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from corrections_baselines import local_median_mad, relion_hot
from scipy.ndimage import median_filter

from mrczio.corrections import gain as gain_mod
from mrczio.corrections.histogram import time_sum
from mrczio.corrections.metrics import moved_per_mpix, restored_fraction, specimen_subtracted_r
from mrczio.corrections.outliers import detect_outliers
from mrczio.synthetic import DetectorModel, SyntheticDetector, SyntheticStack

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "corrections-benchmarks.md"
START, END = "<!-- corrections-table:start -->", "<!-- corrections-table:end -->"

#: Columns of the table, in order (the test checks every one is present and finite).
COLUMNS = (
    "precision",
    "recall static",
    "recall transient",
    "static restored 4 sigma",
    "transient restored 4 sigma",
    "normal moved >2 sigma per Mpix",
    "R specimen subtracted",
    "gamma error (1.5 % blocks)",
    "gamma error robust",
    "seconds",
    "peak MiB",
)

Corrector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Setup:
    """Size and detector of one table run."""

    shape: tuple[int, int] = (1024, 1024)
    n_frames: int = 40
    seed: int = 3
    model: DetectorModel | None = None
    gamma_rates: tuple[float, ...] = (1.0, 7.0)
    flat_counts: float = 300.0

    def detector_model(self) -> DetectorModel:
        """The model: charge sharing, 1.5 % blocks, transients, line defects."""
        if self.model is not None:
            return replace(self.model, shape=self.shape)
        return DetectorModel(
            shape=self.shape,
            charge_sharing=0.1,
            block_pattern=0.015,
            transient_hot=1e-3,
            transient_frames=8,
            line_defects=4,
        )


def _mrczio(**params: Any) -> Corrector:
    def run(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        res = detect_outliers(data, **params)
        return res.outlier_mask(), res.apply(data)

    return run


def _baseline(detector: Callable[[np.ndarray], np.ndarray]) -> Corrector:
    def run(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total = time_sum(data).astype(np.float64)
        mask = detector(total)
        fill = (median_filter(total, size=5, mode="reflect") / data.shape[0]).astype(np.float32)
        out = data.astype(np.float32)
        out[:, mask] = fill[mask]
        return mask, out

    return run


def _none(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(data.shape[1:], dtype=bool), data.astype(np.float32)


METHODS: dict[str, Corrector] = {
    "mrczio default mode": _mrczio(),
    "McLeod paper mode": _mrczio(mode="paper"),
    "local median + 5 MAD": _baseline(local_median_mad),
    "RELION 6-sigma": _baseline(relion_hot),
    "no correction": _none,
}


def _timed(fn: Corrector, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Run ``fn`` once timed and once under tracemalloc (peak MiB above the start)."""
    t0 = time.perf_counter()
    mask, out = fn(data)
    seconds = time.perf_counter() - t0
    del out
    tracemalloc.start()
    mask, out = fn(data)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return mask, out, seconds, peak


def _gamma_errors(setup: Setup, fn: Corrector) -> tuple[float, float]:
    """Worst |fitted - true gamma| over ``gamma_rates`` on flats corrected by ``fn``, for
    eq. 10 (``fit_gamma``) and for ``fit_gamma_robust``.

    The flats come from the same detector without charge sharing (same block pattern:
    the pattern is drawn before and independently of the sharing)."""
    model = replace(setup.detector_model(), charge_sharing=0.0)
    worst = [0.0, 0.0]
    for rate in setup.gamma_rates:
        det = SyntheticDetector(model, seed=setup.seed)
        gain = det.vendor_gain(1e4)
        per_frame = setup.flat_counts / setup.n_frames
        flat = det.stack(setup.n_frames, dose_rate=rate, frame_time=per_frame / rate, contrast=0.0)
        _, corrected = fn(flat.data)
        total = corrected.sum(axis=0, dtype=np.float64)
        for k, fit in enumerate((gain_mod.fit_gamma, gain_mod.fit_gamma_robust)):
            worst[k] = max(worst[k], abs(fit(total, gain).gamma - det.gamma(rate)))
    return worst[0], worst[1]


def _row(st: SyntheticStack, mask: np.ndarray, out: np.ndarray) -> dict[str, float]:
    transient = st.extras.get("transient", np.zeros(st.rate.shape, dtype=bool))
    static = st.outliers
    truth = static | transient
    flagged = int(np.count_nonzero(mask))
    expected = st.rate.astype(np.float64) * st.data.shape[0]
    return {
        "precision": np.count_nonzero(mask & truth) / flagged if flagged else float("nan"),
        "recall static": np.count_nonzero(mask & static) / max(int(static.sum()), 1),
        "recall transient": np.count_nonzero(mask & transient) / max(int(transient.sum()), 1),
        "static restored 4 sigma": restored_fraction(out, expected, static),
        "transient restored 4 sigma": restored_fraction(out, expected, transient),
        "normal moved >2 sigma per Mpix": moved_per_mpix(st.data, out, ~truth, expected),
        "R specimen subtracted": specimen_subtracted_r(out, st.rate),
    }


def run_table(setup: Setup, methods: dict[str, Corrector] | None = None) -> dict[str, Any]:
    """Build the synthetic stack, run every method, return rows and context."""
    methods = METHODS if methods is None else methods
    load_before = os.getloadavg()
    model = setup.detector_model()
    det = SyntheticDetector(model, seed=setup.seed)
    st = det.stack(setup.n_frames, dose_rate=4.0, frame_time=0.25, contrast=0.1)
    rows = []
    for name, fn in methods.items():
        mask, out, seconds, peak = _timed(fn, st.data)
        row: dict[str, Any] = {"method": name, **_row(st, mask, out)}
        del out
        row["gamma error (1.5 % blocks)"], row["gamma error robust"] = _gamma_errors(setup, fn)
        row["seconds"] = seconds
        row["peak MiB"] = peak
        rows.append(row)
        print(f"{name}: {seconds:.2f} s", file=sys.stderr, flush=True)
    free = SyntheticDetector(model, seed=setup.seed).stack(
        setup.n_frames, dose_rate=4.0, frame_time=0.25, contrast=0.1, outliers=False
    )
    return {
        "rows": rows,
        "outlier_free_r": specimen_subtracted_r(free.data, free.rate),
        "input_mib": st.data.nbytes / 2**20,
        "n_static": int(st.outliers.sum()),
        "n_transient": int(st.extras.get("transient", np.zeros(1, bool)).sum()),
        "load": (load_before, os.getloadavg()),
        "setup": setup,
    }


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _versus(rows: list[dict[str, Any]], ours: str = "mrczio default mode", other: str = "local median + 5 MAD") -> str:
    """A bullet comparing the default mode with the local median baseline, from the rows."""
    by = {r["method"]: r for r in rows}
    if ours not in by or other not in by:
        return ""
    keys = ("precision", "recall static", "recall transient", "normal moved >2 sigma per Mpix", "seconds")
    pairs = ", ".join(f"{k} {_fmt(by[ours][k])} vs {_fmt(by[other][k])}" for k in keys)
    return f"- {ours} vs {other}: {pairs}.\n"


def markdown(result: dict[str, Any]) -> str:
    """The table and its context as a markdown block (between the doc markers)."""
    s: Setup = result["setup"]
    head = ["method", *COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(r[k]) for k in head) + " |" for r in result["rows"]]
    (b1, b5, b15), (a1, a5, a15) = result["load"]
    return f"""{START}
## Closing table (issue 16)

Generated by `benchmarks/corrections_table.py`: {s.n_frames} x {s.shape[0]}x{s.shape[1]} uint8
counts at 1 e-/pix/frame, 10 % specimen contrast; detector with 10 % charge sharing
(paper K2 PSF weights), 1.5 % CMOS block pattern (64 px blocks), static and birth-death
hot pixels, 0.1 % transient hot pixels (8 of {s.n_frames} frames), dead pixels, 4 hot and
4 dead column segments: {result["n_static"]} static defects, {result["n_transient"]} transient
pixels. Detection on raw counts. Input {result["input_mib"]:.0f} MiB. Load average
(1/5/15 min) {b1:.2f}/{b5:.2f}/{b15:.2f} before, {a1:.2f}/{a5:.2f}/{a15:.2f} after, 2 cores.

{chr(10).join(lines)}

- Precision is over all flagged pixels against static + transient truth; recalls split.
- Restored: corrected time sum within 4 Poisson sigma of the defect-free expectation.
- Moved: pixels that are not defects whose time sum moved by > 2 sigma, per Mpix.
- R specimen subtracted: mean frame-pair R of (corrected - true rate); an outlier-free
  stack of the same detector gives {result["outlier_free_r"]:.3g} (the floor; charge
  sharing correlates pixels within a frame, not frames).
- Gamma error: eq. 10 (`fit_gamma`) on a {s.flat_counts:.0f} e-/pix flat stack of the same
  detector (same block pattern) corrected by the method, worst |error| over dose rates
  {", ".join(f"{r:g}" for r in s.gamma_rates)} e-/pix/s; "robust" is `fit_gamma_robust` on
  the same flats (row, column and block means removed before the fit).
- Seconds: detect + fill, one run. Peak MiB: peak traced by `tracemalloc` in a second run
  (numpy allocations above the start, including the float32 output of
  {result["input_mib"] * 4:.0f} MiB; the input stack itself is not counted).
- "no correction" flags nothing, so its precision is undefined (nan).
- Baselines have no fill of their own: their flagged pixels get the 5x5 median of the
  time sum / n in every frame. "no correction" is the raw stack.
{_versus(result["rows"])}- Regenerate with `PYTHONPATH=.:plugins:benchmarks python benchmarks/corrections_table.py
  --write` (replaces only this block); the sections below come from
  `benchmarks/bench_corrections.py`, which keeps this block.
{END}"""


def write_doc(block: str, path: Path = DOC) -> None:
    """Replace the marked block in ``path`` (or insert it after the title)."""
    text = path.read_text()
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n{block}\n{rest}"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1024, help="frame side (default 1024)")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument(
        "--write", action="store_true", help="write the block into docs/corrections-benchmarks.md"
    )
    args = parser.parse_args(argv)
    result = run_table(Setup(shape=(args.size, args.size), n_frames=args.frames))
    block = markdown(result)
    print(block)
    if args.write:
        write_doc(block)
        print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
