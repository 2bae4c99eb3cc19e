"""Schedules (history as data) against hand calculations: which entry is in force in each
step, growth from the step an entry takes effect, scheduled growth and inflation rates,
the exchange rate's known path and the walk after it; in the core (`run_model` with
`build_schedule`) and end to end (`sim.load_scenario` + `sim.simulate`)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import sim
from sim.core.metrics import derive
from sim.core.model import Noise, run_model
from sim.core.schedules import build_schedule
from sim.core.schema import entry_key
from sim.core.timegrid import build_time_grid
from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR

from .conftest import CONFIGS, minimal, to_toml
from .test_model import params

# The figures are hand-chosen test inputs (MINIMAL's 600,000 persons, 40,000 recruits and
# 35,000 casualties a month, bonus 400,000 + 1,100,000 RUB, ...), not reference data.
FALSE_FAILURE_RATE = 1e-6
Z = stats.norm.isf(FALSE_FAILURE_RATE / 2)
NO_NOISE = Noise(None, None, None)
START = dt.date(2025, 1, 1)
D = dt.date
F32 = 1e-6
"""Relative tolerance for results stored as float32 (rounding <= 2^-24 ~ 6e-8 relative)."""
ULPS = 4 * np.finfo(float).eps
"""A few float64 ulps: a known exchange rate goes through log and exp."""


def scheduled(p: dict, grid, entries_by_key: dict[str, dict[dt.date, float]]):
    """`p` with each key of `entries_by_key` replaced by its dated entries (the plain key is
    removed, so a read of it fails), and the keys' `Schedule`s on `grid`."""
    q = dict(p)
    n = len(p["force.initial_persons"])
    schedules = {}
    for key, entries in entries_by_key.items():
        q.pop(key, None)
        dates = sorted(entries)
        for date in dates:
            q[entry_key(key, date)] = np.broadcast_to(
                np.asarray(entries[date], dtype=float), (n,)).copy()
        schedules[key] = build_schedule(key, dates, grid.starts)
    return q, schedules


def run(p, grid, schedules=None, noise=NO_NOISE, mode="absolute"):
    return run_model(p, noise, grid.days, grid.years_elapsed, mode, schedules or {})


def elapsed_years(grid, date: dt.date) -> np.ndarray:
    """(t_k - date) / 365.25 for every step start [year]."""
    return (grid.starts - np.datetime64(date, "D")).astype(float) / DAYS_PER_YEAR


def compounded(rates: list[float], days: np.ndarray) -> np.ndarray:
    """G_k = sum over i < k of log(1 + g_i) D_i / 365.25, by a plain loop."""
    out, total = [], 0.0
    for g, d in zip(rates, days, strict=True):
        out.append(total)
        total += math.log1p(g) * d / DAYS_PER_YEAR
    return np.array(out)


def schedule_value(entries: dict, source: str = "test input") -> dict:
    """A config value ``{ schedule = { DATE = prior, ... }, source = ... }``."""
    return {"schedule": {d.isoformat(): v for d, v in entries.items()}, "source": source}


def load(write_config, **sections):
    return sim.load_scenario(write_config(minimal(**sections)))


# ---------------------------------------------------------------- which entry is in force


def test_in_force_on_a_monthly_grid_by_hand():
    """Latest entry dated <= t_k; an entry dated inside a step takes effect from the next
    step; entries before the start are superseded and one after the horizon never acts."""
    grid = build_time_grid(START, 6, "month")  # starts Jan 1 .. Jun 1 2025
    dates = [D(2024, 6, 1), D(2024, 12, 1), D(2025, 2, 1), D(2025, 3, 15), D(2025, 12, 1)]
    s = build_schedule("bonus.federal_rub", dates, grid.starts)
    #                  Jan Feb Mar Apr May Jun
    assert s.in_force.tolist() == [1, 2, 2, 3, 3, 3]
    assert s.first_step.tolist() == [0, 1, 1, 3, 3, 3]
    assert s.known_steps == 6  # every step starts on or before 2025-12-01
    assert s.entries[3] == "bonus.federal_rub@2025-03-15"
    assert not s.constant


