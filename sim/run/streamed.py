"""Streaming runs: chunks are written to disk as they finish, and a killed run resumes.

Results stream into a Zarr store beside the output, ``OUT.partial.zarr``: each
chunk of seed blocks is appended along ``sample``, then a checkpoint (blocks
done, a checksum per block, streaming statistics, the run's fingerprint and id)
is written atomically (`sim.io.store`). A run stopped at any instant loses at most
the chunk in flight: ``--resume`` checks the store against the checkpoint,
recomputes damaged blocks, and continues; because every seed block owns its
seeds the final file is identical to an uninterrupted run's. Only when the run
is complete is the output created: the store renamed to ``OUT`` (``.zarr``) or
converted to netCDF (``.nc``) through a temporary file. The whole run holds the
output's lock (`sim.io.outputs.OutputLock`): one writer per output. Zarr, not
netCDF/HDF5, holds the partial run because each of its chunks is a separate
file: a kill in mid-write damages at most that chunk, where it can corrupt an
HDF5 file whole.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from sim import io
from sim.config.scenario import Scenario
from sim.core.units import SAMPLE
from sim.errors import Interrupted, ParameterError, UserError
from sim.io import outputs
from sim.io.store import (
    StoreAppender,
    checkpoint_path,
    clean_published,
    finish_store,
    publish_store,
    read_checkpoint,
    remove_partial,
    repair_store,
)
from sim.priors.sampling import SEED_BLOCK_SAMPLES, root_seed
from sim.run.dataset import KEEP_MODES, provenance, streamed_names
from sim.run.plan import Plan, Progress, execute, make_plan, timing_attrs
from sim.run.sinks import SketchSink, StoreSink, StoreState
from sim.version import __version__

PARTIAL_SUFFIX = ".partial.zarr"


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
        See `sim.run.schedulers.map_ordered`.
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
        raise ParameterError("keep", f"expected full or summary, got {keep!r}")
    out = outputs.check_output(out, "results", inputs=scenario.files)
    plan = make_plan(scenario, root_seed(scenario.seed), keep=keep, scheduler=scheduler,
                     workers=workers, chunk_samples=chunk_samples,
                     available_bytes=max_memory, out=out)
    store = partial_path(out)
    with outputs.OutputLock(out):
        try:
            return _stream(plan, out, store, resume, progress)
        except KeyboardInterrupt:
            if store.exists() and checkpoint_path(store).exists():
                raise Interrupted(f"interrupted; the partial run is kept at {store}: run the "
                                  "same command with --resume to continue it") from None
            raise Interrupted("interrupted; no output written") from None


def _stream(plan: Plan, out: Path, store: Path, resume: bool,
            progress: Progress | None) -> Path:
    """The run to disk proper, under the output's lock."""
    scenario, keep = plan.scenario, plan.keep
    sketches = SketchSink(streamed_names(keep, scenario), scenario.grid.n_steps)
    state = _prepare(store, out, resume, fingerprint(scenario, keep), sketches,
                     scenario.samples)
    if state.published:
        return out
    computed = seconds = 0
    if state.damaged:  # recompute what the checksums rejected; statistics already have it
        repair = StoreSink(scenario, plan.root, keep, store, state, sketches, repairing=True)
        computed, seconds = execute(plan, [repair], blocks=state.damaged)
        repair.checkpoint()
    sink = StoreSink(scenario, plan.root, keep, store, state, sketches)
    done, more_seconds = execute(plan, [sink], progress, first_block=state.blocks_done)
    computed, seconds = computed + done, seconds + more_seconds
    stored = {array.shape[array.attrs["_ARRAY_DIMENSIONS"].index(SAMPLE)]
              for array in StoreAppender(store).arrays.values()}
    if stored != {scenario.samples} or len(state.checksums) != state.blocks_done:
        raise UserError(f"{store}: holds {sorted(stored)} samples in {state.blocks_done} seed "
                        f"blocks, not the run's {scenario.samples}; rerun without --resume")
    finish_store(store, sketches.data_vars(),
                 {**provenance(scenario, plan.root, keep),
                  **timing_attrs(computed, seconds, plan.scheduler),
                  "complete": 1, "resumed_from_block": state.resumed_from,
                  "repaired_blocks": len(state.damaged), "run_id": state.run_id},
                 checksums=out.suffix == ".zarr")
    return publish_store(store, out, state.run_id, io.write_netcdf)


def _prepare(store: Path, out: Path, resume: bool, settings_hash: str,
             sketches: SketchSink, samples: int) -> StoreState:
    """Start afresh, or restore a partial run: verify and repair its store."""
    outputs.remove_stale_temps(out)
    outputs.remove_stale_temps(store)
    if not resume:
        remove_partial(store)
        return StoreState(outputs.new_run_id(), fingerprint=settings_hash)
    checkpoint = read_checkpoint(store)
    if checkpoint is None:
        if store.exists():  # killed before its first checkpoint: nothing to keep
            remove_partial(store)
            return StoreState(outputs.new_run_id(), fingerprint=settings_hash)
        raise ParameterError("resume", f"no partial run to resume at {store}")
    if str(checkpoint["fingerprint"]) != settings_hash:
        raise ParameterError(
            "resume", f"the partial run at {store} was made with other settings "
                      "(config, samples, seed, design or --keep); rerun without --resume")
    run_id = str(checkpoint["run_id"])
    if clean_published(store, out, run_id):  # stopped after publishing, while cleaning up
        return StoreState(run_id, published=True)
    if not store.is_dir() or store.is_symlink():
        raise ParameterError(
            "resume", f"the checkpoint {checkpoint_path(store)} has no partial "
                      f"store beside it ({store}); rerun without --resume")
    sketches.restore(checkpoint)
    blocks = int(checkpoint["blocks_done"])
    checksums = np.asarray(checkpoint["checksums"], np.uint32)
    if blocks < 0 or len(checksums) != blocks or blocks * SEED_BLOCK_SAMPLES >= (
            samples + SEED_BLOCK_SAMPLES):
        raise ParameterError(
            "resume", f"the checkpoint {checkpoint_path(store)} does not match "
                      f"a run of {samples} samples; rerun without --resume")
    damaged = repair_store(store, checkpoint, samples)
    return StoreState(run_id, blocks, checksums, str(checkpoint["metadata"]), damaged,
                      resumed_from=blocks, fingerprint=settings_hash)
