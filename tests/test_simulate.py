"""simulate(): layout, attrs, provenance, block-size invariance, reproducibility, I/O."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import sim
from sim import io
from sim.core.units import DAYS_PER_MONTH
from sim.core.variables import outputs_for
from sim.priors.sampling import SEED_BLOCK_SAMPLES

from .conftest import CONFIGS, assert_same_run, minimal

N_ODD = 2 * SEED_BLOCK_SAMPLES + 123  # two full blocks and a partial one


@pytest.fixture(scope="module")
def baseline():
    return sim.load_scenario(CONFIGS / "baseline.toml")


@pytest.fixture(scope="module")
def small_run(baseline):
    return sim.simulate(baseline, samples=N_ODD, seed=42)


def test_layout_dims_and_core_names(small_run):
    ds = small_run
    assert ds.sizes == {"sample": N_ODD, "time": 24, "time_bound": 25, "year": 2, "claim": 17,
                        "quantile": 7, "payer": 2, "item": 3}
    for name in ("force_persons", "recruits_persons", "casualties_persons",
                 "irrecoverable_losses_persons", "bonus_rub_per_recruit",
                 "bonus_spend_rub_per_day", "bonus_spend_usd_per_day", "rub_per_usd"):
        assert name in ds
    assert ds.force_persons.dims == ("sample", "time_bound")
    assert ds.recruits_persons.dims == ("sample", "time")
    assert ds.recruits_persons.dtype == np.float32
    assert ds["param_recruitment_per_month"].dtype == np.float64
    assert str(ds.time.values[1])[:10] == "2025-02-01"
    assert ds.step_days.values[1] == 28


def test_every_variable_has_units_long_name_and_description(small_run, baseline):
    for name, da in small_run.variables.items():
        if name in ("time", "time_bound"):
            continue
        for attr in ("units", "long_name", "description"):
            assert da.attrs.get(attr), (name, attr)
    assert set(outputs_for(baseline.given)) <= set(small_run.data_vars)


def test_provenance_attrs(small_run, baseline):
    attrs = small_run.attrs
    assert attrs["seed"] == 42 and attrs["samples"] == N_ODD
    assert attrs["seed_block_samples"] == SEED_BLOCK_SAMPLES
    assert attrs["fiscal_strain_sim_version"] == sim.__version__
    assert attrs["design"] == "random"
    resolved = json.loads(attrs["config_resolved"])
    assert resolved["recruitment"]["per_month"]["low"] == 31_000
    assert len(json.loads(attrs["claims"])) == len(baseline.claims)


@pytest.mark.parametrize("chunk", [1, SEED_BLOCK_SAMPLES + 1, 10 * SEED_BLOCK_SAMPLES])
def test_results_do_not_depend_on_chunking(small_run, baseline, chunk):
    other = sim.simulate(baseline, samples=N_ODD, seed=42, chunk_samples=chunk)
    assert_same_run(small_run, other)


def test_same_seed_same_numbers_other_seed_other_numbers(small_run, baseline):
    again = sim.simulate(baseline, samples=N_ODD, seed=42)
    assert_same_run(small_run, again)
    other = sim.simulate(baseline, samples=N_ODD, seed=43)
    assert not np.array_equal(other.force_persons.values, small_run.force_persons.values)


def test_seed_sequence_is_accepted(baseline):
    a = sim.simulate(baseline, samples=10, seed=np.random.SeedSequence(7))
    b = sim.simulate(baseline, samples=10, seed=7)
    xr.testing.assert_equal(a, b)


def test_per_day_times_days_equals_step_totals(small_run):
    ds = small_run
    np.testing.assert_allclose(ds.bonus_spend_rub_per_day * ds.step_days, ds.bonus_spend_rub,
                               rtol=1e-6)
    manpower = ds.bonus_spend_rub + ds.pay_rub + ds.compensation_rub
    np.testing.assert_allclose(ds.manpower_cost_rub_per_day * ds.step_days, manpower,
                               rtol=2e-6)
    np.testing.assert_allclose(ds.bonus_spend_rub_by_year.sum("year"),
                               ds.bonus_spend_rub.sum("time"), rtol=1e-5)


def test_stock_flow_conservation_in_the_dataset(small_run):
    ds = small_run.astype(np.float64)
    # F_K + W_K + T_K + Q_K (docs/model.md, Conservation): the baseline trains recruits and
    # sends some to a reserve
    lhs = (ds.force_persons + ds.wounded_in_recovery_persons + ds.training_persons
           + ds.reserve_persons).isel(time_bound=-1)
    rhs = (ds.force_persons.isel(time_bound=0) + ds.recruits_persons.sum("time")
           - ds.irrecoverable_losses_persons.sum("time") - ds.other_exits_persons.sum("time"))
    # float32 storage: each of 24 steps carries a relative rounding of 6e-8.
    np.testing.assert_allclose(lhs, rhs, rtol=24 * 2 * 6e-8 * 3)


def test_zero_noise_config_matches_hand_calculation(write_config):
    scenario = sim.load_scenario(write_config(minimal(losses={"return_to_duty_share": 0.0})))
    ds = sim.simulate(scenario, samples=3, seed=0)
    months = ds.step_days.values.sum() / DAYS_PER_MONTH
    expected_force = 600_000 + (40_000 - 35_000) * months
    np.testing.assert_allclose(ds.force_persons.values[:, -1], expected_force, rtol=1e-7)
    spend = 40_000 * 1_500_000 * months
    np.testing.assert_allclose(ds.bonus_spend_rub.sum("time"), spend, rtol=1e-6)
    np.testing.assert_allclose(ds.bonus_spend_usd_per_day, 40_000 * 1.5e6 / DAYS_PER_MONTH / 85,
                               rtol=1e-6)
    share = 40_000 * 1.5e6 / DAYS_PER_MONTH * 365.25 / 13.49e12
    np.testing.assert_allclose(ds.bonus_share_of_defense, share, rtol=1e-6)
    assert not [v for v in ds.data_vars if v.startswith("param_")]  # nothing uncertain


def test_netcdf_round_trip_is_exact(small_run, tmp_path):
    path = io.write_netcdf(small_run, tmp_path / "run.nc")
    back = io.read_results(path)
    assert_same_run(small_run, back)
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]


def test_write_failure_leaves_no_file(small_run, tmp_path):
    bad = small_run.assign_attrs(unserialisable={"a": 1})
    with pytest.raises(TypeError):
        io.write_netcdf(bad, tmp_path / "run.nc")
    assert list(tmp_path.iterdir()) == []


def test_read_results_rejects_foreign_and_truncated_files(small_run, tmp_path):
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(sim.UserError, match="not a fiscal-strain-sim results file"):
        io.read_results(foreign)
    path = io.write_netcdf(small_run, tmp_path / "run.nc")
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(sim.UserError, match="not a readable"):
        io.read_results(truncated)


def test_memory_check_refuses_before_running(baseline):
    with pytest.raises(sim.UserError, match="samples fit"):
        sim.simulate(baseline, samples=10**9, seed=1, available_bytes=2**30)
