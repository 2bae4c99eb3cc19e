"""Backtests: calibrate on what was known at a cutoff, score the forecast of what came next.

At a cutoff date the observations split in two (`split_observations`): the training set,
every observation over by the cutoff, is all the calibration sees; the held-out set,
every observation that starts at or after it (within `horizon_months`, if given), is
forecast and scored. An observation that straddles the cutoff is in neither. Three
forecasts of each held-out observation are scored side by side:

- ``model``: the calibrated scenario's posterior predictive (every particle's modelled
  quantity, its reporter's bias and the observation's error model);
- ``last``: the series' last training value carried forward, with a normal spread
  growing with the square root of the lead (`naive_forecasts`);
- ``mean3``: the mean of its last three training values, with the same spread.

The scores are proper: the continuous ranked probability score (`crps_samples`,
`crps_normal`), the log predictive density (`log_score`) and the coverage of central
50% and 90% intervals (`interval_coverage`). `rolling_backtest` repeats this at several
cutoffs; `backtest_table` summarises a result per cutoff and forecast.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from sim.analysis.calibration import (
    Likelihood,
    calibrate,
    check_observations,
    predictive_draws,
)
from sim.analysis.summary import table_text
from sim.config.observations import (
    ERROR_MODELS,
    Observation,
    ObservationSet,
    load_observation_files,
)
from sim.config.scenario import Scenario
from sim.core.timegrid import add_months
from sim.core.units import DAYS_PER_MONTH, attrs
from sim.errors import ParameterError, UserError
from sim.numbers import human, iso_date, percent
from sim.priors.sampling import root_seed
from sim.run.dataset import provenance

METHODS = ("model", "last", "mean3")
"""The forecasts scored: the calibrated model and the two naive forecasts."""

NAIVE_METHODS = METHODS[1:]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Predictive percentiles kept per held-out observation (``predictive_p5`` ...)."""

LEVELS = (0.5, 0.9)
"""Central interval levels whose coverage is scored (``covered_50``, ``covered_90``)."""

MEAN3_VALUES = 3
"""Past values the ``mean3`` forecast averages (and needs)."""

BACKTEST_SPAWN_KEY = 2**32 + 7
"""Spawn key of the forecast's random stream (reporting biases drawn from their prior,
observation errors), with the cutoff's ordinal: a cutoff's forecast does not depend on
which other cutoffs the rolling backtest runs (calibration uses its own key)."""

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# ---------------------------------------------------------------- scores


def crps_samples(samples, observed) -> np.ndarray:
    """Continuous ranked probability score of an ensemble, in O(N log N).

    Parameters
    ----------
    samples : array_like, shape (..., N)
        Draws of the forecast distribution along the last axis.
    observed : array_like, shape (...)
        The observed values (broadcast against ``samples[..., 0]``).

    Returns
    -------
    ndarray, shape (...)
        CRPS [unit of the values]; NaN where the observation or a sample is NaN.

    Notes
    -----
    CRPS(F, y) = E|X - y| - 1/2 E|X - X'| with X, X' independent draws of F. For the
    ensemble's empirical distribution and sorted draws x_(1) <= ... <= x_(N),
    1/2 E|X - X'| = (1 / N^2) sum_i (2 i - N - 1) x_(i), so the score costs one sort
    instead of the N^2 pairs. It equals the integral of (F_N(x) - 1{x >= y})^2 over x
    exactly: it is zero only when every draw equals y.
    """
    x = np.sort(np.asarray(samples, dtype=np.float64), axis=-1)
    n = x.shape[-1]
    if n == 0:
        raise ParameterError("samples", "expected at least one sample on the last axis")
    y = np.expand_dims(np.asarray(observed, dtype=np.float64), -1)
    rank = 2.0 * np.arange(1, n + 1) - n - 1
    with np.errstate(invalid="ignore", over="ignore"):
        absolute = np.mean(np.abs(x - y), axis=-1)
        half_spread = (x @ rank) / n**2
        return absolute - half_spread


def crps_normal(mu, sigma, observed) -> np.ndarray:
    """Closed-form CRPS of a normal forecast N(mu, sigma^2).

    Parameters
    ----------
    mu, sigma, observed : array_like
        Mean, standard deviation (>= 0) and observed value, broadcast together.

    Returns
    -------
    ndarray
        sigma (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)) with z = (y - mu) / sigma;
        |y - mu| where sigma = 0 (a point forecast); NaN where sigma < 0 or an input
        is NaN.
    """
    mu, sigma, y = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                         for a in (mu, sigma, observed)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = (y - mu) / sigma
        density = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        score = sigma * (z * (2 * special.ndtr(z) - 1) + 2 * density - 1 / math.sqrt(math.pi))
    score = np.where(sigma == 0, np.abs(y - mu), score)
    return np.where(sigma < 0, np.nan, score)


