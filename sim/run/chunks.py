"""Processing chunks: whole seed blocks drawn, mapped and run through the model.

A `ChunkTask` carries everything a worker needs (it pickles, for Dask); its
result depends only on the blocks it holds, so chunks can run in any order, on
any worker, and the assembled results are bit-identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from sim.config.claims import claim_values, claim_weights
from sim.config.scenario import Scenario
from sim.core.metrics import derive
from sim.core.model import Noise, run_model
from sim.priors.sampling import (
    SEED_BLOCK_SAMPLES,
    copula_factor_for,
    design_points,
    draw_block,
    noise_for,
    parameters_from_unit,
    uncertain_keys,
)
from sim.run.sketch import Moments, QuantileSketch

STORAGE_DTYPE = np.float32
"""Outputs are stored in float32 (about 7 significant digits); computed in float64."""

WORKING_ELEMENTS = 2**18
"""Target sample-steps per processing chunk: bounds the float64 working set."""

WORKING_ARRAYS = 48
"""Upper bound on float64 (K, chunk) arrays alive while a chunk is processed."""


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
    """

    scenario: Scenario
    root: np.random.SeedSequence
    blocks: range
    samples: int
    unit: np.ndarray | None
    copula_factor: np.ndarray | None
    streamed: tuple[str, ...] = ()
    cast: bool = False

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
        Every kept output variable, time-major float64 (see `sim.metrics.derive`),
        or already rounded to float32 when the task says `cast`.
    claims : ndarray, shape (C, n)
        Each claim's simulated value.
    statistics : dict
        For each streamed variable: (flat sketch columns, their counts, and the
        moments of each seed block in order); see `sim.collect.StepStatistics`.
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
    `p` and innovations `noise`: `sim.model.run_model` then `sim.metrics.derive`."""
    grid = scenario.grid
    days, years = grid.days, grid.years_elapsed
    return derive(run_model(p, noise, days, years, scenario.loss_mode), p, days, years,
                  grid.year_weights())


def compute_chunk(task: ChunkTask) -> ChunkResult:
    """Draw, map and run one chunk (a top-level function, so workers can run it)."""
    scenario, grid = task.scenario, task.scenario.grid
    draws = [draw_block(scenario.priors, task.root, b,
                        min(SEED_BLOCK_SAMPLES, task.samples - b * SEED_BLOCK_SAMPLES),
                        grid.n_steps, draw_unit=task.unit is None)
             for b in task.blocks]
    unit = task.unit if task.unit is not None else np.concatenate([u for u, _ in draws])
    p = parameters_from_unit(scenario.priors, unit, task.copula_factor)
    noise = noise_for([z for _, z in draws], tuple(draws[0][1]))
    outputs = model_outputs(scenario, p, noise)
    weighted = [claim_weights(grid, claim) for claim in scenario.claims]
    claims = claim_values(outputs, weighted)
    statistics = {name: chunk_statistics(outputs.pop(name), task.block_rows())
                  for name in task.streamed}
    if task.cast:
        with np.errstate(over="ignore"):  # beyond float32's 3.4e38 is stored as inf
            outputs = {name: values.astype(STORAGE_DTYPE) for name, values in outputs.items()}
    return ChunkResult(task.rows, task.block_rows(),
                       {k: p[k] for k in uncertain_keys(scenario.priors)}, outputs, claims,
                       statistics)


def chunk_statistics(values: np.ndarray, block_rows: list[tuple[int, int]]) -> tuple:
    """A chunk's sketch counts (sparse) and per-block moments of one (T, n) variable.

    The statistics see the values rounded to float32, as they are stored in full
    mode, so summaries agree with full runs whichever scheduler computes them.
    """
    sketch = QuantileSketch(values.shape[0])
    with np.errstate(over="ignore"):
        values = values.astype(STORAGE_DTYPE).astype(np.float64)
    sketch.update(values)
    return (*sketch.sparse(), [Moments.of(values[:, lo:hi]) for lo, hi in block_rows])


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
