"""Orchestration: scenario -> chunks of seed blocks -> model -> labelled Dataset in memory.

`sim.batch` streams the same chunks to disk instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import xarray as xr

from sim import io
from sim.config.scenario import Scenario
from sim.core.variables import VARIABLES
from sim.errors import ResourceError, UserError
from sim.priors.sampling import root_seed, uncertain_keys
from sim.run.chunks import WORKING_ARRAYS, compute_chunk, default_chunk_samples, iter_tasks
from sim.run.collect import (
    KEEP_MODES,
    STORAGE_DTYPE,
    MemoryCollector,
    kept_names,
    param_name,
    shape,
    streamed_names,
)
from sim.run.schedulers import map_ordered
from sim.run.sketch import QuantileSketch

__all__ = ["check_memory", "memory_needed_bytes", "param_name", "simulate"]

Progress = Callable[[int, int], None]


def kept_bytes(scenario: Scenario, samples: int, keep: str) -> int:
    """Bytes of the arrays a run keeps for every sample (float32 outputs, float64
    parameters and claim values)."""
    k, y = scenario.grid.n_steps, len(scenario.grid.calendar_years())
    per_sample = sum(int(np.prod(shape(VARIABLES[name].layout, k, y, 1)))
                     for name in kept_names(keep))
    return samples * (per_sample * np.dtype(STORAGE_DTYPE).itemsize
                      + 8 * (len(uncertain_keys(scenario.priors)) + len(scenario.claims)))


def statistics_bytes(scenario: Scenario, keep: str) -> int:
    """Bytes of the streaming statistics (summary mode), independent of the samples."""
    series = (scenario.grid.n_steps + 1) * len(streamed_names(keep))
    return series * (QuantileSketch(1).width * 8 + 24)


def working_bytes(scenario: Scenario, chunk_samples: int, in_flight: int = 1) -> int:
    """Bytes of the float64 working set of the chunks in flight."""
    return in_flight * chunk_samples * (scenario.grid.n_steps + 1) * WORKING_ARRAYS * 8


def memory_needed_bytes(scenario: Scenario, samples: int, chunk_samples: int,
                        keep: str = "full", in_flight: int = 1) -> int:
    """Bytes an in-memory run needs: kept arrays, statistics and working set."""
    return (kept_bytes(scenario, samples, keep) + statistics_bytes(scenario, keep)
            + working_bytes(scenario, min(samples, chunk_samples), in_flight))


def check_memory(scenario: Scenario, samples: int, chunk_samples: int,
                 available_bytes: int, keep: str = "full", in_flight: int = 1) -> None:
    """Refuse up front a run that would not fit in `available_bytes`.

    Raises
    ------
    ResourceError
        Saying how much the run needs and how many samples would fit.
    """
    def need(n):
        return memory_needed_bytes(scenario, n, chunk_samples, keep, in_flight)

    total = need(samples)
    if total <= available_bytes:
        return
    per_sample = (need(2 * samples) - total) / samples
    fixed = total - per_sample * samples
    if fixed > available_bytes / 2:
        raise ResourceError(
            f"{scenario.path}: {in_flight} chunk(s) of {chunk_samples} samples in flight need "
            f"{fixed / 2**30:.1f} GiB before any results are kept, but "
            f"{available_bytes / 2**30:.1f} GiB is available; use fewer --workers or a "
            "smaller --chunk-samples")
    fit = max(0, int((available_bytes - fixed) // per_sample))
    hint = "" if keep == "summary" else " (or use --keep summary)"
    raise ResourceError(
        f"{scenario.path}: run.samples: {samples} samples need {total / 2**30:.1f} GiB but "
        f"{available_bytes / 2**30:.1f} GiB is available; at most {fit} samples fit{hint}"
    )


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
        summary mode); the variables of `sim.variables.VARIABLES` kept by
        `keep`, ``param_*`` sampled parameters and ``claim_value``.

    Raises
    ------
    ResourceError
        If the run would not fit in `available_bytes`.
    ConfigError
        If the design does not suit the sample count.
    """
    if keep not in KEEP_MODES:
        raise UserError(f"--keep: expected full or summary, got {keep!r}")
    scenario = scenario.with_run(samples=samples,
                                 seed=seed if isinstance(seed, int | None) else None,
                                 design=design)
    root = root_seed(seed if isinstance(seed, np.random.SeedSequence) else scenario.seed)
    chunk = chunk_samples or default_chunk_samples(scenario.grid.n_steps)
    in_flight = 1 if scheduler == "sync" else 2 * (workers or 2)
    if available_bytes is None:
        available_bytes = io.available_memory_bytes()
    check_memory(scenario, scenario.samples, chunk, available_bytes, keep, in_flight)

    started = time.perf_counter()
    collector = MemoryCollector(scenario, keep)
    fill(collector, root, chunk, scheduler, workers, progress)
    seconds = time.perf_counter() - started
    return collector.dataset(root, timing_attrs(scenario.samples, seconds, scheduler))


def fill(collector: MemoryCollector, root: np.random.SeedSequence, chunk_samples: int,
         scheduler: str = "sync", workers: int | None = None,
         progress: Progress | None = None) -> None:
    """Run every chunk of the collector's scenario into it, in order."""
    scenario = collector.scenario
    tasks = iter_tasks(scenario, root, chunk_samples,
                       streamed=tuple(collector.statistics.names), cast=scheduler != "sync")
    for result in map_ordered(compute_chunk, tasks, scheduler, workers):
        collector.add(result)
        if progress is not None:
            progress(result.rows[1], scenario.samples)
        del result  # free this chunk before the next one is computed


def timing_attrs(samples: int, seconds: float, scheduler: str) -> dict:
    """Wall time and throughput of a run, for its attrs."""
    return {"wall_seconds": round(seconds, 3),
            "samples_per_second": round(samples / seconds, 1) if seconds > 0 else 0.0,
            "scheduler": scheduler}
