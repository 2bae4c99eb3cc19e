"""Calibration benchmark (``make bench``): the 2024-2026 scenario calibrated on the 24
monthly General Staff figures of 2024-2025 with 10^4 particles, then on every shipped
observation file at once (target: under 60 s).

Prints wall time, tempering stages, the final effective sample size and distinct
particles, and the 2026 forecast of monthly casualties (median and 90% band of the
average month of 2026).

Usage: python benchmarks/bench_calibration.py [--particles N]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import sim

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    particles = (int(sys.argv[sys.argv.index("--particles") + 1])
                 if "--particles" in sys.argv else 10_000)
    scenario = sim.load_scenario(REPO / "configs" / "calibration_2024.toml")
    observations = REPO / "configs" / "observations" / "gs_monthly_2024_2025.toml"
    start = time.perf_counter()
    ds = sim.calibrate(scenario, str(observations), particles=particles, seed=1)
    wall = time.perf_counter() - start
    in_2026 = ds.time.dt.year == 2026
    monthly = (ds.casualties_persons.sel(time=in_2026).sum("time") / 12).values
    p5, p50, p95 = np.quantile(monthly, (0.05, 0.5, 0.95))
    ess = json.loads(ds.attrs["stage_ess"])
    print(f"{particles} particles, {ds.attrs['latent_dimension']} latent dimensions: "
          f"{wall:.1f} s, {ds.attrs['stages']} stages, final-stage ESS {ess[-1]:.0f}, "
          f"{ds.attrs['final_distinct_particles']} distinct particles, "
          f"log evidence {ds.attrs['log_evidence']:.1f}")
    print(f"2026 forecast of monthly casualties: median {p50:,.0f}, 90% band "
          f"{p5:,.0f} to {p95:,.0f}")
    gs = float(ds.posterior_p50.sel(parameter="losses.per_month"))
    print(f"posterior median of losses.per_month: {gs:,.0f} (prior median "
          f"{float(ds.prior_p50.sel(parameter='losses.per_month')):,.0f})")

    # every shipped series at once (target: under 60 s on 2 cores at 10^4 particles)
    files = sorted(str(p) for p in (REPO / "configs" / "observations").glob("*.toml"))
    start = time.perf_counter()
    ds = sim.calibrate(scenario, files, particles=particles, seed=1)
    wall = time.perf_counter() - start
    print(f"\nall {len(files)} observation files ({ds.sizes['observation']} observations), "
          f"{particles} particles, {ds.attrs['latent_dimension']} latent dimensions: "
          f"{wall:.1f} s (target 60 s), {ds.attrs['stages']} stages, "
          f"{ds.attrs['final_distinct_particles']} distinct particles")
    narrowing = ds.narrowing.to_series()
    print("narrowing (posterior / prior 90% width) of recruitment.per_month "
          f"{narrowing['recruitment.per_month']:.2f}, losses.per_month "
          f"{narrowing['losses.per_month']:.2f}; pairs not separable: "
          f"{json.loads(ds.attrs['unseparable_pairs']) or 'none'}")


if __name__ == "__main__":
    main()
