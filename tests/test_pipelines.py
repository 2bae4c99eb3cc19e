"""Delay pipelines, training and the reserve against hand calculations: the pipeline rule
(pass-through at d = 0, geometric release, per-sample delays), training delays in the force,
the deployed share and the reserve's exits, pay of F + T + Q, and the conservation identity
F + W + T + Q for random parameters with every mechanism on."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.core.model import Noise, run_model
from sim.core.pipelines import pipeline
from sim.core.timegrid import build_time_grid
from sim.core.units import DAYS_PER_MONTH

from .test_model import params

# The figures are hand-chosen test inputs (MINIMAL's 600,000 persons, 40,000 recruits and
# 35,000 casualties a month, pay 230,000 RUB a month, ...), not reference data.
NO_NOISE = Noise(None, None, None)
START = dt.date(2025, 1, 1)
M = DAYS_PER_MONTH
ULP = np.finfo(float).eps
CLOSED_FORM = 1e-10
"""Relative tolerance of a recurrence run for up to ~400 steps against its closed form:
each step rounds a few times (<= a few ulps, 2.2e-16 each), and the closed form's power
(1 - h)^K loses about K ulps; 400 x 10 x 2.2e-16 ~ 1e-12, so 1e-10 leaves a margin."""


def run(p, months=12, step="month", mode="absolute", noise=NO_NOISE):
    grid = build_time_grid(START, months, step)
    return grid, run_model(p, noise, grid.days, grid.years_elapsed, mode)


# ---- the pipeline rule ---------------------------------------------------------------------


def _drive(pipe, inflows):
    """Run a pipeline over `inflows` (K, n); return the released (K, n) and stocks (K+1, n)."""
    n_steps, n = inflows.shape
    stock = np.zeros((n_steps + 1, n))
    released = np.empty((n_steps, n))
    for k in range(n_steps):
        pipe.step(k, stock[k], inflows[k], stock[k + 1], released[k])
    return released, stock


def test_zero_delay_passes_the_inflow_through_in_the_same_step():
    days = np.array([31.0, 28.0, 31.0])
    inflows = np.array([[5.0, 1.0], [7.0, 0.0], [0.5, 2.0]])
    released, stock = _drive(pipeline(np.zeros(2), days), inflows)
    np.testing.assert_array_equal(released, inflows)  # exact: nothing is computed
    np.testing.assert_array_equal(stock, 0.0)


def test_pulse_is_released_geometrically_one_step_later():
    """One inflow u at step 0's end: step j >= 1 releases u h (1 - h)^(j - 1)."""
    d, u, n_steps = 2.0, 1000.0, 60
    days = np.ones(n_steps)
    inflows = np.zeros((n_steps, 1))
    inflows[0] = u
    released, stock = _drive(pipeline(np.array([d]), days), inflows)
    h = 1 - np.exp(-1 / (d * M))
    j = np.arange(1, n_steps)
    assert released[0, 0] == 0.0
    np.testing.assert_allclose(released[1:, 0], u * h * (1 - h) ** (j - 1), rtol=CLOSED_FORM)
    np.testing.assert_allclose(stock[1:, 0], u * (1 - h) ** np.arange(n_steps),
                               rtol=CLOSED_FORM)
    # What is held plus what left is what entered.
    assert stock[-1, 0] + released.sum() == pytest.approx(u, rel=n_steps * ULP)


def test_monthly_hazard_depends_on_each_steps_length():
    """h_k = 1 - exp(-D_k / (d M)): a 28-day February releases less than a 31-day March."""
    d = 1.5
    days = build_time_grid(START, 4, "month").days
    pipe = pipeline(np.array([d]), days)
    for k, length in enumerate(days):
        assert pipe.hazard[k][0] == pytest.approx(-np.expm1(-length / (d * M)), rel=ULP)
    assert pipe.hazard[1][0] < pipe.hazard[2][0]


