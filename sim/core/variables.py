"""Every output variable: its dimensions, unit, long name and description, as data.

`VARIABLES` drives the Dataset's layout in `sim.simulate` and the table in
``docs/outputs.md`` (the tests check that the two agree).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from sim.core.metrics import PAYER_RATIOS
from sim.core.schema import ITEMS, PAYERS
from sim.core.units import (
    ITEM,
    PAYER,
    PERSONS,
    RUB,
    SAMPLE,
    TIME,
    TIME_BOUND,
    USD,
    YEAR,
    attrs,
    per_day,
)

STEP, BOUND, YEARLY, PER_SAMPLE = "step", "bound", "year", "sample"
"""Layouts: per time step, on step boundaries (stocks), per calendar year, per sample."""


LEDGER = (PAYER, ITEM)
"""The ledger's dimensions after time: who pays (`PAYERS`) and for what (`ITEMS`)."""

LEDGER_COORDS = {PAYER: PAYERS, ITEM: ITEMS}

RESPONSE_KEY = "regional_response.stress_threshold"
"""The key whose presence means a [regional_response] section (the response's outputs)."""


@dataclass(frozen=True)
class Variable:
    """Layout and attrs of one output variable.

    Attributes
    ----------
    layout : str
        Its time axis: per step, on step boundaries, per calendar year, or none.
    units, long_name, description : str
        Its attrs.
    extra : tuple of str
        Dimensions after the time axis (the ledger's ``payer`` and ``item``).
    requires : str or None
        A config key the variable needs: without it, the variable is not made.
    """

    layout: str
    units: str
    long_name: str
    description: str
    extra: tuple[str, ...] = ()
    requires: str | None = None

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
        f"Contract ends, desertion and other exits {_PER_STEP}, from the deployed force and "
        "the reserve (o_k)."),
    "net_change_persons": Variable(STEP, PERSONS, "net change of force",
                                   f"F_(k+1) - F_k: change of the deployed force {_PER_STEP}."),
    # stocks
    "force_persons": Variable(BOUND, PERSONS, "deployed force",
                              "Troops deployed at each step boundary (F_k)."),
    "wounded_in_recovery_persons": Variable(
        BOUND, PERSONS, "wounded in recovery",
        "Wounded who will return to duty, still recovering, at each step boundary (W_k)."),
    "training_persons": Variable(
        BOUND, PERSONS, "recruits in training",
        "Recruits signed but still in training at each step boundary (T_k); paid."),
    "reserve_persons": Variable(
        BOUND, PERSONS, "reserve",
        "Trained recruits not sent to the deployed force (new formations, rear units) at "
        "each step boundary (Q_k); paid, no casualties."),
    "missing_awaiting_declaration_persons": Variable(
        BOUND, PERSONS, "missing awaiting declaration",
        "Missing soldiers who will be declared dead, not yet declared, at each step "
        "boundary (Md_k)."),
    "compensation_owed_rub": Variable(
        BOUND, RUB, "compensation owed",
        "Death compensation incurred (after take-up) and not yet paid, federal and "
        "regional, at each step boundary."),
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
                        f"Pay of the deployed force, the recruits in training and the "
                        f"reserve {_PER_STEP}, P_sol,k (F_k + T_k + Q_k) D_k/M, with P_sol,k "
                        "the monthly pay in force grown at pay.growth (all federal)."),
    "compensation_rub": Variable(
        STEP, RUB, "compensation",
        f"Death and injury payments made {_PER_STEP}, federal and regional: for the killed "
        "(and the missing declared dead) after the payment delay and take-up, for the "
        "wounded at once times take-up."),
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
    # the regions' response (made only with a [regional_response] section)
    "regional_bonus_rub_per_recruit": Variable(
        STEP, "RUB/person", "regional bonus per recruit",
        "Regional signing bonus paid per recruit after the regions' response, cR_k B_reg,k.",
        requires=RESPONSE_KEY),
    "regional_bonus_multiplier": Variable(
        STEP, _SHARE, "regional bonus multiplier",
        "cR_k: the regional bonus paid over the scheduled one (1 until the regions cut).",
        requires=RESPONSE_KEY),
    "regional_stress": Variable(
        STEP, _SHARE, "regional stress",
        "sigma_k: the regions' manpower spend (bonuses and compensation paid), annualised, "
        "over regional revenue.", requires=RESPONSE_KEY),
    # the ledger: who pays for what
    "spend_rub": Variable(
        STEP, RUB, "spend by payer and item",
        f"Manpower spending {_PER_STEP} by payer (federal, regional) and item (bonus, pay, "
        "compensation); sums over payers are the version-1 totals.", LEDGER),
    # strain by payer
    "federal_manpower_share_of_defense": Variable(
        STEP, _SHARE, "federal manpower spend / defence budget",
        "Annualised federal manpower spend (bonus, pay, compensation) over 'national "
        "defense' spending."),
    "federal_manpower_share_of_federal_spending": Variable(
        STEP, _SHARE, "federal manpower spend / federal spending",
        "Annualised federal manpower spend over total federal spending."),
    "federal_manpower_share_of_federal_revenue": Variable(
        STEP, _SHARE, "federal manpower spend / federal revenue",
        "Annualised federal manpower spend over federal revenue.",
        requires="budget.federal_revenue_rub"),
    "regional_manpower_share_of_regional_spending": Variable(
        STEP, _SHARE, "regional manpower spend / regional spending",
        "Annualised regional manpower spend (bonuses and compensation top-ups) over the "
        "regions' consolidated spending.", requires="budget.regional_spending_rub"),
    "regional_manpower_share_of_regional_revenue": Variable(
        STEP, _SHARE, "regional manpower spend / regional revenue",
        "Annualised regional manpower spend over the regions' consolidated revenue.",
        requires="budget.regional_revenue_rub"),
    "nwf_cover_years": Variable(
        STEP, "year", "NWF liquid assets / federal manpower spend",
        "Years the National Wealth Fund's liquid assets would pay the federal manpower "
        "bill at the step's annualised pace (inf when it is zero)."),
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
    "first_cut_date": Variable(
        PER_SAMPLE, "day", "date of the first regional bonus cut",
        "Start of the first step with cR_k < 1, in days after time.start (the attribute "
        "reference_date); NaN if the regions never cut.", requires=RESPONSE_KEY),
    "first_stress_date": Variable(
        PER_SAMPLE, "day", "date the regional stress first exceeds its threshold",
        "Start of the first step with sigma_k > theta, in days after time.start (the "
        "attribute reference_date); NaN if it never does. The regions cut from the next "
        "step on, unless their bonus is at the floor.", requires=RESPONSE_KEY),
    "months_cutting": Variable(
        PER_SAMPLE, "month", "months of regional bonus cuts",
        "Length of the steps with cR_k < 1 [mean months].", requires=RESPONSE_KEY),
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
    "spend_rub_by_year": Variable(
        YEARLY, RUB, "spend by payer and item per calendar year",
        "The ledger (spend_rub) falling in each calendar year; see year_days.", LEDGER),
}

