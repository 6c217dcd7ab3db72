"""Header cells (H level): voxel size, mrcfile.validate, extended header bytes and
metadata, as other readers see files mrczio wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cflib import readers
from cflib.cells import record, sample
from conftest import require

import mrczio

VOXEL = (1.25, 1.5, 2.0)
DTYPES = ("int8", "int16", "float32", "uint16", "float16", "complex64")
LAYOUTS = {"stack": {}, "volume": {"volume": True}, "big-endian": {"byteorder": "big"}}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_mrcfile_validates_and_agrees(
    request: pytest.FixtureRequest, tmp_path: Path, dtype: str, layout: str
) -> None:
    """Plain MRC from mrczio passes mrcfile.validate; mrcfile reports the same voxel size
    and ISPG/MZ convention (stack: ISPG 0, MZ 1; volume: ISPG 1, MZ NZ)."""
    require("mrcfile")
    import mrcfile

    path = tmp_path / "h.mrc"
    # moderate values: mrcfile.validate computes its statistics in the data's own dtype,
    # so float16/float32 extremes overflow on mrcfile's side (not a header problem)
    data = ((np.arange(105) % 17) - (0 if dtype == "uint16" else 8)).astype(dtype).reshape(3, 5, 7)
    mrczio.imwrite(path, data, voxel_size=VOXEL, **LAYOUTS[layout])
    valid, messages = readers.mrcfile_validate(path)
    assert valid, messages
    with mrcfile.open(path) as mrc:
        voxel = mrc.voxel_size
        assert np.allclose((voxel.x, voxel.y, voxel.z), VOXEL, rtol=1e-6)
        assert int(mrc.header.ispg) == (1 if layout == "volume" else 0)
        assert int(mrc.header.mz) == (3 if layout == "volume" else 1)
        assert int(mrc.header.nversion) == 20140
    record(request, table="headers", writer=f"mrczio mrc {layout}", reader="mrcfile", dtype=dtype, shape="stack",
           expected="H: validate True, voxel, ISPG/MZ", observed="H")  # fmt: skip


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_python_mrcz_reads_header_fields(
    request: pytest.FixtureRequest, tmp_path: Path, codec: str
) -> None:
    """python-mrcz gets pixel size, voltage/C3/gain and JSON metadata from mrczio MRCZ."""
    require("mrcz")
    path = tmp_path / "h.mrcz"
    meta = {"detector": "K3", "dose": 1.5}
    mrczio.imwrite(path, sample("uint16", (3, 5, 7)), codec=codec, voxel_size=VOXEL, metadata=meta,
                   voltage=300.0, cs=2.7, gain=0.5)  # fmt: skip
    read = readers.read_mrcz(path)
    header = read.info["header"]
    assert np.allclose(read.info["pixelsize"][::-1], VOXEL, rtol=1e-6)  # python-mrcz gives z, y, x
    assert (
        np.isclose(header["voltage"], 300.0)
        and np.isclose(header["C3"], 2.7)
        and np.isclose(header["gain"], 0.5)
    )
    assert all(header[k] == v for k, v in meta.items())
    record(request, table="headers", writer=f"mrczio mrcz {codec}", reader="mrcz", dtype="uint16", shape="stack",
           expected="H: pixel size, voltage, C3, gain, JSON metadata", observed="H")  # fmt: skip


@pytest.mark.parametrize("exttyp", ["FEI1", "SERI", "CCP4"])
def test_extended_header_bytes(request: pytest.FixtureRequest, tmp_path: Path, exttyp: str) -> None:
    """An extended header given to mrczio reaches mrcfile byte for byte, validates, and
    gemmi still finds the data when NSYMBT is a multiple of 4."""
    require("mrcfile")
    require("gemmi")
    extended = bytes(range(256)) * 3  # 768 bytes, one FEI1-sized record
    data = np.linspace(-3, 3, 35, dtype=np.float32).reshape(1, 5, 7)
    path = tmp_path / "e.mrc"
    mrczio.imwrite(path, data, extended_header=extended, exttyp=exttyp)
    got = readers.read_mrcfile(path)
    assert got.info["extended_header"] == extended and got.info["exttyp"] == exttyp.encode()
    valid, messages = readers.mrcfile_validate(path)
    assert valid, messages
    assert np.array_equal(readers.read_gemmi(path).array, data)
    record(request, table="headers", writer=f"mrczio mrc + {exttyp} ext header", reader="mrcfile + gemmi",
           dtype="float32", shape="image", expected="H: ext header bytes, validate True; gemmi V", observed="H")  # fmt: skip


def test_json_metadata_is_flagged_by_mrcfile_validate(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Documented: EXTTYP 'json' (python-mrcz's) is not an MRC2014 code, so validate fails
    on exactly that, while strict open and the data are fine."""
    path = tmp_path / "j.mrc"
    data = sample("float32", (2, 5, 7))
    mrczio.imwrite(path, data, metadata={"a": 1})
    valid, messages = readers.mrcfile_validate(path)
    assert not valid and "exttyp = 'json'" in messages
    assert np.array_equal(readers.read_mrcfile(path).array, data)
    record(request, table="headers", writer="mrczio mrc + json metadata", reader="mrcfile.validate",
           dtype="float32", shape="stack", expected="refuse: validate flags EXTTYP 'json' (not MRC2014)",
           observed="validate False on exttyp only")  # fmt: skip
