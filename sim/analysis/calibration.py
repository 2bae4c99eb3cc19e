"""Calibration: condition the priors and the process noise on observed figures.

Every latent input lives in standard normal space: each uncertain prior is
``ppf(Phi(z))``, each reporting bias likewise, and each shock innovation is a
standard normal. Sequential Monte Carlo with likelihood tempering moves particles
from the prior (beta = 0) to the posterior (beta = 1): each stage picks the next
beta so that the effective sample size of the incremental weights is half the
particles, resamples, and applies preconditioned Crank-Nicolson moves
z' = sqrt(1 - rho^2) z + rho xi, which leave the N(0, I) prior invariant, so a move
is accepted with probability min(1, exp(beta (l' - l))). All of it is vectorized
over particles. Because the model runs to the config's horizon, months after the
last observation are a forecast from the calibrated paths.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy import special, stats

from sim import io
from sim.config.claims import claim_values, claim_weights
from sim.config.observations import ERROR_MODELS, ObservationSet, load_observation_files
from sim.config.scenario import Scenario, check_claims_made, suggest
from sim.core.model import Noise
from sim.core.schema import CLAIM_QUANTITIES
from sim.errors import ConfigError, ParameterError, ResourceError, UserError
from sim.numbers import byte_size
from sim.priors.sampling import (
    NOISE_SWITCH,
    active_noise,
    copula_factor_for,
    parameters_from_unit,
    root_seed,
    uncertain_keys,
)
from sim.run.chunks import STORAGE_DTYPE, WORKING_ARRAYS, model_outputs
from sim.run.dataset import data_variables, results_dataset
from sim.run.plan import kept_bytes, timing_attrs

CALIBRATION_SPAWN_KEY = 2**32 + 3
TARGET_ESS = 0.5
COLLAPSE_UNIQUE = 0.05
# More pCN moves per stage than this buy nothing the default 5 does not (the chain has
# long mixed) and, unbounded, a typo runs forever.
MAX_MOVES = 1000
"""Warn when fewer than this share of particles are distinct after a resampling."""


@dataclass
class Stage:
    """Diagnostics of one tempering stage."""

    beta: float
    ess: float
    acceptance: float
    unique: int


@dataclass
class Latent:
    """Where each block of the latent vector goes."""

    params: list[str]
    bias: list[str]
    noise: tuple[str, ...]
    steps: int

    @property
    def size(self) -> int:
        return len(self.params) + len(self.bias) + len(self.noise) * self.steps


def _latent(scenario: Scenario, observations: ObservationSet) -> Latent:
    """The latent layout: uncertain priors, uncertain reporting biases, active shocks."""
    return Latent(uncertain_keys(scenario.priors),
                  [k for k, p in observations.bias.items() if not p.is_fixed],
                  active_noise(scenario.priors), scenario.grid.n_steps)


@dataclass
class Posterior:
    """Particles at beta = 1, with diagnostics."""

    z: np.ndarray
    loglik: np.ndarray
    stages: list[Stage] = field(default_factory=list)
    log_evidence: float = 0.0
    method: str = "smc"


class Likelihood:
    """Log-likelihood of the observations for particles in latent space."""

    def __init__(self, scenario: Scenario, observations: ObservationSet):
        self.scenario, self.observations = scenario, observations
        grid = scenario.grid
        self.latent = _latent(scenario, observations)
        self.weights = [claim_weights(grid, o.claim) for o in observations.observations]
        self.copula = copula_factor_for(scenario.priors, scenario.correlations)

    def inputs(self, z: np.ndarray) -> tuple[dict, dict, Noise]:
        """Parameters, bias multipliers and noise of particles z, shape (N, D)."""
        n, lat = z.shape[0], self.latent
        d, b = len(lat.params), len(lat.bias)
        params = parameters_from_unit(self.scenario.priors, special.ndtr(z[:, :d]), self.copula)
        bias = {name: np.full(n, prior.params["value"]) if prior.is_fixed else None
                for name, prior in self.observations.bias.items()}
        for j, name in enumerate(lat.bias):
            bias[name] = self.observations.bias[name].ppf(special.ndtr(z[:, d + j]))
        shocks = z[:, d + b:].reshape(n, len(lat.noise), lat.steps)
        noise = Noise(**{name: (shocks[:, lat.noise.index(name)].T.copy()
                                if name in lat.noise else None) for name in NOISE_SWITCH})
        return params, bias, noise

    def outputs(self, z: np.ndarray) -> tuple[dict, dict, dict]:
        params, bias, noise = self.inputs(z)
        return params, bias, model_outputs(self.scenario, params, noise)

    def modelled(self, bias: dict, outputs: dict) -> np.ndarray:
        """Each observed quantity as the reporter would report it, shape (O, N)."""
        values = claim_values(outputs, self.weights)
        for i, o in enumerate(self.observations.observations):
            if o.reporter:
                values[i] = values[i] * bias[o.reporter]
        return values

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Log-likelihood of every particle, shape (N,)."""
        if not self.observations.observations:
            return np.zeros(z.shape[0])
        _, bias, outputs = self.outputs(z)
        return self.loglik(self.modelled(bias, outputs))

    def loglik(self, modelled: np.ndarray) -> np.ndarray:
        total = np.zeros(modelled.shape[1])
        for o, m in zip(self.observations.observations, modelled, strict=True):
            y = o.claim.value
            with np.errstate(divide="ignore", invalid="ignore"):
                if o.error == "log_sd":
                    resid, scale = (np.log(y) - np.log(m)) / o.scale, o.scale
                else:
                    scale = o.scale if o.error == "sd" else o.scale * abs(y)
                    resid = (y - m) / scale
                if o.t_df is None:
                    term = stats.norm.logpdf(resid) - np.log(scale)
                else:
                    term = stats.t.logpdf(resid, o.t_df) - np.log(scale)
            total += np.where(np.isfinite(term), term, -np.inf)
        return total


