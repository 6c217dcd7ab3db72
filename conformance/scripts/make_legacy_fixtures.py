"""Generate the golden python-mrcz 0.5.7 fixtures in conformance/data/ (run by hand only).

These files pin what an *old* writer put on disk (lz4hc stored as compressor id 2,
mixed-endian big-endian headers, MZ as "slices per frame", the 0.5.x label), so the
suite can prove mrczio still reads them. They are committed; the tests never regenerate
them, and a guard test checks their SHA-256 against ``SHA256SUMS``.

Run inside a throwaway venv with the pinned writer (python-mrcz 0.5.7 does not run on
numpy 2 without patches, and its ``compression`` extra no longer exists)::

    python -m venv /tmp/venv057
    /tmp/venv057/bin/pip install "numpy<2" "mrcz==0.5.7" "blosc==1.11.4"
    /tmp/venv057/bin/python conformance/scripts/make_legacy_fixtures.py conformance/data

Besides the files it writes ``legacy_expected.npz`` (the arrays each file must decode
to, as given to the writer), ``legacy_expected.json`` (what python-mrcz 0.5.7 itself
reads back: header fields and metadata) and ``SHA256SUMS``. It refuses to overwrite
existing fixtures unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path

import blosc
import mrcz
import numpy as np

WRITER_VERSION = "0.5.7"
PIXELSIZE = [1.5, 1.2, 1.0]  # z, y, x as python-mrcz takes it


def _data() -> dict[str, np.ndarray]:
    """Small deterministic arrays, one per fixture, odd and prime sizes on purpose."""
    rng = np.random.default_rng(20140)
    counts = rng.poisson(1.0, size=(3, 16, 20))
    ramp = np.arange(2 * 13 * 11).reshape(2, 13, 11)
    return {
        "f32": counts.astype(np.float32) + np.float32(0.25),
        "i16": (ramp - 100).astype(np.int16),
        "u16": (ramp * 200).astype(np.uint16),
        "i8": (ramp % 256 - 128).astype(np.int8),
        "c64": (counts[:2] + 1j * counts[1:]).astype(np.complex64),
        "u4": (np.arange(2 * 4 * 6).reshape(2, 4, 6)[:, :, ::-1] % 16).astype(np.uint8),
    }


#: name -> (array key, writeMRC keyword arguments, is a list of frames)
FIXTURES: dict[str, tuple[str, dict, str]] = {
    "v057_lz4hc_f32.mrcz": ("f32", {"compressor": "lz4hc"}, "array"),
    "v057_zstd_f32_meta.mrcz": (
        "f32",
        {
            "compressor": "zstd",
            "voltage": 300.0,
            "C3": 2.7,
            "meta": {"foo": "bar", "n": 3, "arr": [0, 1, 2]},
        },
        "array",
    ),
    "v057_zlib_i16.mrcz": ("i16", {"compressor": "zlib"}, "array"),
    "v057_blosclz_u16.mrcz": ("u16", {"compressor": "blosclz"}, "array"),
    "v057_lz4_i8.mrcz": ("i8", {"compressor": "lz4"}, "array"),
    "v057_zstd_c64.mrcz": ("c64", {"compressor": "zstd"}, "array"),
    "v057_be_zstd_f32.mrcz": (
        "f32",
        {"compressor": "zstd", "endian": "be", "voltage": 200.0},
        "array",
    ),
    "v057_be_raw_i16.mrc": ("i16", {"endian": "be"}, "array"),
    "v057_raw_f32_meta.mrc": ("f32", {"meta": {"detector": "K2", "dose": 1.25}}, "array"),
    "v057_list2d_zstd_u16.mrcz": ("u16", {"compressor": "zstd"}, "list2d"),
    "v057_list3d_zstd_f32.mrcz": ("f32", {"compressor": "zstd"}, "list3d"),
    "v057_uint4.mrc": ("u4", {"dtype": "uint4"}, "array"),
}


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _write(path: Path, array: np.ndarray, kwargs: dict, layout: str) -> None:
    image = array
    if layout == "list2d":
        image = [frame for frame in array]
    elif layout == "list3d":
        image = [array[:2], array[2:]]
    mrcz.writeMRC(image, str(path), pixelsize=PIXELSIZE, n_threads=1, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--force", action="store_true", help="overwrite existing fixtures")
    args = parser.parse_args(argv)
    if mrcz.__version__ != WRITER_VERSION:
        parser.error(f"needs python-mrcz {WRITER_VERSION}, found {mrcz.__version__}")
    args.outdir.mkdir(parents=True, exist_ok=True)
    existing = [n for n in FIXTURES if (args.outdir / n).exists()]
    if existing and not args.force:
        parser.error(
            f"fixtures exist ({', '.join(existing)}); they are golden, pass --force to replace"
        )
    data = _data()
    expected_arrays: dict[str, np.ndarray] = {}
    readback: dict[str, dict] = {}
    for name, (key, kwargs, layout) in FIXTURES.items():
        path = args.outdir / name
        array = data[key]
        if layout == "list3d":  # two (2, ny, nx) frames: MZ = 2
            array = np.concatenate([array, array[:1] * 2])
        _write(path, array, kwargs, layout)
        expected_arrays[name] = array
        read_kwargs = {"endian": "be"} if kwargs.get("endian") == "be" else {}
        try:
            image, header = mrcz.readMRC(str(path), **read_kwargs)
            shape = (
                [list(np.shape(f)) for f in image] if isinstance(image, list) else list(image.shape)
            )
            readback[name] = {"ok": True, "shape": shape, "header": _jsonable(header)}
        except Exception as exc:  # noqa: BLE001 - recorded, e.g. 0.5.7 cannot read its own BE files
            readback[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    np.savez(args.outdir / "legacy_expected.npz", **expected_arrays)
    meta = {
        "writer": f"python-mrcz {mrcz.__version__}",
        "blosc": blosc.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "writeMRC_calls": {
            n: {
                "array": k,
                "layout": lay,
                "kwargs": _jsonable(kw),
                "pixelsize": PIXELSIZE,
                "n_threads": 1,
            }
            for n, (k, kw, lay) in FIXTURES.items()
        },
        "read_back_by_writer": readback,
    }
    (args.outdir / "legacy_expected.json").write_text(
        json.dumps(meta, indent=1, sort_keys=True) + "\n"
    )
    names = sorted([*FIXTURES, "legacy_expected.npz", "legacy_expected.json"])
    sums = [f"{hashlib.sha256((args.outdir / n).read_bytes()).hexdigest()}  {n}" for n in names]
    (args.outdir / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    print("\n".join(sums))
    return 0


if __name__ == "__main__":
    sys.exit(main())
