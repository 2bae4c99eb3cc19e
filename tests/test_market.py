"""The recruitment market against hand calculations: the package with pay_weight, the wage
comparator and the price level, the regions' multiplier in the package, the finite pool
(its slowdown and its cap); a larger pool never recruits fewer; bad market inputs through
the CLI."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from sim.core.model import Noise, run_model
from sim.core.timegrid import build_time_grid
from sim.core.units import DAYS_PER_MONTH

from .conftest import check_refused, minimal
from .test_model import params

# The figures are hand-chosen test inputs (MINIMAL's 600,000 persons, 40,000 recruits a
# month, bonus 400,000 + 1,100,000 RUB, pay 230,000 RUB a month, ...), not reference data.
NO_NOISE = Noise(None, None, None)
START = dt.date(2025, 1, 1)
M = DAYS_PER_MONTH
ULP = np.finfo(float).eps
HAND = 1e-12
"""Relative tolerance against a hand formula evaluated in another order: the powers and
logs differ by a few ulps each; eps <= 1 amplifies a relative error at most by its size."""


def run(p, months=12, step="month", noise=NO_NOISE):
    grid = build_time_grid(START, months, step)
    return grid, run_model(p, noise, grid.days, grid.years_elapsed, "absolute")


# ---- the package and the comparator -------------------------------------------------------


def test_package_with_pay_weight_against_the_wage():
    """b_k = (V_k / A_k) / (V_0 / A_0) with V_k = B_fed + B_reg (1+g_B)^tau
    + psi 12 P (1+g_P)^tau and A_k = 12 W (1+g_W)^tau; r_k = R (D_k/M) b_k^eps."""
    psi, eps, g_b, g_p, wage, g_w = 2.0, 0.7, 0.2, 0.1, 90_000.0, 0.05
    p = params({"recruitment.pay_weight": psi, "recruitment.bonus_elasticity": eps,
                "bonus.regional_growth": g_b, "pay.growth": g_p, "wage.monthly_rub": wage,
                "wage.growth": g_w, "prices.inflation": 0.3})  # inflation must not matter
    grid, out = run(p, months=13)
    tau = grid.years_elapsed
    package = 400_000 + 1_100_000 * (1 + g_b) ** tau + psi * 12 * 230_000 * (1 + g_p) ** tau
    comparator = 12 * wage * (1 + g_w) ** tau
    b = (package / comparator) / (package[0] / comparator[0])
    np.testing.assert_allclose(out["recruits"][:, 0], 40_000 * grid.days / M * b**eps,
                               rtol=HAND)
    # the bonus paid is still B_k alone (pay is not paid twice)
    np.testing.assert_allclose(out["bonus_rub_per_recruit"][:, 0],
                               400_000 + 1_100_000 * (1 + g_b) ** tau, rtol=HAND)
    assert b[-1] != pytest.approx(1.0, abs=0.01)  # the inputs move b_k


def test_package_with_pay_weight_against_the_price_level():
    """Without [wage] the comparator is P_k = (1 + pi)^tau."""
    psi, eps, g_p, infl = 1.0, 0.5, 0.15, 0.08
    p = params({"recruitment.pay_weight": psi, "recruitment.bonus_elasticity": eps,
                "pay.growth": g_p, "prices.inflation": infl})
    grid, out = run(p, months=13)
    tau = grid.years_elapsed
    package = 1_500_000 + psi * 12 * 230_000 * (1 + g_p) ** tau
    b = package / package[0] / (1 + infl) ** tau
    np.testing.assert_allclose(out["recruits"][:, 0], 40_000 * grid.days / M * b**eps,
                               rtol=HAND)


def test_wage_comparator_without_pay_weight():
    """psi = 0: b_k = (B_k / B_0) / (W_k / W_0); a civilian wage rising 20% a year with
    a flat bonus lowers recruitment by (1.2^-tau)^eps."""
    eps, g_w = 1.5, 0.2
    p = params({"recruitment.bonus_elasticity": eps, "wage.monthly_rub": 100_000.0,
                "wage.growth": g_w})
    grid, out = run(p, months=13)
    expected = 40_000 * grid.days / M * (1 + g_w) ** (-eps * grid.years_elapsed)
    np.testing.assert_allclose(out["recruits"][:, 0], expected, rtol=HAND)


def test_package_base_is_each_samples_own():
    """psi > 0 and nothing grows: V_k = V_0 in every sample, so b_k = 1 / P_k whatever the
    sample's bonus and pay (sample 0 must not set the others' base)."""
    eps, infl = 0.5, 0.1
    p = params({"recruitment.pay_weight": 1.0, "recruitment.bonus_elasticity": eps,
                "prices.inflation": infl}, n=3)
    p["bonus.federal_rub"] = np.array([2e5, 4e5, 6e5])
    p["pay.monthly_rub"] = np.array([1e5, 2.3e5, 3e5])
    grid, out = run(p, months=13)
    expected = 40_000 * grid.days / M * (1 + infl) ** (-eps * grid.years_elapsed)
    np.testing.assert_allclose(out["recruits"], np.repeat(expected[:, None], 3, axis=1),
                               rtol=HAND)


def test_zero_elasticity_ignores_the_package():
    p = params({"recruitment.pay_weight": 3.0, "wage.monthly_rub": 1e5, "wage.growth": 0.5,
                "pay.growth": 0.3})
    grid, out = run(p, months=6)
    np.testing.assert_allclose(out["recruits"][:, 0], 40_000 * grid.days / M, rtol=ULP)


def test_package_uses_the_regions_multiplier():
    """With the regions cutting (threshold 0), V_k = B_fed + c_k B_reg + psi 12 P."""
    eps, psi = 0.8, 0.5
    p = params({"recruitment.bonus_elasticity": eps, "recruitment.pay_weight": psi,
                "budget.regional_revenue_rub": 1e13,
                "regional_response.stress_threshold": 0.0,
                "regional_response.cut_per_month": 0.2})
    grid, out = run(p, months=6)
    c = out["regional_bonus_multiplier"][:, 0]
    assert c[-1] < 0.5  # the cut matters
    package = 400_000 + c * 1_100_000 + psi * 12 * 230_000
    np.testing.assert_allclose(out["recruits"][:, 0],
                               40_000 * grid.days / M * (package / package[0]) ** eps,
                               rtol=HAND)


# ---- the pool -----------------------------------------------------------------------------


def test_pool_slows_recruitment_geometrically_daily():
    """eps = 0, daily steps, a = R / M a day: N - Rcum falls by (1 - a/N) a day, so
    r_k = a (1 - a/N)^k and Rcum_K = N (1 - (1 - a/N)^K)."""
    pool = 150_000.0
    p = params({"recruitment.pool_persons": pool})
    grid, out = run(p, months=6, step="day")
    a = 40_000 / M
    k = np.arange(grid.n_steps)
    np.testing.assert_allclose(out["recruits"][:, 0], a * (1 - a / pool) ** k, rtol=1e-11)
    total = pool * (1 - (1 - a / pool) ** grid.n_steps)
    assert out["recruits"].sum() == pytest.approx(total, rel=1e-11)
    assert total < 0.8 * 40_000 * grid.n_steps / M  # the pool slowed recruitment visibly


def test_pool_with_elasticity_by_hand_monthly():
    """r_k = R (D_k/M) b_k^eps pool_k with pool_k = 1 - Rcum_k / N, three months by hand."""
    pool, eps, infl = 300_000.0, 0.5, 0.2
    p = params({"recruitment.pool_persons": pool, "recruitment.bonus_elasticity": eps,
                "prices.inflation": infl})
    grid, out = run(p, months=3)
    signed, expected = 0.0, []
    for days, tau in zip(grid.days, grid.years_elapsed, strict=True):
        wanted = 40_000 * days / M * (1 + infl) ** (-eps * tau) * (1 - signed / pool)
        expected.append(min(wanted, pool - signed))
        signed += expected[-1]
    np.testing.assert_allclose(out["recruits"][:, 0], expected, rtol=HAND)


def test_pool_caps_cumulative_recruits_at_n():
    """A pool smaller than one month's demand is signed up in the first step, then none."""
    pool = 10_000.0
    p = params({"recruitment.pool_persons": pool, "losses.per_month": 0.0})
    _, out = run(p, months=4)
    np.testing.assert_array_equal(out["recruits"][:, 0], [pool, 0, 0, 0])
    assert out["force"][1, 0] == 600_000 + pool