def _ess(log_weights: np.ndarray) -> float:
    w = np.exp(log_weights - log_weights.max())
    return float(w.sum() ** 2 / (w**2).sum())


def _next_beta(beta: float, loglik: np.ndarray, target: float) -> float:
    """The largest beta' <= 1 whose incremental weights keep ESS >= target (bisection)."""
    finite = np.isfinite(loglik)
    if not finite.any():
        raise UserError("calibration: every particle has zero likelihood; check the "
                        "observations' units and error models against the priors")

    def ess(b):
        return _ess(np.where(finite, (b - beta) * np.where(finite, loglik, 0), -np.inf))

    if ess(1.0) >= target:
        return 1.0
    low, high = beta, 1.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if ess(middle) >= target else (low, middle)
    return max(low, beta + 1e-12)


def _resample(rng: np.random.Generator, log_weights: np.ndarray) -> np.ndarray:
    """Systematic resampling indices."""
    w = np.exp(log_weights - log_weights.max())
    cumulative = np.cumsum(w / w.sum())
    cumulative[-1] = 1.0
    n = len(w)
    return np.searchsorted(cumulative, (rng.random() + np.arange(n)) / n)


def smc(likelihood: Likelihood, particles: int, rng: np.random.Generator,
        moves: int = 5, log=None) -> Posterior:
    """Tempered SMC with pCN moves; see the module docstring."""
    z = rng.standard_normal((particles, likelihood.latent.size))
    loglik = likelihood(z)
    beta, log_evidence, rho, stages = 0.0, 0.0, 0.5, []
    while beta < 1.0:
        new_beta = _next_beta(beta, loglik, TARGET_ESS * particles)
        log_w = np.where(np.isfinite(loglik), (new_beta - beta) * loglik, -np.inf)
        log_evidence += float(special.logsumexp(log_w) - np.log(particles))
        ess = _ess(log_w)
        index = _resample(rng, log_w)
        z, loglik, beta = z[index], loglik[index], new_beta
        unique = len(np.unique(index))
        accepted = 0.0
        for _ in range(moves):
            proposal = np.sqrt(1 - rho**2) * z + rho * rng.standard_normal(z.shape)
            proposed = likelihood(proposal)
            with np.errstate(invalid="ignore"):
                accept = np.log(rng.random(particles)) < beta * (proposed - loglik)
            z[accept], loglik[accept] = proposal[accept], proposed[accept]
            rate = float(accept.mean())
            accepted += rate / moves
            rho = min(0.95, rho * 1.3) if rate > 0.4 else max(0.01, rho * 0.7) if (
                rate < 0.15) else rho
        stages.append(Stage(beta, ess, accepted, unique))
        if log is not None:
            log(f"stage {len(stages)}: beta {beta:.4f}, ESS {ess:.0f}, "
                f"acceptance {accepted:.2f}, distinct after resampling {unique}")
    return Posterior(z, loglik, stages, log_evidence, "smc")


