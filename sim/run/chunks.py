"""Processing chunks: whole seed blocks drawn, mapped and run through the model.

A `ChunkTask` carries everything a worker needs (it pickles, for Dask); its
result depends only on the blocks it holds, so chunks can run in any order, on
any worker, and the assembled results are bit-identical.

For distributed schedulers (Dask worker processes) a chunk of a few milliseconds'
work costs more to ship than to compute, so `group_tasks` joins consecutive chunks
into tasks of about half a second: a worker computes such a task chunk by chunk
(`ChunkTask.step_blocks`, so its working set stays one chunk's) and sends back one
result. Every statistic is counted or merged seed block by seed block, so grouping
changes no number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from sim.config.claims import claim_values, claim_weights
from sim.config.scenario import Scenario
from sim.core.metrics import derive
from sim.core.model import Noise, run_model
from sim.core.variables import outputs_for, shape
from sim.priors.sampling import (
    SEED_BLOCK_SAMPLES,
    copula_factor_for,
    design_points,
    draw_block,
    noise_for,
    parameters_from_unit,
    uncertain_keys,
)
from sim.run.sketch import DEFAULT_RELATIVE_ACCURACY, Moments, QuantileSketch, bucket_tables

STORAGE_DTYPE = np.float32
"""Outputs are stored in float32 (about 7 significant digits); computed in float64."""

WORKING_ELEMENTS = 2**18
"""Target sample-steps per processing chunk: bounds the float64 working set."""

WORKING_ARRAYS = 48
"""Upper bound on float64 (K, chunk) arrays alive while a chunk is processed."""

TASK_ELEMENTS = 2**21
"""Target sample-steps per grouped task for distributed schedulers (`group_tasks`):
about half a second of work, against milliseconds of per-task overhead."""

TASKS_PER_WORKER = 4
"""`group_tasks` makes at least this many tasks per worker where it can, in a
multiple of the workers, so that no worker idles at the end of the run."""


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of whole seed blocks.

    Attributes
    ----------
    scenario : Scenario
    root : SeedSequence
        The run's root seed.
    blocks : range
        Seed block indices.
    samples : int
        Samples in the whole run (the last block may be partial).
    unit : ndarray or None
        The chunk's rows of a whole-run design (LHS, Sobol); None for random.
    copula_factor : ndarray or None
    streamed : tuple of str
        Per-step variables to reduce to statistics in the worker (summary mode):
        their arrays are not sent back.
    cast : bool
        Round the outputs to float32 in the worker (parallel schedulers: half the bytes
        to send back). In process, the collector rounds them as it stores them, which
        saves a pass; the values are the same.
    step_blocks : int
        Seed blocks computed at once (0: all of them); a task grouped by `group_tasks`
        is computed chunk by chunk, so its working set is one chunk's.
    """

    scenario: Scenario
    root: np.random.SeedSequence
    blocks: range
    samples: int
    unit: np.ndarray | None
    copula_factor: np.ndarray | None
    streamed: tuple[str, ...] = ()
    cast: bool = False
    step_blocks: int = 0

    @property
    def rows(self) -> tuple[int, int]:
        """First sample and one past the last sample of the chunk."""
        return (self.blocks.start * SEED_BLOCK_SAMPLES,
                min(self.samples, self.blocks.stop * SEED_BLOCK_SAMPLES))

    def block_rows(self) -> list[tuple[int, int]]:
        """Each seed block's rows, relative to the chunk's first sample."""
        lo = self.rows[0]
        return [(b * SEED_BLOCK_SAMPLES - lo,
                 min(self.samples, (b + 1) * SEED_BLOCK_SAMPLES) - lo) for b in self.blocks]


