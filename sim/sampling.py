"""Random streams and parameter draws, owned per fixed-size sample block.

Seeds belong to blocks of `SEED_BLOCK_SAMPLES` samples, never to processing
chunks or workers: block ``b`` of a run with root ``SeedSequence(seed)`` always
draws from the same named child streams, so results are bit-identical however
the blocks are grouped for processing.
"""

from __future__ import annotations

import numpy as np

from .distributions import Prior
from .model import Noise
from .schema import DOMAINS, key_spec

SEED_BLOCK_SAMPLES = 4096
"""Samples per seed block [samples]; part of the results' definition, recorded in attrs."""

STREAMS = ("parameters", "recruitment", "losses", "fx")
"""Named child streams of every block, spawned in this order."""

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


def uncertain_keys(priors: dict[str, Prior]) -> list[str]:
    """Keys of the priors that need draws (the design's columns), in schema order."""
    return [key for key, prior in priors.items() if not prior.is_fixed]


def active_noise(priors: dict[str, Prior]) -> tuple[str, ...]:
    """Noise processes that are on: those whose switch prior is not fixed at zero."""
    return tuple(
        name for name, key in NOISE_SWITCH.items()
        if not (priors[key].is_fixed and priors[key].params["value"] == 0)
    )


def draw_block(priors: dict[str, Prior], root: np.random.SeedSequence, block: int,
               n_samples: int, n_steps: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Uniform design points and noise for one sample block.

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

    Returns
    -------
    unit : ndarray, shape (n_samples, d)
        Points in the unit hypercube, one column per uncertain prior.
    noise : dict of str to ndarray, each (K, n_samples)
        Standard normal innovations of the active processes.
    """
    rngs = block_generators(root, block)
    unit = rngs["parameters"].random((n_samples, len(uncertain_keys(priors))))
    noise = {name: rngs[name].standard_normal((n_steps, n_samples))
             for name in active_noise(priors)}
    return unit, noise


def parameters_from_unit(priors: dict[str, Prior], unit: np.ndarray) -> dict[str, np.ndarray]:
    """Map unit-hypercube points through each prior's ppf.

    Parameters
    ----------
    priors : dict of str to Prior
    unit : ndarray, shape (n, d)
        One column per uncertain prior, in `uncertain_keys` order.

    Returns
    -------
    dict of str to ndarray, each (n,)
        Every prior's values; fixed priors are filled with their value.

    Notes
    -----
    Values are clipped into the parameter's domain. Config validation already
    ensures at most 1e-9 of a prior's mass lies outside it, so the clip only
    guards against a draw in that far tail.
    """
    n = unit.shape[0]
    columns = {key: j for j, key in enumerate(uncertain_keys(priors))}
    params = {}
    for key, prior in priors.items():
        if key in columns:
            values = prior.ppf(unit[:, columns[key]])
            domain = DOMAINS[key_spec(key).domain]
            low = np.nextafter(domain.low, np.inf) if domain.low_open else domain.low
            params[key] = np.clip(values, low, domain.high, out=values)
        else:
            params[key] = np.full(n, prior.params["value"])
    return params


def noise_for(blocks: list[dict[str, np.ndarray]], active: tuple[str, ...]) -> Noise:
    """Concatenate per-block noise along samples into one `Noise`."""
    joined = {name: np.concatenate([b[name] for b in blocks], axis=1) if name in active
              else None for name in NOISE_SWITCH}
    return Noise(**joined)