def importance(likelihood: Likelihood, particles: int, rng: np.random.Generator
               ) -> Posterior:
    """Prior draws weighted by the likelihood, then resampled (quick looks)."""
    z = rng.standard_normal((particles, likelihood.latent.size))
    loglik = likelihood(z)
    log_w = np.where(np.isfinite(loglik), loglik, -np.inf)
    if not np.isfinite(log_w).any():
        raise UserError("calibration: every particle has zero likelihood")
    ess = _ess(log_w)
    log_evidence = float(special.logsumexp(log_w) - np.log(particles))
    index = _resample(rng, log_w)
    stage = Stage(1.0, ess, float("nan"), len(np.unique(index)))
    return Posterior(z[index], loglik[index], [stage], log_evidence, "importance")


# ---------------------------------------------------------------- refusals up front

FLOAT_BYTES = 8
"""Bytes of a float64 or int64 element: every per-particle array is one or the other."""

LIKELIHOOD_TEMPORARIES = 12
"""Upper bound on (N,) arrays alive at once besides the inputs and the model outputs
while the likelihood is evaluated (the residual, the log density, masks, the total)."""

STAGE_TEMPORARIES = 8
"""Upper bound on (N,) arrays of a tempering stage: weights, their cumulative sum,
the resampling grid and indices, the sorted copy `numpy.unique` makes."""


def calibration_memory_bytes(scenario: Scenario, observations: ObservationSet,
                             particles: int, method: str = "smc") -> int:
    """Peak bytes that `calibrate` allocates for `particles` particles (an upper bound).

    Parameters
    ----------
    scenario : Scenario
    observations : ObservationSet
    particles : int
        Particles N.
    method : {"smc", "importance"}

    Returns
    -------
    int

    Notes
    -----
    Bytes of float64 (8) per particle, with D the latent dimension (d uncertain priors,
    the uncertain reporting biases and A K shocks), P priors, B reporting biases, O
    observations, C claims and W = `sim.run.chunks.WORKING_ARRAYS` arrays of K + 1 steps:

    - one likelihood evaluation, every particle at once: L = 2d + P + B + A K
      + W (K + 1) + O + 12 (uniforms and parameters, biases, shocks, the model's
      working set, the modelled observations and temporaries);
    - SMC: the particles z and 3 D more while a pCN proposal is formed, then z, the
      proposal and L while it is scored: D + max(3 D, D + L, D + 8) + 2; importance:
      D + max(L, D + 8) + 2 (the resampled copy of z);
    - the output: z, one more evaluation's inputs and outputs kept in float64 (L),
      the claims C and 3 O for the predictive checks, plus the Dataset's float32
      arrays (`sim.run.plan.kept_bytes`).

    The model dominates: 8 W (K + 1) = 13.9 KiB of the 21.4 KiB per particle of
    ``configs/calibration_2024.toml`` (K = 36 monthly steps, D = 130).
    """
    n, lat = particles, _latent(scenario, observations)
    k, d, dim = scenario.grid.n_steps, len(lat.params), lat.size
    likelihood = (2 * d + len(scenario.priors) + len(observations.bias)
                  + len(lat.noise) * k + WORKING_ARRAYS * (k + 1)
                  + len(observations.observations) + LIKELIHOOD_TEMPORARIES)
    if scenario.correlations:
        likelihood += 2 * d  # the copula's normal scores and correlated uniforms
    if method == "smc":
        sampling = dim + max(3 * dim, dim + likelihood, dim + STAGE_TEMPORARIES) + 2
    else:
        sampling = dim + max(likelihood, dim + STAGE_TEMPORARIES) + 2
    output = (dim + likelihood + len(scenario.claims)
              + 3 * len(observations.observations) + 2)
    return int(FLOAT_BYTES * n * max(sampling, output) + kept_bytes(scenario, n, "full"))


