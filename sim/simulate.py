"""Orchestration: scenario -> parameter draws -> model in sample blocks -> labelled Dataset."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr

from . import __version__, io
from .config import Scenario
from .errors import ResourceError
from .metrics import derive
from .model import run_model
from .sampling import (
    SEED_BLOCK_SAMPLES,
    copula_factor_for,
    design_points,
    draw_block,
    noise_for,
    parameters_from_unit,
    root_seed,
    uncertain_keys,
)
from .schema import key_spec
from .units import SAMPLE, TIME, TIME_BOUND, YEAR, attrs
from .variables import BOUND, PER_SAMPLE, STEP, VARIABLES, YEARLY

STORAGE_DTYPE = np.float32
"""Outputs are stored in float32 (about 7 significant digits); computed in float64."""

WORKING_ELEMENTS = 2**18
"""Target sample-steps per processing chunk: bounds the float64 working set."""

WORKING_ARRAYS = 48
"""Upper bound on float64 (K, chunk) arrays alive while a chunk is processed."""

Progress = Callable[[int, int], None]


def param_name(key: str) -> str:
    """Output name of a sampled parameter, e.g. ``param_recruitment_per_month``."""
    return "param_" + key.replace(".", "_")


def _shape(layout: str, n_steps: int, n_years: int, n: int) -> tuple[int, ...]:
    return {STEP: (n_steps, n), BOUND: (n_steps + 1, n), YEARLY: (n_years, n),
            PER_SAMPLE: (n,)}[layout]


def default_chunk_samples(n_steps: int) -> int:
    """Samples per processing chunk: whole seed blocks, about `WORKING_ELEMENTS` sample-steps."""
    blocks = max(1, WORKING_ELEMENTS // (n_steps * SEED_BLOCK_SAMPLES))
    return blocks * SEED_BLOCK_SAMPLES


def memory_needed_bytes(scenario: Scenario, samples: int, chunk_samples: int) -> int:
    """Bytes a run keeps (float32 outputs, float64 parameters) plus its working set."""
    k, y = scenario.grid.n_steps, len(scenario.grid.calendar_years())
    per_sample = sum(int(np.prod(_shape(v.layout, k, y, 1))) for v in VARIABLES.values())
    kept = samples * (per_sample * np.dtype(STORAGE_DTYPE).itemsize
                      + 8 * len(uncertain_keys(scenario.priors)))
    working = min(samples, chunk_samples) * (k + 1) * WORKING_ARRAYS * 8
    return int(kept + working)


def check_memory(scenario: Scenario, samples: int, chunk_samples: int,
                 available_bytes: int) -> None:
    """Refuse up front a run that would not fit in `available_bytes`.

    Raises
    ------
    ResourceError
        Saying how much the run needs and how many samples would fit.
    """
    need = memory_needed_bytes(scenario, samples, chunk_samples)
    if need <= available_bytes:
        return
    per_sample = (memory_needed_bytes(scenario, 2 * samples, chunk_samples) - need) / samples
    fit = max(0, int((available_bytes - (need - per_sample * samples)) // per_sample))
    raise ResourceError(
        f"{scenario.path}: run.samples: {samples} samples need {need / 2**30:.1f} GiB but "
        f"{available_bytes / 2**30:.1f} GiB is available; at most {fit} samples fit"
    )


def simulate(scenario: Scenario, samples: int | None = None,
             seed: int | np.random.SeedSequence | None = None, *,
             design: str | None = None,
             chunk_samples: int | None = None, progress: Progress | None = None,
             available_bytes: int | None = None) -> xr.Dataset:
    """Run the Monte Carlo simulation of a scenario.

    Parameters
    ----------
    scenario : Scenario
        From `sim.load_scenario`.
    samples : int, optional
        Number of samples; default ``scenario.samples`` (``[run] samples``).
    seed : int or SeedSequence, optional
        Root seed; default ``scenario.seed``.
    design : {"random", "lhs", "sobol"}, optional
        Sample design of the priors; default ``scenario.design``. Sobol needs a
        power-of-two sample count.
    chunk_samples : int, optional
        Samples processed at once (rounded up to whole seed blocks). Results do
        not depend on it, bit for bit; only memory and speed do.
    progress : callable, optional
        Called as ``progress(done_samples, total_samples)`` after each chunk.
    available_bytes : int, optional
        Memory budget [bytes]; default: the memory this machine has available now.
        A run that would exceed it is refused before anything is computed.

    Returns
    -------
    xarray.Dataset
        Dims ``sample``, ``time`` (step starts), ``time_bound`` (step
        boundaries, for stocks) and ``year``; every variable in
        `sim.variables.VARIABLES`, plus ``param_*`` sampled parameters.

    Raises
    ------
    ResourceError
        If the run would not fit in `available_bytes`.
    ConfigError
        If the design does not suit the sample count.
    """
    scenario = scenario.with_run(samples=samples,
                                 seed=seed if isinstance(seed, int | None) else None,
                                 design=design)
    n, grid = scenario.samples, scenario.grid
    root = root_seed(seed if isinstance(seed, np.random.SeedSequence) else scenario.seed)
    blocks_per_chunk = -(-(chunk_samples or default_chunk_samples(grid.n_steps))
                         // SEED_BLOCK_SAMPLES)
    chunk = blocks_per_chunk * SEED_BLOCK_SAMPLES
    if available_bytes is None:
        available_bytes = io.available_memory_bytes()
    check_memory(scenario, n, chunk, available_bytes)

    weights = grid.year_weights()
    shapes = (grid.n_steps, weights.shape[1], n)
    outputs = {name: np.empty(_shape(v.layout, *shapes), STORAGE_DTYPE)
               for name, v in VARIABLES.items()}
    uncertain = uncertain_keys(scenario.priors)
    params_out = {key: np.empty(n) for key in uncertain}

    design = Design(design_points(scenario.design, n, len(uncertain), root),
                    copula_factor_for(scenario.priors, scenario.correlations))
    for lo, hi, blocks in _chunks(n, blocks_per_chunk):
        p, result = _simulate_chunk(scenario, root, design, blocks, (lo, hi), n, weights)
        with np.errstate(over="ignore"):  # beyond float32's 3.4e38 is stored as inf
            for name, array in outputs.items():
                array[..., lo:hi] = result[name]
        for key in uncertain:
            params_out[key][lo:hi] = p[key]
        if progress is not None:
            progress(hi, n)
    return _dataset(scenario, root, outputs, params_out, weights)


def _chunks(n: int, blocks_per_chunk: int):
    """Yield (first sample, end sample, seed blocks) for each processing chunk."""
    n_blocks = -(-n // SEED_BLOCK_SAMPLES)
    for first in range(0, n_blocks, blocks_per_chunk):
        blocks = range(first, min(first + blocks_per_chunk, n_blocks))
        yield first * SEED_BLOCK_SAMPLES, min(n, blocks.stop * SEED_BLOCK_SAMPLES), blocks


@dataclass(frozen=True)
class Design:
    """Whole-run design points (None: drawn per block) and the copula's factor."""

    points: np.ndarray | None
    copula_factor: np.ndarray | None


