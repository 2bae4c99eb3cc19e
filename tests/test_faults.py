"""Fault injection: a run stopped at any phase (kill -9 or Ctrl-C) resumes to the exact
result; damaged stores are repaired; one writer per output; foreign files survive.

Runs are stopped by the `sim.io.faults` hook (``FISCAL_SIM_FAULT=PHASE:N:ACTION``) in a
child forked from a fork server that has imported the package once, so each of the
many cases costs a fork, not an interpreter start.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sim.cli import main
from sim.io import read_results
from sim.io.faults import FAULT_ENV, PHASES
from sim.io.outputs import OutputLock, lock_path
from sim.io.store import checkpoint_path, read_checkpoint
from sim.run.streamed import partial_path

from .conftest import CONFIGS, TIMING_ATTRS, minimal, run_cli, to_toml

CONFIG = CONFIGS / "baseline.toml"
CHUNK = "4096"
SAMPLES = {"on-block": 8192, "off-block": 9000}  # 2 chunks; 3 chunks, the last partial
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["sim.cli", "sim.run.streamed", "xarray", "zarr", "h5netcdf"])


def _argv(out: Path, keep: str, samples: int) -> list[str]:
    return ["run", str(CONFIG), "--samples", str(samples), "--seed", "11", "--keep", keep,
            "--chunk-samples", CHUNK, "--out", str(out), "--no-progress"]


def _child(argv: list[str], fault: str) -> None:
    os.environ[FAULT_ENV] = fault
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    os._exit(status)


def _run_faulted(argv: list[str], fault: str, wait: bool = True):
    process = _CONTEXT.Process(target=_child, args=(argv, fault))
    process.start()
    if wait:
        process.join(120)
        assert process.exitcode is not None, "the faulted run hung"
    return process


def _same_numbers(a: xr.Dataset, b: xr.Dataset) -> None:
    skip = (*TIMING_ATTRS, "resumed_from_block", "complete")
    xr.testing.assert_identical(a.drop_attrs(deep=False), b.drop_attrs(deep=False))
    assert {k: v for k, v in a.attrs.items() if k not in skip} == {
        k: v for k, v in b.attrs.items() if k not in skip}


def _leftovers(folder: Path, out: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != out.name)


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """Uninterrupted results for every format, keep mode and sample count."""
    folder = tmp_path_factory.mktemp("references")
    found = {}
    for suffix, keep, (label, samples) in itertools.product(
            (".nc", ".zarr"), ("full", "summary"), SAMPLES.items()):
        out = folder / f"{keep}-{label}{suffix}"
        assert main(_argv(out, keep, samples)) == 0
        found[(suffix, keep, label)] = read_results(out)
    return found


# Every phase where a run can stop; "N" is which time the phase is reached.
STOPS = [("store-created", 1), ("chunk-written", 1), ("chunk-written", 2),
         ("checkpointed", 1), ("checkpointed", 2),
         *((phase, 1) for phase in PHASES[3:])]
SETTINGS = list(itertools.product(("full", "summary"), SAMPLES))
FORMATS = (".nc", ".zarr")
if os.environ.get("FAULT_MATRIX") == "full":  # every combination: 160 cases, ~10 minutes
    CASES = [(phase, n, action, suffix, keep, label)
             for (phase, n), action, suffix, (keep, label) in itertools.product(
                 STOPS, ("kill", "int"), FORMATS, SETTINGS)]
else:  # a covering design of 20 cases: every stop with both signals, one in each format;
    # every signal and format meets all four settings (keep mode x sample count)
    CASES = [(phase, n, action, FORMATS[(j + a) % 2], *SETTINGS[(j // 2) % 4])
             for j, (phase, n) in enumerate(STOPS) for a, action in enumerate(("kill", "int"))]


def test_every_phase_is_covered():
    assert {phase for phase, _ in STOPS} == set(PHASES)
    signals = ("kill", "int")
    assert {(p, n, a) for p, n, a, *_ in CASES} == {(p, n, a) for p, n in STOPS for a in signals}
    for stop in STOPS:  # each stop in both formats
        assert {f for p, n, _, f, _, _ in CASES if (p, n) == stop} == set(FORMATS)
    assert {(a, f, k, x) for _, _, a, f, k, x in CASES} == {
        (a, f, k, x) for a in signals for f in FORMATS for k, x in SETTINGS}


@pytest.mark.parametrize(("phase", "n", "action", "suffix", "keep", "label"), CASES,
                         ids=["-".join(map(str, case)) for case in CASES])
def test_stopped_run_resumes_to_the_same_result(tmp_path, capsys, references, phase, n,
                                                action, suffix, keep, label):
    out = tmp_path / f"run{suffix}"
    argv = _argv(out, keep, SAMPLES[label])
    status = _run_faulted(argv, f"{phase}:{n}:{action}").exitcode
    assert status == (-signal.SIGKILL if action == "kill" else 130)
    if phase not in ("published", "store-removed"):
        # Until it is published, nothing that reads as a finished output exists.
        assert not out.exists()
    assert not lock_path(out).exists() or action == "kill"
    resumed = run_cli(*argv, "--resume", capsys=capsys)
    assert resumed[0] == 0, resumed[2]
    result = read_results(out)
    _same_numbers(result, references[(suffix, keep, label)])
    assert result.sizes["sample"] == SAMPLES[label] and result.attrs["samples_per_second"] >= 0
    assert _leftovers(tmp_path, out) == [], "temporary files, store or lock left behind"


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_interrupt_says_how_to_continue(tmp_path, suffix):
    out = tmp_path / f"run{suffix}"
    argv = _argv(out, "full", SAMPLES["off-block"])
    process = _CONTEXT.Process(target=_child_capture,
                               args=(argv, "checkpointed:1:int", str(tmp_path / "err")))
    process.start()
    process.join(120)
    assert process.exitcode == 130
    err = (tmp_path / "err").read_text()
    assert len(err.strip().splitlines()) == 1 and "--resume" in err
    assert str(partial_path(out)) in err


def _child_capture(argv: list[str], fault: str, err: str) -> None:
    os.environ[FAULT_ENV] = fault
    handle = os.open(err, os.O_WRONLY | os.O_CREAT)
    os.dup2(handle, 2)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    os._exit(status)


# ---------------------------------------------------------------- damaged stores


def _damage_variable_folder(store: Path) -> None:
    shutil.rmtree(store / "force_persons")


def _damage_chunk_file(store: Path) -> None:
    (store / "bonus_spend_rub" / "1.0").unlink()


def _damage_truncated_chunk(store: Path) -> None:
    path = store / "recruits_persons" / "0.0"
    path.write_bytes(path.read_bytes()[:100])


def _damage_flipped_bit(store: Path) -> None:
    path = store / "casualties_persons" / "1.0"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def _damage_sample_coordinate(store: Path) -> None:
    (store / "sample" / "0").unlink()


def _damage_group_attrs(store: Path) -> None:
    (store / ".zattrs").unlink()


def _damage_metadata(store: Path) -> None:
    (store / "force_persons" / ".zarray").write_text("{not json")


DAMAGES = {f.__name__.removeprefix("_damage_"): f for f in (
    _damage_variable_folder, _damage_chunk_file, _damage_truncated_chunk, _damage_flipped_bit,
    _damage_sample_coordinate, _damage_group_attrs, _damage_metadata)}
REPAIRS_BLOCKS = {"variable_folder", "chunk_file", "truncated_chunk", "flipped_bit",
                  "sample_coordinate"}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_store_is_repaired_on_resume(tmp_path, capsys, references, damage):
    out = tmp_path / "run.nc"
    argv = _argv(out, "full", SAMPLES["off-block"])
    assert _run_faulted(argv, "checkpointed:2:kill").exitcode == -signal.SIGKILL
    DAMAGES[damage](partial_path(out))
    status, _, err = run_cli(*argv, "--resume", capsys=capsys)
    assert status == 0, err
    result = read_results(out)
    _same_numbers(result, references[(".nc", "full", "off-block")])
    assert (result.attrs["repaired_blocks"] > 0) == (damage in REPAIRS_BLOCKS)


@pytest.mark.parametrize("content", [b"", b"garbage" * 50, b"PK\x03\x04truncated",
                                     "pickle"])
def test_damaged_checkpoint_is_one_line(tmp_path, capsys, content):
    out = tmp_path / "run.nc"
    argv = _argv(out, "full", SAMPLES["off-block"])
    assert _run_faulted(argv, "checkpointed:1:kill").exitcode == -signal.SIGKILL
    path = checkpoint_path(partial_path(out))
    if content == "pickle":  # an object array: loading it would unpickle
        np.savez(path, fingerprint=np.array([object()], dtype=object))
    else:
        path.write_bytes(content)
    status, _, err = run_cli(*argv, "--resume", capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "checkpoint" in err
    assert "Traceback" not in err


def test_checkpoint_without_its_store_is_one_line(tmp_path, capsys):
    out = tmp_path / "run.nc"
    argv = _argv(out, "full", SAMPLES["off-block"])
    assert _run_faulted(argv, "checkpointed:1:kill").exitcode == -signal.SIGKILL
    shutil.rmtree(partial_path(out))
    status, _, err = run_cli(*argv, "--resume", capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "no partial store" in err


def test_resume_before_the_first_checkpoint_starts_afresh(tmp_path, capsys, references):
    out = tmp_path / "run.zarr"
    argv = _argv(out, "summary", SAMPLES["on-block"])
    assert _run_faulted(argv, "store-created:1:kill").exitcode == -signal.SIGKILL
    assert partial_path(out).exists() and read_checkpoint(partial_path(out)) is None
    assert run_cli(*argv, "--resume", capsys=capsys)[0] == 0
    _same_numbers(read_results(out), references[(".zarr", "summary", "on-block")])


# ---------------------------------------------------------------- one writer per output


def _wait_for(condition, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_second_writer_is_refused_and_a_dead_writers_lock_is_taken_over(
        tmp_path, capsys, references, suffix):
    out = tmp_path / f"run{suffix}"
    argv = _argv(out, "full", SAMPLES["off-block"])
    first = _run_faulted(argv, "checkpointed:1:wait", wait=False)
    try:
        _wait_for(lambda: checkpoint_path(partial_path(out)).exists())
        status, _, err = run_cli(*argv, capsys=capsys)
        assert status == 2 and len(err.strip().splitlines()) == 1
        assert f"pid {first.pid}" in err and "being written" in err
        status, _, err = run_cli(*argv, "--resume", capsys=capsys)
        assert status == 2 and f"pid {first.pid}" in err
        assert read_checkpoint(partial_path(out)) is not None, "the refused writer changed it"
    finally:
        first.kill()
        first.join()
    assert lock_path(out).exists()  # left by the killed writer: stale
    status, _, err = run_cli(*argv, "--resume", capsys=capsys)
    assert status == 0, err
    _same_numbers(read_results(out), references[(suffix, "full", "off-block")])
    assert not lock_path(out).exists()


def test_two_identical_runs_at_once_give_one_complete_output(tmp_path, references):
    out = tmp_path / "run.nc"
    argv = _argv(out, "full", SAMPLES["off-block"])
    runs = [_CONTEXT.Process(target=_child_capture,
                             args=(argv, "none", str(tmp_path / f"err{i}")))
            for i in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(120)
    statuses = sorted(run.exitcode for run in runs)
    assert statuses in ([0, 0], [0, 2])  # the second either waited its turn or was refused
    for i, run in enumerate(runs):
        if run.exitcode == 2:
            err = (tmp_path / f"err{i}").read_text()
            assert len(err.strip().splitlines()) == 1 and "being written" in err
    _same_numbers(read_results(out), references[(".nc", "full", "off-block")])
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("err")) == [
        "run.nc"]


def test_lock_in_one_process_refuses_a_second_holder(tmp_path):
    target = tmp_path / "x.nc"
    with OutputLock(target), pytest.raises(Exception, match="being written by pid"):
        OutputLock(target).__enter__()
    assert not lock_path(target).exists()
    with OutputLock(target):  # free again
        pass


# ---------------------------------------------------------------- foreign files


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest()
                                         if p.is_file() else "dir")
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working directory with inputs and foreign files and folders."""
    (tmp_path / "mine.zarr").mkdir()
    (tmp_path / "mine.zarr" / "data.txt").write_text("precious")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text("notes")
    (tmp_path / "foreign.nc").write_text("not netCDF, not ours")
    (tmp_path / "foreign.toml").write_text("title = 'mine'\n")
    (tmp_path / "inputs").mkdir()
    scenario = tmp_path / "inputs" / "scenario.toml"
    scenario.write_text(to_toml(minimal()))
    series = tmp_path / "inputs" / "series.csv"
    days = np.arange(np.datetime64("2024-11-01"), np.datetime64("2025-04-01"))
    series.write_text("date,cumulative\n" + "".join(
        f"{d},{1000 * i}\n" for i, d in enumerate(days)))
    monkeypatch.chdir(tmp_path / "inputs")
    return tmp_path