def check_calibration_memory(scenario: Scenario, observations: ObservationSet,
                             particles: int, available_bytes: int,
                             method: str = "smc") -> None:
    """Refuse up front a calibration that would not fit in `available_bytes`.

    Raises
    ------
    ResourceError
        One line naming `particles`, what the run needs and how many particles fit.
    """
    def need(n):
        return calibration_memory_bytes(scenario, observations, n, method)

    total = need(particles)
    if total <= available_bytes:
        return
    lat = _latent(scenario, observations)
    head = (f"particles: {particles} particles need {byte_size(total)} ({lat.size} "
            f"latent dimensions, {scenario.grid.n_steps} steps of model outputs each) but "
            f"{byte_size(available_bytes)} is available")
    if need(2) > available_bytes:
        raise ResourceError(f"{head}; not even 2 particles fit", "particles")
    low, high = 2, particles - 1  # need(low) fits; find the largest n <= high that does
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if need(middle) <= available_bytes else (low, middle - 1)
    raise ResourceError(f"{head}; at most {low} particles fit", "particles")


def check_observations(scenario: Scenario, observations: ObservationSet) -> None:
    """Check observations against the scenario they are to calibrate.

    `sim.config.observations.load_observations` checks a file against a grid; this checks an
    `ObservationSet` however it was built against the scenario's horizon, and that
    each reporter has a bias prior, so that a mismatch is one line, not a traceback
    or a silently wrong likelihood.

    Raises
    ------
    UserError
        Naming the observation file, the observation's label and what was expected.
    """
    grid = scenario.grid
    horizon = f"the horizon {grid.start} to {grid.end} of {scenario.path}"
    for o in observations.observations:
        c, where = o.claim, f"{observations.path}: {o.claim.label}"
        if c.quantity not in CLAIM_QUANTITIES:
            raise UserError(f"{where}: unknown quantity {c.quantity!r}"
                            f"{suggest(c.quantity, CLAIM_QUANTITIES)}")
        if c.date is not None and not grid.start <= c.date <= grid.end:
            raise UserError(f"{where}: {c.date} is outside {horizon}")
        if c.date is None and not (c.start is not None and c.end is not None
                                   and grid.start <= c.start < c.end <= grid.end):
            raise UserError(f"{where}: {c.start} to {c.end} is outside {horizon}")
        if o.error not in ERROR_MODELS or not (np.isfinite(o.scale) and o.scale > 0):
            raise UserError(f"{where}: expected an error model ({', '.join(ERROR_MODELS)}) "
                            f"with a finite scale > 0, got {o.error} = {o.scale!r}")
        if o.reporter and o.reporter not in observations.bias:
            raise UserError(f"{where}: no [bias] prior named {o.reporter!r}"
                            f"{suggest(o.reporter, observations.bias)}")
    for o in observations.observations:  # a quantity the scenario does not make
        try:
            check_claims_made([o.claim], scenario.given, observations.path, "observations")
        except ConfigError as error:
            raise UserError(f"{observations.path}: {o.claim.label}: {error.message}"
                            ) from None


