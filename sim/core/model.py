"""The pure stock-flow core: ndarrays in, ndarrays out, a loop over time only.

Shapes: ``n`` samples, ``K`` time steps. Per-sample parameters are ``(n,)``
arrays keyed by their dotted config name (``"recruitment.per_month"``); noise
and per-step results are time-major ``(K, n)`` arrays, stocks ``(K + 1, n)``.
Everything is float64. The equations are those of ``docs/model.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sim.core.schedules import NO_SCHEDULES, Schedules, grown_amount, log_growth, step_values
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


def _row(values: np.ndarray, k: int) -> np.ndarray:
    """Step k's values of a parameter: row k of a scheduled (K, n) array, else the (n,) draw."""
    return values[k] if values.ndim == 2 else values


def manpower(p: Params, recruits_persons: np.ndarray, loss_shock: np.ndarray | float,
             days: np.ndarray, loss_mode: str, schedules: Schedules = NO_SCHEDULES
             ) -> dict[str, np.ndarray]:
    """Run the force and recovery-pipeline stocks through time.

    Parameters
    ----------
    p : mapping of str to ndarray, each (n,)
        Sampled parameters.
    recruits_persons : ndarray, shape (K, n)
        r_k [persons per step].
    loss_shock : ndarray (K, n) or float
        Casualty multipliers n_k [1].
    days : ndarray, shape (K,)
        D_k [days].
    loss_mode : {"absolute", "proportional"}
    schedules : mapping of str to Schedule
        Scheduled keys (`sim.core.schedules`); their values change from step to step.

    Returns
    -------
    dict of ndarray
        ``casualties``, ``returns, ``other_exits`` (K, n) [persons per step];
        ``force``, ``wounded_in_recovery`` (K + 1, n) [persons].

    Notes
    -----
    c_k = min(C (D_k/M) n_k, F_k) or min(lambda F_k (D_k/M) n_k, F_k);
    returns_k = h_k W_k with h_k = 1 - exp(-D_k / (d M));
    o_k = min(delta F_k D_k/M, F_k + r_k - c_k + returns_k);
    F_{k+1} = F_k + r_k - c_k + returns_k - o_k;
    W_{k+1} = W_k - returns_k + rho (1 - kappa - mu) c_k.
    Capping o_k, rather than flooring F_{k+1} at zero, keeps the conservation
    identity F_K + W_K = F_0 + sum r - sum L - sum o exact.
    """
    n_steps, n = recruits_persons.shape
    months = days / DAYS_PER_MONTH
    to_pipeline = p["losses.return_to_duty_share"] * (
        1.0 - step_values(p, "losses.killed_share", schedules)
        - step_values(p, "losses.missing_share", schedules)
    )
    delay_days = p["losses.recovery_months"] * DAYS_PER_MONTH
    hazard = _by_step_length(days, lambda d: -np.expm1(-d / delay_days))
    exit_rate = step_values(p, "force.other_exit_rate", schedules)
    per_month = step_values(
        p, "losses.per_month" if loss_mode == "absolute" else "losses.monthly_rate", schedules)
    shocked = not np.isscalar(loss_shock)
    force = np.empty((n_steps + 1, n))
    wounded = np.empty((n_steps + 1, n))
    casualties = np.empty((n_steps, n))
    returns = np.empty((n_steps, n))
    exits = np.empty((n_steps, n))
    force[0] = p["force.initial_persons"]
    wounded[0] = 0.0
    room, demand, exit_rate_k = np.empty(n), np.empty(n), np.empty(n)
    for k in range(n_steps):
        f, c, ret, o = force[k], casualties[k], returns[k], exits[k]
        np.multiply(_row(per_month, k), months[k], out=demand)  # demand, one row at a time
        if shocked:
            demand *= loss_shock[k]
        if loss_mode == "absolute":
            np.minimum(demand, f, out=c)
        else:
            np.multiply(demand, f, out=c)
            np.minimum(c, f, out=c)
        np.multiply(hazard[k], wounded[k], out=ret)
        np.subtract(f, c, out=room)
        room += recruits_persons[k]
        room += ret
        np.multiply(_row(exit_rate, k), months[k], out=exit_rate_k)
        np.multiply(exit_rate_k, f, out=o)
        np.minimum(o, room, out=o)
        np.subtract(room, o, out=force[k + 1])
        np.subtract(wounded[k], ret, out=wounded[k + 1])
        wounded[k + 1] += np.multiply(_row(to_pipeline, k), c, out=demand)
    return {
        "casualties": casualties,
        "returns": returns,
        "other_exits": exits,
        "force": force,
        "wounded_in_recovery": wounded,
    }


PAYERS = ("federal", "regional")
ITEMS = ("bonus", "pay", "compensation")
"""The ledger's axes: who pays, and for what (spend_rub is (K, payer, item, n))."""


