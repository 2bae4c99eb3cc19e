"""When compensation is paid, against hand calculations: take-up scales what is paid, the
payment delay releases the killed's compensation geometrically, the missing declared dead
are paid after their declaration delay (and both delays in series on a short horizon),
mixed per-sample delays, federal and regional amounts through the same pipeline, money
conserved between paid and owed; bad input through the CLI."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.core.model import Noise, run_model
from sim.core.schedules import build_schedule
from sim.core.schema import entry_key
from sim.core.timegrid import build_time_grid
from sim.core.units import DAYS_PER_MONTH

from .conftest import check_refused, minimal
from .test_model import params

# Hand-chosen test inputs: MINIMAL's 35,000 casualties a month (0.25 killed, 0.10 missing,
# 0.65 wounded), 12M RUB per killed and 3M per wounded, not reference data.
NO_NOISE = Noise(None, None, None)
START = dt.date(2025, 1, 1)
D = dt.date
M = DAYS_PER_MONTH
ULP = np.finfo(float).eps
C_KIA, C_WIA, KILLED, MISSING, WOUNDED = 12e6, 3e6, 0.25, 0.10, 0.65
CLOSED_FORM = 1e-10
"""Relative tolerance of a recurrence over up to ~200 steps against its closed form: a few
ulps (2.2e-16) of rounding per step, and K ulps in the power (1 - h)^K; 1e-10 has a wide
margin over the ~1e-13 expected."""
FEDERAL, REGIONAL, COMPENSATION = 0, 1, 2


def run(p, months=6, step="month"):
    grid = build_time_grid(START, months, step)
    return grid, run_model(p, NO_NOISE, grid.days, grid.years_elapsed, "absolute")


def test_take_up_scales_paid_compensation():
    """No delay: what is paid is take-up times version 1's amounts, federal and regional,
    killed and wounded alike, and nothing is left owed."""
    share = 0.7
    top_ups = {"compensation.regional_per_killed_rub": 2e6,
               "compensation.regional_per_wounded_rub": 5e5}
    _, full = run(params(top_ups))
    _, partial = run(params({**top_ups, "compensation.take_up_share": share}))
    c = full["casualties"][:, 0]
    v1 = (C_KIA + 2e6) * KILLED * c + (C_WIA + 5e5) * WOUNDED * c
    np.testing.assert_allclose(full["compensation_rub"][:, 0], v1, rtol=4 * ULP)
    np.testing.assert_allclose(partial["compensation_rub"][:, 0], share * v1, rtol=4 * ULP)
    for payer in (FEDERAL, REGIONAL):
        np.testing.assert_allclose(partial["spend_rub"][:, payer, COMPENSATION],
                                   share * full["spend_rub"][:, payer, COMPENSATION],
                                   rtol=4 * ULP)
    np.testing.assert_array_equal(partial["compensation_owed_rub"], 0.0)
    np.testing.assert_array_equal(partial["missing_awaiting_declaration"], 0.0)


def test_payment_delay_releases_the_killed_compensation_geometrically():
    """Daily steps, constant deaths: u = take-up x C_kia x kappa c enters each day; paid
    u (1 - (1-h)^k) plus the wounded's take-up x C_wia w at once; owed u (1 - (1-h)^k) / h."""
    d, share = 2.0, 0.8
    p = params({"compensation.delay_months": d, "compensation.take_up_share": share})
    grid, out = run(p, step="day")
    c = 35_000 / M
    u = share * C_KIA * KILLED * c
    h = 1 - np.exp(-1 / (d * M))
    k = np.arange(grid.n_steps + 1)
    np.testing.assert_allclose(out["casualties"][:, 0], c, rtol=ULP)  # constant, as assumed
    np.testing.assert_allclose(out["compensation_rub"][:, 0],
                               u * (1 - (1 - h) ** k[:-1]) + share * C_WIA * WOUNDED * c,
                               rtol=CLOSED_FORM)
    np.testing.assert_allclose(out["compensation_owed_rub"][:, 0], u * (1 - (1 - h) ** k) / h,
                               rtol=CLOSED_FORM)
    assert out["compensation_rub"][0, 0] == pytest.approx(share * C_WIA * WOUNDED * c,
                                                          rel=ULP)  # no death paid on day 0


def test_declared_dead_are_paid_after_their_delay():
    """No payment delay; a share s of the missing is declared dead with mean delay d:
    declared_k = m (1 - (1-h)^k) with m = s mu c a day, paid at the killed's amounts in the
    step declared; awaiting Md_k = m (1 - (1-h)^k) / h."""
    d, s = 3.0, 0.6
    p = params({"losses.missing_declared_dead_share": s,
                "losses.missing_declaration_months": d})
    grid, out = run(p, step="day")
    c = 35_000 / M
    m = s * MISSING * c
    h = 1 - np.exp(-1 / (d * M))
    k = np.arange(grid.n_steps + 1)
    declared = m * (1 - (1 - h) ** k[:-1])
    np.testing.assert_allclose(out["compensation_rub"][:, 0],
                               C_KIA * (KILLED * c + declared) + C_WIA * WOUNDED * c,
                               rtol=CLOSED_FORM)
    np.testing.assert_allclose(out["missing_awaiting_declaration"][:, 0],
                               m * (1 - (1 - h) ** k) / h, rtol=CLOSED_FORM)
    np.testing.assert_array_equal(out["compensation_owed_rub"], 0.0)


