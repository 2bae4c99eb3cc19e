"""Schedulers: run chunk tasks in process, on threads, or on Dask, results in order.

``sync`` needs nothing; ``threads``, ``processes`` and a scheduler address use
Dask (``pip install fiscal-strain-sim[dask]``): ``threads`` its local threaded
scheduler, ``processes`` a `dask.distributed.LocalCluster` of single-threaded
worker processes, and ``tcp://HOST:PORT`` an existing cluster. Every task is a
chunk of whole seed blocks, so the results are the same bit for bit whichever
runs them; at most `window` tasks are in flight, which bounds memory.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sim.errors import UserError

LOCAL_SCHEDULERS = ("sync", "threads", "processes")


ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")
"""A Dask scheduler address: tcp:// or tls://, a host, a port."""


def check_scheduler(scheduler: str) -> None:
    """Refuse an unknown scheduler name or a malformed address (``tcp://host:port``)."""
    if scheduler in LOCAL_SCHEDULERS:
        return
    match = ADDRESS.fullmatch(scheduler)
    if match and 1 <= int(match.group(3)) <= 65535:
        return
    raise UserError(f"--scheduler: expected sync, threads, processes or a Dask scheduler "
                    f"address tcp://HOST:PORT (port 1-65535); got {scheduler!r}")


def _dask():
    try:
        import dask  # noqa: F401
        from dask import distributed
    except ImportError:
        raise UserError("--scheduler: needs Dask; install it with "
                        "pip install 'fiscal-strain-sim[dask]'") from None
    return distributed


def map_ordered(function: Callable[[Any], Any], tasks: Iterable, scheduler: str = "sync",
                workers: int | None = None, window: int | None = None) -> Iterator[Any]:
    """Apply `function` to each task and yield the results in task order.

    Parameters
    ----------
    function : callable
        A top-level (picklable) function.
    tasks : iterable
    scheduler : str
        ``sync``, ``threads``, ``processes`` or a Dask scheduler address.
    workers : int, optional
        Worker processes or threads (default: the machine's cores).
    window : int, optional
        Tasks in flight at once (default: twice the workers).
    """
    check_scheduler(scheduler)
    if scheduler == "sync":
        yield from map(function, tasks)
        return
    workers = workers or os.cpu_count() or 1
    window = window or 2 * workers
    if scheduler == "threads":
        from concurrent.futures import ThreadPoolExecutor

        _dask()  # same extra for every parallel scheduler
        with ThreadPoolExecutor(workers) as pool:
            yield from _windowed(pool.submit, function, tasks, window, lambda f: f.result())
        return
    distributed = _dask()
    with _client(distributed, scheduler, workers) as client:
        yield from _windowed(lambda f, t: client.submit(f, t, pure=False), function, tasks,
                             window, lambda f: f.result())


@contextlib.contextmanager
def _client(distributed, scheduler: str, workers: int):
    if scheduler == "processes":
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                      processes=True, dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout="10s")
    except (OSError, ValueError, TypeError) as error:
        raise UserError(f"--scheduler: cannot reach {scheduler}: {error}") from None
    with client:
        yield client


def _windowed(submit, function, tasks, window, result) -> Iterator[Any]:
    pending: deque = deque()
    for task in tasks:
        pending.append(submit(function, task))
        if len(pending) >= window:
            yield result(pending.popleft())
    while pending:
        yield result(pending.popleft())
