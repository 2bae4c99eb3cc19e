"""Scenario configs: TOML -> a validated, frozen `Scenario`.

Every validation and every `ConfigError` lives here. The vocabulary (sections,
keys, units, defaults, domains) is declared as data in `sim.core.schema`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

from sim import io
from sim.core.schedules import Schedule, build_schedule
from sim.core.schema import (
    CLAIM_KEYS,
    CLAIM_QUANTITIES,
    CLAIM_STATISTICS,
    CLAIM_USES,
    CORRELATION_KEYS,
    DOMAINS,
    ENTRY_MARK,
    LEDGER_CLAIM_KEYS,
    OPTIONAL,
    OPTIONAL_SECTIONS,
    REQUIRED,
    SCHEMA,
    TOP_LEVEL_KEYS,
    base_key,
    entry_key,
    key_spec,
    prior_keys,
)
from sim.core.timegrid import FIRST_DATE, LAST_DATE, TimeGrid, add_months, build_time_grid
from sim.core.variables import VARIABLES
from sim.errors import ConfigError, ParameterError
from sim.numbers import human
from sim.priors.copula import Pair, cholesky_factor, correlation_matrix, offending_pairs
from sim.priors.distributions import TAIL_PROBABILITY, Prior, PriorError, prior_from_value

MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Claim:
    """A published figure the model is held against.

    Attributes
    ----------
    quantity : str
        A key of `sim.core.schema.CLAIM_QUANTITIES`, e.g. ``"recruits"``.
    statistic : str
        ``"total"`` or ``"per_day"`` over [start, end) for flows; ``"at"`` for stocks.
    start, end : datetime.date or None
        Window of a flow claim; `end` is exclusive (midnight at the start of `end`).
    date : datetime.date or None
        Date of a stock claim (midnight at its start).
    payer, item : str or None
        The ledger entries of a ``spend_rub`` claim (``"regional"``, ``"bonus"``); None
        sums over payers (items).
    used_for : str
        ``"evidence"``, or ``"prior"`` when the figure set a prior of the same scenario
        (shown, but not evidence).
    value : float
        The claimed figure [unit].
    unit : str
        Unit of `value`; must match the quantity and statistic.
    source : str
        Who said it, where and when.
    label : str
        Short name for tables.
    """

    quantity: str
    statistic: str
    value: float
    unit: str
    source: str
    label: str
    start: dt.date | None = None
    end: dt.date | None = None
    date: dt.date | None = None
    payer: str | None = None
    item: str | None = None
    used_for: str = "evidence"


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: settings, priors and claims.

    Attributes
    ----------
    path : str
        The config file it was loaded from.
    grid : TimeGrid
        The calendar time grid.
    samples, seed : int
        Defaults for `sim.simulate`.
    design : str
        ``"random"``, ``"lhs"`` or ``"sobol"``.
    loss_mode : str
        ``"absolute"`` or ``"proportional"``.
    priors : dict of str to Prior
        Every parameter by dotted key, in schema order; a scheduled key's entries
        under their own names (``bonus.federal_rub@2024-08-01``), in date order.
    correlations : tuple of (str, str, float)
        Rank-correlated pairs of uncertain priors, validated to form a positive
        definite copula.
    claims : tuple of Claim
    resolved : dict
        The merged config (after ``extends`` and overrides), for provenance.
    files : tuple of str
        The ``extends`` chain, child first.
    schedules : dict of str to Schedule
        The keys written as dated schedules, and when each entry is in force.
    """

    path: str
    grid: TimeGrid
    samples: int
    seed: int
    design: str
    loss_mode: str
    priors: dict[str, Prior]
    correlations: tuple[Pair, ...]
    claims: tuple[Claim, ...]
    resolved: dict = field(repr=False)
    files: tuple[str, ...] = ()
    schedules: dict[str, Schedule] = field(default_factory=dict)

    @property
    def given(self) -> frozenset[str]:
        """Config keys the scenario gives a value (absent: optional keys left out)."""
        return frozenset(base_key(name) for name in self.priors)

    def resolved_json(self) -> str:
        """The merged config as JSON text (dates as ISO strings)."""
        return json.dumps(self.resolved, default=str, sort_keys=False, indent=1)

    def with_run(self, samples: int | None = None, seed: int | None = None,
                 design: str | None = None) -> Scenario:
        """A copy with other run settings, validated like the config's own.

        Raises
        ------
        ParameterError
            A bad `samples`, `seed` or `design`, named as the parameter (the CLI
            names its flag); a config's own bad values name the file and key.
        """
        def where(name: str, given) -> tuple[str, str]:  # who is blamed for a value
            return (name, "") if given is not None else (self.path, f"run.{name}")

        try:
            checked_samples = self.samples if samples is None else _positive_int(
                samples, *where("samples", samples))
            checked_seed = self.seed if seed is None else _seed(seed, *where("seed", seed))
            checked_design = self.design if design is None else _choice(
                design, where("design", design)[0], "run.design")
            blamed = (where("samples", samples) if samples is not None
                      else where("design", design))
            _check_design(checked_design, checked_samples, *blamed)
        except ConfigError as error:
            if error.path == self.path:  # the config's own value
                raise
            raise ParameterError(error.path, error.message) from None
        return replace(self, samples=checked_samples, seed=checked_seed, design=checked_design)