def log_score(observed, components, scale, *, error: str = "sd",
              t_df: float | None = None) -> np.ndarray:
    """Log predictive density of the observed value under a mixture of error models.

    The forecast is the equally weighted mixture, over components (posterior particles),
    of the observation's error model around each component's value m_i; the score is
    log((1 / N) sum_i p(y | m_i)), a log-mean-exp. A normal forecast N(mu, sigma^2) is
    the one-component mixture ``log_score(y, mu[..., None], sigma)``.

    Parameters
    ----------
    observed : array_like, shape (...)
        Observed values y.
    components : array_like, shape (..., N)
        Each component's value m_i (the modelled quantity, bias included).
    scale : array_like, shape (...)
        The error model's size: an SD in the value's unit (``sd``), a share of the
        component's value (``relative_sd``) or the SD of log(y / m) (``log_sd``).
    error : {"sd", "relative_sd", "log_sd"}
        The error model, as in an observation file.
    t_df : float, optional
        Degrees of freedom of Student-t errors; None: normal.

    Returns
    -------
    ndarray, shape (...)
        Log density of y [log(1 / unit of y)]; -inf where no component gives y any
        density; NaN where y is NaN.

    Notes
    -----
    The residuals mirror `sim.analysis.calibration.Likelihood.loglik`, with two
    differences that make this a proper density of y, comparable across forecasts:
    ``log_sd`` includes the lognormal's Jacobian -log y (the likelihood drops it, a
    constant there), and ``relative_sd``'s SD is a share of the component's value |m_i|,
    not of the observed value (a forecast cannot know the value it forecasts).
    """
    if error not in ERROR_MODELS:
        raise ParameterError("error", f"expected one of {', '.join(ERROR_MODELS)}, "
                                      f"got {error!r}")
    y = np.asarray(observed, dtype=np.float64)
    m = np.asarray(components, dtype=np.float64)
    s = np.expand_dims(np.broadcast_to(np.asarray(scale, dtype=np.float64), y.shape), -1)
    yy = np.expand_dims(y, -1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if error == "log_sd":
            resid = (np.log(yy) - np.log(m)) / s
            log_width = np.log(s) + np.log(yy)
        else:
            width = s if error == "sd" else s * np.abs(m)
            resid = (yy - m) / width
            log_width = np.log(width)
        if t_df is None:
            log_density = -0.5 * resid * resid - _LOG_SQRT_2PI
        else:
            nu = float(t_df)
            log_density = (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)
                           - 0.5 * math.log(nu * math.pi)
                           - (nu + 1) / 2 * np.log1p(resid * resid / nu))
        terms = log_density - log_width
        terms = np.where(np.isfinite(terms), terms, -np.inf)
        score = special.logsumexp(terms, axis=-1) - math.log(m.shape[-1])
    return np.where(np.isnan(y), np.nan, score)


def interval_coverage(forecast, observed, level: float) -> np.ndarray:
    """Whether the observed value lies in the forecast's central interval.

    Parameters
    ----------
    forecast : array_like of shape (..., N), or callable
        Draws of the forecast along the last axis, or its quantile function: called
        with a probability, it returns the quantiles, shape (...).
    observed : array_like, shape (...)
    level : float
        The interval's probability, 0 < level < 1 (0.9: from the 5th to the 95th
        percentile).

    Returns
    -------
    ndarray, shape (...)
        1.0 where lower <= y <= upper, 0.0 where not, NaN where y or a bound is NaN.
    """
    if not 0 < level < 1:
        raise ParameterError("level", f"expected a probability between 0 and 1, got {level!r}")
    y = np.asarray(observed, dtype=np.float64)
    low, high = (1 - level) / 2, (1 + level) / 2
    if callable(forecast):
        lower = np.asarray(forecast(low), dtype=np.float64)
        upper = np.asarray(forecast(high), dtype=np.float64)
    else:
        lower, upper = np.quantile(np.asarray(forecast, dtype=np.float64), [low, high],
                                   axis=-1)
    with np.errstate(invalid="ignore"):
        covered = ((lower <= y) & (y <= upper)).astype(np.float64)
    return np.where(np.isnan(y) | np.isnan(lower) | np.isnan(upper), np.nan, covered)


# ---------------------------------------------------------------- dates and the split