def test_mixed_per_sample_delays():
    """Samples with d = 0 pass through; the others follow their own geometric release."""
    delays = np.array([0.0, 1.0, 0.0, 4.0])
    n_steps, u = 90, 3.0
    inflows = np.full((n_steps, 4), u)
    released, stock = _drive(pipeline(delays, np.ones(n_steps)), inflows)
    np.testing.assert_array_equal(released[:, [0, 2]], u)
    np.testing.assert_array_equal(stock[:, [0, 2]], 0.0)
    k = np.arange(n_steps)
    for i in (1, 3):
        h = 1 - np.exp(-1 / (delays[i] * M))
        # constant inflow: S_k = u (1 - (1 - h)^k) / h, released h S_k
        np.testing.assert_allclose(released[:, i], u * (1 - (1 - h) ** k), rtol=CLOSED_FORM,
                                   atol=u * CLOSED_FORM)
        np.testing.assert_allclose(stock[:, i], u * (1 - (1 - h) ** np.arange(n_steps + 1)) / h,
                                   rtol=CLOSED_FORM, atol=u * CLOSED_FORM)
    assert released[-1, 3] < released[-1, 1] < u  # a longer delay releases more slowly


# ---- training and the reserve in the force ------------------------------------------------


def test_training_delay_shifts_arrivals_by_the_pipeline_formula():
    """Daily steps, constant recruits r, no losses or exits: T_k = r (1 - (1-h)^k) / h and
    the force gains a_k = r (1 - (1-h)^k) a day."""
    d = 2.0
    p = params({"recruitment.training_months": d, "losses.per_month": 0.0})
    grid, out = run(p, months=6, step="day")
    n_steps = grid.n_steps
    r = 40_000 / M
    h = 1 - np.exp(-1 / (d * M))
    k = np.arange(n_steps + 1)
    np.testing.assert_allclose(out["training"][:, 0], r * (1 - (1 - h) ** k) / h,
                               rtol=CLOSED_FORM)
    arrivals = np.diff(out["force"][:, 0])
    np.testing.assert_allclose(arrivals, r * (1 - (1 - h) ** k[:-1]), rtol=CLOSED_FORM,
                               atol=r * CLOSED_FORM)
    assert arrivals[0] == 0.0  # nobody arrives the day they sign
    np.testing.assert_allclose(out["recruits"][:, 0], r, rtol=ULP)
    np.testing.assert_array_equal(out["reserve"], 0.0)


def test_zero_training_delay_sends_recruits_the_same_step():
    """d_T = 0 with deployed_share < 1 (so T and Q are tracked): T stays empty and the
    step's recruits split at once."""
    p = params({"recruitment.training_months": 0.0, "recruitment.deployed_share": 0.25,
                "losses.per_month": 0.0})
    grid, out = run(p, months=3)
    r = 40_000 * grid.days / M
    np.testing.assert_array_equal(out["training"], 0.0)
    np.testing.assert_allclose(np.diff(out["force"][:, 0]), 0.25 * r, rtol=1e-14)
    np.testing.assert_allclose(np.diff(out["reserve"][:, 0]), 0.75 * r, rtol=1e-14)


def test_deployed_share_splits_arrivals_and_reserve_exits_at_delta():
    """Daily steps, no training or losses, exit rate delta: with e = delta / M a day,
    F_K = (1-e)^K F_0 + theta r (1 - (1-e)^K) / e and Q_K = (1-theta) r (1 - (1-e)^K) / e;
    exits in step k are e (F_k + Q_k)."""
    theta, delta = 0.6, 0.03
    p = params({"recruitment.deployed_share": theta, "force.other_exit_rate": delta,
                "losses.per_month": 0.0})
    grid, out = run(p, months=6, step="day")
    n_steps = grid.n_steps
    r, e = 40_000 / M, delta / M
    k = np.arange(n_steps + 1)
    decay = (1 - e) ** k
    np.testing.assert_allclose(out["force"][:, 0],
                               decay * 600_000 + theta * r * (1 - decay) / e, rtol=CLOSED_FORM)
    np.testing.assert_allclose(out["reserve"][:, 0], (1 - theta) * r * (1 - decay) / e,
                               rtol=CLOSED_FORM)
    np.testing.assert_allclose(out["other_exits"][:, 0],
                               e * (out["force"][:-1, 0] + out["reserve"][:-1, 0]), rtol=1e-13)
    np.testing.assert_array_equal(out["training"], 0.0)