# ---------------------------------------------------------------- loading and merging


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = (),
                  values: dict[str, Any] | None = None, *, override_source: str = "overrides",
                  values_source: str = "values") -> Scenario:
    """Load, merge (``extends``), override and validate a scenario config.

    Parameters
    ----------
    path : str or Path
        A TOML scenario file.
    overrides : sequence of str
        ``"section.key=VALUE"`` strings; VALUE uses the TOML syntax (a number, a
        ``"A to B"`` range written with or without quotes, an inline table, a date).
    values : dict, optional
        ``{"section.key": value}`` overrides as Python values (as TOML would give
        them), applied last; used by sweeps.
    override_source, values_source : str
        Who gave `overrides` and `values` (``"--set"``, a sweep file): an error in a
        key they set names them instead of the config file.

    Returns
    -------
    Scenario
        The validated scenario (immutable; see `Scenario` for its attributes): the
        config it came from (``path``, ``files``, the merged ``resolved`` config), the
        time ``grid``, the run defaults (``samples``, ``seed``, ``design``), every prior
        by dotted key, ``correlations``, ``schedules`` and ``claims``.
        ``with_run(samples=, seed=, design=)`` returns a copy with other run settings.

    Raises
    ------
    ConfigError
        One line naming the file, the key and what was expected.
    """
    path = str(path)
    raw, files = _load_chain(path, ())
    overridden: dict[str, str] = {}
    for text in overrides:
        overridden[_apply_override(raw, text, override_source)] = override_source
    for key, value in (values or {}).items():
        section, name = _known_key(key, values_source)
        raw.setdefault(section, {})[name] = value
        overridden[key] = values_source
    try:
        return _validate(raw, path, files, frozenset(overridden))
    except ConfigError as error:
        owner = next((source for key, source in overridden.items()
                      if error.key == key or error.key.startswith(key + ".")), None)
        if owner is None or error.path != path:
            raise
        raise ConfigError(owner, error.key, error.message) from None


def read_toml(path: str) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a one-line `ConfigError`."""
    text = io.read_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, "", f"TOML syntax error: {error}") from None


MAX_EXTENDS = 32
"""Longest ``extends`` chain: deeper is a mistake (and would exhaust the stack)."""


def _load_chain(path: str, seen: tuple[str, ...]) -> tuple[dict, tuple[str, ...]]:
    """The merged config of `path` and its ``extends`` ancestors (a loop, not recursion)."""
    chain: list[tuple[str, dict]] = []
    while True:
        try:
            resolved = str(Path(path).resolve())
        except (OSError, RuntimeError, ValueError) as error:  # a symlink loop, a NUL byte
            raise ConfigError(path, "", f"cannot resolve the path ({error})") from None
        if resolved in seen:
            trail = " -> ".join((*seen, resolved))
            raise ConfigError(path, "extends", f"cycle in the extends chain: {trail}")
        raw = read_toml(path)
        parent_name = raw.pop("extends", None)
        chain.append((path, raw))
        if parent_name is None:
            break
        if not isinstance(parent_name, str) or not parent_name:
            raise ConfigError(path, "extends", f"expected a file name, got {parent_name!r}")
        if len(chain) >= MAX_EXTENDS:
            raise ConfigError(path, "extends", f"the extends chain is longer than "
                              f"{MAX_EXTENDS} files; expected a short chain of scenarios")
        parent_path = str(Path(path).parent / parent_name)
        problem = io.regular_file_problem(parent_path)
        if problem is not None:
            problem = "does not exist" if problem == "file not found" else problem
            raise ConfigError(path, "extends", f"parent config {parent_path} {problem}")
        seen = (*seen, resolved)
        path = parent_path
    merged: dict = {}
    for _, raw in reversed(chain):
        merged = _merge(merged, raw)
    return merged, tuple(p for p, _ in chain)


def _merge(parent: dict, child: dict) -> dict:
    """Child overrides parent key by key within sections; a prior table is replaced whole."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in parent.items()}
    for name, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name].update(value)
        else:
            merged[name] = value
    return merged


def _apply_override(raw: dict, text: str, source: str = "--set") -> str:
    """Apply ``section.key=VALUE`` to `raw`; return the dotted key."""
    if any(not c.isprintable() for c in text):
        raise ConfigError(source, "", f"expected section.key=VALUE on one line, got {text!r}")
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or "." not in key:
        raise ConfigError(source, key or text, "expected section.key=VALUE")
    section, name = _known_key(key, source)
    raw.setdefault(section, {})[name] = _parse_value(value_text.strip())
    return key