def months_between(first: dt.date, last: dt.date) -> float:
    """Calendar months from `first` to `last` (>= first): whole months, then the days
    left over in mean months (30.4375 days); 2025-01-01 to 2025-04-01 is 3.0."""
    whole = (last.year - first.year) * 12 + last.month - first.month
    while whole > 0 and add_months(first, whole) > last:
        whole -= 1
    return whole + (last - add_months(first, whole)).days / DAYS_PER_MONTH


def _end(o: Observation) -> dt.date:
    """The day an observation is complete: a window's (exclusive) end, a stock's date."""
    return o.claim.end if o.claim.date is None else o.claim.date


def known_at(o: Observation, cutoff: dt.date) -> bool:
    """True when `o` is over by `cutoff`: a flow's window ends at or before it (the end is
    exclusive: midnight at its start), a stock or level is dated before it."""
    c = o.claim
    return c.end <= cutoff if c.date is None else c.date < cutoff


def after(o: Observation, cutoff: dt.date) -> bool:
    """True when `o` starts at or after `cutoff` (a flow's window start, a stock's date)."""
    c = o.claim
    return c.start >= cutoff if c.date is None else c.date >= cutoff


@dataclass(frozen=True)
class Split:
    """The observations at one cutoff.

    Attributes
    ----------
    cutoff : datetime.date
    training : ObservationSet
        Observations over by the cutoff (`known_at`): all the calibration sees. Its
        ``[bias]`` priors are those of its reporters.
    heldout : ObservationSet
        Observations starting at or after the cutoff (`after`) and, with a horizon,
        ending within it: what is forecast and scored. Its priors are its reporters'.
    straddling : tuple of Observation
        Windows that start before the cutoff and end after it: in neither set.
    beyond : tuple of Observation
        Observations after the cutoff that end after the horizon: in neither set.
    """

    cutoff: dt.date
    training: ObservationSet
    heldout: ObservationSet
    straddling: tuple[Observation, ...]
    beyond: tuple[Observation, ...]


def _subset(observations: ObservationSet, chosen: list[Observation]) -> ObservationSet:
    reporters = {o.reporter for o in chosen if o.reporter}
    bias = {k: p for k, p in observations.bias.items() if k in reporters}
    return ObservationSet(observations.path, tuple(chosen), bias)


def split_observations(observations: ObservationSet, cutoff: dt.date,
                       horizon_months: int | None = None) -> Split:
    """Split observations at a cutoff into what was known and what came after.

    Parameters
    ----------
    observations : ObservationSet
    cutoff : datetime.date
        Midnight at the start of this day.
    horizon_months : int, optional
        Hold out only observations that end (flows) or are dated (stocks, levels) no
        later than `horizon_months` calendar months after the cutoff; None: all.

    Returns
    -------
    Split
        Training: flows whose window ends at or before the cutoff, stocks and levels
        dated before it. Held out: flows whose window starts at or after the cutoff,
        stocks and levels dated at or after it. A window around the cutoff is in
        neither; no observation is in both.
    """
    limit = None if horizon_months is None else add_months(cutoff, horizon_months)
    training, heldout, straddling, beyond = [], [], [], []
    for o in observations.observations:
        if known_at(o, cutoff):
            training.append(o)
        elif not after(o, cutoff):
            straddling.append(o)
        elif limit is None or _end(o) <= limit:
            heldout.append(o)
        else:
            beyond.append(o)
    return Split(cutoff, _subset(observations, training), _subset(observations, heldout),
                 tuple(straddling), tuple(beyond))


def cutoff_dates(first, last, every_months: int) -> list[dt.date]:
    """Cutoffs from `first` to `last` (inclusive), every `every_months` calendar months.

    Parameters
    ----------
    first, last : str or datetime.date
        The first cutoff and the latest allowed one (ISO dates as text are accepted).
    every_months : int
        Calendar months between cutoffs (>= 1).

    Returns
    -------
    list of datetime.date
        ``first``, ``first + every_months``, ... up to and including ``last``.

    Raises
    ------
    ParameterError
        A date that does not parse (``first``, ``last``), `first` after `last`, or a
        step that is not a whole number of months >= 1 (``every``).
    """
    first, last = _as_date(first, "first"), _as_date(last, "last")
    if isinstance(every_months, bool) or not isinstance(every_months, int | np.integer) or (
            every_months < 1):
        raise ParameterError("every", f"expected a whole number of months >= 1, got "
                                      f"{every_months!r}")
    if first > last:
        raise ParameterError("first", f"{first} is after last, {last}; expected first <= last")
    dates, k = [], 0
    while (day := add_months(first, k * int(every_months))) <= last:
        dates.append(day)
        k += 1
    return dates


