"""Header fidelity (issue 10): every MRC2014 header field survives every conversion.

A corpus of valid maps and stacks (tests/formats/mrc_corpus.py, built with gemmi and a
raw MRC2014 writer, validated by mrcfile) is converted through mrczio.convert, the CLI,
imwrite(like=reader) and every registered format pair. Each output is compared with its
source field by field (values, not bytes: outputs are little-endian unless asked), and
the geometry is compared through gemmi (space group, grid, axis order, start, cell,
origin) and through ``reader.geometry``.

Fields a conversion recomputes (``mrc_corpus.RECOMPUTED``): NX/NY/NZ (checked equal),
MODE (checked equal unless cast), DMIN/DMAX/DMEAN/RMS (checked against the data),
NSYMBT/EXTTYP (checked: the extended header itself must survive), MAP/MACHST (checked:
little-endian stamp), PACKED_BYTES, IMOD_STAMP/IMOD_FLAGS (checked for uint8), NLABL and
the labels (checked: the source's in order, plus mrczio's own when there is room).
Every other field (``mrc_corpus.CARRIED``) must be equal. MRCZ files may write MZ = 0
(python-mrcz reads MZ as "slices per frame") unless the file is a volume stack; the
reader must restore the source's MZ.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import mrczio
from mrczio.testing import assert_bit_exact


def _load_corpus() -> ModuleType:
    """tests/formats/mrc_corpus.py (pytest runs with --import-mode=importlib)."""
    name = "mrczio_tests_formats_mrc_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("mrc_corpus.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


mc = _load_corpus()
MapSpec = mc.MapSpec
SPECS: list[Any] = list(mc.SPECS)
RAW_SPECS = [s for s in SPECS if s.writer == "raw"]
GEMMI_SPECS = [s for s in SPECS if s.gemmi_reads]
PYTHON_MRCZ_SPECS = [s for s in SPECS if s.mode in mc.PYTHON_MRCZ_MODES]
VOLUME_STACKS = [s for s in SPECS if s.ispg == 401]
BIG_ENDIAN = [s for s in SPECS if s.byteorder == ">"]
EMDB = [s for s in SPECS if s.writer == "sample"]
SUFFIX = {"mrc": ".mrc", "mrcz": ".mrcz", "tiff": ".tif"}
#: Conversion chains from a corpus file: each step converts the previous file.
CHAINS = (("mrc",), ("mrcz",), ("mrcz", "mrc"), ("tiff", "mrc"))
MRC_CHAINS = (("mrc",), ("mrcz", "mrc"), ("tiff", "mrc"))
REGISTERED = sorted(e.key for e in mrczio.get_registry().formats.entries())
GEMMI_WORDS = (1, 2, 3, 5, 6, 7, 8, 9, 10, 17, 18, 19)  # NX..NZ, NXSTART..MZ, MAPC..MAPS


def chain_id(chain: tuple[str, ...]) -> str:
    return ">".join(chain)


# -- known failures (strict: each turns into a failure once fixed) -----------------------

#: (test name, spec name, chain or "") -> what the lead must fix.
KNOWN: dict[tuple[str, str, str], str] = {}


def _known(test: str, names: list[str], chains: list[str], reason: str) -> None:
    for name in names:
        for chain in chains:
            KNOWN[(test, name, chain)] = reason


# Every case the lead was asked to fix passes now; add new known failures here with _known(...).


def known(test: str, spec: Any, chain: tuple[str, ...] | str = "") -> list[Any]:
    key = (test, spec.name, chain if isinstance(chain, str) else chain_id(chain))
    reason = KNOWN.get(key)
    return [pytest.mark.xfail(strict=True, reason=f"lead: {reason}")] if reason else []


def spec_params(test: str, specs: list[Any]) -> list[Any]:
    return [pytest.param(s, id=s.name, marks=known(test, s)) for s in specs]


def chain_params(test: str, specs: list[Any], chains: tuple[tuple[str, ...], ...]) -> list[Any]:
    return [
        pytest.param(s, c, id=f"{s.name}-{chain_id(c)}", marks=known(test, s, c))
        for s in specs
        for c in chains
    ]


# -- fixtures --------------------------------------------------------------------------


class Outputs:
    """Corpus files and their conversions, each made once per module."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.corpus = mc.Corpus(directory)
        self._done: dict[tuple[str, tuple[str, ...]], Path] = {}

    def source(self, spec: Any) -> Path:
        return Path(self.corpus.path(spec))

    def get(self, spec: Any, chain: tuple[str, ...]) -> Path:
        key = (spec.name, chain)
        if key not in self._done:
            previous = self.source(spec) if len(chain) == 1 else self.get(spec, chain[:-1])
            target = self.directory / f"{spec.name}--{'-'.join(chain)}{SUFFIX[chain[-1]]}"
            report = mrczio.convert(previous, target)
            assert report.lossless
            self._done[key] = target
        return self._done[key]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    return Outputs(tmp_path_factory.mktemp("corpus"))