def calibrate(scenario: Scenario, observations: ObservationSet | str, *, particles: int = 4000,
              seed: int | None = None, method: str = "smc", moves: int = 5,
              log=None, available_bytes: int | None = None) -> xr.Dataset:
    """Condition a scenario on observations and forecast to its horizon.

    Parameters
    ----------
    scenario : Scenario
    observations : ObservationSet, str or list of str
        From `sim.config.observations.load_observation_files`, or the path of an
        observation file, or several paths (their observations together).
    particles : int
        Number of particles N.
    seed : int, optional
        Root seed; default the scenario's.
    method : {"smc", "importance"}
    moves : int
        pCN moves per tempering stage, at least 1.
    log : callable, optional
        Called with one line per stage.
    available_bytes : int, optional
        Memory budget [bytes]; default: the memory this machine has available now.
        A calibration whose `calibration_memory_bytes` exceeds it is refused before
        anything is computed.

    Returns
    -------
    xarray.Dataset
        The posterior and what it forecasts. Data variables, by dimension:

        - (``sample``, ...): every variable of `sim.simulate` (``keep="full"``) for the
          N equally weighted posterior particles (``sample`` is the particle), and
          ``bias_<reporter>`` [1], each particle's reporting-bias multiplier.
        - ``parameter`` (the uncertain priors, then the uncertain reporting biases as
          ``bias.<reporter>``): ``prior_p5``, ``prior_p50``, ``prior_p95`` and
          ``posterior_p5``, ``posterior_p50``, ``posterior_p95`` [the units of the
          parameter's ``param_*`` variable; 1 for a bias]; ``narrowing`` [1], the
          posterior 90% interval width over the prior's (1: the data did not narrow it).
        - (``parameter``, ``parameter_b``): ``posterior_rank_correlation`` [1],
          Spearman correlation of each pair over the particles.
        - ``observation`` (one per observation, by its label): ``observed``, the
          reported value; ``predictive_p5``, ``predictive_p50``, ``predictive_p95``,
          the posterior predictive 90% interval and median (reporting bias and
          observation error included) [the observation's units]; and
          ``predictive_percentile``, where the observed value falls in it (0 to 100).

        Attrs: those of `sim.simulate`, plus ``calibration_method``,
        ``observations_file``, ``particles``, ``stages``, ``stage_beta``,
        ``stage_ess``, ``stage_acceptance`` (JSON lists, one entry per tempering
        stage), ``final_distinct_particles``, ``log_evidence``, ``latent_dimension``,
        ``unseparable_pairs`` (JSON, from `identifiability`), ``observations_json``
        (the observations as read), ``data_end`` (ISO date the last observation ends)
        and, if the particles collapsed, ``warning``.

    Raises
    ------
    UserError
        Fewer than 2 particles, moves outside 1 to `MAX_MOVES`, an unknown method,
        or observations that do not fit the scenario (`check_observations`).
    ResourceError
        If the calibration would not fit in `available_bytes`; says how many
        particles would.
    """
    if method not in ("smc", "importance"):
        raise ParameterError("method", f"expected smc or importance, got {method!r}")
    if particles < 2:
        raise ParameterError("particles", f"expected at least 2 particles, got {particles}")
    if not 1 <= moves <= MAX_MOVES:
        raise ParameterError("moves", f"expected 1 to {MAX_MOVES} moves per stage, got {moves}")
    if not isinstance(observations, ObservationSet):
        observations = load_observation_files(observations, scenario.grid)
    check_observations(scenario, observations)
    seed = scenario.seed if seed is None else seed
    scenario = scenario.with_run(samples=particles, seed=seed, design="random")
    if available_bytes is None:
        available_bytes = io.available_memory_bytes()
    check_calibration_memory(scenario, observations, particles, available_bytes, method)
    root = root_seed(seed)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        root.entropy, spawn_key=(CALIBRATION_SPAWN_KEY,))))
    likelihood = Likelihood(scenario, observations)
    started = time.perf_counter()
    posterior = (smc(likelihood, particles, rng, moves, log) if method == "smc"
                 else importance(likelihood, particles, rng))
    seconds = time.perf_counter() - started
    ds = _dataset(scenario, observations, likelihood, posterior, root, seconds, rng)
    final = posterior.stages[-1]
    if final.unique < COLLAPSE_UNIQUE * particles or (method == "smc" and final.acceptance
                                                       < 0.02):
        ds.attrs["warning"] = (
            f"particles collapsed: {final.unique} of {particles} distinct after the last "
            f"resampling, acceptance {final.acceptance:.3f}; use more particles, more moves "
            "or wider error models")
        if log is not None:
            log("WARNING: " + ds.attrs["warning"])
    return ds