def test_declared_without_delay_are_paid_in_the_same_step():
    s = 0.5
    p = params({"losses.missing_declared_dead_share": s})
    _, out = run(p)
    c = out["casualties"][:, 0]
    np.testing.assert_allclose(out["compensation_rub"][:, 0],
                               C_KIA * (KILLED + s * MISSING) * c + C_WIA * WOUNDED * c,
                               rtol=4 * ULP)
    np.testing.assert_array_equal(out["missing_awaiting_declaration"], 0.0)


def test_declaration_then_payment_delay_four_months_by_hand():
    """Both delays in series (monthly steps, no killed, nothing for the wounded):
    m_k = s mu c_k enter the declaration pipeline; h_k declared; g_k paid.
    - declared: 0, h_1 m_0, h_2 (m_0 (1-h_1) + m_1), ...
    - owed: O_1 = 0, O_2 = C declared_1, O_3 = O_2 (1 - g_2) + C declared_2
    - paid: 0, 0, g_2 O_2, g_3 O_3.
    Federal and regional amounts go through the same pipeline."""
    s, d_decl, d_pay, share, regional = 0.5, 2.0, 1.0, 0.9, 3e6
    p = params({"losses.killed_share": 0.0, "losses.missing_share": 0.4,
                "compensation.per_wounded_rub": 0.0,
                "compensation.regional_per_killed_rub": regional,
                "losses.missing_declared_dead_share": s,
                "losses.missing_declaration_months": d_decl,
                "compensation.delay_months": d_pay, "compensation.take_up_share": share})
    grid, out = run(p, months=4)
    days = grid.days
    m = s * 0.4 * 35_000 * days / M
    h = 1 - np.exp(-days / (d_decl * M))
    g = 1 - np.exp(-days / (d_pay * M))
    declared = [0.0, h[1] * m[0], h[2] * (m[0] * (1 - h[1]) + m[1])]
    amount = share * (C_KIA + regional)
    owed2 = amount * declared[1]
    owed3 = owed2 * (1 - g[2]) + amount * declared[2]
    expected = np.array([0.0, 0.0, g[2] * owed2, g[3] * owed3])
    np.testing.assert_allclose(out["compensation_rub"][:, 0], expected, rtol=1e-14,
                               atol=1e-9)
    np.testing.assert_allclose(out["compensation_owed_rub"][:4, 0], [0, 0, owed2, owed3],
                               rtol=1e-14)
    assert out["missing_awaiting_declaration"][1, 0] == pytest.approx(m[0], rel=1e-15)
    federal = out["spend_rub"][:, FEDERAL, COMPENSATION, 0]
    np.testing.assert_allclose(out["spend_rub"][2:, REGIONAL, COMPENSATION, 0],
                               federal[2:] * regional / C_KIA, rtol=1e-14)


def test_declared_dead_are_paid_at_the_amount_in_force_when_declared():
    """C_kia is 12M until March, 20M from March 1: those who went missing in January and
    are declared in March or later are paid 20M (no payment delay)."""
    s, d = 1.0, 1.0
    grid = build_time_grid(START, 5, "month")
    p = params({"losses.missing_declared_dead_share": s,
                "losses.missing_declaration_months": d,
                "compensation.per_wounded_rub": 0.0})
    key = "compensation.per_killed_rub"
    del p[key]
    dates = [D(2024, 1, 1), D(2025, 3, 1)]
    p[entry_key(key, dates[0])], p[entry_key(key, dates[1])] = np.full(1, 12e6), np.full(1, 20e6)
    out = run_model(p, NO_NOISE, grid.days, grid.years_elapsed, "absolute",
                    {key: build_schedule(key, dates, grid.starts)})
    amount = np.array([12e6, 12e6, 20e6, 20e6, 20e6])
    c = 35_000 * grid.days / M
    h = 1 - np.exp(-grid.days / (d * M))
    awaiting, declared = 0.0, []
    for k in range(grid.n_steps):
        declared.append(h[k] * awaiting)
        awaiting += s * MISSING * c[k] - declared[-1]
    np.testing.assert_allclose(out["compensation_rub"][:, 0],
                               amount * (KILLED * c + np.array(declared)), rtol=1e-14)


