"""Schedulers: results in order, a bounded window, refusals, and the same numbers on Dask."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

import sim
from sim.errors import UserError
from sim.priors.sampling import SEED_BLOCK_SAMPLES, root_seed
from sim.run.chunks import compute_chunk, group_tasks, iter_tasks
from sim.run.dataset import streamed_names
from sim.run.schedulers import DEFAULT_WORKERS, client_for, in_flight, map_ordered
from sim.run.sketch import QuantileSketch
from tests.conftest import CONFIGS

pytest.importorskip("dask.distributed")


def _slow_square(x: int) -> int:
    time.sleep(random.random() * 0.01)  # finish out of order
    return x * x


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_results_come_back_in_task_order(scheduler):
    assert list(map_ordered(_slow_square, range(30), scheduler, workers=4, window=5)) == [
        x * x for x in range(30)]


@pytest.mark.parametrize("window", [1, 3, 8])
def test_the_window_bounds_the_tasks_in_flight(window):
    lock, running, pulled = threading.Lock(), [0, 0], [0]

    def work(x):
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
        return x

    def tasks():
        for x in range(40):
            pulled[0] += 1
            yield x

    most = 0
    for consumed, _ in enumerate(map_ordered(work, tasks(), "threads", workers=4,
                                             window=window), 1):
        most = max(most, pulled[0] - consumed + 1)  # submitted, not yet consumed
    assert most <= window and running[1] <= min(window, 4)


def test_default_window_is_what_the_memory_check_assumes():
    assert in_flight("sync") == 1
    assert in_flight("threads") == in_flight("processes") == 2 * DEFAULT_WORKERS
    assert in_flight("processes", 3) == 6


@pytest.mark.parametrize("scheduler", ["gpu", "tcp://host:99999", "processes ", ""])
def test_bad_scheduler_names_are_refused_in_one_line(scheduler):
    with pytest.raises(UserError) as error:
        list(map_ordered(_slow_square, range(3), scheduler))
    message = str(error.value)
    assert message.startswith("scheduler: ") and "\n" not in message, message
    assert error.value.parameter == "scheduler"


def test_a_window_below_one_is_refused():
    with pytest.raises(UserError, match="window"):
        list(map_ordered(_slow_square, range(3), "threads", window=0))


def test_grouped_tasks_give_the_chunks_numbers():
    """A grouped task (computed chunk by chunk) returns the joined chunks' values, the
    sum of their sketch counts and every seed block's moments in order."""
    scenario = sim.load_scenario(CONFIGS / "baseline.toml").with_run(samples=5 * 4096 + 100)
    root = root_seed(4)
    streamed = tuple(streamed_names("summary", scenario))
    chunks = list(map(compute_chunk, iter_tasks(scenario, root, 4096, streamed=streamed,
                                                cast=True)))
    grouped = list(group_tasks(iter_tasks(scenario, root, 4096, streamed=streamed, cast=True),
                               workers=1))
    assert len(grouped) == 3 and grouped[0].step_blocks == 1
    results = list(map(compute_chunk, grouped))
    assert [r.rows for r in results] == [(0, 2 * 4096), (2 * 4096, 4 * 4096),
                                         (4 * 4096, scenario.samples)]
    for key in chunks[0].outputs:
        np.testing.assert_array_equal(
            np.concatenate([r.outputs[key] for r in results], axis=-1),
            np.concatenate([c.outputs[key] for c in chunks], axis=-1))
    for name in streamed:
        both = []
        for parts in (chunks, results):
            sketch = QuantileSketch(chunks[0].statistics[name][2][0].mean.size)
            for part in parts:
                sketch.add_sparse(*part.statistics[name][:2])
            moments = [m for part in parts for m in part.statistics[name][2]]
            both.append((sketch.counts, moments))
        np.testing.assert_array_equal(both[0][0], both[1][0])
        assert len(both[1][1]) == -(-scenario.samples // SEED_BLOCK_SAMPLES)
        for a, b in zip(*(m for _, m in both), strict=True):
            assert a.count == b.count
            np.testing.assert_array_equal(a.mean, b.mean)
            np.testing.assert_array_equal(a.m2, b.m2)


def test_processes_equal_sync_bit_for_bit_and_reuse_the_cluster():
    scenario = sim.load_scenario(CONFIGS / "baseline.toml").with_run(samples=10 * 4096 + 7,
                                                                      seed=5)
    for keep in ("summary", "full"):
        sync = sim.simulate(scenario, keep=keep, chunk_samples=4096)
        parallel = sim.simulate(scenario, keep=keep, chunk_samples=4096,
                                scheduler="processes", workers=2)
        assert sync.drop_attrs(deep=False).identical(parallel.drop_attrs(deep=False))
    assert client_for("processes", 2) is client_for("processes", 2)


def test_sketch_lookup_buckets_exactly():
    """The table lookup gives the bucket of the definition, at and around every
    bucket boundary, for both signs, zero, tiny and huge values."""
    sketch = QuantileSketch(1)
    edges = np.exp(sketch.log_gamma) ** np.arange(sketch.offset - 3,
                                                  sketch.offset + sketch.n_buckets + 3)
    edges = edges.astype(np.float32)
    values = np.concatenate([edges, np.nextafter(edges, np.float32(0)),
                             np.nextafter(edges, np.float32(np.inf)), [0.0, 1e-30, 3e38]])
    values = np.concatenate([values, -values]).astype(np.float32)[None, :]
    np.testing.assert_array_equal(sketch._columns(values), sketch._exact_columns(values))
