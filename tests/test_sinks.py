"""sim.run.sinks and sim.run.dataset: where chunk results go, and how they are labelled."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.io.store import StoreAppender, read_checkpoint
from sim.priors.sampling import SEED_BLOCK_SAMPLES, root_seed
from sim.run.dataset import SCENARIO, data_variables, kept_names, streamed_names
from sim.run.plan import execute, make_plan
from sim.run.sinks import ArraySink, SketchSink, StoreSink, StoreState

from .conftest import CONFIGS

BASELINE = sim.load_scenario(CONFIGS / "baseline.toml").with_run(
    samples=2 * SEED_BLOCK_SAMPLES + 100, seed=5)


def _run(keep: str, chunk_samples: int, sinks):
    plan = make_plan(BASELINE, root_seed(BASELINE.seed), keep=keep,
                     chunk_samples=chunk_samples, available_bytes=2**40)
    execute(plan, sinks)
    return plan


@pytest.mark.parametrize("keep", ["full", "summary"])
def test_array_and_sketch_sinks_do_not_depend_on_the_chunking(keep):
    results = []
    for chunk in (SEED_BLOCK_SAMPLES, 3 * SEED_BLOCK_SAMPLES):
        arrays = ArraySink(BASELINE, keep)
        sketches = SketchSink(streamed_names(keep, BASELINE), BASELINE.grid.n_steps)
        _run(keep, chunk, [arrays, sketches])
        results.append((arrays, sketches.data_vars()))
    (a, sa), (b, sb) = results
    for name in a.arrays:
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name], err_msg=name)
    np.testing.assert_array_equal(a.claims, b.claims)
    assert sa.keys() == sb.keys() and (keep == "full") == (not sa)
    for name in sa:
        np.testing.assert_array_equal(sa[name][1], sb[name][1], err_msg=name)


def test_sketch_state_restores_the_same_statistics():
    sketches = SketchSink(streamed_names("summary", BASELINE), BASELINE.grid.n_steps)
    _run("summary", SEED_BLOCK_SAMPLES, [sketches])
    restored = SketchSink(streamed_names("summary", BASELINE), BASELINE.grid.n_steps)
    restored.restore(sketches.state())
    before, after = sketches.data_vars(), restored.data_vars()
    for name in before:
        np.testing.assert_array_equal(before[name][1], after[name][1], err_msg=name)


def test_data_variables_are_sample_major_views_not_copies():
    arrays = ArraySink(BASELINE, "full")
    _run("full", SEED_BLOCK_SAMPLES, [arrays])
    variables = arrays.data_variables()
    dims, values, attrs = variables["force_persons"]
    assert dims == ("sample", "time_bound") and values.shape[0] == BASELINE.samples
    assert np.shares_memory(values, arrays.arrays["force_persons"])
    assert attrs["units"] and attrs["description"]
    assert variables["claim_value"][0] == ("claim", "sample")


def test_a_scenario_axis_leads_every_variable():
    """A sweep's (scenario, time, sample) arrays are labelled (scenario, sample, time)."""
    n, k = 10, BASELINE.grid.n_steps
    outputs = {name: np.zeros((2, n)) for name in kept_names("full", BASELINE)}
    outputs["force_persons"] = np.arange(2 * (k + 1) * n, dtype=float).reshape(2, k + 1, n)
    outputs["recruits_persons"] = np.zeros((2, k, n))
    variables = data_variables(BASELINE, "full", outputs,
                               {"recruitment.per_month": np.zeros((2, n))},
                               np.zeros((2, 3, n)), scenario_axis=True)
    assert all(dims[0] == SCENARIO for dims, _, _ in variables.values())
    dims, values, _ = variables["force_persons"]
    assert dims == (SCENARIO, "sample", "time_bound") and values.shape == (2, n, k + 1)
    assert values[1, 3, 5] == outputs["force_persons"][1, 5, 3]
    assert variables["param_recruitment_per_month"][0] == (SCENARIO, "sample")
    assert variables["claim_value"][0] == (SCENARIO, "claim", "sample")


def test_store_sink_appends_and_checkpoints_each_chunk(tmp_path):
    store = tmp_path / "r.nc.partial.zarr"
    state = StoreState("run-1", fingerprint="f")
    sketches = SketchSink(streamed_names("full", BASELINE), BASELINE.grid.n_steps)
    sink = StoreSink(BASELINE, root_seed(BASELINE.seed), "full", store, state, sketches)
    memory = ArraySink(BASELINE, "full")
    _run("full", SEED_BLOCK_SAMPLES, [sink, memory])
    assert state.blocks_done == 3 and len(state.checksums) == 3
    checkpoint = read_checkpoint(store)
    assert int(checkpoint["blocks_done"]) == 3 and str(checkpoint["run_id"]) == "run-1"
    stored = StoreAppender(store).arrays
    np.testing.assert_array_equal(np.asarray(stored["force_persons"]),
                                  memory.arrays["force_persons"].T)
    np.testing.assert_array_equal(np.asarray(stored["sample"]), np.arange(BASELINE.samples))
