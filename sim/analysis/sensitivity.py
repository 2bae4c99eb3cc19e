"""Global sensitivity analysis: Sobol indices, rank correlations and a tornado.

- Sobol first-order and total indices of one outcome (a per-sample summary, a
  per-step variable at a date, or every step at once) from
  `scipy.stats.sobol_indices` (Saltelli 2010 estimators) on a scrambled Sobol
  design of A and B matrices, with percentile-bootstrap confidence intervals.
- Spearman rank correlations and partial rank correlations (PRCC) from a plain
  run of the scenario (its own design and correlations), a cheap screen that
  stays valid with correlated priors.
- A one-at-a-time tornado: each prior at its 5th and 95th percentile with the
  others at their medians.

Process noise is held fixed per base sample (common random numbers): row j of
A, B and every AB_i matrix shares noise path j, so the model is a deterministic
function of the priors for each row. The indices therefore apportion the
variance that the priors cause given a noise path, averaged over the paths; the
noise's own share of the variance is attributed to no prior.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import stats
from scipy.stats import qmc

from sim import io
from sim.config.scenario import Scenario, suggest
from sim.core.model import Noise
from sim.core.schema import key_spec
from sim.core.units import SAMPLE, TIME, TIME_BOUND, YEAR, attrs
from sim.core.variables import BOUND, PER_SAMPLE, STEP, VARIABLES, YEARLY, outputs_for
from sim.errors import ParameterError, ResourceError, UserError
from sim.numbers import byte_size, format_value, unit_label
from sim.priors.sampling import (
    SEED_BLOCK_SAMPLES,
    active_noise,
    draw_block,
    noise_for,
    root_seed,
    uncertain_keys,
)
from sim.run.chunks import WORKING_ARRAYS, default_chunk_samples
from sim.run.dataset import param_name
from sim.run.plan import memory_needed_bytes, run_tasks
from sim.run.rows import RowSink, RowTask, compute_rows
from sim.run.simulate import simulate
from sim.version import __version__

PARAMETER = "parameter"
SENSITIVITY_SPAWN_KEY = 2**32 + 1
"""Spawn key of the A/B Sobol design stream (distinct from blocks and run designs)."""

TORNADO_QUANTILES = (0.05, 0.95)
TORNADO_PATHS = 256
"""Noise paths averaged for each tornado point."""

ROWS_PER_EVALUATION = 8 * SEED_BLOCK_SAMPLES
"""Model rows evaluated at once (bounds the working memory)."""

NOISE_NOTE = (
    "Process noise (recruitment and casualty shocks, exchange-rate walk) is held fixed per "
    "base sample (common random numbers): row j of A, B and every AB_i shares noise path "
    "j. The indices apportion the variance the priors cause given a noise path, averaged "
    "over paths; the noise's own share is attributed to no prior."
)


# ---------------------------------------------------------------- outcome selection


@dataclass(frozen=True)
class Outcome:
    """Which output to analyse and where along its time-like dimension.

    Attributes
    ----------
    name : str
        Output variable name (see `sim.core.variables.VARIABLES`).
    dim : str or None
        Its time-like dimension (``time``, ``time_bound``, ``year``), None if per sample.
    index : int or None
        Position along `dim`; None analyses every position at once.
    log : bool
        Analyse the natural log of the outcome.
    """

    name: str
    dim: str | None
    index: int | None
    log: bool

    def pick(self, values: np.ndarray) -> np.ndarray:
        """From a time-major (T, n) or (n,) array, the analysed (s, n) block.

        One position is copied out, so the block does not keep the whole (T, n)
        array alive.
        """
        values = np.asarray(values, dtype=np.float64)
        if self.dim is None:
            picked = values[None, :]
        elif self.index is None:
            picked = values
        else:
            picked = values[self.index:self.index + 1].copy()
        if self.log:
            if np.any(picked <= 0):
                raise ParameterError("log", f"{self.name} has values <= 0; its log is undefined")
            return np.log(picked)
        return picked


_DIMS = {STEP: TIME, BOUND: TIME_BOUND, YEARLY: YEAR, PER_SAMPLE: None}


CENSORED_OUTCOMES = {
    "first_cut_date": "months_cutting, or `fiscal-sim runway` for when the cuts come",
    "first_stress_date": "regional_stress with --time, or `fiscal-sim runway`",
}
"""Outputs that are NaN by design in some samples (an event that never happens), refused
as outcomes, with what to analyse instead."""


def select_outcome(scenario: Scenario, name: str, time: str | dt.date | None = None,
                   log: bool = False) -> Outcome:
    """Validate ``--outcome`` and ``--time`` against the scenario.

    Parameters
    ----------
    scenario : Scenario
    name : str
        An output variable, e.g. ``bonus_spend_usd_per_day_mean`` (per sample) or
        ``bonus_spend_usd_per_day`` (per step, needs `time`).
    time : str, datetime.date or None
        A date inside the horizon (the step, boundary or year holding it) or
        ``"all"`` for every position at once. Not allowed for per-sample outcomes.
    log : bool
        Analyse log(outcome).

    Raises
    ------
    UserError
        One line naming the flag and what was expected.
    """
    made = [n for n in outputs_for(scenario.given) if not VARIABLES[n].extra]
    if name not in made:
        why = (f"output {name!r} has payer and item dimensions; use a total or a ratio by "
               "payer" if name in VARIABLES and VARIABLES[name].extra else
               f"output {name!r} is not made by this config (it leaves out the budget key "
               f"{VARIABLES[name].requires})" if name in VARIABLES else
               f"unknown output {name!r}{suggest(name, made)}")
        raise ParameterError("outcome", f"{why}; {expected_outcomes(made)}")
    if name in CENSORED_OUTCOMES:
        raise ParameterError("outcome", f"{name} is NaN in the samples where the event never "
                                        f"happens, which the indices cannot use; use "
                                        f"{CENSORED_OUTCOMES[name]}")
    dim = _DIMS[VARIABLES[name].layout]
    if dim is None:
        if time is not None:
            raise ParameterError("time", f"{name} is one value per sample; give no time")
        return Outcome(name, None, None, log)
    if time is None:
        raise ParameterError("time", f"{name} varies over {dim}; give a date or 'all'")
    if time == "all":
        return Outcome(name, dim, None, log)
    return Outcome(name, dim, _position(scenario, dim, time), log)


def expected_outcomes(names: list[str]) -> str:
    """What ``--outcome`` accepts, for a refusal: the per-sample outcomes, then the
    variables that need ``--time`` (per step, step boundary or calendar year).

    Parameters
    ----------
    names : list of str
        The outputs the scenario makes (`select_outcome`).

    Returns
    -------
    str
        ``"expected one of: a, b (one value per sample) or, with --time, c, d (per step,
        step boundary or year)"``.
    """
    per_sample = [n for n in names if _DIMS[VARIABLES[n].layout] is None]
    over_time = [n for n in names if _DIMS[VARIABLES[n].layout] is not None]
    text = f"expected one of: {', '.join(per_sample)} (one value per sample)"
    if over_time:
        text += f" or, with --time, {', '.join(over_time)} (per step, step boundary or year)"
    return text


def _position(scenario: Scenario, dim: str, time: str | dt.date) -> int:
    grid = scenario.grid
    if isinstance(time, dt.datetime):
        time = time.date()
    try:
        day = time if isinstance(time, dt.date) else dt.date.fromisoformat(time)
    except (TypeError, ValueError):
        raise ParameterError(
            "time", f"expected a date (YYYY-MM-DD) or 'all', got {time!r}") from None
    # Steps and years hold the days from their start up to, not including, the horizon's
    # end; only stocks (on step boundaries) have a value at the end itself.
    if not grid.start <= day <= grid.end or (dim != TIME_BOUND and day == grid.end):
        end = "" if dim == TIME_BOUND else " (end excluded)"
        raise ParameterError(
            "time", f"{day} is outside the horizon {grid.start} to {grid.end}"
                    f"{end}")
    if dim == YEAR:
        return int(day.year - grid.calendar_years()[0])
    target = np.datetime64(day, "D")
    if dim == TIME_BOUND:
        return int(np.searchsorted(grid.bounds, target, side="right") - 1)
    return int(np.searchsorted(grid.starts, target, side="right") - 1)


def _coordinate(scenario: Scenario, outcome: Outcome) -> tuple[str, np.ndarray] | None:
    grid = scenario.grid
    values = {TIME: grid.starts.astype("datetime64[ns]"),
              TIME_BOUND: grid.bounds.astype("datetime64[ns]"),
              YEAR: grid.calendar_years()}
    if outcome.dim is None:
        return None
    coordinate = values[outcome.dim]
    if outcome.index is not None:
        coordinate = coordinate[outcome.index:outcome.index + 1]
    return outcome.dim, coordinate


# ---------------------------------------------------------------- model evaluation


def _base_noise(scenario: Scenario, root: np.random.SeedSequence, n: int) -> Noise:
    """Noise paths of base samples 0..n-1, from the run's sample blocks."""
    n_blocks = -(-n // SEED_BLOCK_SAMPLES)
    draws = [draw_block(scenario.priors, root, b,
                        min(SEED_BLOCK_SAMPLES, n - b * SEED_BLOCK_SAMPLES),
                        scenario.grid.n_steps, draw_unit=False)[1]
             for b in range(n_blocks)]
    return noise_for(draws, tuple(draws[0]))


def _noise_columns(noise: Noise, columns: np.ndarray | slice) -> Noise:
    return Noise(*(None if z is None else z[:, columns] for z in
                   (noise.recruitment, noise.losses, noise.fx)))


def evaluate(scenario: Scenario, unit: np.ndarray, noise: Noise, outcome: Outcome,
             period: int | None = None) -> np.ndarray:
    """The outcome for each row of `unit` with the matching noise column.

    Parameters
    ----------
    scenario : Scenario
    unit : ndarray, shape (m, d)
        Independent uniforms, one column per uncertain prior.
    noise : Noise
        Innovations, (K, m) each: column j goes with row j; or, with `period`,
        (K, period) each: column j % period goes with row j.
    outcome : Outcome
    period : int, optional
        Noise paths, reused cyclically along the rows (each chunk gathers its own
        columns, so the repeated noise is never held in full).

    Returns
    -------
    ndarray, shape (s, m)
    """
    m = unit.shape[0]

    def tasks():  # chunks of rows, each with its own noise columns gathered
        for lo in range(0, m, ROWS_PER_EVALUATION):
            hi = min(m, lo + ROWS_PER_EVALUATION)
            columns = slice(lo, hi) if period is None else np.arange(lo, hi) % period
            yield RowTask(scenario, (lo, hi), unit[lo:hi], _noise_columns(noise, columns),
                          outcome)

    sink = RowSink(m)
    run_tasks(compute_rows, tasks(), [sink])
    return sink.values


# ---------------------------------------------------------------- estimators


def saltelli_2010(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray,
                  weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total indices, optionally under bootstrap resampling weights.

    Parameters
    ----------
    f_a, f_b : ndarray, shape (s, n)
        Outcomes at A and B, centred on their joint mean.
    f_ab : ndarray, shape (d, s, n)
        Outcomes at each AB_i.
    weights : ndarray, shape (R, n), optional
        Resampling counts (each row sums to n); None: every row once.

    Returns
    -------
    first, total : ndarray, shape (s, d) or (R, s, d)

    Notes
    -----
    The estimators of `scipy.stats.sobol_indices` (Saltelli et al. 2010):
    S_i = mean(f_B (f_ABi - f_A)) / V, S_Ti = mean((f_A - f_ABi)^2) / (2 V),
    V = var([f_A, f_B]). With weights, every mean is a weighted mean, which is
    the same statistic evaluated on the resample, computed by one matrix product.
    """
    n = f_a.shape[-1]
    w = np.ones((1, n)) if weights is None else np.asarray(weights, dtype=np.float64)

    def mean(x):  # (..., n) -> (R, ...)
        return np.moveaxis(x @ w.T, -1, 0) / n

    var = 0.5 * (mean(f_a**2) + mean(f_b**2)) - (0.5 * (mean(f_a) + mean(f_b))) ** 2
    var = var[..., None, :]  # (R, 1, s), against (R, d, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = mean(f_b * (f_ab - f_a)) / var  # (R, d, s)
        total = 0.5 * mean((f_a - f_ab) ** 2) / var
    first, total = (np.nan_to_num(np.swapaxes(x, -1, -2), nan=0.0, posinf=0.0, neginf=0.0)
                    for x in (first, total))
    return (first[0], total[0]) if weights is None else (first, total)


def bootstrap_intervals(f_a, f_b, f_ab, confidence: float, resamples: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Percentile-bootstrap intervals of the Saltelli 2010 indices.

    Resamples the n rows with replacement (multinomial counts) `resamples`
    times, in batches, and returns (first_low, first_high, total_low,
    total_high), each (s, d).
    """
    n = f_a.shape[-1]
    batch = max(1, min(resamples, 2**22 // n))
    firsts, totals = [], []
    for start in range(0, resamples, batch):
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=min(batch, resamples - start))
        first, total = saltelli_2010(f_a, f_b, f_ab, counts)
        firsts.append(first)
        totals.append(total)
    q = ((1 - confidence) / 2, (1 + confidence) / 2)
    first_q = np.quantile(np.concatenate(firsts), q, axis=0)
    total_q = np.quantile(np.concatenate(totals), q, axis=0)
    return first_q[0], first_q[1], total_q[0], total_q[1]


def sobol_design(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Independent A and B matrices, (n, d) each, from one scrambled Sobol design in 2d."""
    points = qmc.Sobol(2 * d, scramble=True, rng=rng).random_base2(n.bit_length() - 1)
    return points[:, :d], points[:, d:]


def sobol_analysis(func, n: int, d: int, rng: np.random.Generator, confidence: float = 0.95,
                   resamples: int = 999) -> dict[str, np.ndarray]:
    """Sobol indices of ``func`` over the unit hypercube, with bootstrap intervals.

    Parameters
    ----------
    func : callable
        ``func(unit)`` with unit (m, d) returns (s, m) outcomes; it must be
        deterministic, row by row (row j of every matrix is base sample j).
    n : int
        Base samples, a power of two; the cost is (d + 2) n evaluations.
    d : int
        Number of inputs.
    rng : Generator
        Drives the design and the bootstrap.
    confidence : float
        Level of the percentile-bootstrap intervals.
    resamples : int
        Bootstrap resamples.

    Returns
    -------
    dict of ndarray, each (s, d)
        ``first_order``, ``total_order`` (from `scipy.stats.sobol_indices`) and
        their ``_low``/``_high`` interval ends.
    """
    a, b = sobol_design(n, d, rng)
    ab = np.repeat(a[None], d, axis=0)
    ab[np.arange(d), :, np.arange(d)] = b.T  # AB_i: A with column i from B
    f_a, f_b = func(a), func(b)
    f_ab = func(ab.reshape(d * n, d)).reshape(f_a.shape[0], d, n).swapaxes(0, 1)
    mean = 0.5 * (f_a.mean(axis=-1, keepdims=True) + f_b.mean(axis=-1, keepdims=True))
    s = f_a.shape[0]
    if s * d > 1:
        result = stats.sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n)
        first, total = result.first_order, result.total_order
    else:  # scipy fails on a single index (it assigns into a NumPy scalar): same estimator
        first, total = (np.where(np.isfinite(x), x, 0.0)
                        for x in saltelli_2010(f_a - mean, f_b - mean, f_ab - mean))
    lows_highs = bootstrap_intervals(f_a - mean, f_b - mean, f_ab - mean, confidence,
                                     resamples, rng)
    out = {"first_order": np.reshape(first, (s, d)), "total_order": np.reshape(total, (s, d))}
    for name, values in zip(("first_order_low", "first_order_high", "total_order_low",
                             "total_order_high"), lows_highs, strict=True):
        out[name] = values
    return out


def rank_correlations(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman and partial rank correlations of each input with each output.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Sampled parameters.
    y : ndarray, shape (s, n)
        Outcomes.

    Returns
    -------
    spearman, prcc : ndarray, shape (s, d)

    Notes
    -----
    PRCC_i = -P_iy / sqrt(P_ii P_yy), with P the inverse of the correlation
    matrix of the ranks of [x, y]: the correlation of x_i and y after removing
    the linear effect of the other inputs' ranks.
    """
    d = x.shape[1]
    rx = stats.rankdata(x, axis=0)
    spearman = np.empty((y.shape[0], d))
    prcc = np.empty((y.shape[0], d))
    with np.errstate(divide="ignore", invalid="ignore"):
        for s, ys in enumerate(y):
            ranks = np.column_stack([rx, stats.rankdata(ys)])
            corr = np.corrcoef(ranks, rowvar=False)
            spearman[s] = corr[:d, d]
            try:
                p = np.linalg.inv(corr)
                prcc[s] = -p[:d, d] / np.sqrt(np.diag(p)[:d] * p[d, d])
            except np.linalg.LinAlgError:
                prcc[s] = np.nan
    return spearman, prcc


# ---------------------------------------------------------------- memory


FLOAT_BYTES = 8
"""Bytes of a float64 or int64 element: every array of the analysis is one or the other."""

RANK_ARRAYS = 7
"""Upper bound on (n, d + 1) float64 arrays alive while ranks are correlated (the
parameters, their ranks, `scipy.stats.rankdata`'s sort workspace, the stacked ranks)."""

QUANTILE_COPIES = 4
"""Copies of the bootstrap's (R, s, d) indices alive at once: first and total order,
as collected and as concatenated for the quantiles."""


def outcome_size(scenario: Scenario, outcome: Outcome) -> int:
    """Values analysed per sample, s: 1, or every step, boundary or year with ``"all"``."""
    if outcome.dim is None or outcome.index is not None:
        return 1
    grid = scenario.grid
    return {TIME: grid.n_steps, TIME_BOUND: grid.n_steps + 1,
            YEAR: len(grid.calendar_years())}[outcome.dim]


def _evaluation_bytes(scenario: Scenario, rows: int, s: int) -> int:
    """Peak bytes of `evaluate` over `rows` rows with cyclic noise columns."""
    k, chunk = scenario.grid.n_steps, min(rows, ROWS_PER_EVALUATION)
    per_chunk_row = (WORKING_ARRAYS * (k + 1) + len(scenario.priors)
                     + len(active_noise(scenario.priors)) * k + 2 + s)
    return FLOAT_BYTES * (chunk * per_chunk_row + 2 * s * rows)


def sensitivity_memory_bytes(scenario: Scenario, samples: int, outcome: Outcome, *,
                             rank_only: bool = False, resamples: int = 999) -> int:
    """Peak bytes that `sensitivity` allocates for `samples` base samples (an upper bound).

    Parameters
    ----------
    scenario : Scenario
    samples : int
        Base samples n.
    outcome : Outcome
        From `select_outcome`: s values per sample are analysed (`outcome_size`).
    rank_only : bool
        Without the Sobol design.
    resamples : int
        Bootstrap resamples R.

    Returns
    -------
    int

    Notes
    -----
    Bytes of float64 (8) with d uncertain priors, K steps, A noise processes, P priors,
    the run's largest phase plus the noise paths (8 A K n), which live throughout:

    - noise drawn: 2 x 8 A K n (the blocks and their concatenation);
    - Sobol evaluation: the design 8 (2d + d^2) n (A, B and every AB_i), f_A and f_B
      8 (2s) n, and `evaluate` over d n rows: 8 (2 s d n) for its parts and their
      concatenation, plus one chunk of c = min(d n, `ROWS_PER_EVALUATION`) rows,
      8 c (W (K + 1) + P + A K + 2 + s), with W = `sim.run.chunks.WORKING_ARRAYS`;
    - Sobol estimation: the outcomes F = 8 (d + 2) s n three times (ours, SciPy's
      centred copies, our centred copies), 8 (2 d s n + 2 s n) of estimator
      temporaries, the bootstrap's counts and weights 8 (2 b n + n) with
      b = max(1, min(R, 2^22 / n)) resamples per batch, and 8 x 4 R s d of indices;
    - rank screen: a plain run of n samples (`sim.run.plan.memory_needed_bytes`)
      plus 8 n (s + 7 (d + 1)) for the ranks;
    - tornado: `evaluate` over (1 + 2d) p rows, p = min(256, n), plus its design.

    For large n the Sobol estimation is the largest phase, about
    8 n (A K + 2d + d^2 + (5d + 8) s) bytes: 5.2 KiB per base sample for the baseline
    config (d = 21, K = 24, A = 3) and a per-sample outcome, 25.5 KiB for every step
    of a per-step one (s = 24). Measured peaks (resident memory, tracemalloc) stay
    below it, by up to half of it for small n, where `sim.run.chunks.WORKING_ARRAYS`
    overstates the model's working set.
    """
    n, d = samples, len(uncertain_keys(scenario.priors))
    k, a = scenario.grid.n_steps, len(active_noise(scenario.priors))
    s = outcome_size(scenario, outcome)
    noise = FLOAT_BYTES * a * k * n
    phases = [2 * noise]
    if not rank_only:
        design = FLOAT_BYTES * (2 * d + d * d) * n
        outcomes = FLOAT_BYTES * (d + 2) * s * n
        evaluation = FLOAT_BYTES * 2 * s * n + _evaluation_bytes(scenario, d * n, s)
        batch = max(1, min(resamples, 2**22 // n))
        estimation = (3 * outcomes + FLOAT_BYTES * (
            2 * d * s * n + 2 * s * n + 2 * batch * n + n
            + QUANTILE_COPIES * resamples * s * d))
        phases.append(noise + design + max(evaluation, estimation))
    screen = (memory_needed_bytes(scenario, n, default_chunk_samples(k))
              + FLOAT_BYTES * n * (s + RANK_ARRAYS * (d + 1)))
    rows = (1 + 2 * d) * min(TORNADO_PATHS, n)
    tornado = FLOAT_BYTES * rows * d + _evaluation_bytes(scenario, rows, s)
    phases.extend([noise + screen, noise + tornado])
    return int(max(phases))


def check_sensitivity_memory(scenario: Scenario, samples: int, outcome: Outcome,
                             available_bytes: int, *, rank_only: bool = False,
                             resamples: int = 999) -> None:
    """Refuse up front an analysis that would not fit in `available_bytes`.

    Raises
    ------
    ResourceError
        One line naming ``--samples``, what the analysis needs and the largest power
        of two of base samples that fits.
    """
    def need(n):
        return sensitivity_memory_bytes(scenario, n, outcome, rank_only=rank_only,
                                        resamples=resamples)

    total = need(samples)
    if total <= available_bytes:
        return
    d = len(uncertain_keys(scenario.priors))
    runs = (f"a rank screen of {samples} model runs" if rank_only
            else f"({d} + 2) x {samples} model runs")
    head = (f"samples: {samples} base samples need {byte_size(total)} for {runs} "
            f"but {byte_size(available_bytes)} is available")
    if need(2) > available_bytes:
        raise ResourceError(f"{head}; not even 2 fit (they need {byte_size(need(2))})",
                            "samples")
    fit = 2
    while 2 * fit < samples and need(2 * fit) <= available_bytes:
        fit *= 2
    raise ResourceError(f"{head}; at most {fit} fit (a power of two)", "samples")



# ---------------------------------------------------------------- the analysis


def sensitivity(scenario: Scenario, outcome: str, time: str | dt.date | None = None, *,
                samples: int = 2**12, seed: int | None = None, log: bool = False,
                rank_only: bool = False, confidence: float = 0.95,
                resamples: int = 999, available_bytes: int | None = None) -> xr.Dataset:
    """Sensitivity of one outcome to every uncertain prior.

    Parameters
    ----------
    scenario : Scenario
        From `sim.load_scenario`.
    outcome : str
        Output variable name, e.g. ``"bonus_spend_usd_per_day_mean"``.
    time : str or datetime.date, optional
        For per-step, stock or per-year outcomes: a date in the horizon, or ``"all"``.
    samples : int
        Base samples n, a power of two. Sobol costs (d + 2) n model runs; the rank
        screen uses a run of n samples in the scenario's own design.
    seed : int, optional
        Root seed; default the scenario's.
    log : bool
        Analyse log(outcome), for multiplicative models.
    rank_only : bool
        Skip the Sobol indices (required when priors are correlated).
    confidence : float
        Level of the bootstrap intervals of the Sobol indices.
    resamples : int
        Bootstrap resamples.
    available_bytes : int, optional
        Memory budget [bytes]; default: the memory this machine has available now.
        An analysis whose `sensitivity_memory_bytes` exceeds it is refused before
        anything is computed.

    Returns
    -------
    xarray.Dataset
        Indexed by ``parameter`` (and the outcome's time-like dim when ``time="all"``
        or a date): ``first_order``, ``total_order`` and their ``_low``/``_high``
        ends, ``spearman``, ``prcc``, ``tornado_low``, ``tornado_high``,
        ``tornado_base``, and each prior's 5/50/95th percentiles.

    Raises
    ------
    UserError
        Bad outcome, time or sample count, or Sobol indices asked of correlated priors.
    ResourceError
        If the analysis would not fit in `available_bytes`; says how many base
        samples would.
    """
    seed = scenario.seed if seed is None else seed
    if samples < 2 or samples & (samples - 1):
        raise ParameterError("samples", f"Sobol designs need a power of two >= 2, got {samples}")
    scenario = scenario.with_run(samples=samples, seed=seed)
    if scenario.correlations and not rank_only:
        raise UserError(
            f"{scenario.path}: correlations: Sobol indices assume independent priors and are "
            "not defined in the usual sense for correlated ones; use --rank-only for "
            "Spearman and partial rank correlations, which remain valid")
    selection = select_outcome(scenario, outcome, time, log)
    keys = uncertain_keys(scenario.priors)
    if not keys:
        raise UserError(f"{scenario.path}: every prior is fixed; nothing to analyse")
    if available_bytes is None:
        available_bytes = io.available_memory_bytes()
    check_sensitivity_memory(scenario, samples, selection, available_bytes,
                             rank_only=rank_only, resamples=resamples)
    root = root_seed(seed)
    noise = _base_noise(scenario, root, samples)
    variables: dict[str, np.ndarray] = {}
    if not rank_only:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            root.entropy, spawn_key=(*root.spawn_key, SENSITIVITY_SPAWN_KEY))))

        def func(unit):
            return evaluate(scenario, unit, noise, selection, period=samples)

        variables.update(sobol_analysis(func, samples, len(keys), rng, confidence, resamples))
    variables.update(_screen(scenario, selection, keys))
    variables.update(_tornado(scenario, selection, keys, noise))
    return _sensitivity_dataset(scenario, selection, keys, variables, samples, seed,
                                confidence, resamples, rank_only, time)


def _screen(scenario: Scenario, selection: Outcome, keys: list[str]) -> dict[str, np.ndarray]:
    ds = simulate(scenario)
    x = np.column_stack([ds[param_name(k)].values for k in keys])
    da = ds[selection.name]
    values = da.transpose(*([selection.dim] if selection.dim else []), SAMPLE).values
    spearman, prcc = rank_correlations(x, selection.pick(values))
    return {"spearman": spearman, "prcc": prcc}


def _tornado(scenario: Scenario, selection: Outcome, keys: list[str], noise: Noise
             ) -> dict[str, np.ndarray]:
    d = len(keys)
    paths = min(TORNADO_PATHS, scenario.samples)
    settings = np.full((1 + 2 * d, d), 0.5)
    for i in range(d):
        settings[1 + 2 * i, i], settings[2 + 2 * i, i] = TORNADO_QUANTILES
    unit = np.repeat(settings, paths, axis=0)
    y = evaluate(scenario, unit, _noise_columns(noise, slice(0, paths)), selection,
                 period=paths)
    means = y.reshape(y.shape[0], 1 + 2 * d, paths).mean(axis=-1)  # (s, 1 + 2d)
    return {"tornado_base": means[:, 0], "tornado_low": means[:, 1::2],
            "tornado_high": means[:, 2::2]}


def _sensitivity_dataset(scenario, selection, keys, variables, samples, seed, confidence,
                         resamples, rank_only, time) -> xr.Dataset:
    coordinate = _coordinate(scenario, selection)
    outcome_attrs = VARIABLES[selection.name].attrs
    units = f"log({outcome_attrs['units']})" if selection.log else outcome_attrs["units"]
    index_attrs = {
        "first_order": attrs("1", "first-order Sobol index", "Share of the outcome's "
                             "variance due to the prior alone (Saltelli 2010)."),
        "total_order": attrs("1", "total Sobol index", "Share of the outcome's variance due "
                             "to the prior, including its interactions."),
        "spearman": attrs("1", "Spearman rank correlation",
                          "Rank correlation of the prior's draws with the outcome."),
        "prcc": attrs("1", "partial rank correlation", "Rank correlation of the prior with "
                      "the outcome after removing the other priors' rank effects."),
        "tornado_low": attrs(units, "outcome at the prior's 5th percentile",
                             "Mean outcome over noise paths, other priors at their medians."),
        "tornado_high": attrs(units, "outcome at the prior's 95th percentile",
                              "Mean outcome over noise paths, other priors at their medians."),
        "tornado_base": attrs(units, "outcome with every prior at its median",
                              "Mean outcome over noise paths."),
    }
    for name in ("first_order", "total_order"):
        for end in ("low", "high"):
            index_attrs[f"{name}_{end}"] = attrs(
                "1", f"{index_attrs[name]['long_name']}, {end} end",
                f"{confidence:.0%} percentile-bootstrap interval ({resamples} resamples).")
    extra_dims = (coordinate[0],) if coordinate else ()
    data_vars = {}
    for name, values in variables.items():
        values = np.asarray(values)
        if name == "tornado_base":
            dims = extra_dims
            values = values if coordinate else values[0]
        else:
            dims = (PARAMETER, *extra_dims)
            values = values.T if coordinate else values[0]
        data_vars[name] = (dims, values, index_attrs[name])
    for q in (0.05, 0.5, 0.95):
        data_vars[f"parameter_p{round(100 * q)}"] = (
            (PARAMETER,), [scenario.priors[k].quantile(q) for k in keys],
            attrs("various", f"prior {round(100 * q)}th percentile",
                  "See parameter_units for each parameter's unit."))
    coords = {PARAMETER: (PARAMETER, keys),
              "parameter_units": (PARAMETER, [key_spec(k).unit for k in keys])}
    if coordinate:
        coords[coordinate[0]] = coordinate
    return xr.Dataset(data_vars, coords, {
        "title": "fiscal-strain-sim sensitivity analysis",
        "fiscal_strain_sim_version": __version__,
        "analysis": "sensitivity",
        "outcome": selection.name,
        "outcome_units": units,
        "outcome_time": "" if time is None else str(time),
        "log_transform": int(selection.log),
        "samples": samples,
        "model_evaluations": 0 if rank_only else (len(keys) + 2) * samples,
        "seed": seed,
        "estimator": "" if rank_only else (
            "scipy.stats.sobol_indices (saltelli_2010) on scrambled Sobol A/B matrices; "
            "percentile bootstrap by multinomial row weights"),
        "confidence_level": confidence,
        "bootstrap_resamples": resamples,
        "rank_screen": f"Spearman and PRCC from a run of {samples} samples, "
                       f"{scenario.design} design, with the config's correlations",
        "tornado": f"each prior at its 5th and 95th percentile, others at medians; mean over "
                   f"{min(TORNADO_PATHS, samples)} noise paths",
        "noise": NOISE_NOTE,
        "config_path": scenario.path,
        "config_resolved": scenario.resolved_json(),
    })


def ranked_table(ds: xr.Dataset) -> str:
    """The analysis as text: parameters ranked by total index (or |PRCC|).

    Parameters
    ----------
    ds : xarray.Dataset
        A sensitivity result (`sensitivity`); with a time, boundary or year dimension
        (``--time all``), its last value is shown.

    Returns
    -------
    str
        A heading (outcome, units, date, base samples), then one row per prior, most
        influential first: ``S1`` and ``ST`` with their bootstrap intervals (Sobol runs
        only), ``Spearman`` and ``PRCC`` rank correlations, and the outcome with that prior
        at its 5th (``at p5``) and 95th (``at p95``) percentile in the outcome's units
        (shares in %); then the outcome with every prior at its median and a note on
        common random numbers.
    """
    extra = [d for d in ds["spearman"].dims if d != PARAMETER]
    view = ds.isel({extra[0]: -1}) if extra else ds
    where = f" at {str(view[extra[0]].values)[:10]}" if extra else ""
    has_sobol = "total_order" in ds
    units = ds.attrs["outcome_units"]
    order = np.argsort(-(view["total_order"].values if has_sobol
                         else np.abs(view["prcc"].values)), kind="stable")
    width = max(len("parameter"), *(len(str(name)) for name in view[PARAMETER].values))
    header = f"{'parameter':<{width}}"
    if has_sobol:
        header += f" {'S1':>6} {'[low, high]':>15} {'ST':>6} {'[low, high]':>15}"
    header += f" {'Spearman':>8} {'PRCC':>6} {'at p5':>8} {'at p95':>8}"
    lines = [f"Sensitivity of {ds.attrs['outcome']} [{unit_label(units)}]{where}, "
             f"{ds.attrs['samples']} base samples", header]
    for i in order:
        row = view.isel({PARAMETER: int(i)})
        line = f"{row[PARAMETER].values!s:<{width}}"
        if has_sobol:
            line += (f" {float(row.first_order):>6.3f} [{float(row.first_order_low):>6.3f},"
                     f"{float(row.first_order_high):>6.3f}] {float(row.total_order):>6.3f} "
                     f"[{float(row.total_order_low):>6.3f},{float(row.total_order_high):>6.3f}]")
        line += (f" {float(row.spearman):>8.3f} {float(row.prcc):>6.3f} "
                 f"{format_value(float(row.tornado_low), units):>8} "
                 f"{format_value(float(row.tornado_high), units):>8}")
        lines.append(line)
    lines.append("All priors at their medians: "
                 f"{format_value(float(view['tornado_base']), units)}.")
    lines.extend(textwrap.wrap(NOISE_NOTE, 99))
    if extra and ds.sizes[extra[0]] > 1:
        lines.append(f"The file holds every {extra[0]} ({ds.sizes[extra[0]]} values); "
                     "the table shows the last.")
    return "\n".join(lines)