def _as_date(value, parameter: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64) and not np.isnat(value):
        return dt.date.fromisoformat(str(value.astype("datetime64[D]")))
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ParameterError(parameter, f"expected a date (YYYY-MM-DD), got {value!r}")


# ---------------------------------------------------------------- forecasts


def series_key(o: Observation) -> tuple:
    """The series an observation belongs to: quantity, statistic, payer, item, reporter,
    unit, and a flow's window length in months (``"at"`` for stocks and levels)."""
    c = o.claim
    window = "at" if c.date is not None else round(months_between(c.start, c.end), 6)
    return (c.quantity, c.statistic, c.payer, c.item, o.reporter, c.unit, window)


def naive_forecasts(training: ObservationSet, heldout: ObservationSet
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The naive forecasts of each held-out observation from its series' training values.

    Parameters
    ----------
    training, heldout : ObservationSet

    Returns
    -------
    dict
        ``{"last": (mean, sd), "mean3": (mean, sd)}``, each array shape (H,), NaN where
        the series has too few training values (2 for ``last``, 3 for ``mean3``) or
        never changed (a forecast with no spread is not a probabilistic forecast).

    Notes
    -----
    A series' training values v_1..v_n are taken in order of their ends (a window's end,
    a stock's date). With g_j the months between the ends of v_{j-1} and v_j, the steps
    d_j = (v_j - v_{j-1}) / sqrt(g_j) are month-to-month changes; the spread per month is
    their root mean square s = sqrt(mean d_j^2) (the SD of a driftless random walk's
    monthly step, defined from one change on). For a held-out observation L months after
    the series' last value, both forecasts are normal with SD s sqrt(L), centred on v_n
    (``last``) or on (v_{n-2} + v_{n-1} + v_n) / 3 (``mean3``).
    """
    series: dict[tuple, list[tuple[dt.date, float]]] = {}
    for o in training.observations:
        series.setdefault(series_key(o), []).append((_end(o), o.claim.value))
    h = len(heldout.observations)
    out = {name: (np.full(h, np.nan), np.full(h, np.nan)) for name in NAIVE_METHODS}
    for i, o in enumerate(heldout.observations):
        past = sorted(series.get(series_key(o), []))
        if len(past) < 2:
            continue
        ends = [end for end, _ in past]
        values = np.array([value for _, value in past])
        gaps = np.array([months_between(a, b) for a, b in itertools.pairwise(ends)])
        steps = np.diff(values)[gaps > 0] / np.sqrt(gaps[gaps > 0])
        if not np.any(steps != 0):  # no change seen: no spread to give the forecast
            continue
        sd = math.sqrt(float(np.mean(steps**2)) * months_between(ends[-1], _end(o)))
        out["last"][0][i], out["last"][1][i] = values[-1], sd
        if len(values) >= MEAN3_VALUES:
            out["mean3"][0][i] = float(np.mean(values[-MEAN3_VALUES:]))
            out["mean3"][1][i] = sd
    return out


def model_forecast(scenario: Scenario, posterior: xr.Dataset, heldout: ObservationSet,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The calibrated model's forecast of held-out observations.

    Parameters
    ----------
    scenario : Scenario
        The scenario calibrated.
    posterior : xarray.Dataset
        `sim.analysis.calibration.calibrate`'s result: model outputs per particle on
        ``sample`` (stored as float32) and ``bias_<reporter>`` for inferred biases.
    heldout : ObservationSet
    rng : numpy.random.Generator
        Draws the biases of reporters the training set never saw (from their prior) and
        the observation errors.

    Returns
    -------
    modelled : ndarray, shape (H, N)
        Each held-out quantity as its reporter would report it, per particle.
    predictive : ndarray, shape (H, N)
        `modelled` plus a draw of the observation's error (the posterior predictive):
        log_sd: m exp(s e); sd: m + s e; relative_sd: m + s |m| e; e standard normal, or
        Student-t with t_df degrees of freedom.
    """
    n = posterior.sizes["sample"]
    likelihood = Likelihood(scenario, heldout)
    outputs = {}
    for name in {variable for variable, _ in likelihood.weights}:
        if name not in posterior:
            raise UserError(f"the posterior has no {name}: expected a calibration kept in "
                            "full")
        values = posterior[name].transpose("sample", ...).values.astype(np.float64)
        outputs[name] = np.moveaxis(values, 0, -1)  # time-major, as the model made them
    bias = {}
    for name, prior in heldout.bias.items():
        if prior.is_fixed:
            bias[name] = np.full(n, prior.params["value"])
        elif f"bias_{name}" in posterior:
            bias[name] = posterior[f"bias_{name}"].values.astype(np.float64)
        else:  # a reporter the training set never saw: its prior is its posterior
            bias[name] = prior.ppf(rng.random(n))
    modelled = likelihood.modelled(bias, outputs) if outputs else np.empty((0, n))
    return modelled, predictive_draws(heldout, modelled, rng, relative_to_model=True)


# ---------------------------------------------------------------- the backtest


def backtest(scenario: Scenario, observations, cutoff, *, horizon_months: int | None = None,
             particles: int = 4000, seed: int | None = None, method: str = "smc",
             moves: int = 5, log: Callable[[str], None] | None = None) -> xr.Dataset:
    """Calibrate on the observations over by a cutoff; score the forecast of those after.

    Parameters
    ----------
    scenario : Scenario
    observations : ObservationSet, str or list of str
        The observations, or the path(s) of observation files.
    cutoff : datetime.date or str
        Midnight at the start of this day; strictly inside the scenario's horizon.
    horizon_months : int, optional
        Score only observations within this many months after the cutoff; None: all.
    particles : int
        Particles of the calibration.
    seed : int, optional
        Root seed; default the scenario's.
    method : {"smc", "importance"}
        The calibration method.
    moves : int
        pCN moves per tempering stage.
    log : callable, optional
        Called with one line per cutoff and per tempering stage.

    Returns
    -------
    xarray.Dataset
        `rolling_backtest`'s result with one cutoff: dims ``cutoff`` (length 1),
        ``heldout`` (the observations after the cutoff) and ``method`` (``model``,
        ``last``, ``mean3``); per held-out observation its ``observed`` value and
        ``lead_months`` [month], and per forecast ``crps`` [observation unit],
        ``log_score``, ``covered_50``/``covered_90`` (1 inside the central interval, 0
        not) and ``predictive_p5`` ... ``predictive_p95`` [observation unit].
        `backtest_table` summarises it.
    """
    return rolling_backtest(scenario, observations, [cutoff], horizon_months=horizon_months,
                            particles=particles, seed=seed, method=method, moves=moves,
                            log=log)


def rolling_backtest(scenario: Scenario, observations, cutoffs: Iterable, *,
                     horizon_months: int | None = None, particles: int = 4000,
                     seed: int | None = None, method: str = "smc", moves: int = 5,
                     log: Callable[[str], None] | None = None) -> xr.Dataset:
    """Backtest at each of several cutoffs (`backtest`): one calibration per cutoff.

    Parameters
    ----------
    scenario : Scenario
    observations : ObservationSet, str or list of str
    cutoffs : list of datetime.date or str
        Distinct dates strictly inside the scenario's horizon (`cutoff_dates` makes a
        regular list).
    horizon_months, particles, seed, method, moves, log
        As in `backtest`.

    Returns
    -------
    xarray.Dataset
        Dims ``cutoff`` (datetime64[ns]), ``heldout`` (the label of every observation
        held out at some cutoff, in file order; coordinate ``heldout_unit``) and
        ``method`` (``model``, ``last``, ``mean3``). Variables: ``observed`` [the
        observation's unit] and ``lead_months`` [month] (cutoff, heldout), NaN where the
        observation is not held out at that cutoff; ``crps`` [the observation's unit;
        lower is better], ``log_score`` [log(1/unit); higher is better], ``covered_50``,
        ``covered_90`` (1 inside the central interval, 0 not) and
        ``predictive_p5/p25/p50/p75/p95`` [the observation's unit] (cutoff, heldout,
        method), NaN where the forecast is missing; ``training_observations`` (cutoff),
        the count the calibration saw. Attrs: ``analysis =
        "backtest"``, the run's provenance, ``observations_file``, ``particles``,
        ``method``, ``horizon_months`` and ``calibration_diagnostics`` (JSON, one entry
        per cutoff).

    Raises
    ------
    ParameterError
        One line: a cutoff that is not a date, is repeated or is outside the horizon, or
        has no training observation before it or nothing held out after it
        (``cutoff``); a horizon that is not a whole number of months >= 1
        (``horizon_months``); no observations (``observations``); fewer than 2
        particles (``particles``). Refused before anything is computed.
    UserError
        Observations that do not fit the scenario
        (`sim.analysis.calibration.check_observations`).
    """
    if not isinstance(observations, ObservationSet):
        observations = load_observation_files(observations, scenario.grid)
    if not observations.observations:
        raise ParameterError("observations", f"{observations.path} holds no observations; "
                                             "expected some to calibrate on and to score")
    check_observations(scenario, observations)
    if horizon_months is not None and (
            isinstance(horizon_months, bool) or not isinstance(horizon_months, int | np.integer)
            or horizon_months < 1):
        raise ParameterError("horizon_months", f"expected a whole number of months >= 1 (or "
                                               f"none), got {horizon_months!r}")
    if isinstance(particles, bool) or not isinstance(particles, int | np.integer) or (
            particles < 2):
        raise ParameterError("particles", f"expected at least 2 particles, got {particles!r}")
    if method not in ("smc", "importance"):
        raise ParameterError("method", f"expected smc or importance, got {method!r}")
    dates = _check_cutoffs(scenario, cutoffs)
    splits = [split_observations(observations, c, horizon_months) for c in dates]
    for split in splits:
        _check_split(split, observations, horizon_months)
    seed = scenario.seed if seed is None else seed
    run = scenario.with_run(samples=int(particles), seed=seed, design="random")
    root = root_seed(seed)

    held = {o.claim.label for split in splits for o in split.heldout.observations}
    columns = [o for o in observations.observations if o.claim.label in held]
    labels = [o.claim.label for o in columns]
    where = {label: j for j, label in enumerate(labels)}
    shape = (len(dates), len(labels))
    observed, lead = np.full(shape, np.nan), np.full(shape, np.nan)
    scores = {name: np.full((*shape, len(METHODS)), np.nan)
              for name in ("crps", "log_score", *(_covered(level) for level in LEVELS),
                           *(_percentile(q) for q in QUANTILES))}
    diagnostics = []
    for i, split in enumerate(splits):
        if log is not None:
            log(f"cutoff {split.cutoff}: calibrating on {len(split.training.observations)} "
                f"observations, scoring {len(split.heldout.observations)}")
        posterior = calibrate(scenario, split.training, particles=int(particles), seed=seed,
                              method=method, moves=moves, log=log)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            root.entropy, spawn_key=(BACKTEST_SPAWN_KEY, split.cutoff.toordinal()))))
        modelled, predictive = model_forecast(scenario, posterior, split.heldout, rng)
        diagnostics.append(_diagnostics(split, posterior))
        del posterior
        columns_here = [where[o.claim.label] for o in split.heldout.observations]
        y = np.array([o.claim.value for o in split.heldout.observations])
        observed[i, columns_here] = y
        lead[i, columns_here] = [months_between(split.cutoff, _end(o))
                                 for o in split.heldout.observations]
        for name, values in _score(split, y, modelled, predictive).items():
            scores[name][i, columns_here] = values

    ds = xr.Dataset(
        {"observed": (("cutoff", "heldout"), observed, _ATTRS["observed"]),
         "lead_months": (("cutoff", "heldout"), lead, _ATTRS["lead_months"]),
         **{name: (("cutoff", "heldout", "method"), values, _ATTRS[name])
            for name, values in scores.items()},
         "training_observations": ("cutoff", [len(s.training.observations) for s in splits],
                                   _ATTRS["training_observations"])},
        coords={
            "cutoff": ("cutoff", np.array(dates, dtype="datetime64[D]").astype(
                "datetime64[ns]"), {"long_name": "cutoff", "description": "Midnight at the "
                                    "start of this day: calibration sees only what was over "
                                    "by then."}),
            "heldout": ("heldout", labels, attrs("1", "held-out observation",
                                                 "Label of each observation held out at "
                                                 "some cutoff, in file order.")),
            "heldout_unit": ("heldout", [o.claim.unit for o in columns],
                             attrs("1", "held-out observation unit",
                                   "Unit of each held-out observation's value.")),
            "method": ("method", list(METHODS), attrs(
                "1", "forecast", "model: the calibrated posterior predictive; last: the "
                "last value carried forward; mean3: the mean of the last 3 values.")),
        })
    ds.attrs.update(provenance(run, root, "backtest"))
    ds.attrs.update({
        "analysis": "backtest",
        "observations_file": observations.path,
        "particles": int(particles),
        "method": method,
        "moves": int(moves),
        "horizon_months": "none" if horizon_months is None else int(horizon_months),
        "calibration_diagnostics": json.dumps(diagnostics),
    })
    return ds