def test_pool_is_never_overdrawn_with_shocks():
    """Random shocks and a small pool: cumulative recruits never exceed N (to rounding)."""
    n = 200
    rng = np.random.default_rng(11)
    p = params({"recruitment.shock_sd": 1.0, "recruitment.shock_persistence": 0.5,
                "recruitment.bonus_elasticity": 0.6, "prices.inflation": -0.3}, n=n)
    p["recruitment.pool_persons"] = rng.uniform(1e4, 2e5, n)
    grid = build_time_grid(START, 24, "month")
    noise = Noise(rng.standard_normal((grid.n_steps, n)), None, None)
    out = run_model(p, noise, grid.days, grid.years_elapsed, "absolute")
    signed = out["recruits"].cumsum(axis=0)
    assert np.all(out["recruits"] >= 0)
    assert np.all(signed <= p["recruitment.pool_persons"] * (1 + grid.n_steps * ULP))
    assert np.any(signed[-1] > 0.99 * p["recruitment.pool_persons"])  # some pools run dry


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_larger_pool_never_recruits_fewer(seed):
    """Per sample, with common random numbers: total recruits rise with N.
    Rcum_{k+1} = Rcum_k + min(D_k pool_k, N - Rcum_k) is nondecreasing in both Rcum_k and N
    (D_k does not depend on the past without the regions' response), so this holds exactly
    but for rounding (a few ulps per step: tolerance K x 4 ulps)."""
    n = 300
    rng = np.random.default_rng(seed)
    p = params({"recruitment.shock_sd": 0.6, "recruitment.shock_persistence": 0.7}, n=n)
    p["recruitment.bonus_elasticity"] = rng.uniform(-0.5, 2, n)
    p["prices.inflation"] = rng.uniform(-0.2, 0.4, n)
    p["wage.monthly_rub"] = rng.uniform(5e4, 2e5, n)
    p["wage.growth"] = rng.uniform(-0.1, 0.3, n)
    p["recruitment.pay_weight"] = rng.uniform(0, 2, n)
    p["recruitment.training_months"] = rng.uniform(0, 3, n)
    small = rng.uniform(1e4, 1e6, n)
    grid = build_time_grid(START, 18, "month")
    noise = Noise(rng.standard_normal((grid.n_steps, n)), rng.standard_normal(
        (grid.n_steps, n)), None)

    def total(pool):
        out = run_model({**p, "recruitment.pool_persons": pool}, noise, grid.days,
                        grid.years_elapsed, "absolute")
        return out["recruits"].sum(axis=0)

    totals = [total(small * factor) for factor in (1.0, 1.5, 3.0, 100.0)]
    slack = 1 - 4 * grid.n_steps * ULP
    for fewer, more in itertools.pairwise(totals):
        assert np.all(more >= fewer * slack)
        assert np.mean(more > fewer * (1 + 1e-6)) > 0.5  # not vacuous: most samples differ