def _known_key(key: str, where: str) -> tuple[str, str]:
    section, _, name = key.partition(".")
    if section not in SCHEMA:
        raise ConfigError(where, key, f"no such section{suggest(section, SCHEMA)}")
    if name not in SCHEMA[section]:
        raise ConfigError(where, key, f"no such key{suggest(name, SCHEMA[section])}")
    return section, name


def _parse_value(text: str) -> Any:
    """A TOML value, or the bare text when it is not valid TOML (``40000 to 55000``)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def suggest(word: str, options) -> str:
    """`` (did you mean 'X'?)`` for the closest of `options`, or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------- validation


def _validate(raw: dict, path: str, files: tuple[str, ...],
              overridden: frozenset[str] = frozenset()) -> Scenario:
    """Validate the merged config; `overridden` are the keys set by ``--set`` or a sweep."""
    def blame(key: str, *causes: str) -> str:
        """The key an error between keys names: `key`, unless only one of its `causes`
        was overridden (then `sim.config.scenario.load_scenario` names the override's source)."""
        if key in overridden:
            return key
        return next((cause for cause in causes if cause in overridden), key)

    for section, value in raw.items():
        if section not in TOP_LEVEL_KEYS:
            raise ConfigError(path, section,
                              f"unknown section{suggest(section, TOP_LEVEL_KEYS)}")
        if section not in ("claims", "correlations") and not isinstance(value, dict):
            raise ConfigError(path, section, f"expected a [{section}] table, got {value!r}")
    for section, table in raw.items():
        if section in ("claims", "correlations"):
            continue
        for name in table:
            if name not in SCHEMA[section]:
                raise ConfigError(path, f"{section}.{name}",
                                  f"unknown key{suggest(name, SCHEMA[section])}")

    def setting(dotted: str) -> Any:
        section, name = dotted.split(".")
        value = raw.get(section, {}).get(name, SCHEMA[section][name].default)
        if value is REQUIRED:
            raise ConfigError(path, dotted, "missing required value")
        if isinstance(value, dict) and "schedule" in value:
            raise ConfigError(path, dotted, "a setting takes no schedule; expected one value")
        return value

    start = _date(setting("time.start"), path, "time.start")
    months = _positive_int(setting("time.months"), path, "time.months")
    step = _choice(setting("time.step"), path, "time.step")
    _check_horizon(start, months, path, blame)
    loss_mode = _choice(setting("losses.mode"), path, "losses.mode")
    samples = _positive_int(setting("run.samples"), path, "run.samples")
    seed = _seed(setting("run.seed"), path, "run.seed")
    design = _choice(setting("run.design"), path, "run.design")
    _check_design(design, samples, path, blame("run.samples", "run.design"))
    grid = build_time_grid(start, months, step)

    priors: dict[str, Prior] = {}
    schedules: dict[str, Schedule] = {}
    for key in prior_keys(loss_mode):
        section, name = key.split(".")
        if section in OPTIONAL_SECTIONS and section not in raw:
            continue
        value = raw.get(section, {}).get(name, key_spec(key).default)
        if value is OPTIONAL:
            continue
        if isinstance(value, dict) and "schedule" in value:
            entries = _schedule(value, path, key, start)
            priors.update((entry_key(key, date), prior) for date, prior in entries)
            schedules[key] = build_schedule(key, [date for date, _ in entries], grid.starts)
        else:
            priors[key] = _prior_value(value, path, key)
    if "regional_response" in raw and "budget.regional_revenue_rub" not in {
            base_key(name) for name in priors}:
        raise ConfigError(path, "regional_response", "the regions' response needs their "
                          "revenue: expected budget.regional_revenue_rub [RUB/year]")
    _check_joint(priors, schedules, path, blame)
    _check_growth(priors, months, path, blame)
    _check_bonus_jumps(priors, schedules, path, blame)
    correlations = _correlations(raw, path, priors)
    claims = tuple(
        _claim(entry, path, i, grid) for i, entry in enumerate(_table_list(raw, path, "claims"))
    )
    check_unique_labels([c.label for c in claims], path, "claims")
    check_claims_made(claims, {base_key(name) for name in priors}, path, "claims")
    return Scenario(path, grid, samples, seed, design, loss_mode, priors, correlations, claims,
                    dict(raw), files, schedules)


MAX_MONTHS = 1200
"""Longest horizon [month]: 100 years, far beyond any question about this war. It also
bounds the memory of a run's time axis (a daily grid of 36,500 steps)."""

