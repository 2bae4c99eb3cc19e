"""Model 2's cost (``make bench``): schedules and the ledger against version 1.

The target: history as data (schedules, the known exchange-rate path) and the
ledger by payer cost no more than 25% over version 1 at 10^6 samples x 24 months. Each
engine runs in its own process and its time is divided by the floor measured in that
process (NumPy drawing the same random numbers, `bench_engine.floor_seconds`), so the
ratios compare on a noisy machine:

- ``v1 engine``: the version-1 package (`V1_COMMIT`, extracted with ``git archive``) on
  the version-1 baseline (``tests/data/baseline_v1.toml``, no schedules, no ledger);
- ``v2, no schedules``: this package on the same config (the ledger on, bit-identical
  version-1 numbers);
- ``v2, history``: this package on ``configs/baseline.toml`` (schedules for the federal
  bonus, the exchange rate and every budget; the ledger; the ratios by payer; whatever
  version-2 mechanisms the default scenario uses);
- ``v2, every mechanism``: the version-1 baseline with every version-2 mechanism on
  (`EVERY_MECHANISM`: schedules and the known FX path, budgets by payer, regional top-ups,
  the regions' response, the market with pay and a wage comparator, a finite pool,
  training and a reserve, payment delays, take-up, the missing declared dead, exits), so
  that it differs from the first rows by the mechanisms only. Its target is 1.5x version 1.

Usage: python benchmarks/bench_history.py [--samples N]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
V1_COMMIT = "4d348ff73d63827c6ec4d4f1b2a531cedd7427be"
V1_CONFIG = REPO / "tests" / "data" / "baseline_v1.toml"
TARGET = 1.25
TARGET_EVERY_MECHANISM = 1.5
EVERY_MECHANISM = {
    "recruitment.bonus_elasticity": 0.5, "recruitment.pay_weight": 1.0,
    "recruitment.pool_persons": 5e6, "recruitment.training_months": 1.0,
    "recruitment.deployed_share": 0.85, "force.other_exit_rate": 0.005,
    "compensation.delay_months": 3.0, "compensation.take_up_share": 0.9,
    "losses.missing_declared_dead_share": 0.5, "losses.missing_declaration_months": 6.0,
    "wage.monthly_rub": 1e5, "wage.growth": 0.08,
    "regional_response.stress_threshold": 0.03, "regional_response.cut_per_month": 0.2,
    "regional_response.recovery_per_month": 0.05, "regional_response.floor_rub": 0.0,
    "budget.regional_revenue_rub": 25.87e12, "budget.regional_spending_rub": 27.41e12,
    "budget.federal_revenue_rub": 37.28e12,
    "compensation.regional_per_killed_rub": 2e6,
    "bonus.federal_rub": {"schedule": {"2022-09-01": 195_000, "2024-08-01": 400_000}},
    "budget.defense_rub": {"schedule": {"2025-01-01": 13.49e12, "2026-01-01": 12.93e12}},
    "fx.rub_per_usd": {"schedule": {"2025-01-01": 103.44, "2025-02-01": 96.91,
                                    "2025-04-01": 80.76, "2025-06-01": 79.15,
                                    "2025-07-01": 77.96, "2025-09-01": 81.30}},
}
"""Values that switch every version-2 mechanism on over the version-1 baseline (the same
scenario as the version-1 rows otherwise): schedules, the known exchange-rate path,
budgets by payer, regional top-ups, the market, the pool, training and a reserve, payment
timing, the regions' response (bench figures, not evidence)."""


def run_case(config: str, samples: int, values: dict | None = None) -> dict:
    """Best-of-three wall time of a full in-memory run, and its floor, in this process."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_engine import floor_seconds

    import sim

    scenario = sim.load_scenario(config, values=values)
    sim.simulate(scenario, samples=4096, seed=1)  # warm up imports and caches
    walls, floors = [], []
    for _ in range(3):
        start = time.perf_counter()
        ds = sim.simulate(scenario, samples=samples, seed=1)
        walls.append(time.perf_counter() - start)
        del ds
        floors.append(floor_seconds(scenario, samples))
    return {"wall_s": min(walls), "floor_s": min(floors), "ratio": min(walls) / min(floors)}


def _measure(package_root: Path, config: Path, samples: int, values: dict | None = None
             ) -> dict:
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    out = subprocess.run([sys.executable, __file__, "--case", str(config), str(samples),
                          json.dumps(values or {})],
                         capture_output=True, text=True, check=True, env=env,
                         cwd=package_root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--case"]:
        print(json.dumps(run_case(sys.argv[2], int(sys.argv[3]),
                                  json.loads(sys.argv[4]) or None)))
        return
    samples = int(sys.argv[sys.argv.index("--samples") + 1]) if "--samples" in sys.argv \
        else 10**6
    rows = {}
    with tempfile.TemporaryDirectory() as old:
        try:
            archive = subprocess.run(["git", "-C", str(REPO), "archive", V1_COMMIT, "sim"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
            rows["v1 engine"] = _measure(Path(old), V1_CONFIG, samples)
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"(version-1 engine not measured: {error})")
    rows["v2, no schedules"] = _measure(REPO, V1_CONFIG, samples)
    rows["v2, history"] = _measure(REPO, REPO / "configs" / "baseline.toml", samples)
    rows["v2, every mechanism"] = _measure(REPO, V1_CONFIG, samples, EVERY_MECHANISM)
    print(f"{samples:,} samples x 24 months, full results in memory; ratio = wall / floor")
    print(f"{'engine and config':<20} {'wall s':>7} {'floor s':>8} {'ratio':>6} {'vs v1':>6}")
    base = rows.get("v1 engine", rows["v2, no schedules"])["ratio"]
    for name, r in rows.items():
        print(f"{name:<20} {r['wall_s']:>7.2f} {r['floor_s']:>8.3f} {r['ratio']:>6.2f} "
              f"{r['ratio'] / base:>6.2f}")
    print(f"targets: v2, history <= {TARGET:.2f} x v1; v2, every mechanism <= "
          f"{TARGET_EVERY_MECHANISM:.2f} x v1")


if __name__ == "__main__":
    main()
