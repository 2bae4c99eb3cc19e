"""Batch benchmark (``make bench``): sweeps, streaming summary runs, parallel schedulers.

1. The 3 x 3 bonus-escalation sweep at 10^5 samples x 24 months, as one
   ``fiscal-sim sweep`` against 9 separate ``fiscal-sim run`` processes.
2. ``--keep summary`` at 10^7 samples streamed to a Zarr store: wall time,
   throughput and peak memory (target: under 2 GB).
3. The ``threads`` and ``processes`` schedulers with 2 workers against ``sync`` at 10^6
   samples, keeping
   everything (the workers send every array back) and keeping a summary (the workers
   send statistics back).

Every command runs in its own process; peak memory is that process's maximum RSS.

Usage: python benchmarks/bench_batch.py [--quick]
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "configs" / "baseline.toml"
SWEEP = REPO / "configs" / "sweeps" / "bonus_escalation.toml"


def timed(*args: str) -> tuple[float, float]:
    """Run ``fiscal-sim ARGS`` in a fresh process; return (wall seconds, its peak RSS in GB)."""
    code = ("import resource, sys; from sim.cli import main; status = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
            "sys.exit(status)")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], check=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    return wall, int(out.stderr.strip().splitlines()[-1]) * 1024 / 1e9


def python_seconds(code: str) -> float:
    """Run Python code in a fresh process; it prints its own timing as the last line."""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    quick = "--quick" in sys.argv
    sweep_samples = 10**4 if quick else 10**5
    summary_samples = 10**5 if quick else 10**7
    parallel_samples = 10**5 if quick else 10**6

    sweep_wall, _ = timed("sweep", str(SWEEP), "--samples", str(sweep_samples))
    separate = 0.0
    for growth, elasticity in itertools.product((0.0, 0.1, 0.2), (0.0, 0.3, 0.6)):
        wall, _ = timed("run", str(BASELINE), "--samples", str(sweep_samples),
                        "--set", f"bonus.regional_growth={growth}",
                        "--set", f"recruitment.bonus_elasticity={elasticity}",
                        "--set", "prices.inflation=0.08")
        separate += wall
    print(f"3x3 sweep at {sweep_samples} samples x 24 months: one sweep {sweep_wall:.1f} s, "
          f"9 separate runs {separate:.1f} s (ratio {separate / sweep_wall:.2f})", flush=True)

    directory = Path(tempfile.mkdtemp(dir=REPO / "results" if (REPO / "results").is_dir()
                                      else None))
    try:
        wall, peak = timed("run", str(BASELINE), "--samples", str(summary_samples), "--keep",
                           "summary", "--out", str(directory / "summary.zarr"))
        print(f"--keep summary at {summary_samples} samples (streamed to Zarr): {wall:.1f} s, "
              f"{summary_samples / wall:,.0f} samples/s, peak RSS {peak:.2f} GB", flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    template = ("import time, sim; s = sim.load_scenario(r'{config}'); "
                "t = time.perf_counter(); sim.simulate(s, samples={n}, seed=1, keep='{keep}', "
                "scheduler='{scheduler}', workers=2); print(time.perf_counter() - t)")
    for keep in ("full", "summary"):
        sync, threads, processes = (python_seconds(template.format(
            config=BASELINE, n=parallel_samples, keep=keep, scheduler=scheduler))
            for scheduler in ("sync", "threads", "processes"))
        print(f"{parallel_samples} samples in memory, --keep {keep}: sync {sync:.2f} s; "
              f"threads (2) {threads:.2f} s, speed-up {sync / threads:.2f}; processes "
              f"(2 workers, LocalCluster start included) {processes:.2f} s, speed-up "
              f"{sync / processes:.2f}", flush=True)


if __name__ == "__main__":
    main()