MAX_GROWTH_FACTOR = 1e12
"""Largest factor by which any amount may grow over the horizon. Plausible inputs give
outputs (products of a head count and a RUB amount, summed over the horizon) below about
1e20 at the start, so a trillion-fold growth keeps them far below float32's 3.4e38; only
inputs near the typo bound of 1e15 (`sim.core.schema.MAX_AMOUNT`) on two factors at once could
still overflow."""
GROWTH_FACTOR_TEXT = f"10^{round(math.log10(MAX_GROWTH_FACTOR))}"
"""`MAX_GROWTH_FACTOR` for messages ("more than 10^12-fold"; not "1e+12")."""


Blame = Callable[..., str]
"""``blame(key, *causes)``: the key an error between several keys names (see `_validate`)."""


def _unblamed(key: str, *causes: str) -> str:
    return key


def _check_horizon(start: dt.date, months: int, path: str, blame: Blame = _unblamed) -> None:
    if months > MAX_MONTHS:
        raise ConfigError(path, "time.months", f"expected at most {MAX_MONTHS} months (100 "
                          f"years), the largest supported horizon; got {months}")
    end_index = start.year * 12 + start.month - 1 + months
    if end_index // 12 > dt.MAXYEAR - 1:
        raise ConfigError(path, "time.months", f"the horizon from {start} runs past the year "
                          f"{dt.MAXYEAR - 1}; expected a horizon ending by then")
    if start < FIRST_DATE:
        raise ConfigError(path, "time.start",
                          f"expected a date from {FIRST_DATE} on (the results' datetime64[ns] "
                          f"time coordinates span {FIRST_DATE} to {LAST_DATE}); got {start}")
    if add_months(start, months) > LAST_DATE:
        raise ConfigError(path, blame("time.start", "time.months"),
                          f"a horizon of {months} months from {start} ends after {LAST_DATE}, "
                          "the last date the results' datetime64[ns] time coordinates hold; "
                          f"the latest start for {months} months is "
                          f"{add_months(LAST_DATE, -months)}")


FX_WALK_Z = NormalDist().inv_cdf(1 - TAIL_PROBABILITY / 2)
"""Largest excursion of the exchange rate's random walk, in SDs of its value at the
horizon (about 6.1): by the reflection principle, the walk's maximum over a path exceeds
z SDs with twice the probability its end does, so this is the `TAIL_PROBABILITY` bound
of the priors' effective support applied to the whole path."""

_GROWTH_CAUSES = {
    "bonus and pay growth": ("bonus.federal_growth", "bonus.regional_growth", "pay.growth"),
    "recruitment.bonus_elasticity": ("recruitment.bonus_elasticity", "bonus.federal_growth",
                                     "bonus.regional_growth", "prices.inflation",
                                     "wage.growth", "pay.growth"),
    "fx.drift": ("fx.drift",),
    "fx.volatility": ("fx.volatility",),
    "budget.growth": ("budget.growth",),
}
"""Each channel of `_check_growth` and the keys that set it."""


def _check_growth(priors: dict[str, Prior], months: int, path: str,
                  blame: Blame = _unblamed) -> None:
    """Refuse a horizon over which the priors' fastest compounding could overflow.

    The bound adds, per year, the fastest log growth of a bonus or pay, the recruits'
    response to the real package (|eps| times the fastest change of the bonuses, and pay
    when it counts, against prices or the civilian wage), the drift
    of the exchange rate either way (the rate itself, and USD amounts) and the fall
    of the budgets (shares), times the horizon in years T; and the spread of the
    exchange rate's random walk, `FX_WALK_Z` sigma_X sqrt(T): no output compounds faster.
    """
    def log_rates(key: str) -> tuple[float, float]:
        low, high = support(priors, key)
        return math.log1p(low), math.log1p(high)

    amounts = [log_rates(k) for k in ("bonus.federal_growth", "bonus.regional_growth",
                                      "pay.growth")]
    package = [log_rates(k) for k in ("bonus.federal_growth", "bonus.regional_growth")]
    if support(priors, "recruitment.pay_weight")[1] > 0:  # pay is part of the package
        package.append(log_rates("pay.growth"))
    comparators = [log_rates("prices.inflation")]
    if support(priors, "wage.monthly_rub")[1] > 0:  # the civilian wage is the comparator
        comparators.append(log_rates("wage.growth"))
    real = max(max(abs(h - c_low) for _, h in package for c_low, _ in comparators),
               max(abs(lo - c_high) for lo, _ in package for _, c_high in comparators))
    eps = max(abs(v) for v in support(priors, "recruitment.bonus_elasticity"))
    terms = {
        "bonus and pay growth": max(0.0, max(h for _, h in amounts)),
        "recruitment.bonus_elasticity": eps * real,
        "fx.drift": max(abs(v) for v in support(priors, "fx.drift")),
        "budget.growth": max(0.0, -log_rates("budget.growth")[0]),
    }
    rate = sum(terms.values())  # [1/year]
    spread = FX_WALK_Z * support(priors, "fx.volatility")[1]  # [1/sqrt(year)]
    limit, years = math.log(MAX_GROWTH_FACTOR), months / 12
    if rate * years + spread * math.sqrt(years) <= limit:
        return
    if spread == 0:
        largest = int(12 * limit / rate)
    else:  # rate T + spread sqrt(T) = limit, solved for sqrt(T) (the stable root)
        largest = int(12 * (2 * limit / (spread + math.sqrt(spread**2 + 4 * rate * limit)))**2)
    shares = {name: term * years for name, term in terms.items()}
    shares["fx.volatility"] = spread * math.sqrt(years)
    main = max(shares, key=shares.get)
    others = [key for name, keys in _GROWTH_CAUSES.items() if name != main for key in keys]
    raise ConfigError(path, blame("time.months", *_GROWTH_CAUSES[main], *others),
                      f"the priors let amounts compound up to e^{sum(shares.values()):.3g}-fold "
                      f"(mostly {main}) over the {months}-month horizon (time.months), more "
                      f"than {GROWTH_FACTOR_TEXT}-fold, which could overflow; the largest "
                      f"supported horizon for these priors is {largest} months")


