"""Batch benchmark (``make bench``): sweeps, streaming summary runs, parallel schedulers.

1. ``sweep``: the 3 x 3 bonus-escalation sweep at 10^5 samples x 24 months, as one
   ``fiscal-sim sweep`` against 9 separate ``fiscal-sim run`` processes.
2. ``summary``: ``--keep summary`` at 10^7 samples streamed to a Zarr store: wall time,
   throughput and peak memory (target: under 2 GB).
3. ``parallel``: ``--scheduler processes --workers 2`` (a LocalCluster) against ``sync``
   for ``--keep summary`` in memory at 10^6 and 2 x 10^6 samples (targets: 1.6x and
   1.8x), in one process: the cluster is started once and its start-up reported apart;
   each run is timed from submission to result, sync and processes alternating, best of
   3. Beside the wall-time ratio, the CPU ratio: sync's CPU time over the busiest
   worker's, the speed-up two otherwise idle cores would give (the machine is shared),
   and the ceiling: perfectly parallel NumPy work on the 2 workers against this process
   alone, measured between the runs.
4. ``streamed``: ``--keep summary`` streamed to Zarr (`run_to_file`) against the
   in-memory full run at 10^6 samples (target: at least 0.8x its samples/s), with the
   in-memory summary run between them to split statistics from store costs.

Every section runs in its own process; peak memory is that process's maximum RSS.

Usage: python benchmarks/bench_batch.py [--quick] [SECTION ...]
"""

from __future__ import annotations

import itertools
import os
import resource
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


def sweep(quick: bool) -> None:
    samples = 10**4 if quick else 10**5
    sweep_wall, _ = timed("sweep", str(SWEEP), "--samples", str(samples))
    separate = 0.0
    for growth, elasticity in itertools.product((0.0, 0.1, 0.2), (0.0, 0.3, 0.6)):
        wall, _ = timed("run", str(BASELINE), "--samples", str(samples),
                        "--set", f"bonus.regional_growth={growth}",
                        "--set", f"recruitment.bonus_elasticity={elasticity}",
                        "--set", "prices.inflation=0.08")
        separate += wall
    print(f"3x3 sweep at {samples} samples x 24 months: one sweep {sweep_wall:.1f} s, "
          f"9 separate runs {separate:.1f} s (ratio {separate / sweep_wall:.2f})", flush=True)


