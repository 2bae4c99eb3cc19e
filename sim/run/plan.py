"""One execution path for every run: the plan (chunk size, chunks in flight, memory and
disk checks, scheduler) and `execute`, which feeds each chunk's result to the sinks.

`sim.simulate` (in memory), `sim.run.streamed` (to disk, resumable) and the sweeps
of `sim.analysis.experiments` all make a `Plan` with `make_plan` and run it with
`execute`; they differ only in their sinks (`sim.run.sinks`). The memory model lives
here and nowhere else: what a run keeps, its streaming statistics, and the float64
working set of the chunks in flight, which is exactly the window of tasks the
scheduler is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim import io
from sim.config.scenario import Scenario
from sim.core.variables import shape
from sim.errors import ParameterError, ResourceError
from sim.numbers import byte_size
from sim.priors.sampling import uncertain_keys
from sim.run.allocator import keep_freed_memory
from sim.run.chunks import (
    STORAGE_DTYPE,
    WORKING_ARRAYS,
    ChunkTask,
    chunk_samples_for_memory,
    compute_chunk,
    default_chunk_samples,
    iter_tasks,
)
from sim.run.dataset import KEEP_MODES, kept_names, streamed_names
from sim.run.schedulers import check_scheduler, in_flight, map_ordered
from sim.run.sketch import QuantileSketch

Progress = Callable[[int, int], None]
"""Called as ``progress(done_samples, total_samples)`` after each chunk."""

SUMMARY_CHUNK_SAMPLES = 2**15
"""Default chunk of a summary run written to disk (working set about 0.3 GB at 24 steps):
each append to the store costs milliseconds per variable, so chunks that keep little per
sample are made larger."""


# ---------------------------------------------------------------- the memory model


def kept_bytes(scenario: Scenario, samples: int, keep: str) -> int:
    """Bytes of the arrays a run keeps for every sample (float32 outputs, float64
    parameters and claim values)."""
    k, y = scenario.grid.n_steps, len(scenario.grid.calendar_years())
    per_sample = sum(int(np.prod(shape(name, k, y, 1))) for name in kept_names(keep, scenario))
    return samples * (per_sample * np.dtype(STORAGE_DTYPE).itemsize
                      + 8 * (len(uncertain_keys(scenario.priors)) + len(scenario.claims)))


def statistics_bytes(scenario: Scenario, keep: str) -> int:
    """Bytes of the streaming statistics (summary mode), independent of the samples."""
    series = sum(int(np.prod(shape(name, scenario.grid.n_steps + 1, 0, 1)))
                 for name in streamed_names(keep, scenario))
    return series * (QuantileSketch(1).width * 8 + 24)


def working_bytes(scenario: Scenario, chunk_samples: int, in_flight: int = 1) -> int:
    """Bytes of the float64 working set of the chunks in flight."""
    return in_flight * chunk_samples * (scenario.grid.n_steps + 1) * WORKING_ARRAYS * 8


def memory_needed_bytes(scenario: Scenario, samples: int, chunk_samples: int,
                        keep: str = "full", in_flight: int = 1) -> int:
    """Bytes an in-memory run needs: kept arrays, statistics and working set."""
    return (kept_bytes(scenario, samples, keep) + statistics_bytes(scenario, keep)
            + working_bytes(scenario, min(samples, chunk_samples), in_flight))


def chunks_in_flight(scheduler: str, workers: int | None) -> int:
    """Chunks computed at once: one in process, else twice the workers (default: the
    machine's cores; `sim.run.schedulers.in_flight`).

    The plan passes this as the scheduler's window, so the memory check counts exactly
    the chunks that can be alive at once.
    """
    return in_flight(scheduler, workers)


def check_memory(scenario: Scenario, samples: int, chunk_samples: int,
                 available_bytes: int, keep: str = "full", in_flight: int = 1) -> None:
    """Refuse up front an in-memory run that would not fit in `available_bytes`.

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
            f"{byte_size(fixed)} before any results are kept, but "
            f"{byte_size(available_bytes)} is available; use fewer --workers or a "
            "smaller --chunk-samples")
    fit = max(0, int((available_bytes - fixed) // per_sample))
    hint = "" if keep == "summary" else " (or use --keep summary)"
    raise ResourceError(
        f"{scenario.path}: run.samples: {samples} samples need {byte_size(total)} but "
        f"{byte_size(available_bytes)} is available; at most {fit} samples fit{hint}"
    )


def check_streaming_memory(scenario: Scenario, keep: str, chunk_samples: int,
                           in_flight: int, limit: int) -> None:
    """Refuse a run to disk whose statistics and chunks in flight would exceed `limit`."""
    need = statistics_bytes(scenario, keep) + working_bytes(scenario, chunk_samples, in_flight)
    if need > limit:
        raise ResourceError(f"{scenario.path}: a streaming run needs {byte_size(need)} "
                            f"(statistics and {in_flight} chunk(s) of {chunk_samples} samples) "
                            f"but {byte_size(limit)} is allowed")


def check_disk(scenario: Scenario, keep: str, out: Path) -> None:
    """Refuse a run whose uncompressed output would not fit on the output's disk."""
    free = io.free_disk_bytes(out.parent)
    need = kept_bytes(scenario, scenario.samples, keep)
    if need > free:
        fit = int(free // (need / scenario.samples))
        raise ResourceError(
            f"{scenario.path}: run.samples: {scenario.samples} samples need up to "
            f"{byte_size(need)} on disk but {byte_size(free)} is free at {out.parent}; "
            f"at most {fit} samples fit (or use --keep summary)")


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Plan:
    """How a scenario's samples are computed: in chunks of whole seed blocks, on a
    scheduler, with at most `in_flight` chunks alive at once.

    Attributes
    ----------
    scenario : Scenario
        With the run's samples, seed and design.
    root : SeedSequence
        The run's root seed.
    keep : {"full", "summary"}
    chunk_samples : int
        Samples per chunk (whole seed blocks; the last chunk may be shorter).
    scheduler : str
        See `sim.run.schedulers.map_ordered`.
    workers : int or None
    """

    scenario: Scenario
    root: np.random.SeedSequence
    keep: str
    chunk_samples: int
    scheduler: str = "sync"
    workers: int | None = None

    @property
    def in_flight(self) -> int:
        """Chunks alive at once (`chunks_in_flight`)."""
        return chunks_in_flight(self.scheduler, self.workers)

    def tasks(self, first_block: int = 0, blocks: Sequence[int] | None = None
              ) -> Iterator[ChunkTask]:
        """The chunks from seed block `first_block` on, or only the seed `blocks` listed."""
        return iter_tasks(self.scenario, self.root, self.chunk_samples, first_block,
                          streamed=tuple(streamed_names(self.keep, self.scenario)),
                          cast=self.scheduler != "sync",
                          blocks=None if blocks is None else list(blocks))


def make_plan(scenario: Scenario, root: np.random.SeedSequence, *, keep: str = "full",
              scheduler: str = "sync", workers: int | None = None,
              chunk_samples: int | None = None, available_bytes: int | None = None,
              out: Path | None = None) -> Plan:
    """Choose the chunks and check, before anything is computed, that the run fits.

    Parameters
    ----------
    scenario : Scenario
        With the run's samples, seed and design (`Scenario.with_run`).
    root : SeedSequence
    keep : {"full", "summary"}
    scheduler : str
        ``sync``, ``threads``, ``processes`` or a Dask scheduler address.
    workers : int, optional
    chunk_samples : int, optional
        Samples per chunk; default a cache-friendly size (larger for summary runs to
        disk), bounded by `available_bytes` for runs to disk.
    available_bytes : int, optional
        Memory budget [bytes]; default what the machine has available now.
    out : Path, optional
        For a run to disk: the output, whose disk must hold the results. A run to disk
        keeps nothing per sample in memory; an in-memory run keeps every kept array.

    Raises
    ------
    ParameterError
        Unknown `keep` or `scheduler`.
    ResourceError
        The run would not fit in memory (or, to disk, on the output's disk).
    """
    if keep not in KEEP_MODES:
        raise ParameterError("keep", f"expected full or summary, got {keep!r}")
    check_scheduler(scheduler)
    in_flight = chunks_in_flight(scheduler, workers)
    k = scenario.grid.n_steps
    if chunk_samples is None:
        chunk_samples = default_chunk_samples(k)
        if out is not None:
            if keep == "summary":
                chunk_samples = max(chunk_samples, SUMMARY_CHUNK_SAMPLES)
            if available_bytes is not None:
                chunk_samples = min(chunk_samples, chunk_samples_for_memory(
                    k, available_bytes // (2 * in_flight)))
    limit = io.available_memory_bytes() if available_bytes is None else available_bytes
    if out is None:
        check_memory(scenario, scenario.samples, chunk_samples, limit, keep, in_flight)
    else:
        check_streaming_memory(scenario, keep, chunk_samples, in_flight, limit)
        check_disk(scenario, keep, out)
    return Plan(scenario, root, keep, chunk_samples, scheduler, workers)


def execute(plan: Plan, sinks: Sequence, progress: Progress | None = None, *,
            first_block: int = 0, blocks: Sequence[int] | None = None) -> tuple[int, float]:
    """Compute the plan's chunks, in order, and give each result to every sink.

    Parameters
    ----------
    plan : Plan
    sinks : sequence of Sink
        Objects with an ``add(result: ChunkResult)`` method (`sim.run.sinks`).
    progress : callable, optional
        ``progress(done_samples, total_samples)`` after each chunk.
    first_block, blocks
        Run from seed block `first_block` on (a resumed run), or only the listed seed
        `blocks` (a repair).

    Returns
    -------
    samples : int
        Samples computed.
    seconds : float
        Wall time.
    """
    tasks = plan.tasks(first_block, blocks)
    return run_tasks(compute_chunk, tasks, sinks, plan.scheduler, plan.workers,
                     plan.in_flight, progress, plan.scenario.samples)


def run_tasks(function: Callable, tasks: Iterable, sinks: Sequence,
              scheduler: str = "sync", workers: int | None = None, window: int = 1,
              progress: Progress | None = None, total: int = 0) -> tuple[int, float]:
    """The loop under every run: map `function` over `tasks` on the scheduler, at most
    `window` in flight, and give each result (which has ``rows``) to every sink in order.

    `execute` runs a plan's seed-block chunks with it; sensitivity designs run their
    rows with it (`sim.run.rows`).

    Returns
    -------
    samples : int
        Rows computed.
    seconds : float
        Wall time.
    """
    keep_freed_memory()
    started = time.perf_counter()
    computed = 0
    for result in map_ordered(function, tasks, scheduler, workers, window=window):
        for sink in sinks:
            sink.add(result)
        computed += result.rows[1] - result.rows[0]
        if progress is not None:
            progress(result.rows[1], total)
        del result  # free this chunk before the next one is computed
    return computed, time.perf_counter() - started


def timing_attrs(samples: int, seconds: float, scheduler: str) -> dict:
    """Wall time and throughput of a run, for its attrs."""
    return {"wall_seconds": round(seconds, 3),
            "samples_per_second": round(samples / seconds, 1) if seconds > 0 else 0.0,
            "scheduler": scheduler}