def run_model(p: Params, noise: Noise, days: np.ndarray, years: np.ndarray,
              loss_mode: str, schedules: Schedules = NO_SCHEDULES) -> dict[str, np.ndarray]:
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

    Returns
    -------
    dict of ndarray
        Per-step flows (K, n) [persons or RUB per step]: ``recruits``,
        ``casualties``, ``killed``, ``missing``, ``wounded``, ``returns``,
        ``irrecoverable_losses``, ``other_exits``, ``bonus_spend_rub``,
        ``pay_rub``, ``compensation_rub``; the ledger ``spend_rub`` (K, 2, 3, n)
        [RUB per step] by payer (`PAYERS`) and item (`ITEMS`); per-step levels (K, n):
        ``bonus_rub_per_recruit`` [RUB], ``rub_per_usd`` [RUB/USD]; stocks
        (K + 1, n): ``force``, ``wounded_in_recovery`` [persons].

    Notes
    -----
    The equations of ``docs/model.md``, computed as `ar1_multiplier`, `manpower` and
    `exchange_rate` and, for a version-1 config, with the same floating-point operations
    in the same order as version 1 (results are bit-identical). Every result is written
    in place into its own array, with two (K, n) scratch arrays: the engine is bound by
    memory traffic and fresh pages, not arithmetic. The federal ledger entries for pay
    and compensation are the arrays ``pay_rub`` and (without regional top-ups)
    ``compensation_rub`` are views of, so the ledger costs little more than its
    bonus split.
    """
    n_steps, n = len(days), len(p["force.initial_persons"])
    months = days / DAYS_PER_MONTH
    scratch = np.empty((n_steps, n))
    spend = np.empty((n_steps, len(PAYERS), len(ITEMS), n))
    federal, regional = 0, 1
    bonus_item, pay_item, compensation_item = 0, 1, 2

    # B_k = B_fed,k + B_reg,k, each grown from the step its entry takes effect
    federal_bonus = grown_amount(p, "bonus.federal_rub", "bonus.federal_growth", schedules,
                                 years, days)  # (n,) when it neither grows nor changes
    regional_bonus = grown_amount(p, "bonus.regional_rub", "bonus.regional_growth",
                                  schedules, years, days)
    bonus = np.empty((n_steps, n))
    np.add(federal_bonus, regional_bonus, out=bonus)

    # r_k = R_k (D_k / M) m_k b_k^eps
    per_month = step_values(p, "recruitment.per_month", schedules)
    if per_month.ndim == 1:
        r = np.multiply.outer(months, per_month)
    else:
        r = np.multiply(months[:, None], per_month)
    shock = ar1_multiplier(noise.recruitment, p["recruitment.shock_sd"],
                           p["recruitment.shock_persistence"], days, out=scratch)
    if noise.recruitment is not None:
        r *= shock
    eps = p["recruitment.bonus_elasticity"]
    if np.any(eps != 0):
        log_real = np.divide(bonus, bonus[0], out=scratch)
        with np.errstate(divide="ignore"):  # a bonus cut to 0: no recruits (eps > 0)
            np.log(log_real, out=log_real)
        price_growth = log_growth(p, "prices.inflation", schedules, years, days)
        if price_growth is not None:
            log_real -= price_growth
        np.multiply(eps, log_real, out=log_real)
        r *= np.exp(log_real, out=log_real)
    np.multiply(r, federal_bonus, out=spend[:, federal, bonus_item])
    np.multiply(r, regional_bonus, out=spend[:, regional, bonus_item])
    del federal_bonus, regional_bonus

    loss_shock = ar1_multiplier(noise.losses, p["losses.shock_sd"],
                                p["losses.shock_persistence"], days, out=scratch)
    out = manpower(p, r, loss_shock, days, loss_mode, schedules)
    c = out["casualties"]
    kappa = step_values(p, "losses.killed_share", schedules)
    mu = step_values(p, "losses.missing_share", schedules)
    killed = np.multiply(kappa, c)
    missing = np.multiply(mu, c)
    wounded = np.subtract(c, killed)
    wounded -= missing
    irrecoverable = np.multiply(p["losses.return_to_duty_share"], wounded)
    np.subtract(c, irrecoverable, out=irrecoverable)
    # pay_k = (P_k (1 + g)^tau) (D_k / M) F_k, all federal
    pay = grown_amount(p, "pay.monthly_rub", "pay.growth", schedules, years, days,
                       out=spend[:, federal, pay_item])
    pay *= months[:, None]
    pay *= out["force"][:-1]
    spend[:, regional, pay_item] = 0.0
    # compensation_k = C_kia kappa c_k + C_wia w_k, federal and regional top-ups
    fed_comp = spend[:, federal, compensation_item]
    np.multiply(step_values(p, "compensation.per_killed_rub", schedules), killed, out=fed_comp)
    fed_comp += np.multiply(step_values(p, "compensation.per_wounded_rub", schedules),
                            wounded, out=scratch)
    reg_comp = spend[:, regional, compensation_item]
    top_up_killed = step_values(p, "compensation.regional_per_killed_rub", schedules)
    top_up_wounded = step_values(p, "compensation.regional_per_wounded_rub", schedules)
    if np.any(top_up_killed) or np.any(top_up_wounded):
        np.multiply(top_up_killed, killed, out=reg_comp)
        reg_comp += np.multiply(top_up_wounded, wounded, out=scratch)
        compensation = np.add(fed_comp, reg_comp)
    else:  # no regional top-ups: the total is the federal entry (version 1)
        reg_comp[...] = 0.0
        compensation = fed_comp
    out.update(
        recruits=r,
        killed=killed,
        missing=missing,
        wounded=wounded,
        irrecoverable_losses=irrecoverable,
        bonus_rub_per_recruit=bonus,
        bonus_spend_rub=np.multiply(r, bonus),
        pay_rub=pay,
        compensation_rub=compensation,
        spend_rub=spend,
        rub_per_usd=exchange_rate(p, noise.fx, days, schedules),
    )
    return out