BONUS_KEYS = ("bonus.federal_rub", "bonus.regional_rub")


def _check_bonus_jumps(priors: dict[str, Prior], schedules: dict[str, Schedule], path: str,
                       blame: Blame = _unblamed) -> None:
    """Refuse bonus schedules whose jumps, through the bonus elasticity, could overflow.

    Recruits scale by b^eps with b = B_k / B_0; a schedule's entries can move B_k far from
    B_0 in one step, which `_check_growth` (rates per year) does not see. The bound is
    eps times the largest log ratio between the entries' supports and the bonus at the
    start, either way (a bonus that can fall to zero with a negative elasticity is refused).
    The regions' response can cut the regional bonus down to its floor: then the floor is
    the regional bonus's lowest value.
    """
    eps_low, eps_high = support(priors, "recruitment.bonus_elasticity")
    responds = "regional_response.floor_rub" in priors
    if (not any(key in schedules for key in BONUS_KEYS) and not responds) or (
            eps_low == eps_high == 0):
        return
    start = [priors[schedules[key].entries[schedules[key].in_force[0]]] if key in schedules
             else priors[key] for key in BONUS_KEYS]
    low0 = sum(prior.effective_support()[0] for prior in start)
    high0 = sum(prior.effective_support()[1] for prior in start)
    lows = [support(priors, key)[0] for key in BONUS_KEYS]
    if responds:  # cuts reach the floor (or the bonus itself, when it is lower)
        lows[1] = min(lows[1], support(priors, "regional_response.floor_rub")[0])
    low_all = sum(lows)
    high_all = sum(support(priors, key)[1] for key in BONUS_KEYS)
    up = math.log(high_all / low0)  # low0 > 0: `_check_joint`
    down = math.log(high0 / low_all) if low_all > 0 else math.inf
    exponent = max(eps_high * up, -eps_low * down if eps_low < 0 else 0.0)
    if exponent <= math.log(MAX_GROWTH_FACTOR):
        return
    raise ConfigError(path, blame("recruitment.bonus_elasticity", *BONUS_KEYS),
                      f"the bonus (its schedules' entries, the regions' cuts) can reach "
                      f"{human(low_all)} to {human(high_all)} RUB "
                      f"against {human(low0)} to {human(high0)} at time.start, so with "
                      f"bonus_elasticity {eps_low:.3g} to {eps_high:.3g} recruits could scale "
                      f"up to e^{exponent:.3g}-fold, more than {GROWTH_FACTOR_TEXT}-fold, "
                      "which could overflow; expected entries closer to the starting bonus "
                      "or a smaller elasticity")


def _check_design(design: str, samples: int, path: str, key: str = "run.samples") -> None:
    if design == "sobol" and samples & (samples - 1):
        below = 1 << (samples.bit_length() - 1)
        raise ConfigError(path, key,
                          f"the sobol design needs a power of two samples; got {samples} "
                          f"(try {below} or {2 * below})")


def _prior_value(value: Any, path: str, dotted: str, where: str | None = None,
                 source: str = "") -> Prior:
    """The prior of `dotted` written as `value`, checked against the key's domain; `where`
    names it in errors (a schedule entry's ``key.schedule.DATE``), `source` is used when
    the value has none of its own."""
    spec, where = key_spec(dotted), where or dotted
    if value is REQUIRED:
        raise ConfigError(path, where, f"missing required value [{spec.unit}]")
    if isinstance(value, dict) and "schedule" in value:
        raise ConfigError(path, where, "a schedule cannot hold a schedule; expected a prior")
    try:
        prior = prior_from_value(value)
    except PriorError as error:
        raise ConfigError(path, where, str(error)) from None
    domain = DOMAINS[spec.domain]
    low, high = prior.effective_support()
    if not domain.contains(low, high):
        raise ConfigError(
            path, where,
            f"expected values {domain.text} [{spec.unit}], but {prior.describe()} " + (
                "is outside" if prior.is_fixed
                else f"reaches {human(low, 6)} to {human(high, 6)}"),
        )
    if source and not prior.source:
        prior = replace(prior, source=source)
    return prior


