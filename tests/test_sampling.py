"""Designs: LHS strata, Sobol balance, quantiles under every design, noise independent of it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sim
from sim.priors.sampling import SEED_BLOCK_SAMPLES, design_points, root_seed
from sim.run.simulate import param_name

from .conftest import assert_same_run, minimal, run_cli

FALSE_FAILURE_RATE = 1e-6
Z = stats.norm.isf(FALSE_FAILURE_RATE / 2)
PROBS = np.array([0.05, 0.25, 0.5, 0.75, 0.95])

PRIORS = {
    "recruitment": {"per_month": "30_000 to 50_000",
                    "shock_sd": {"dist": "uniform", "low": 0.1, "high": 0.3}},
    "losses": {"killed_share": {"dist": "pert", "low": 0.2, "mode": 0.25, "high": 0.3},
               "recovery_months": {"dist": "truncnormal", "mean": 3, "sd": 1, "low": 1,
                                   "high": 6}},
    "bonus": {"regional_rub": {"dist": "triangular", "low": 6e5, "mode": 1.1e6,
                               "high": 1.5e6}},
    "fx": {"rub_per_usd": {"dist": "lognormal", "median": 90, "sigma": 0.1},
           "volatility": 0.15},
}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    from .conftest import to_toml

    path = tmp_path_factory.mktemp("designs") / "designs.toml"
    path.write_text(to_toml(minimal(**PRIORS)))
    return sim.load_scenario(path)


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_lhs_puts_exactly_one_point_in_each_stratum_of_each_margin(n):
    points = design_points("lhs", n, 5, root_seed(3))
    for column in points.T:
        assert sorted(np.floor(column * n).astype(int)) == list(range(n))


@pytest.mark.parametrize("m", [0, 4, 12])
def test_sobol_balance_property(m):
    n = 2**m
    points = design_points("sobol", n, 6, root_seed(5))
    for column in points.T:
        assert sorted(np.floor(column * n).astype(int)) == list(range(n))
    # Each half of the sequence is itself balanced at the coarser level.
    if m:
        for half in (points[: n // 2], points[n // 2:]):
            for column in half.T:
                assert sorted(np.floor(column * n / 2).astype(int)) == list(range(n // 2))


def test_sobol_design_refuses_other_sample_counts():
    with pytest.raises(ValueError, match="power of two"):
        design_points("sobol", 100, 3, root_seed(1))


@pytest.mark.parametrize("design", ["random", "lhs", "sobol"])
def test_every_design_reproduces_each_priors_quantiles(scenario, design):
    """Binomial tolerance of the random design; LHS and Sobol are tighter, so it bounds them."""
    n = 2**13
    ds = sim.simulate(scenario, samples=n, seed=11, design=design)
    assert ds.attrs["design"] == design
    tolerance = Z * np.sqrt(PROBS * (1 - PROBS) / n)
    for key, prior in scenario.priors.items():
        if prior.is_fixed:
            continue
        below = (ds[param_name(key)].values[:, None] < prior.ppf(PROBS)).mean(axis=0)
        assert np.all(np.abs(below - PROBS) <= tolerance), (design, key, below)
    if design != "random":  # stratified margins: within one stratum of every quantile
        for key, prior in scenario.priors.items():
            if not prior.is_fixed:
                below = (ds[param_name(key)].values[:, None] < prior.ppf(PROBS)).mean(axis=0)
                assert np.all(np.abs(below - PROBS) <= 1.0 / n + 1e-12), key


@pytest.mark.parametrize("design", ["lhs", "sobol"])
def test_designs_do_not_depend_on_chunking(scenario, design):
    n = 2 * SEED_BLOCK_SAMPLES
    a = sim.simulate(scenario, samples=n, seed=4, design=design, chunk_samples=1)
    b = sim.simulate(scenario, samples=n, seed=4, design=design)
    assert_same_run(a, b)


def test_process_noise_comes_from_block_seeds_whatever_the_design(scenario):
    """The exchange-rate walk (fixed volatility, noise only) is the same in every design."""
    runs = [sim.simulate(scenario, samples=512, seed=9, design=d) for d in ("random", "lhs",
                                                                           "sobol")]
    walk = [np.log(ds.rub_per_usd) - np.log(ds.rub_per_usd.isel(time=0)) for ds in runs]
    np.testing.assert_allclose(walk[0], walk[1], atol=1e-6)
    np.testing.assert_allclose(walk[0], walk[2], atol=1e-6)
    assert not np.allclose(runs[0].param_fx_rub_per_usd, runs[1].param_fx_rub_per_usd)


def test_design_flag_and_config_key(write_config, tmp_path, capsys):
    path = write_config(minimal(run={"design": "sobol", "samples": 64}, **PRIORS))
    assert sim.load_scenario(path).design == "sobol"
    status, out, err = run_cli("run", path, "--design", "lhs", "--samples", 100, capsys=capsys)
    assert status == 0 and "lhs design" in out, err
    status, _, err = run_cli("run", path, "--samples", 100, "--out", tmp_path / "o.nc",
                             capsys=capsys)
    assert status == 2 and "--samples" in err and "power of two" in err  # the flag at fault
    assert "try 64 or 128" in err and not (tmp_path / "o.nc").exists()
    bad = write_config(minimal(run={"design": "halton"}), "bad.toml")
    status, _, err = run_cli("validate", bad, capsys=capsys)
    assert status == 2 and "run.design" in err
