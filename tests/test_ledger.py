"""The ledger (spend by payer and item) and the ratios by payer against hand calculations:
the split of each item between the federal and regional budgets, its sums against the
version-1 totals, the ledger by calendar year, the payer ratios, the NWF cover and the
optional denominators."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import sim
from sim.core.metrics import PAYER_RATIOS, derive
from sim.core.model import ITEMS, PAYERS, Noise, run_model
from sim.core.schema import REQUIRED, SCHEMA
from sim.core.timegrid import build_time_grid
from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR

from .conftest import minimal
from .test_model import params
from .test_schedules import scheduled

# Hand-chosen test inputs (MINIMAL's figures plus regional top-ups, growth rates and
# budgets), not reference data.
NO_NOISE = Noise(None, None, None)
START = dt.date(2025, 1, 1)
D = dt.date
ULP = np.finfo(float).eps
F32 = 1e-6
"""Relative tolerance for results stored as float32 (rounding <= 2^-24 ~ 6e-8 relative)."""
FEDERAL, REGIONAL = 0, 1
BONUS, PAY, COMPENSATION = 0, 1, 2


def run(p, grid, schedules=None):
    schedules = schedules or {}
    out = run_model(p, NO_NOISE, grid.days, grid.years_elapsed, "absolute", schedules)
    return out, derive(out, p, grid.days, grid.years_elapsed, grid.year_weights(), schedules)


TOP_UPS = {"compensation.regional_per_killed_rub": 2e6,
           "compensation.regional_per_wounded_rub": 5e5}


# ---------------------------------------------------------------- the ledger in the core


def test_ledger_entries_by_hand():
    """Bonus federal r B_fed and regional r B_reg (each grown at its own rate), pay all
    federal, compensation federal at C_kia, C_wia and regional at the top-ups, with
    killed = kappa c and wounded = (1 - kappa - mu) c."""
    grid = build_time_grid(START, 12, "month")
    p = params({**TOP_UPS, "bonus.federal_growth": 0.1, "bonus.regional_growth": 0.3,
                "pay.growth": 0.05})
    out, _ = run(p, grid)
    spend = out["spend_rub"][..., 0]
    assert out["spend_rub"].shape == (12, 2, 3, 1)
    assert PAYERS == ("federal", "regional") and ITEMS == ("bonus", "pay", "compensation")
    tau, months = grid.years_elapsed, grid.days / DAYS_PER_MONTH
    r, c, force = out["recruits"][:, 0], out["casualties"][:, 0], out["force"][:-1, 0]
    rtol = 1e-12
    np.testing.assert_allclose(spend[:, FEDERAL, BONUS], r * 400_000 * 1.1**tau, rtol=rtol)
    np.testing.assert_allclose(spend[:, REGIONAL, BONUS], r * 1_100_000 * 1.3**tau, rtol=rtol)
    np.testing.assert_allclose(spend[:, FEDERAL, PAY], 230_000 * 1.05**tau * months * force,
                               rtol=rtol)
    assert np.all(spend[:, REGIONAL, PAY] == 0)
    killed, wounded = 0.25 * c, 0.65 * c
    np.testing.assert_allclose(spend[:, FEDERAL, COMPENSATION], 12e6 * killed + 3e6 * wounded,
                               rtol=rtol)
    np.testing.assert_allclose(spend[:, REGIONAL, COMPENSATION],
                               2e6 * killed + 5e5 * wounded, rtol=rtol)


@pytest.mark.parametrize("top_ups", [{}, TOP_UPS], ids=["federal only", "regional top-ups"])
def test_ledger_sums_are_the_version_1_totals(top_ups):
    """Summed over payers the ledger is bonus_spend_rub (to 4 ulp: r B_fed + r B_reg against
    r (B_fed + B_reg)), pay_rub and compensation_rub (exactly); without top-ups the
    regional compensation is zero and the total is version 1's C_kia kappa c + C_wia w."""
    grid = build_time_grid(START, 18, "month")
    p = params({**top_ups, "bonus.federal_growth": 0.17, "bonus.regional_growth": 0.31,
                "pay.growth": 0.09}, n=3)
    p["recruitment.per_month"] = np.array([1.0, 3e4, 7.7e4])
    out, _ = run(p, grid)
    spend = out["spend_rub"]
    bonus = spend[:, FEDERAL, BONUS] + spend[:, REGIONAL, BONUS]
    assert np.all(np.abs(bonus - out["bonus_spend_rub"]) <= 4 * ULP * out["bonus_spend_rub"])
    np.testing.assert_allclose(out["bonus_spend_rub"],
                               out["recruits"] * out["bonus_rub_per_recruit"], rtol=0)
    np.testing.assert_array_equal(spend[:, FEDERAL, PAY] + spend[:, REGIONAL, PAY],
                                  out["pay_rub"])
    np.testing.assert_array_equal(spend[:, FEDERAL, COMPENSATION]
                                  + spend[:, REGIONAL, COMPENSATION], out["compensation_rub"])
    if not top_ups:
        assert np.all(spend[:, REGIONAL, COMPENSATION] == 0)
        np.testing.assert_allclose(out["compensation_rub"],
                                   12e6 * out["killed"] + 3e6 * out["wounded"], rtol=1e-12)
    else:
        assert np.all(spend[:, REGIONAL, COMPENSATION] > 0)