SCHEDULE_KEYS_TEXT = ("schedule", "source")

MAX_SCHEDULE_ENTRIES = 1200
"""Most entries in one schedule: each is a sampled parameter (memory per sample), and a
monthly history of 100 years is far more than any question here needs."""


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _schedule_date(key: Any) -> dt.date | None:
    """A schedule entry's date from its key (``"2024-08-01"``, or a date given from Python);
    None when it is not one."""
    if isinstance(key, dt.date) and not isinstance(key, dt.datetime):
        return key
    if not isinstance(key, str) or not ISO_DATE.fullmatch(key):
        return None
    try:
        return dt.date.fromisoformat(key)
    except ValueError:
        return None


def _schedule(value: dict, path: str, dotted: str, start: dt.date
              ) -> list[tuple[dt.date, Prior]]:
    """The entries of ``key = { schedule = { DATE = prior, ... }, source = "..." }``, in
    date order; the first must be dated on or before `start` (time.start)."""
    spec = key_spec(dotted)
    if not spec.schedule:
        raise ConfigError(path, dotted, "this key takes no schedule; expected one prior (a "
                          "number, \"A to B\" or a table with dist) [see docs/config.md, "
                          "Schedules, for the keys that take one]")
    unknown = sorted(set(value) - set(SCHEDULE_KEYS_TEXT))
    if unknown:
        raise ConfigError(path, f"{dotted}.{unknown[0]}",
                          "unknown key beside schedule; expected schedule (and source)")
    source = value.get("source", "")
    if not isinstance(source, str):
        raise ConfigError(path, f"{dotted}.source", f"expected a string, got {source!r}")
    table = value["schedule"]
    if not isinstance(table, dict) or not table:
        raise ConfigError(path, f"{dotted}.schedule", "expected a non-empty table of dated "
                          f"entries, {{ YYYY-MM-DD = prior, ... }}; got {table!r}")
    if len(table) > MAX_SCHEDULE_ENTRIES:
        raise ConfigError(path, f"{dotted}.schedule", f"expected at most "
                          f"{MAX_SCHEDULE_ENTRIES} entries (one a month for 100 years); got "
                          f"{len(table)}")
    entries: dict[dt.date, Prior] = {}
    for text, entry in table.items():
        where = f"{dotted}.schedule.{text}"
        date = _schedule_date(text)
        if date is None:
            raise ConfigError(path, where, "expected a date (YYYY-MM-DD) as the entry's "
                              f"key; got {text!r}")
        if date in entries:
            raise ConfigError(path, where, f"the date {date} is given twice")
        if not FIRST_DATE <= date <= LAST_DATE:
            raise ConfigError(path, where, f"expected a date from {FIRST_DATE} to {LAST_DATE}")
        entries[date] = _prior_value(entry, path, dotted, where, source)
    dates = sorted(entries)
    if dates[0] > start:
        raise ConfigError(path, f"{dotted}.schedule", f"the first entry is dated {dates[0]}, "
                          f"after time.start {start}, so the value at the start is unknown; "
                          f"expected an entry dated on or before {start}")
    return [(date, entries[date]) for date in dates]


def _entries_in_force(schedules: dict[str, Schedule], keys: tuple[str, ...]
                      ) -> list[tuple[str, ...]]:
    """The parameter names of `keys` in force together at some step start: one tuple per
    distinct combination (one tuple when none of them is scheduled)."""
    steps = max((len(s.in_force) for s in schedules.values()), default=1)
    columns = [[schedules[key].entries[j] for j in schedules[key].in_force]
               if key in schedules else [key] * steps for key in keys]
    return list(dict.fromkeys(zip(*columns, strict=True)))


def support(priors: dict[str, Prior], key: str) -> tuple[float, float]:
    """The effective support of `key` over all its entries when it is scheduled; (0, 0)
    for a key the config leaves out."""
    found = [p.effective_support() for name, p in priors.items() if base_key(name) == key]
    if not found:
        return 0.0, 0.0
    return min(lo for lo, _ in found), max(hi for _, hi in found)


