"""Sensitivity benchmark (``make bench``): Sobol indices of the baseline at 2^14 base samples.

Two cases: one per-sample outcome over all priors, and one per-step outcome at every
monthly step of the 24-month horizon. For each: wall time, the model time (every
evaluation of the model, including the tornado's), the rank screen's time (one run of
the scenario), and the rest, the analysis (design, `scipy.stats.sobol_indices`, the
bootstrap), with its ratio to the model time.

Usage: python benchmarks/bench_sensitivity.py [--samples-log2 M]
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import sim

# The package exports the function sim.sensitivity; the module is sim.analysis.sensitivity.
sensitivity_module = importlib.import_module("sim.analysis.sensitivity")

REPO = Path(__file__).resolve().parent.parent
CASES = [("bonus_spend_usd_per_day_mean", None), ("bonus_spend_usd_per_day", "all")]


class Timer:
    """Wrap a function and accumulate the seconds spent in it."""

    def __init__(self, function):
        self.function, self.seconds = function, 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def main() -> None:
    m = int(sys.argv[sys.argv.index("--samples-log2") + 1]) if "--samples-log2" in sys.argv \
        else 14
    scenario = sim.load_scenario(REPO / "configs" / "baseline.toml")
    d = sum(not p.is_fixed for p in scenario.priors.values())
    print(f"baseline: {d} uncertain priors, 2^{m} = {2**m} base samples, "
          f"{(d + 2) * 2**m} Sobol model runs, 999 bootstrap resamples")
    print(f"{'outcome':<34} {'outputs':>7} {'wall s':>7} {'model s':>8} {'screen s':>8} "
          f"{'analysis s':>10} {'analysis/model':>14}")
    for outcome, when in CASES:
        evaluate = Timer(sensitivity_module.evaluate)
        screen = Timer(sensitivity_module._screen)
        sensitivity_module.evaluate, sensitivity_module._screen = evaluate, screen
        try:
            start = time.perf_counter()
            ds = sim.sensitivity(scenario, outcome, when, samples=2**m, seed=1)
            wall = time.perf_counter() - start
        finally:
            sensitivity_module.evaluate = evaluate.function
            sensitivity_module._screen = screen.function
        analysis = wall - evaluate.seconds - screen.seconds
        outputs = ds.sizes.get("time", 1)
        print(f"{outcome:<34} {outputs:>7} {wall:>7.2f} {evaluate.seconds:>8.2f} "
              f"{screen.seconds:>8.2f} {analysis:>10.2f} {analysis / evaluate.seconds:>14.2f}",
              flush=True)


if __name__ == "__main__":
    main()
