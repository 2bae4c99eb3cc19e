"""The config vocabulary, declared as data: every section, key, unit, default and domain.

`SCHEMA` is the single source for validation (`sim.config.scenario`), for the docs
(``docs/config.md`` is checked against it by the tests) and for the names of the
sampled parameters in the output.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

REQUIRED = object()
"""Marker for a key without a default."""

class _Optional:
    def __repr__(self) -> str:
        return "optional"


OPTIONAL = _Optional()
"""Marker for a prior that may be left out (an optional budget denominator): absent, it
is not sampled and the outputs that need it are not made."""

ENTRY_MARK = "@"
"""Separates a scheduled key from its entry's date in a parameter name:
``bonus.federal_rub@2024-08-01`` is the entry of ``bonus.federal_rub`` dated 2024-08-01."""


@dataclass(frozen=True)
class Domain:
    """Allowed values of a parameter: ``low`` < x (or <=) ... <= ``high``."""

    low: float
    high: float
    low_open: bool
    text: str

    def contains(self, low: float, high: float) -> bool:
        """True when the interval [low, high] lies inside the domain."""
        above = low > self.low if self.low_open else low >= self.low
        return above and high <= self.high


MAX_AMOUNT = 1e15
"""Largest allowed person count or RUB amount: ten times Russia's GDP in RUB."""

DOMAINS = {
    "positive": Domain(0.0, MAX_AMOUNT, True, "> 0 and <= 1000trn"),
    "nonnegative": Domain(0.0, MAX_AMOUNT, False, "in [0, 1000trn]"),
    "share": Domain(0.0, 1.0, False, "in [0, 1]"),
    "growth": Domain(-1.0, 10.0, True, "> -1 and <= 10"),
    "rate": Domain(-10.0, 10.0, False, "in [-10, 10]"),
    "spread": Domain(0.0, 5.0, False, "in [0, 5]"),
}
"""Allowed values of each kind of parameter. The upper bounds only catch typos: no
plausible input comes near them, and they keep every output finite in float32."""


@dataclass(frozen=True)
class Key:
    """One config key.

    Attributes
    ----------
    unit : str
        Unit of the value, e.g. ``"persons/month"``.
    description : str
        What the key means, for the docs and the output attrs.
    default : Any
        Default value, or `REQUIRED`.
    domain : str
        For priors: a key of `DOMAINS`. For settings: ``"setting"``.
    choices : tuple of str
        For string settings: the allowed values.
    schedule : bool
        The key may be written as a dated schedule of priors (history as data).
    """

    unit: str
    description: str
    default: Any = REQUIRED
    domain: str = "rate"
    choices: tuple[str, ...] = ()
    schedule: bool = False

    @property
    def is_prior(self) -> bool:
        """True for uncertain parameters (one draw per sample), false for settings."""
        return self.domain != "setting"


def _setting(unit: str, description: str, default: Any = REQUIRED, choices=()) -> Key:
    return Key(unit, description, default, "setting", tuple(choices))


