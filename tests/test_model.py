"""The stock-flow core against hand calculations in closed form."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy import stats

from sim.core.model import Noise, ar1_multiplier, run_model
from sim.core.schema import OPTIONAL, REQUIRED, SCHEMA
from sim.core.timegrid import build_time_grid
from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR

from .conftest import MINIMAL

# The literal figures below (600,000 persons, 40,000 recruits and 35,000 casualties a
# month, bonus 400,000 + 1,100,000 = 1,500,000 RUB, pay 230,000 RUB a month, 12M and 3M
# RUB compensation, 85 RUB/USD, shares 0.25 killed + 0.10 missing, so 0.65 wounded) are
# the hand-chosen test inputs of `MINIMAL` in tests/conftest.py, not reference data.
FALSE_FAILURE_RATE = 1e-6
Z = stats.norm.isf(FALSE_FAILURE_RATE / 2)
NO_NOISE = Noise(None, None, None)
START = dt.date(2025, 1, 1)


def params(overrides: dict | None = None, n: int = 1) -> dict[str, np.ndarray]:
    """Every model parameter as an (n,) array: schema defaults, MINIMAL, then overrides."""
    values = {f"{s}.{k}": key.default for s, keys in SCHEMA.items() for k, key in keys.items()
              if key.is_prior and key.default not in (REQUIRED, OPTIONAL)}
    values.update({f"{s}.{k}": v for s, table in MINIMAL.items() if s not in ("run", "time")
                   for k, v in table.items()})
    values["losses.monthly_rate"] = 0.0
    values.update(overrides or {})
    return {k: np.full(n, float(v)) for k, v in values.items()}


def run(p, months=12, step="month", mode="absolute", noise=NO_NOISE):
    grid = build_time_grid(START, months, step)
    return grid, run_model(p, noise, grid.days, grid.years_elapsed, mode)


def test_no_returns_no_exits_closed_form():
    p = params({"losses.return_to_duty_share": 0.0})
    grid, out = run(p)
    months_total = grid.days.sum() / DAYS_PER_MONTH
    recruits, losses = 40_000 * months_total, 35_000 * months_total
    assert out["recruits"].sum() == pytest.approx(recruits, rel=1e-12)
    assert out["force"][-1, 0] == pytest.approx(600_000 + recruits - losses, rel=1e-12)
    assert out["bonus_spend_rub"].sum() == pytest.approx(recruits * 1_500_000, rel=1e-12)
    # February gets 28 / 30.4375 of a month's recruits.
    assert out["recruits"][1, 0] == pytest.approx(40_000 * 28 / DAYS_PER_MONTH, rel=1e-12)
    c = out["casualties"][:, 0]
    expected_comp = 12e6 * 0.25 * c + 3e6 * 0.65 * c
    np.testing.assert_allclose(out["compensation_rub"][:, 0], expected_comp, rtol=1e-12)
    np.testing.assert_allclose(out["pay_rub"][:, 0],
                               230_000 * out["force"][:-1, 0] * grid.days / DAYS_PER_MONTH,
                               rtol=1e-12)
    np.testing.assert_allclose(out["irrecoverable_losses"][:, 0], c, rtol=1e-12)


def test_recovery_pipeline_geometric_series_daily_steps():
    d = 3.0
    p = params({"losses.killed_share": 0.0, "losses.missing_share": 0.0,
                "losses.return_to_duty_share": 1.0, "losses.recovery_months": d,
                "recruitment.per_month": 0.0})
    grid, out = run(p, months=6, step="day")
    k = grid.n_steps
    inflow = 35_000 / DAYS_PER_MONTH
    h = 1 - np.exp(-1 / (d * DAYS_PER_MONTH))
    w_end = inflow * (1 - (1 - h) ** k) / h
    assert out["wounded_in_recovery"][-1, 0] == pytest.approx(w_end, rel=1e-10)
    returned = inflow * k - w_end
    assert out["returns"].sum() == pytest.approx(returned, rel=1e-10)
    assert out["force"][-1, 0] == pytest.approx(600_000 - inflow * k + returned, rel=1e-10)
    assert out["irrecoverable_losses"].sum() == pytest.approx(0.0, abs=1e-6)


def test_proportional_losses_decay_geometrically():
    lam = 0.05
    p = params({"recruitment.per_month": 0.0, "losses.monthly_rate": lam,
                "losses.return_to_duty_share": 0.0})
    grid, out = run(p, mode="proportional")
    expected = 600_000 * np.cumprod(1 - lam * grid.days / DAYS_PER_MONTH)
    np.testing.assert_allclose(out["force"][1:, 0], expected, rtol=1e-12)


def test_casualties_never_exceed_force_and_force_stays_at_zero():
    p = params({"recruitment.per_month": 0.0, "losses.per_month": 5e6,
                "losses.return_to_duty_share": 0.0})
    _, out = run(p)
    assert out["casualties"][0, 0] == 600_000
    assert np.all(out["force"][1:, 0] == 0) and np.all(out["casualties"][1:, 0] == 0)


def test_other_exits_capped_so_force_is_never_negative():
    p = params({"force.other_exit_rate": 1.0, "recruitment.per_month": 0.0})
    _, out = run(p)
    assert np.all(out["force"] >= 0)
    assert out["force"][1, 0] == 0  # a 31-day January removes more than the whole force
    assert out["other_exits"][0, 0] == pytest.approx(600_000 - out["casualties"][0, 0])


def test_exchange_rate_drift_without_volatility():
    p = params({"fx.drift": -0.2})
    grid, out = run(p)
    elapsed = np.concatenate([[0], np.cumsum(grid.days)[:-1]])
    np.testing.assert_allclose(out["rub_per_usd"][:, 0],
                               85 * np.exp(-0.2 * elapsed / DAYS_PER_YEAR), rtol=1e-12)


def test_bonus_growth_and_elasticity():
    g, eps, infl = 0.2, 0.5, 0.08
    p = params({"bonus.regional_growth": g, "recruitment.bonus_elasticity": eps,
                "prices.inflation": infl})
    grid, out = run(p, months=13)
    tau = grid.years_elapsed[12]  # 2026-01-01
    assert tau == pytest.approx(365 / 365.25)
    bonus = 400_000 + 1_100_000 * (1 + g) ** tau
    assert out["bonus_rub_per_recruit"][12, 0] == pytest.approx(bonus, rel=1e-12)
    real_ratio = bonus / 1_500_000 / (1 + infl) ** tau
    expected_recruits = 40_000 * 31 / DAYS_PER_MONTH * real_ratio**eps
    assert out["recruits"][12, 0] == pytest.approx(expected_recruits, rel=1e-12)


def test_elasticity_without_bonus_growth_responds_to_prices_only():
    """Each sample's bonus is its own base: with no growth, b_k = 1 / P_k in every sample."""
    p = params({"recruitment.bonus_elasticity": 0.5, "prices.inflation": 0.1}, n=3)
    p["bonus.federal_rub"] = np.array([1e5, 4e5, 9e5])
    grid, out = run(p, months=13)
    tau = grid.years_elapsed[:, None]
    expected = 40_000 * (grid.days / DAYS_PER_MONTH)[:, None] * (1.1**-tau) ** 0.5
    np.testing.assert_allclose(out["recruits"], np.broadcast_to(expected, (13, 3)),
                               rtol=1e-12)
    assert out["bonus_rub_per_recruit"].shape == (13, 3)


