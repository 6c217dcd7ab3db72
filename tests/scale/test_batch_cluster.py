"""Batch conversion on executors: a dask LocalCluster of processes, pools, the CLI, SLURM.

Twelve small movies, one of them truncated (corrupt) and one whose first attempt fails
with an injected I/O error: the corrupt one is reported and not retried, the transient
one is retried and succeeds, every other output is byte-identical to a serial
``mrczio.convert`` of the same file.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.batch import BatchJob, run_batch
from mrczio.cli import main
from mrczio.cluster import open_executor, slurm_cluster_kwargs, slurm_job_script

HERE = Path(__file__).resolve().parent
N_FILES = 12


def make_inputs(folder: Path) -> list[Path]:
    folder.mkdir()
    rng = np.random.default_rng(12)
    paths = []
    for i in range(N_FILES):
        name = "transient_03.mrc" if i == 3 else f"movie_{i:02d}.mrc"
        dtype = (np.uint8, np.uint16, np.float32)[i % 3]
        mrczio.imwrite(folder / name, rng.poisson(2.0, (4, 40, 56)).astype(dtype), voxel_size=1.1 + i / 100)
        paths.append(folder / name)
    corrupt = folder / "corrupt_07.mrc"
    corrupt.write_bytes(paths[7].read_bytes()[:-100])
    paths[7].unlink()
    paths[7] = corrupt
    return paths


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serial_outputs(inputs: list[Path], folder: Path) -> dict[str, str]:
    folder.mkdir()
    digests = {}
    for source in inputs:
        if "corrupt" in source.name:
            continue
        output = folder / (source.stem + ".mrcz")
        mrczio.convert(source, output)
        digests[source.name] = sha256(output)
    return digests


def check_reports(reports: list[object], inputs: list[Path], serial: dict[str, str], out: Path) -> None:
    by_name = {Path(r.input).name: r for r in reports}  # type: ignore[attr-defined]
    assert set(by_name) == {p.name for p in inputs}
    corrupt = by_name["corrupt_07.mrc"]
    assert corrupt.status == "failed" and corrupt.attempts == 1 and not corrupt.retryable
    assert "TruncatedFileError" in corrupt.error and "corrupt_07.mrc" in corrupt.error
    assert not (out / "corrupt_07.mrcz").exists()
    assert by_name["transient_03.mrc"].status == "ok" and by_name["transient_03.mrc"].attempts == 2
    for name, digest in serial.items():
        report = by_name[name]
        assert report.status == "ok" and report.error is None, report
        assert sha256(out / (Path(name).stem + ".mrcz")) == digest == report.checksum["value"]
        assert report.bytes_in == os.path.getsize(Path(report.input))
        assert report.bytes_out == os.path.getsize(report.output) and report.ratio > 0
        assert report.verified is True and report.host and report.pid


def jobs_for(inputs: list[Path], out: Path) -> list[BatchJob]:
    out.mkdir()
    return [BatchJob(str(p), str(out / (p.stem + ".mrcz")), verify=True) for p in inputs]


def test_local_dask_cluster_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    from batch_faults import flaky_convert  # importable by the workers through PYTHONPATH

    inputs = make_inputs(tmp_path / "in")
    serial = serial_outputs(inputs, tmp_path / "serial")
    report_path = tmp_path / "report.jsonl"
    with open_executor(cluster="local:2") as executor:
        reports = run_batch(jobs_for(inputs, tmp_path / "out"), executor, retries=2,
                            report=report_path, task=flaky_convert)  # fmt: skip
    check_reports(reports, inputs, serial, tmp_path / "out")
    lines = [json.loads(line) for line in report_path.read_text().splitlines()]
    assert len(lines) == N_FILES
    assert {line["input"] for line in lines} == {str(p) for p in inputs}
    workers = {line["worker"] for line in lines if line["status"] == "ok"}
    assert all(w and w.startswith("tcp://") for w in workers)
    assert {line["pid"] for line in lines if line["status"] == "ok"} - {os.getpid()}  # ran elsewhere


@pytest.mark.parametrize("pool", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_pool_executors_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: type) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    from batch_faults import flaky_convert

    inputs = make_inputs(tmp_path / "in")
    serial = serial_outputs(inputs, tmp_path / "serial")
    with pool(2) as executor:
        reports = run_batch(jobs_for(inputs, tmp_path / "out"), executor, retries=1, task=flaky_convert)
    check_reports(reports, inputs, serial, tmp_path / "out")


def test_retries_exhausted_and_output_collisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    from batch_faults import flaky_convert

    inputs = make_inputs(tmp_path / "in")
    with ThreadPoolExecutor(1) as executor:
        reports = run_batch(jobs_for(inputs[3:4], tmp_path / "out"), executor, retries=0, task=flaky_convert)
        assert reports[0].status == "failed" and reports[0].retryable and "injected" in reports[0].error
        twice = [BatchJob(str(inputs[0]), str(tmp_path / "x.mrcz"))] * 2
        with pytest.raises(mrczio.OptionError, match="both be written"):
            run_batch(twice, executor)


def test_cli_batch_with_threads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = make_inputs(tmp_path / "in")
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    code = main(["compress", *map(str, inputs), "-o", f"{out}/", "--cluster", "threads:2",
                 "--report", str(report), "--verify", "--retries", "0"])  # fmt: skip
    assert code == 1  # the corrupt file
    lines = {Path(d["input"]).name: d for d in map(json.loads, report.read_text().splitlines())}
    assert lines["corrupt_07.mrc"]["status"] == "failed"
    assert sum(d["status"] == "ok" for d in lines.values()) == N_FILES - 1
    assert np.array_equal(mrczio.imread(out / "movie_00.mrcz"), mrczio.imread(inputs[0]))
    assert "11 of 12 files done, 1 failed" in capsys.readouterr().err


SLURM_ARGS = ["--cluster", "slurm", "--slurm-queue", "cryo", "--slurm-account", "em-facility",
              "--slurm-cores", "4", "--slurm-memory", "16GB", "--slurm-walltime", "02:30:00",
              "--slurm-jobs", "3", "--slurm-directive=--gres=gpu:1",
              "--slurm-prologue", "module load python/3.11"]  # fmt: skip


def test_slurm_job_script_from_cli_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    movie = tmp_path / "m.mrc"
    mrczio.imwrite(movie, np.zeros((2, 8, 8), np.uint16))
    assert main(["compress", str(movie), *SLURM_ARGS, "--print-job-script"]) == 0
    script = capsys.readouterr().out
    for line in ("#SBATCH -p cryo", "#SBATCH -A em-facility", "#SBATCH --cpus-per-task=4",
                 "#SBATCH --mem=15G", "#SBATCH -t 02:30:00", "#SBATCH --gres=gpu:1",
                 "module load python/3.11", "distributed.cli.dask_worker"):  # fmt: skip
        assert line in script, (line, script)
    assert not (tmp_path / "m.mrcz").exists()


def test_slurm_options_from_toml_and_flags(tmp_path: Path) -> None:
    from dask_jobqueue.slurm import SLURMCluster

    from mrczio.cli import build_parser
    from mrczio.cli.cluster_options import slurm_options

    config = tmp_path / "cluster.toml"
    config.write_text('[slurm]\nqueue = "long"\nmemory = "8GB"\njob_extra_directives = ["--exclusive"]\n')
    args = build_parser().parse_args(["compress", "x.mrc", "--cluster", "slurm", "--cluster-config",
                                      str(config), "--slurm-memory", "32GB"])  # fmt: skip
    options = slurm_options(args)
    assert options == {"queue": "long", "memory": "32GB", "job_extra_directives": ["--exclusive"]}
    kwargs = slurm_cluster_kwargs(options)
    with SLURMCluster(scheduler_options={"dashboard_address": ":0"}, **kwargs) as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p long" in script and "#SBATCH --exclusive" in script and "--mem=30G" in script
    assert "#SBATCH -p long" in slurm_job_script(options)
    with pytest.raises(mrczio.OptionError, match="unknown SLURM option"):
        slurm_cluster_kwargs({"partition": "x"})


def test_cluster_specs() -> None:
    from mrczio.cluster import parse_cluster

    assert parse_cluster("local:3") == ("local", 3)
    assert parse_cluster("slurm") == ("slurm", 0)
    assert parse_cluster("threads") == ("threads", os.cpu_count() or 1)
    for bad in ("local:0", "k8s", "local:x"):
        with pytest.raises(mrczio.OptionError):
            parse_cluster(bad)