# -- helpers ---------------------------------------------------------------------------


def pixels(path: Path) -> np.ndarray:
    return mrczio.imread(path)


def same_pixels(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Bit-exact, whatever the shape a reader gives (frames or volumes)."""
    assert actual.size == expected.size, f"{what}: {actual.shape} vs {expected.shape}"
    assert_bit_exact(actual.reshape(expected.shape), expected, what)


def reader_header(path: Path) -> np.ndarray:
    with mrczio.open(path) as reader:
        assert reader.header is not None, f"{path}: no MRC header"
        return np.array(reader.header)


def texts(labels: list[bytes]) -> list[bytes]:
    """Label text without its padding (trailing spaces or NULs)."""
    return [text.rstrip(b" \0") for text in labels]


def carried_differences(
    source: np.ndarray, other: np.ndarray, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    return mc.differences(source, other, tuple(n for n in mc.CARRIED if n not in skip))


def check_mrcz_raw_mz(source: np.ndarray, raw: np.ndarray) -> None:
    """MRCZ's own MZ: 0 (python-mrcz's 'one array'), or the source's for a volume stack."""
    ispg, mz, nz = int(source["ispg"]), int(source["mz"]), int(source["nz"])
    volume_stack = 401 <= ispg <= 630 and mz > 0 and nz % mz == 0
    assert int(raw["mz"]) == (mz if volume_stack else 0), (int(raw["mz"]), mz)


def check_mrcz_raw_cella(source: np.ndarray, raw: np.ndarray) -> None:
    """MRCZ's own CELLA: x and y kept; z is voxel z * NZ (voxel z = CELLA z / MZ), so that
    python-mrcz, which divides CELLA by (NX, NY, NZ), gets the voxel size (mrczio's MRCZ
    policy since before issue 10: header_policy.py, mrcz_geometry.py)."""
    cx, cy, cz = (float(v) for v in source["cella"])
    mz, nz = int(source["mz"]), int(source["nz"])
    voxel_z = cz / (mz if mz > 0 else nz) if (mz > 0 or nz > 0) else 0.0
    expected = [cx, cy, float(np.float32(voxel_z * nz))]
    assert [float(v) for v in raw["cella"]] == pytest.approx(expected, rel=1e-6)


def gemmi_geometry(path: Path) -> dict[str, Any]:
    """gemmi's raw view of a map (``setup()`` not called)."""
    import gemmi

    ccp4 = gemmi.read_ccp4_map(str(path))
    group = ccp4.grid.spacegroup
    cell = ccp4.grid.unit_cell
    return {
        "spacegroup": None if group is None else group.number,
        "words": [ccp4.header_i32(w) for w in GEMMI_WORDS],
        "cell": [cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma],
        "origin": [ccp4.header_float(w) for w in (50, 51, 52)],
    }


def geometry_from_header(header: np.ndarray) -> dict[str, Any]:
    """What gemmi_geometry gives, from header values (for files gemmi cannot read)."""
    ispg = int(header["ispg"])
    words = [int(header[n]) for n in ("nx", "ny", "nz", "nxstart", "nystart", "nzstart",
                                        "mx", "my", "mz", "mapc", "mapr", "maps")]  # fmt: skip
    return {
        "spacegroup": ispg if 1 <= ispg <= 230 else (1 if ispg == 0 else None),
        "words": words,
        "cell": [float(v) for v in header["cella"]] + [float(v) for v in header["cellb"]],
        "origin": [float(v) for v in header["origin"]],
    }