def test_in_force_on_a_daily_grid_by_hand():
    """On a daily grid every date is a step start: an entry acts from its own day."""
    grid = build_time_grid(START, 2, "day")
    s = build_schedule("losses.per_month", [D(2025, 1, 1), D(2025, 1, 10), D(2025, 1, 31)],
                       grid.starts)
    expected = [0] * 9 + [1] * 21 + [2] * (grid.n_steps - 30)
    assert s.in_force.tolist() == expected
    assert s.known_steps == 31  # Jan 1 .. Jan 31
    before = build_schedule("losses.per_month", [D(2020, 1, 1), D(2024, 12, 31)], grid.starts)
    assert before.constant and before.in_force[0] == 1 and before.known_steps == 1


def test_first_entry_after_start_is_refused_by_build_schedule():
    grid = build_time_grid(START, 3, "month")
    with pytest.raises(ValueError, match="after the first step start"):
        build_schedule("pay.monthly_rub", [D(2025, 1, 2)], grid.starts)


# ---------------------------------------------------------------- flows, core and end to end


def test_recruitment_and_loss_schedules_monthly_core():
    """r_k = R_k D_k / M and c_k = C_k D_k / M with R_k, C_k the entries in force; the force
    then follows F_K = F_0 + sum r - sum c (no returns, no exits)."""
    grid = build_time_grid(START, 6, "month")
    p, schedules = scheduled(params({"losses.return_to_duty_share": 0.0}), grid, {
        "recruitment.per_month": {D(2024, 1, 1): 30_000, D(2025, 2, 15): 50_000},
        "losses.per_month": {D(2023, 1, 1): 99_999, D(2024, 11, 1): 20_000,
                             D(2025, 4, 1): 45_000, D(2026, 1, 1): 1.0},
    })
    out = run(p, grid, schedules)
    months = grid.days / DAYS_PER_MONTH
    recruits_per_month = np.array([30_000, 30_000, 50_000, 50_000, 50_000, 50_000])
    losses_per_month = np.array([20_000, 20_000, 20_000, 45_000, 45_000, 45_000])
    np.testing.assert_allclose(out["recruits"][:, 0], recruits_per_month * months, rtol=1e-12)
    np.testing.assert_allclose(out["casualties"][:, 0], losses_per_month * months, rtol=1e-12)
    expected_force = 600_000 + np.cumsum((recruits_per_month - losses_per_month) * months)
    np.testing.assert_allclose(out["force"][1:, 0], expected_force, rtol=1e-12)


def test_recruitment_and_loss_schedules_monthly_end_to_end(write_config):
    """The same schedules written in a config give the same per-step flows."""
    scenario = load(
        write_config, time={"months": 6},
        recruitment={"per_month": schedule_value({D(2024, 1, 1): 30_000,
                                                  D(2025, 2, 15): 50_000})},
        losses={"per_month": schedule_value({D(2023, 1, 1): 99_999, D(2024, 11, 1): 20_000,
                                             D(2025, 4, 1): 45_000, D(2026, 1, 1): 1.0}),
                "return_to_duty_share": 0.0},
    )
    assert set(scenario.schedules) == {"recruitment.per_month", "losses.per_month"}
    ds = sim.simulate(scenario, samples=3, seed=0)
    months = scenario.grid.days / DAYS_PER_MONTH
    np.testing.assert_allclose(ds.recruits_persons.values[0],
                               np.array([30_000] * 2 + [50_000] * 4) * months, rtol=F32)
    np.testing.assert_allclose(ds.casualties_persons.values[0],
                               np.array([20_000] * 3 + [45_000] * 3) * months, rtol=F32)


