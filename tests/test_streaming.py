"""Streaming statistics: quantile error bound, exact merging, moments."""

from __future__ import annotations

import numpy as np
import pytest
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


def test_memory_of_a_sketch_does_not_depend_on_samples():
    sketch = QuantileSketch(5)
    before = sketch.counts.nbytes
    sketch.update(np.random.default_rng(0).lognormal(size=(5, 100_000)))
    assert sketch.counts.nbytes == before
    assert pytest.approx(sketch.counts.sum()) == 500_000