def test_ar1_multiplier_mean_variance_and_autocorrelation():
    n, s, phi = 40_000, 0.3, 0.6
    days = np.full(12, DAYS_PER_MONTH)
    z = np.random.default_rng(5).standard_normal((12, n))
    m = ar1_multiplier(z, np.full(n, s), np.full(n, phi), days)
    x = np.log(m) + s**2 / 2
    # Mean one at every step (SE from the lognormal variance).
    se_mean = np.sqrt(np.expm1(s**2) / n)
    assert np.all(np.abs(m.mean(axis=1) - 1) <= Z * se_mean)
    # Stationary variance s^2 (SE of a normal sample variance: s^2 sqrt(2/n)).
    assert np.all(np.abs(x.var(axis=1) - s**2) <= Z * s**2 * np.sqrt(2 / n))
    # Lag-one correlation phi (SE of a correlation: (1 - phi^2) / sqrt(n)).
    r = np.corrcoef(x[5], x[6])[0, 1]
    assert abs(r - phi) <= Z * (1 - phi**2) / np.sqrt(n)


def test_ar1_persistence_scales_with_step_length():
    """Daily steps with phi per month give the same month-apart correlation."""
    n, s, phi = 20_000, 0.2, 0.5
    days = np.ones(61)
    z = np.random.default_rng(9).standard_normal((61, n))
    x = np.log(ar1_multiplier(z, np.full(n, s), np.full(n, phi), days))
    r = np.corrcoef(x[0], x[30])[0, 1]
    expected = phi ** (30 / DAYS_PER_MONTH)
    assert abs(r - expected) <= Z * (1 - expected**2) / np.sqrt(n)


def test_zero_persistence_and_full_persistence():
    z = np.random.default_rng(1).standard_normal((3, 4))
    days = np.full(3, 31.0)
    frozen = ar1_multiplier(z, np.full(4, 0.5), np.ones(4), days)
    np.testing.assert_allclose(frozen, np.broadcast_to(frozen[0], frozen.shape), rtol=1e-12)
    fresh = ar1_multiplier(z, np.full(4, 0.5), np.zeros(4), days)
    np.testing.assert_allclose(np.log(fresh), 0.5 * z - 0.125, rtol=1e-12)
