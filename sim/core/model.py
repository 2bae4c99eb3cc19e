"""The pure stock-flow core: ndarrays in, ndarrays out, a loop over time only.

Shapes: ``n`` samples, ``K`` time steps. Per-sample parameters are ``(n,)``
arrays keyed by their dotted config name (``"recruitment.per_month"``); noise
and per-step results are time-major ``(K, n)`` arrays, stocks ``(K + 1, n)``.
Everything is float64. The equations are those of ``docs/model.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from sim.core.budgets import budget_growth, budget_path
from sim.core.compensation import build_compensation
from sim.core.market import NO_LEVERS, Levers, build_market
from sim.core.pipelines import pipeline
from sim.core.response import build_response
from sim.core.schedules import NO_SCHEDULES, Schedules, at_step, grown_amount, step_values
from sim.core.schema import ITEMS, PAYERS
from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR

Params = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Noise:
    """Standard normal innovations, each ``(K, n)``, or None where a process is off.

    Attributes
    ----------
    recruitment, losses : ndarray or None
        Innovations e_k of the recruitment and casualty AR(1) shocks.
    fx : ndarray or None
        Innovations z_k of the exchange-rate walk (row K - 1 is unused).
    """

    recruitment: np.ndarray | None
    losses: np.ndarray | None
    fx: np.ndarray | None


def _by_step_length(days: np.ndarray, per_days) -> list[np.ndarray]:
    """Evaluate ``per_days(d)`` once per distinct step length and index it by step."""
    cache = {d: per_days(d) for d in np.unique(days)}
    return [cache[d] for d in days]


def ar1_multiplier(
    innovations: np.ndarray | None,
    shock_sd: np.ndarray,
    persistence: np.ndarray,
    days: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray | float:
    """Mean-one lognormal AR(1) multipliers m_k.

    Parameters
    ----------
    innovations : ndarray, shape (K, n), or None
        Standard normal e_k; None means no shock (returns 1.0).
    shock_sd : ndarray, shape (n,)
        s, SD of the stationary log shock [1].
    persistence : ndarray, shape (n,)
        phi, autocorrelation over one mean month [1], in [0, 1].
    days : ndarray, shape (K,)
        Step lengths D_k [days].
    out : ndarray, shape (K, n), optional
        Where to write the multipliers.

    Returns
    -------
    ndarray, shape (K, n), or float 1.0

    Notes
    -----
    x_0 = s e_0; x_k = a_k x_{k-1} + s sqrt(1 - a_k^2) e_k with a_k = phi^(D_k / M);
    m_k = exp(x_k - s^2 / 2), so E[m_k] = 1 and the log shock is stationary.
    """
    if innovations is None:
        return 1.0
    with np.errstate(divide="ignore"):
        log_phi = np.log(persistence)

    def coefficients(d):
        a = np.exp(log_phi * (d / DAYS_PER_MONTH))
        return a, shock_sd * np.sqrt(1.0 - a * a)

    coeffs = _by_step_length(days, coefficients)
    x = np.empty_like(innovations) if out is None else out
    np.multiply(shock_sd, innovations[0], out=x[0])
    term = np.empty_like(shock_sd)
    for k in range(1, len(days)):
        a, scale = coeffs[k]
        np.multiply(a, x[k - 1], out=x[k])
        x[k] += np.multiply(scale, innovations[k], out=term)
    x -= 0.5 * shock_sd * shock_sd
    return np.exp(x, out=x)


def exchange_rate(p: Params, innovations: np.ndarray | None, days: np.ndarray,
                  schedules: Schedules = NO_SCHEDULES) -> np.ndarray:
    """RUB per USD at each step start X_k, (K, n).

    Notes
    -----
    log X_{k+1} = log X_k + mu_X D_k / 365.25 + sigma_X sqrt(D_k / 365.25) z_k. When
    ``fx.rub_per_usd`` is a schedule, its entries are the known path: X_k is the entry in
    force (exactly) up to the first step in which the last entry is in force, and the walk
    runs on from it.
    """
    dt_years = days / DAYS_PER_YEAR
    drift, volatility = p["fx.drift"], p["fx.volatility"]
    schedule = schedules.get("fx.rub_per_usd")
    log_x = np.empty((len(days), len(drift)))
    if schedule is None:
        known = 1
        np.log(p["fx.rub_per_usd"], out=log_x[0])
    else:  # the known rates, exactly as given; the walk runs on from the last of them
        known = schedule.known_steps
        last = p[schedule.entries[schedule.in_force[known - 1]]]
        np.log(last, out=log_x[known - 1])
    step, shock = np.empty_like(drift), np.empty_like(drift)
    for k in range(known, len(days)):  # one row at a time: no (K, n) temporaries
        dt = dt_years[k - 1]
        np.multiply(drift, dt, out=step)
        if innovations is not None:
            np.multiply(volatility, np.sqrt(dt), out=shock)
            shock *= innovations[k - 1]
            step += shock
        np.add(log_x[k - 1], step, out=log_x[k])
    if schedule is None:
        return np.exp(log_x, out=log_x)
    rub_per_usd = log_x
    np.exp(log_x[known:], out=rub_per_usd[known:])
    for k in range(known):  # the known path, row by row (no (K, n) gather)
        rub_per_usd[k] = p[schedule.entries[schedule.in_force[k]]]
    return rub_per_usd


def staged_recruits(p: Params) -> bool:
    """Recruits pass through training or some go to the reserve (T and Q are not zero)."""
    return bool(np.any(p["recruitment.training_months"])
                or np.any(p["recruitment.deployed_share"] != 1))


def manpower(p: Params, recruits_persons: np.ndarray, loss_shock: np.ndarray | float,
             days: np.ndarray, loss_mode: str, schedules: Schedules = NO_SCHEDULES,
             before_step: Callable[[int], None] | None = None,
             after_step: Callable[[int, np.ndarray], None] | None = None
             ) -> dict[str, np.ndarray]:
    """Run the force, recovery, training and reserve stocks through time.

    Parameters
    ----------
    p : mapping of str to ndarray, each (n,)
        Sampled parameters.
    recruits_persons : ndarray, shape (K, n)
        r_k [persons per step]; row k may be written by `before_step`.
    loss_shock : ndarray (K, n) or float
        Casualty multipliers n_k [1].
    days : ndarray, shape (K,)
        D_k [days].
    loss_mode : {"absolute", "proportional"}
    schedules : mapping of str to Schedule
        Scheduled keys (`sim.core.schedules`); their values change from step to step.
    before_step, after_step : callable, optional
        ``before_step(k)`` at the start of step k (to sign its recruits when they depend
        on the past: the regions' response, a finite pool); ``after_step(k, c_k)`` after
        its flows (to pay for them and update the response).

    Returns
    -------
    dict of ndarray
        ``casualties``, ``returns``, ``other_exits`` (K, n) [persons per step];
        ``force``, ``wounded_in_recovery``, ``training``, ``reserve`` (K + 1, n)
        [persons].

    Notes
    -----
    c_k = min(C (D_k/M) n_k, F_k) or min(lambda F_k (D_k/M) n_k, F_k);
    returns_k = h_k W_k with h_k = 1 - exp(-D_k / (d M));
    arrivals from training a_k (`sim.core.pipelines`, a_k = r_k without training);
    o_k = min(delta F_k D_k/M, F_k + theta_D a_k - c_k + returns_k);
    F_{k+1} = F_k + theta_D a_k - c_k + returns_k - o_k;
    Q_{k+1} = Q_k + (1 - theta_D) a_k - oQ_k, oQ_k = min(delta Q_k D_k/M, Q_k + (1 - theta_D) a_k);
    W_{k+1} = W_k - returns_k + rho (1 - kappa - mu) c_k.
    Capping o_k and oQ_k, rather than flooring the stocks at zero, keeps the conservation
    identity F_K + W_K + T_K + Q_K = F_0 + sum r - sum L - sum o exact.
    """
    n_steps, n = recruits_persons.shape
    months = days / DAYS_PER_MONTH
    to_pipeline = p["losses.return_to_duty_share"] * (
        1.0 - step_values(p, "losses.killed_share", schedules)
        - step_values(p, "losses.missing_share", schedules)
    )
    recovery = pipeline(p["losses.recovery_months"], days)
    training = pipeline(p["recruitment.training_months"], days)
    deployed_share = p["recruitment.deployed_share"]
    staged = staged_recruits(p)
    exit_rate = step_values(p, "force.other_exit_rate", schedules)
    per_month = step_values(
        p, "losses.per_month" if loss_mode == "absolute" else "losses.monthly_rate", schedules)
    shocked = not np.isscalar(loss_shock)
    force = np.empty((n_steps + 1, n))
    wounded = np.empty((n_steps + 1, n))
    in_training = np.zeros((n_steps + 1, n))
    reserve = np.zeros((n_steps + 1, n))
    casualties = np.empty((n_steps, n))
    returns = np.empty((n_steps, n))
    exits = np.empty((n_steps, n))
    force[0] = p["force.initial_persons"]
    wounded[0] = 0.0
    room, demand, exit_rate_k = np.empty(n), np.empty(n), np.empty(n)
    arrivals, to_reserve, reserve_exits = np.empty(n), np.empty(n), np.empty(n)
    for k in range(n_steps):
        if before_step is not None:
            before_step(k)
        f, c, ret, o = force[k], casualties[k], returns[k], exits[k]
        np.multiply(at_step(per_month, k), months[k], out=demand)  # demand, one row at a time
        if shocked:
            demand *= loss_shock[k]
        if loss_mode == "absolute":
            np.minimum(demand, f, out=c)
        else:
            np.multiply(demand, f, out=c)
            np.minimum(c, f, out=c)
        recovery.step(k, wounded[k], 0.0, wounded[k + 1], ret)
        joining = recruits_persons[k]
        if staged:  # through training, then a share to the front and the rest to reserve
            training.step(k, in_training[k], joining, in_training[k + 1], arrivals)
            np.multiply(arrivals, 1.0 - deployed_share, out=to_reserve)
            joining = np.multiply(arrivals, deployed_share, out=arrivals)
        np.subtract(f, c, out=room)
        room += joining
        room += ret
        np.multiply(at_step(exit_rate, k), months[k], out=exit_rate_k)
        np.multiply(exit_rate_k, f, out=o)
        np.minimum(o, room, out=o)
        np.subtract(room, o, out=force[k + 1])
        if staged:
            np.add(reserve[k], to_reserve, out=room)
            np.multiply(exit_rate_k, reserve[k], out=reserve_exits)
            np.minimum(reserve_exits, room, out=reserve_exits)
            np.subtract(room, reserve_exits, out=reserve[k + 1])
            o += reserve_exits
        wounded[k + 1] += np.multiply(at_step(to_pipeline, k), c, out=demand)
        if after_step is not None:
            after_step(k, c)
    return {
        "casualties": casualties,
        "returns": returns,
        "other_exits": exits,
        "force": force,
        "wounded_in_recovery": wounded,
        "training": in_training,
        "reserve": reserve,
    }


def run_model(p: Params, noise: Noise, days: np.ndarray, years: np.ndarray,
              loss_mode: str, schedules: Schedules = NO_SCHEDULES,
              levers: Levers = NO_LEVERS) -> dict[str, np.ndarray]:
    """The whole stock-flow model for one block of samples.

    Parameters
    ----------
    p : mapping of str to ndarray, each (n,)
        Sampled parameters by dotted config key (a scheduled key's entries under their
        own names, `sim.core.schema.entry_key`).
    noise : Noise
        Standard normal innovations, (K, n) each.
    days : ndarray, shape (K,)
        Step lengths D_k [days].
    years : ndarray, shape (K,)
        Elapsed years tau_k [year].
    loss_mode : {"absolute", "proportional"}
    schedules : mapping of str to Schedule
        The scheduled keys (`sim.core.schedules`); none for a version-1 config.
    levers : Levers
        Per-sample scales on the recruitment level and the regional bonus
        (`sim.core.market.Levers`); none by default.

    Returns
    -------
    dict of ndarray
        Per-step flows (K, n) [persons or RUB per step]: ``recruits``,
        ``casualties``, ``killed``, ``missing``, ``wounded``, ``returns``,
        ``irrecoverable_losses``, ``other_exits``, ``bonus_spend_rub``,
        ``pay_rub``, ``compensation_rub``; the ledger ``spend_rub`` (K, 2, 3, n)
        [RUB per step] by payer (`PAYERS`) and item (`ITEMS`); per-step levels (K, n):
        ``bonus_rub_per_recruit`` [RUB], ``rub_per_usd`` [RUB/USD]; stocks (K + 1, n):
        ``force``, ``wounded_in_recovery``, ``training``, ``reserve``,
        ``missing_awaiting_declaration`` [persons], ``compensation_owed_rub`` [RUB]; with
        the regions' response, also ``regional_bonus_rub_per_recruit`` [RUB],
        ``regional_bonus_multiplier``, ``regional_stress`` (K, n) and ``first_cut_days``,
        ``first_stress_days`` [day], ``months_cutting`` [month] (n,).

    Notes
    -----
    The equations of ``docs/model.md``, computed by `sim.core.market`,
    `sim.core.compensation`, `sim.core.response`, `manpower` and `exchange_rate`. A
    version-1 config runs the same floating-point operations in the same order as
    version 1 (results are bit-identical). Recruits are computed inside the time loop
    only when they depend on the past (the regions' response, a finite pool); the loop
    runs over time steps, vectorized over samples.
    """
    n_steps, n = len(days), len(p["force.initial_persons"])
    months = days / DAYS_PER_MONTH
    scratch = np.empty((n_steps, n))
    spend = np.empty((n_steps, len(PAYERS), len(ITEMS), n))
    federal, regional = 0, 1
    bonus_item, pay_item, compensation_item = 0, 1, 2

    # r_k = R_k (D_k / M) m_k b_k^eps (pool_k), with the package against the comparator
    shock = ar1_multiplier(noise.recruitment, p["recruitment.shock_sd"],
                           p["recruitment.shock_persistence"], days, out=scratch)
    market = build_market(p, schedules, shock if noise.recruitment is not None else 1.0,
                          days, years, out=np.empty((n_steps, n)), levers=levers)
    bonus = np.empty((n_steps, n))  # B_k = B_fed,k + B_reg,k (before the regions' response)
    np.add(market.federal_bonus, market.regional_bonus, out=bonus)
    response = None
    if "regional_response.stress_threshold" in p:
        revenue = budget_path(p, "budget.regional_revenue_rub", schedules,
                              budget_growth(p, schedules, years, days), years, days)
        response = build_response(
            p["regional_response.stress_threshold"], p["regional_response.cut_per_month"],
            p["regional_response.recovery_per_month"], p["regional_response.floor_rub"],
            market.regional_bonus, revenue.at, days)
    feedback = response is not None or market.pool_persons is not None
    r = market.demand if feedback else market.static_recruits(bonus, scratch)

    loss_shock = ar1_multiplier(noise.losses, p["losses.shock_sd"],
                                p["losses.shock_persistence"], days, out=scratch)
    compensation = build_compensation(p, schedules, days)
    paid = {"federal": spend[:, federal, compensation_item],
            "regional": spend[:, regional, compensation_item]}
    kappa = step_values(p, "losses.killed_share", schedules)
    mu = step_values(p, "losses.missing_share", schedules)
    before_step = after_step = None
    if feedback:
        signed = np.zeros(n)
        multiplier = response.multiplier if response is not None else np.ones((n_steps, n))
        package_0 = (market.package_rub(0) if market.reference_package_rub is None
                     else market.reference_package_rub)

        def before_step(k: int) -> None:  # sign step k's recruits
            market.recruits_row(k, multiplier[k], package_0, signed, r[k])
            np.add(signed, r[k], out=signed)

    killed, missing, wounded = (np.empty((n_steps, n)) for _ in range(3))
    if response is not None:
        row = np.empty(n)

        def after_step(k: int, c: np.ndarray) -> None:  # the regions pay, then respond
            np.multiply(at_step(kappa, k), c, out=killed[k])  # as below, one row at a time
            np.multiply(at_step(mu, k), c, out=missing[k])
            np.subtract(c, killed[k], out=wounded[k])
            wounded[k] -= missing[k]
            compensation.pay(k, killed[k], missing[k], wounded[k], paid, row)
            regional_spend = np.multiply(multiplier[k], at_step(market.regional_bonus, k))
            regional_spend *= r[k]
            regional_spend += paid["regional"][k]
            response.update(k, regional_spend, days[k])

    state = manpower(p, r, loss_shock, days, loss_mode, schedules, before_step, after_step)
    out = dict(state)
    c = out["casualties"]
    if response is None:  # (with the response, the loop filled them row by row)
        np.multiply(kappa, c, out=killed)
        np.multiply(mu, c, out=missing)
        np.subtract(c, killed, out=wounded)
        wounded -= missing
    irrecoverable = np.multiply(p["losses.return_to_duty_share"], wounded)
    np.subtract(c, irrecoverable, out=irrecoverable)
    if response is None:  # paid here: in the loop, the regions' response needs it
        if compensation.timed:
            for k in range(n_steps):
                compensation.pay(k, killed[k], missing[k], wounded[k], paid, scratch[0])
        else:
            compensation.pay(slice(None), killed, missing, wounded, paid, scratch)
    compensation_rub = (paid["federal"] if compensation.zero["regional"]
                        else np.add(paid["federal"], paid["regional"]))
    # the bonus paid: the regions' share after their response
    regional_bonus = market.regional_bonus
    if response is not None:
        regional_bonus = np.multiply(response.multiplier, regional_bonus)
        np.add(market.federal_bonus, regional_bonus, out=bonus)
    np.multiply(r, market.federal_bonus, out=spend[:, federal, bonus_item])
    np.multiply(r, regional_bonus, out=spend[:, regional, bonus_item])
    # pay_k = P_k (D_k / M) (F_k + T_k + Q_k), all federal
    pay = grown_amount(p, "pay.monthly_rub", "pay.growth", schedules, years, days,
                       out=spend[:, federal, pay_item])
    pay *= months[:, None]
    paid_persons = out["force"][:-1]
    if staged_recruits(p):
        paid_persons = paid_persons + out["training"][:-1]
        paid_persons += out["reserve"][:-1]
    pay *= paid_persons
    spend[:, regional, pay_item] = 0.0
    out.update(
        recruits=r,
        killed=killed,
        missing=missing,
        wounded=wounded,
        irrecoverable_losses=irrecoverable,
        bonus_rub_per_recruit=bonus,
        bonus_spend_rub=np.multiply(r, bonus),
        pay_rub=pay,
        compensation_rub=compensation_rub,
        compensation_owed_rub=(np.add(compensation.owed_rub["federal"],
                                      compensation.owed_rub["regional"])
                               if compensation.timed else compensation.owed_rub["federal"]),
        missing_awaiting_declaration=compensation.awaiting_persons,
        spend_rub=spend,
        rub_per_usd=exchange_rate(p, noise.fx, days, schedules),
    )
    if response is not None:
        out.update(regional_bonus_rub_per_recruit=regional_bonus,
                   regional_bonus_multiplier=response.multiplier,
                   regional_stress=response.stress,
                   first_cut_days=response.first_cut_days(np.cumsum(days) - days),
                   first_stress_days=response.first_stress_days(np.cumsum(days) - days),
                   months_cutting=response.months_cutting(days))
    return out
