"""Files: reading inputs safely, owning and atomically writing outputs (`outputs`), the
Zarr store of streamed runs (`store`), netCDF/Zarr results, fault injection for tests.
Builds on core and priors only.

The functions of `sim.io.files` are re-exported here (``sim.io.read_results``).

Internal: what users need is re-exported by `sim` and `sim.plots` (the public API,
docs/architecture.md); the modules here may change.
"""

from sim.io.files import (
    MAX_TEXT_BYTES,
    NETCDF_ENGINE,
    available_memory_bytes,
    free_disk_bytes,
    is_file,
    read_results,
    read_text,
    regular_file_problem,
    write_netcdf,
    write_results,
    write_text,
)

__all__ = [
    "MAX_TEXT_BYTES",
    "NETCDF_ENGINE",
    "available_memory_bytes",
    "free_disk_bytes",
    "is_file",
    "read_results",
    "read_text",
    "regular_file_problem",
    "write_netcdf",
    "write_results",
    "write_text",
]
