"""Scenario discovery's cost: PRIM on 10^5 samples of the baseline, target under 30 s.

Simulates ``configs/baseline.toml`` at N samples with ``keep="summary"`` (per-sample
outputs and every ``param_*`` are kept), then times `sim.analysis.discovery.discover` on
``force_change_persons < 0`` (about a quarter of the baseline's samples), which peels
every sampled parameter. Prints the wall seconds of the discovery (``prim`` imported
beforehand, its import time shown apart), the samples, the inputs searched, the target,
and the ratio of the wall time to the floor (`bench_engine.floor_seconds`: NumPy drawing
the run's random numbers, measured in this process), so the figure compares on a noisy
machine.

Usage: python benchmarks/bench_discovery.py [--samples N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WHERE = "force_change_persons < 0"
TARGET_SECONDS = 30.0


def main() -> None:
    from bench_engine import floor_seconds

    import sim
    from sim.analysis.discovery import discover

    samples = int(sys.argv[sys.argv.index("--samples") + 1]) if "--samples" in sys.argv \
        else 10**5
    scenario = sim.load_scenario(REPO / "configs" / "baseline.toml")
    start = time.perf_counter()
    ds = sim.simulate(scenario, samples=samples, seed=1, keep="summary")
    simulate_seconds = time.perf_counter() - start

    start = time.perf_counter()
    import prim  # noqa: F401  (pandas, matplotlib and scipy come with it)

    import_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = discover(ds, WHERE)
    wall = time.perf_counter() - start
    floor = floor_seconds(scenario, samples)

    print(f'discover(ds, "{WHERE}") on configs/baseline.toml, keep="summary", '
          f"{samples:,} samples (simulated in {simulate_seconds:.2f} s; prim imported in "
          f"{import_seconds:.2f} s)")
    print(f"{'samples':>9} {'inputs':>6} {'boxes':>5} {'wall s':>7} {'target s':>8} "
          f"{'floor s':>7} {'wall/floor':>10} {'met':>4}")
    print(f"{result.samples:>9} {len(result.inputs):>6} {len(result.trajectory):>5} "
          f"{wall:>7.2f} {TARGET_SECONDS:>8.0f} {floor:>7.3f} {wall / floor:>10.0f} "
          f"{'yes' if wall < TARGET_SECONDS else 'NO':>4}")
    print()
    print(result.text())


if __name__ == "__main__":
    main()
