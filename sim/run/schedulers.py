"""Schedulers: run chunk tasks in process, on threads, or on Dask, results in order.

``sync`` needs nothing; ``threads``, ``processes`` and a scheduler address use
Dask (``pip install fiscal-strain-sim[dask]``): ``threads`` a local thread pool,
``processes`` a `dask.distributed.LocalCluster` of single-threaded worker
processes, and ``tcp://HOST:PORT`` an existing cluster. Every task is a chunk of
whole seed blocks, so the results are the same bit for bit whichever runs them.

Tasks in flight: at most `window` tasks are submitted and not yet consumed, which
bounds memory; the default is `in_flight(scheduler, workers)`, 1 for ``sync`` and
twice the workers otherwise, the figure the memory checks assume
(`sim.run.simulate.check_memory`). Workers default to `DEFAULT_WORKERS`.

Distributed schedulers (``processes``, an address) cost milliseconds per task and
pickle everything a task holds, so:

- the ``processes`` cluster is started once per process and reused by later runs
  (`client_for`; closed at exit, or by `close_clients`), or a caller passes its own
  ``client``;
- a task's ``scenario`` attribute is scattered to the workers once per run, and
  each task sends only a key to it;
- a function may carry ``group_tasks(tasks, workers)``, which joins small tasks into
  bigger ones (`sim.run.chunks.group_tasks`); results come back one per grouped
  task;
- tasks are submitted with ``pure=False`` (no hashing of their arguments).
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sim.errors import ParameterError, UserError

LOCAL_SCHEDULERS = ("sync", "threads", "processes")

DEFAULT_WORKERS = os.cpu_count() or 1
"""Workers when none are given, the machine's cores: what the memory checks assume
(`in_flight`)."""

ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")
"""A Dask scheduler address: tcp:// or tls://, a host, a port."""


def check_scheduler(scheduler: str) -> None:
    """Refuse an unknown scheduler name or a malformed address (``tcp://host:port``)."""
    if isinstance(scheduler, str):
        if scheduler in LOCAL_SCHEDULERS:
            return
        match = ADDRESS.fullmatch(scheduler)
        if match and 1 <= int(match.group(3)) <= 65535:
            return
    raise ParameterError("scheduler", "expected sync, threads, processes or a Dask scheduler "
                         f"address tcp://HOST:PORT (port 1-65535); got {scheduler!r}")


def in_flight(scheduler: str, workers: int | None = None) -> int:
    """Tasks in flight at once by default: 1 for ``sync``, else twice the workers
    (`DEFAULT_WORKERS` when not given); memory checks reserve one working set for each."""
    return 1 if scheduler == "sync" else 2 * (workers or DEFAULT_WORKERS)


def _dask():
    try:
        import dask  # noqa: F401
        from dask import distributed
    except ImportError:
        raise ParameterError("scheduler", "needs Dask; install it with "
                             "pip install 'fiscal-strain-sim[dask]'") from None
    return distributed


def map_ordered(function: Callable[[Any], Any], tasks: Iterable, scheduler: str = "sync",
                workers: int | None = None, window: int | None = None, *,
                client: Any = None) -> Iterator[Any]:
    """Apply `function` to each task and yield the results in task order.

    Parameters
    ----------
    function : callable
        A top-level (picklable) function. For distributed schedulers, its
        ``group_tasks(tasks, workers)`` attribute, if any, groups the tasks first.
    tasks : iterable
    scheduler : str
        ``sync``, ``threads``, ``processes`` or a Dask scheduler address.
    workers : int, optional
        Worker processes or threads (default `DEFAULT_WORKERS`).
    window : int, optional
        Tasks submitted and not yet yielded, at most (default `in_flight`: 1 for
        ``sync``, twice the workers otherwise).
    client : dask.distributed.Client, optional
        Run on this client (distributed schedulers) instead of the process's own
        cluster (`client_for`).
    """
    check_scheduler(scheduler)
    if window is not None and window < 1:
        raise UserError(f"window: expected at least 1 task in flight, got {window}")
    if scheduler == "sync":
        yield from map(function, tasks)
        return
    workers = workers or DEFAULT_WORKERS
    window = window or in_flight(scheduler, workers)
    if scheduler == "threads":
        from concurrent.futures import ThreadPoolExecutor

        _dask()  # same extra for every parallel scheduler
        with ThreadPoolExecutor(workers) as pool:
            yield from _windowed(lambda task: pool.submit(function, task), tasks, window)
        return
    if client is not None or scheduler == "processes":
        yield from _distributed(function, tasks, client or client_for(scheduler, workers),
                                workers, window)
        return
    with _connect(_dask(), scheduler) as client:  # another cluster: it may not outlive us
        yield from _distributed(function, tasks, client, workers, window)


