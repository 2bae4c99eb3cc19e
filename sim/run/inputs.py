"""A run's sampled inputs, chunk by chunk: the parameters and innovations of every sample.

For analyses that run the model several times on the same samples (common random numbers:
`sim.analysis.breakeven`, `sim.analysis.cost`): sample i's inputs are those of sample i of
`sim.simulate` with the same scenario, sample count and seed, whatever the chunking.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sim.config.scenario import Scenario
from sim.core.model import Noise
from sim.run.chunks import chunk_inputs, default_chunk_samples, iter_tasks

Inputs = tuple[tuple[int, int], dict[str, np.ndarray], Noise]
"""(first sample, one past the last), parameters (n,) each, innovations (K, n) each."""


def iter_inputs(scenario: Scenario, root: np.random.SeedSequence,
                chunk_samples: int | None = None) -> Iterator[Inputs]:
    """Every sample's parameters and innovations, a chunk of whole seed blocks at a time.

    Parameters
    ----------
    scenario : Scenario
        Its ``samples`` and ``design`` are used.
    root : SeedSequence
        The run's root seed (`sim.priors.sampling.root_seed`).
    chunk_samples : int, optional
        Samples per chunk (rounded up to whole seed blocks); default: the engine's.

    Yields
    ------
    rows : tuple of int
        The chunk's samples [lo, hi).
    p : dict of str to ndarray, each (n,)
        Every prior's values (a fixed prior broadcast, read-only).
    noise : Noise
        Standard normal innovations, (K, n) each, or None where a process is off.
    """
    chunk = chunk_samples or default_chunk_samples(scenario.grid.n_steps)
    for task in iter_tasks(scenario, root, chunk):
        yield (task.rows, *chunk_inputs(task))
