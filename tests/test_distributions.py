"""Prior families: parameterisation against scipy, sampling error bounds, range ends, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.priors.distributions import FAMILY_NAMES, PriorError, prior_from_value

# Each stochastic assertion fails by chance with probability FALSE_FAILURE_RATE.
FALSE_FAILURE_RATE = 1e-6
Z = stats.norm.isf(FALSE_FAILURE_RATE / 2)
N = 20_000
PROBS = np.array([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])

# (TOML value, the scipy distribution it must equal, written out independently)
CASES = {
    "uniform": ({"dist": "uniform", "low": 2.0, "high": 5.0}, stats.uniform(2, 3)),
    "normal": ({"dist": "normal", "mean": 1.0, "sd": 2.0}, stats.norm(1, 2)),
    "lognormal": ({"dist": "lognormal", "median": 5.0, "sigma": 0.3},
                  stats.lognorm(0.3, scale=5.0)),
    "triangular": ({"dist": "triangular", "low": 0.0, "mode": 1.0, "high": 4.0},
                   stats.triang(0.25, loc=0, scale=4)),
    "pert": ({"dist": "pert", "low": 0.0, "mode": 1.0, "high": 4.0},
             stats.beta(1 + 4 * 0.25, 1 + 4 * 0.75, loc=0, scale=4)),
    "truncnormal": ({"dist": "truncnormal", "mean": 0.0, "sd": 1.0, "low": -0.5, "high": 2.0},
                    stats.truncnorm(-0.5, 2.0)),
    "beta": ({"dist": "beta", "a": 2.0, "b": 5.0}, stats.beta(2, 5)),
    "range": ({"dist": "range", "low": 50_000, "high": 60_000},
              stats.lognorm((np.log(60_000) - np.log(50_000)) / (2 * stats.norm.ppf(0.95)),
                            scale=np.sqrt(50_000 * 60_000))),
    "range_normal": ("-10 to 30", stats.norm(10, 20 / stats.norm.ppf(0.95))),
    "triangular_at_low": ({"dist": "triangular", "low": 1.0, "mode": 1.0, "high": 4.0},
                          stats.triang(0.0, loc=1, scale=3)),
    "triangular_at_high": ({"dist": "triangular", "low": 1.0, "mode": 4.0, "high": 4.0},
                           stats.triang(1.0, loc=1, scale=3)),
}


def test_every_family_is_covered():
    covered = {value["dist"] for value, _ in CASES.values() if isinstance(value, dict)}
    assert covered | {"fixed"} == set(FAMILY_NAMES)


@pytest.mark.parametrize("name", CASES)
def test_ppf_equals_scipy(name):
    value, expected = CASES[name]
    u = np.concatenate([[0.0, 1e-12], np.linspace(0.001, 0.999, 101), [1 - 1e-12, 1.0]])
    np.testing.assert_allclose(prior_from_value(value).ppf(u), expected.ppf(u), rtol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_sample_quantiles_within_binomial_error(name):
    """The share of draws below each true quantile is Binomial(N, q) / N."""
    value, expected = CASES[name]
    draws = prior_from_value(value).sample(np.random.default_rng(7), N)
    below = (draws[:, None] < expected.ppf(PROBS)).mean(axis=0)
    tolerance = Z * np.sqrt(PROBS * (1 - PROBS) / N)
    assert np.all(np.abs(below - PROBS) <= tolerance)


@pytest.mark.parametrize("name", CASES)
def test_sample_mean_within_standard_error(name):
    value, expected = CASES[name]
    draws = prior_from_value(value).sample(np.random.default_rng(11), N)
    assert abs(draws.mean() - expected.mean()) <= Z * expected.std() / np.sqrt(N)
    # Sample variance: SE from the fourth central moment.
    mu4 = expected.expect(lambda x: (x - expected.mean()) ** 4)
    se_var = np.sqrt((mu4 - expected.var() ** 2) / N)
    assert abs(draws.var() - expected.var()) <= Z * se_var


@pytest.mark.parametrize(("text", "credibility"), [("50_000 to 60_000", 90),
                                                   ("-3 to 7", 90)])
def test_range_ends_are_its_5th_and_95th_percentiles(text, credibility):
    prior = prior_from_value(text)
    low, high = (float(x.replace("_", "")) for x in text.split(" to "))
    assert prior.quantile(0.05) == pytest.approx(low, rel=1e-12, abs=1e-12)
    assert prior.quantile(0.95) == pytest.approx(high, rel=1e-12)
    draws = prior.sample(np.random.default_rng(3), N)
    share_inside = np.mean((draws >= low) & (draws <= high))
    assert abs(share_inside - 0.90) <= Z * np.sqrt(0.9 * 0.1 / N)


def test_range_table_with_credibility():
    prior = prior_from_value({"dist": "range", "low": 1.0, "high": 4.0, "credibility": 50})
    assert prior.quantile(0.25) == pytest.approx(1.0)
    assert prior.quantile(0.75) == pytest.approx(4.0)
    assert prior.quantile(0.5) == pytest.approx(2.0)  # geometric midpoint: lognormal


def test_fixed_value_and_source():
    assert prior_from_value(3).ppf(np.array([0.1, 0.9])).tolist() == [3.0, 3.0]
    prior = prior_from_value({"dist": "fixed", "value": 2.5, "source": "decree"})
    assert prior.is_fixed and prior.source == "decree" and prior.quantile(0.3) == 2.5


@pytest.mark.parametrize(("value", "message"), [
    ({"dist": "gamma", "k": 1}, "dist must be one of"),
    ({"dist": "uniform", "low": 1}, "needs high"),
    ({"dist": "uniform", "low": 1, "high": 2, "mode": 1}, "unknown: mode"),
    ({"dist": "uniform", "low": 3, "high": 2}, "low < high"),
    ({"dist": "triangular", "low": 3, "mode": 3, "high": 2}, "low < high"),
    ({"dist": "pert", "low": 0, "mode": 3, "high": 2}, "low <= mode <= high"),
    ({"dist": "normal", "mean": 0, "sd": -1}, "sd > 0"),
    ({"dist": "lognormal", "median": 0, "sigma": 1}, "median > 0"),
    ({"dist": "beta", "a": 0, "b": 1}, "a > 0"),
    ({"dist": "range", "low": 1, "high": 2, "credibility": 100}, "credibility < 100"),
    ({"dist": "normal", "mean": "x", "sd": 1}, "mean must be a number"),
    ({"dist": "normal", "mean": float("nan"), "sd": 1}, "finite"),
    ({"dist": "uniform", "low": 0, "high": 1, "source": 3}, "source must be a string"),
    ("60_000 to 50_000", "low < high"),
    ("lots", "expected a number"),
    ("1 to many", "not a number"),
    ("1 to inf", "finite"),
    (True, "must be a number"),
    (float("inf"), "finite"),
])
def test_bad_specs_raise_prior_error(value, message):
    with pytest.raises(PriorError, match=message):
        prior_from_value(value)


def test_effective_support_of_unbounded_prior_uses_tail_quantiles():
    low, high = prior_from_value({"dist": "normal", "mean": 0, "sd": 1}).effective_support()
    assert low == pytest.approx(stats.norm.ppf(1e-9)) and high == pytest.approx(-low)
