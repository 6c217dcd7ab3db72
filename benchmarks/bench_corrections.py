"""Benchmark of the detector corrections on the seeded synthetic detector.

Run from the repository root::

    PYTHONPATH=.:plugins:benchmarks python benchmarks/bench_corrections.py --quick
    PYTHONPATH=.:plugins:benchmarks python benchmarks/bench_corrections.py   # full

The full mode writes ``docs/corrections-benchmarks.md`` and plots under ``docs/img/``;
``--quick`` uses small sizes and writes to a temporary directory unless ``--out`` is given.
Sections: outlier detection (precision, recall by strength, FP/Mpix on a null stack)
for the paper mode, the default mode and baselines; fill error per kernel; correlated
noise reduction; KOMA R(a); gamma recovery; speed and peak memory of the outlier filter.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from corrections_baselines import BASELINES

from mrczio.corrections import gain as gain_mod
from mrczio.corrections.histogram import time_sum
from mrczio.corrections.koma import apply_reference, koma_reference_bruteforce, stack_mean
from mrczio.corrections.metrics import mean_pair_r, split_reference_cross_r
from mrczio.corrections.outliers import detect_outliers
from mrczio.synthetic import DetectorModel, SyntheticDetector

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one benchmark mode."""

    detect_shape: tuple[int, int]
    n_frames: int
    koma_shape: tuple[int, int]
    koma_stacks: int
    koma_frames: int
    koma_radii: tuple[int, ...]
    gamma_shape: tuple[int, int]
    speed_shape: tuple[int, int, int]


QUICK = Sizes((256, 256), 50, (96, 96), 12, 10, (1, 2, 4), (256, 256), (50, 1024, 1024))
FULL = Sizes(
    (1024, 1024), 50, (256, 256), 56, 20, (1, 2, 4, 8, 12, 25), (1024, 1024), (50, 4096, 4096)
)

STRENGTH_BINS = (("z<3", 0.0, 3.0), ("3<=z<5", 3.0, 5.0), ("z>=5", 5.0, np.inf))


# ---------------------------------------------------------------- detection


def _score(mask: np.ndarray, truth: np.ndarray, strength: np.ndarray) -> dict[str, Any]:
    tp = int(np.count_nonzero(mask & truth))
    flagged = int(np.count_nonzero(mask))
    row: dict[str, Any] = {
        "flagged": flagged,
        "precision": tp / flagged if flagged else float("nan"),
        "recall": tp / max(int(truth.sum()), 1),
        "fp_per_mpix": (flagged - tp) / (mask.size / 1e6),
    }
    z = np.abs(strength)
    for name, lo, hi in STRENGTH_BINS:
        sel = truth & (z >= lo) & (z < hi)
        row[f"recall {name}"] = np.count_nonzero(mask & sel) / max(int(sel.sum()), 1)
    return row


def _methods(data: np.ndarray) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """Outlier masks (and info) of every method on one stack."""
    out: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
    for label, params in (
        ("McLeod paper mode", {"mode": "paper"}),
        ("McLeod paper mode + Anscombe", {"mode": "paper", "transform": "anscombe"}),
        ("mrczio default mode", {}),
    ):
        res = detect_outliers(data, **params)
        out[label] = (res.outlier_mask(), res.info)
    total = time_sum(data)
    for label, fn in BASELINES.items():
        out[label] = (fn(total), {})
    return out