def _dataset(scenario, observations, likelihood, posterior, root, seconds, rng) -> xr.Dataset:
    params, bias, outputs = likelihood.outputs(posterior.z)
    n = posterior.z.shape[0]
    claims = claim_values(outputs, [claim_weights(scenario.grid, c) for c in scenario.claims])
    with np.errstate(over="ignore"):  # beyond float32's 3.4e38 is stored as inf
        stored = {name: values.astype(STORAGE_DTYPE) for name, values in outputs.items()}
    variables = data_variables(scenario, "full", stored,
                               {k: params[k] for k in likelihood.latent.params}, claims)
    ds = results_dataset(scenario, root, "full", variables,
                         extra_attrs=timing_attrs(n, seconds, "sync"))
    keys = likelihood.latent.params
    priors = {**{k: scenario.priors[k] for k in keys},
              **{f"bias.{k}": observations.bias[k] for k in likelihood.latent.bias}}
    draws = {**{k: params[k] for k in keys},
             **{f"bias.{k}": bias[k] for k in likelihood.latent.bias}}
    for q in (0.05, 0.5, 0.95):
        tag = f"p{round(100 * q)}"
        ds[f"prior_{tag}"] = ("parameter", [prior.quantile(q) for prior in priors.values()])
        ds[f"posterior_{tag}"] = ("parameter", [float(np.quantile(draws[k], q))
                                                for k in priors])
    ds = ds.assign_coords(parameter=list(priors))
    narrowing, rank_correlation, pairs = identifiability(
        priors, draws, {frozenset(pair[:2]): pair[2] for pair in scenario.correlations})
    ds["narrowing"] = ("parameter", narrowing, {
        "units": "1", "long_name": "posterior / prior 90% interval width",
        "description": "How much the observations narrowed each parameter: the width of its "
                       "posterior 90% interval over its prior's (1: not at all)."})
    ds["posterior_rank_correlation"] = (("parameter", "parameter_b"), rank_correlation, {
        "units": "1", "long_name": "posterior rank correlation",
        "description": "Spearman correlation of each pair of parameters over the posterior "
                       "particles."})
    ds = ds.assign_coords(parameter_b=list(priors))
    modelled = likelihood.modelled(bias, outputs)
    predictive = predictive_draws(observations, modelled, rng)
    observed = [o.claim.value for o in observations.observations]
    ds["observed"] = ("observation", observed)
    for q in (0.05, 0.5, 0.95):
        ds[f"predictive_p{round(100 * q)}"] = ("observation",
                                              np.quantile(predictive, q, axis=1)
                                              if len(observed) else [])
    ds["predictive_percentile"] = ("observation", [
        100 * float(np.mean(row < value)) for row, value in zip(predictive, observed,
                                                                strict=True)])
    ds = ds.assign_coords(observation=[o.claim.label for o in observations.observations])
    for name in list(ds.data_vars):
        if name.startswith(("prior_", "posterior_", "predictive_", "observed")):
            ds[name].attrs = {"units": "various", "long_name": name.replace("_", " "),
                              "description": _DESCRIPTIONS[name.split("_")[0]]}
    ds.attrs.update({
        "calibration_method": posterior.method,
        "observations_file": observations.path,
        "particles": n,
        "stages": len(posterior.stages),
        "stage_beta": json.dumps([s.beta for s in posterior.stages]),
        "stage_ess": json.dumps([round(s.ess, 1) for s in posterior.stages]),
        "stage_acceptance": json.dumps([round(s.acceptance, 3) for s in posterior.stages]),
        "final_distinct_particles": posterior.stages[-1].unique,
        "log_evidence": posterior.log_evidence,
        "latent_dimension": likelihood.latent.size,
        "unseparable_pairs": json.dumps(pairs),
        "observations_json": json.dumps([_observation_record(o)
                                         for o in observations.observations]),
        "data_end": data_end(observations),
    })
    for key in likelihood.latent.bias:
        ds[f"bias_{key}"] = ("sample", bias[key], {"units": "1", "long_name": f"bias {key}",
                                                   "description": "Reporting-bias multiplier."})
    return ds


UNSEPARABLE_CORRELATION = 0.7
"""A pair of parameters whose posterior rank correlation reaches this (in absolute value),
and moved at least `UNSEPARABLE_SHIFT` from the correlation their priors were given, is
flagged: the observations pin a combination of the two (a product, a sum), not each."""

UNSEPARABLE_SHIFT = 0.3