def _covered(level: float) -> str:
    return f"covered_{round(100 * level)}"


def _percentile(q: float) -> str:
    return f"predictive_p{round(100 * q)}"


def _check_cutoffs(scenario: Scenario, cutoffs) -> list[dt.date]:
    if isinstance(cutoffs, str | dt.date | np.datetime64) or not isinstance(cutoffs,
                                                                               Iterable):
        raise ParameterError("cutoff", f"expected a list of dates, got {cutoffs!r}")
    dates = [_as_date(c, "cutoff") for c in cutoffs]
    if not dates:
        raise ParameterError("cutoff", "expected at least one cutoff date, got none")
    grid = scenario.grid
    seen = set()
    for day in dates:
        if not grid.start < day < grid.end:
            raise ParameterError("cutoff", f"{day} is outside the horizon {grid.start} to "
                                           f"{grid.end} of {scenario.path}; expected a date "
                                           f"after {grid.start} and before {grid.end}")
        if day in seen:
            raise ParameterError("cutoff", f"{day} is given twice; expected distinct cutoffs")
        seen.add(day)
    return dates


def _check_split(split: Split, observations: ObservationSet, horizon_months) -> None:
    if not split.training.observations:
        raise ParameterError("cutoff", f"{split.cutoff}: no observation in "
                                       f"{observations.path} is over by then (a window "
                                       "ending at or before it, a date before it); "
                                       "expected at least one to calibrate on")
    if not split.heldout.observations:
        within = "" if horizon_months is None else f" and ends within {horizon_months} months"
        raise ParameterError("cutoff", f"{split.cutoff}: no observation in "
                                       f"{observations.path} starts at or after it{within}; "
                                       "expected at least one to score")


