"""The regions' response against hand calculations: the cut factor (1 - zeta)^(D/M) on
monthly and daily grids, the stress it reacts to, the floor, recovery to (never above) 1,
first_cut_date and months_cutting; no response outputs without the section; a higher
threshold never cuts earlier; bad [regional_response] input through the CLI; and every
mechanism end to end through sim.load_scenario / sim.simulate and a netCDF file."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import sim
from sim.core.model import Noise, run_model
from sim.core.schedules import build_schedule
from sim.core.schema import entry_key
from sim.core.timegrid import build_time_grid
from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.io import read_results, write_results

from .conftest import check_refused, minimal, run_cli
from .test_model import params

# Hand-chosen test inputs: MINIMAL's 40,000 recruits a month at a regional bonus of
# 1,100,000 RUB spend about 4.5e10 RUB a month, 5.4e11 a year: a regional revenue of
# 1e12 RUB/year gives a stress of about 0.54, one of 1e14 about 0.005.
NO_NOISE = Noise(None, None, None)
START = dt.date(2025, 1, 1)
D = dt.date
M = DAYS_PER_MONTH
ULP = np.finfo(float).eps
PRODUCT = 1e-12
"""Relative tolerance of a product of up to ~400 factors against one power: each
multiplication rounds by <= 1 ulp (2.2e-16), so 400 steps stay within 1e-13."""
LOW_STRESS_REVENUE, HIGH_STRESS_REVENUE = 1e14, 1e12
RESPONSE_OUTPUTS = ("regional_bonus_multiplier", "regional_stress",
                    "regional_bonus_rub_per_recruit", "first_cut_date", "months_cutting")


def response(threshold=0.0, cut=0.1, recovery=0.0, floor=0.0, revenue=1e13, **more):
    return {"regional_response.stress_threshold": threshold,
            "regional_response.cut_per_month": cut,
            "regional_response.recovery_per_month": recovery,
            "regional_response.floor_rub": floor, "budget.regional_revenue_rub": revenue,
            **more}


def run(p, months=12, step="month", schedules=None, noise=NO_NOISE):
    grid = build_time_grid(START, months, step)
    return grid, run_model(p, noise, grid.days, grid.years_elapsed, "absolute",
                           schedules or {})


def revenue_schedule(p: dict, grid, entries: dict[dt.date, float]):
    """`p` with budget.regional_revenue_rub as dated entries, and its schedule."""
    key = "budget.regional_revenue_rub"
    q = {k: v for k, v in p.items() if k != key}
    n = len(p["force.initial_persons"])
    for date, value in entries.items():
        q[entry_key(key, date)] = np.full(n, float(value))
    return q, {key: build_schedule(key, sorted(entries), grid.starts)}


def by_hand(days, stressed, zeta, eta, floor_share=0.0):
    """c_k by the rule, given which steps are over the threshold."""
    c = [1.0]
    for d, over in zip(days[:-1], stressed[:-1], strict=True):
        nxt = c[-1] * (1 - zeta) ** (d / M) if over else min(1.0, c[-1] * (1 + eta) ** (d / M))
        c.append(max(floor_share, nxt))
    return np.array(c)


# ---- the rule -----------------------------------------------------------------------------


@pytest.mark.parametrize("step, months", [("month", 12), ("day", 6)])
def test_stress_above_threshold_cuts_by_exactly_the_factor(step, months):
    """theta = 0: every step is over it, so c_{k+1} = c_k (1 - zeta)^(D_k/M) and
    c_k = (1 - zeta)^(t_k / M) with t_k the days since the start."""
    zeta = 0.1
    grid, out = run(params(response(cut=zeta)), months=months, step=step)
    c = out["regional_bonus_multiplier"][:, 0]
    np.testing.assert_allclose(c[1:] / c[:-1], (1 - zeta) ** (grid.days[:-1] / M),
                               rtol=4 * ULP)
    elapsed = np.cumsum(grid.days) - grid.days
    np.testing.assert_allclose(c, (1 - zeta) ** (elapsed / M), rtol=PRODUCT)
    assert c[0] == 1.0
    # the paid regional bonus, the bonus per recruit and the regions' bonus bill follow c_k
    np.testing.assert_allclose(out["regional_bonus_rub_per_recruit"][:, 0], c * 1_100_000,
                               rtol=ULP)
    np.testing.assert_allclose(out["bonus_rub_per_recruit"][:, 0], 400_000 + c * 1_100_000,
                               rtol=ULP)
    np.testing.assert_allclose(out["spend_rub"][:, 1, 0, 0],
                               out["recruits"][:, 0] * c * 1_100_000, rtol=2 * ULP)


def test_stress_is_the_regions_annualised_spend_over_revenue():
    """sigma_k = (regional bonuses + regional compensation paid) / D_k x 365.25 / revenue_k,
    with revenue grown at budget.growth."""
    g = 0.1
    p = params(response(threshold=0.3, revenue=2e12, **{
        "budget.growth": g, "compensation.regional_per_killed_rub": 3e6,
        "compensation.regional_per_wounded_rub": 5e5}))
    grid, out = run(p, months=13)
    regional = out["spend_rub"][:, 1, 0, 0] + out["spend_rub"][:, 1, 2, 0]
    revenue = 2e12 * (1 + g) ** grid.years_elapsed
    np.testing.assert_allclose(out["regional_stress"][:, 0],
                               regional / grid.days * DAYS_PER_YEAR / revenue, rtol=1e-13)
    # compensation is in it: without the top-ups the stress is lower
    np.testing.assert_array_less(out["spend_rub"][:, 1, 0, 0] / grid.days * DAYS_PER_YEAR
                                 / revenue, out["regional_stress"][:, 0])


def test_floor_holds_as_the_bonus_grows():
    """c_{k+1} = max(floor / B_reg,k+1, c_k (1 - zeta)^(D_k/M)): the regional bonus paid
    falls to the floor and stays on it while the scheduled bonus grows 50% a year."""
    floor, zeta, g = 660_000.0, 0.2, 0.5
    p = params(response(cut=zeta, floor=floor, **{"bonus.regional_growth": g}))
    grid, out = run(p, months=24)
    scheduled_bonus = 1_100_000 * (1 + g) ** grid.years_elapsed
    c = [1.0]
    for k in range(grid.n_steps - 1):
        c.append(max(floor / scheduled_bonus[k + 1], c[k] * (1 - zeta) ** (grid.days[k] / M)))
    np.testing.assert_allclose(out["regional_bonus_multiplier"][:, 0], c, rtol=PRODUCT)
    paid = out["regional_bonus_rub_per_recruit"][:, 0]
    assert np.all(paid >= floor * (1 - 2 * ULP))
    np.testing.assert_allclose(paid[4:], floor, rtol=2 * ULP)  # on the floor from May


@pytest.mark.parametrize("regional, floor", [(1_100_000, 2e6), (0, 0.0)],
                         ids=["floor above the bonus", "no regional bonus"])
def test_no_cut_possible_keeps_c_at_one(regional, floor):
    """f_k = 1 (floor >= B_reg, or B_reg = 0): the regions never cut."""
    p = params(response(cut=0.5, floor=floor, **{"bonus.regional_rub": regional,
                                                 "compensation.regional_per_killed_rub": 1e7}))
    _, out = run(p, months=6)
    assert out["regional_stress"].min() > 0  # over the threshold throughout
    np.testing.assert_array_equal(out["regional_bonus_multiplier"], 1.0)
    assert np.isnan(out["first_cut_days"][0])
    assert out["months_cutting"][0] == 0.0


def test_recovery_back_to_one_and_never_above():
    """High stress January to March (revenue 1e12), low from April (1e14): c falls by
    0.9^(D/M) for three steps, then grows by 1.1^(D/M) until capped at exactly 1."""
    zeta, eta = 0.1, 0.1
    grid = build_time_grid(START, 12, "month")
    p, schedules = revenue_schedule(
        params(response(threshold=0.1, cut=zeta, recovery=eta)), grid,
        {D(2024, 1, 1): HIGH_STRESS_REVENUE, D(2025, 4, 1): LOW_STRESS_REVENUE})
    _, out = run(p, schedules=schedules)
    stressed = out["regional_stress"][:, 0] > 0.1
    assert stressed.tolist() == [True] * 3 + [False] * 9  # the case is as designed
    expected = by_hand(grid.days, stressed, zeta, eta)
    np.testing.assert_allclose(out["regional_bonus_multiplier"][:, 0], expected, rtol=PRODUCT)
    c = out["regional_bonus_multiplier"][:, 0]
    assert c[3] < 0.75 and np.all(c <= 1.0)
    assert np.all(c[8:] == 1.0)  # recovered in full, exactly


def test_low_stress_with_recovery_stays_at_one():
    p = params(response(threshold=0.1, recovery=0.5, revenue=LOW_STRESS_REVENUE))
    _, out = run(p, months=6)
    np.testing.assert_array_equal(out["regional_bonus_multiplier"], 1.0)


# ---- first_cut_date and months_cutting -----------------------------------------------------


def test_first_cut_and_months_cutting_by_hand():
    """Three samples, thresholds 0, 0.1 and 10. Revenue: low stress in January and
    February, high in March and April, low again from May (eta = 0.1 a month).
    - theta = 0: cuts from step 1 (31 days in) to the end: (365 - 31) / M months;
    - theta = 0.1: stressed in March and April, so c < 1 from April 1 (day 90) and, as it
      recovers ~0.81 -> 0.89 -> 0.98 -> 1, through July: (30 + 31 + 30 + 31) / M months;
    - theta = 10: never cuts: NaN and 0."""
    grid = build_time_grid(START, 12, "month")
    p, schedules = revenue_schedule(
        params(response(recovery=0.1), n=3), grid,
        {D(2024, 1, 1): LOW_STRESS_REVENUE, D(2025, 3, 1): HIGH_STRESS_REVENUE,
         D(2025, 5, 1): LOW_STRESS_REVENUE})
    p["regional_response.stress_threshold"] = np.array([0.0, 0.1, 10.0])
    _, out = run(p, schedules=schedules)
    c = out["regional_bonus_multiplier"][:, 1]
    assert (c < 1).tolist() == [False] * 3 + [True] * 4 + [False] * 5
    np.testing.assert_array_equal(out["first_cut_days"], [31.0, 90.0, np.nan])
    np.testing.assert_allclose(out["months_cutting"], [334 / M, 122 / M, 0.0], rtol=ULP)


def test_first_cut_on_a_daily_grid():
    p = params(response(), n=2)
    p["regional_response.stress_threshold"] = np.array([0.0, 10.0])
    grid, out = run(p, months=2, step="day")
    np.testing.assert_array_equal(out["first_cut_days"], [1.0, np.nan])
    np.testing.assert_allclose(out["months_cutting"], [(grid.n_steps - 1) / M, 0.0],
                               rtol=4 * ULP)


def test_response_outputs_absent_without_the_section(write_config):
    _, out = run(params({"budget.regional_revenue_rub": 1e12}), months=3)
    for name in ("regional_bonus_multiplier", "regional_stress", "first_cut_days",
                 "months_cutting"):
        assert name not in out
    scenario = sim.load_scenario(write_config(minimal(budget={"regional_revenue_rub": 1e12})))
    ds = sim.simulate(scenario, samples=2, seed=0)
    assert "regional_manpower_share_of_regional_revenue" in ds  # the revenue is used
    for name in RESPONSE_OUTPUTS:
        assert name not in ds, name
    with_section = sim.simulate(sim.load_scenario(write_config(minimal(
        budget={"regional_revenue_rub": 1e12},
        regional_response={"stress_threshold": 0.2, "cut_per_month": 0.1}), "on.toml")),
        samples=2, seed=0)
    for name in RESPONSE_OUTPUTS:
        assert name in with_section, name


# ---- direction: a higher threshold never cuts earlier --------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_higher_threshold_never_cuts_earlier(seed):
    """Per sample, with common random numbers: the two runs are identical until the lower
    threshold's first cut, so the higher threshold's first cut is no earlier (or NaN)."""
    n = 400
    rng = np.random.default_rng(seed)
    p = params({"recruitment.shock_sd": 0.5, "recruitment.shock_persistence": 0.6,
                "losses.shock_sd": 0.4}, n=n)
    p.update(response())
    p.update({
        "recruitment.bonus_elasticity": rng.uniform(-0.5, 2, n),
        "regional_response.cut_per_month": rng.uniform(0, 0.5, n),
        "regional_response.recovery_per_month": rng.uniform(0, 0.5, n),
        "regional_response.floor_rub": rng.uniform(0, 1e6, n),
        "budget.regional_revenue_rub": rng.uniform(3e11, 5e12, n),
        "compensation.regional_per_killed_rub": rng.uniform(0, 5e6, n),
        "compensation.delay_months": rng.uniform(0, 4, n),
        "recruitment.pool_persons": rng.uniform(2e5, 2e6, n),
    })
    low = rng.uniform(0, 0.8, n)
    high = low + rng.exponential(0.1, n)
    grid = build_time_grid(START, 24, "month")
    shape = (grid.n_steps, n)
    noise = Noise(rng.standard_normal(shape), rng.standard_normal(shape), None)

    def first_cut(threshold):
        q = {**p, "regional_response.stress_threshold": threshold}
        return run_model(q, noise, grid.days, grid.years_elapsed, "absolute")["first_cut_days"]

    early, late = first_cut(low), first_cut(high)
    both = ~np.isnan(early) & ~np.isnan(late)
    assert np.all(late[both] >= early[both])
    assert np.all(np.isnan(late[np.isnan(early)]))  # no cut at the low one: none higher
    # not vacuous: some samples cut in both, some later, some only at the low threshold
    assert both.sum() > n // 10
    assert np.any(late[both] > early[both])
    assert np.any(np.isnan(late) & ~np.isnan(early))


# ---- bad input through the CLI ------------------------------------------------------------

REVENUE = {"regional_revenue_rub": 3e12}
BAD = {
    "[regional_response] without budget.regional_revenue_rub": (
        minimal(regional_response={"stress_threshold": 0.1, "cut_per_month": 0.1}),
        "regional_response", "budget.regional_revenue_rub"),
    "missing stress_threshold": (
        minimal(regional_response={"cut_per_month": 0.1}, budget=REVENUE),
        "regional_response.stress_threshold", "missing required value"),
    "missing cut_per_month": (
        minimal(regional_response={"stress_threshold": 0.1}, budget=REVENUE),
        "regional_response.cut_per_month", "missing required value"),
    "cut_per_month above 1": (
        minimal(regional_response={"stress_threshold": 0.1, "cut_per_month": 1.5},
                budget=REVENUE),
        "regional_response.cut_per_month", "expected values in [0, 1]"),
    "negative stress_threshold": (
        minimal(regional_response={"stress_threshold": -0.1, "cut_per_month": 0.1},
                budget=REVENUE),
        "regional_response.stress_threshold", "expected values"),
    "negative floor_rub": (
        minimal(regional_response={"stress_threshold": 0.1, "cut_per_month": 0.1,
                                   "floor_rub": -1}, budget=REVENUE),
        "regional_response.floor_rub", "expected values"),
    "unknown key": (
        minimal(regional_response={"stress_threshold": 0.1, "cut_per_month": 0.1,
                                   "cut_per_year": 0.1}, budget=REVENUE),
        "regional_response.cut_per_year", "unknown key"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_response_input_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys):
    check_refused(*BAD[case], tmp_path, capsys)


# ---- every mechanism end to end -----------------------------------------------------------

EVERYTHING = minimal(
    run={"samples": 16, "seed": 3},
    force={"other_exit_rate": 0.01},
    recruitment={"pay_weight": 1.0, "pool_persons": 2e6, "training_months": 1.5,
                 "deployed_share": 0.8, "bonus_elasticity": 0.5, "shock_sd": 0.2,
                 "shock_persistence": 0.5},
    bonus={"regional_growth": 0.1},
    wage={"monthly_rub": 90_000, "growth": 0.08},
    regional_response={"stress_threshold": "0.05 to 0.9", "cut_per_month": 0.1,
                       "recovery_per_month": 0.05, "floor_rub": 300_000},
    budget={"regional_revenue_rub": 2e12},
    compensation={"delay_months": 2.0, "take_up_share": 0.9, "regional_per_killed_rub": 2e6},
    losses={"missing_declared_dead_share": 0.5, "missing_declaration_months": 6.0},
)


def test_every_mechanism_end_to_end_and_through_netcdf(write_config, tmp_path):
    scenario = sim.load_scenario(write_config(EVERYTHING))
    ds = sim.simulate(scenario)
    n, k = 16, 6
    expected_dims = {
        "first_cut_date": ("sample",), "months_cutting": ("sample",),
        "regional_bonus_multiplier": ("sample", "time"), "regional_stress": ("sample", "time"),
        "regional_bonus_rub_per_recruit": ("sample", "time"),
        "training_persons": ("sample", "time_bound"), "reserve_persons": ("sample", "time_bound"),
        "missing_awaiting_declaration_persons": ("sample", "time_bound"),
        "compensation_owed_rub": ("sample", "time_bound"),
        "compensation_rub": ("sample", "time"),
    }
    for name, dims in expected_dims.items():
        assert ds[name].dims == dims, name
        assert ds[name].shape == tuple({"sample": n, "time": k, "time_bound": k + 1}[d]
                                       for d in dims), name
    first = ds.first_cut_date
    assert first.attrs["units"] == "day" and first.attrs["reference_date"] == "2025-01-01"
    assert ds.months_cutting.attrs["units"] == "month"
    assert ds.regional_bonus_multiplier.attrs["units"] == "1"
    # every mechanism did something
    assert float(ds.training_persons.isel(time_bound=-1).min()) > 0
    assert float(ds.reserve_persons.isel(time_bound=-1).min()) > 0
    assert float(ds.compensation_owed_rub.isel(time_bound=-1).min()) > 0
    assert float(ds.missing_awaiting_declaration_persons.isel(time_bound=-1).min()) > 0
    cut = ~np.isnan(first.values)
    assert cut.any() and not cut.all()  # the threshold's range splits the samples
    np.testing.assert_array_equal(ds.months_cutting.values[~cut], 0.0)
    assert set(np.unique(first.values[cut])) <= set(
        (ds.time.values - np.datetime64("2025-01-01")) / np.timedelta64(1, "D"))
    multiplier = ds.regional_bonus_multiplier.values
    assert np.all((multiplier > 0) & (multiplier <= 1))

    # written and read back, first_cut_date is the same days (NaN where never cut)
    path = write_results(ds, tmp_path / "all.nc")
    back = read_results(path)
    np.testing.assert_array_equal(back.first_cut_date.values, first.values)
    assert back.first_cut_date.attrs["reference_date"] == "2025-01-01"
    np.testing.assert_array_equal(back.months_cutting.values, ds.months_cutting.values)


def test_every_mechanism_through_the_cli_file(write_config, tmp_path, capsys):
    """`run --out` (written chunk by chunk) gives the same first_cut_date as in memory."""
    path = write_config(EVERYTHING)
    status, _, err = run_cli("run", path, "--out", tmp_path / "run.nc", capsys=capsys)
    assert status == 0, err
    back = read_results(tmp_path / "run.nc")
    in_memory = sim.simulate(sim.load_scenario(path))
    np.testing.assert_array_equal(back.first_cut_date.values, in_memory.first_cut_date.values)
    assert back.first_cut_date.attrs["reference_date"] == "2025-01-01"


def test_summary_shows_the_cuts_in_memory_and_read_back(write_config, tmp_path):
    """The summary's probability that the regions cut is the share of samples with a first
    cut date (the same figure in memory and read back from a file), and the
    months of cuts appear among the outcomes."""
    config = minimal(regional_response={"stress_threshold": "0.02 to 0.04",
                                        "cut_per_month": 0.2},
                     budget={"regional_revenue_rub": 2.5e13},
                     bonus={"regional_rub": "0.5e6 to 2e6"})
    ds = sim.simulate(sim.load_scenario(write_config(config)), samples=400, seed=3)
    cut = np.isfinite(ds.first_cut_date.values)
    assert 0 < cut.mean() < 1  # the test means something: some samples cut, some not
    table = sim.summarize(ds).probabilities.set_index("event")
    assert table.loc["regions cut their bonuses within the horizon", "probability"] == (
        cut.mean())
    write_results(ds, tmp_path / "r.nc")
    back = sim.summarize(read_results(tmp_path / "r.nc"))
    assert back.probabilities.equals(sim.summarize(ds).probabilities)
    outcomes = sim.summarize(ds).outcomes.set_index("quantity")
    assert outcomes.loc["months_cutting", "mean"] == pytest.approx(
        float(ds.months_cutting.mean()), rel=1e-6)