def test_exits_are_capped_so_force_and_reserve_stay_nonnegative():
    """An exit rate of 10 a month: exits are proportional to the stock at the step's start,
    capped at the stock plus the step's arrivals. By hand (theta = 0.5, no losses):
    Q_1 = r_0 / 2 (Q_0 = 0, nothing leaves), Q_2 = 0 (capped), Q_3 = r_2 / 2; the force
    F_1 = 0 (capped), F_2 = r_1 / 2, F_3 = 0."""
    p = params({"recruitment.deployed_share": 0.5, "force.other_exit_rate": 10.0,
                "losses.per_month": 0.0})
    grid, out = run(p, months=3)
    r = 40_000 * grid.days / M
    np.testing.assert_allclose(out["reserve"][:, 0], [0, r[0] / 2, 0, r[2] / 2], rtol=1e-15)
    np.testing.assert_allclose(out["force"][:, 0], [600_000, 0, r[1] / 2, 0], rtol=1e-15)
    # capped exits: F_0 + r_0/2 (force), then Q_1 + r_1/2 (reserve) + F_1 = 0, ...
    expected_exits = [600_000 + r[0] / 2, r[0] / 2 + r[1] / 2, r[1] / 2 + r[2] / 2]
    np.testing.assert_allclose(out["other_exits"][:, 0], expected_exits, rtol=1e-15)


def test_pay_covers_training_and_reserve_three_months_by_hand():
    """pay_k = P (D_k/M) (F_k + T_k + Q_k), all federal; three monthly steps by hand."""
    d_t, theta, delta, pay, growth = 1.0, 0.7, 0.02, 230_000.0, 0.1
    p = params({"recruitment.training_months": d_t, "recruitment.deployed_share": theta,
                "force.other_exit_rate": delta, "pay.growth": growth})
    grid, out = run(p, months=3)
    d0, d1, _ = grid.days  # 31, 28, 31
    tau = grid.years_elapsed
    f0, c_month, w_share = 600_000.0, 35_000.0, 0.65
    r0, r1 = 40_000 * d0 / M, 40_000 * d1 / M
    c0, c1 = c_month * d0 / M, c_month * d1 / M
    # step 0: nobody in training yet; T_1 = r_0, Q_1 = 0
    o0 = delta * d0 / M * f0
    f1 = f0 - c0 - o0
    t1, q1 = r0, 0.0
    # step 1: a_1 = h_1 r_0 arrive; the first wounded return at the recovery hazard
    h1 = 1 - np.exp(-d1 / (d_t * M))
    a1 = h1 * r0
    w1 = 0.5 * w_share * c0
    ret1 = (1 - np.exp(-d1 / (3.0 * M))) * w1
    o1 = delta * d1 / M * f1
    f2 = f1 - c1 + theta * a1 + ret1 - o1
    t2 = r0 * (1 - h1) + r1
    q2 = q1 + (1 - theta) * a1
    paid = pay * (1 + growth) ** tau * grid.days / M * np.array([f0, f1 + t1 + q1,
                                                                 f2 + t2 + q2])
    np.testing.assert_allclose(out["pay_rub"][:, 0], paid, rtol=1e-13)
    np.testing.assert_allclose(out["spend_rub"][:, 0, 1, 0], paid, rtol=1e-13)  # federal pay
    np.testing.assert_array_equal(out["spend_rub"][:, 1, 1, 0], 0.0)  # no regional pay
    assert out["training"][2, 0] == pytest.approx(t2, rel=1e-14)
    assert out["reserve"][2, 0] == pytest.approx(q2, rel=1e-14)
    assert q2 > 0 and t2 > 0  # the check above includes both


# ---- conservation with every mechanism ----------------------------------------------------


@st.composite
def every_mechanism(draw):
    """A random block of samples with every mechanism on somewhere (mixed zero delays)."""
    seed = draw(st.integers(0, 2**32 - 1))
    step = draw(st.sampled_from(["month", "day"]))
    months = draw(st.integers(1, 14 if step == "month" else 4))
    mode = draw(st.sampled_from(["absolute", "proportional"]))
    pool = draw(st.booleans())
    response = draw(st.booleans())
    wage = draw(st.booleans())
    return seed, step, months, mode, pool, response, wage


