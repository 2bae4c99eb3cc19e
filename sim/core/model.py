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


def growth_factor(rate: np.ndarray, years: np.ndarray) -> np.ndarray | float:
    """(1 + rate)^tau for every step and sample, shape (K, n), or 1.0 when no rate grows.

    Parameters
    ----------
    rate : ndarray, shape (n,)
        Annual growth rate [1/year], > -1.
    years : ndarray, shape (K,)
        tau_k [year].
    """
    if not np.any(rate):
        return 1.0
    return np.exp(np.multiply.outer(years, np.log1p(rate)))


def cumulative_sum(steps: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Running sum over time of a (K, n) array, one vectorized add per step.

    NumPy's ``cumsum(axis=0)`` on a C-ordered (K, n) array is several times
    slower than this loop over the K rows.
    """
    out = np.empty_like(steps) if out is None else out
    out[0] = steps[0]
    for k in range(1, len(steps)):
        np.add(out[k - 1], steps[k], out=out[k])
    return out


def bonus_per_recruit(p: Params, years: np.ndarray) -> np.ndarray:
    """Bonus per recruit B_k = B_fed (1 + g_fed)^tau + B_reg (1 + g_reg)^tau [RUB], (K, n)."""
    federal = p["bonus.federal_rub"] * growth_factor(p["bonus.federal_growth"], years)
    regional = p["bonus.regional_rub"] * growth_factor(p["bonus.regional_growth"], years)
    out = np.empty((len(years), len(p["bonus.federal_rub"])))
    np.add(federal, regional, out=out)  # (K, n) even when neither grows
    return out


def recruits(p: Params, bonus_rub: np.ndarray, shock: np.ndarray | float,
             grid_days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Recruits per step r_k = R (D_k / M) m_k b_k^eps [persons], (K, n).

    b_k = (B_k / P_k) / B_0 is the real bonus relative to the start, with price
    level P_k = (1 + pi)^tau_k.
    """
    months = (grid_days / DAYS_PER_MONTH)[:, None]
    r = p["recruitment.per_month"] * months * shock
    eps = p["recruitment.bonus_elasticity"]
    if np.any(eps != 0):
        log_real = np.log(bonus_rub / bonus_rub[0]) - np.multiply.outer(
            years, np.log1p(p["prices.inflation"])
        )
        r = r * np.exp(eps * log_real)
    return r


def exchange_rate(p: Params, innovations: np.ndarray | None, days: np.ndarray) -> np.ndarray:
    """RUB per USD at each step start X_k, (K, n).

    Notes
    -----
    log X_{k+1} = log X_k + mu_X D_k / 365.25 + sigma_X sqrt(D_k / 365.25) z_k.
    """
    dt_years = days / DAYS_PER_YEAR
    drift, volatility = p["fx.drift"], p["fx.volatility"]
    log_x = np.empty((len(days), len(p["fx.rub_per_usd"])))
    np.log(p["fx.rub_per_usd"], out=log_x[0])
    step, shock = np.empty_like(drift), np.empty_like(drift)
    for k in range(1, len(days)):  # one row at a time: no (K, n) temporaries
        dt = dt_years[k - 1]
        np.multiply(drift, dt, out=step)
        if innovations is not None:
            np.multiply(volatility, np.sqrt(dt), out=shock)
            shock *= innovations[k - 1]
            step += shock
        np.add(log_x[k - 1], step, out=log_x[k])
    return np.exp(log_x, out=log_x)


def manpower(p: Params, recruits_persons: np.ndarray, loss_shock: np.ndarray | float,
             days: np.ndarray, loss_mode: str) -> dict[str, np.ndarray]:
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

    Returns
    -------
    dict of ndarray
        ``casualties``, ``returns``, ``other_exits`` (K, n) [persons per step];
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
        1.0 - p["losses.killed_share"] - p["losses.missing_share"]
    )
    delay_days = p["losses.recovery_months"] * DAYS_PER_MONTH
    hazard = _by_step_length(days, lambda d: -np.expm1(-d / delay_days))
    exit_rate = p["force.other_exit_rate"]
    per_month = p["losses.per_month" if loss_mode == "absolute" else "losses.monthly_rate"]
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
        np.multiply(per_month, months[k], out=demand)  # demand, one row at a time
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
        np.multiply(exit_rate, months[k], out=exit_rate_k)
        np.multiply(exit_rate_k, f, out=o)
        np.minimum(o, room, out=o)
        np.subtract(room, o, out=force[k + 1])
        np.subtract(wounded[k], ret, out=wounded[k + 1])
        wounded[k + 1] += np.multiply(to_pipeline, c, out=demand)
    return {
        "casualties": casualties,
        "returns": returns,
        "other_exits": exits,
        "force": force,
        "wounded_in_recovery": wounded,
    }


