"""Keep freed chunk memory in the process for the next chunk (glibc only).

Each chunk allocates its outputs afresh (about 22 MB per 4,096 samples at 24 steps). By
default glibc returns such blocks to the kernel when they are freed, and the next chunk
pays a page fault per 4 KiB page to get them back: about 1.8x the time of drawing the
chunk's random numbers (benchmarks/README.md). `keep_freed_memory` raises glibc's
thresholds so blocks under 32 MiB come from, and return to, the process's own heap, and
the heap is trimmed only when over 256 MiB of it is free. Arrays larger than 32 MiB
(the kept results) are still mapped and unmapped directly, so memory is given back when
results are dropped.

It is called once per process by the first run (`sim.run.plan.run_tasks`); set
``FISCAL_SIM_KEEP_FREED_MEMORY=0`` to leave the allocator alone. Elsewhere than glibc it
does nothing.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2**20
TRIM_THRESHOLD_BYTES = 256 * 2**20
ENV = "FISCAL_SIM_KEEP_FREED_MEMORY"

_done: list[bool] = []


def keep_freed_memory() -> bool:
    """Tune glibc's allocator once per process; True if it is (now) tuned."""
    if _done:
        return _done[0]
    tuned = False
    if os.environ.get(ENV, "1") != "0":
        try:
            libc = ctypes.CDLL("libc.so.6")
            tuned = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                         and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
        except (OSError, AttributeError):  # not glibc
            tuned = False
    _done.append(tuned)
    return tuned