def _diagnostics(split: Split, posterior: xr.Dataset) -> dict:
    a = posterior.attrs
    entry = {"cutoff": str(split.cutoff),
             "training_observations": len(split.training.observations),
             "heldout_observations": len(split.heldout.observations),
             "straddling": [o.claim.label for o in split.straddling],
             "beyond_horizon": len(split.beyond),
             "stages": int(a["stages"]),
             "final_distinct_particles": int(a["final_distinct_particles"]),
             "log_evidence": float(a["log_evidence"]),
             "wall_seconds": round(float(a.get("wall_seconds", float("nan"))), 3)}
    if "warning" in a:
        entry["warning"] = a["warning"]
    return entry


def _score(split: Split, y: np.ndarray, modelled: np.ndarray, predictive: np.ndarray
           ) -> dict[str, np.ndarray]:
    """Every score of every held-out observation at one cutoff, shape (H, methods)."""
    h = len(y)
    out = {name: np.full((h, len(METHODS)), np.nan)
           for name in ("crps", "log_score", *(_covered(v) for v in LEVELS),
                        *(_percentile(q) for q in QUANTILES))}
    model = METHODS.index("model")
    out["crps"][:, model] = crps_samples(predictive, y)
    for j, o in enumerate(split.heldout.observations):
        out["log_score"][j, model] = log_score(y[j], modelled[j], o.scale, error=o.error,
                                               t_df=o.t_df)
    for level in LEVELS:
        out[_covered(level)][:, model] = interval_coverage(predictive, y, level)
    with np.errstate(invalid="ignore"):
        quantiles = np.quantile(predictive, QUANTILES, axis=-1)
    for q, values in zip(QUANTILES, quantiles, strict=True):
        out[_percentile(q)][:, model] = values
    for name, (mu, sd) in naive_forecasts(split.training, split.heldout).items():
        k = METHODS.index(name)
        out["crps"][:, k] = crps_normal(mu, sd, y)
        out["log_score"][:, k] = log_score(y, mu[:, None], sd)
        for level in LEVELS:
            out[_covered(level)][:, k] = interval_coverage(
                lambda p, mu=mu, sd=sd: mu + sd * special.ndtri(p), y, level)
        for q in QUANTILES:
            out[_percentile(q)][:, k] = mu + sd * special.ndtri(q)
        missing = np.isnan(mu)
        for values in out.values():
            values[missing, k] = np.nan
    return out