def _growth_into(out: np.ndarray, rate: np.ndarray, years: np.ndarray) -> bool:
    """Write (1 + rate)^tau into `out` (K, n), as `growth_factor`; False (out untouched)
    when no rate grows, where `growth_factor` returns 1.0."""
    if not np.any(rate):
        return False
    np.multiply.outer(years, np.log1p(rate), out=out)
    np.exp(out, out=out)
    return True


def run_model(p: Params, noise: Noise, days: np.ndarray, years: np.ndarray,
              loss_mode: str) -> dict[str, np.ndarray]:
    """The whole stock-flow model for one block of samples.

    Parameters
    ----------
    p : mapping of str to ndarray, each (n,)
        Sampled parameters by dotted config key.
    noise : Noise
        Standard normal innovations, (K, n) each.
    days : ndarray, shape (K,)
        Step lengths D_k [days].
    years : ndarray, shape (K,)
        Elapsed years tau_k [year].
    loss_mode : {"absolute", "proportional"}

    Returns
    -------
    dict of ndarray
        Per-step flows (K, n) [persons or RUB per step]: ``recruits``,
        ``casualties``, ``killed``, ``missing``, ``wounded``, ``returns``,
        ``irrecoverable_losses``, ``other_exits``, ``bonus_spend_rub``,
        ``pay_rub``, ``compensation_rub``; per-step levels (K, n):
        ``bonus_rub_per_recruit`` [RUB], ``rub_per_usd`` [RUB/USD]; stocks
        (K + 1, n): ``force``, ``wounded_in_recovery`` [persons].

    Notes
    -----
    The same equations, and the same floating-point operations in the same order, as
    `bonus_per_recruit`, `recruits`, `ar1_multiplier`, `manpower` and `exchange_rate`
    (results are bit-identical to composing them), but every result is written in
    place into its own array and the temporaries are two (K, n) scratch arrays: the
    engine is bound by memory traffic and fresh pages, not arithmetic.
    """
    n_steps, n = len(days), len(p["force.initial_persons"])
    months = days / DAYS_PER_MONTH
    scratch = np.empty((n_steps, n))
    spare = np.empty((n_steps, n))

    # B_k = B_fed (1 + g_fed)^tau + B_reg (1 + g_reg)^tau
    bonus = np.empty((n_steps, n))
    if _growth_into(bonus, p["bonus.federal_growth"], years):
        bonus *= p["bonus.federal_rub"]
    else:
        bonus[...] = p["bonus.federal_rub"]
    if _growth_into(scratch, p["bonus.regional_growth"], years):
        scratch *= p["bonus.regional_rub"]
        bonus += scratch
    else:
        bonus += p["bonus.regional_rub"]

    # r_k = R (D_k / M) m_k b_k^eps
    r = np.multiply.outer(months, p["recruitment.per_month"])
    shock = ar1_multiplier(noise.recruitment, p["recruitment.shock_sd"],
                           p["recruitment.shock_persistence"], days, out=scratch)
    if noise.recruitment is not None:
        r *= shock
    eps = p["recruitment.bonus_elasticity"]
    if np.any(eps != 0):
        log_real = np.divide(bonus, bonus[0], out=scratch)
        np.log(log_real, out=log_real)
        log_real -= np.multiply.outer(years, np.log1p(p["prices.inflation"]), out=spare)
        np.multiply(eps, log_real, out=log_real)
        r *= np.exp(log_real, out=log_real)

    loss_shock = ar1_multiplier(noise.losses, p["losses.shock_sd"],
                                p["losses.shock_persistence"], days, out=scratch)
    out = manpower(p, r, loss_shock, days, loss_mode)
    c = out["casualties"]
    kappa, mu = p["losses.killed_share"], p["losses.missing_share"]
    killed = np.multiply(kappa, c)
    missing = np.multiply(mu, c)
    wounded = np.subtract(c, killed)
    wounded -= missing
    irrecoverable = np.multiply(p["losses.return_to_duty_share"], wounded)
    np.subtract(c, irrecoverable, out=irrecoverable)
    # pay_k = (P (1 + g)^tau) (D_k / M) F_k
    pay = np.empty((n_steps, n))
    if _growth_into(pay, p["pay.growth"], years):
        np.multiply(p["pay.monthly_rub"], pay, out=pay)
        pay *= months[:, None]
    else:
        np.multiply.outer(months, p["pay.monthly_rub"], out=pay)
    pay *= out["force"][:-1]
    compensation = np.multiply(p["compensation.per_killed_rub"], killed)
    compensation += np.multiply(p["compensation.per_wounded_rub"], wounded, out=scratch)
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
        rub_per_usd=exchange_rate(p, noise.fx, days),
    )
    return out