def detection(sizes: Sizes, seed: int = 7) -> dict[str, Any]:
    """Precision/recall on a specimen stack (counts and gain-normalised) and null FP."""
    det = SyntheticDetector(DetectorModel(shape=sizes.detect_shape), seed=seed)
    for _ in range(5):  # let dynamic hot pixels build up
        det._step_dynamic()
    st = det.stack(sizes.n_frames, dose_rate=4.0, frame_time=0.25, contrast=0.1)
    null = det.stack(sizes.n_frames, dose_rate=4.0, frame_time=0.25, contrast=0.1, outliers=False)
    gain = det.vendor_gain(1e4)
    gamma = gain_mod.gamma_curve(4.0)
    rows = []
    infos = {}
    for variant, data, nulldata in (
        ("counts", st.data, null.data),
        (
            "gain-normalised",
            gain_mod.apply_gain(st.data, gain, gamma=gamma),
            gain_mod.apply_gain(null.data, gain, gamma=gamma),
        ),
    ):
        null_masks = _methods(nulldata)
        for label, (mask, info) in _methods(data).items():
            row = {"data": variant, "method": label, **_score(mask, st.outliers, st.strength)}
            row["null flagged per Mpix"] = null_masks[label][0].sum() / (mask.size / 1e6)
            if info:
                row["t_dark, t_hot"] = f"{info['t_dark']:.2f}, {info['t_hot']:.2f}"
                row["sigma/sigma_P"] = info["sigma_ratio"]
                infos[f"{variant}/{label}"] = {
                    k: info[k]
                    for k in (
                        "t_dark",
                        "t_hot",
                        "sigma_ratio",
                        "transform",
                        "fit_fell_back",
                        "n_neighbourly",
                        "n_outliers",
                    )
                }
            rows.append(row)
    return {
        "rows": rows,
        "infos": infos,
        "n_true": int(st.outliers.sum()),
        "shape": sizes.detect_shape,
    }


# ---------------------------------------------------------------- fill and noise


def fill_and_noise(sizes: Sizes, seed: int = 8) -> dict[str, Any]:
    """Fill RMSE per kernel at true detected outliers, and Pearson R reduction."""
    det = SyntheticDetector(DetectorModel(shape=sizes.detect_shape), seed=seed)
    st = det.stack(sizes.n_frames, dose_rate=4.0, frame_time=0.25, contrast=0.1)
    gain = det.vendor_gain(1e4)
    g = gain_mod.apply_gain(st.data, gain, gamma=gain_mod.gamma_curve(4.0))
    truth_rate = st.rate * gain_mod.normalize_gain(gain) ** gain_mod.gamma_curve(4.0)
    fills = []
    for psf in ("paper", "zorro3x3", "uniform"):
        res = detect_outliers(g, psf=psf)
        hit = st.outliers.ravel()[res.candidates] & res.hard
        err = res.fill[hit] - truth_rate.ravel()[res.candidates[hit]]
        fills.append(
            {
                "kernel": psf,
                "n": int(hit.sum()),
                "rmse": float(np.sqrt(np.mean(err**2))),
                "bias": float(err.mean()),
                "rate std": float(truth_rate.std()),
            }
        )
    pure = SyntheticDetector(
        DetectorModel(
            shape=sizes.detect_shape,
            etch_amplitude=0,
            column_gain=0,
            row_gain=0,
            seam_depth=0,
            static_hot=0,
            hot_birth=0,
            dead=0,
        ),
        seed=seed,
    )
    null = pure.stack(sizes.n_frames, dose_rate=4.0, frame_time=0.25, contrast=0.0).data
    noise = {"gain only": mean_pair_r(g), "null (pure Poisson, raw)": mean_pair_r(null)}
    for label, params in (("outliers default", {}), ("outliers paper", {"mode": "paper"})):
        res = detect_outliers(g, **params)
        noise[f"gain + {label}"] = mean_pair_r(res.apply(g))
        noise[f"null + {label}"] = mean_pair_r(detect_outliers(null, **params).apply(null))
    return {"fills": fills, "noise": noise}


# ---------------------------------------------------------------- KOMA


