"""Derived quantities: per-day rates, USD values, strain ratios and horizon summaries.

Pure NumPy, time-major like `sim.core.model`: per-step arrays are (K, n), stocks
(K + 1, n), per-year arrays (Y, n) and per-sample summaries (n,).
"""

from __future__ import annotations

import numpy as np

from sim.core.model import Params, _growth_into, cumulative_sum, growth_factor
from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR

BUDGET_DENOMINATORS = {
    "defense": "budget.defense_rub",
    "federal_spending": "budget.federal_spending_rub",
    "gdp": "budget.gdp_rub",
}
"""Annual denominators of the strain ratios: output suffix -> config key."""

FLOW_NAMES = {
    "recruits": "recruits_persons",
    "casualties": "casualties_persons",
    "killed": "killed_persons",
    "missing": "missing_persons",
    "wounded": "wounded_persons",
    "returns": "returns_persons",
    "irrecoverable_losses": "irrecoverable_losses_persons",
    "other_exits": "other_exits_persons",
    "force": "force_persons",
    "wounded_in_recovery": "wounded_in_recovery_persons",
}
"""Model result name -> output variable name, for the manpower quantities."""


def strain_ratios(p: Params, bonus_per_day_rub: np.ndarray, manpower_per_day_rub: np.ndarray,
                  manpower_rub: np.ndarray, years: np.ndarray,
                  grown: np.ndarray | float | None = None) -> dict[str, np.ndarray]:
    """Annualised spend over each annual budget denominator, per step [1], (K, n).

    `grown` is ``growth_factor(p["budget.growth"], years)`` when the caller has it.

    Notes
    -----
    share_k = spend_per_day_k * 365.25 / (denominator * (1 + g)^tau_k); the
    NWF ratio is the cumulative manpower cost to the end of step k over the
    NWF's liquid assets grown the same way.
    """
    if grown is None:
        grown = growth_factor(p["budget.growth"], years)
    # Per-day budget: (K, n) when the budget grows, else (n,), reused for each denominator.
    budget = np.empty(np.broadcast_shapes(np.shape(grown), np.shape(p["budget.gdp_rub"])))
    ratios = {}
    for suffix, key in BUDGET_DENOMINATORS.items():
        np.multiply(p[key], grown, out=budget)
        budget /= DAYS_PER_YEAR
        ratios[f"bonus_share_of_{suffix}"] = np.divide(bonus_per_day_rub, budget)
        ratios[f"manpower_share_of_{suffix}"] = np.divide(manpower_per_day_rub, budget)
    cumulative = cumulative_sum(manpower_rub)
    np.multiply(p["budget.nwf_liquid_rub"], grown, out=budget)
    ratios["cumulative_manpower_share_of_nwf"] = np.divide(cumulative, budget, out=cumulative)
    return ratios


def horizon_summaries(result: dict[str, np.ndarray], p: Params, days: np.ndarray,
                      years: np.ndarray, year_weights: np.ndarray,
                      grown: np.ndarray | float | None = None) -> dict[str, np.ndarray]:
    """Per-sample summaries over the whole horizon and per calendar year.

    Parameters
    ----------
    result : dict of ndarray
        Output of `derive` so far (per-step and stock variables).
    p : mapping of str to ndarray
        Sampled parameters, (n,) each.
    days, years : ndarray, shape (K,)
        D_k [days] and tau_k [year].
    year_weights : ndarray, shape (K, Y)
        Share of each step in each calendar year.
    grown : ndarray (K, n) or float, optional
        ``growth_factor(p["budget.growth"], years)`` when the caller has it.

    Returns
    -------
    dict of ndarray
        (n,) summaries and (Y, n) ``*_by_year`` totals.
    """
    if grown is None:
        grown = growth_factor(p["budget.growth"], years)
    force = result["force_persons"]
    total_days = days.sum()
    months = days / DAYS_PER_MONTH
    bonus_usd = np.multiply(result["bonus_spend_usd_per_day"], days[:, None])
    if np.ndim(grown) == 0:
        grown = grown * np.ones((len(days), 1))
    defense_over_horizon = p["budget.defense_rub"] * ((days / DAYS_PER_YEAR) @ grown)
    by_year = year_weights.T
    return {
        "force_change_persons": force[-1] - force[0],
        "months_of_decline": (result["net_change_persons"] < 0).T @ months,
        "recruits_persons_per_month_mean": result["recruits_persons"].sum(axis=0)
        / months.sum(),
        "irrecoverable_losses_persons_per_month_mean": result[
            "irrecoverable_losses_persons"].sum(axis=0) / months.sum(),
        "bonus_spend_usd_per_day_mean": bonus_usd.sum(axis=0) / total_days,
        "bonus_share_of_defense_horizon": result["bonus_spend_rub"].sum(axis=0)
        / defense_over_horizon,
        "manpower_share_of_defense_horizon": result["manpower_cost_rub"].sum(axis=0)
        / defense_over_horizon,
        "bonus_spend_rub_by_year": by_year @ result["bonus_spend_rub"],
        "bonus_spend_usd_by_year": by_year @ bonus_usd,
        "manpower_cost_rub_by_year": by_year @ result["manpower_cost_rub"],
    }


def derive(model_out: dict[str, np.ndarray], p: Params, days: np.ndarray, years: np.ndarray,
           year_weights: np.ndarray) -> dict[str, np.ndarray]:
    """Turn the model's results into every output variable, by output name.

    Parameters
    ----------
    model_out : dict of ndarray
        Result of `sim.core.model.run_model`.
    p : mapping of str to ndarray
        Sampled parameters, (n,) each.
    days, years : ndarray, shape (K,)
        D_k [days] and tau_k [year].
    year_weights : ndarray, shape (K, Y)
        From `sim.core.timegrid.TimeGrid.year_weights`.

    Returns
    -------
    dict of ndarray
        Keys are output variable names (see ``docs/outputs.md``).

    Notes
    -----
    Each output is computed once, straight into its own array, and the budget growth
    factor once for the ratios and the summaries (memory traffic is the engine's cost).
    """
    out = {FLOW_NAMES[name]: model_out[name] for name in FLOW_NAMES}
    step_days = days[:, None]
    fx = model_out["rub_per_usd"]
    bonus_rub = model_out["bonus_spend_rub"]
    manpower_rub = np.add(bonus_rub, model_out["pay_rub"])
    manpower_rub += model_out["compensation_rub"]
    bonus_per_day = np.divide(bonus_rub, step_days)
    manpower_per_day = np.divide(manpower_rub, step_days)
    force = model_out["force"]
    out.update(
        net_change_persons=np.subtract(force[1:], force[:-1]),
        bonus_rub_per_recruit=model_out["bonus_rub_per_recruit"],
        bonus_spend_rub=bonus_rub,
        bonus_spend_rub_per_day=bonus_per_day,
        bonus_spend_usd_per_day=np.divide(bonus_per_day, fx),
        pay_rub=model_out["pay_rub"],
        compensation_rub=model_out["compensation_rub"],
        manpower_cost_rub=manpower_rub,
        manpower_cost_rub_per_day=manpower_per_day,
        manpower_cost_usd_per_day=np.divide(manpower_per_day, fx),
        rub_per_usd=fx,
    )
    grown = np.empty(fx.shape)
    if not _growth_into(grown, p["budget.growth"], years):
        grown = 1.0
    out.update(strain_ratios(p, bonus_per_day, manpower_per_day, manpower_rub, years, grown))
    out.update(horizon_summaries(out, p, days, years, year_weights, grown))
    return out
