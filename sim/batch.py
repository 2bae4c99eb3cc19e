"""Streaming runs: chunks are written to disk as they finish, and a killed run resumes.

Results stream into a Zarr store beside the output, ``OUT.partial.zarr``: each
chunk of seed blocks is appended along ``sample``, then a checkpoint (blocks
done, streaming statistics, the run's fingerprint) is written atomically. A run
killed at any point loses at most the chunk in flight: ``--resume`` truncates the
store to the last checkpoint and continues, and because every seed block owns
its seeds the final file is identical to an uninterrupted run's. Only when the
run is complete is the output created: the store renamed to ``OUT`` (``.zarr``)
or converted to netCDF (``.nc``) through a temporary file. Zarr, not netCDF/HDF5,
holds the partial run because each of its chunks is a separate file: a kill in
mid-write damages at most that chunk, where it can corrupt an HDF5 file whole.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from . import __version__, io
from .backends import map_ordered
from .chunks import (
    STORAGE_DTYPE,
    ChunkResult,
    chunk_samples_for_memory,
    compute_chunk,
    default_chunk_samples,
    iter_tasks,
)
from .collect import (
    DIMS,
    KEEP_MODES,
    StepStatistics,
    coordinates,
    kept_names,
    per_sample_extras,
    provenance,
    sample_coordinate,
    streamed_names,
)
from .config import Scenario
from .errors import ResourceError, UserError
from .sampling import SEED_BLOCK_SAMPLES, root_seed
from .simulate import Progress, kept_bytes, statistics_bytes, timing_attrs, working_bytes
from .units import SAMPLE
from .variables import VARIABLES

PARTIAL_SUFFIX = ".partial.zarr"
SUMMARY_CHUNK_SAMPLES = 2**15
"""Default chunk of a streamed summary run (working set about 0.3 GB at 24 steps)."""
OUTPUT_SUFFIXES = (".nc", ".zarr")


def partial_path(out: str | Path) -> Path:
    """Where a streaming run to `out` keeps its unfinished results."""
    out = Path(out)
    return out.with_name(out.name + PARTIAL_SUFFIX)


def fingerprint(scenario: Scenario, keep: str) -> str:
    """Hash of everything that determines the numbers: a resumed run must match it."""
    text = json.dumps([scenario.resolved_json(), scenario.samples, scenario.seed,
                       scenario.design, keep, SEED_BLOCK_SAMPLES, __version__])
    return hashlib.sha256(text.encode()).hexdigest()


def run_to_file(scenario: Scenario, out: str | Path, *, keep: str = "full",
                resume: bool = False, scheduler: str = "sync", workers: int | None = None,
                chunk_samples: int | None = None, max_memory: int | None = None,
                progress: Progress | None = None) -> Path:
    """Run a scenario, streaming its results to `out` (``.nc`` or ``.zarr``).

    Parameters
    ----------
    scenario : Scenario
    out : str or Path
        Output file (netCDF-4) or directory (Zarr); created only when complete.
    keep : {"full", "summary"}
        See `sim.simulate`.
    resume : bool
        Continue the partial run left by an interrupted run with the same settings.
    scheduler, workers
        See `sim.backends.map_ordered`.
    chunk_samples : int, optional
        Samples per chunk; default from `max_memory` or a cache-friendly size.
    max_memory : int, optional
        Bound on the working set [bytes]: chunks are sized to fit, and a run whose
        streaming statistics alone would not fit is refused.
    progress : callable, optional
        ``progress(done_samples, total_samples)`` after each chunk.

    Returns
    -------
    Path
        The complete output.

    Raises
    ------
    UserError
        Bad output name, nothing to resume, a partial run made with other settings.
    """
    if keep not in KEEP_MODES:
        raise UserError(f"--keep: expected full or summary, got {keep!r}")
    out = Path(out)
    if out.suffix not in OUTPUT_SUFFIXES:
        raise UserError(f"{out}: output must end in .nc (netCDF) or .zarr (Zarr store)")
    io.check_writable(out, allow_directory=out.suffix == ".zarr")
    in_flight = 1 if scheduler == "sync" else 2 * (workers or 2)
    chunk_samples = chunk_samples or _chunk_samples(scenario, keep, max_memory, in_flight)
    _check_memory(scenario, keep, chunk_samples, in_flight, max_memory)
    _check_disk(scenario, keep, out)
    root = root_seed(scenario.seed)
    store = partial_path(out)
    statistics = StepStatistics(streamed_names(keep), scenario.grid.n_steps)
    settings_hash = fingerprint(scenario, keep)
    first_block = _prepare(store, resume, settings_hash, statistics)
    started = time.perf_counter()
    tasks = iter_tasks(scenario, root, chunk_samples, first_block,
                       streamed=tuple(statistics.names), cast=scheduler != "sync")
    appender = io.StoreAppender(store) if first_block else None
    for result in map_ordered(compute_chunk, tasks, scheduler, workers):
        appender = _append(store, appender, scenario, root, keep, result)
        statistics.add(result)
        blocks_done = -(-result.rows[1] // SEED_BLOCK_SAMPLES)
        io.write_checkpoint(store, {"fingerprint": np.array(settings_hash),
                                    "blocks_done": np.array(blocks_done),
                                    **statistics.state()})
        if progress is not None:
            progress(result.rows[1], scenario.samples)
        del result  # free this chunk before the next one is computed
    seconds = time.perf_counter() - started
    io.finish_store(store, statistics.data_vars(),
                    {**provenance(scenario, root, keep),
                     **timing_attrs(scenario.samples - first_block * SEED_BLOCK_SAMPLES,
                                    seconds, scheduler),
                     "complete": 1, "resumed_from_block": first_block})
    return io.publish_store(store, out)


def _chunk_samples(scenario: Scenario, keep: str, max_memory: int | None,
                   in_flight: int) -> int:
    k = scenario.grid.n_steps
    # Each append to the store costs milliseconds per variable, so summary runs,
    # which keep little per sample, take larger chunks.
    preferred = (max(default_chunk_samples(k), SUMMARY_CHUNK_SAMPLES) if keep == "summary"
                 else default_chunk_samples(k))
    if max_memory is None:
        return preferred
    return min(preferred, chunk_samples_for_memory(k, max_memory // (2 * in_flight)))


def _check_memory(scenario: Scenario, keep: str, chunk_samples: int, in_flight: int,
                  max_memory: int | None) -> None:
    """Refuse a run whose statistics and chunks in flight would exceed the memory bound."""
    limit = io.available_memory_bytes() if max_memory is None else max_memory
    need = statistics_bytes(scenario, keep) + working_bytes(scenario, chunk_samples, in_flight)
    if need > limit:
        raise ResourceError(f"{scenario.path}: a streaming run needs {need / 2**30:.2f} GiB "
                            f"(statistics and {in_flight} chunk(s) of {chunk_samples} samples) "
                            f"but {limit / 2**30:.2f} GiB is allowed")


def _check_disk(scenario: Scenario, keep: str, out: Path) -> None:
    """Refuse a run whose uncompressed output would not fit on the output's disk."""
    free = io.free_disk_bytes(out.parent)
    need = kept_bytes(scenario, scenario.samples, keep)
    if need > free:
        fit = int(free // (need / scenario.samples))
        raise ResourceError(
            f"{scenario.path}: run.samples: {scenario.samples} samples need up to "
            f"{need / 2**30:.1f} GiB on disk but {free / 2**30:.1f} GiB is free at {out.parent}; "
            f"at most {fit} samples fit (or use --keep summary)")


def _prepare(store: Path, resume: bool, settings_hash: str,
             statistics: StepStatistics) -> int:
    """Start afresh, or restore a partial run; return the first seed block to compute."""
    if not resume:
        io.remove_partial(store)
        return 0
    checkpoint = io.read_checkpoint(store)
    if checkpoint is None:
        raise UserError(f"--resume: no partial run to resume at {store}")
    if str(checkpoint["fingerprint"]) != settings_hash:
        raise UserError(f"--resume: the partial run at {store} was made with other settings "
                        "(config, samples, seed, design or --keep); rerun without --resume")
    statistics.restore(checkpoint)
    blocks_done = int(checkpoint["blocks_done"])
    io.truncate_store(store, blocks_done * SEED_BLOCK_SAMPLES)
    return blocks_done


def _append(store: Path, appender: io.StoreAppender | None, scenario: Scenario, root,
            keep: str, result: ChunkResult) -> io.StoreAppender:
    """Write one chunk's per-sample variables; the first chunk also creates the store."""
    lo, hi = result.rows
    with np.errstate(over="ignore"):  # beyond float32's 3.4e38 is stored as inf
        data_vars = {name: (DIMS[VARIABLES[name].layout],
                            result.outputs[name].T.astype(STORAGE_DTYPE, copy=False),
                            VARIABLES[name].attrs) for name in kept_names(keep)}
    data_vars.update(per_sample_extras(scenario, result.params, result.claims))
    if appender is None:
        coords = {**coordinates(scenario, with_samples=False), SAMPLE: sample_coordinate(lo, hi)}
        io.create_store(store, data_vars, coords, provenance(scenario, root, keep))
        return io.StoreAppender(store)
    appender.append({name: values for name, (_, values, _) in data_vars.items()}
                    | {SAMPLE: np.arange(lo, hi)}, (lo, hi))
    return appender