def _distributed(function, tasks, client, workers: int, window: int) -> Iterator[Any]:
    group = getattr(function, "group_tasks", None)
    if group is not None:
        tasks = group(tasks, _worker_count(client, workers))
    shared: dict[int, tuple[Any, Any]] = {}
    try:
        yield from _windowed(lambda task: _submit(client, function, task, shared), tasks,
                             window)
    finally:
        for _, future in shared.values():
            future.release()


def _submit(client, function, task, shared: dict):
    """Submit one task; its ``scenario`` goes to the workers once (a scattered future)."""
    scenario = getattr(task, "scenario", None)
    if scenario is None or not dataclasses.is_dataclass(task) or "scenario" not in {
            f.name for f in dataclasses.fields(task)}:
        return client.submit(function, task, pure=False)
    if id(scenario) not in shared:  # the object is kept alive with it, so ids stay unique
        shared[id(scenario)] = (scenario, client.scatter(scenario, broadcast=True, hash=False))
    light = dataclasses.replace(task, scenario=None)
    return client.submit(_with_scenario, function, light, shared[id(scenario)][1], pure=False)


def _with_scenario(function, task, scenario):
    """In the worker: put the scattered scenario back into the task and run it."""
    return function(dataclasses.replace(task, scenario=scenario))


def _worker_count(client, default: int) -> int:
    try:
        return len(client.scheduler_info().get("workers", {})) or default
    except Exception:  # a count for task sizes only
        return default


def _windowed(submit, tasks, window) -> Iterator[Any]:
    pending: deque = deque()
    try:
        for task in tasks:
            pending.append(submit(task))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:  # stopped early: drop what is still queued
            future.cancel()


PRE_SPAWN_ENVIRON = "distributed.nanny.pre-spawn-environ"
_CLIENTS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def client_for(scheduler: str = "processes", workers: int | None = None):
    """The process's Dask client for a distributed scheduler, started on first use.

    ``processes`` starts a LocalCluster of `workers` single-threaded worker processes
    (seconds: report it apart from run times), an address connects to that cluster;
    either is kept for later calls of this process and closed at exit. (`map_ordered`
    keeps only its LocalCluster: a cluster at an address gets a client per run.)
    """
    check_scheduler(scheduler)
    if scheduler in ("sync", "threads"):
        raise ParameterError("scheduler", f"{scheduler} runs in this process; no cluster needed")
    distributed = _dask()
    workers = workers or DEFAULT_WORKERS
    key = (scheduler, workers if scheduler == "processes" else 0)
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is not None and client.status == "running":
            return client
        if scheduler == "processes":
            import dask

            # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers, which freezes glibc's
            # mmap threshold at 128 KiB: every (K, chunk) array is then mapped afresh,
            # and page faults doubled the workers' CPU time. Keep glibc's defaults.
            with dask.config.set({PRE_SPAWN_ENVIRON + ".MALLOC_TRIM_THRESHOLD_": None}):
                cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                                   processes=True, dashboard_address=None)
            client = distributed.Client(cluster)
        else:
            client = _connect(distributed, scheduler)
        client.run(_prepare_worker)
        if not _CLIENTS:  # registered after Dask's own exit handlers, so it runs before them
            atexit.register(close_clients)
        _CLIENTS[key] = client
        return client


def _connect(distributed, address: str):
    """A client of the cluster at `address` (a context manager that closes it)."""
    try:
        return distributed.Client(address, timeout="10s")
    except (OSError, ValueError, TypeError) as error:
        raise ParameterError("scheduler", f"cannot reach {address}: {error}") from None


def _prepare_worker() -> None:
    """Import the simulator and build its tables in a worker, before any task."""
    from sim.run.chunks import prepare_worker

    prepare_worker()


def close_clients() -> None:
    """Close the clients (and local clusters) `client_for` started."""
    with _LOCK:
        clients = list(_CLIENTS.values())
        _CLIENTS.clear()
    for client in clients:
        cluster = client.cluster
        try:
            client.close()
            if cluster is not None:
                cluster.close()
        except Exception:  # shutting down: nothing left to save
            pass


__all__ = ["DEFAULT_WORKERS", "check_scheduler", "client_for", "close_clients", "in_flight",
           "map_ordered"]