def _commands(workspace: Path, results: Path) -> dict[str, list[str]]:
    scenario = str(workspace / "inputs" / "scenario.toml")
    return {
        "run": ["run", scenario],
        "sweep": ["sweep", str(CONFIGS / "sweeps" / "bonus_escalation.toml"), "--samples",
                  "8"],
        "compare": ["compare", scenario, scenario],
        "sensitivity": ["sensitivity", scenario, "--outcome", "force_change_persons",
                        "--samples", "4"],
        "calibrate": ["calibrate", str(CONFIGS / "calibration_2024.toml"), "--observations",
                      str(CONFIGS / "observations" / "gs_monthly_2024_2025.toml"),
                      "--particles", "16"],
        "report": ["report", str(results)],
        "observations": ["observations", str(workspace / "inputs" / "series.csv"), "--from",
                         "2024-12-01", "--to", "2025-02-01"],
    }


TARGETS = {"foreign folder": "docs", "ordinary .zarr folder": "mine.zarr",
           "foreign .nc file": "foreign.nc", "foreign .toml file": "foreign.toml",
           "dot": ".", "dot-dot": "..", "working directory": "{cwd}", "home": "~",
           "input file": "{input}", "folder of the inputs": "{inputs}"}


@pytest.mark.parametrize("command", ["run", "sweep", "compare", "sensitivity", "calibrate",
                                     "report", "observations"])
