"""Correlated priors: the Gaussian copula keeps marginals and hits the target rank correlations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import sim
from sim.priors.copula import (
    apply_copula,
    cholesky_factor,
    correlation_matrix,
    offending_pairs,
    spearman_to_pearson,
)
from sim.run.simulate import param_name

from .conftest import assert_same_run, minimal, run_cli

FALSE_FAILURE_RATE = 1e-6
Z = stats.norm.isf(FALSE_FAILURE_RATE / 2)
N = 20_000
# Var(atanh(Spearman)) ~ 1.06 / (n - 3) for a bivariate normal (Fieller, Hartley & Pearson 1957).
SPEARMAN_Z_SE = np.sqrt(1.06 / (N - 3))


def test_spearman_to_pearson_known_values():
    assert spearman_to_pearson(0.0) == 0.0
    assert spearman_to_pearson(1.0) == pytest.approx(1.0)
    assert spearman_to_pearson(0.5) == pytest.approx(2 * np.sin(np.pi / 12))
    r = 0.7  # and back: rho_S = (6 / pi) arcsin(r / 2)
    assert spearman_to_pearson(6 / np.pi * np.arcsin(r / 2)) == pytest.approx(r)


@st.composite
def valid_rank_matrices(draw):
    """Random positive definite correlation matrices, as Spearman pairs over d = 2..4."""
    d = draw(st.integers(2, 4))
    w = np.array(draw(st.lists(st.floats(-1, 1), min_size=d * (d + 1), max_size=d * (d + 1))))
    w = w.reshape(d, d + 1)
    cov = w @ w.T + 0.3 * np.eye(d)
    scale = np.sqrt(np.diag(cov))
    pearson = cov / np.outer(scale, scale)
    keys = [f"p{i}" for i in range(d)]
    pairs = [(keys[i], keys[j], float(6 / np.pi * np.arcsin(pearson[i, j] / 2)))
             for i in range(d) for j in range(i + 1, d)]
    return keys, pairs


@given(valid_rank_matrices(), st.integers(0, 2**32 - 1))
def test_achieved_rank_correlation_matches_target(matrix, seed):
    keys, pairs = matrix
    factor = cholesky_factor(correlation_matrix(keys, pairs))
    assert factor is not None
    unit = np.random.default_rng(seed).random((N, len(keys)))
    mixed = apply_copula(unit, factor)
    index = {k: i for i, k in enumerate(keys)}
    for a, b, target in pairs:
        achieved = stats.spearmanr(mixed[:, index[a]], mixed[:, index[b]]).statistic
        assert abs(np.arctanh(achieved) - np.arctanh(target)) <= Z * SPEARMAN_Z_SE, (
            a, b, target, achieved)
    # Marginals stay uniform: KS test at the stated false-failure rate.
    for column in mixed.T:
        assert stats.kstest(column, "uniform").pvalue > FALSE_FAILURE_RATE


CORRELATED = minimal(
    recruitment={"per_month": "30_000 to 50_000"},
    bonus={"regional_rub": {"dist": "triangular", "low": 6e5, "mode": 1.1e6, "high": 1.5e6}},
    fx={"rub_per_usd": {"dist": "uniform", "low": 80, "high": 100}},
    correlations=[
        {"a": "recruitment.per_month", "b": "bonus.regional_rub", "rank": 0.4},
        {"a": "fx.rub_per_usd", "b": "bonus.regional_rub", "rank": -0.3},
    ],
)


@pytest.mark.parametrize("design", ["random", "lhs", "sobol"])
def test_simulated_priors_keep_marginals_and_correlations(write_config, design):
    scenario = sim.load_scenario(write_config(CORRELATED))
    ds = sim.simulate(scenario, samples=2**14, seed=3, design=design)
    n = ds.sizes["sample"]
    se = np.sqrt(1.06 / (n - 3))
    for a, b, target in scenario.correlations:
        achieved = stats.spearmanr(ds[param_name(a)], ds[param_name(b)]).statistic
        assert abs(np.arctanh(achieved) - np.arctanh(target)) <= Z * se
    for key in ("recruitment.per_month", "bonus.regional_rub", "fx.rub_per_usd"):
        prior = scenario.priors[key]
        assert stats.kstest(ds[param_name(key)].values, prior.dist.cdf).pvalue > (
            FALSE_FAILURE_RATE)
    assert "recruitment.per_month" in ds.attrs["correlations"]


def test_correlated_runs_do_not_depend_on_chunking(write_config):
    scenario = sim.load_scenario(write_config(CORRELATED))
    a = sim.simulate(scenario, samples=9000, seed=1, chunk_samples=1)
    b = sim.simulate(scenario, samples=9000, seed=1)
    assert_same_run(a, b)


def test_offending_pairs_are_named():
    keys = ["a", "b", "c"]
    pairs = [("a", "b", 0.9), ("b", "c", 0.9), ("a", "c", -0.9)]
    assert cholesky_factor(correlation_matrix(keys, pairs)) is None
    assert set(offending_pairs(keys, pairs)) == set(pairs)


def _with(correlations):
    return minimal(recruitment={"per_month": "30_000 to 50_000"},
                   bonus={"regional_rub": "6e5 to 1.5e6"},
                   fx={"rub_per_usd": "80 to 100"}, correlations=correlations)


BAD = {
    "not positive definite": ([
        {"a": "recruitment.per_month", "b": "bonus.regional_rub", "rank": 0.9},
        {"a": "bonus.regional_rub", "b": "fx.rub_per_usd", "rank": 0.9},
        {"a": "recruitment.per_month", "b": "fx.rub_per_usd", "rank": -0.9}],
        "correlations", "not positive definite; inconsistent pairs: recruitment.per_month"),
    "unknown name": ([{"a": "recruitment.per_mnth", "b": "fx.rub_per_usd", "rank": 0.1}],
                     "correlations[0].a", "did you mean 'recruitment.per_month'"),
    "fixed prior": ([{"a": "pay.monthly_rub", "b": "fx.rub_per_usd", "rank": 0.1}],
                    "correlations[0].a", "is a fixed value"),
    "rank out of range": ([{"a": "recruitment.per_month", "b": "fx.rub_per_usd", "rank": 1}],
                          "correlations[0].rank", "(-1, 1)"),
    "twice": ([{"a": "recruitment.per_month", "b": "fx.rub_per_usd", "rank": 0.1},
               {"a": "fx.rub_per_usd", "b": "recruitment.per_month", "rank": 0.2}],
              "correlations[1]", "given twice"),
    "self": ([{"a": "fx.rub_per_usd", "b": "fx.rub_per_usd", "rank": 0.2}],
             "correlations[0]", "with itself"),
    "unknown key": ([{"a": "fx.rub_per_usd", "b": "recruitment.per_month", "rho": 0.2}],
                    "correlations[0].rho", "unknown key"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_correlations_exit_2(case, write_config, tmp_path, capsys):
    correlations, key, words = BAD[case]
    path = write_config(_with(correlations))
    status, _, err = run_cli("run", path, "--out", tmp_path / "o.nc", capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert key in err and words in err, err
    assert not (tmp_path / "o.nc").exists()
