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
from sim.errors import ResourceError
from sim.io import available_memory_bytes
from sim.numbers import byte_size
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


def all_inputs(scenario: Scenario, root: np.random.SeedSequence
               ) -> tuple[dict[str, np.ndarray], Noise]:
    """Every sample's parameters and innovations at once (`iter_inputs`, joined).

    Refuses (`ResourceError`) when they would not fit in the memory available now.
    """
    n, k = scenario.samples, scenario.grid.n_steps
    need = 8 * n * (3 * k + 2 * len(scenario.priors))
    available = available_memory_bytes()
    if need > available // 2:
        raise ResourceError(f"{scenario.path}: {n:,} samples' inputs need about "
                            f"{byte_size(need)}, more than half the "
                            f"{byte_size(available)} available; use fewer samples")
    parts = [(p, noise) for _, p, noise in iter_inputs(scenario, root)]
    if len(parts) == 1:
        return parts[0]
    p = {key: np.concatenate([part[0][key] for part in parts]) for key in parts[0][0]}
    noise = Noise(*(None if getattr(parts[0][1], name) is None
                    else np.concatenate([getattr(part[1], name) for part in parts], axis=1)
                    for name in ("recruitment", "losses", "fx")))
    return p, noise
