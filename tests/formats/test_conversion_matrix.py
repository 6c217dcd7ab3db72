"""Every registered format pair, through mrczio.convert, checked bit-exact by mrczio and
by the matching outside reader (mrcfile, python-mrcz, tifffile, Pillow, tiffinfo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.testing import (
    FormatCase,
    assert_bit_exact,
    check_outside,
    format_cases,
    matrix_params,
    pair_max_value,
    pair_params,
    sample_stack,
    write_case,
)


def expected_refusals(format_name: str, path: str, dtype: str) -> set[str]:
    """Outside readers documented not to read this file (docs/tiff-and-4bit.md)."""
    mode = (
        int(np.fromfile(path, "<i4", count=4)[3]) % 1000 if format_name in ("mrc", "mrcz") else None
    )
    refused = set()
    if format_name == "mrc" and mode in (7, 8, 101):
        refused.add("check_mrcfile")
    if format_name == "mrcz" and mode in (12, 101):
        refused.add("check_python_mrcz")
    if format_name == "tiff" and dtype in ("float16", "complex64"):
        refused.add("check_pillow")
    return refused


def outside_ok(case: FormatCase, path: str, data: np.ndarray) -> None:
    refusals = check_outside(case.format, path, data)
    assert {r.split(":")[0] for r in refusals} == expected_refusals(
        case.format, path, data.dtype.name
    ), refusals


@pytest.mark.parametrize(("case", "dtype", "shape"), matrix_params())
def test_write_matrix(tmp_path: Path, case: FormatCase, dtype: str, shape: tuple[int, ...]) -> None:
    data = sample_stack(dtype, shape, max_value=case.max_value)
    path = write_case(case, case.path(tmp_path), data, voxel_size=1.25)
    back = mrczio.imread(path)
    assert_bit_exact(back, data, case.id)
    outside_ok(case, path, data)


@pytest.mark.parametrize(("source", "target", "dtype", "shape"), pair_params())
def test_conversion_matrix(
    tmp_path: Path, source: FormatCase, target: FormatCase, dtype: str, shape: tuple[int, ...]
) -> None:
    data = sample_stack(dtype, shape, max_value=pair_max_value(source, target))
    src = write_case(
        source,
        source.path(tmp_path, "src"),
        data,
        voxel_size=(1.25, 1.25, 2.0),
        metadata={"dose": 0.8},
    )
    before = Path(src).read_bytes()
    dst = target.path(tmp_path, "dst")
    report = mrczio.convert(src, dst, format=target.format, **dict(target.options))
    assert report.lossless and report.frames == shape[0]
    assert Path(src).read_bytes() == before  # the input is never modified
    assert_bit_exact(mrczio.imread(dst), data, f"{source.id} -> {target.id}")
    with mrczio.open(dst) as reader:
        assert reader.voxel_size[:2] == pytest.approx((1.25, 1.25), rel=1e-6)
        assert reader.metadata.get("dose") == 0.8
    outside_ok(target, dst, data)


def test_matrix_covers_every_registered_format_pair() -> None:
    formats = {e.key for e in mrczio.get_registry().formats.entries()}
    pairs = {(p.values[0].format, p.values[1].format) for p in pair_params()}
    assert pairs == {(a, b) for a in formats for b in formats}


@pytest.mark.parametrize("target", [c for c in format_cases() if c.max_value is not None], ids=str)
def test_float_to_4bit_is_refused_then_clipped_on_request(
    tmp_path: Path, target: FormatCase
) -> None:
    data = np.linspace(0, 20, 3 * 8 * 10, dtype=np.float32).reshape(3, 8, 10)
    src = tmp_path / "src.mrc"
    mrczio.imwrite(src, data)
    dst = target.path(tmp_path, "dst")
    with pytest.raises(mrczio.ConversionError, match="pixels cannot be stored as 4-bit"):
        mrczio.convert(src, dst, format=target.format, **dict(target.options))
    assert not Path(dst).exists()
    report = mrczio.convert(src, dst, format=target.format, clip=True, **dict(target.options))
    expected = np.clip(np.rint(data), 0, 15).astype(np.uint8)
    assert report.changed_pixels == int(np.count_nonzero(expected != data))
    assert_bit_exact(mrczio.imread(dst), expected)


def test_negative_values_to_uint8_are_refused(tmp_path: Path) -> None:
    data = np.arange(-5, 55, dtype=np.int16).reshape(1, 6, 10)
    src = tmp_path / "a.mrc"
    mrczio.imwrite(src, data)
    with pytest.raises(mrczio.ConversionError, match="5 pixels cannot be stored as uint8"):
        mrczio.convert(src, tmp_path / "b.tif", dtype="uint8")
    report = mrczio.convert(src, tmp_path / "b.tif", dtype="uint8", clip=True)
    assert report.changed_pixels == 5
    assert mrczio.imread(tmp_path / "b.tif").min() == 0


def test_exact_narrowing_is_allowed(tmp_path: Path) -> None:
    data = np.arange(60, dtype=np.float32).reshape(1, 6, 10)
    mrczio.imwrite(tmp_path / "a.mrc", data)
    report = mrczio.convert(tmp_path / "a.mrc", tmp_path / "b.mrc", dtype="uint8")
    assert report.lossless
    assert_bit_exact(
        mrczio.imread(tmp_path / "b.mrc"), data[0].astype(np.uint8)
    )  # one frame reads 2-D


def test_unstorable_dtype_is_a_conversion_error(tmp_path: Path) -> None:
    import tifffile

    tifffile.imwrite(tmp_path / "a.tif", np.zeros((2, 4, 4), np.float64), photometric="minisblack")
    with pytest.raises(mrczio.ConversionError, match="dtype"):
        mrczio.convert(tmp_path / "a.tif", tmp_path / "b.mrc")
    mrczio.convert(tmp_path / "a.tif", tmp_path / "b.mrc", dtype="float32")
    assert mrczio.imread(tmp_path / "b.mrc").dtype == np.float32


def test_batch_cli_converts_into_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mrczio.cli import main

    data = sample_stack("uint8", (2, 8, 10), max_value=15)
    inputs = []
    for name in ("a", "b", "c"):
        path = tmp_path / f"{name}.mrc"
        mrczio.imwrite(path, data)
        inputs.append(str(path))
    before = [Path(p).read_bytes() for p in inputs]
    out = tmp_path / "out"
    assert main(["convert", *inputs, "-o", str(out), "--format", "tiff", "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.tif", "b.tif", "c.tif"]
    for name in "abc":
        assert_bit_exact(mrczio.imread(out / f"{name}.tif"), data)
    assert [Path(p).read_bytes() for p in inputs] == before
    assert (
        main(
            ["convert", *inputs, "-o", str(out), "--format", "mrc", "--packed4bit", "--no-progress"]
        )
        == 0
    )
    with mrczio.open(out / "a.mrc") as reader:
        assert int(reader.header["mode"]) == 101
    assert main(["convert", *inputs]) == 2  # a usage error: no -o and no --format
    assert "no output given" in capsys.readouterr().err


def test_batch_progress_bar_counts_frames(tmp_path: Path) -> None:
    import io

    from mrczio.conversion import convert_many
    from mrczio.progress import Progress

    data = sample_stack("uint16", (3, 4, 6))
    inputs = [str(tmp_path / f"{n}.mrc") for n in "ab"]
    for path in inputs:
        mrczio.imwrite(path, data)
    stream = io.StringIO()
    with Progress(6, "batch", enabled=True, stream=stream) as bar:
        reports = convert_many(
            inputs,
            str(tmp_path / "out"),
            format="mrcz",
            registry=mrczio.get_registry(),
            progress=bar,
        )
    assert bar.done == 6 and "6/6" in stream.getvalue()
    assert [r.target for r in reports] == [str(tmp_path / "out" / f"{n}.mrcz") for n in "ab"]
