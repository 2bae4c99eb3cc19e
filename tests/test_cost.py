"""Cost per net soldier: the marginal cost against a finite difference done by hand (two
runs of `sim.simulate` with the recruitment level changed in the config, same seed), the
average against its definition, NaN where it is undefined, units and refusals."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.analysis.cost import COST_PAYERS, MEASURES, average_cost, cost_per_soldier

from .conftest import CONFIGS, minimal

# Hand-chosen test inputs (not reference data), with noise so that common random numbers
# matter, and a regional compensation top-up so that both payers move.
RECRUITS = 38_000.0
CONFIG = minimal(
    run={"samples": 200, "seed": 11},
    time={"months": 12},
    recruitment={"per_month": RECRUITS, "shock_sd": 0.2, "shock_persistence": 0.7,
                 "bonus_elasticity": {"dist": "uniform", "low": 0.2, "high": 0.8}},
    losses={"per_month": {"dist": "uniform", "low": 30_000, "high": 45_000},
            "shock_sd": 0.2, "shock_persistence": 0.8},
    fx={"rub_per_usd": 85.0, "volatility": 0.15},
    compensation={"regional_per_killed_rub": 1e6},
)
STEP = 0.05


def horizon_totals(ds):
    """Spend over the horizon by payer (float64 sums of the stored float32 ledger), the
    force change and the soldier-years, by hand from a run's outputs."""
    spend = ds.spend_rub.astype(np.float64).sum(["time", "item"])
    rub = np.stack([spend.sel(payer="federal").values, spend.sel(payer="regional").values])
    usd = (ds.spend_rub.astype(np.float64).sum("item") / ds.rub_per_usd).sum("time")
    usd = np.stack([usd.sel(payer="federal").values, usd.sel(payer="regional").values])
    force = ds.force_persons.astype(np.float64)
    years = (force.isel(time_bound=slice(None, -1)).values
             @ (ds.step_days.values / 365.25))
    return rub, usd, ds.force_change_persons.values.astype(np.float64), years


def test_marginal_cost_is_the_finite_difference_by_hand(write_config):
    """(C(R (1 + h)) - C(R (1 - h))) / (F_K(R (1 + h)) - F_K(R (1 - h))), by payer."""
    def run_at(factor, name):
        config = CONFIG | {"recruitment": CONFIG["recruitment"] | {"per_month":
                                                                   RECRUITS * factor}}
        return horizon_totals(sim.simulate(sim.load_scenario(write_config(config, name))))

    rub_up, usd_up, force_up, years_up = run_at(1 + STEP, "up.toml")
    rub_down, usd_down, force_down, years_down = run_at(1 - STEP, "down.toml")
    ds = cost_per_soldier(sim.load_scenario(write_config(CONFIG)), lever="recruitment",
                          relative_step=STEP)
    expected = (rub_up - rub_down) / (force_up - force_down)
    # the by-hand runs are stored in float32 (7 digits) and differenced over a 10% change
    np.testing.assert_allclose(
        ds.marginal_cost_rub_per_soldier.sel(payer=["federal", "regional"]).values.T,
        expected, rtol=2e-4)
    np.testing.assert_allclose(
        ds.marginal_cost_usd_per_soldier.sel(payer=["federal", "regional"]).values.T,
        (usd_up - usd_down) / (force_up - force_down), rtol=2e-4)
    np.testing.assert_allclose(
        ds.marginal_cost_rub_per_soldier_year.sel(payer="total").values,
        (rub_up - rub_down).sum(axis=0) / (years_up - years_down), rtol=2e-4)
    # one more recruit costs at least the federal bonus he is paid
    assert (ds.marginal_cost_rub_per_soldier.sel(payer="federal").values > 400_000).all()


def test_average_cost_against_its_definition(write_config):
    scenario = sim.load_scenario(write_config(CONFIG))
    ds = sim.simulate(scenario)
    rub, usd, force_change, years = horizon_totals(ds)
    costs = cost_per_soldier(scenario, lever="recruitment")
    grew = force_change > 0
    assert grew.any() and (~grew).any()  # both cases occur with these inputs
    total = costs.average_cost_rub_per_net_soldier.sel(payer="total").values
    np.testing.assert_allclose(total[grew], rub.sum(axis=0)[grew] / force_change[grew],
                               rtol=1e-5)
    assert np.isnan(total[~grew]).all()  # undefined where the force did not grow
    np.testing.assert_allclose(
        costs.average_cost_usd_per_soldier_year.sel(payer="regional").values,
        usd[1] / years, rtol=1e-5)
    # from the run's outputs, the same figures (float32 storage)
    from_results = average_cost(ds)
    np.testing.assert_allclose(from_results.average_cost_rub_per_soldier_year.values,
                               costs.average_cost_rub_per_soldier_year.values, rtol=1e-5)
    np.testing.assert_array_equal(
        np.isnan(from_results.average_cost_rub_per_net_soldier.values),
        np.isnan(costs.average_cost_rub_per_net_soldier.values))


def test_the_bonus_lever_with_some_zero_elasticity_gives_nan_not_infinity(write_config):
    """Samples whose elasticity is 0 get no extra soldier from a bonus: NaN."""
    config = CONFIG | {"recruitment": CONFIG["recruitment"] | {
        "bonus_elasticity": {"dist": "uniform", "low": 0.0, "high": 0.8}}}
    scenario = sim.load_scenario(write_config(config))
    ds = cost_per_soldier(scenario, lever="bonus")
    eps = sim.simulate(scenario).param_recruitment_bonus_elasticity.values
    marginal = ds.marginal_cost_rub_per_soldier.sel(payer="total").values
    assert np.isfinite(marginal[eps > 0.01]).all()
    assert not np.isinf(marginal).any()


def test_units_and_labels(write_config):
    ds = cost_per_soldier(sim.load_scenario(write_config(CONFIG)), lever="recruitment")
    assert list(ds.payer.values) == list(COST_PAYERS)
    for name, (units, long_name, _) in MEASURES.items():
        assert ds[name].attrs["units"] == units
        assert ds[name].attrs["long_name"] == long_name
        # total = federal + regional
        np.testing.assert_allclose(
            ds[name].sel(payer="total"),
            ds[name].sel(payer="federal") + ds[name].sel(payer="regional"), rtol=1e-9)
    assert ds.attrs["lever"] == "recruitment" and "config_resolved" in ds.attrs


def test_refusals():
    scenario = sim.load_scenario(CONFIGS / "baseline.toml")
    with pytest.raises(sim.UserError, match="bonus_elasticity is 0 in every sample"):
        cost_per_soldier(scenario, lever="bonus", samples=10)
    with pytest.raises(sim.UserError, match="relative_step"):
        cost_per_soldier(scenario, lever="recruitment", relative_step=0.0, samples=10)
    summary = sim.simulate(scenario, samples=100, keep="summary")
    with pytest.raises(sim.UserError, match="keep=\"full\""):
        average_cost(summary)