def _random_params(rng, n, mode, pool, response, wage):
    def u(lo, hi):
        return rng.uniform(lo, hi, n)

    def maybe_zero(values):  # about a third of the samples without the mechanism
        return np.where(rng.random(n) < 1 / 3, 0.0, values)

    p = params(n=n)
    p.update({
        "force.initial_persons": u(1e4, 1e6),
        "force.other_exit_rate": u(0, 1.2),
        "recruitment.per_month": u(0, 1e5),
        "recruitment.shock_sd": u(0, 0.5),
        "recruitment.shock_persistence": u(0, 1),
        "recruitment.bonus_elasticity": u(-1, 2),
        "recruitment.pay_weight": u(0, 3),
        "recruitment.training_months": maybe_zero(u(0.01, 6)),
        "recruitment.deployed_share": np.where(rng.random(n) < 1 / 3, 1.0, u(0, 1)),
        "losses.per_month": u(0, 2e5),
        "losses.monthly_rate": u(0, 1),
        "losses.shock_sd": u(0, 0.5),
        "losses.shock_persistence": u(0, 1),
        "losses.killed_share": u(0, 0.5),
        "losses.missing_share": u(0, 0.5),
        "losses.return_to_duty_share": u(0, 1),
        "losses.recovery_months": u(0.1, 12),
        "losses.missing_declared_dead_share": u(0, 1),
        "losses.missing_declaration_months": maybe_zero(u(0.01, 24)),
        "compensation.delay_months": maybe_zero(u(0.01, 12)),
        "compensation.take_up_share": u(0, 1),
        "compensation.regional_per_killed_rub": u(0, 5e6),
        "compensation.regional_per_wounded_rub": u(0, 1e6),
        "bonus.regional_growth": u(-0.5, 1),
        "pay.growth": u(0, 0.3),
        "prices.inflation": u(0, 0.3),
    })
    if pool:
        p["recruitment.pool_persons"] = u(1e3, 1e6)
    if wage:
        p["wage.monthly_rub"] = u(3e4, 2e5)
        p["wage.growth"] = u(-0.2, 0.5)
    if response:
        p["budget.regional_revenue_rub"] = u(1e11, 1e13)
        p["regional_response.stress_threshold"] = u(0, 0.5)
        p["regional_response.cut_per_month"] = u(0, 1)
        p["regional_response.recovery_per_month"] = u(0, 1)
        p["regional_response.floor_rub"] = u(0, 1e6)
    return p


@given(every_mechanism())
def test_conservation_with_every_mechanism(case):
    """F_K + W_K + T_K + Q_K = F_0 + sum r - sum L - sum o, and no stock goes negative.

    Tolerance: each step adds or subtracts about ten terms no larger than the scale
    F_0 + sum r, each rounded to <= 1 ulp of it, so the identity holds to
    10 K ulps of that scale."""
    seed, step, months, mode, pool, response, wage = case
    rng = np.random.default_rng(seed)
    n = 6
    p = _random_params(rng, n, mode, pool, response, wage)
    grid = build_time_grid(START, months, step)
    shape = (grid.n_steps, n)
    noise = Noise(rng.standard_normal(shape), rng.standard_normal(shape),
                  rng.standard_normal(shape))
    out = run_model(p, noise, grid.days, grid.years_elapsed, mode)
    end = (out["force"][-1] + out["wounded_in_recovery"][-1] + out["training"][-1]
           + out["reserve"][-1])
    flows = (out["force"][0] + out["recruits"].sum(axis=0)
             - out["irrecoverable_losses"].sum(axis=0) - out["other_exits"].sum(axis=0))
    scale = out["force"][0] + out["recruits"].sum(axis=0)
    np.testing.assert_array_less(np.abs(end - flows), 10 * grid.n_steps * ULP * scale)
    for name in ("force", "wounded_in_recovery", "training", "reserve", "recruits",
                 "other_exits", "compensation_owed_rub", "missing_awaiting_declaration"):
        assert np.all(out[name] >= 0), name
    if pool:
        assert np.all(out["recruits"].sum(axis=0)
                      <= p["recruitment.pool_persons"] * (1 + grid.n_steps * ULP))