def test_mixed_per_sample_delays():
    """Samples with payment delay 0, 1 and 3 months in one block (daily steps): the first is
    paid as version 1 (take-up 1), the others by their own geometric release."""
    delays = np.array([0.0, 1.0, 3.0])
    p = params(n=3)
    p["compensation.delay_months"] = delays
    grid, out = run(p, step="day")
    c = 35_000 / M
    u, wounded = C_KIA * KILLED * c, C_WIA * WOUNDED * c
    np.testing.assert_allclose(out["compensation_rub"][:, 0], u + wounded, rtol=4 * ULP)
    np.testing.assert_array_equal(out["compensation_owed_rub"][:, 0], 0.0)
    k = np.arange(grid.n_steps)
    for i in (1, 2):
        h = 1 - np.exp(-1 / (delays[i] * M))
        np.testing.assert_allclose(out["compensation_rub"][:, i],
                                   u * (1 - (1 - h) ** k) + wounded, rtol=CLOSED_FORM)
    assert out["compensation_rub"][-1, 2] < out["compensation_rub"][-1, 1] < u + wounded


def test_mixed_per_sample_declaration_delays():
    """Declaration delays 0 and 2 months side by side: the first declares in the step."""
    s = 1.0
    p = params({"losses.missing_declared_dead_share": s}, n=2)
    p["losses.missing_declaration_months"] = np.array([0.0, 2.0])
    grid, out = run(p, step="day")
    c = 35_000 / M
    base = C_KIA * KILLED * c + C_WIA * WOUNDED * c
    np.testing.assert_allclose(out["compensation_rub"][:, 0], base + C_KIA * s * MISSING * c,
                               rtol=4 * ULP)
    h = 1 - np.exp(-1 / (2.0 * M))
    k = np.arange(grid.n_steps)
    np.testing.assert_allclose(out["compensation_rub"][:, 1],
                               base + C_KIA * s * MISSING * c * (1 - (1 - h) ** k),
                               rtol=CLOSED_FORM)
    np.testing.assert_array_equal(out["missing_awaiting_declaration"][:, 0], 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paid_plus_owed_is_what_was_incurred(seed):
    """Over random parameters and schedules of casualties (shocks), per sample:
    sum paid + owed_K = take-up x (C_kia (killed + declared) + C_wia wounded), federal and
    regional, with declared = s x missing - awaiting_K. Tolerance: a sum of ~K terms, each
    rounded by a few ulps of the total: 10 K ulps."""
    n = 200
    rng = np.random.default_rng(seed)
    p = params({"losses.shock_sd": 0.5, "losses.shock_persistence": 0.5}, n=n)
    p.update({
        "compensation.delay_months": np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0, 6, n)),
        "compensation.take_up_share": rng.uniform(0, 1, n),
        "compensation.regional_per_killed_rub": rng.uniform(0, 5e6, n),
        "compensation.regional_per_wounded_rub": rng.uniform(0, 1e6, n),
        "losses.missing_declared_dead_share": rng.uniform(0, 1, n),
        "losses.missing_declaration_months": np.where(rng.random(n) < 0.3, 0.0,
                                                      rng.uniform(0, 12, n)),
    })
    grid = build_time_grid(START, 18, "month")
    noise = Noise(None, rng.standard_normal((grid.n_steps, n)), None)
    out = run_model(p, noise, grid.days, grid.years_elapsed, "absolute")
    declared = (p["losses.missing_declared_dead_share"] * out["missing"].sum(axis=0)
                - out["missing_awaiting_declaration"][-1])
    killed_rub = C_KIA + p["compensation.regional_per_killed_rub"]
    wounded_rub = C_WIA + p["compensation.regional_per_wounded_rub"]
    incurred = p["compensation.take_up_share"] * (
        killed_rub * (out["killed"].sum(axis=0) + declared)
        + wounded_rub * out["wounded"].sum(axis=0))
    settled = out["compensation_rub"].sum(axis=0) + out["compensation_owed_rub"][-1]
    np.testing.assert_allclose(settled, incurred, rtol=10 * grid.n_steps * ULP)
    assert np.all(out["compensation_owed_rub"][-1][p["compensation.delay_months"] > 0] > 0)


# ---- bad input through the CLI ------------------------------------------------------------

BAD = {
    "take_up_share above 1": (minimal(compensation={"take_up_share": 1.2}),
                              "compensation.take_up_share", "expected values in [0, 1]"),
    "a schedule on take_up_share": (
        minimal(compensation={"take_up_share": {"schedule": {"2024-01-01": 0.5}}}),
        "compensation.take_up_share", "takes no schedule"),
    "a schedule on delay_months": (
        minimal(compensation={"delay_months": {"schedule": {"2024-01-01": 2.0}}}),
        "compensation.delay_months", "takes no schedule"),
    "negative delay_months": (minimal(compensation={"delay_months": -1.0}),
                              "compensation.delay_months", "expected values"),
    "declared share above 1": (minimal(losses={"missing_declared_dead_share": 1.5}),
                               "losses.missing_declared_dead_share",
                               "expected values in [0, 1]"),
    "negative declaration delay": (minimal(losses={"missing_declaration_months": -3}),
                                   "losses.missing_declaration_months", "expected values"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_timing_input_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys):
    check_refused(*BAD[case], tmp_path, capsys)