def _check_joint(priors: dict[str, Prior], schedules: dict[str, Schedule], path: str,
                 blame: Blame = _unblamed) -> None:
    """Constraints between priors (for schedules, between the entries in force together)."""
    for killed, missing in _entries_in_force(schedules, ("losses.killed_share",
                                                         "losses.missing_share")):
        killed_high = priors[killed].effective_support()[1]
        missing_high = priors[missing].effective_support()[1]
        if killed_high + missing_high > 1:
            together = (f" ({killed} and {missing}, in force together)"
                        if ENTRY_MARK in killed + missing else "")
            raise ConfigError(
                path, blame("losses.missing_share", "losses.killed_share"),
                f"killed_share + missing_share must not exceed 1, but their priors{together} "
                f"reach {killed_high:.3g} + {missing_high:.3g}; use bounded priors (pert, "
                "triangular, uniform)",
            )
    at_start = {key: (priors[schedules[key].entries[schedules[key].in_force[0]]]
                      if key in schedules else priors[key])
                for key in ("bonus.federal_rub", "bonus.regional_rub")}
    base_bonus = sum(prior.effective_support()[0] for prior in at_start.values())
    if base_bonus <= 0:
        raise ConfigError(
            path, blame("bonus.regional_rub", "bonus.federal_rub"),
            "federal_rub + regional_rub must be > 0 at time.start (the bonus elasticity is "
            "relative to it)",
        )


