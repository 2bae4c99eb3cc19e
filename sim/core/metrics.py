"""Derived quantities: per-day rates, USD values, strain ratios and horizon summaries.

Pure NumPy, time-major like `sim.core.model`: per-step arrays are (K, n), stocks
(K + 1, n), per-year arrays (Y, n) and per-sample summaries (n,).
"""

from __future__ import annotations

import numpy as np

from sim.core.budgets import BudgetPath, budget_growth, budget_path, has_key
from sim.core.model import Params
from sim.core.schedules import NO_SCHEDULES, Schedules
from sim.core.schema import PAYERS
from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR

BUDGET_DENOMINATORS = {
    "defense": "budget.defense_rub",
    "federal_spending": "budget.federal_spending_rub",
    "gdp": "budget.gdp_rub",
}
"""Annual denominators of the strain ratios: output suffix -> config key."""

BUDGET_KEYS = (*BUDGET_DENOMINATORS.values(), "budget.nwf_liquid_rub",
               "budget.federal_revenue_rub", "budget.regional_spending_rub",
               "budget.regional_revenue_rub")
"""Every budget amount (the growth rate aside)."""

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
    "training": "training_persons",
    "reserve": "reserve_persons",
    "missing_awaiting_declaration": "missing_awaiting_declaration_persons",
}
"""Model result name -> output variable name, for the manpower quantities."""

RESPONSE_NAMES = {
    "regional_bonus_multiplier": "regional_bonus_multiplier",
    "regional_stress": "regional_stress",
    "regional_bonus_rub_per_recruit": "regional_bonus_rub_per_recruit",
    "first_cut_days": "first_cut_date",
    "first_stress_days": "first_stress_date",
    "months_cutting": "months_cutting",
}
"""Model result name -> output name of the regions' response (made only with it)."""


PAYER_RATIOS = {
    "federal_manpower_share_of_defense": ("federal", "budget.defense_rub"),
    "federal_manpower_share_of_federal_spending": ("federal", "budget.federal_spending_rub"),
    "federal_manpower_share_of_federal_revenue": ("federal", "budget.federal_revenue_rub"),
    "regional_manpower_share_of_regional_spending": ("regional",
                                                     "budget.regional_spending_rub"),
    "regional_manpower_share_of_regional_revenue": ("regional", "budget.regional_revenue_rub"),
}
"""Ratios by payer: output name -> (payer, annual denominator). A ratio is made when its
denominator is in the config (the optional ones may be left out)."""


def strain_ratios(bonus_per_day_rub: np.ndarray, manpower_per_day_rub: np.ndarray,
                  payer_per_day_rub: dict[str, np.ndarray], budgets: dict[str, BudgetPath]
                  ) -> dict[str, np.ndarray]:
    """Annualised spend over each annual budget denominator, per step [1], (K, n).

    Parameters
    ----------
    bonus_per_day_rub, manpower_per_day_rub : ndarray, shape (K, n)
        Totals over payers [RUB/day].
    payer_per_day_rub : dict of str to ndarray
        Manpower spend per day of each payer (``"federal"``, ``"regional"``) [RUB/day].
    budgets : dict of str to BudgetPath
        Every budget key the config gives (`budget_path`).

    Notes
    -----
    share_k = spend_per_day_k * 365.25 / budget_k, with budget_k the amount in force at
    t_k grown at budget.growth (version 1: denominator * (1 + g)^tau_k).
    nwf_cover_years_k = NWF_k / (federal manpower spend per day * 365.25): the years the
    fund's liquid assets would pay the federal manpower bill at the step's pace.
    """
    ratios = {}
    for suffix, key in BUDGET_DENOMINATORS.items():
        per_day = budgets[key].scaled(DAYS_PER_YEAR)
        ratios[f"bonus_share_of_{suffix}"] = per_day.divide(bonus_per_day_rub)
        ratios[f"manpower_share_of_{suffix}"] = per_day.divide(manpower_per_day_rub)
    for name, (payer, key) in PAYER_RATIOS.items():
        if key in budgets:
            ratios[name] = budgets[key].scaled(DAYS_PER_YEAR).divide(payer_per_day_rub[payer])
    # NWF / 365.25 over spend per day: years of spend; no federal spend: for ever (inf)
    nwf_days = budgets["budget.nwf_liquid_rub"].scaled(DAYS_PER_YEAR)
    with np.errstate(divide="ignore"):
        ratios["nwf_cover_years"] = nwf_days.divided_by(payer_per_day_rub["federal"])
    return ratios


