"""Engine benchmark (``make bench``): wall time, ns per sample-step, memory, ratio to the floor.

Each case runs in its own process, so peak memory is that case's alone. The floor is
the time NumPy's default generator takes, in the same process, to draw the same number
of random variates in the same block shapes: uniforms for the uncertain priors and
standard normals for each active noise process. Ratios to it hold on a noisy machine.

"wall s" is the best of several runs in one process (2 or 3); "cold s" is the first,
which also pays for the kernel handing the process fresh memory pages: on this machine
that alone varied from 0.3 to 3 s for 3 GB between identical runs.

Usage: python benchmarks/bench_engine.py [--quick] [--chunk-samples N]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CASES = [(10**4, "month"), (10**5, "month"), (10**6, "month"), (10**5, "day")]
QUICK_CASES = [(10**4, "month"), (10**5, "month")]


def _scenario(step: str):
    import sim

    overrides = [f'time.step="{step}"'] if step == "day" else []
    return sim.load_scenario(REPO / "configs" / "baseline.toml", overrides)


def floor_seconds(scenario, samples: int) -> float:
    """Time to draw the run's random variates with NumPy alone, block by block."""
    from sim.priors.sampling import SEED_BLOCK_SAMPLES, active_noise, uncertain_keys

    d, k = len(uncertain_keys(scenario.priors)), scenario.grid.n_steps
    processes = len(active_noise(scenario.priors))
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for lo in range(0, samples, SEED_BLOCK_SAMPLES):
        b = min(SEED_BLOCK_SAMPLES, samples - lo)
        rng.random((b, d))
        for _ in range(processes):
            rng.standard_normal((k, b))
    return time.perf_counter() - start


def run_case(samples: int, step: str, chunk_samples: int | None = None) -> dict:
    """Measure one case in this process (`chunk_samples`: None for the default chunk)."""
    import sim

    scenario = _scenario(step)
    chunk = {"chunk_samples": chunk_samples}
    steps = scenario.grid.n_steps
    reps = 3 if samples <= 10**5 and step == "month" else 2
    sim.simulate(scenario, samples=min(samples, 4096), seed=1)  # warm up imports and caches
    walls, floors = [], []
    for _ in range(reps):
        start = time.perf_counter()
        ds = sim.simulate(scenario, samples=samples, seed=1, **chunk)
        walls.append(time.perf_counter() - start)
        kept = ds.nbytes
        del ds
        floors.append(floor_seconds(scenario, samples))
    tracemalloc.start()
    ds = sim.simulate(scenario, samples=samples, seed=1, **chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    wall, floor = min(walls), min(floors)
    return {
        "samples": samples, "step": step, "steps": steps, "wall_s": wall, "floor_s": floor,
        "cold_s": walls[0],
        "ratio": wall / floor, "ns_per_sample_step": wall / (samples * steps) * 1e9,
        "kept_bytes": kept, "peak_traced_bytes": peak, "memory_ratio": peak / kept,
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "ds_ok": bool(ds.sizes["sample"] == samples),
    }


def main() -> None:
    if sys.argv[1:2] == ["--case"]:
        chunk = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] != "default" else None
        print(json.dumps(run_case(int(sys.argv[2]), sys.argv[3], chunk)))
        return
    cases = QUICK_CASES if "--quick" in sys.argv else CASES
    chunk = "default"
    if "--chunk-samples" in sys.argv:
        chunk = sys.argv[sys.argv.index("--chunk-samples") + 1]
    header = (f"{'samples':>9} {'steps':>11} {'wall s':>8} {'cold s':>7} {'floor s':>8} "
              f"{'ratio':>6} "
              f"{'ns/s-step':>9} {'kept GB':>8} {'peak GB':>8} {'peak/kept':>9} {'RSS GB':>7}")
    print(header)
    for samples, step in cases:
        out = subprocess.run([sys.executable, __file__, "--case", str(samples), step, chunk],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        print(f"{r['samples']:>9} {r['steps']:>5} {r['step']:>5} {r['wall_s']:>8.3f} "
              f"{r['cold_s']:>7.2f} {r['floor_s']:>8.3f} {r['ratio']:>6.1f} "
              f"{r['ns_per_sample_step']:>9.1f} "
              f"{r['kept_bytes'] / 1e9:>8.3f} {r['peak_traced_bytes'] / 1e9:>8.3f} "
              f"{r['memory_ratio']:>9.2f} {r['max_rss_bytes'] / 1e9:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