_ATTRS = {
    "observed": attrs("various", "observed value",
                      "The held-out observation's value in its unit (heldout_unit); NaN "
                      "where it is not held out at that cutoff."),
    "lead_months": attrs("month", "lead time",
                         "Calendar months from the cutoff to the end of the held-out "
                         "observation's window (a stock's or level's date)."),
    "crps": attrs("various", "CRPS",
                  "Continuous ranked probability score, E|X - y| - E|X - X'| / 2, in the "
                  "observation's unit (lower is better): the model's over its posterior "
                  "predictive draws, a naive forecast's in closed form for its normal."),
    "log_score": attrs("log(1/heldout_unit)", "log score",
                       "Natural log of the forecast's density at the observed value (higher "
                       "is better): the model's is the log mean over particles of the "
                       "observation's error model around each modelled value."),
    "covered_50": attrs("1", "in central 50% interval",
                        "1 where the observed value lies between the forecast's 25th and "
                        "75th percentiles, 0 where not, NaN where the forecast is missing."),
    "covered_90": attrs("1", "in central 90% interval",
                        "1 where the observed value lies between the forecast's 5th and 95th "
                        "percentiles, 0 where not, NaN where the forecast is missing."),
    **{_percentile(q): attrs("various", f"forecast p{round(100 * q)}",
                             f"The forecast's {round(100 * q)}th percentile in the "
                             "observation's unit (the model's: observation error included).")
       for q in QUANTILES},
    "training_observations": attrs("1", "training observations",
                                   "Observations over by the cutoff: all the calibration "
                                   "saw."),
}


