"""Sweeps and comparisons: expansion, coordinates, equality with single runs, bad files."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import sim
from sim.analysis.experiments import (
    compare_experiments,
    comparison_table,
    load_sweep,
    run_experiments,
    run_experiments_to_file,
    sweep_work_path,
)
from sim.io import read_results
from sim.run.streamed import partial_path

from .conftest import CONFIGS, run_cli, run_subprocess

BASE = str(CONFIGS / "baseline.toml")


@pytest.fixture
def write_sweep(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "sweep.toml"
        path.write_text(f'base = "{BASE}"\n' + text)
        return str(path)

    return write


def test_factorial_expansion_and_coordinates(write_sweep):
    path = write_sweep('[run]\nsamples = 300\n[factors]\n"bonus.regional_growth" = [0.0, 0.2]\n'
                       '"recruitment.bonus_elasticity" = [0.0, 0.3, 0.6]\n')
    experiments = load_sweep(path)
    assert len(experiments) == 6
    ds = run_experiments(experiments)
    assert ds.sizes["scenario"] == 6 and ds.sizes["sample"] == 300
    np.testing.assert_array_equal(ds["bonus.regional_growth"], [0, 0, 0, 0.2, 0.2, 0.2])
    np.testing.assert_array_equal(ds["recruitment.bonus_elasticity"], [0, 0.3, 0.6] * 2)
    assert "param_bonus_regional_growth" not in ds  # fixed in every scenario


def test_zip_and_per_scenario_results_equal_single_runs(write_sweep):
    path = write_sweep('combine = "zip"\n[run]\nsamples = 500\nseed = 9\n[factors]\n'
                       '"recruitment.per_month" = ["40_000 to 50_000", 45000]\n'
                       '"fx.drift" = [0.0, -0.1]\n')
    experiments = load_sweep(path)
    assert [e.factors["fx.drift"] for e in experiments] == [0.0, -0.1]
    ds = run_experiments(experiments)
    assert list(ds["recruitment.per_month"].values) == ["40_000 to 50_000", "45000"]
    # Uncertain in scenario 0, fixed by the factor in scenario 1: filled with the value.
    assert np.all(ds.param_recruitment_per_month.sel(scenario=1) == 45000)
    assert ds.param_recruitment_per_month.sel(scenario=0).std() > 0
    for i, experiment in enumerate(experiments):
        alone = sim.simulate(experiment.scenario, samples=500, seed=9)
        one = ds.isel(scenario=i)
        for name in ("force_persons", "bonus_spend_usd_per_day", "claim_value",
                     "param_recruitment_shock_sd"):
            np.testing.assert_array_equal(one[name].values, alone[name].values, err_msg=name)


def test_sampled_factor_is_a_latin_hypercube_over_scenarios(write_sweep):
    path = write_sweep('n_scenarios = 8\n[run]\nsamples = 64\n[factors]\n'
                       '"recruitment.per_month" = { sample = "30_000 to 50_000" }\n'
                       '"bonus.regional_growth" = [0.0, 0.1]\n')
    experiments = load_sweep(path)
    assert len(experiments) == 16
    values = np.array([e.factors["recruitment.per_month"] for e in experiments[:8]])
    prior = sim.priors.distributions.prior_from_value("30_000 to 50_000")
    strata = np.floor(prior.dist.cdf(values) * 8).astype(int)
    assert sorted(strata) == list(range(8))
    assert [e.factors["recruitment.per_month"] for e in experiments[8:]] == list(values)


def test_sources_sweep_and_comparison_table():
    experiments = load_sweep(CONFIGS / "sweeps" / "sources.toml", samples=2000)
    labels = ["baseline", "seed_article", "independent", "official"]
    assert [e.label for e in experiments] == labels
    assert {e.scenario.samples for e in experiments} == {2000}
    table = comparison_table(run_experiments(experiments))
    assert list(table.scenario) == labels
    # Kelin's 600k troops: inside the baseline's band, below the official one's (700k).
    assert table["Kelin: ~600k troops fighting"][0].startswith("inside")
    assert table["Kelin: ~600k troops fighting"][3].startswith("below")
    # numbers for people: the share in %, months with one decimal, amounts with suffixes
    assert re.fullmatch(r"\d+\.\d% \[\d+\.\d%, \d+\.\d%\]",
                        table["bonus_share_of_defense_horizon"][0])
    assert re.fullmatch(r"\d+\.\d \[\d+\.\d, \d+\.\d\]", table["months_of_decline"][0])
    assert table["bonus_spend_usd_per_day_mean"][0].endswith("M]")


def test_bonus_escalation_sweep_is_a_3x3_factorial():
    experiments = load_sweep(CONFIGS / "sweeps" / "bonus_escalation.toml")
    assert len(experiments) == 9
    pairs = {(e.factors["bonus.regional_growth"], e.factors["recruitment.bonus_elasticity"])
             for e in experiments}
    assert pairs == {(g, e) for g in (0.0, 0.1, 0.2) for e in (0.0, 0.3, 0.6)}


def test_cli_sweep_and_compare_write_files(tmp_path, capsys):
    out = tmp_path / "sweep.nc"
    status, text, err = run_cli("sweep", CONFIGS / "sweeps" / "sources.toml", "--samples", 500,
                                "--out", out, capsys=capsys)
    assert status == 0, err
    assert "C7: Kelin: ~600k troops fighting" in text
    ds = read_results(out)
    assert ds.sizes["scenario"] == 4 and ds.scenario_label.values[0] == "baseline"
    status, text, err = run_cli("compare", CONFIGS / "baseline.toml",
                                CONFIGS / "official.toml", "--samples", 300, "--keep",
                                "summary", "--out", tmp_path / "cmp.zarr", capsys=capsys)
    assert status == 0, err
    cmp = read_results(tmp_path / "cmp.zarr")
    assert "force_persons" not in cmp and "force_persons_quantiles" in cmp
    assert list(cmp.config.values) == ["baseline.toml", "official.toml"]


BAD = {
    "unknown factor key": ('[factors]\n"recruitment.per_mnth" = [1]\n',
                           "factors.recruitment.per_mnth", "did you mean 'recruitment.per_month'"),
    "empty list": ('[factors]\n"fx.drift" = []\n', "factors.fx.drift", "empty list"),
    "zip unequal": ('combine = "zip"\n[factors]\n"fx.drift" = [0.0, 0.1]\n'
                    '"pay.growth" = [0.0]\n', "factors", "equal length"),
    "breaks a prior": ('[factors]\n"losses.killed_share" = [0.2, 1.5]\n',
                       "factors.losses.killed_share", "1.5"),
    "unknown top key": ('factorz = 1\n', "factorz", "unknown key"),
    "no factors": ('[run]\nsamples = 10\n', "factors", "at least one key"),
    "sampled without n": ('[factors]\n"fx.drift" = { sample = "-0.1 to 0.1" }\n',
                          "n_scenarios", "integer >= 1"),
    "bad combine": ('combine = "cross"\n[factors]\n"fx.drift" = [0.0]\n', "combine",
                    "factorial or zip"),
    "not a list": ('[factors]\n"fx.drift" = 0.1\n', "factors.fx.drift", "list of values"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_sweep_files_exit_2(case, write_sweep, tmp_path, capsys):
    text, key, words = BAD[case]
    path = write_sweep(text)
    status, _, err = run_cli("sweep", path, "--out", tmp_path / "o.nc", capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert path in err and key in err and words in err, err
    assert not (tmp_path / "o.nc").exists()


def test_sweep_with_missing_base(tmp_path, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text('base = "nowhere.toml"\n[factors]\n"fx.drift" = [0.0]\n')
    status, _, err = run_cli("sweep", path, capsys=capsys)
    assert status == 2 and "base" in err and "does not exist" in err


def test_compare_configs_with_different_horizons(tmp_path):
    short = tmp_path / "short.toml"
    short.write_text(f'extends = "{BASE}"\n[time]\nmonths = 12\n[run]\nsamples = 200\n')
    experiments = compare_experiments([BASE, str(short)], ["run.samples=200"])
    ds = run_experiments(experiments)
    assert ds.sizes["time"] == 24 and ds.sizes["scenario"] == 2
    # Stacking separate runs keeps every variable's units and description.
    assert all(ds[name].attrs.get("units") and ds[name].attrs.get("description")
               for name in ds.data_vars)
    # The shorter scenario has no values beyond its horizon.
    assert np.isnan(ds.recruits_persons.sel(scenario=1).isel(time=-1)).all()
    assert np.isfinite(ds.recruits_persons.sel(scenario=1).isel(time=0)).all()
    alone = sim.simulate(experiments[1].scenario)
    np.testing.assert_array_equal(ds.force_change_persons.sel(scenario=1),
                                  alone.force_change_persons)


# ---------------------------------------------------------------- sweeps to disk


def _values(ds):
    """The sweep's variables and coordinates, loaded (attrs aside)."""
    return ds.load().drop_attrs(deep=False)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_a_sweep_to_disk_holds_the_in_memory_sweeps_numbers(write_sweep, tmp_path, suffix):
    experiments = load_sweep(write_sweep('[run]\nsamples = 5000\n[factors]\n'
                                         '"bonus.regional_growth" = [0.0, 0.2]\n'))
    out = tmp_path / f"s{suffix}"
    run_experiments_to_file(experiments, out)
    on_disk, in_memory = read_results(out), run_experiments(experiments)
    xr.testing.assert_identical(_values(on_disk), _values(in_memory))
    assert on_disk.attrs["scenarios"] == 2 and not sweep_work_path(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s" + suffix, "sweep.toml"]


def test_a_killed_sweep_resumes_where_it_stopped(write_sweep, tmp_path):
    """Killed (SIGKILL) in the second scenario's second chunk: --resume keeps the first
    scenario, resumes the second from its checkpoint, and writes the same file."""
    sweep = write_sweep('[run]\nsamples = 12000\n[factors]\n'  # 2 chunks of 8192 each
                        '"bonus.regional_growth" = [0.0, 0.2]\n')
    out, reference = tmp_path / "s.nc", tmp_path / "reference.nc"
    args = ("sweep", sweep, "--out", out, "--no-progress")
    env = {**os.environ, "FISCAL_SIM_FAULT": "checkpointed:3:kill"}
    killed = subprocess.run([sys.executable, "-m", "sim", *map(str, args)], env=env,
                            capture_output=True, text=True, check=False)
    assert killed.returncode == -9, killed.stderr
    work = sweep_work_path(out)
    assert (work / "0000.zarr").is_dir() and not out.exists()
    assert partial_path(work / "0001.zarr").is_dir()
    resumed = run_subprocess(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert run_subprocess("sweep", sweep, "--out", reference).returncode == 0
    xr.testing.assert_identical(_values(read_results(out)), _values(read_results(reference)))
    assert not work.exists()


def test_resuming_a_sweep_needs_its_partial_folder_and_settings(write_sweep, tmp_path, capsys):
    sweep = write_sweep('[run]\nsamples = 300\n[factors]\n"bonus.regional_growth" = [0.0]\n')
    out = tmp_path / "s.nc"
    status, _, err = run_cli("sweep", sweep, "--out", out, "--resume", capsys=capsys)
    assert status == 2 and err.strip().endswith(
        f"--resume: no partial sweep to resume at {sweep_work_path(out)}"), err
    work = sweep_work_path(out)
    work.mkdir()  # a folder the tool did not make is never deleted
    (work / "mine.txt").write_text("keep me")
    status, _, err = run_cli("sweep", sweep, "--out", out, capsys=capsys)
    assert status == 2 and "was not written by fiscal-sim" in err
    assert (work / "mine.txt").read_text() == "keep me"