def koma(sizes: Sizes, seed: int = 9) -> dict[str, Any]:
    """R(a) within stacks after KOMA (multiplicative), with and without outlier filter."""
    det = SyntheticDetector(DetectorModel(shape=sizes.koma_shape), seed=seed)
    stacks = [
        s.data
        for s in det.series(
            sizes.koma_stacks,
            n_frames=sizes.koma_frames,
            dose_rate=4.0,
            frame_time=0.25,
            contrast=0.0,
        )
    ]
    filtered = [detect_outliers(s).apply(s) for s in stacks]
    n = len(stacks)
    targets = list(range(n // 2 - 2, n // 2 + 2))
    out: dict[str, Any] = {
        "radii": list(sizes.koma_radii),
        "n_frames": sizes.koma_frames,
        "n_stacks": n,
    }
    out["raw"] = float(np.mean([mean_pair_r(stacks[i]) for i in targets]))
    out["outliers only"] = float(np.mean([mean_pair_r(filtered[i]) for i in targets]))
    for label, series in (("KOMA", stacks), ("outliers + KOMA", filtered)):
        means = [stack_mean(s) for s in series]
        for mode in ("multiply", "subtract"):
            out[f"{label} ({mode})"] = [
                float(
                    np.mean(
                        [
                            mean_pair_r(
                                apply_reference(
                                    series[i], koma_reference_bruteforce(means, i, a), mode
                                )
                            )
                            for i in targets
                        ]
                    )
                )
                for a in sizes.koma_radii
            ]
        out[f"{label} split cross-R"] = [
            float(np.mean([split_reference_cross_r(series, i, a) for i in targets]))
            for a in sizes.koma_radii
        ]
    out["1/(2an)"] = [1.0 / (2 * a * sizes.koma_frames) for a in sizes.koma_radii]
    return out


# ---------------------------------------------------------------- gamma


def gamma_recovery(sizes: Sizes, seed: int = 10) -> dict[str, Any]:
    """Fit eq. 10 on flats at several dose rates, then refit eq. 11."""
    det = SyntheticDetector(DetectorModel(shape=sizes.gamma_shape), seed=seed)
    gain = det.vendor_gain(1e4)
    rows = []
    for rate in (0.25, 0.5, 1.0, 2.0, 4.0, 7.0, 9.0):
        flat = det.flat_counts(300.0, rate)
        t0 = time.perf_counter()
        fit = gain_mod.fit_gamma(flat, gain)
        rows.append(
            {
                "dose rate": rate,
                "gamma true": det.gamma(rate),
                "gamma fit": fit.gamma,
                "error": fit.gamma - det.gamma(rate),
                "CV64 at gamma=1": fit.cv_at_one,
                "CV64 at fit": fit.cv,
                "CV64 floor": fit.noise_floor,
                "seconds": time.perf_counter() - t0,
            }
        )
    params = gain_mod.fit_gamma_curve(
        [r["dose rate"] for r in rows], [r["gamma fit"] for r in rows]
    )
    return {"rows": rows, "refit": params}


# ---------------------------------------------------------------- speed


#: Detection modes timed side by side in the speed section; the first is the anchor.
SPEED_MODES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("previous default (residual=global, temporal=False, global_net=False)",
     {"residual": "global", "temporal": False, "global_net": False}),
    ("default", {}),
    ("paper", {"mode": "paper"}),
)  # fmt: skip


def _speed_data(shape: tuple[int, int, int]) -> np.ndarray:
    n, ny, nx = shape
    rng = np.random.default_rng(0)
    data = np.empty(shape, dtype=np.uint8)
    hot = rng.random((ny, nx)) < 0.005
    dead = rng.random((ny, nx)) < 0.0002
    lam = np.where(hot, 1.0 + rng.lognormal(np.log(6.0), 1.0, (ny, nx)) * np.sqrt(n) / n, 1.0)
    lam[dead] = 0.0
    for t in range(n):
        data[t] = np.minimum(rng.poisson(lam), 255)
    return data


def _speed_worker(shape: tuple[int, int, int], threads: int, repeats: int = 5) -> dict[str, Any]:
    """Detection of every mode in SPEED_MODES, interleaved ``repeats`` times in this
    process after a warm-up, then the default's blend into a fresh and a reused output."""
    data = _speed_data(shape)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for _, params in SPEED_MODES:  # warm up imports and code paths
        detect_outliers(data[:, :256, :256], **params)
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {label: [] for label, _ in SPEED_MODES}
    for _ in range(repeats):
        for label, params in SPEED_MODES:
            t0 = time.perf_counter()
            res = detect_outliers(data, threads=threads, **params)
            runs[label].append(time.perf_counter() - t0)
    load_after = os.getloadavg()
    res = detect_outliers(data, threads=threads)
    t0 = time.perf_counter()
    out = res.apply(data, threads=threads)
    fresh = time.perf_counter() - t0
    t0 = time.perf_counter()
    res.apply(data, out=out, threads=threads)
    reused = time.perf_counter() - t0
    anchor = min(runs[SPEED_MODES[0][0]])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "shape": list(shape),
        "threads": threads,
        "repeats": repeats,
        "detect": [
            {"mode": label, "min s": min(v), "median s": float(np.median(v)), "min / anchor min": min(v) / anchor}
            for label, v in runs.items()
        ],
        "apply fresh (s)": fresh,
        "apply reused (s)": reused,
        "load": [list(load_before), list(load_after)],
        "peak RSS (MiB)": peak,
        "RSS before filter (MiB)": base,
        "input (MiB)": data.nbytes / 2**20,
        "output (MiB)": out.nbytes / 2**20,
        "candidates": res.info["n_candidates"],
        "outliers": res.info["n_outliers"],
        "transients": res.info["n_transient"],
        "t_dark, t_hot": [res.info["t_dark"], res.info["t_hot"]],
    }