def test_killed_share_and_exit_rate_schedules_on_a_daily_grid_end_to_end(write_config):
    """Daily steps: the killed share and the exit rate switch on their entries' own days."""
    scenario = load(
        write_config, time={"months": 1, "step": "day"},
        losses={"killed_share": schedule_value({D(2024, 1, 1): 0.2, D(2025, 1, 11): 0.4})},
        force={"other_exit_rate": schedule_value({D(2024, 1, 1): 0.0, D(2025, 1, 21): 0.03})},
    )
    ds = sim.simulate(scenario, samples=2, seed=0)
    c = ds.casualties_persons.values[0].astype(float)
    np.testing.assert_allclose(c, 35_000 / DAYS_PER_MONTH, rtol=F32)
    kappa = np.where(np.arange(31) < 10, 0.2, 0.4)
    np.testing.assert_allclose(ds.killed_persons.values[0], kappa * c, rtol=F32)
    np.testing.assert_allclose(ds.wounded_persons.values[0], (0.9 - kappa) * c, rtol=F32)
    force = ds.force_persons.values[0].astype(float)
    exits = ds.other_exits_persons.values[0]
    delta = np.where(np.arange(31) < 20, 0.0, 0.03)
    np.testing.assert_allclose(exits, delta / DAYS_PER_MONTH * force[:-1], rtol=F32, atol=0)
    assert exits[19] == 0 and exits[20] > 0


# ---------------------------------------------------------------- growth


def test_amount_schedule_grows_from_the_step_its_entry_takes_effect():
    """B_reg,k = value_j (1 + g)^(tau_k - tau_{k_j}); the entry in force at the start (dated
    before it) grows from step 0, the one dated 2025-03-10 from step 3 (April)."""
    g = 0.2
    grid = build_time_grid(START, 8, "month")
    p, schedules = scheduled(params({"bonus.regional_growth": g}), grid, {
        "bonus.regional_rub": {D(2024, 8, 1): 1.0e6, D(2025, 3, 10): 1.6e6}})
    out = run(p, grid, schedules)
    tau = grid.years_elapsed
    april = elapsed_years(grid, D(2025, 4, 1))
    regional = np.where(np.arange(8) < 3, 1.0e6 * (1 + g) ** tau, 1.6e6 * (1 + g) ** april)
    np.testing.assert_allclose(out["bonus_rub_per_recruit"][:, 0], 400_000 + regional,
                               rtol=1e-12)
    np.testing.assert_allclose(out["spend_rub"][:, 1, 0, 0], out["recruits"][:, 0] * regional,
                               rtol=1e-12)
    assert out["spend_rub"][3, 1, 0, 0] == pytest.approx(out["recruits"][3, 0] * 1.6e6,
                                                         rel=1e-15)


def test_scheduled_growth_rate_compounds_step_by_step():
    """pay_k = P exp(G_k) (D_k / M) F_k with G_k the cumulative sum of log(1 + g_i) D_i /
    365.25 over the rates in force; a scheduled amount and a scheduled rate together give
    value_j exp(G_k - G_{k_j})."""
    grid = build_time_grid(START, 9, "month")
    rates = [0.1, 0.1, 0.5, 0.5, 0.5, -0.2, -0.2, -0.2, -0.2]  # in force Jan .. Sep
    p, schedules = scheduled(params(), grid, {
        "pay.growth": {D(2024, 1, 1): 0.1, D(2025, 3, 1): 0.5, D(2025, 5, 20): -0.2},
        "bonus.federal_growth": {D(2024, 1, 1): 0.1, D(2025, 3, 1): 0.5,
                                 D(2025, 5, 20): -0.2},
        "bonus.federal_rub": {D(2024, 1, 1): 400_000, D(2025, 4, 1): 900_000}})
    out = run(p, grid, schedules)
    growth = compounded(rates, grid.days)
    assert growth[3] == pytest.approx((31 * math.log(1.1) + 28 * math.log(1.1)
                                       + 31 * math.log(1.5)) / 365.25, rel=1e-14)
    months = grid.days / DAYS_PER_MONTH
    np.testing.assert_allclose(out["pay_rub"][:, 0],
                               230_000 * np.exp(growth) * months * out["force"][:-1, 0],
                               rtol=1e-12)
    federal = np.where(np.arange(9) < 3, 400_000 * np.exp(growth),
                       900_000 * np.exp(growth - growth[3]))
    np.testing.assert_allclose(out["spend_rub"][:, 0, 0, 0], out["recruits"][:, 0] * federal,
                               rtol=1e-12)


