"""Regenerate the golden regression file: ``make golden``.

Run this only when a change to the numbers is intended, and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import sim
from sim import io

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "data" / "golden_baseline.nc"
CONFIG = HERE / "data" / "baseline_v1.toml"
"""The baseline as it was in version 1 (no schedules, no history): a frozen copy, so the
golden file pins version 1's numbers while configs/baseline.toml moves on to history."""
SAMPLES, SEED = 200, 20250619


def golden_run():
    """The run the golden file holds: the version-1 baseline, 200 samples, seed 20250619."""
    return sim.simulate(sim.load_scenario(CONFIG), samples=SAMPLES, seed=SEED)


if __name__ == "__main__":
    ds = golden_run()
    # Provenance that changes with the checkout location or version is not part of the golden.
    ds.attrs.update(config_path="configs/baseline.toml", config_files="[]",
                    fiscal_strain_sim_version="golden")
    io.write_netcdf(ds, GOLDEN)
    print(f"wrote {GOLDEN}")