for _name in PAYER_RATIOS:  # each ratio by payer, per calendar year
    _v = VARIABLES[_name]
    _payer, _, _budget = _v.long_name.partition(" / ")
    VARIABLES[f"{_name}_by_year"] = Variable(
        YEARLY, _v.units, f"{_v.long_name}, per calendar year",
        f"The {_payer} falling in each calendar year over the {_budget} for the same days "
        "(the annual amounts in force on them, times days / 365.25); see year_days.",
        requires=_v.requires)
del _name, _v, _payer, _budget


def outputs_for(given: Container[str]) -> list[str]:
    """The output variables of a config that gives the keys `given`: every variable but
    those whose required key (an optional budget denominator) it leaves out."""
    return [name for name, v in VARIABLES.items() if v.requires is None or v.requires in given]


DIMS = {STEP: (SAMPLE, TIME), BOUND: (SAMPLE, TIME_BOUND), YEARLY: (SAMPLE, YEAR),
        PER_SAMPLE: (SAMPLE,)}
"""Dimensions of each layout as stored, sample first."""


def shape(name: str, n_steps: int, n_years: int, n: int) -> tuple[int, ...]:
    """Time-major array shape of output `name` for n samples: (time, *extra, n)."""
    variable = VARIABLES[name]
    time = {STEP: (n_steps,), BOUND: (n_steps + 1,), YEARLY: (n_years,), PER_SAMPLE: ()}
    extra = tuple(len(LEDGER_COORDS[dim]) for dim in variable.extra)
    return (*time[variable.layout], *extra, n)


def dims(name: str) -> tuple[str, ...]:
    """Dimensions of output `name` as stored: sample, then time, then the extra ones."""
    return (*DIMS[VARIABLES[name].layout], *VARIABLES[name].extra)