def test_scheduled_compensation_rates_split_by_payer():
    """Scheduled federal and regional compensation rates: each payer's compensation uses the
    rates in force in the step (the regional top-up starts in March)."""
    grid = build_time_grid(START, 5, "month")
    p, schedules = scheduled(params(), grid, {
        "compensation.per_killed_rub": {D(2024, 1, 1): 5e6, D(2025, 2, 1): 12e6},
        "compensation.regional_per_wounded_rub": {D(2024, 1, 1): 0.0, D(2025, 2, 20): 1e6}})
    out, _ = run(p, grid, schedules)
    c = out["casualties"][:, 0]
    per_killed = np.array([5e6, 12e6, 12e6, 12e6, 12e6])
    top_up = np.array([0.0, 0.0, 1e6, 1e6, 1e6])
    spend = out["spend_rub"][..., 0]
    np.testing.assert_allclose(spend[:, FEDERAL, COMPENSATION],
                               per_killed * 0.25 * c + 3e6 * 0.65 * c, rtol=1e-12)
    np.testing.assert_allclose(spend[:, REGIONAL, COMPENSATION], top_up * 0.65 * c,
                               rtol=1e-12, atol=0)
    np.testing.assert_array_equal(spend[:, FEDERAL, COMPENSATION]
                                  + spend[:, REGIONAL, COMPENSATION],
                                  out["compensation_rub"][:, 0])


# ---------------------------------------------------------------- by calendar year


