"""Break-even and cost-per-soldier benchmark (``make bench``).

The target: break-even at 10^5 samples within 20 model runs' time. "A model run" is
`sim.core.model.run_model` once over every sample, chunk by chunk as break-even runs it, on
inputs already drawn; break-even's time includes drawing its inputs. Both levers are timed
on configs/baseline.toml (the bonus lever with recruitment.bonus_elasticity "0.2 to 0.8",
since the baseline's is 0). Also printed: the ratio to the NumPy floor (drawing the same
random numbers with NumPy alone, `bench_engine.floor_seconds`), the model runs the root
search made (whole-run equivalents), and the cost per soldier (three runs: 1 - h, 1, 1 + h).

Usage: python benchmarks/bench_breakeven.py [--samples N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import floor_seconds

import sim
from sim.analysis.breakeven import breakeven
from sim.analysis.cost import cost_per_soldier
from sim.core.model import run_model
from sim.priors.sampling import root_seed
from sim.run.inputs import iter_inputs

REPO = Path(__file__).resolve().parent.parent
TARGET_RUNS = 20
CASES = (("recruitment", []), ("bonus", ['recruitment.bonus_elasticity="0.2 to 0.8"']))


def model_run_seconds(scenario) -> float:
    """One model run over every sample, chunk by chunk, on inputs drawn beforehand."""
    inputs = list(iter_inputs(scenario, root_seed(scenario.seed)))
    grid = scenario.grid
    start = time.perf_counter()
    for _, p, noise in inputs:
        run_model(p, noise, grid.days, grid.years_elapsed, scenario.loss_mode,
                  scenario.schedules)
    return time.perf_counter() - start


def best(seconds) -> float:
    return min(seconds() for _ in range(3))


def main() -> None:
    samples = (int(sys.argv[sys.argv.index("--samples") + 1])
               if "--samples" in sys.argv else 10**5)
    print(f"break-even on configs/baseline.toml, {samples:,} samples x 24 months "
          f"(best of 3; target: within {TARGET_RUNS} model runs' time)")
    print(f"{'lever':>12} {'model run s':>12} {'breakeven s':>12} {'/ model run':>12} "
          f"{'/ floor':>8} {'runs made':>10} {'found':>7} {'cost s':>7} {'/ run':>6}")
    for lever, overrides in CASES:
        scenario = sim.load_scenario(REPO / "configs" / "baseline.toml", overrides).with_run(
            samples=samples)
        floor = best(lambda s=scenario: floor_seconds(s, samples))
        one_run = best(lambda s=scenario: model_run_seconds(s))
        results = []

        def solve(s=scenario, lv=lever, out=results) -> float:
            start = time.perf_counter()
            out.append(breakeven(s, lever=lv))
            return time.perf_counter() - start

        seconds = best(solve)
        cost = best(lambda s=scenario, lv=lever: _timed(cost_per_soldier, s, lever=lv))
        ds = results[-1]
        found = float((ds.breakeven_status.values == 0).mean())
        print(f"{lever:>12} {one_run:12.2f} {seconds:12.2f} {seconds / one_run:12.1f} "
              f"{seconds / floor:8.1f} {ds.attrs['model_runs']:10.2f} {found:7.1%} "
              f"{cost:7.2f} {cost / one_run:6.1f}")


def _timed(function, *args, **kwargs) -> float:
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