@dataclass
class ChunkResult:
    """What a chunk produced.

    Attributes
    ----------
    rows : tuple of int
        Sample range [lo, hi) of the run.
    block_rows : list of tuple of int
        Seed blocks' rows within the chunk (for order-fixed merging of statistics).
    params : dict of str to ndarray, each (n,)
        Uncertain priors' sampled values.
    outputs : dict of str to ndarray
        Every kept output variable, time-major float64 (see `sim.core.metrics.derive`),
        or already rounded to float32 when the task says `cast`.
    claims : ndarray, shape (C, n)
        Each claim's simulated value.
    statistics : dict
        For each streamed variable: (flat sketch columns, their counts, both int32,
        and the moments of each seed block in order); see `sim.run.sinks`.
    """

    rows: tuple[int, int]
    block_rows: list[tuple[int, int]]
    params: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    claims: np.ndarray
    statistics: dict = field(default_factory=dict)


def model_outputs(scenario: Scenario, p: dict[str, np.ndarray], noise: Noise
                  ) -> dict[str, np.ndarray]:
    """Every output variable (time-major float64) of the scenario's model for parameters
    `p` and innovations `noise`: `sim.core.model.run_model` then `sim.core.metrics.derive`."""
    grid = scenario.grid
    days, years = grid.days, grid.years_elapsed
    schedules = scenario.schedules
    return derive(run_model(p, noise, days, years, scenario.loss_mode, schedules), p, days,
                  years, grid.year_weights(), schedules)


def compute_chunk(task: ChunkTask) -> ChunkResult:
    """Draw, map and run one chunk (a top-level function, so workers can run it).

    A task of more than `ChunkTask.step_blocks` seed blocks is computed that many
    blocks at a time; its sketches count all of them and its outputs are joined.
    """
    step = task.step_blocks or len(task.blocks)
    if step >= len(task.blocks):
        return _compute(task, task.blocks, {})
    sketches: dict[str, QuantileSketch] = {}
    parts = [_compute(task, range(b, min(b + step, task.blocks.stop)), sketches)
             for b in range(task.blocks.start, task.blocks.stop, step)]
    statistics = {name: (*_sparse(sketches[name]),
                         [m for part in parts for m in part.statistics[name][2]])
                  for name in task.streamed}
    return ChunkResult(
        task.rows, task.block_rows(),
        {k: np.concatenate([part.params[k] for part in parts]) for k in parts[0].params},
        {k: np.concatenate([part.outputs[k] for part in parts], axis=-1)
         for k in parts[0].outputs},
        np.concatenate([part.claims for part in parts], axis=1), statistics)


def chunk_inputs(task: ChunkTask, blocks: range | None = None
                 ) -> tuple[dict[str, np.ndarray], Noise]:
    """The sampled parameters and innovations of seed `blocks` of `task` (default: all).

    Returns
    -------
    p : dict of str to ndarray, each (n,)
        Every prior's values (a fixed prior broadcast, read-only).
    noise : Noise
        Standard normal innovations, (K, n) each.
    """
    blocks = task.blocks if blocks is None else blocks
    scenario = task.scenario
    lo = (blocks.start - task.blocks.start) * SEED_BLOCK_SAMPLES
    hi = min(task.samples, blocks.stop * SEED_BLOCK_SAMPLES) - task.rows[0]
    draws = [draw_block(scenario.priors, task.root, b,
                        min(SEED_BLOCK_SAMPLES, task.samples - b * SEED_BLOCK_SAMPLES),
                        scenario.grid.n_steps, draw_unit=task.unit is None)
             for b in blocks]
    unit = task.unit[lo:hi] if task.unit is not None else np.concatenate([u for u, _ in draws])
    p = parameters_from_unit(scenario.priors, unit, task.copula_factor)
    return p, noise_for([z for _, z in draws], tuple(draws[0][1]))


