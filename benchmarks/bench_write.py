"""Writing benchmark: a run to disk (``run --out``) against the same run in memory.

For the baseline at 2 x 10^5 samples (10^6 with ``--large``), in ONE process: the
in-memory run (`sim.simulate`), `run_to_file` to ``.nc`` and to ``.zarr``, alternated
A/B/C three times (the machine is shared: each round runs the three back to back
under the same conditions); the median of each, the ratio file / memory (target for
``.nc``: at most 1.3), the phases of the last ``.nc`` run (compute, appends to the
partial store, CRC-32s, checkpoints, finishing, conversion to netCDF and removal of
the store), and the output sizes, uncompressed (the default) and compressed
(``compress=True``: deflate level 1 + shuffle for netCDF, Blosc LZ4 + shuffle for Zarr).

Usage: python benchmarks/bench_write.py [--large] [--rounds N]
"""

from __future__ import annotations

import collections
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sim
import sim.io.store as store_module
import sim.run.plan as plan_module
import sim.run.sinks as sinks_module
import sim.run.streamed as streamed_module
from sim.io import write_netcdf
from sim.io.outputs import new_run_id
from sim.io.store import blosc_lz4
from sim.run.streamed import run_to_file

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "configs" / "baseline.toml"
PHASES = collections.Counter()


def _timed(module, name: str, label: str) -> None:
    """Accumulate the wall time of ``module.name`` in PHASES[label]."""
    function = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            PHASES[label] += time.perf_counter() - start

    setattr(module, name, wrapper)


def _size(path: Path) -> int:
    """Bytes of a file, or of every file in a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    samples = 10**6 if "--large" in sys.argv else 2 * 10**5
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    for module, name, label in (
            (plan_module, "compute_chunk", "compute"),
            (store_module.StoreAppender, "append", "append"),
            (sinks_module, "create_store", "create store"),
            (sinks_module, "block_checksums", "CRC-32s"),
            (sinks_module, "write_checkpoint", "checkpoints"),
            (streamed_module, "finish_store", "finish"),
            (store_module.shutil, "rmtree", "remove store")):
        _timed(module, name, label)
    _timed(streamed_module, "publish_store", "publish")

    scenario = sim.load_scenario(BASELINE).with_run(samples=samples)
    folder = Path(tempfile.mkdtemp(dir=REPO / "results" if (REPO / "results").is_dir()
                                   else None))
    try:
        sim.simulate(scenario, samples=2 * 4096)  # imports and first-call costs
        run_to_file(scenario.with_run(samples=2 * 4096), folder / "warm.nc")
        times: dict[str, list[float]] = {"memory": [], ".nc": [], ".zarr": []}
        phases = {}
        for _ in range(rounds):
            start = time.perf_counter()
            ds = sim.simulate(scenario)
            times["memory"].append(time.perf_counter() - start)
            del ds
            for suffix in (".nc", ".zarr"):
                out = folder / f"run{suffix}"
                PHASES.clear()
                start = time.perf_counter()
                run_to_file(scenario, out)
                times[suffix].append(time.perf_counter() - start)
                if suffix == ".nc":
                    phases = dict(PHASES)
        memory = statistics.median(times["memory"])
        print(f"baseline, {samples} samples x 24 months, {rounds} rounds (median; all runs):")
        print(f"  in memory   {memory:6.2f} s   "
              f"({', '.join(f'{t:.2f}' for t in times['memory'])})")
        for suffix in (".nc", ".zarr"):
            median = statistics.median(times[suffix])
            print(f"  to {suffix:<7}  {median:6.2f} s   ratio file/memory {median / memory:.2f}   "
                  f"({', '.join(f'{t:.2f}' for t in times[suffix])})")
        publish = phases.pop("publish", 0.0)
        removal = phases.get("remove store", 0.0)
        phases["convert to netCDF"] = publish - removal
        print("  phases of the last .nc run [s]: " + ", ".join(
            f"{label} {seconds:.2f}" for label, seconds in phases.items()))

        ds = sim.io.read_results(folder / "run.nc")
        write_netcdf(ds, folder / "compressed.nc", new_run_id(), compress=True)
        encoding = {name: {"compressors": blosc_lz4()} for name in ds.data_vars}
        ds.to_zarr(folder / "compressed.zarr", mode="w", zarr_format=2, consolidated=True,
                   encoding=encoding)
        print("  sizes [bytes]:")
        for label, plain, packed in (("netCDF", "run.nc", "compressed.nc"),
                                     ("Zarr", "run.zarr", "compressed.zarr")):
            a, b = _size(folder / plain), _size(folder / packed)
            print(f"    {label:<7} uncompressed {a:>13,}   compressed {b:>13,}   "
                  f"(compressed / uncompressed {b / a:.2f})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