def test_constant_rate_gives_version_1_growth():
    """A one-entry rate schedule is version 1 bit for bit; a schedule repeating the same
    rate compounds step by step to (1 + g)^tau_k (to rounding)."""
    grid = build_time_grid(START, 14, "month")
    base = params({"pay.growth": 0.3, "budget.growth": 0.07})
    v1 = run(base, grid)
    p1, one = scheduled(base, grid, {"pay.growth": {D(2023, 5, 1): 0.3}})
    np.testing.assert_array_equal(run(p1, grid, one)["pay_rub"], v1["pay_rub"])
    p2, many = scheduled(base, grid, {"pay.growth": {D(2023, 5, 1): 0.3, D(2025, 2, 1): 0.3,
                                                     D(2025, 7, 9): 0.3}})
    np.testing.assert_allclose(run(p2, grid, many)["pay_rub"], v1["pay_rub"], rtol=1e-12)
    # tau for 2026-01-01 is 365 / 365.25: the value is (1.3)^tau there.
    assert v1["pay_rub"][12, 0] == pytest.approx(
        230_000 * 1.3 ** (365 / 365.25) * 31 / DAYS_PER_MONTH * v1["force"][12, 0], rel=1e-12)


def test_inflation_schedule_with_elasticity():
    """Recruits scale by ((B_k / P_k) / B_0)^eps with P_k = exp(G_k) over the inflation
    rates in force and B_k growing at a constant regional rate."""
    eps, g = 0.5, 0.1
    grid = build_time_grid(START, 8, "month")
    p, schedules = scheduled(
        params({"recruitment.bonus_elasticity": eps, "bonus.regional_growth": g}), grid,
        {"prices.inflation": {D(2024, 1, 1): 0.05, D(2025, 4, 1): 0.4, D(2025, 6, 2): 0.02}})
    out = run(p, grid, schedules)
    inflation = [0.05] * 3 + [0.4] * 3 + [0.02] * 2
    prices = np.exp(compounded(inflation, grid.days))
    bonus = 400_000 + 1_100_000 * (1 + g) ** grid.years_elapsed
    real = (bonus / prices) / 1_500_000
    expected = 40_000 * grid.days / DAYS_PER_MONTH * real**eps
    np.testing.assert_allclose(out["recruits"][:, 0], expected, rtol=1e-12)
    # Without the schedule the same rates would not match: the check can fail.
    assert not np.allclose(expected, 40_000 * grid.days / DAYS_PER_MONTH
                           * (bonus / 1.05**grid.years_elapsed / 1_500_000) ** eps)


def test_growth_and_inflation_schedules_end_to_end(write_config):
    """A config with a scheduled amount, a scheduled growth rate and scheduled inflation
    (eps != 0) gives the hand-computed bonus and recruits."""
    eps = -0.3
    scenario = load(
        write_config, time={"months": 7},
        recruitment={"bonus_elasticity": eps},
        prices={"inflation": schedule_value({D(2024, 1, 1): 0.1, D(2025, 3, 3): 0.3})},
        bonus={"federal_rub": schedule_value({D(2024, 8, 1): 400_000, D(2025, 5, 1): 700_000}),
               "federal_growth": schedule_value({D(2022, 1, 1): 0.0, D(2025, 2, 1): 0.25})},
    )
    ds = sim.simulate(scenario, samples=2, seed=3)
    grid = scenario.grid
    growth = compounded([0.0] + [0.25] * 6, grid.days)
    federal = np.where(np.arange(7) < 4, 400_000 * np.exp(growth),
                       700_000 * np.exp(growth - growth[4]))
    bonus = federal + 1_100_000
    np.testing.assert_allclose(ds.bonus_rub_per_recruit.values[0], bonus, rtol=F32)
    prices = np.exp(compounded([0.1] * 3 + [0.3] * 4, grid.days))
    recruits = 40_000 * grid.days / DAYS_PER_MONTH * (bonus / prices / bonus[0]) ** eps
    np.testing.assert_allclose(ds.recruits_persons.values[0], recruits, rtol=F32)


