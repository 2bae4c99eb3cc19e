"""Sinks: where a run's chunk results go. Each has ``add(result)``; `sim.run.plan.execute`
gives it every chunk in order.

- `ArraySink`: every kept array in memory (preallocated float32; or views into a
  sweep's arrays with a leading ``scenario`` axis).
- `SketchSink`: streaming quantiles and moments per time step (summary runs), in
  memory that does not grow with the samples.
- `StoreSink`: appends to the partial Zarr store of a run to disk and checkpoints
  after every chunk (`sim.run.streamed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.config.scenario import Scenario
from sim.core.units import SAMPLE, attrs
from sim.core.variables import VARIABLES, dims, shape
from sim.io import faults
from sim.io.store import StoreAppender, block_checksums, create_store, write_checkpoint
from sim.priors.sampling import SEED_BLOCK_SAMPLES, uncertain_keys
from sim.run.chunks import STORAGE_DTYPE, ChunkResult
from sim.run.dataset import (
    QUANTILE,
    SUMMARY_QUANTILES,
    coordinates,
    data_variables,
    kept_names,
    provenance,
    sample_coordinate,
)
from sim.run.sketch import Moments, QuantileSketch


class ArraySink:
    """Keeps every chunk's kept outputs, sampled parameters and claim values in
    preallocated arrays (time-major float32 outputs)."""

    def __init__(self, scenario: Scenario, keep: str, arrays: dict | None = None,
                 params: dict | None = None, claims: np.ndarray | None = None):
        """Allocate the arrays, or fill the given ones (views into a sweep's arrays)."""
        grid, n = scenario.grid, scenario.samples
        k, y = grid.n_steps, len(grid.calendar_years())
        self.scenario, self.keep = scenario, keep
        self.arrays = arrays if arrays is not None else {
            name: np.empty(shape(name, k, y, n), STORAGE_DTYPE)
            for name in kept_names(keep, scenario)}
        self.params = params if params is not None else {
            key: np.empty(n) for key in uncertain_keys(scenario.priors)}
        self.claims = claims if claims is not None else np.empty((len(scenario.claims), n))

    def add(self, result: ChunkResult) -> None:
        """Store one chunk."""
        lo, hi = result.rows
        with np.errstate(over="ignore"):  # beyond float32's 3.4e38 is stored as inf
            for name, array in self.arrays.items():
                array[..., lo:hi] = result.outputs[name]
        for key, values in self.params.items():
            values[lo:hi] = result.params[key]
        self.claims[:, lo:hi] = result.claims

    def data_variables(self) -> dict:
        """The arrays, labelled (`sim.run.dataset.data_variables`)."""
        return data_variables(self.scenario, self.keep, self.arrays, self.params, self.claims)


class SketchSink:
    """Streaming quantiles and moments of the per-step variables, per time step (the
    summary of a ``keep="summary"`` run; holds no per-sample array)."""

    def __init__(self, names: list[str], n_steps: int):
        self.names, self.n_steps = names, n_steps
        self.sketches = {n: QuantileSketch(_length(n, n_steps)) for n in names}
        self.moments = {n: Moments.empty(_length(n, n_steps)) for n in names}

    def add(self, result: ChunkResult) -> None:
        """Fold in a chunk's statistics (`sim.run.chunks.chunk_statistics`, computed by
        the worker); moments merge seed block by seed block, in order."""
        for name in self.names:
            columns, counts, block_moments = result.statistics[name]
            self.sketches[name].add_sparse(columns, counts)
            for moments in block_moments:
                self.moments[name].merge(moments)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that restore the statistics (for checkpoints), sketches stored sparsely."""
        state = {}
        for name in self.names:
            m = self.moments[name]
            columns, counts = self.sketches[name].sparse()
            state[f"{name}.columns"], state[f"{name}.counts"] = columns, counts
            state[f"{name}.moments"] = np.concatenate([[m.count], m.mean, m.m2])
        return state

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Load arrays written by `state`."""
        for name in self.names:
            self.sketches[name].counts[...] = 0
            self.sketches[name].add_sparse(state[f"{name}.columns"], state[f"{name}.counts"])
            packed = state[f"{name}.moments"]
            t = (len(packed) - 1) // 2
            self.moments[name] = Moments(float(packed[0]), packed[1:1 + t].copy(),
                                         packed[1 + t:].copy())

    def data_vars(self) -> dict:
        """``{name}_quantiles``, ``{name}_sample_mean`` and ``{name}_sample_sd`` per variable."""
        out = {}
        for name in self.names:
            v = VARIABLES[name]
            dim = dims(name)[1:]  # time (and payer, item)
            rows = shape(name, self.n_steps, 0, 1)[:-1]
            alpha = self.sketches[name].alpha
            quantiles = self.sketches[name].quantiles(np.array(SUMMARY_QUANTILES))
            out[f"{name}_quantiles"] = (
                (QUANTILE, *dim), quantiles.reshape(len(SUMMARY_QUANTILES), *rows),
                attrs(v.units, f"{v.long_name}, quantiles over samples",
                      f"{v.description} Streaming quantiles (relative error <= {alpha})."))
            out[f"{name}_sample_mean"] = (dim, self.moments[name].mean.reshape(rows),
                                   attrs(v.units, f"{v.long_name}, mean over samples",
                                         v.description))
            out[f"{name}_sample_sd"] = (dim, self.moments[name].sd.reshape(rows),
                                 attrs(v.units, f"{v.long_name}, SD over samples",
                                       v.description))
        return out


def _length(name: str, n_steps: int) -> int:
    """Rows of a streamed variable's statistics: its time positions times its extra
    positions (the ledger's payers and items)."""
    return int(np.prod(shape(name, n_steps, 0, 1)))




@dataclass
class StoreState:
    """Where a run to disk stands: its id, blocks done and their checksums."""

    run_id: str
    blocks_done: int = 0
    checksums: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    metadata: str = ""
    damaged: list[int] = field(default_factory=list)
    resumed_from: int = 0
    published: bool = False
    fingerprint: str = ""


class StoreSink:
    """Appends each chunk to the partial Zarr store, then checkpoints (blocks done, a
    CRC-32 per block, the streaming statistics) so a killed run loses at most the chunk
    in flight. The store is created with the first chunk.

    Parameters
    ----------
    scenario : Scenario
    root : SeedSequence
    keep : {"full", "summary"}
    store : Path
        The partial store (``OUT.partial.zarr``).
    state : StoreState
        Updated as chunks are written.
    sketches : SketchSink
        The run's statistics, saved in every checkpoint.
    repairing : bool
        Rewrite chunks of an existing store (blocks its checksums rejected) without
        checkpointing each: the statistics already hold them.
    """

    def __init__(self, scenario: Scenario, root: np.random.SeedSequence, keep: str,
                 store: Path, state: StoreState, sketches: SketchSink,
                 repairing: bool = False):
        self.scenario, self.root, self.keep = scenario, root, keep
        self.store, self.state, self.sketches = store, state, sketches
        self.repairing = repairing
        self.appender = StoreAppender(store) if state.blocks_done or repairing else None

    def add(self, result: ChunkResult) -> None:
        """Write one chunk and, unless repairing, checkpoint."""
        data, axes, variables = self._chunk(result)
        if self.appender is None:
            coords = {**coordinates(self.scenario, with_samples=False),
                      SAMPLE: sample_coordinate(*result.rows)}
            self.state.metadata = create_store(self.store, variables, coords,
                                               provenance(self.scenario, self.root, self.keep),
                                               self.state.run_id)
            faults.point("store-created")
            self.appender = StoreAppender(self.store)
        else:
            self.appender.append(data, result.rows)
        if self.repairing:
            return
        faults.point("chunk-written")
        self.sketches.add(result)
        self.state.checksums = np.concatenate([self.state.checksums,
                                               block_checksums(data, axes, result.rows)])
        self.state.blocks_done = -(-result.rows[1] // SEED_BLOCK_SAMPLES)
        self.checkpoint()
        faults.point("checkpointed")

    def checkpoint(self) -> None:
        """Write the checkpoint atomically (`sim.io.store.write_checkpoint`)."""
        state = self.state
        write_checkpoint(self.store, {"fingerprint": np.array(state.fingerprint),
                                      "run_id": np.array(state.run_id),
                                      "blocks_done": np.array(state.blocks_done),
                                      "checksums": state.checksums,
                                      "metadata": np.array(state.metadata),
                                      **self.sketches.state()})

    def _chunk(self, result: ChunkResult) -> tuple[dict, dict, dict]:
        """The chunk's values as stored (with the ``sample`` coordinate), each one's
        sample axis, and the labelled variables."""
        with np.errstate(over="ignore"):  # beyond float32's 3.4e38 is stored as inf
            outputs = {name: result.outputs[name].astype(STORAGE_DTYPE, copy=False)
                       for name in kept_names(self.keep, self.scenario)}
        variables = data_variables(self.scenario, self.keep, outputs, result.params,
                                   result.claims)
        data = {name: values for name, (_, values, _) in variables.items()}
        axes = {name: dims.index(SAMPLE) for name, (dims, _, _) in variables.items()}
        data[SAMPLE], axes[SAMPLE] = np.arange(*result.rows), 0
        return data, axes, variables
