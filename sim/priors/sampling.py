"""Sample designs, random streams and parameter draws.

Designs live in the unit hypercube and are mapped through each prior's ppf, so
one prior spec serves every design:

- ``random``: independent uniforms, drawn per sample block;
- ``lhs``: a Latin hypercube over all samples (`scipy.stats.qmc.LatinHypercube`);
- ``sobol``: scrambled Sobol points, n a power of two (`scipy.stats.qmc.Sobol`).

Process noise is always pseudo-random. Seeds belong to blocks of
`SEED_BLOCK_SAMPLES` samples, never to processing chunks or workers: block
``b`` of a run with root ``SeedSequence(seed)`` always draws from the same named
child streams, and the whole-run designs from one stream of their own, so
results are bit-identical however the blocks are grouped for processing.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

from sim.core.model import Noise
from sim.core.schema import DOMAINS, key_spec
from sim.priors.copula import Pair, apply_copula, cholesky_factor, correlation_matrix
from sim.priors.distributions import Prior

SEED_BLOCK_SAMPLES = 4096
"""Samples per seed block [samples]; part of the results' definition, recorded in attrs."""

STREAMS = ("parameters", "recruitment", "losses", "fx")
"""Named child streams of every block, spawned in this order."""

DESIGN_SPAWN_KEY = 2**32
"""Spawn key of the whole-run design stream: beyond any block index."""

NOISE_SWITCH = {"recruitment": "recruitment.shock_sd", "losses": "losses.shock_sd",
                "fx": "fx.volatility"}
"""Each noise process and the prior that turns it off when fixed at zero."""


def root_seed(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    """Normalise a seed to the run's root `SeedSequence`."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return np.random.SeedSequence(seed)


def block_generators(root: np.random.SeedSequence, block: int) -> dict[str, np.random.Generator]:
    """The named generators of sample block `block`, independent of any chunking."""
    block_seq = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, block))
    children = block_seq.spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(child))
            for name, child in zip(STREAMS, children, strict=True)}


def design_points(design: str, n: int, d: int,
                  root: np.random.SeedSequence) -> np.ndarray | None:
    """Whole-run design points in [0, 1)^d, shape (n, d); None for the random design.

    Raises
    ------
    ValueError
        If the Sobol design is asked for a sample count that is not a power of two
        (configs are checked earlier, with a clearer message).
    """
    if design == "random":
        return None
    if d == 0:
        return np.empty((n, 0))
    seq = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, DESIGN_SPAWN_KEY))
    rng = np.random.Generator(np.random.PCG64(seq))
    if design == "lhs":
        return qmc.LatinHypercube(d, rng=rng).random(n)
    if n & (n - 1):
        raise ValueError(f"the sobol design needs a power of two samples, got {n}")
    return qmc.Sobol(d, scramble=True, rng=rng).random_base2(n.bit_length() - 1)


def uncertain_keys(priors: dict[str, Prior]) -> list[str]:
    """Keys of the priors that need draws (the design's columns), in schema order."""
    return [key for key, prior in priors.items() if not prior.is_fixed]


def copula_factor_for(priors: dict[str, Prior],
                      correlations: tuple[Pair, ...]) -> np.ndarray | None:
    """Cholesky factor of the copula over the uncertain priors; None when independent."""
    if not correlations:
        return None
    return cholesky_factor(correlation_matrix(uncertain_keys(priors), correlations))


def active_noise(priors: dict[str, Prior]) -> tuple[str, ...]:
    """Noise processes that are on: those whose switch prior is not fixed at zero."""
    return tuple(
        name for name, key in NOISE_SWITCH.items()
        if not (priors[key].is_fixed and priors[key].params["value"] == 0)
    )


def draw_block(priors: dict[str, Prior], root: np.random.SeedSequence, block: int,
               n_samples: int, n_steps: int, draw_unit: bool = True,
               ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """Uniform design points (for the random design) and noise for one sample block.

    Parameters
    ----------
    priors : dict of str to Prior
    root : SeedSequence
        The run's root seed.
    block : int
        Block index; the block holds samples ``block * SEED_BLOCK_SAMPLES`` onwards.
    n_samples : int
        Samples in this block (``SEED_BLOCK_SAMPLES`` except for the last block).
    n_steps : int
        Time steps K.
    draw_unit : bool
        True for the random design, whose blocks draw their own uniforms; other
        designs come from `design_points` and the block draws only noise.

    Returns
    -------
    unit : ndarray, shape (n_samples, d), or None
        Points in the unit hypercube, one column per uncertain prior.
    noise : dict of str to ndarray, each (K, n_samples)
        Standard normal innovations of the active processes.
    """
    rngs = block_generators(root, block)
    unit = None
    if draw_unit:
        unit = rngs["parameters"].random((n_samples, len(uncertain_keys(priors))))
    noise = {name: rngs[name].standard_normal((n_steps, n_samples))
             for name in active_noise(priors)}
    return unit, noise


def parameters_from_unit(priors: dict[str, Prior], unit: np.ndarray,
                         copula_factor: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Map unit-hypercube points through the copula, then each prior's ppf.

    Parameters
    ----------
    priors : dict of str to Prior
    unit : ndarray, shape (n, d)
        Independent uniforms, one column per uncertain prior, in `uncertain_keys` order.
    copula_factor : ndarray, shape (d, d), optional
        Cholesky factor of the normal copula (`sim.priors.copula`); None: independent priors.

    Returns
    -------
    dict of str to ndarray, each (n,)
        Every prior's values; a fixed prior is its value broadcast to (n,) (read-only).

    Notes
    -----
    Values are clipped into the parameter's domain. Config validation already
    ensures at most 1e-9 of a prior's mass lies outside it, so the clip only
    guards against a draw in that far tail.
    """
    n = unit.shape[0]
    unit = apply_copula(unit, copula_factor)
    columns = {key: j for j, key in enumerate(uncertain_keys(priors))}
    params = {}
    for key, prior in priors.items():
        if key in columns:
            values = prior.ppf(unit[:, columns[key]])
            domain = DOMAINS[key_spec(key).domain]
            low = np.nextafter(domain.low, np.inf) if domain.low_open else domain.low
            params[key] = np.clip(values, low, domain.high, out=values)
        else:  # a read-only view: no memory per sample (schedules hold many fixed entries)
            params[key] = np.broadcast_to(np.float64(prior.params["value"]), (n,))
    return params


def noise_for(blocks: list[dict[str, np.ndarray]], active: tuple[str, ...]) -> Noise:
    """Concatenate per-block noise along samples into one `Noise` (a single block's
    arrays are used as they are, not copied)."""
    def join(name: str) -> np.ndarray:
        if len(blocks) == 1:
            return blocks[0][name]
        return np.concatenate([b[name] for b in blocks], axis=1)

    joined = {name: join(name) if name in active else None for name in NOISE_SWITCH}
    return Noise(**joined)