def ledger_by_year(spend_rub: np.ndarray, year_weights: np.ndarray) -> np.ndarray:
    """The ledger per calendar year [RUB], (Y, 2, 3, n), from `spend_rub` (K, 2, 3, n)
    [RUB per step] and `year_weights` (K, Y), the share of each step in each year."""
    n_steps = spend_rub.shape[0]
    return (year_weights.T @ spend_rub.reshape(n_steps, -1)).reshape(
        (year_weights.shape[1], *spend_rub.shape[1:]))


def horizon_summaries(result: dict[str, np.ndarray], p: Params, days: np.ndarray,
                      year_weights: np.ndarray, grown: np.ndarray | float,
                      budgets: dict[str, BudgetPath], schedules: Schedules = NO_SCHEDULES
                      ) -> dict[str, np.ndarray]:
    """Per-sample summaries over the whole horizon and per calendar year.

    Parameters
    ----------
    result : dict of ndarray
        Output of `derive` so far (per-step and stock variables).
    p : mapping of str to ndarray
        Sampled parameters, (n,) each.
    days : ndarray, shape (K,)
        D_k [days].
    year_weights : ndarray, shape (K, Y)
        Share of each step in each calendar year.
    grown : ndarray (K, n) or float
        `budget_growth`'s result.
    budgets : dict of str to BudgetPath
        Every budget key the config gives (`budget_path`).
    schedules : mapping of str to Schedule

    Returns
    -------
    dict of ndarray
        (n,) summaries and (Y, n) ``*_by_year`` totals and shares; the ledger by year
        ``spend_rub_by_year`` (Y, 2, 3, n).

    Notes
    -----
    A budget's share of a calendar year is its annual amount in force in each step times
    the step's days in that year over 365.25, summed over the steps: a budget law that
    changes on 1 January divides each year's spend by that year's law.
    """
    force = result["force_persons"]
    total_days = days.sum()
    months = days / DAYS_PER_MONTH
    bonus_usd = np.multiply(result["bonus_spend_usd_per_day"], days[:, None])
    by_year = year_weights.T
    years_of_step = (year_weights * (days / DAYS_PER_YEAR)[:, None]).T  # (Y, K) [year]

    def over_horizon(key: str) -> np.ndarray:
        """The budget `key` for the horizon's days [RUB], (n,)."""
        if key in schedules:
            return budgets[key].weighted_sum(days / DAYS_PER_YEAR)
        factor = grown * np.ones((len(days), 1)) if np.ndim(grown) == 0 else grown
        return p[key] * ((days / DAYS_PER_YEAR) @ factor)  # version 1's order

    defense_over_horizon = over_horizon("budget.defense_rub")
    spend = result["spend_rub"]
    spend_by_year = ledger_by_year(spend, year_weights)
    payer_by_year = {payer: spend_by_year[:, i].sum(axis=1) for i, payer in enumerate(PAYERS)}
    shares = {f"{name}_by_year": payer_by_year[payer] / budgets[key].weighted_sum(years_of_step)
              for name, (payer, key) in PAYER_RATIOS.items() if key in budgets}
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
        "spend_rub_by_year": spend_by_year,
        **shares,
    }


def derive(model_out: dict[str, np.ndarray], p: Params, days: np.ndarray, years: np.ndarray,
           year_weights: np.ndarray, schedules: Schedules = NO_SCHEDULES
           ) -> dict[str, np.ndarray]:
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
    schedules : mapping of str to Schedule
        The scheduled keys (`sim.core.schedules`).

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
    spend = model_out["spend_rub"]
    payer_per_day = {}
    for i, payer in enumerate(PAYERS):
        total = np.add(spend[:, i, 0], spend[:, i, 1])
        total += spend[:, i, 2]
        payer_per_day[payer] = np.divide(total, step_days, out=total)
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
        spend_rub=spend,
        compensation_owed_rub=model_out["compensation_owed_rub"],
    )
    for name, output in RESPONSE_NAMES.items():
        if name in model_out:
            out[output] = model_out[name]
    grown = budget_growth(p, schedules, years, days)
    budgets = {key: budget_path(p, key, schedules, grown, years, days)
               for key in BUDGET_KEYS if has_key(p, key, schedules)}
    out.update(strain_ratios(bonus_per_day, manpower_per_day, payer_per_day, budgets))
    out.update(horizon_summaries(out, p, days, year_weights, grown, budgets, schedules))
    return out
