"""Every output variable: its dimensions, unit, long name and description, as data.

`VARIABLES` drives the Dataset's layout in `sim.simulate` and the table in
``docs/outputs.md`` (the tests check that the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.core.units import PERSONS, RUB, USD, attrs, per_day

STEP, BOUND, YEARLY, PER_SAMPLE = "step", "bound", "year", "sample"
"""Layouts: per time step, on step boundaries (stocks), per calendar year, per sample."""


@dataclass(frozen=True)
class Variable:
    """Layout and attrs of one output variable."""

    layout: str
    units: str
    long_name: str
    description: str

    @property
    def attrs(self) -> dict[str, str]:
        """The variable's netCDF attrs."""
        return attrs(self.units, self.long_name, self.description)


_PER_STEP = "in each time step"
_SHARE = "1"

VARIABLES: dict[str, Variable] = {
    # manpower flows
    "recruits_persons": Variable(STEP, PERSONS, "recruits",
                                 f"New contract soldiers signed {_PER_STEP} (r_k)."),
    "casualties_persons": Variable(STEP, PERSONS, "casualties",
                                   f"Killed, wounded and missing {_PER_STEP} (c_k)."),
    "killed_persons": Variable(STEP, PERSONS, "killed", f"Killed {_PER_STEP} (kappa c_k)."),
    "missing_persons": Variable(STEP, PERSONS, "missing", f"Missing {_PER_STEP} (mu c_k)."),
    "wounded_persons": Variable(STEP, PERSONS, "wounded",
                                f"Wounded {_PER_STEP}, w_k = (1 - kappa - mu) c_k."),
    "returns_persons": Variable(STEP, PERSONS, "returns to duty",
                                f"Wounded returning to the force {_PER_STEP} (h_k W_k)."),
    "irrecoverable_losses_persons": Variable(
        STEP, PERSONS, "irrecoverable losses",
        f"Killed, missing and discharged wounded {_PER_STEP}, L_k = c_k - rho w_k."),
    "other_exits_persons": Variable(
        STEP, PERSONS, "other exits",
        f"Contract ends, desertion and other exits {_PER_STEP} (o_k)."),
    "net_change_persons": Variable(STEP, PERSONS, "net change of force",
                                   f"F_(k+1) - F_k: change of the deployed force {_PER_STEP}."),
    # stocks
    "force_persons": Variable(BOUND, PERSONS, "deployed force",
                              "Troops deployed at each step boundary (F_k)."),
    "wounded_in_recovery_persons": Variable(
        BOUND, PERSONS, "wounded in recovery",
        "Wounded who will return to duty, still recovering, at each step boundary (W_k)."),
    # money
    "bonus_rub_per_recruit": Variable(
        STEP, "RUB/person", "bonus per recruit",
        "Federal plus regional signing bonus paid per recruit (B_k)."),
    "bonus_spend_rub": Variable(STEP, RUB, "bonus spend",
                                f"Signing-bonus spending {_PER_STEP}, S_k = r_k B_k."),
    "bonus_spend_rub_per_day": Variable(STEP, per_day(RUB), "daily bonus spend",
                                        "Signing-bonus spending per day, S_k / D_k."),
    "bonus_spend_usd_per_day": Variable(
        STEP, per_day(USD), "daily bonus spend (USD)",
        "Signing-bonus spending per day converted at the step's exchange rate, S_k / D_k / X_k."),
    "pay_rub": Variable(STEP, RUB, "soldier pay",
                        f"Pay of the deployed force {_PER_STEP}, P_sol (1+g)^tau F_k D_k/M."),
    "compensation_rub": Variable(
        STEP, RUB, "compensation",
        f"Death and injury payments {_PER_STEP}, C_kia kappa c_k + C_wia w_k."),
    "manpower_cost_rub": Variable(STEP, RUB, "manpower cost",
                                  f"Bonus spend + pay + compensation {_PER_STEP}."),
    "manpower_cost_rub_per_day": Variable(STEP, per_day(RUB), "daily manpower cost",
                                          "Manpower cost per day."),
    "manpower_cost_usd_per_day": Variable(STEP, per_day(USD), "daily manpower cost (USD)",
                                          "Manpower cost per day at the step's exchange rate."),
    "rub_per_usd": Variable(STEP, "RUB/USD", "exchange rate",
                            "Rubles per US dollar at the start of each step (X_k)."),
    # strain ratios
    "bonus_share_of_defense": Variable(
        STEP, _SHARE, "bonus bill / defence budget",
        "Annualised bonus spend (per day x 365.25) over 'national defense' spending."),
    "bonus_share_of_federal_spending": Variable(
        STEP, _SHARE, "bonus bill / federal spending",
        "Annualised bonus spend over total federal spending."),
    "bonus_share_of_gdp": Variable(STEP, _SHARE, "bonus bill / GDP",
                                   "Annualised bonus spend over nominal GDP."),
    "manpower_share_of_defense": Variable(
        STEP, _SHARE, "manpower cost / defence budget",
        "Annualised manpower cost over 'national defense' spending."),
    "manpower_share_of_federal_spending": Variable(
        STEP, _SHARE, "manpower cost / federal spending",
        "Annualised manpower cost over total federal spending."),
    "manpower_share_of_gdp": Variable(STEP, _SHARE, "manpower cost / GDP",
                                      "Annualised manpower cost over nominal GDP."),
    "cumulative_manpower_share_of_nwf": Variable(
        STEP, _SHARE, "cumulative manpower cost / NWF liquid assets",
        "Manpower cost from the start to the end of each step over the National Wealth "
        "Fund's liquid assets."),
    # per-sample horizon summaries
    "force_change_persons": Variable(PER_SAMPLE, PERSONS, "force change over the horizon",
                                     "F_K - F_0."),
    "months_of_decline": Variable(PER_SAMPLE, "month", "months of decline",
                                  "Length of the steps in which the force shrank [mean months]."),
    "recruits_persons_per_month_mean": Variable(
        PER_SAMPLE, "persons/month", "mean recruits per month",
        "Recruits over the horizon divided by its length in mean months."),
    "irrecoverable_losses_persons_per_month_mean": Variable(
        PER_SAMPLE, "persons/month", "mean irrecoverable losses per month",
        "Irrecoverable losses over the horizon divided by its length in mean months."),
    "bonus_spend_usd_per_day_mean": Variable(
        PER_SAMPLE, per_day(USD), "mean daily bonus spend (USD)",
        "Bonus spend in USD over the horizon divided by its days."),
    "bonus_share_of_defense_horizon": Variable(
        PER_SAMPLE, _SHARE, "bonus bill / defence budget over the horizon",
        "Bonus spend over the horizon divided by the defence budget for the same days."),
    "manpower_share_of_defense_horizon": Variable(
        PER_SAMPLE, _SHARE, "manpower cost / defence budget over the horizon",
        "Manpower cost over the horizon divided by the defence budget for the same days."),
    # per calendar year
    "bonus_spend_rub_by_year": Variable(
        YEARLY, RUB, "bonus spend per calendar year",
        "Bonus spend falling in each calendar year (steps split by days); see year_days."),
    "bonus_spend_usd_by_year": Variable(
        YEARLY, USD, "bonus spend per calendar year (USD)",
        "Bonus spend in USD falling in each calendar year; see year_days."),
    "manpower_cost_rub_by_year": Variable(
        YEARLY, RUB, "manpower cost per calendar year",
        "Manpower cost falling in each calendar year; see year_days."),
}