def _simulate_chunk(scenario: Scenario, root: np.random.SeedSequence, design: Design,
                    blocks: range, rows: tuple[int, int], n: int,
                    year_weights: np.ndarray) -> tuple[dict, dict]:
    """Draw, map and run the seed blocks of one chunk; return parameters and outputs."""
    grid = scenario.grid
    draws = [draw_block(scenario.priors, root, b,
                        min(SEED_BLOCK_SAMPLES, n - b * SEED_BLOCK_SAMPLES), grid.n_steps,
                        draw_unit=design.points is None)
             for b in blocks]
    unit = (np.concatenate([u for u, _ in draws]) if design.points is None
            else design.points[rows[0]:rows[1]])
    p = parameters_from_unit(scenario.priors, unit, design.copula_factor)
    noise = noise_for([z for _, z in draws], tuple(draws[0][1]))
    days, years = grid.days, grid.years_elapsed
    model_out = run_model(p, noise, days, years, scenario.loss_mode)
    return p, derive(model_out, p, days, years, year_weights)


def _dataset(scenario: Scenario, root: np.random.SeedSequence, outputs: dict,
             params_out: dict, weights: np.ndarray) -> xr.Dataset:
    grid = scenario.grid
    dims = {STEP: (SAMPLE, TIME), BOUND: (SAMPLE, TIME_BOUND), YEARLY: (SAMPLE, YEAR),
            PER_SAMPLE: (SAMPLE,)}
    data_vars = {name: (dims[v.layout], outputs[name].T, v.attrs)
                 for name, v in VARIABLES.items()}
    for key, values in params_out.items():
        spec, prior = key_spec(key), scenario.priors[key]
        data_vars[param_name(key)] = (
            (SAMPLE,), values,
            {**attrs(spec.unit.replace("/recruit", "/person"),
                     f"sampled {key}", spec.description),
             "config_key": key, "prior": prior.describe(), "source": prior.source},
        )
    coords = {
        SAMPLE: (SAMPLE, np.arange(scenario.samples), attrs("1", "sample", "Sample index.")),
        TIME: (TIME, grid.starts.astype("datetime64[ns]"),
               {"long_name": "step start", "description": "First day of each time step."}),
        TIME_BOUND: (TIME_BOUND, grid.bounds.astype("datetime64[ns]"),
                     {"long_name": "step boundary",
                      "description": "Start of each step, then the day after the horizon."}),
        "step_days": (TIME, grid.days, attrs("day", "step length", "Days in each step (D_k).")),
        YEAR: (YEAR, grid.calendar_years(), attrs("1", "calendar year", "Calendar year.")),
        "year_days": (YEAR, (weights * grid.days[:, None]).sum(axis=0),
                      attrs("day", "days simulated in year",
                            "Days of the horizon in each calendar year (< 365 when partial).")),
    }
    return xr.Dataset(data_vars, coords, _provenance(scenario, root))


def _provenance(scenario: Scenario, root: np.random.SeedSequence) -> dict:
    claims = [{k: (str(v) if v is not None and k in ("start", "end", "date") else v)
               for k, v in asdict(c).items()} for c in scenario.claims]
    return {
        "title": "fiscal-strain-sim results",
        "fiscal_strain_sim_version": __version__,
        "model_version": "1",
        "config_path": scenario.path,
        "config_files": json.dumps(list(scenario.files)),
        "config_resolved": scenario.resolved_json(),
        "claims": json.dumps(claims),
        "seed": int(root.entropy) if isinstance(root.entropy, int) else str(root.entropy),
        "seed_spawn_key": json.dumps(list(root.spawn_key)),
        "design": scenario.design,
        "correlations": json.dumps([list(pair) for pair in scenario.correlations]),
        "samples": scenario.samples,
        "seed_block_samples": SEED_BLOCK_SAMPLES,
        "time_step": scenario.grid.step,
        "loss_mode": scenario.loss_mode,
        "storage_dtype": np.dtype(STORAGE_DTYPE).name,
        "Conventions": "CF-1.8",
    }