SCHEMA: dict[str, dict[str, Key]] = {
    "run": {
        "samples": _setting("1", "Number of Monte Carlo samples (integer >= 1).", 10_000),
        "seed": _setting("1", "Root seed of the run (integer >= 0).", 0),
        "design": _setting(
            "1", "Sample design of the priors: independent random draws, Latin hypercube, "
            "or scrambled Sobol (samples must be a power of two).", "random",
            ("random", "lhs", "sobol"),
        ),
    },
    "time": {
        "start": _setting("date", "First day of the simulation (YYYY-MM-DD).", "2025-01-01"),
        "months": _setting("month", "Horizon in calendar months (integer >= 1).", 24),
        "step": _setting("1", "Time step: calendar months or days.", "month", ("month", "day")),
    },
    "force": {
        "initial_persons": Key("persons", "Troops deployed at time.start (F_0).",
                               domain="positive"),
        "other_exit_rate": Key(
            "1/month", "Share of the force leaving each month for other reasons (delta).",
            0.0, "share",
        ),
    },
    "recruitment": {
        "per_month": Key(
            "persons/month", "Mean new contracts per month at the base bonus (R).",
            domain="nonnegative",
        ),
        "shock_sd": Key("1", "SD of the log recruitment shock (s).", 0.0, "spread"),
        "shock_persistence": Key(
            "1", "Monthly autocorrelation of the recruitment shock (phi).", 0.0, "share"
        ),
        "bonus_elasticity": Key(
            "1", "Elasticity of recruits to the real bonus (eps).", 0.0, "rate"
        ),
        "pay_weight": Key(
            "year", "Years of pay counted in the package beside the bonuses (psi): "
            "V = B + psi x 12 x monthly pay.", 0.0, "nonnegative"),
        "pool_persons": Key(
            "persons", "Men willing to sign at all over the horizon (N, optional): recruitment "
            "slows as the pool runs down and stops when it is empty.", OPTIONAL, "positive"),
        "training_months": Key(
            "month", "Mean time recruits spend in training before they arrive (d_T; 0: they "
            "arrive in the step they sign).", 0.0, "nonnegative"),
        "deployed_share": Key(
            "1", "Share of trained recruits sent to the deployed force (theta_D); the rest "
            "join a reserve (new formations, rear units).", 1.0, "share"),
    },
    "prices": {
        "inflation": Key("1/year", "Annual consumer price inflation (pi).", 0.0, "growth"),
    },
    "losses": {
        "mode": _setting(
            "1", "How casualties are set: absolute numbers or a share of the force.",
            "absolute", ("absolute", "proportional"),
        ),
        "per_month": Key(
            "persons/month", "Mean casualties per month in absolute mode (C).",
            domain="nonnegative",
        ),
        "monthly_rate": Key(
            "1/month", "Casualties per month as a share of the force in proportional mode "
            "(lambda).", domain="share",
        ),
        "shock_sd": Key("1", "SD of the log casualty shock.", 0.0, "spread"),
        "shock_persistence": Key(
            "1", "Monthly autocorrelation of the casualty shock.", 0.0, "share"
        ),
        "killed_share": Key("1", "Share of casualties killed (kappa).", domain="share"),
        "missing_share": Key("1", "Share of casualties missing (mu).", domain="share"),
        "return_to_duty_share": Key(
            "1", "Share of the wounded who return to duty (rho).", domain="share"
        ),
        "recovery_months": Key(
            "month", "Mean delay before a wounded soldier returns (d).", domain="positive"
        ),
        "missing_declared_dead_share": Key(
            "1", "Share of the missing declared dead by courts, whose families are then "
            "compensated as for the killed.", 0.0, "share"),
        "missing_declaration_months": Key(
            "month", "Mean delay from going missing to being declared dead.", 0.0,
            "nonnegative"),
    },
    "bonus": {
        "federal_rub": Key("RUB/recruit",
                           "Federal signing bonus (B_fed; at start, or a schedule).",
                           domain="nonnegative"),
        "federal_growth": Key("1/year", "Annual nominal growth of the federal bonus.", 0.0,
                              "growth"),
        "regional_rub": Key("RUB/recruit",
                            "Average regional signing bonus (B_reg; at start, or a schedule).",
                            domain="nonnegative"),
        "regional_growth": Key("1/year", "Annual nominal growth of the regional bonus.", 0.0,
                               "growth"),
    },
    "fx": {
        "rub_per_usd": Key("RUB/USD", "Exchange rate at start (X_0), or a schedule of known "
                           "rates (the path up to its last entry).", domain="positive"),
        "drift": Key("1/year", "Annual drift of log RUB per USD (mu_X).", 0.0, "rate"),
        "volatility": Key("1/sqrt(year)", "Annual volatility of log RUB per USD (sigma_X).",
                          0.0, "spread"),
    },
    "pay": {
        "monthly_rub": Key("RUB/(person month)", "Monthly pay of a contract soldier (P_sol).",
                           domain="nonnegative"),
        "growth": Key("1/year", "Annual nominal growth of pay.", 0.0, "growth"),
    },
    "compensation": {
        "per_killed_rub": Key("RUB/person", "Payments per soldier killed (C_kia).",
                              domain="nonnegative"),
        "per_wounded_rub": Key("RUB/person", "Payments per soldier wounded (C_wia).",
                               domain="nonnegative"),
        "regional_per_killed_rub": Key(
            "RUB/person", "Regional top-up paid per soldier killed, on top of C_kia.", 0.0,
            "nonnegative"),
        "regional_per_wounded_rub": Key(
            "RUB/person", "Regional top-up paid per soldier wounded, on top of C_wia.", 0.0,
            "nonnegative"),
        "delay_months": Key(
            "month", "Mean delay from a death (or its declaration) to the payment of its "
            "compensation.", 0.0, "nonnegative"),
        "take_up_share": Key(
            "1", "Share of the compensation owed that is claimed and paid.", 1.0, "share"),
    },
    "budget": {
        "defense_rub": Key("RUB/year", "Federal 'national defense' spending.",
                           domain="positive"),
        "federal_spending_rub": Key("RUB/year", "Total federal budget spending.",
                                    domain="positive"),
        "gdp_rub": Key("RUB/year", "Nominal GDP.", domain="positive"),
        "nwf_liquid_rub": Key("RUB", "Liquid assets of the National Wealth Fund (a stock).",
                              domain="positive"),
        "federal_revenue_rub": Key("RUB/year", "Federal budget revenue (optional).", OPTIONAL,
                                   "positive"),
        "regional_spending_rub": Key(
            "RUB/year", "Consolidated spending of the regional budgets (optional).", OPTIONAL,
            "positive"),
        "regional_revenue_rub": Key(
            "RUB/year", "Consolidated revenue of the regional budgets (optional).", OPTIONAL,
            "positive"),
        "growth": Key("1/year", "Annual nominal growth of every denominator.", 0.0, "growth"),
    },
    "wage": {
        "monthly_rub": Key("RUB/(person month)", "Average civilian wage: the comparator of "
                           "the recruitment package (optional section).", domain="positive"),
        "growth": Key("1/year", "Annual nominal growth of the civilian wage.", 0.0, "growth"),
    },
    "regional_response": {
        "stress_threshold": Key(
            "1", "Regional stress (regional manpower spend, annualised, over regional "
            "revenue) above which the regions cut their bonuses (theta; optional section).",
            domain="nonnegative"),
        "cut_per_month": Key("1/month", "Share of the regional bonus cut per month while "
                             "stress exceeds the threshold (zeta).", domain="share"),
        "recovery_per_month": Key(
            "1/month", "Growth per month of the regional bonus back towards its schedule "
            "when stress eases (eta).", 0.0, "share"),
        "floor_rub": Key("RUB/recruit", "The lowest regional bonus a cut reaches.", 0.0,
                         "nonnegative"),
    },
}

