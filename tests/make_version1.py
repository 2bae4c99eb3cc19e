"""Regenerate tests/data/version1_float64.npz from the version-1 engine (never needed
unless the version-1 reference itself must change).

The file holds the float64 outputs of the version-1 engine (commit 4d348ff) for two
version-1 configs: the frozen baseline (48 samples, monthly) and a variant that turns on
what version 1 had (daily steps, proportional losses, bonus elasticity, inflation, growth
of bonus, pay and budgets, other exits; 8 samples). Run it with the version-1 package
first on the path:

    git archive 4d348ff sim | tar -x -C /tmp/v1
    PYTHONPATH=/tmp/v1 python tests/make_version1.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import sim
from sim.priors.sampling import root_seed
from sim.run.chunks import compute_chunk, iter_tasks

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "data" / "version1_float64.npz"
CONFIG = HERE / "data" / "baseline_v1.toml"
VARIANT = ['time.step="day"', "time.months=6", 'losses.mode="proportional"',
           "losses.monthly_rate=0.05", "recruitment.bonus_elasticity=0.5",
           "prices.inflation=0.08", "bonus.regional_growth=0.2", "pay.growth=0.1",
           "budget.growth=0.05", "force.other_exit_rate=0.01"]
CASES = {"": ((), 48, 11), "daily:": (VARIANT, 8, 12)}
"""Prefix of the stored names -> (overrides, samples, seed)."""


def outputs(prefix: str) -> dict[str, np.ndarray]:
    """One case's float64 outputs, by stored name."""
    overrides, samples, seed = CASES[prefix]
    scenario = sim.load_scenario(CONFIG, list(overrides)).with_run(samples=samples)
    result = compute_chunk(next(iter_tasks(scenario, root_seed(seed), 4096)))
    return {prefix + name: values for name, values in result.outputs.items()}


if __name__ == "__main__":
    np.savez_compressed(REFERENCE, **outputs(""), **outputs("daily:"))
    print(f"wrote {REFERENCE}")