def check_stats(header: np.ndarray, data: np.ndarray, what: str) -> None:
    """DMIN/DMAX/DMEAN/RMS recomputed from the data with mrcfile's convention."""
    dmin, dmax, dmean, rms = (float(header[n]) for n in ("dmin", "dmax", "dmean", "rms"))
    if data.dtype.kind == "c":
        assert dmax < dmin, f"{what}: complex data must leave DMIN/DMAX undetermined"
        assert rms == pytest.approx(float(data.std().real), rel=1e-5), what
        return
    assert dmin == float(np.float32(data.min())), (what, dmin)
    assert dmax == float(np.float32(data.max())), (what, dmax)
    assert dmean == pytest.approx(float(data.mean(dtype=np.float64)), rel=1e-5, abs=1e-6), what
    assert rms == pytest.approx(float(data.std(dtype=np.float64)), rel=1e-5, abs=1e-6), what


# -- the corpus itself -----------------------------------------------------------------


@pytest.mark.parametrize("spec", spec_params("test_corpus_is_valid", SPECS))
def test_corpus_is_valid(outputs: Outputs, spec: Any) -> None:
    """Each corpus file is what it claims: mrcfile validates it, gemmi reads its
    geometry, mrczio reads the pixels written and the same header values."""
    import mrcfile

    path = outputs.source(spec)
    raw = mc.read_header(path)
    if spec.mrcfile_validates:
        log = io.StringIO()
        assert mrcfile.validate(str(path), print_file=log), log.getvalue()
    if spec.gemmi_reads:
        seen, written = gemmi_geometry(path), geometry_from_header(raw)
        assert seen["words"] == written["words"]
        assert seen["cell"] == pytest.approx(written["cell"], rel=1e-6)
        assert seen["origin"] == written["origin"]
        if 1 <= spec.ispg <= 230:
            assert seen["spacegroup"] == written["spacegroup"]
    if spec.writer == "raw":
        same_pixels(pixels(path), mc.sample_data(spec), spec.name)
    assert mc.differences(raw, reader_header(path), tuple(mc.HEADER.names or ())) == {}


def test_corpus_covers_the_issue() -> None:
    """The corpus holds what issue 10 lists (a guard against quietly shrinking it)."""
    orders = {(int(s.fields.get("mapc", 1)), int(s.fields.get("mapr", 2)), int(s.fields.get("maps", 3)))
              for s in RAW_SPECS}  # fmt: skip
    assert len(orders) == 6
    assert {1, 4, 19, 96, 401, 0} <= {s.ispg for s in SPECS if s.writer != "sample"}
    assert {0, 1, 2, 4, 6, 7, 8, 12, 101} <= {s.mode for s in SPECS}
    assert any(s.unsigned_bytes for s in SPECS) and BIG_ENDIAN and EMDB
    assert {0, 1, 9, 10} <= {len(s.labels) for s in RAW_SPECS}
    assert {bytes(s.fields.get("exttyp", b"")) for s in SPECS} >= {b"CCP4", b"FEI1"}