def test_entries_before_start_and_after_horizon_change_nothing():
    """Only the latest entry on or before the start acts (and grows from step 0, not from
    its date); an entry after the horizon is never in force: results equal version 1's."""
    grid = build_time_grid(START, 6, "month")
    base = params({"bonus.federal_growth": 0.4, "pay.growth": 0.1})
    v1 = run(base, grid)
    p, schedules = scheduled(base, grid, {
        "bonus.federal_rub": {D(2022, 9, 1): 195_000, D(2024, 8, 1): 400_000,
                              D(2025, 7, 1): 5e6},
        "pay.monthly_rub": {D(2024, 12, 31): 230_000, D(2030, 1, 1): 1.0}})
    out = run(p, grid, schedules)
    for name in ("bonus_rub_per_recruit", "recruits", "pay_rub", "spend_rub", "force"):
        np.testing.assert_array_equal(out[name], v1[name], err_msg=name)
    assert out["bonus_rub_per_recruit"][5, 0] == pytest.approx(
        1_100_000 + 400_000 * 1.4 ** grid.years_elapsed[5], rel=1e-12)


def test_entries_are_drawn_once_per_sample_independently(write_config):
    """Each uncertain entry is its own parameter (param_*_from_DATE), drawn once per sample,
    uncorrelated with the other entries (|r| <= Z / sqrt(n), the null SE of a correlation);
    the bonus in each step is the entry in force in that sample."""
    n = 4096
    scenario = load(
        write_config, time={"months": 4},
        bonus={"federal_rub": schedule_value({D(2024, 8, 1): "300_000 to 500_000",
                                              D(2025, 3, 1): "600_000 to 900_000"})},
    )
    ds = sim.simulate(scenario, samples=n, seed=11)
    early = ds.param_bonus_federal_rub_from_2024_08_01.values
    late = ds.param_bonus_federal_rub_from_2025_03_01.values
    assert len(np.unique(early)) == n and len(np.unique(late)) == n
    assert abs(np.corrcoef(early, late)[0, 1]) <= Z / np.sqrt(n)
    bonus = ds.bonus_rub_per_recruit.values.astype(float)
    np.testing.assert_allclose(bonus[:, :2], (early + 1_100_000)[:, None] * np.ones(2),
                               rtol=F32)
    np.testing.assert_allclose(bonus[:, 2:], (late + 1_100_000)[:, None] * np.ones(2),
                               rtol=F32)


# ---------------------------------------------------------------- the exchange rate


def test_fx_path_is_its_schedule_then_drifts_from_the_last_entry():
    """Volatility 0, drift mu: X_k is the entry in force up to the last entry (dated on a
    step start), then last * exp(mu (t_k - t_last) / 365.25)."""
    mu = 0.1
    grid = build_time_grid(START, 6, "month")
    p, schedules = scheduled(params({"fx.drift": mu}), grid, {
        "fx.rub_per_usd": {D(2024, 1, 1): 90.0, D(2025, 2, 1): 95.0, D(2025, 3, 1): 100.0}})
    fx = run(p, grid, schedules)["rub_per_usd"][:, 0]
    np.testing.assert_allclose(fx[:3], [90.0, 95.0, 100.0], rtol=ULPS)  # via log and exp
    np.testing.assert_allclose(fx[2:], 100.0 * np.exp(mu * elapsed_years(grid, D(2025, 3, 1))
                                                      [2:]), rtol=1e-12)