def _positive_int(value: Any, path: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(path, key, f"expected an integer >= 1, got {value!r}")
    return value


def _seed(value: Any, path: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ConfigError(path, key, f"expected an integer in [0, 2^63 - 1], got {value!r}")
    return value


def _choice(value: Any, path: str, dotted: str) -> str:
    choices = key_spec(dotted).choices
    if value not in choices:
        raise ConfigError(path, dotted, f"expected one of {', '.join(choices)}; got {value!r}")
    return value


def _date(value: Any, path: str, key: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ConfigError(path, key, f"expected a date (YYYY-MM-DD), got a date-time {value}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(path, key, f"expected a date (YYYY-MM-DD), got {value!r}")


# ---------------------------------------------------------------- correlations


def _correlations(raw: dict, path: str, priors: dict[str, Prior]) -> tuple[Pair, ...]:
    pairs: list[Pair] = []
    seen: set[frozenset] = set()
    for i, entry in enumerate(_table_list(raw, path, "correlations")):
        where = f"correlations[{i}]"
        unknown = sorted(set(entry) - set(CORRELATION_KEYS))
        if unknown:
            raise ConfigError(path, f"{where}.{unknown[0]}",
                              f"unknown key{suggest(unknown[0], CORRELATION_KEYS)}; "
                              "expected a, b, rank (and source)")
        names = []
        for side in ("a", "b"):
            name = entry.get(side)
            scheduled = isinstance(name, str) and any(
                base_key(k) == base_key(name) and k != base_key(name) for k in priors)
            if scheduled:
                raise ConfigError(path, f"{where}.{side}",
                                  f"{base_key(name)} is a schedule; a scheduled key (or "
                                  "its entries) cannot be correlated")
            if name not in priors:
                raise ConfigError(path, f"{where}.{side}",
                                  f"expected a parameter such as 'recruitment.per_month'; "
                                  f"got {name!r}{suggest(str(name), priors)}")
            if priors[name].is_fixed:
                raise ConfigError(path, f"{where}.{side}",
                                  f"{name} is a fixed value; only uncertain priors correlate")
            names.append(name)
        if names[0] == names[1] or frozenset(names) in seen:
            raise ConfigError(path, where, f"pair {names[0]}, {names[1]} is given twice "
                              "or correlates a parameter with itself")
        seen.add(frozenset(names))
        rank = entry.get("rank")
        if isinstance(rank, bool) or not isinstance(rank, int | float) or not -1 < rank < 1:
            raise ConfigError(path, f"{where}.rank",
                              f"expected a rank correlation in (-1, 1), got {rank!r}")
        pairs.append((names[0], names[1], float(rank)))
    if pairs:
        keys = [k for k, p in priors.items() if not p.is_fixed]
        if cholesky_factor(correlation_matrix(keys, pairs)) is None:
            shown = "; ".join(f"{a} ~ {b} = {r:g}" for a, b, r in offending_pairs(keys, pairs))
            raise ConfigError(path, "correlations",
                              f"the rank correlations are not positive definite; "
                              f"inconsistent pairs: {shown}")
    return tuple(pairs)


# ---------------------------------------------------------------- claims


def _table_list(raw: dict, path: str, name: str) -> list:
    tables = raw.get(name, [])
    if not isinstance(tables, list) or not all(isinstance(c, dict) for c in tables):
        raise ConfigError(path, name, f"expected [[{name}]] tables")
    return tables


def _claim(entry: dict, path: str, index: int, grid: TimeGrid,
           table: str = "claims") -> Claim:
    where = f"{table}[{index}]"
    unknown = sorted(set(entry) - set(CLAIM_KEYS))
    if unknown:
        raise ConfigError(path, f"{where}.{unknown[0]}",
                          f"unknown claim key{suggest(unknown[0], CLAIM_KEYS)}")
    quantity = entry.get("quantity")
    if quantity not in CLAIM_QUANTITIES:
        raise ConfigError(path, f"{where}.quantity",
                          f"expected one of {', '.join(CLAIM_QUANTITIES)}; got {quantity!r}")
    _, kind, base_unit = CLAIM_QUANTITIES[quantity]
    statistics = CLAIM_STATISTICS[kind]
    statistic = entry.get("statistic", statistics[0])
    if statistic not in statistics:
        raise ConfigError(path, f"{where}.statistic",
                          f"{quantity} claims take statistic {' or '.join(statistics)}; "
                          f"got {statistic!r}")
    unit = base_unit + ("/day" if statistic == "per_day" else "")
    if entry.get("unit", unit) != unit:
        raise ConfigError(path, f"{where}.unit",
                          f"expected {unit!r} for {quantity} ({statistic}); "
                          f"got {entry['unit']!r}")
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
        value
    ):
        raise ConfigError(path, f"{where}.value", f"expected a finite number, got {value!r}")
    fields = {"start": None, "end": None, "date": None}
    needed = ("date",) if kind in ("stock", "level") else ("start", "end")
    for name in needed:
        if name not in entry:
            raise ConfigError(path, f"{where}.{name}", f"{quantity} claims need {name}")
        fields[name] = _date(entry[name], path, f"{where}.{name}")
    _check_claim_dates(fields, grid, path, where)
    for name, choices in LEDGER_CLAIM_KEYS.items():
        given = entry.get(name)
        if given is None:
            continue
        if quantity != "spend_rub":
            raise ConfigError(path, f"{where}.{name}",
                              f"only spend_rub claims name a {name}; {quantity} takes none")
        if given not in choices:
            raise ConfigError(path, f"{where}.{name}", f"expected {name} = one of "
                              f"{', '.join(choices)} (or no {name}: all of them); got {given!r}")
        fields[name] = given
    used_for = entry.get("used_for", CLAIM_USES[0])
    if used_for not in CLAIM_USES:
        raise ConfigError(path, f"{where}.used_for", f"expected {' or '.join(CLAIM_USES)} "
                          f"(a claim that set a prior tests nothing); got {used_for!r}")
    source = entry.get("source", "")
    entry_name = " ".join(str(entry.get(k)) for k in LEDGER_CLAIM_KEYS if entry.get(k))
    label = entry.get("label", f"{quantity} {entry_name} ({statistic})".replace("  ", " "))
    for name, text in (("source", source), ("label", label)):
        if not isinstance(text, str):
            raise ConfigError(path, f"{where}.{name}", f"expected a string, got {text!r}")
    return Claim(quantity, statistic, float(value), unit, source, label, used_for=used_for,
                 **fields)


def check_claims_made(claims, given: set[str], path: str, table: str) -> None:
    """Refuse a claim on an output the scenario does not make (the regional bonus paid
    needs a [regional_response] section)."""
    for i, claim in enumerate(claims):
        variable = VARIABLES.get(CLAIM_QUANTITIES[claim.quantity][0])  # None: USD per day
        if variable is not None and variable.requires is not None and (
                variable.requires not in given):
            section = variable.requires.split(".")[0]
            raise ConfigError(path, f"{table}[{i}].quantity",
                              f"{claim.quantity} is made only with a [{section}] section; "
                              "expected it in the config, or another quantity")


def check_unique_labels(labels: list[str], path: str, table: str) -> None:
    """Refuse two claims (or observations) with the same label: their rows would mix."""
    first: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label in first:
            raise ConfigError(path, f"{table}[{i}].label",
                              f"label {label!r} repeats {table}[{first[label]}]; give each "
                              "one a distinct label")
        first[label] = i


def parse_claim(entry: dict, path: str, index: int, grid: TimeGrid,
                table: str = "claims") -> Claim:
    """Validate one claim-like table (quantity, window or date, value, unit, source).

    Used for ``[[claims]]`` and, with `table` set, for ``[[observations]]``.
    """
    return _claim(entry, path, index, grid, table)


def _check_claim_dates(fields: dict, grid: TimeGrid, path: str, where: str) -> None:
    first, last = grid.start, grid.end
    if fields["date"] is not None and not first <= fields["date"] <= last:
        raise ConfigError(path, f"{where}.date",
                          f"expected a date within the horizon {first} to {last}")
    if fields["start"] is not None:
        if not fields["start"] < fields["end"]:
            raise ConfigError(path, f"{where}.end", "expected end after start")
        if fields["start"] < first or fields["end"] > last:
            raise ConfigError(path, f"{where}.start",
                              f"expected a window within the horizon {first} to {last}")