def test_spend_by_year_splits_steps_by_their_days():
    """Monthly steps from 2025-12-15: the first step (31 days) has 17 days in 2025 and 14 in
    2026; spend_rub_by_year sums over years to spend_rub over time."""
    grid = build_time_grid(D(2025, 12, 15), 3, "month")
    p = params({**TOP_UPS, "pay.growth": 0.2})
    out, d = run(p, grid)
    spend = out["spend_rub"]
    by_year = d["spend_rub_by_year"]
    assert by_year.shape == (2, 2, 3, 1)
    np.testing.assert_allclose(by_year[0], spend[0] * 17 / 31, rtol=1e-12)
    np.testing.assert_allclose(by_year[1], spend[0] * 14 / 31 + spend[1] + spend[2],
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(by_year.sum(0), spend.sum(0), rtol=1e-12, atol=0)


def test_spend_by_year_on_a_daily_grid():
    grid = build_time_grid(D(2025, 12, 1), 2, "day")
    out, d = run(params(TOP_UPS), grid)
    spend, by_year = out["spend_rub"], d["spend_rub_by_year"]
    np.testing.assert_allclose(by_year[0], spend[:31].sum(0), rtol=1e-12)
    np.testing.assert_allclose(by_year[1], spend[31:].sum(0), rtol=1e-12)


# ---------------------------------------------------------------- ratios by payer

BUDGETS = {"budget.growth": 0.1, "budget.federal_revenue_rub": 36e12,
           "budget.regional_spending_rub": 20e12}


def test_payer_ratios_and_nwf_cover_closed_form():
    """share_k = (payer spend_k / D_k) 365.25 / budget_k with budget_k the amount in force
    grown at budget.growth from the step it takes effect (the scheduled defence budget
    changes in March, the regional spending on 2025-02-10, so from March too);
    nwf_cover_years = NWF (1 + g)^tau / (federal spend per day 365.25)."""
    grid = build_time_grid(START, 6, "month")
    p, schedules = scheduled(params({**TOP_UPS, **BUDGETS}), grid, {
        "budget.defense_rub": {D(2024, 1, 1): 13e12, D(2025, 3, 1): 15e12},
        "budget.regional_spending_rub": {D(2024, 1, 1): 20e12, D(2025, 2, 10): 25e12}})
    out, d = run(p, grid, schedules)
    spend = out["spend_rub"][..., 0]
    per_year = {payer: spend[:, i].sum(axis=1) / grid.days * DAYS_PER_YEAR
                for i, payer in enumerate(PAYERS)}
    tau = grid.years_elapsed
    since_march = tau - tau[2]
    early = np.arange(6) < 2
    defense = np.where(early, 13e12 * 1.1**tau, 15e12 * 1.1**since_march)
    regional = np.where(early, 20e12 * 1.1**tau, 25e12 * 1.1**since_march)
    rtol = 1e-12
    np.testing.assert_allclose(d["federal_manpower_share_of_defense"][:, 0],
                               per_year["federal"] / defense, rtol=rtol)
    np.testing.assert_allclose(d["federal_manpower_share_of_federal_spending"][:, 0],
                               per_year["federal"] / (42.93e12 * 1.1**tau), rtol=rtol)
    np.testing.assert_allclose(d["federal_manpower_share_of_federal_revenue"][:, 0],
                               per_year["federal"] / (36e12 * 1.1**tau), rtol=rtol)
    np.testing.assert_allclose(d["regional_manpower_share_of_regional_spending"][:, 0],
                               per_year["regional"] / regional, rtol=rtol)
    np.testing.assert_allclose(d["nwf_cover_years"][:, 0],
                               3.81e12 * 1.1**tau / per_year["federal"], rtol=rtol)
    assert "regional_manpower_share_of_regional_revenue" not in d
    # The regional payer pays bonuses and top-ups only: its share is not the federal one.
    assert np.all(per_year["regional"] < per_year["federal"])


def test_payer_ratios_by_year_use_the_budget_in_force_on_each_day():
    """share_y = payer spend in year y / sum over steps of budget_k (days of step k in y) /
    365.25; the defence budget law changes on 2026-01-01."""
    grid = build_time_grid(D(2025, 11, 1), 4, "month")  # Nov, Dec, Jan, Feb
    p, schedules = scheduled(params({**TOP_UPS, **BUDGETS}), grid, {
        "budget.defense_rub": {D(2024, 1, 1): 13e12, D(2026, 1, 1): 15e12}})
    out, d = run(p, grid, schedules)
    spend = out["spend_rub"][..., 0]
    federal, regional = spend[:, FEDERAL].sum(axis=1), spend[:, REGIONAL].sum(axis=1)
    tau, days = grid.years_elapsed, grid.days
    assert days.tolist() == [30, 31, 31, 28]
    grown = 1.1**tau
    defense_2025 = 13e12 * (grown[0] * 30 + grown[1] * 31) / DAYS_PER_YEAR
    defense_2026 = 15e12 * (31 + 1.1 ** (tau[3] - tau[2]) * 28) / DAYS_PER_YEAR
    np.testing.assert_allclose(d["federal_manpower_share_of_defense_by_year"][:, 0],
                               [federal[:2].sum() / defense_2025,
                                federal[2:].sum() / defense_2026], rtol=1e-12)
    regional_budget = 20e12 * np.array([grown[:2] @ days[:2], grown[2:] @ days[2:]])
    np.testing.assert_allclose(d["regional_manpower_share_of_regional_spending_by_year"][:, 0],
                               [regional[:2].sum() / regional_budget[0] * DAYS_PER_YEAR,
                                regional[2:].sum() / regional_budget[1] * DAYS_PER_YEAR],
                               rtol=1e-12)


def test_nwf_cover_is_infinite_without_federal_spend():
    """No recruits, pay or compensation: the fund lasts for ever (inf, no warning)."""
    p = params({"recruitment.per_month": 0.0, "pay.monthly_rub": 0.0,
                "compensation.per_killed_rub": 0.0, "compensation.per_wounded_rub": 0.0})
    _, d = run(p, build_time_grid(START, 3, "month"))
    assert np.all(np.isposinf(d["nwf_cover_years"]))


@pytest.mark.parametrize("given", [(), ("budget.federal_revenue_rub",),
                                   ("budget.regional_spending_rub",
                                    "budget.regional_revenue_rub")])
def test_optional_ratios_only_when_their_denominator_is_given(given):
    """A ratio by payer (and its _by_year) is made exactly when its denominator is in the
    parameters, or scheduled; the two required ones always."""
    grid = build_time_grid(START, 3, "month")
    p = params({key: 1e13 for key in given})
    _, d = run(p, grid)
    expected = {name for name, (_, key) in PAYER_RATIOS.items()
                if key in given or SCHEMA["budget"][key.split(".")[1]].default is REQUIRED}
    assert {name for name in PAYER_RATIOS if name in d} == expected
    assert {name for name in PAYER_RATIOS if f"{name}_by_year" in d} == expected
    q, schedules = scheduled(params(), grid, {"budget.regional_revenue_rub": {
        D(2024, 1, 1): 1e13, D(2025, 2, 1): 2e13}})
    _, d = run(q, grid, schedules)
    assert "regional_manpower_share_of_regional_revenue" in d
    assert "regional_manpower_share_of_regional_spending" not in d


# ---------------------------------------------------------------- end to end


def test_ledger_end_to_end(write_config):
    """In a results dataset spend_rub has dims (sample, time, payer, item) with the payer and
    item labels, sums to the totals over payers, and spend_rub_by_year to spend_rub; the
    optional ratios appear only for the denominators given (plain or scheduled);
    nwf_cover_years is NWF (1 + g)^tau / annualised federal spend."""
    config = minimal(time={"months": 8, "start": D(2025, 9, 1)},
                     compensation={"regional_per_killed_rub": "1e6 to 3e6"},
                     bonus={"regional_growth": 0.2},
                     budget={"regional_spending_rub": 20e12, "growth": 0.05,
                             "federal_revenue_rub": {"schedule": {"2024-01-01": 36e12,
                                                                  "2026-01-01": 40e12}}})
    ds = sim.simulate(sim.load_scenario(write_config(config)), samples=64, seed=5)
    spend = ds.spend_rub
    assert spend.dims == ("sample", "time", "payer", "item")
    assert spend["payer"].values.tolist() == list(PAYERS)
    assert spend["item"].values.tolist() == list(ITEMS)
    for item, total in (("bonus", ds.bonus_spend_rub), ("pay", ds.pay_rub),
                        ("compensation", ds.compensation_rub)):
        np.testing.assert_allclose(spend.sel(item=item).astype(float).sum("payer"), total,
                                   rtol=F32, err_msg=item)
    assert float(spend.sel(payer="regional", item="pay").max()) == 0
    np.testing.assert_allclose(ds.spend_rub_by_year.astype(float).sum("year"),
                               spend.astype(float).sum("time"), rtol=F32)
    top_up = ds.param_compensation_regional_per_killed_rub
    np.testing.assert_allclose(spend.sel(payer="regional", item="compensation"),
                               top_up * ds.killed_persons.astype(float), rtol=F32)
    for present in ("regional_manpower_share_of_regional_spending",
                    "federal_manpower_share_of_federal_revenue"):  # the latter scheduled
        assert present in ds and f"{present}_by_year" in ds
    absent = "regional_manpower_share_of_regional_revenue"
    assert absent not in ds and f"{absent}_by_year" not in ds
    federal_per_year = (spend.sel(payer="federal").astype(float).sum("item")
                        / ds.step_days * DAYS_PER_YEAR)
    tau = ((ds.time - ds.time[0]) / np.timedelta64(1, "D")) / DAYS_PER_YEAR
    expected = (3.81e12 * 1.05**tau / federal_per_year).transpose("sample", "time")
    np.testing.assert_allclose(ds.nwf_cover_years, expected,
                               rtol=1e-5)  # float32 inputs and output: a few 6e-8 roundings
