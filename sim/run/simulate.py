"""In-memory runs: a scenario's chunks into arrays, returned as a labelled Dataset.

The same plan and `execute` serve runs to disk (`sim.run.streamed`) and sweeps; only
the sinks differ (`sim.run.sinks`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sim.config.scenario import Scenario
from sim.errors import ParameterError
from sim.priors.sampling import root_seed
from sim.run.dataset import KEEP_MODES, param_name, results_dataset, streamed_names
from sim.run.plan import (
    Progress,
    check_memory,
    execute,
    make_plan,
    memory_needed_bytes,
    timing_attrs,
)
from sim.run.sinks import ArraySink, SketchSink

__all__ = ["check_memory", "memory_needed_bytes", "param_name", "simulate"]


def simulate(scenario: Scenario, samples: int | None = None,
             seed: int | np.random.SeedSequence | None = None, *,
             design: str | None = None, keep: str = "full",
             chunk_samples: int | None = None, progress: Progress | None = None,
             available_bytes: int | None = None, scheduler: str = "sync",
             workers: int | None = None) -> xr.Dataset:
    """Run the Monte Carlo simulation of a scenario, in memory.

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
    keep : {"full", "summary"}
        ``full`` keeps every variable for every sample; ``summary`` keeps the
        per-sample ones and, per time step, streaming quantiles and moments.
    chunk_samples : int, optional
        Samples processed at once (rounded up to whole seed blocks). Results do
        not depend on it, bit for bit; only memory and speed do.
    progress : callable, optional
        Called as ``progress(done_samples, total_samples)`` after each chunk.
    available_bytes : int, optional
        Memory budget [bytes]; default: the memory this machine has available now.
        A run that would exceed it is refused before anything is computed.
    scheduler : str
        ``sync`` (default), ``threads``, ``processes`` or a Dask scheduler
        address; results are identical whichever is used.
    workers : int, optional
        Workers for the parallel schedulers.

    Returns
    -------
    xarray.Dataset
        Dims ``sample``, ``time`` (step starts), ``time_bound`` (step
        boundaries, for stocks), ``year``, ``claim`` (and ``quantile`` in
        summary mode); the variables of `sim.core.variables.VARIABLES` kept by
        `keep` (docs/outputs.md lists each with its units), ``param_*`` sampled
        parameters and ``claim_value``. With ``keep="summary"`` a per-step or per-year
        variable ``X`` is replaced by ``X_quantiles`` (over samples, by ``quantile``),
        ``X_sample_mean`` and ``X_sample_sd``. Every variable's attrs hold ``units``,
        ``long_name`` and ``description``; the dataset's attrs record the provenance
        (the resolved config, seed and its spawn key, sample design, package and model
        versions), the claims (JSON), and the wall time and throughput of the run.

    Raises
    ------
    ResourceError
        If the run would not fit in `available_bytes`.
    ConfigError
        If the design does not suit the sample count.
    """
    if keep not in KEEP_MODES:
        raise ParameterError("keep", f"expected full or summary, got {keep!r}")
    scenario = scenario.with_run(samples=samples,
                                 seed=seed if isinstance(seed, int | None) else None,
                                 design=design)
    root = root_seed(seed if isinstance(seed, np.random.SeedSequence) else scenario.seed)
    plan = make_plan(scenario, root, keep=keep, scheduler=scheduler, workers=workers,
                     chunk_samples=chunk_samples, available_bytes=available_bytes)
    arrays = ArraySink(scenario, keep)
    sketches = SketchSink(streamed_names(keep, scenario), scenario.grid.n_steps)
    samples_done, seconds = execute(plan, [arrays, sketches], progress)
    return results_dataset(scenario, root, keep, arrays.data_variables(),
                           sketches.data_vars(), timing_attrs(samples_done, seconds, scheduler))
