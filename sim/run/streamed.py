"""Streaming runs: chunks are written to disk as they finish, and a killed run resumes.

Results stream into a Zarr store beside the output, ``OUT.partial.zarr``: each
chunk of seed blocks is appended along ``sample``, then a checkpoint (blocks
done, a checksum per block, streaming statistics, the run's fingerprint and id)
is written atomically (`sim.store`). A run stopped at any instant loses at most
the chunk in flight: ``--resume`` checks the store against the checkpoint,
recomputes damaged blocks, and continues; because every seed block owns its
seeds the final file is identical to an uninterrupted run's. Only when the run
is complete is the output created: the store renamed to ``OUT`` (``.zarr``) or
converted to netCDF (``.nc``) through a temporary file. The whole run holds the
output's lock (`sim.outputs.OutputLock`): one writer per output. Zarr, not
netCDF/HDF5, holds the partial run because each of its chunks is a separate
file: a kill in mid-write damages at most that chunk, where it can corrupt an
HDF5 file whole.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim import io
from sim.config.scenario import Scenario
from sim.core.units import SAMPLE
from sim.core.variables import VARIABLES
from sim.errors import Interrupted, ResourceError, UserError
from sim.io import faults, outputs
from sim.io.store import (
    StoreAppender,
    block_checksums,
    checkpoint_path,
    clean_published,
    create_store,
    finish_store,
    publish_store,
    read_checkpoint,
    remove_partial,
    repair_store,
    write_checkpoint,
)
from sim.priors.sampling import SEED_BLOCK_SAMPLES, root_seed
from sim.run.chunks import (
    STORAGE_DTYPE,
    ChunkResult,
    chunk_samples_for_memory,
    compute_chunk,
    default_chunk_samples,
    iter_tasks,
)
from sim.run.collect import (
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
from sim.run.schedulers import map_ordered
from sim.run.simulate import Progress, kept_bytes, statistics_bytes, timing_attrs, working_bytes
from sim.version import __version__

PARTIAL_SUFFIX = ".partial.zarr"
SUMMARY_CHUNK_SAMPLES = 2**15
"""Default chunk of a streamed summary run (working set about 0.3 GB at 24 steps)."""


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
        Output file (netCDF-4) or directory (Zarr); created only when complete. An
        existing `out` is replaced only if this tool wrote it.
    keep : {"full", "summary"}
        See `sim.simulate`.
    resume : bool
        Continue the partial run left by an interrupted run with the same settings:
        the partial store is checked against its checkpoint, and blocks that are
        missing or damaged are recomputed.
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
        Bad or foreign output, another writer on it, nothing to resume, a partial
        run made with other settings or a damaged checkpoint.
    Interrupted
        On Ctrl-C, saying whether a partial run is kept for ``--resume``.
    """
    if keep not in KEEP_MODES:
        raise UserError(f"--keep: expected full or summary, got {keep!r}")
    out = outputs.check_output(out, "results", inputs=scenario.files)
    in_flight = 1 if scheduler == "sync" else 2 * (workers or 2)
    chunk_samples = chunk_samples or _chunk_samples(scenario, keep, max_memory, in_flight)
    _check_memory(scenario, keep, chunk_samples, in_flight, max_memory)
    _check_disk(scenario, keep, out)
    store = partial_path(out)
    with outputs.OutputLock(out):
        try:
            return _stream(scenario, out, store, keep, resume, scheduler, workers,
                           chunk_samples, progress)
        except KeyboardInterrupt:
            if store.exists() and checkpoint_path(store).exists():
                raise Interrupted(f"interrupted; the partial run is kept at {store}: run the "
                                  "same command with --resume to continue it") from None
            raise Interrupted("interrupted; no output written") from None