# ---------------------------------------------------------------- the table


def backtest_table(ds: xr.Dataset, overall: bool = False) -> pd.DataFrame:
    """One row per cutoff and forecast: mean scores, coverage and skill.

    Parameters
    ----------
    ds : xarray.Dataset
        A `rolling_backtest` (or `backtest`) result.
    overall : bool
        Also one row per forecast pooled over every cutoff (cutoff ``"all"``).

    Returns
    -------
    pandas.DataFrame
        One row per cutoff and forecast method, numbers (`backtest_text` renders them):

        - ``cutoff``: the cutoff (pandas Timestamp), or ``"all"``;
        - ``method``: ``model``, ``last`` or ``mean3``;
        - ``heldout``: observations held out; ``scored``: of them, those the forecast
          scored (a naive forecast is missing for a series with too few training
          values);
        - ``crps``: mean CRPS over the scored, in the observations' units (lower is
          better); ``log_score``: mean log predictive density [log(1/unit)] (higher is
          better);
        - ``coverage_50``, ``coverage_90``: shares (0-1) of the scored inside the
          forecast's central 50% and 90% intervals (ideally 0.5 and 0.9);
        - ``crps_skill_last``, ``crps_skill_mean3``: 1 - mean CRPS / mean CRPS of that
          naive forecast over the observations both scored (a share; > 0: better than the
          naive forecast; NaN when none).
    """
    groups = [(pd.Timestamp(c), ds.sel(cutoff=[c])) for c in ds.cutoff.values]
    if overall:
        groups.append(("all", ds))
    rows = []
    for label, part in groups:
        crps = {m: part.crps.sel({"method": m}).values.ravel() for m in METHODS}
        held = int(np.isfinite(part.observed.values).sum())
        for m in METHODS:
            scored = np.isfinite(crps[m])
            row = {"cutoff": label, "method": m, "heldout": held, "scored": int(scored.sum()),
                   "crps": _mean(crps[m][scored])}
            logs = part.log_score.sel({"method": m}).values.ravel()
            row["log_score"] = _mean(logs[~np.isnan(logs)])
            for level in LEVELS:
                covered = part[_covered(level)].sel({"method": m}).values.ravel()
                row[f"coverage_{round(100 * level)}"] = _mean(covered[~np.isnan(covered)])
            for naive in NAIVE_METHODS:
                both = scored & np.isfinite(crps[naive])
                row[f"crps_skill_{naive}"] = (
                    1 - crps[m][both].mean() / crps[naive][both].mean()
                    if both.any() and crps[naive][both].mean() > 0 else np.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")



def backtest_text(table: pd.DataFrame) -> str:
    """A `backtest_table` as text for people.

    Parameters
    ----------
    table : pandas.DataFrame
        From `backtest_table`.

    Returns
    -------
    str
        The table with cutoffs as ISO dates, CRPS with a scale suffix (611k), the log
        score with two decimals, coverage in % and skill as a signed percentage
        (``+12.0%``); missing values are left blank.
    """
    shown = table.astype(object)
    for column in table.columns:
        values = table[column]
        if column == "cutoff":
            shown[column] = [x if isinstance(x, str) else iso_date(x) for x in values]
        elif column == "crps":
            shown[column] = [_blank_or(human, x) for x in values]
        elif column == "log_score":
            shown[column] = [_blank_or(lambda v: f"{v:.2f}", x) for x in values]
        elif column.startswith("coverage"):
            shown[column] = [_blank_or(percent, x) for x in values]
        elif column.startswith("crps_skill"):
            shown[column] = [_blank_or(lambda v: ("+" if v > 0 else "") + percent(v), x)
                             for x in values]
    return table_text(shown, left=("cutoff", "method"))


def _blank_or(show: Callable[[float], str], x) -> str:
    return "" if x != x else show(float(x))
