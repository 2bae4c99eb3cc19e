"""A test hook that stops a run at a named phase, as a crash or Ctrl-C would.

Set ``FISCAL_SIM_FAULT=PHASE[:N][:ACTION]`` in the environment: the N-th time
(default 1) the run reaches `point(PHASE)`, ACTION happens: ``kill`` (default,
SIGKILL: no clean-up runs), ``int`` (SIGINT, as Ctrl-C) or ``wait`` (sleep until
killed, to hold a lock in concurrency tests). Unset, `point` costs one dict lookup.
The phases are listed in `PHASES`; docs/batch.md says where each one is.
"""

from __future__ import annotations

import os
import signal
import time

FAULT_ENV = "FISCAL_SIM_FAULT"
PHASES = (
    "store-created",       # partial store in place, no checkpoint yet
    "chunk-written",       # a chunk's rows appended, its checkpoint not yet written
    "checkpointed",        # a checkpoint written
    "statistics-written",  # finishing: statistics and final attrs written, not consolidated
    "finished",            # finishing: store complete and consolidated, not yet published
    "output-written",      # publishing: .nc converted to its temporary file, or the old
                           #   .zarr output moved aside; the output not yet in place
    "published",           # the output in place; the partial store or checkpoint remain
    "store-removed",       # the partial store removed, the checkpoint remains
)
_reached: dict[str, int] = {}


def point(phase: str) -> None:
    """Mark that the run has reached `phase` (see the module docstring)."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, rest = spec.partition(":")
    if name != phase:
        return
    parts = rest.split(":") if rest else []
    count = int(parts[0]) if parts and parts[0].isdigit() else 1
    action = next((p for p in parts if not p.isdigit()), "kill")
    _reached[phase] = _reached.get(phase, 0) + 1
    if _reached[phase] != count:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "int":
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the KeyboardInterrupt arrives here
    elif action == "wait":
        while True:
            time.sleep(0.05)