def _compute(task: ChunkTask, blocks: range, sketches: dict[str, QuantileSketch]
             ) -> ChunkResult:
    """Compute `blocks` of `task`; streamed variables are counted into `sketches` (a
    new sketch per variable when absent; only a result for the whole task has them)."""
    scenario, grid = task.scenario, task.scenario.grid
    lo = (blocks.start - task.blocks.start) * SEED_BLOCK_SAMPLES
    hi = min(task.samples, blocks.stop * SEED_BLOCK_SAMPLES) - task.rows[0]
    p, noise = chunk_inputs(task, blocks)
    outputs = model_outputs(scenario, p, noise)
    del noise
    weighted = [claim_weights(grid, claim) for claim in scenario.claims]
    claims = claim_values(outputs, weighted)
    rows = [(a - lo, b - lo) for a, b in task.block_rows()[blocks.start - task.blocks.start:
                                                             blocks.stop - task.blocks.start]]
    whole = len(blocks) == len(task.blocks)
    statistics = {}
    for name in task.streamed:
        values = outputs.pop(name)
        values = values.reshape(-1, values.shape[-1])  # (T, [payer, item,] n) -> (rows, n)
        sketch = sketches.setdefault(name, QuantileSketch(values.shape[0]))
        moments = _count(values, rows, sketch)
        statistics[name] = (*_sparse(sketch), moments) if whole else (None, None, moments)
    if task.cast:
        with np.errstate(over="ignore"):  # beyond float32's 3.4e38 is stored as inf
            outputs = {name: values.astype(STORAGE_DTYPE) for name, values in outputs.items()}
    return ChunkResult((task.rows[0] + lo, task.rows[0] + hi), rows,
                       {k: p[k] for k in uncertain_keys(scenario.priors)}, outputs, claims,
                       statistics)


def chunk_statistics(values: np.ndarray, block_rows: list[tuple[int, int]]) -> tuple:
    """A chunk's sketch counts (sparse) and per-block moments of one (T, n) variable.

    The statistics see the values rounded to float32, as they are stored in full
    mode, so summaries agree with full runs whichever scheduler computes them.
    """
    sketch = QuantileSketch(values.shape[0])
    moments = _count(values, block_rows, sketch)
    return (*_sparse(sketch), moments)


def _count(values: np.ndarray, block_rows: list[tuple[int, int]],
           sketch: QuantileSketch) -> list[Moments]:
    """Count (T, n) `values`, rounded to float32, into `sketch`; each block's moments.

    The sketch is counted for the whole chunk at once (integer counts: the same as
    block by block); the moments are per seed block, merged later in block order.
    """
    with np.errstate(over="ignore"):
        rounded = values.astype(STORAGE_DTYPE)
    sketch.update(rounded)
    widened = rounded.astype(np.float64)
    return [Moments.of(widened[:, lo:hi]) for lo, hi in block_rows]


def _sparse(sketch: QuantileSketch) -> tuple[np.ndarray, np.ndarray]:
    """A sketch's non-zero counts, int32 (half the bytes to send back from a worker)."""
    columns, counts = sketch.sparse()
    return columns.astype(np.int32), counts.astype(np.int32)


def result_bytes_per_sample(task: ChunkTask) -> int:
    """Bytes a task's result holds per sample: kept outputs (float32 if `cast`, float64
    otherwise), parameters and claim values (float64)."""
    grid = task.scenario.grid
    k, y = grid.n_steps, len(grid.calendar_years())
    elements = sum(int(np.prod(shape(name, k, y, 1))) for name in outputs_for(task.scenario.given)
                   if name not in task.streamed)
    return (elements * (4 if task.cast else 8)
            + 8 * (len(uncertain_keys(task.scenario.priors)) + len(task.scenario.claims)))