def summary(quick: bool) -> None:
    samples = 10**5 if quick else 10**7
    directory = Path(tempfile.mkdtemp(dir=REPO / "results" if (REPO / "results").is_dir()
                                      else None))
    try:
        wall, peak = timed("run", str(BASELINE), "--samples", str(samples), "--keep",
                           "summary", "--out", str(directory / "summary.zarr"))
        print(f"--keep summary at {samples} samples (streamed to Zarr): {wall:.1f} s, "
              f"{samples / wall:,.0f} samples/s, peak RSS {peak:.2f} GB", flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _cpu() -> float:
    return time.process_time()


def _burn(rounds: int) -> float:
    """Fixed CPU work (NumPy, in cache); returns its wall time."""
    import numpy as np

    values = np.linspace(0.0, 1.0, 2**14)
    start = time.perf_counter()
    for _ in range(rounds):
        np.sin(values, out=values)
    return time.perf_counter() - start


def _ceiling(client, rounds: int) -> float:
    """Speed-up of perfectly parallel work on the two workers over this process alone,
    measured now: what the machine's sharing allows at best."""
    start = time.perf_counter()
    _burn(2 * rounds)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    client.gather([client.submit(_burn, rounds, workers=[w], pure=False)
                   for w in client.scheduler_info()["workers"]])
    return alone / (time.perf_counter() - start)


def parallel(quick: bool) -> None:
    """processes (2 workers) / sync, --keep summary in memory, in this process."""
    import sim
    from sim.run.schedulers import client_for

    scenario = sim.load_scenario(BASELINE)
    start = time.perf_counter()
    client = client_for("processes", 2)
    print(f"LocalCluster of 2 workers: start-up {time.perf_counter() - start:.2f} s "
          "(once per process; not in the times below)", flush=True)
    for scheduler in ("sync", "processes"):  # warm up: imports, tables
        sim.simulate(scenario, samples=10**4, keep="summary", scheduler=scheduler, workers=2)
    for samples in ((10**5, 2 * 10**5) if quick else (10**6, 2 * 10**6)):
        wall: dict[str, list[float]] = {"sync": [], "processes": []}
        cpu: dict[str, list[float]] = {"sync": [], "processes": []}
        loads, ceilings = [], []
        for _ in range(3):
            ceilings.append(_ceiling(client, 10_000))
            for scheduler in ("sync", "processes"):
                workers0, own0 = client.run(_cpu), _cpu()
                start = time.perf_counter()
                sim.simulate(scenario, samples=samples, seed=1, keep="summary",
                             scheduler=scheduler, workers=2)
                wall[scheduler].append(time.perf_counter() - start)
                workers1, own1 = client.run(_cpu), _cpu()
                busiest = max(workers1[w] - workers0[w] for w in workers0)
                cpu[scheduler].append(own1 - own0 if scheduler == "sync" else busiest)
                loads.append(os.getloadavg()[0])
        best = {k: min(v) for k, v in wall.items()}
        print(f"{samples} samples, --keep summary in memory: sync {best['sync']:.2f} s, "
              f"processes (2 workers) {best['processes']:.2f} s (best of 3): "
              f"processes/sync speed {best['sync'] / best['processes']:.2f}x; CPU: sync "
              f"{min(cpu['sync']):.2f} s, busiest worker {min(cpu['processes']):.2f} s, "
              f"ratio {min(cpu['sync']) / min(cpu['processes']):.2f}x; all walls "
              f"sync {_fmt(wall['sync'])} processes {_fmt(wall['processes'])}; load "
              f"average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores; "
              f"ceiling (perfectly parallel NumPy work, 2 workers / this process) "
              f"{_fmt(ceilings, 2)}x", flush=True)


def streamed(quick: bool) -> None:
    """Samples/s of --keep summary streamed to Zarr over the in-memory full run."""
    import sim
    from sim.run.streamed import run_to_file

    samples = 10**5 if quick else 10**6
    scenario = sim.load_scenario(BASELINE).with_run(samples=samples, seed=1)
    directory = Path(tempfile.mkdtemp())
    runs: dict[str, list[float]] = {"full in memory": [], "summary in memory": [],
                                    "summary streamed": []}
    try:
        for rep in range(3):
            for name in runs:
                start = time.perf_counter()
                if name == "summary streamed":
                    run_to_file(scenario, directory / f"s{rep}.zarr", keep="summary")
                else:
                    sim.simulate(scenario, keep=name.split()[0])
                runs[name].append(time.perf_counter() - start)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    best = {k: min(v) for k, v in runs.items()}
    full = best["full in memory"]
    print(f"{samples} samples (best of 3; samples/s relative to the in-memory full run): "
          + "; ".join(f"{k} {v:.2f} s ({full / v:.2f}x)" for k, v in best.items())
          + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"  streamed summary / in-memory full samples/s: {full / best['summary streamed']:.2f}x "
          f"(target 0.8x); store writes (streamed - summary in memory) "
          f"{best['summary streamed'] - best['summary in memory']:.2f} s, statistics "
          f"(summary - full in memory) {best['summary in memory'] - full:.2f} s", flush=True)


def _fmt(values: list[float], digits: int = 1) -> str:
    return "/".join(f"{v:.{digits}f}" for v in values)


SECTIONS = {"sweep": sweep, "summary": summary, "parallel": parallel, "streamed": streamed}


def main() -> None:
    quick = "--quick" in sys.argv
    names = [a for a in sys.argv[1:] if a in SECTIONS] or list(SECTIONS)
    if len(names) == 1:
        SECTIONS[names[0]](quick)
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB",
              flush=True)
        return
    for name in names:  # each section in its own process
        subprocess.run([sys.executable, __file__, name, *(["--quick"] if quick else [])],
                       check=True)


if __name__ == "__main__":
    main()
