"""sim.run.streamed: runs to disk equal in-memory runs, summary mode, resume, Dask."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import sim
from sim.io import read_results
from sim.io.store import read_checkpoint
from sim.run.sketch import DEFAULT_RELATIVE_ACCURACY
from sim.run.streamed import partial_path, run_to_file

from .conftest import CONFIGS, TIMING_ATTRS, assert_same_run, run_cli

TIMING = (*TIMING_ATTRS, "resumed_from_block", "complete")


@pytest.fixture(scope="module")
def baseline():
    return sim.load_scenario(CONFIGS / "baseline.toml").with_run(samples=10_000, seed=3)


def _same_numbers(a: xr.Dataset, b: xr.Dataset) -> None:
    xr.testing.assert_equal(a.drop_attrs(deep=False), b.drop_attrs(deep=False))
    keep = {k: v for k, v in a.attrs.items() if k not in TIMING}
    assert keep == {k: v for k, v in b.attrs.items() if k not in TIMING}


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_streamed_file_equals_the_in_memory_run(baseline, tmp_path, suffix):
    path = run_to_file(baseline, tmp_path / f"run{suffix}", chunk_samples=4096)
    _same_numbers(read_results(path), sim.simulate(baseline))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"run{suffix}"]


def test_summary_mode_keeps_per_sample_outcomes_and_streams_quantiles(baseline, tmp_path):
    full = sim.simulate(baseline)
    summary = read_results(run_to_file(baseline, tmp_path / "s.zarr", keep="summary"))
    assert "force_persons" not in summary and "bonus_spend_usd_per_day" not in summary
    for name in ("force_change_persons", "bonus_spend_usd_by_year", "claim_value",
                 "param_recruitment_per_month"):
        np.testing.assert_array_equal(summary[name].values, full[name].values)
    # Streaming quantiles: within the sketch's relative accuracy (plus float32 storage of
    # the full run's values, 6e-8, and float32 bucketing, 1e-6) of the exact quantiles.
    for name, dim in (("force_persons", "time_bound"), ("bonus_spend_usd_per_day", "time")):
        exact = full[name].astype(np.float64).quantile(
            summary["quantile"].values, dim="sample", method="lower")
        estimate = summary[f"{name}_quantiles"]
        bound = (DEFAULT_RELATIVE_ACCURACY + 2e-6) * np.abs(exact)
        assert np.all(np.abs(estimate.values - exact.transpose("quantile", dim).values)
                      <= bound.transpose("quantile", dim).values)
        np.testing.assert_allclose(summary[f"{name}_sample_mean"],
                                   full[name].astype(np.float64).mean("sample"), rtol=1e-6)
        np.testing.assert_allclose(summary[f"{name}_sample_sd"],
                                   full[name].astype(np.float64).std("sample", ddof=1),
                                   rtol=1e-5)
    assert str(sim.summarize(summary)) == str(sim.summarize(full))


SMALL_CONFIG = Path(__file__).parent / "data" / "baseline_v1.toml"
"""The memory check's scenario: few per-sample outputs. The CLI prints the summary of what
it wrote, which reads the per-sample outcomes, parameters and claims (kept for every
sample by design, about 0.25 kB a sample here and 0.55 kB in the default scenario with its
36 uncertain priors and 17 claims); the streaming itself must not grow."""


def _peak_rss(samples: int, out) -> int:
    code = ("import resource, sys; from sim.cli import main; "
            f"main(['run', r'{SMALL_CONFIG}', '--samples', '{samples}', "
            f"'--keep', 'summary', '--out', r'{out}']); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return int(result.stderr.strip().splitlines()[-1]) * 1024


def test_summary_memory_does_not_grow_with_samples(tmp_path):
    # Both sizes span several chunks (the first chunk's allocations happen once).
    small = _peak_rss(2**16, tmp_path / "small.zarr")
    large = _peak_rss(2**18, tmp_path / "large.zarr")
    # Keeping everything would add 196k samples x 2.9 kB = 570 MB; allow 40 MB of noise.
    assert large - small < 40 * 2**20, (small, large)


def _start(out, samples, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(CONFIGS / "baseline.toml"), "--samples",
         str(samples), "--seed", "5", "--chunk-samples", "4096", "--out", str(out), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize(("keep", "samples"), [("summary", 2**16), ("full", 2**15)])
def test_killed_run_resumes_to_identical_results(tmp_path, keep, samples):
    reference = tmp_path / "reference.nc"
    assert _start(reference, samples, "--keep", keep).wait() == 0
    out = tmp_path / "run.nc"
    process = _start(out, samples, "--keep", keep)
    deadline = time.time() + 120
    while time.time() < deadline:
        checkpoint = read_checkpoint(partial_path(out)) if partial_path(out).exists() else None
        if checkpoint is not None and int(checkpoint["blocks_done"]) >= 3:
            break
        time.sleep(0.01)
    process.kill()
    process.wait()
    assert not out.exists(), "a killed run must not leave an output that reads as complete"
    with pytest.raises(sim.UserError):
        read_results(partial_path(out))
    done = int(read_checkpoint(partial_path(out))["blocks_done"])
    assert 3 <= done < samples // 4096
    resumed = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(CONFIGS / "baseline.toml"), "--samples",
         str(samples), "--seed", "5", "--keep", keep, "--out", str(out), "--resume"],
        capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    final = read_results(out)
    assert final.attrs["resumed_from_block"] >= done
    _same_numbers(final, read_results(reference))
    assert not partial_path(out).exists()


def test_resume_refuses_other_settings_and_missing_partial(tmp_path, capsys):
    out = tmp_path / "run.nc"
    status, _, err = run_cli("run", CONFIGS / "baseline.toml", "--out", out, "--resume",
                             capsys=capsys)
    assert status == 2 and "no partial run" in err
    process = _start(out, 2**17)
    deadline = time.time() + 60
    while time.time() < deadline and not (
            partial_path(out).exists() and read_checkpoint(partial_path(out)) is not None):
        time.sleep(0.01)
    process.kill()
    process.wait()
    status, _, err = run_cli("run", CONFIGS / "baseline.toml", "--samples", 2**17, "--seed",
                             6, "--out", out, "--resume", capsys=capsys)
    assert status == 2 and "other settings" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_parallel_schedulers_are_bit_identical_to_sync(baseline, scheduler):
    sync = sim.simulate(baseline, chunk_samples=4096)
    parallel = sim.simulate(baseline, chunk_samples=4096, scheduler=scheduler, workers=2)
    assert_same_run(sync.drop_attrs(deep=False), parallel.drop_attrs(deep=False))


def test_local_cluster_address_is_bit_identical_to_sync(baseline, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        path = run_to_file(baseline, tmp_path / "cluster.nc", chunk_samples=4096,
                           scheduler=cluster.scheduler_address)
    _same_numbers(read_results(path), sim.simulate(baseline))


def test_run_records_wall_time_and_throughput(baseline):
    ds = sim.simulate(baseline)
    assert ds.attrs["wall_seconds"] > 0 and ds.attrs["samples_per_second"] > 0
    assert json.loads(ds.attrs["correlations"]) == []


def test_bad_scheduler_and_output_names(tmp_path, capsys):
    status, _, err = run_cli("run", CONFIGS / "baseline.toml", "--scheduler", "gpu",
                             capsys=capsys)
    assert status == 2 and "--scheduler" in err
    status, _, err = run_cli("run", CONFIGS / "baseline.toml", "--out", tmp_path / "x.csv",
                             capsys=capsys)
    assert status == 2 and ".nc" in err and ".zarr" in err
    status, _, err = run_cli("run", CONFIGS / "baseline.toml", "--max-memory", "lots",
                             capsys=capsys)
    assert status == 2 and "--max-memory" in err
