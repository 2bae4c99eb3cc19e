"""sim.run.plan: chunking, the memory and disk checks, and `execute`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim.errors import ParameterError, ResourceError
from sim.priors.sampling import SEED_BLOCK_SAMPLES, root_seed
from sim.run import plan as plan_module
from sim.run.plan import (
    SUMMARY_CHUNK_SAMPLES,
    chunks_in_flight,
    execute,
    kept_bytes,
    make_plan,
    memory_needed_bytes,
)

from .conftest import CONFIGS

BASELINE = sim.load_scenario(CONFIGS / "baseline.toml")
PLENTY = 2**40


def _plan(samples: int, **kwargs):
    scenario = BASELINE.with_run(samples=samples)
    return make_plan(scenario, root_seed(scenario.seed),
                     **{"available_bytes": PLENTY, **kwargs})


@given(samples=st.integers(1, 5 * SEED_BLOCK_SAMPLES),
       blocks_per_chunk=st.integers(1, 4), first_block=st.integers(0, 5))
def test_tasks_cover_every_sample_once_in_order(samples, blocks_per_chunk, first_block):
    plan = _plan(samples, chunk_samples=blocks_per_chunk * SEED_BLOCK_SAMPLES)
    rows = [task.rows for task in plan.tasks(first_block)]
    start = min(first_block * SEED_BLOCK_SAMPLES, samples)
    covered = [r for lo, hi in rows for r in range(lo, hi)]
    assert covered == list(range(start, samples))
    assert all(hi - lo <= blocks_per_chunk * SEED_BLOCK_SAMPLES for lo, hi in rows)


def test_listed_blocks_are_the_only_ones_computed():
    plan = _plan(6 * SEED_BLOCK_SAMPLES - 5, chunk_samples=2 * SEED_BLOCK_SAMPLES)
    tasks = list(plan.tasks(blocks=[5, 1, 2]))
    assert [list(t.blocks) for t in tasks] == [[1, 2], [5]]
    assert tasks[-1].rows == (5 * SEED_BLOCK_SAMPLES, 6 * SEED_BLOCK_SAMPLES - 5)


class Recorder:
    """A sink that records the rows it is given."""

    def __init__(self):
        self.rows = []

    def add(self, result):
        self.rows.append(result.rows)


def test_execute_feeds_every_sink_in_order_and_reports_progress():
    plan = _plan(3 * SEED_BLOCK_SAMPLES + 7, chunk_samples=SEED_BLOCK_SAMPLES)
    first, second, seen = Recorder(), Recorder(), []
    samples, seconds = execute(plan, [first, second], lambda done, total: seen.append(
        (done, total)))
    expected = [(0, 4096), (4096, 8192), (8192, 12288), (12288, 12295)]
    assert first.rows == second.rows == expected
    assert seen == [(hi, 12295) for _, hi in expected]
    assert samples == 12295 and seconds > 0


def test_the_window_given_to_the_scheduler_is_what_the_memory_check_counts(monkeypatch):
    windows = []
    real = plan_module.map_ordered

    def spy(function, tasks, scheduler, workers, window=None):
        windows.append(window)
        return real(function, tasks, "sync", None)

    monkeypatch.setattr(plan_module, "map_ordered", spy)
    plan = _plan(100, scheduler="threads", workers=3)
    execute(plan, [Recorder()])
    assert windows == [plan.in_flight] == [chunks_in_flight("threads", 3)] == [6]
    assert chunks_in_flight("sync", 8) == 1


def test_more_chunks_in_flight_need_more_memory():
    one = memory_needed_bytes(BASELINE, 10_000, 8192, "full", in_flight=1)
    four = memory_needed_bytes(BASELINE, 10_000, 8192, "full", in_flight=4)
    assert four > one
    # Summary statistics cost a fixed amount (about 0.1 GB here); full arrays grow.
    assert memory_needed_bytes(BASELINE, 10**6, 8192, "summary") < memory_needed_bytes(
        BASELINE, 10**6, 8192, "full")
    assert memory_needed_bytes(BASELINE, 10**6, 8192, "summary") - memory_needed_bytes(
        BASELINE, 10**5, 8192, "summary") == kept_bytes(BASELINE, 9 * 10**5, "summary")


def test_an_in_memory_run_that_does_not_fit_is_refused_saying_what_fits():
    need = memory_needed_bytes(BASELINE, 100_000, 8192)
    with pytest.raises(ResourceError, match=r"at most \d+ samples fit"):
        _plan(100_000, chunk_samples=8192, available_bytes=need // 2)


def test_a_run_to_disk_keeps_nothing_per_sample_in_memory(tmp_path):
    """The same budget refuses 10^6 samples in memory but plans them to disk."""
    budget = memory_needed_bytes(BASELINE, 1_000_000, 8192) // 4
    with pytest.raises(ResourceError):
        _plan(1_000_000, chunk_samples=8192, available_bytes=budget)
    plan = _plan(1_000_000, chunk_samples=8192, available_bytes=budget,
                 out=tmp_path / "r.nc")
    assert plan.chunk_samples == 8192


def test_summary_runs_to_disk_take_larger_chunks_bounded_by_memory(tmp_path):
    out = tmp_path / "r.zarr"
    big = _plan(10**6, keep="summary", out=out, available_bytes=None)
    assert big.chunk_samples >= SUMMARY_CHUNK_SAMPLES
    small = _plan(10**6, keep="summary", out=out, available_bytes=2**28)
    assert small.chunk_samples < big.chunk_samples
    assert small.chunk_samples % SEED_BLOCK_SAMPLES == 0


def test_a_run_to_a_full_disk_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(plan_module.io, "free_disk_bytes", lambda directory: 10**6)
    with pytest.raises(ResourceError, match=r"iB on disk but 976\.6 KiB is free"):
        _plan(100_000, out=tmp_path / "r.nc")


@pytest.mark.parametrize(("kwargs", "parameter"), [
    ({"keep": "most"}, "keep"),
])
def test_bad_arguments_name_the_parameter(kwargs, parameter):
    with pytest.raises(ParameterError) as refused:
        _plan(100, **kwargs)
    assert refused.value.parameter == parameter
    assert str(refused.value).startswith(f"{parameter}: ")


def test_simulate_goes_through_the_plan(monkeypatch):
    """`sim.simulate` computes its chunks with `execute` (one execution path)."""
    calls = []
    real = plan_module.execute

    def counting(plan, sinks, progress=None, **kwargs):
        calls.append((plan.chunk_samples, len(sinks)))
        return real(plan, sinks, progress, **kwargs)

    monkeypatch.setattr("sim.run.simulate.execute", counting)
    ds = sim.simulate(BASELINE, samples=50, seed=1, chunk_samples=SEED_BLOCK_SAMPLES)
    assert calls == [(SEED_BLOCK_SAMPLES, 2)] and ds.sizes["sample"] == 50
    assert np.isfinite(ds["force_persons"].values).all()