def test_fx_schedule_before_start_is_version_1():
    """Every entry dated before the start: X_0 is the last one and the walk starts at step 1,
    bit for bit version 1's path from that rate (noise included)."""
    grid = build_time_grid(START, 5, "month")
    z = np.random.default_rng(4).standard_normal((grid.n_steps, 3))
    noise = Noise(None, None, z)
    base = params({"fx.drift": -0.2, "fx.volatility": 0.3, "fx.rub_per_usd": 88.0}, n=3)
    p, schedules = scheduled(base, grid, {"fx.rub_per_usd": {D(2023, 1, 1): 60.0,
                                                             D(2024, 12, 1): 88.0}})
    scheduled_fx = run(p, grid, schedules, noise)["rub_per_usd"]
    version_1 = run(base, grid, noise=noise)["rub_per_usd"]
    assert np.all(scheduled_fx[0] == 88.0)  # the known rate, exactly (v1: exp(log(88)))
    np.testing.assert_allclose(version_1[0], 88.0, rtol=ULPS)
    np.testing.assert_array_equal(scheduled_fx[1:], version_1[1:])


def test_fx_entries_past_the_horizon_leave_no_walk():
    """The last entry after the horizon: every step is known, no drift or noise applies."""
    grid = build_time_grid(START, 6, "month")
    z = np.random.default_rng(2).standard_normal((grid.n_steps, 2))
    p, schedules = scheduled(params({"fx.drift": 0.5, "fx.volatility": 0.4}, n=2), grid, {
        "fx.rub_per_usd": {D(2024, 1, 1): 90.0, D(2025, 3, 1): 100.0, D(2026, 1, 1): 120.0}})
    fx = run(p, grid, schedules, Noise(None, None, z))["rub_per_usd"]
    np.testing.assert_allclose(fx, np.array([[90.0] * 2] * 2 + [[100.0] * 2] * 4), rtol=ULPS)


def test_fx_walk_after_the_schedule_has_the_right_increments(write_config):
    """With noise, the known steps are exact in every sample and the first walked
    log-increment log(X_3 / X_2) has mean mu D / 365.25 and SD sigma sqrt(D / 365.25), D = 31
    (March). Tolerances: Z standard errors at a 1e-6 false-failure rate, SE of the mean
    sd / sqrt(n), of the variance var sqrt(2 / (n - 1)); float32 storage adds ~1e-7, far
    below either."""
    n, mu, sigma = 50_000, 0.1, 0.3
    scenario = load(write_config, time={"months": 5},
                    fx={"rub_per_usd": schedule_value({D(2024, 6, 1): 90.0,
                                                       D(2025, 3, 1): 100.0}),
                        "drift": mu, "volatility": sigma})
    ds = sim.simulate(scenario, samples=n, seed=2024)
    fx = ds.rub_per_usd.values.astype(float)
    assert np.all(fx[:, :2] == 90.0) and np.all(fx[:, 2] == 100.0)
    for k, days in ((3, 31), (4, 30)):  # the first walked step, then the next one
        step = np.log(fx[:, k] / fx[:, k - 1])
        mean, var = mu * days / DAYS_PER_YEAR, sigma**2 * days / DAYS_PER_YEAR
        assert abs(step.mean() - mean) <= Z * math.sqrt(var / n), k
        assert abs(step.var(ddof=1) - var) <= Z * var * math.sqrt(2 / (n - 1)), k
    # Successive increments are independent (null SE of a correlation 1 / sqrt(n)).
    r = np.corrcoef(np.log(fx[:, 3] / fx[:, 2]), np.log(fx[:, 4] / fx[:, 3]))[0, 1]
    assert abs(r) <= Z / math.sqrt(n)


def test_fx_last_entry_dated_inside_a_step_takes_effect_from_the_next_step():
    """V2.1/V2.2: the entry dated 2025-03-15 is in force from April (step 3), and the
    walk (here drift 0, volatility 0) runs on from it."""
    grid = build_time_grid(START, 6, "month")
    p, schedules = scheduled(params(), grid, {
        "fx.rub_per_usd": {D(2024, 1, 1): 90.0, D(2025, 3, 15): 70.0}})
    fx = run(p, grid, schedules)["rub_per_usd"][:, 0]
    assert fx[:4].tolist() == [90.0, 90.0, 90.0, 70.0]  # known rates, exactly
    np.testing.assert_allclose(fx[4:], 70.0, rtol=ULPS)  # exp(log(70) + 0)