# -- conversions: carried fields -------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "chain"),
    chain_params("test_carried_fields", SPECS, (("mrc",), ("mrcz", "mrc"), ("tiff", "mrc"))),
)
def test_carried_fields(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    """MRC output (direct or after MRCZ/TIFF): every carried field equals the source's."""
    source = mc.read_header(outputs.source(spec))
    out = mc.read_header(outputs.get(spec, chain))
    assert carried_differences(source, out) == {}


@pytest.mark.parametrize("spec", spec_params("test_mrcz_raw_header", SPECS))
def test_mrcz_raw_header(outputs: Outputs, spec: Any) -> None:
    """The MRCZ file's own header: every carried field equals the source's, except MZ,
    which is 0 unless the file is a volume stack."""
    source = mc.read_header(outputs.source(spec))
    raw = mc.read_header(outputs.get(spec, ("mrcz",)))
    assert carried_differences(source, raw, skip=("mz", "cella")) == {}
    check_mrcz_raw_mz(source, raw)
    check_mrcz_raw_cella(source, raw)


@pytest.mark.parametrize("spec", spec_params("test_mrcz_reader_header", SPECS))
def test_mrcz_reader_header(outputs: Outputs, spec: Any) -> None:
    """mrczio's reader restores the source's header values (MZ included) from an MRCZ file."""
    source = mc.read_header(outputs.source(spec))
    restored = reader_header(outputs.get(spec, ("mrcz",)))
    assert carried_differences(source, restored) == {}


@pytest.mark.parametrize(
    ("spec", "chain"), chain_params("test_recomputed_fields", SPECS, CHAINS[:3])
)
def test_recomputed_fields(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    """Sizes and mode kept, statistics recomputed from the data, MAP and a little-endian
    machine stamp, IMOD's unsigned-bytes stamp for uint8 data."""
    source = mc.read_header(outputs.source(spec))
    path = outputs.get(spec, chain)
    out = mc.read_header(path)
    data = pixels(path)
    for name in ("nx", "ny", "nz"):
        assert int(out[name]) == int(source[name]), name
    mode, source_mode = int(out["mode"]) % 1000, int(source["mode"])
    if source_mode == 101 and chain[0] != "mrc":
        # documented (docs/tiff-and-4bit.md): 4-bit data leaves MRC as uint8 and comes
        # back as mode 0 unless packed4bit is asked for again
        assert mode == 0
    else:
        assert mode == source_mode, (mode, source_mode)
    if chain[-1] == "mrc":  # nothing was added to a plain MRC file: same extended header
        assert (int(out["nsymbt"]), bytes(out["exttyp"])) == (
            int(source["nsymbt"]),
            bytes(source["exttyp"]),
        )
        with mrczio.open(path) as reader:
            assert reader.metadata == {}
    assert (int(out["mode"]) >= 1000) == (chain[-1] == "mrcz")
    assert bytes(out["map"]) == b"MAP "
    assert tuple(int(v) for v in out["machst"]) == mc.LITTLE_STAMP and mc.byteorder(out) == "<"
    check_stats(out, data, f"{spec.name} {chain_id(chain)}")
    if data.dtype == np.uint8 and int(out["mode"]) % 1000 == 0:
        assert int(out["imod_stamp"]) == mc.IMOD_STAMP and not int(out["imod_flags"]) & 1


@pytest.mark.parametrize(("spec", "chain"), chain_params("test_labels_kept", SPECS, CHAINS))
def test_labels_kept(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    """The source's labels in order, then at most one mrczio label per conversion step
    (none without room), every added one naming mrczio."""
    source = texts(mc.labels(mc.read_header(outputs.source(spec))))
    out = texts(mc.labels(mc.read_header(outputs.get(spec, chain))))
    assert out[: len(source)] == source
    added = out[len(source) :]
    assert len(added) <= min(len(chain), 10 - len(source)), added
    assert all(text.startswith(b"mrczio ") for text in added), added
    if len(source) < 10:
        assert added, "one 'mrczio <version>' label is appended when there is room"


SPACE_PADDED = [s for s in SPECS if s.writer in ("gemmi", "sample")]


@pytest.mark.parametrize(
    ("spec", "chain"), chain_params("test_label_bytes_exact", SPACE_PADDED, CHAINS)
)
def test_label_bytes_exact(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    """Labels are copied byte for byte: gemmi, CCP4 and EMDB pad them with spaces."""
    source = mc.labels(mc.read_header(outputs.source(spec)))
    out = mc.labels(mc.read_header(outputs.get(spec, chain)))
    assert [t.ljust(80, b"\0") for t in out[: len(source)]] == [t.ljust(80, b"\0") for t in source]


@pytest.mark.parametrize(
    ("spec", "chain"),
    chain_params(
        "test_extended_header_kept", [s for s in SPECS if s.ext or s.name == "EMD-3001"], CHAINS
    ),
)
def test_extended_header_kept(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    """The extended header (bytes and EXTTYP) survives when no metadata has to go in it."""
    with mrczio.open(outputs.source(spec)) as src, mrczio.open(outputs.get(spec, chain)) as out:
        assert (out.exttyp, len(out.extended_header)) == (src.exttyp, len(src.extended_header))
        assert out.extended_header == src.extended_header


@pytest.mark.parametrize(("spec", "chain"), chain_params("test_pixels_kept", SPECS, CHAINS))
def test_pixels_kept(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    same_pixels(
        pixels(outputs.get(spec, chain)), pixels(outputs.source(spec)), f"{spec.name} {chain}"
    )


@pytest.mark.parametrize("spec", spec_params("test_python_mrcz_reads_pixels", PYTHON_MRCZ_SPECS))
def test_python_mrcz_reads_pixels(outputs: Outputs, spec: Any) -> None:
    """python-mrcz 0.6.0 still reads the MRCZ file with the same pixel bytes."""
    import mrcz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # python-mrcz warns about headers it does not know
        image, _ = mrcz.readMRC(str(outputs.get(spec, ("mrcz",))))
    expected = pixels(outputs.source(spec))
    image = np.asarray(image)
    assert image.size == expected.size and image.dtype.itemsize == expected.dtype.itemsize
    assert image.astype(image.dtype.newbyteorder("=")).tobytes() == expected.tobytes()


RECORD_SPECS = [mc.SPEC_BY_NAME[n] for n in ("EMD-3001", "volume-stack-401", "mode-4-big")]


@pytest.mark.parametrize(
    ("spec", "chain"),
    chain_params(
        "test_header_record_is_internal", RECORD_SPECS, (("mrcz",), ("tiff",), ("tiff", "mrcz"))
    ),
)
def test_header_record_is_internal(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    """The header record mrczio keeps for fields a format cannot hold is not user
    metadata: the source had none, so the reader's metadata stays empty."""
    with mrczio.open(outputs.get(spec, chain)) as reader:
        assert reader.metadata == {}


# -- geometry through gemmi and reader.geometry ----------------------------------------


@pytest.mark.parametrize(
    ("spec", "chain"), chain_params("test_gemmi_geometry", GEMMI_SPECS, MRC_CHAINS)
)
def test_gemmi_geometry(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    """gemmi reads the same space group, grid, axis order, start, cell and origin."""
    assert gemmi_geometry(outputs.get(spec, chain)) == gemmi_geometry(outputs.source(spec))


@pytest.mark.parametrize("spec", spec_params("test_mrcz_geometry_as_gemmi", GEMMI_SPECS))
def test_mrcz_geometry_as_gemmi(outputs: Outputs, spec: Any) -> None:
    """gemmi cannot read compressed data: the MRCZ reader's header gives gemmi's view of
    the source."""
    expected = gemmi_geometry(outputs.source(spec))
    got = geometry_from_header(reader_header(outputs.get(spec, ("mrcz",))))
    assert got["words"] == expected["words"]
    assert got["cell"] == pytest.approx(expected["cell"], rel=1e-6)
    assert got["origin"] == expected["origin"]
    if spec.ispg != 401:
        assert got["spacegroup"] == expected["spacegroup"]


def check_reader_geometry(path: Path, expected: dict[str, Any], header: np.ndarray) -> None:
    with mrczio.open(path) as reader:
        geometry = reader.geometry
    assert geometry is not None, f"{path}: reader.geometry is None"
    words = expected["words"]
    ispg = int(header["ispg"])
    assert geometry.space_group == ispg
    if expected["spacegroup"] is not None and ispg != 0:
        assert geometry.space_group == expected["spacegroup"]
    assert geometry.start == tuple(words[3:6])
    assert geometry.sampling == tuple(words[6:9])
    assert geometry.axis_order == tuple(words[9:12])
    assert geometry.cell_lengths == pytest.approx(expected["cell"][:3], rel=1e-6)
    assert geometry.cell_angles == pytest.approx(expected["cell"][3:], rel=1e-6)
    assert geometry.origin == pytest.approx(expected["origin"], rel=1e-7)
    mz, nz = int(header["mz"]), int(header["nz"])
    stack = 401 <= ispg <= 630 and mz > 0 and nz % mz == 0
    assert geometry.is_volume_stack == stack
    expected_volume = (mz, int(header["ny"]), int(header["nx"])) if stack else None
    assert geometry.volume_shape == expected_volume


@pytest.mark.parametrize(
    ("spec", "chain"), chain_params("test_reader_geometry", SPECS, ((), *CHAINS, ("tiff",)))
)
def test_reader_geometry(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    """``reader.geometry`` of the source and of every output (MRCZ and TIFF included)
    matches gemmi's raw reading of the source (its header where gemmi cannot read)."""
    src = outputs.source(spec)
    header = mc.read_header(src)
    expected = gemmi_geometry(src) if spec.gemmi_reads else geometry_from_header(header)
    path = outputs.get(spec, chain) if chain else src
    if spec.gemmi_reads and chain and chain[-1] == "mrc":
        assert gemmi_geometry(path) == expected  # same file seen by gemmi
    check_reader_geometry(path, expected, header)


# -- volume stacks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "chain"), chain_params("test_volume_stack_shape", VOLUME_STACKS, ((), *CHAINS))
)
def test_volume_stack_shape(outputs: Outputs, spec: Any, chain: tuple[str, ...]) -> None:
    """3 volumes of 5x9x10 (ISPG 401, MZ 5, NZ 15) read as (3, 5, 9, 10) by mrczio and,
    for plain MRC, by mrcfile, after every conversion."""
    import mrcfile

    path = outputs.get(spec, chain) if chain else outputs.source(spec)
    assert mrczio.imread(path).shape == (3, 5, 9, 10)
    with mrczio.open(path) as reader:
        assert reader.shape == (3, 5, 9, 10)
    if path.suffix == ".mrc":
        with mrcfile.open(str(path)) as mrc:
            assert mrc.data.shape == (3, 5, 9, 10)
            assert mrc.is_volume_stack()


# -- imwrite(like=reader) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "chain"), chain_params("test_imwrite_like", SPECS, (("mrc",), ("mrcz",)))
)
def test_imwrite_like(outputs: Outputs, spec: Any, chain: tuple[str, ...], tmp_path: Path) -> None:
    """``imwrite(path, data, like=reader)`` carries the reader's header fields."""
    src = outputs.source(spec)
    target = tmp_path / f"like{SUFFIX[chain[0]]}"
    with mrczio.open(src) as reader:
        data = reader.read()
        mrczio.imwrite(target, data, like=reader)
    source = mc.read_header(src)
    assert carried_differences(source, reader_header(target)) == {}
    if chain[0] == "mrc":
        assert carried_differences(source, mc.read_header(target)) == {}
    same_pixels(pixels(target), data, f"{spec.name} like")


# -- byte order ------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "target"), [(s, t) for s in BIG_ENDIAN for t in ("mrc", "mrcz")],
                         ids=lambda v: getattr(v, "name", v))  # fmt: skip
def test_byteorder_option(outputs: Outputs, spec: Any, target: str, tmp_path: Path) -> None:
    """``byteorder='big'`` writes a big-endian header with the same field values."""
    src = outputs.source(spec)
    dst = tmp_path / f"big{SUFFIX[target]}"
    mrczio.convert(src, dst, byteorder="big")
    out = mc.read_header(dst)
    assert mc.byteorder(out) == ">" and tuple(int(v) for v in out["machst"]) == mc.BIG_STAMP
    # values as mrczio restores them (the raw MRCZ header is checked by test_mrcz_raw_header)
    assert carried_differences(mc.read_header(src), reader_header(dst)) == {}
    if target == "mrc":
        assert carried_differences(mc.read_header(src), out) == {}
    same_pixels(pixels(dst), pixels(src), f"{spec.name} big")


# -- labels 0..10 ----------------------------------------------------------------------


@pytest.mark.parametrize("count", range(11))
def test_labels_every_count(tmp_path: Path, count: int) -> None:
    """0 to 10 source labels: kept in order, one 'mrczio <version>' added when there is
    room (nlabl + 1), none when all 10 are used; MRC -> MRCZ -> MRC adds at most two."""
    spec = mc._label_case(count)
    src = mc.build(spec, tmp_path)
    source = mc.labels(mc.read_header(src))
    assert len(source) == count
    mrczio.convert(src, tmp_path / "direct.mrc")
    direct = mc.labels(mc.read_header(tmp_path / "direct.mrc"))
    expected_added = 1 if count < 10 else 0
    assert direct[:count] == source and len(direct) == count + expected_added
    assert all(text.startswith(b"mrczio ") for text in direct[count:])
    mrczio.convert(src, tmp_path / "via.mrcz")
    mrczio.convert(tmp_path / "via.mrcz", tmp_path / "back.mrc")
    back = mc.labels(mc.read_header(tmp_path / "back.mrc"))
    assert back[:count] == source and len(back) - count <= min(2, 10 - count)
    assert all(text.startswith(b"mrczio ") for text in back[count:])


# -- real maps through every registered format pair, and the CLI -----------------------


def pair_params() -> Iterator[Any]:
    for spec in EMDB:
        for first in REGISTERED:
            for second in REGISTERED:
                chain = (first, second)
                yield pytest.param(spec, chain, id=f"{spec.name}-{chain_id(chain)}",
                                   marks=known("test_emdb_format_pairs", spec, chain))  # fmt: skip


@pytest.mark.parametrize(("spec", "chain"), list(pair_params()))
def test_emdb_format_pairs(
    outputs: Outputs, spec: Any, chain: tuple[str, ...], tmp_path: Path
) -> None:
    """EMD-3001/3197 -> A -> B (-> MRC) for every registered pair: the map comes back with
    every carried field, its labels and its pixels, or the step is refused with a
    ConversionError naming the file when a format cannot store the dtype."""
    registry = mrczio.get_registry()
    current = outputs.source(spec)
    steps = chain if chain[-1] == "mrc" else (*chain, "mrc")
    for index, name in enumerate(steps):
        fmt = registry.format(name)
        target = tmp_path / f"step{index}{fmt.extensions[0]}"
        with mrczio.open(current) as reader:
            limits = fmt.storage_limits(reader.dtype, {})
        if limits.dtype != np.float32 or limits.max_value is not None:
            with pytest.raises(mrczio.ConversionError, match=str(current)):
                mrczio.convert(current, target, format=name)
            return
        mrczio.convert(current, target, format=name)
        current = target
    source = mc.read_header(outputs.source(spec))
    final = mc.read_header(current)
    assert carried_differences(source, final) == {}
    assert texts(mc.labels(final))[: int(source["nlabl"])] == texts(mc.labels(source))
    same_pixels(pixels(current), pixels(outputs.source(spec)), f"{spec.name} {chain}")
    assert gemmi_geometry(current) == gemmi_geometry(outputs.source(spec))


def test_refusal_names_the_file(outputs: Outputs, tmp_path: Path) -> None:
    """A conversion the target cannot hold exactly is refused naming the source file."""
    src = outputs.source(mc.SPEC_BY_NAME["EMD-3001"])
    for name in REGISTERED:
        target = tmp_path / f"refused{SUFFIX.get(name, '.' + name)}"
        with pytest.raises(mrczio.ConversionError, match=str(src)):
            mrczio.convert(src, target, format=name, dtype="int8")
        assert not target.exists()


@pytest.mark.parametrize("spec", EMDB, ids=lambda s: s.name)
def test_cli_commands(outputs: Outputs, spec: Any, tmp_path: Path) -> None:
    """``mrczio convert``, ``compress`` and ``decompress`` keep the header like convert()."""
    from mrczio.cli import main

    src = outputs.source(spec)
    plain, packed, back = tmp_path / "plain.mrc", tmp_path / "packed.mrcz", tmp_path / "back.mrc"
    assert main(["convert", "-q", str(src), "-o", str(plain)]) == 0
    assert main(["compress", "-q", str(src), "-o", str(packed)]) == 0
    assert main(["decompress", "-q", str(packed), "-o", str(back)]) == 0
    source = mc.read_header(src)
    for path in (plain, back):
        assert carried_differences(source, mc.read_header(path)) == {}, path.name
        assert gemmi_geometry(path) == gemmi_geometry(src)
    assert carried_differences(source, reader_header(packed)) == {}


def test_fei_extended_movie(sample_file: Any, tmp_path: Path) -> None:
    """The real FEI1 frame (mrcfile's fei-extended.mrc): MRC, MRCZ and MRCZ -> MRC keep
    the carried fields and the FEI1 extended header byte for byte."""
    src = Path(sample_file("fei-extended.mrc"))
    source = mc.read_header(src)
    with mrczio.open(src) as reader:
        exttyp, extended = reader.exttyp, reader.extended_header
    mrczio.convert(src, tmp_path / "a.mrc")
    mrczio.convert(src, tmp_path / "b.mrcz")
    mrczio.convert(tmp_path / "b.mrcz", tmp_path / "c.mrc")
    for name in ("a.mrc", "b.mrcz", "c.mrc"):
        path = tmp_path / name
        assert carried_differences(source, reader_header(path)) == {}, name
        with mrczio.open(path) as reader:
            assert (reader.exttyp, reader.extended_header) == (exttyp, extended), name
    for name in ("a.mrc", "c.mrc"):
        assert carried_differences(source, mc.read_header(tmp_path / name)) == {}, name


# -- extended headers next to user metadata, casts, writing like an MRCZ/TIFF ----------

EXT_SPECS = [mc.SPEC_BY_NAME[n] for n in ("ccp4-symmetry-p21", "fei1-movie", "EMD-3001")]


@pytest.fixture(scope="module")
def with_metadata(outputs: Outputs) -> dict[str, Path]:
    """Each extended-header corpus file rewritten with user metadata next to it."""
    made = {}
    for spec in EXT_SPECS:
        target = outputs.directory / f"{spec.name}--meta.mrc"
        with mrczio.open(outputs.source(spec)) as reader:
            mrczio.imwrite(target, reader.read(), like=reader, metadata={"dose": 1.5})
        made[spec.name] = target
    return made


@pytest.mark.parametrize(
    ("spec", "chain"), chain_params("test_extended_header_next_to_metadata", EXT_SPECS, CHAINS)
)
def test_extended_header_next_to_metadata(
    outputs: Outputs,
    with_metadata: dict[str, Path],
    spec: Any,
    chain: tuple[str, ...],
    tmp_path: Path,
) -> None:
    """An FEI1/CCP4 extended header and user metadata in one file both survive."""
    src = with_metadata[spec.name]
    with mrczio.open(outputs.source(spec)) as original, mrczio.open(src) as reader:
        assert (reader.exttyp, reader.extended_header) == (
            original.exttyp,
            original.extended_header,
        )
        assert reader.metadata == {"dose": 1.5}
    current = src
    for index, name in enumerate(chain):
        target = tmp_path / f"step{index}{SUFFIX[name]}"
        mrczio.convert(current, target)
        current = target
    with mrczio.open(current) as out, mrczio.open(src) as reader:
        assert out.metadata == {"dose": 1.5}
        assert carried_differences(mc.read_header(src), np.array(out.header)) == {}
        assert (out.exttyp, len(out.extended_header)) == (
            reader.exttyp,
            len(reader.extended_header),
        )
        assert out.extended_header == reader.extended_header


CAST_SPECS = [mc.SPEC_BY_NAME[n] for n in ("mode-1", "volume-stack-401-big", "monoclinic-p21")]


@pytest.mark.parametrize(
    ("spec", "chain"), chain_params("test_cast_keeps_header", CAST_SPECS, (("mrc",), ("mrcz",)))
)
def test_cast_keeps_header(
    outputs: Outputs, spec: Any, chain: tuple[str, ...], tmp_path: Path
) -> None:
    """``dtype=`` changes MODE and nothing else of the carried header."""
    src = outputs.source(spec)
    dtype = "float32" if spec.mode == 1 else "float64"
    target = tmp_path / f"cast{SUFFIX[chain[0]]}"
    if dtype == "float64":  # no MRC mode stores float64: refused, naming the file
        with pytest.raises(mrczio.ConversionError, match=str(src)):
            mrczio.convert(src, target, dtype=dtype)
        return
    mrczio.convert(src, target, dtype=dtype)
    assert int(mc.read_header(target)["mode"]) % 1000 == 2
    assert carried_differences(mc.read_header(src), reader_header(target)) == {}
    same_pixels(pixels(target), pixels(src).astype(np.float32), f"{spec.name} cast")


@pytest.mark.parametrize(
    ("spec", "chain"),
    chain_params(
        "test_imwrite_like_a_converted_file",
        [
            mc.SPEC_BY_NAME[n]
            for n in ("monoclinic-p21", "volume-stack-401", "EMD-3001", "axes-231")
        ],
        (("mrcz",), ("tiff",)),
    ),
)
def test_imwrite_like_a_converted_file(
    outputs: Outputs, spec: Any, chain: tuple[str, ...], tmp_path: Path
) -> None:
    """``like=`` an MRCZ or TIFF reader writes the source's header back into a plain MRC."""
    with mrczio.open(outputs.get(spec, chain)) as reader:
        mrczio.imwrite(tmp_path / "like.mrc", reader.read(), like=reader)
    assert (
        carried_differences(
            mc.read_header(outputs.source(spec)), mc.read_header(tmp_path / "like.mrc")
        )
        == {}
    )