def speed(sizes: Sizes) -> dict[str, Any]:
    """Run the speed worker in a fresh subprocess (clean peak-RSS measurement)."""
    threads = os.cpu_count() or 1
    cmd = [
        sys.executable,
        __file__,
        "--speed-worker",
        json.dumps([list(sizes.speed_shape), threads]),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "plugins"), str(ROOT / "benchmarks"), env.get("PYTHONPATH", "")]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if np.isnan(v):
            return "-"
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def _table(rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def _plots(results: dict[str, Any], img: Path) -> list[str]:
    """Markdown image lines of the three plots; a note instead when matplotlib is missing
    (plots are optional: the tables carry every number)."""
    try:
        import matplotlib
    except ImportError:
        print("note: matplotlib not installed, plots skipped", file=sys.stderr)
        return ["(plot skipped: matplotlib not installed)"] * 3
    labels = ("recall by strength", "KOMA R(a)", "gamma")
    return [f"![{t}](img/{n})" for t, n in zip(labels, _draw(matplotlib, results, img), strict=True)]


def _draw(matplotlib: Any, results: dict[str, Any], img: Path) -> list[str]:

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img.mkdir(parents=True, exist_ok=True)
    names = []
    rows = [r for r in results["detection"]["rows"] if r["data"] == "gain-normalised"]
    fig, ax = plt.subplots(figsize=(8, 4))
    bins = [f"recall {b[0]}" for b in STRENGTH_BINS]
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        ax.bar(
            np.arange(len(bins)) + i * width,
            [r[b] for b in bins],
            width,
            label=f"{r['method']} (P={r['precision']:.2f})",
        )
    ax.set_xticks(np.arange(len(bins)) + 0.4 - width / 2, [b.replace("recall ", "") for b in bins])
    ax.set_ylabel("recall")
    ax.set_title("Outlier recall by strength (Poisson sigma of the sum), gain-normalised")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(img / "corrections-recall.png", dpi=100)
    names.append("corrections-recall.png")
    plt.close(fig)

    k = results["koma"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in (
        "KOMA (multiply)",
        "KOMA (subtract)",
        "outliers + KOMA (multiply)",
        "KOMA split cross-R",
        "outliers + KOMA split cross-R",
        "1/(2an)",
    ):
        ax.plot(k["radii"], k[key], "o-" if key != "1/(2an)" else "k--", label=key)
    ax.axhline(k["raw"], color="grey", lw=0.8, label="raw")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("KOMA radius a (stacks)")
    ax.set_ylabel("mean Pearson R within a stack")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(img / "corrections-koma.png", dpi=100)
    names.append("corrections-koma.png")
    plt.close(fig)

    g = results["gamma"]
    fig, ax = plt.subplots(figsize=(6, 4))
    d = np.linspace(0.25, 9, 200)
    ax.plot(d, [gain_mod.gamma_curve(x) for x in d], "k-", label="eq. 11, K2 constants (truth)")
    ax.plot(d, [gain_mod.gamma_curve(x, tuple(g["refit"])) for x in d], "r--", label="eq. 11 refit")
    ax.plot(
        [r["dose rate"] for r in g["rows"]],
        [r["gamma fit"] for r in g["rows"]],
        "bx",
        label="eq. 10 fits",
    )
    ax.set_xlabel("dose rate (e-/pix/s)")
    ax.set_ylabel("gamma")
    ax.legend()
    fig.tight_layout()
    fig.savefig(img / "corrections-gamma.png", dpi=100)
    names.append("corrections-gamma.png")
    plt.close(fig)
    return names


def write_report(results: dict[str, Any], out: Path, quick: bool) -> Path:
    """Write the markdown report and plots into ``out`` (``out/img`` for plots)."""
    plots = _plots(results, out / "img")
    det, fn, k, g, sp = (results[x] for x in ("detection", "fill_noise", "koma", "gamma", "speed"))
    koma_rows = [
        {"a": a, **{key: k[key][i] for key in k if isinstance(k[key], list) and key != "radii"}}
        for i, a in enumerate(k["radii"])
    ]
    noise = fn["noise"]
    red = {key: noise["gain only"] / noise[key] for key in noise if key.startswith("gain +")}
    text = f"""# Detector corrections: benchmark results

Generated by `benchmarks/bench_corrections.py{" --quick" if quick else ""}` on {os.cpu_count()} cores,
numpy {np.__version__}. All data come from the seeded synthetic detector in
`mrczio/synthetic.py` (Poisson counts, 10 % specimen contrast, 4 % etching, CMOS
column/row/seam pattern, 0.3 % static + dynamic hot pixels with log-normal strength
around 6 Poisson sigma, 0.02 % dead pixels, 10 % of defects as 2x2 clusters), so every
number here is about the algorithms on that model, not about a real detector.
One-minute load average before and after each section (the machine is shared):
{"; ".join(f"{k} {v[0]:.2f} -> {v[1]:.2f} ({v[2]:.0f} s)" for k, v in results["loads"].items())}.

## 1. Outlier detection

{det["shape"][0]}x{det["shape"][1]} pixels, 50 frames at 1 e-/pix/frame, {det["n_true"]} true outliers.
"Null" is a stack from the same detector without any hot or dead pixel. Strength z is
the outlier's excess in the 50-frame sum in Poisson sigma. "counts" runs on the raw
integer stack, "gain-normalised" on `gain` output (vendor gain, gamma(4 e-/pix/s)).

{_table(det["rows"])}

{plots[0]}

## 2. Fill error and correlated noise

Fill RMSE and bias against the true (noise-free) per-frame rate at detected true outliers,
default mode on the gain-normalised stack:

{_table(fn["fills"])}

Mean Pearson R over all frame pairs (eq. 7, O(n*P)):

{_table([{"stack": key, "R": v, "reduction vs gain only": red.get(key, "")} for key, v in noise.items()])}

The "null +" rows are the bias floor: the outlier filter alone makes pure Poisson frames
slightly anti-correlated (weights are conditioned on the sum of the same frames), so a
reduction factor is meaningful only while R after filtering stays above that floor.

## 3. KOMA R(a)

{k["n_stacks"]} stacks x {k["n_frames"]} frames of {results["sizes"]["koma_shape"][0]}x{results["sizes"]["koma_shape"][1]} vacuum (no specimen) with dynamic hot pixels;
R is the mean over all frame pairs inside each of the 4 central stacks after correction.
Raw R = {k["raw"]:.4g}; outlier filter only = {k["outliers only"]:.4g}. The split cross-R uses
references built from the first / second halves of the neighbour stacks for the even / odd
frames and correlates only even x odd pairs, which removes the reference's own shot noise
(the 1/(2an) term).

{_table(koma_rows)}

{plots[1]}

## 4. Gamma recovery (eq. 10, 11)

{results["sizes"]["gamma_shape"][0]}^2 flats of 300 e-/pix, vendor gain from a 1e4 e-/pix flat at the
gamma = 1 dose rate, with the CMOS pattern present (gamma cannot remove it).

{_table(g["rows"])}

Eq. 11 refit from the seven fitted gammas: a1, b1, a2, a3 = {", ".join(f"{v:.4g}" for v in g["refit"])}
(truth {", ".join(f"{v:.4g}" for v in gain_mod.K2_GAMMA_PARAMS)}).

{plots[2]}

## 5. Speed and memory of the outlier filter

{"x".join(map(str, sp["shape"]))} uint8, Poisson 1 e-/pix/frame, 0.5 % hot, 0.02 % dead,
{sp["threads"]} threads, in a fresh subprocess after a small warm-up call per mode; the
modes ran interleaved {sp["repeats"]} times in that one process (load average
{sp["load"][0][0]:.2f}/{sp["load"][0][1]:.2f}/{sp["load"][0][2]:.2f} before,
{sp["load"][1][0]:.2f}/{sp["load"][1][1]:.2f}/{sp["load"][1][2]:.2f} after, on {os.cpu_count()} cores shared with other jobs).
For scale: the paper gives about 2-3 s for its outlier removal on a 50 x 4096 x 4096
stack (hardware not stated), and the earlier version of this page reported about 1.0 s
for detection plus blend with the previous default.

{_table(sp["detect"])}

- default mode: candidates blended {sp["candidates"]}, hard outliers {sp["outliers"]},
  transient pixels {sp["transients"]}, thresholds {sp["t_dark, t_hot"][0]:.2f}, {sp["t_dark, t_hot"][1]:.2f}
- blend into a fresh float32 output {sp["apply fresh (s)"]:.2f} s, into a reused one
  {sp["apply reused (s)"]:.2f} s (a fresh output is dominated by faulting in new memory;
  pass `out=` to reuse a buffer)
- peak RSS {sp["peak RSS (MiB)"]:.0f} MiB (input {sp["input (MiB)"]:.0f} MiB, float32 output {sp["output (MiB)"]:.0f} MiB, RSS before the filter {sp["RSS before filter (MiB)"]:.0f} MiB); the streaming
  `gain,outliers` path is measured by `benchmarks/corrections_memory.py` (docs/corrections.md)
"""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "corrections-benchmarks.md"
    old = path.read_text() if path.exists() else ""
    start, end = "<!-- corrections-table:start -->", "<!-- corrections-table:end -->"
    if start in old and end in old:  # keep the closing table of corrections_table.py
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n{old[old.index(start) : old.index(end) + len(end)]}\n{rest}"
    start, end = "<!-- koma-series:start -->", "<!-- koma-series:end -->"
    if start in old and end in old and "\n## 4." in text:  # keep koma_series.py's block after section 3
        at = text.index("\n## 4.") + 1
        text = f"{text[:at]}{old[old.index(start) : old.index(end) + len(end)]}\n\n{text[at:]}"
    path.write_text(text)
    (out / "img").mkdir(exist_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (well under a minute)")
    parser.add_argument(
        "--out", type=Path, help="output directory (default: docs/, or a temp dir with --quick)"
    )
    parser.add_argument("--speed-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.speed_worker:
        shape, threads = json.loads(args.speed_worker)
        print(json.dumps(_speed_worker(tuple(shape), threads)))
        return 0
    sizes = QUICK if args.quick else FULL
    out = args.out or (
        Path(tempfile.mkdtemp(prefix="mrczio-bench-")) if args.quick else ROOT / "docs"
    )
    results: dict[str, Any] = {"sizes": sizes.__dict__, "loads": {}}
    for name, fn in (
        ("detection", detection),
        ("fill_noise", fill_and_noise),
        ("koma", koma),
        ("gamma", gamma_recovery),
        ("speed", speed),
    ):
        t0, before = time.perf_counter(), os.getloadavg()[0]
        results[name] = fn(sizes)
        results["loads"][name] = [before, os.getloadavg()[0], time.perf_counter() - t0]
        print(f"{name}: {time.perf_counter() - t0:.1f} s", flush=True)
    path = write_report(results, out, args.quick)
    (out / "img" / "corrections-benchmarks.json").write_text(
        json.dumps(results, indent=1, default=float)
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