# ---------------------------------------------------------------- random schedules

SCHEDULED_RANGES = {
    "recruitment.per_month": (0.0, 1e5),
    "losses.per_month": (0.0, 2e5),
    "losses.monthly_rate": (0.0, 0.3),
    "losses.killed_share": (0.0, 0.5),
    "losses.missing_share": (0.0, 0.5),
    "force.other_exit_rate": (0.0, 0.2),
    "bonus.federal_rub": (1.0, 1e6),
    "bonus.regional_rub": (0.0, 4e6),
    "bonus.federal_growth": (-0.5, 1.0),
    "pay.monthly_rub": (0.0, 5e5),
    "pay.growth": (-0.2, 0.5),
    "prices.inflation": (-0.05, 0.3),
    "compensation.per_killed_rub": (0.0, 2e7),
    "compensation.per_wounded_rub": (0.0, 5e6),
    "compensation.regional_per_killed_rub": (0.0, 3e6),
    "compensation.regional_per_wounded_rub": (0.0, 1e6),
    "budget.defense_rub": (1e12, 3e13),
    "budget.growth": (-0.2, 0.3),
    "fx.rub_per_usd": (50.0, 150.0),
}
"""Schedulable keys and the ranges their entries are drawn from (inside each domain)."""

OTHER_RANGES = {
    "force.initial_persons": (1.0, 2e6),
    "recruitment.shock_sd": (0.0, 0.6),
    "recruitment.shock_persistence": (0.0, 1.0),
    "recruitment.bonus_elasticity": (-1.0, 1.0),
    "losses.shock_sd": (0.0, 0.6),
    "losses.shock_persistence": (0.0, 1.0),
    "losses.return_to_duty_share": (0.0, 1.0),
    "losses.recovery_months": (0.1, 24.0),
    "bonus.regional_growth": (-0.5, 1.0),
    "fx.drift": (-0.5, 0.5),
    "fx.volatility": (0.0, 0.5),
    "budget.federal_spending_rub": (1e13, 6e13),
    "budget.gdp_rub": (1e14, 3e14),
    "budget.nwf_liquid_rub": (1e12, 1e13),
}
N = 4  # samples per example


@st.composite
def scheduled_inputs(draw):
    """Random parameters (N samples), noise, a grid, and random schedules on random keys:
    1-4 entries each, the first on or before the start, the others anywhere from 400 days
    before it to 100 days past the horizon."""
    step = draw(st.sampled_from(["month", "day"]))
    months = draw(st.integers(1, 18 if step == "month" else 2))
    start = dt.date(2025, draw(st.integers(1, 12)), draw(st.integers(1, 28)))
    grid = build_time_grid(start, months, step)
    horizon_days = (grid.end - start).days
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p = {**params(n=N), **{key: rng.uniform(lo, hi, N)
                           for key, (lo, hi) in {**SCHEDULED_RANGES, **OTHER_RANGES}.items()}}
    keys = draw(st.lists(st.sampled_from(sorted(SCHEDULED_RANGES)), min_size=1, max_size=6,
                         unique=True))
    entries = {}
    for key in keys:
        offsets = {-draw(st.integers(0, 400))}
        offsets |= set(draw(st.lists(st.integers(-400, horizon_days + 100), max_size=3)))
        lo, hi = SCHEDULED_RANGES[key]
        entries[key] = {start + dt.timedelta(days=o): rng.uniform(lo, hi, N)
                        for o in offsets}
    p, schedules = scheduled(p, grid, entries)
    noise = Noise(*(rng.standard_normal((grid.n_steps, N)) for _ in range(3)))
    mode = draw(st.sampled_from(["absolute", "proportional"]))
    return p, schedules, noise, grid, mode, entries


