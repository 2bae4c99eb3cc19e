"""Rolling-backtest benchmark: configs/calibration_2024.toml on the General Staff's
monthly figures (configs/observations/gs_monthly_2024_2025.toml), 8 cutoffs every 2 months
from 2024-07-01, a 3-month horizon, 4000 particles.

The target: under 5 minutes on 2 cores. Printed: wall time per cutoff (its calibration
and scoring) with the calibration's stages, the total, and each against the NumPy floor
(drawing one model run's random numbers, 4000 samples, with NumPy alone,
`bench_engine.floor_seconds`, measured in this process) in all and per model run (a
calibration evaluates the model over every particle once for the prior draws, once per
pCN move of each stage and once for its output), then the backtest's table pooled over
the cutoffs.

Usage: python benchmarks/bench_backtest.py [--particles N]
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import floor_seconds

import sim
from sim.analysis.backtest import backtest_table, cutoff_dates, rolling_backtest

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 300.0
CUTOFFS = 8
MOVES = 5


def main() -> None:
    particles = (int(sys.argv[sys.argv.index("--particles") + 1])
                 if "--particles" in sys.argv else 4000)
    scenario = sim.load_scenario(REPO / "configs" / "calibration_2024.toml")
    observations = str(REPO / "configs" / "observations" / "gs_monthly_2024_2025.toml")
    cutoffs = cutoff_dates("2024-07-01", "2025-09-01", 2)
    assert len(cutoffs) == CUTOFFS, cutoffs
    floor = min(floor_seconds(scenario, particles) for _ in range(5))
    marks = [time.perf_counter()]

    def log(line: str) -> None:
        if line.startswith("cutoff "):
            marks.append(time.perf_counter())

    ds = rolling_backtest(scenario, observations, cutoffs, horizon_months=3,
                          particles=particles, seed=1, moves=MOVES, log=log)
    marks.append(time.perf_counter())
    total = marks[-1] - marks[0]
    per_cutoff = [b - a for a, b in itertools.pairwise(marks[1:])]
    diagnostics = json.loads(ds.attrs["calibration_diagnostics"])
    print(f"rolling backtest: {CUTOFFS} cutoffs, {particles} particles, horizon 3 months; "
          f"floor {floor * 1e3:.1f} ms (one model run's draws)")
    print(f"{'cutoff':<11} {'training':>8} {'scored':>6} {'stages':>6} {'runs':>5} "
          f"{'wall s':>7} {'/ floor':>8} {'/ floor / run':>14}")
    runs_total = 0
    for d, seconds in zip(diagnostics, per_cutoff, strict=True):
        runs = 1 + d["stages"] * MOVES + 1  # the prior draws, each pCN move, the output
        runs_total += runs
        print(f"{d['cutoff']:<11} {d['training_observations']:>8} "
              f"{d['heldout_observations']:>6} {d['stages']:>6} {runs:>5} {seconds:>7.2f} "
              f"{seconds / floor:>8.0f} {seconds / floor / runs:>14.1f}")
    met = "met" if total < TARGET_SECONDS else "MISSED"
    print(f"{'total':<11} {'':>8} {'':>6} {'':>6} {runs_total:>5} {total:>7.2f} "
          f"{total / floor:>8.0f} {total / floor / runs_total:>14.1f}"
          f"   (target < {TARGET_SECONDS:.0f} s: {met})")
    table = backtest_table(ds, overall=True)
    print(table[table.cutoff == "all"].drop(columns="cutoff").to_string(index=False))


if __name__ == "__main__":
    main()