OPTIONAL_SECTIONS = ("wage", "regional_response")
"""Sections that switch a mechanism on: absent, their keys are not sampled."""

SCHEDULE_KEYS = (
    "recruitment.per_month", "losses.per_month", "losses.monthly_rate",
    "losses.killed_share", "losses.missing_share", "force.other_exit_rate",
    *(f"{section}.{name}" for section in ("bonus", "pay", "budget", "wage")
      for name in SCHEMA[section]),
    *(f"compensation.{name}" for name in SCHEMA["compensation"] if name.endswith("_rub")),
    "prices.inflation", "fx.rub_per_usd",
)
"""Keys that may be written as a dated schedule (``{ schedule = { DATE = prior, ... } }``)."""

for _dotted in SCHEDULE_KEYS:
    _section, _name = _dotted.split(".")
    SCHEMA[_section][_name] = replace(SCHEMA[_section][_name], schedule=True)
del _dotted, _section, _name


TOP_LEVEL_KEYS = ("extends", "claims", "correlations", *SCHEMA)

CORRELATION_KEYS = ("a", "b", "rank", "source")

CLAIM_QUANTITIES: dict[str, tuple[str, str, str]] = {
    # quantity: (output variable, kind, base unit)
    "recruits": ("recruits_persons", "flow", "persons"),
    "casualties": ("casualties_persons", "flow", "persons"),
    "killed": ("killed_persons", "flow", "persons"),
    "irrecoverable_losses": ("irrecoverable_losses_persons", "flow", "persons"),
    "bonus_spend_rub": ("bonus_spend_rub", "flow", "RUB"),
    "bonus_spend_usd": ("bonus_spend_usd", "flow", "USD"),
    "force": ("force_persons", "stock", "persons"),
    "training": ("training_persons", "stock", "persons"),
    "reserve": ("reserve_persons", "stock", "persons"),
    "spend_rub": ("spend_rub", "flow", "RUB"),
    "compensation_rub": ("compensation_rub", "flow", "RUB"),
    "bonus_rub": ("bonus_rub_per_recruit", "level", "RUB/person"),
    "regional_bonus_rub": ("regional_bonus_rub_per_recruit", "level", "RUB/person"),
}
"""What a claim can be about: a flow over a window (total or per day), a stock at a date,
or a level (a per-step rate such as the bonus per recruit) in the step holding a date."""

CLAIM_STATISTICS = {"flow": ("total", "per_day"), "stock": ("at",), "level": ("at",)}

CLAIM_KEYS = ("quantity", "statistic", "start", "end", "date", "value", "unit", "source",
              "label", "payer", "item", "used_for")

PAYERS = ("federal", "regional")
ITEMS = ("bonus", "pay", "compensation")
"""The ledger's axes: who pays, and for what (spend_rub is (time, payer, item))."""

LEDGER_CLAIM_KEYS = {"payer": PAYERS, "item": ITEMS}
"""A ``spend_rub`` claim may name who pays and for what; left out, it sums over them."""

CLAIM_USES = ("evidence", "prior")
"""``used_for``: a claim is evidence, or it set a prior of the same scenario (then it is
shown, but it tests nothing)."""


def prior_keys(loss_mode: str) -> list[str]:
    """Dotted names of every prior key in schema order, minus the unused loss-mode key."""
    unused = "losses.monthly_rate" if loss_mode == "absolute" else "losses.per_month"
    return [
        f"{section}.{name}"
        for section, keys in SCHEMA.items()
        for name, key in keys.items()
        if key.is_prior and f"{section}.{name}" != unused
    ]


def key_spec(dotted: str) -> Key:
    """The `Key` for ``"section.name"`` (or a schedule entry's ``"section.name@DATE"``)."""
    section, name = base_key(dotted).split(".", 1)
    return SCHEMA[section][name]


def base_key(name: str) -> str:
    """The config key of a parameter name: ``"bonus.federal_rub@2024-08-01"`` ->
    ``"bonus.federal_rub"``; a plain key is returned as it is."""
    return name.partition(ENTRY_MARK)[0]


def entry_key(dotted: str, date) -> str:
    """The parameter name of a schedule entry: ``entry_key("fx.rub_per_usd", date)``."""
    return f"{dotted}{ENTRY_MARK}{date.isoformat()}"