@given(scheduled_inputs())  # the ci profile's 40 examples take about half a second
def test_random_schedules_conserve_the_force_and_keep_the_ledger(inputs):
    """For random schedules: F_K + W_K = F_0 + sum r - sum L - sum o (to 1e-12 of the scale
    per step), the ledger sums to the version-1 totals (pay and compensation exactly, the
    bonus to 4 ulp), spend_rub_by_year sums to spend_rub, the known FX steps are their
    entries, and every output is finite."""
    p, schedules, noise, grid, mode, entries = inputs
    out = run(p, grid, schedules, noise, mode)
    f, w = out["force"], out["wounded_in_recovery"]
    lhs = f[-1] + w[-1]
    rhs = f[0] + out["recruits"].sum(0) - out["irrecoverable_losses"].sum(0) - out[
        "other_exits"].sum(0)
    scale = f[0] + out["recruits"].sum(0) + out["casualties"].sum(0)
    assert np.all(np.abs(lhs - rhs) <= 1e-12 * scale * len(f))
    assert np.all(f >= 0) and np.all(w >= 0)

    spend = out["spend_rub"]
    bonus = spend[:, 0, 0] + spend[:, 1, 0]
    assert np.all(np.abs(bonus - out["bonus_spend_rub"])
                  <= 4 * np.finfo(float).eps * np.abs(out["bonus_spend_rub"]))
    np.testing.assert_array_equal(spend[:, 0, 1] + spend[:, 1, 1], out["pay_rub"])
    np.testing.assert_array_equal(spend[:, 1, 1], 0.0)
    np.testing.assert_array_equal(spend[:, 0, 2] + spend[:, 1, 2], out["compensation_rub"])

    if "fx.rub_per_usd" in schedules:
        s = schedules["fx.rub_per_usd"]
        dates = sorted(entries["fx.rub_per_usd"])
        for k in range(s.known_steps):
            np.testing.assert_allclose(out["rub_per_usd"][k],
                                       entries["fx.rub_per_usd"][dates[s.in_force[k]]],
                                       rtol=ULPS)

    derived = derive(out, p, grid.days, grid.years_elapsed, grid.year_weights(), schedules)
    np.testing.assert_allclose(derived["spend_rub_by_year"].sum(0), spend.sum(0),
                               rtol=1e-12, atol=1e-300)
    for name, values in derived.items():
        assert np.all(np.isfinite(values) | (name == "nwf_cover_years")), name


def test_config_written_by_the_helper_holds_the_schedule(write_config):
    """The test helper writes a schedule as TOML the loader reads back entry by entry."""
    config = minimal(pay={"monthly_rub": schedule_value({D(2024, 1, 1): 1.0,
                                                         D(2025, 2, 1): "2 to 3"})})
    text = to_toml(config)
    assert "2024-01-01 = 1.0" in text
    scenario = sim.load_scenario(write_config(text))
    assert [k for k in scenario.priors if k.startswith("pay.monthly_rub")] == [
        "pay.monthly_rub@2024-01-01", "pay.monthly_rub@2025-02-01"]
    assert scenario.priors["pay.monthly_rub@2024-01-01"].source == "test input"


def test_schedule_dates_given_from_python():
    """`load_scenario(values=...)` takes a schedule keyed by dates (what TOML would give
    as strings), and reads it as the same schedule."""
    base = CONFIGS / "baseline.toml"
    as_text = sim.load_scenario(base, values={
        "bonus.federal_rub": {"schedule": {"2022-09-01": 195_000, "2024-08-01": 4e5}}})
    as_dates = sim.load_scenario(base, values={
        "bonus.federal_rub": {"schedule": {D(2022, 9, 1): 195_000, D(2024, 8, 1): 4e5}}})
    assert as_dates.schedules["bonus.federal_rub"].entries == (
        as_text.schedules["bonus.federal_rub"].entries)
