"""sim.run.sketch: quantile error bound, exact merging, moments."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sim.run.sketch import MIN_MAGNITUDE, Moments, QuantileSketch

LEVELS = np.array([0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0])


@given(st.integers(0, 2**32 - 1), st.sampled_from(["lognormal", "normal", "mixed"]),
       st.integers(1, 3000))
def test_quantiles_within_the_relative_error_bound(seed, kind, n):
    """DDSketch's guarantee: |q_hat - q| <= alpha |q| for NumPy's 'lower' quantile
    (plus 1e-6 relative for bucketing in float32)."""
    rng = np.random.default_rng(seed)
    values = {"lognormal": rng.lognormal(10, 2, (3, n)),
              "normal": rng.normal(0, 1e6, (3, n)),
              "mixed": np.where(rng.random((3, n)) < 0.2, 0.0, rng.normal(5, 20, (3, n)))}[kind]
    sketch = QuantileSketch(3, relative_accuracy=0.01)
    for part in np.array_split(values, 4, axis=1):
        sketch.update(part)
    exact = np.quantile(values, LEVELS, axis=1, method="lower")
    estimate = sketch.quantiles(LEVELS)
    assert np.all(np.abs(estimate - exact) <= (0.01 + 1e-6) * np.abs(exact) + MIN_MAGNITUDE)


def test_sketch_counts_do_not_depend_on_block_order():
    values = np.random.default_rng(1).lognormal(0, 3, (2, 1000))
    a, b = QuantileSketch(2), QuantileSketch(2)
    a.update(values)
    for part in reversed(np.array_split(values, 7, axis=1)):
        b.update(part)
    np.testing.assert_array_equal(a.counts, b.counts)


def test_empty_series_give_nan():
    assert np.isnan(QuantileSketch(1).quantiles(np.array([0.5]))).all()


@given(st.lists(st.integers(1, 50), min_size=1, max_size=6), st.integers(0, 1000))
def test_merged_moments_equal_the_whole(sizes, seed):
    values = np.random.default_rng(seed).normal(3, 2, (2, sum(sizes)))
    total = Moments.empty(2)
    start = 0
    for size in sizes:
        total.merge(Moments.of(values[:, start:start + size]))
        start += size
    np.testing.assert_allclose(total.mean, values.mean(axis=1), rtol=1e-12)
    if values.shape[1] > 1:
        np.testing.assert_allclose(total.sd, values.std(axis=1, ddof=1), rtol=1e-10)
    assert total.count == values.shape[1]


def _retained_bytes(sketch: QuantileSketch, blocks: list[np.ndarray]) -> int:
    """Bytes still allocated after updating `sketch` with `blocks` (the blocks made
    before tracing starts, so only what the updates keep is counted)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for block in blocks:
            sketch.update(block)
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_memory_of_a_sketch_does_not_depend_on_samples():
    """The whole state of a sketch (everything pickled with it) is the same size after
    10,000 samples per series as after 1,000, and the updates keep no allocation: a
    sketch that held on to its samples or grew its store would fail both."""
    rng = np.random.default_rng(0)
    few_blocks = [rng.lognormal(0, 3, size=(5, 1_000))]
    many_blocks = [rng.lognormal(0, 3, size=(5, 1_000)) for _ in range(10)]
    # tracemalloc counts every thread's allocations (in the full suite, threads left by
    # earlier tests may allocate while it traces): the least of three tries is what the
    # updates keep; a sketch holding its samples would keep them on every try.
    retained_few = retained_many = np.inf
    for _ in range(3):
        few, many = QuantileSketch(5), QuantileSketch(5)
        retained_few = min(retained_few, _retained_bytes(few, few_blocks))
        retained_many = min(retained_many, _retained_bytes(many, many_blocks))
    assert few.counts.sum() == 5_000 and many.counts.sum() == 50_000
    assert len(pickle.dumps(many)) == len(pickle.dumps(few))
    # The ten blocks hold 400 kB; tracemalloc's own bookkeeping stays far below that.
    block_bytes = sum(b.nbytes for b in many_blocks)
    assert retained_many < block_bytes / 10, (retained_many, block_bytes)
    assert retained_many < retained_few + block_bytes / 10


def test_infinite_values_read_as_infinite_quantiles_without_warnings():
    """The outermost buckets hold everything beyond MAX_MAGNITUDE: an infinite output (the
    NWF's cover years when nothing is spent) reads back as inf, not as 1e18."""
    import warnings

    values = np.full((2, 100), np.inf)
    values[1, :60] = 5.0
    sketch = QuantileSketch(2)
    sketch.update(values)
    q = sketch.quantiles(np.array([0.25, 0.5, 0.95]))
    assert np.all(np.isinf(q[:, 0]))
    np.testing.assert_allclose(q[:2, 1], 5.0, rtol=0.011)
    assert np.isinf(q[2, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        moments = Moments.of(values)
        moments.merge(Moments.of(values))
    assert np.isinf(moments.mean[0]) and np.isnan(moments.sd[0])