def group_tasks(tasks: Iterable[ChunkTask], workers: int) -> Iterator[ChunkTask]:
    """Join consecutive chunks into bigger tasks for distributed schedulers.

    A task grows to about `TASK_ELEMENTS` sample-steps, but no further than
    `TASKS_PER_WORKER` tasks per worker allow, nor than its result fitting in half
    a chunk's working set (the memory check reserves one working set per task in
    flight; summary runs send back little, full runs a lot, so full runs are not
    grouped). The number of tasks is rounded to a multiple of the workers. The
    grouped task is computed chunk by chunk (`ChunkTask.step_blocks`); chunks that are
    not consecutive (repairs) are never joined.
    """
    tasks = iter(tasks)
    first = next(tasks, None)
    if first is None:
        return
    n_blocks = -(-first.samples // SEED_BLOCK_SAMPLES)
    chunk_blocks = len(first.blocks)
    k = first.scenario.grid.n_steps
    working = chunk_blocks * SEED_BLOCK_SAMPLES * (k + 1) * WORKING_ARRAYS * 8
    by_memory = working // (2 * result_bytes_per_sample(first) * SEED_BLOCK_SAMPLES)
    by_time = TASK_ELEMENTS // (k * SEED_BLOCK_SAMPLES)
    by_balance = -(-n_blocks // (TASKS_PER_WORKER * workers))
    size = max(chunk_blocks, min(by_memory, by_time, by_balance))
    count = -(-n_blocks // size)
    size = max(chunk_blocks, -(-n_blocks // (-(-count // workers) * workers)))
    group = [first]
    for task in tasks:
        if (task.blocks.start == group[-1].blocks.stop
                and task.blocks.stop - group[0].blocks.start <= size):
            group.append(task)
            continue
        yield _join(group)
        group = [task]
    yield _join(group)


compute_chunk.group_tasks = group_tasks  # `map_ordered` groups tasks for Dask with it


def _join(group: list[ChunkTask]) -> ChunkTask:
    """One task for consecutive chunks, computed chunk by chunk."""
    if len(group) == 1:
        return group[0]
    first = group[0]
    unit = (None if first.unit is None
            else np.concatenate([task.unit for task in group]))
    return dataclasses.replace(first, blocks=range(first.blocks.start, group[-1].blocks.stop),
                               unit=unit, step_blocks=len(first.blocks))


def prepare_worker() -> None:
    """A worker process's start-up: keep freed chunk memory in the process, as runs do
    in process (`sim.run.allocator`), and build the sketch's lookup tables."""
    from sim.run.allocator import keep_freed_memory

    keep_freed_memory()
    bucket_tables(DEFAULT_RELATIVE_ACCURACY)


def default_chunk_samples(n_steps: int) -> int:
    """Samples per processing chunk: whole seed blocks, about `WORKING_ELEMENTS` sample-steps."""
    blocks = max(1, WORKING_ELEMENTS // (n_steps * SEED_BLOCK_SAMPLES))
    return blocks * SEED_BLOCK_SAMPLES


def chunk_samples_for_memory(n_steps: int, max_bytes: int) -> int:
    """The largest whole-block chunk whose float64 working set fits in `max_bytes`."""
    per_sample = (n_steps + 1) * WORKING_ARRAYS * 8
    return max(1, max_bytes // (per_sample * SEED_BLOCK_SAMPLES)) * SEED_BLOCK_SAMPLES


def iter_tasks(scenario: Scenario, root: np.random.SeedSequence, chunk_samples: int,
               first_block: int = 0, streamed: tuple[str, ...] = (),
               cast: bool = False, blocks: list[int] | None = None) -> Iterator[ChunkTask]:
    """The run's chunks in order, from seed block `first_block` on, or only the seed
    `blocks` listed (runs of consecutive blocks, for repairs)."""
    n = scenario.samples
    blocks_per_chunk = -(-chunk_samples // SEED_BLOCK_SAMPLES)
    n_blocks = -(-n // SEED_BLOCK_SAMPLES)
    points = design_points(scenario.design, n, len(uncertain_keys(scenario.priors)), root)
    factor = copula_factor_for(scenario.priors, scenario.correlations)
    if blocks is None:
        ranges = [range(first, min(first + blocks_per_chunk, n_blocks))
                  for first in range(first_block, n_blocks, blocks_per_chunk)]
    else:
        ranges = []
        for block in sorted(blocks):
            if ranges and ranges[-1].stop == block and len(ranges[-1]) < blocks_per_chunk:
                ranges[-1] = range(ranges[-1].start, block + 1)
            else:
                ranges.append(range(block, block + 1))
    for chunk in ranges:
        lo, hi = chunk.start * SEED_BLOCK_SAMPLES, min(n, chunk.stop * SEED_BLOCK_SAMPLES)
        yield ChunkTask(scenario, root, chunk, n,
                        None if points is None else points[lo:hi], factor, streamed, cast)