def identifiability(priors: dict, draws: dict[str, np.ndarray],
                    prior_correlations: dict[frozenset, float]
                    ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """What the observations taught: narrowing per parameter and pairs they cannot separate.

    Parameters
    ----------
    priors : dict of str to Prior
        Every calibrated parameter's prior (reporting biases as ``bias.<reporter>``).
    draws : dict of str to ndarray, each (N,)
        The posterior particles' values, same keys.
    prior_correlations : dict of frozenset to float
        Rank correlations the config gives pairs of priors (others: 0).

    Returns
    -------
    narrowing : ndarray, shape (P,)
        Posterior 90% interval width over the prior's [1].
    rank_correlation : ndarray, shape (P, P)
        Spearman correlation over the particles (NaN for a parameter with one value).
    pairs : list of dict
        ``{"a", "b", "rank_correlation"}`` for each flagged pair, strongest first.
    """
    names = list(priors)
    narrowing = np.array([
        (np.quantile(draws[k], 0.95) - np.quantile(draws[k], 0.05))
        / max(priors[k].quantile(0.95) - priors[k].quantile(0.05), np.finfo(float).tiny)
        for k in names])
    ranks = np.column_stack([stats.rankdata(draws[k]) for k in names])
    with np.errstate(invalid="ignore", divide="ignore"):
        rank_correlation = np.atleast_2d(np.corrcoef(ranks, rowvar=False))
    pairs = []
    for i, j in zip(*np.triu_indices(len(names), k=1), strict=True):
        rho = float(rank_correlation[i, j])
        given = prior_correlations.get(frozenset((names[i], names[j])), 0.0)
        if abs(rho) >= UNSEPARABLE_CORRELATION and abs(rho - given) >= UNSEPARABLE_SHIFT:
            pairs.append({"a": names[i], "b": names[j], "rank_correlation": round(rho, 3)})
    pairs.sort(key=lambda pair: -abs(pair["rank_correlation"]))
    return narrowing, rank_correlation, pairs


def _observation_record(o) -> dict:
    """An observation as JSON-ready fields (for the report's charts)."""
    c = o.claim
    return {"label": c.label, "quantity": c.quantity, "statistic": c.statistic,
            "start": None if c.start is None else str(c.start),
            "end": None if c.end is None else str(c.end),
            "date": None if c.date is None else str(c.date), "value": c.value,
            "unit": c.unit, "payer": c.payer, "item": c.item, "reporter": o.reporter}


def data_end(observations: ObservationSet) -> str:
    """The end of the last observation (a window's end, a level's date), ISO, or ""."""
    ends = [o.claim.end or o.claim.date for o in observations.observations]
    ends = [e for e in ends if e is not None]
    return str(max(ends)) if ends else ""


_DESCRIPTIONS = {
    "prior": "Prior percentile of each uncertain parameter, in the units of its param_* "
             "variable.",
    "posterior": "Posterior percentile of each uncertain parameter over the particles.",
    "predictive": "Posterior predictive percentile of each observation, observation error "
                  "included.",
    "observed": "Observed value of each observation, in its unit.",
}


def predictive_draws(observations: ObservationSet, modelled: np.ndarray,
                     rng: np.random.Generator, relative_to_model: bool = False) -> np.ndarray:
    """Replicated observations: the modelled quantity plus observation error, (O, N).

    log_sd: m exp(s e); sd: m + s e; relative_sd: m + s |y| e, or m + s |m| e with
    `relative_to_model` (a forecast cannot know the value y it forecasts); e standard
    normal, or Student-t with t_df degrees of freedom.
    """
    out = np.empty_like(modelled)
    with np.errstate(over="ignore", invalid="ignore"):
        for i, (o, m) in enumerate(zip(observations.observations, modelled, strict=True)):
            draw = (rng.standard_t(o.t_df, m.shape) if o.t_df
                    else rng.standard_normal(m.shape))
            if o.error == "log_sd":
                out[i] = m * np.exp(o.scale * draw)
            elif o.error == "sd":
                out[i] = m + o.scale * draw
            else:
                out[i] = m + o.scale * (np.abs(m) if relative_to_model
                                        else abs(o.claim.value)) * draw
    return out