def _stream(scenario: Scenario, out: Path, store: Path, keep: str, resume: bool,
            scheduler: str, workers: int | None, chunk_samples: int,
            progress: Progress | None) -> Path:
    """The streamed run proper, under the output's lock."""
    root = root_seed(scenario.seed)
    statistics = StepStatistics(streamed_names(keep), scenario.grid.n_steps)
    settings_hash = fingerprint(scenario, keep)
    state = _prepare(store, out, resume, settings_hash, statistics, scenario.samples)
    if state.published:
        return out
    started = time.perf_counter()
    computed = 0
    cast = scheduler != "sync"
    streamed = tuple(statistics.names)
    if state.damaged:  # recompute what the checksums rejected; statistics already have it
        appender = StoreAppender(store)
        repairs = iter_tasks(scenario, root, chunk_samples, streamed=streamed, cast=cast,
                             blocks=state.damaged)
        for result in map_ordered(compute_chunk, repairs, scheduler, workers):
            _, data, _ = _chunk_arrays(scenario, keep, result)
            appender.append(data, result.rows)
            computed += result.rows[1] - result.rows[0]
        _checkpoint(store, state, statistics)
    tasks = iter_tasks(scenario, root, chunk_samples, state.blocks_done, streamed=streamed,
                       cast=cast)
    appender = StoreAppender(store) if state.blocks_done else None
    for result in map_ordered(compute_chunk, tasks, scheduler, workers):
        variables, data, axes = _chunk_arrays(scenario, keep, result)
        if appender is None:
            coords = {**coordinates(scenario, with_samples=False),
                      SAMPLE: sample_coordinate(*result.rows)}
            state.metadata = create_store(store, variables, coords,
                                          provenance(scenario, root, keep), state.run_id)
            faults.point("store-created")
            appender = StoreAppender(store)
        else:
            appender.append(data, result.rows)
        faults.point("chunk-written")
        statistics.add(result)
        state.checksums = np.concatenate([state.checksums,
                                          block_checksums(data, axes, result.rows)])
        state.blocks_done = -(-result.rows[1] // SEED_BLOCK_SAMPLES)
        _checkpoint(store, state, statistics)
        faults.point("checkpointed")
        computed += result.rows[1] - result.rows[0]
        if progress is not None:
            progress(result.rows[1], scenario.samples)
        del result, variables, data  # free this chunk before the next one is computed
    seconds = time.perf_counter() - started
    stored = {array.shape[array.attrs["_ARRAY_DIMENSIONS"].index(SAMPLE)]
              for array in StoreAppender(store).arrays.values()}
    if stored != {scenario.samples} or len(state.checksums) != state.blocks_done:
        raise UserError(f"{store}: holds {sorted(stored)} samples in {state.blocks_done} seed "
                        f"blocks, not the run's {scenario.samples}; rerun without --resume")
    finish_store(store, statistics.data_vars(),
                 {**provenance(scenario, root, keep),
                  **timing_attrs(computed, seconds, scheduler),
                  "complete": 1, "resumed_from_block": state.resumed_from,
                  "repaired_blocks": len(state.damaged), "run_id": state.run_id},
                 checksums=out.suffix == ".zarr")
    return publish_store(store, out, state.run_id, io.write_netcdf)


@dataclass
class _State:
    """Where a streamed run stands: its id, blocks done and their checksums."""

    run_id: str
    blocks_done: int = 0
    checksums: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    metadata: str = ""
    damaged: list[int] = field(default_factory=list)
    resumed_from: int = 0
    published: bool = False
    fingerprint: str = ""


def _checkpoint(store: Path, state: _State, statistics: StepStatistics) -> None:
    write_checkpoint(store, {"fingerprint": np.array(state.fingerprint),
                             "run_id": np.array(state.run_id),
                             "blocks_done": np.array(state.blocks_done),
                             "checksums": state.checksums,
                             "metadata": np.array(state.metadata),
                             **statistics.state()})


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


def _prepare(store: Path, out: Path, resume: bool, settings_hash: str,
             statistics: StepStatistics, samples: int) -> _State:
    """Start afresh, or restore a partial run: verify and repair its store."""
    outputs.remove_stale_temps(out)
    outputs.remove_stale_temps(store)
    if not resume:
        remove_partial(store)
        return _State(outputs.new_run_id(), fingerprint=settings_hash)
    checkpoint = read_checkpoint(store)
    if checkpoint is None:
        if store.exists():  # killed before its first checkpoint: nothing to keep
            remove_partial(store)
            return _State(outputs.new_run_id(), fingerprint=settings_hash)
        raise UserError(f"--resume: no partial run to resume at {store}")
    if str(checkpoint["fingerprint"]) != settings_hash:
        raise UserError(f"--resume: the partial run at {store} was made with other settings "
                        "(config, samples, seed, design or --keep); rerun without --resume")
    run_id = str(checkpoint["run_id"])
    if clean_published(store, out, run_id):  # stopped after publishing, while cleaning up
        return _State(run_id, published=True)
    if not store.is_dir() or store.is_symlink():
        raise UserError(f"--resume: the checkpoint {checkpoint_path(store)} has no partial "
                        f"store beside it ({store}); rerun without --resume")
    statistics.restore(checkpoint)
    blocks = int(checkpoint["blocks_done"])
    checksums = np.asarray(checkpoint["checksums"], np.uint32)
    if blocks < 0 or len(checksums) != blocks or blocks * SEED_BLOCK_SAMPLES >= (
            samples + SEED_BLOCK_SAMPLES):
        raise UserError(f"--resume: the checkpoint {checkpoint_path(store)} does not match "
                        f"a run of {samples} samples; rerun without --resume")
    damaged = repair_store(store, checkpoint, samples)
    return _State(run_id, blocks, checksums, str(checkpoint["metadata"]), damaged,
                  resumed_from=blocks, fingerprint=settings_hash)


def _chunk_arrays(scenario: Scenario, keep: str, result: ChunkResult
                  ) -> tuple[dict, dict, dict]:
    """A chunk's per-sample variables: (dims, values, attrs) by name, the values as
    stored (with the ``sample`` coordinate), and each one's sample axis."""
    with np.errstate(over="ignore"):  # beyond float32's 3.4e38 is stored as inf
        variables = {name: (DIMS[VARIABLES[name].layout],
                            result.outputs[name].T.astype(STORAGE_DTYPE, copy=False),
                            VARIABLES[name].attrs) for name in kept_names(keep)}
    variables.update(per_sample_extras(scenario, result.params, result.claims))
    data = {name: values for name, (_, values, _) in variables.items()}
    axes = {name: dims.index(SAMPLE) for name, (dims, _, _) in variables.items()}
    data[SAMPLE], axes[SAMPLE] = np.arange(*result.rows), 0
    return variables, data, axes