def test_foreign_files_survive_every_commands_out(workspace, capsys, command):
    results = workspace / "results.nc"
    assert main(["run", str(workspace / "inputs" / "scenario.toml"), "--out",
                 str(results)]) == 0
    capsys.readouterr()
    before = _tree_digest(workspace)
    argv = _commands(workspace, results)[command]
    for name, target in TARGETS.items():
        target = target.format(cwd=Path.cwd(), input=argv[1], inputs=Path(argv[1]).parent)
        if not target.startswith(("{", "~")) and not Path(target).is_absolute():
            target = str(workspace / target) if target not in (".", "..") else target
        target = os.path.expanduser(target)
        status, _, err = run_cli(*argv, "--out", target, capsys=capsys)
        assert status == 2, (name, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (name, err)
    assert _tree_digest(workspace) == before


def test_report_into_a_folder_it_made_replaces_it(workspace, capsys):
    results = workspace / "results.nc"
    assert main(["run", str(workspace / "inputs" / "scenario.toml"), "--out",
                 str(results)]) == 0
    report = workspace / "report"
    assert run_cli("report", results, "--out", report, capsys=capsys)[0] == 0
    (report / "stale.txt").write_text("left by an earlier report")  # inside our folder
    assert run_cli("report", results, "--out", report, capsys=capsys)[0] == 0
    assert not (report / "stale.txt").exists() and (report / "index.html").is_file()


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_rerun_replaces_its_own_output(workspace, capsys, suffix):
    out = workspace / f"r{suffix}"
    scenario = workspace / "inputs" / "scenario.toml"
    assert run_cli("run", scenario, "--out", out, capsys=capsys)[0] == 0
    first = read_results(out).attrs["run_id"]
    assert run_cli("run", scenario, "--out", out, "--seed", "3", capsys=capsys)[0] == 0
    again = read_results(out)
    assert again.attrs["run_id"] != first and again.attrs["seed"] == 3
    assert sorted(p.name for p in workspace.iterdir() if p.name.startswith("r")) == [
        f"r{suffix}"]


def test_zarr_output_that_is_a_file_is_refused_up_front(workspace, capsys):
    (workspace / "f.zarr").write_text("a file")
    status, _, err = run_cli("run", workspace / "inputs" / "scenario.toml", "--out",
                             workspace / "f.zarr", capsys=capsys)
    assert status == 2 and "is a file" in err
    assert not (workspace / "f.zarr.partial.zarr").exists()


def test_flipped_bit_in_a_netcdf_output_is_detected(workspace, capsys):
    out = workspace / "r.nc"
    assert run_cli("run", CONFIG, "--samples", 2000, "--out", out, capsys=capsys)[0] == 0
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x04  # in the middle of the per-sample arrays
    out.write_bytes(bytes(data))
    status, _, err = run_cli("report", out, "--out", workspace / "rep", capsys=capsys)
    assert status == 2 and "damaged" in err and len(err.strip().splitlines()) == 1


def test_report_on_a_store_missing_a_variable(workspace, capsys):
    out = workspace / "r.zarr"
    assert run_cli("run", CONFIG, "--samples", 500, "--out", out, capsys=capsys)[0] == 0
    shutil.rmtree(out / "force_persons")
    status, _, err = run_cli("report", out, "--out", workspace / "rep", capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "force_persons" in err or "damaged" in err