@pytest.mark.parametrize("psi", [0.0, 1.5])
def test_unreached_pool_recruits_as_without_pool(psi):
    """A pool of 1e15 (never approached) recruits as no pool, per sample: the in-loop
    recruits (with a pool) and the all-steps recruits (without) agree. pool_k differs
    from 1 by Rcum / N < 1e-8, the tolerance."""
    n = 50
    rng = np.random.default_rng(4)
    p = params({"recruitment.shock_sd": 0.5, "recruitment.pay_weight": psi}, n=n)
    p["recruitment.bonus_elasticity"] = rng.uniform(-0.5, 2, n)
    p["bonus.federal_rub"] = rng.uniform(1e5, 1e6, n)
    p["pay.monthly_rub"] = rng.uniform(1e5, 3e5, n)
    p["wage.monthly_rub"] = rng.uniform(5e4, 2e5, n)
    grid = build_time_grid(START, 12, "month")
    noise = Noise(rng.standard_normal((grid.n_steps, n)), None, None)
    without = run_model(p, noise, grid.days, grid.years_elapsed, "absolute")
    with_pool = run_model({**p, "recruitment.pool_persons": np.full(n, 1e15)}, noise,
                          grid.days, grid.years_elapsed, "absolute")
    np.testing.assert_allclose(without["recruits"], with_pool["recruits"], rtol=1e-8)


# ---- bad input through the CLI ------------------------------------------------------------

BAD = {
    "[wage] without monthly_rub": (minimal(wage={"growth": 0.05}), "wage.monthly_rub",
                                   "missing required value"),
    "negative training_months": (minimal(recruitment={"training_months": -1.0}),
                                 "recruitment.training_months", "expected values"),
    "deployed_share above 1": (minimal(recruitment={"deployed_share": 1.2}),
                               "recruitment.deployed_share", "expected values in [0, 1]"),
    "pool_persons zero": (minimal(recruitment={"pool_persons": 0}),
                          "recruitment.pool_persons", "expected values > 0"),
    "pool_persons negative": (minimal(recruitment={"pool_persons": -5e5}),
                              "recruitment.pool_persons", "expected values > 0"),
    "pool_persons range reaching zero": (minimal(recruitment={"pool_persons": "0 to 1e6"}),
                                         "recruitment.pool_persons", "expected values > 0"),
    "negative pay_weight": (minimal(recruitment={"pay_weight": -0.5}),
                            "recruitment.pay_weight", "expected values"),
    "wage zero": (minimal(wage={"monthly_rub": 0}), "wage.monthly_rub", "expected values"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_market_input_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys):
    check_refused(*BAD[case], tmp_path, capsys)
