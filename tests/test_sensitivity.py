"""Sensitivity analysis: analytic Sobol indices, closed-form log shares, screen, tornado, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import sim
from sim.analysis.sensitivity import rank_correlations, saltelli_2010, sobol_analysis, sobol_design
from sim.io import read_results

from .conftest import minimal, run_cli

# Intervals at 99.9%: with six indices checked, a correct estimator fails about 0.6% of seeds.
CONFIDENCE = 0.999


ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1


def ishigami(unit: np.ndarray) -> np.ndarray:
    """f(x) = sin x1 + a sin^2 x2 + b x3^4 sin x1, x_i uniform on [-pi, pi]; one row."""
    x = -np.pi + 2 * np.pi * unit
    return (np.sin(x[:, 0]) + ISHIGAMI_A * np.sin(x[:, 1]) ** 2
            + ISHIGAMI_B * x[:, 2] ** 4 * np.sin(x[:, 0]))[None, :]


def ishigami_indices(a: float = ISHIGAMI_A, b: float = ISHIGAMI_B
                     ) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total Sobol indices of the Ishigami function, in closed form.

    Ishigami & Homma (1990), "An importance quantification technique in uncertainty
    analysis for computer models"; the variances as in Saltelli et al. (2008), Global
    Sensitivity Analysis: The Primer, and Sobol' & Levitan (1999):

        V   = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2
        V1  = (1 + b pi^4/5)^2 / 2,   V2 = a^2/8,   V3 = 0
        V13 = b^2 pi^8 (1/18 - 1/50),  V12 = V23 = V123 = 0

    so S_i = V_i / V, S_T1 = (V1 + V13) / V, S_T2 = V2 / V, S_T3 = V13 / V.
    """
    pi = np.pi
    v = a**2 / 8 + b * pi**4 / 5 + b**2 * pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    first = np.array([v1, v2, 0.0]) / v
    total = np.array([v1 + v13, v2, v13]) / v
    return first, total


def test_closed_form_ishigami_indices_match_quadrature():
    """The formula against the function itself: Sobol indices by the midpoint rule on a
    128^3 grid (exact for the trigonometric terms; O(h^2) for x3^4)."""
    n = 128
    mid = (np.arange(n) + 0.5) / n
    grid = np.stack(np.meshgrid(mid, mid, mid, indexing="ij"), axis=-1).reshape(-1, 3)
    f = ishigami(grid).reshape(n, n, n)
    variance = f.var()
    others = {0: (1, 2), 1: (0, 2), 2: (0, 1)}
    first = np.array([f.mean(axis=others[i]).var() for i in range(3)]) / variance
    total = np.array([f.var(axis=i).mean() for i in range(3)]) / variance
    expected_first, expected_total = ishigami_indices()
    np.testing.assert_allclose(first, expected_first, atol=5e-4)
    np.testing.assert_allclose(total, expected_total, atol=5e-4)
    # Only x1 and x3 interact: the first-order shares and V13 / V add up to one.
    assert expected_first.sum() + expected_total[2] == pytest.approx(1.0, rel=1e-12)


def test_ishigami_analytic_indices_lie_in_the_bootstrap_intervals():
    result = sobol_analysis(ishigami, 2**13, 3, np.random.default_rng(12), CONFIDENCE, 999)
    first, total = ishigami_indices()
    assert np.all(result["first_order_low"][0] <= first)
    assert np.all(first <= result["first_order_high"][0])
    assert np.all(result["total_order_low"][0] <= total)
    assert np.all(total <= result["total_order_high"][0])
    np.testing.assert_allclose(result["first_order"][0], first, atol=0.05)
    np.testing.assert_allclose(result["total_order"][0], total, atol=0.05)


def test_our_estimator_is_scipys():
    rng = np.random.default_rng(0)
    a, b = sobol_design(256, 3, rng)
    f_a, f_b = ishigami(a), ishigami(b)
    f_ab = np.stack([ishigami(np.where(np.arange(3) == i, b, a)) for i in range(3)])
    ref = stats.sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=256)
    mean = 0.5 * (f_a.mean() + f_b.mean())
    first, total = saltelli_2010(f_a - mean, f_b - mean, f_ab - mean)
    np.testing.assert_allclose(first[0], ref.first_order, rtol=1e-10)
    np.testing.assert_allclose(total[0], ref.total_order, rtol=1e-10)
    # Resampling weights of all ones give the same statistic.
    first_w, _ = saltelli_2010(f_a - mean, f_b - mean, f_ab - mean, np.ones((2, 256)))
    np.testing.assert_allclose(first_w[1], first, rtol=1e-12)


SIGMAS = {"recruitment.per_month": 0.3, "bonus.regional_rub": 0.2, "fx.rub_per_usd": 0.1}


@pytest.fixture(scope="module")
def product_scenario(tmp_path_factory):
    """Zero noise, one step: spend per day in USD = recruits x bonus / fx, all lognormal."""
    from .conftest import to_toml

    config = minimal(
        time={"months": 1},
        recruitment={"per_month": {"dist": "lognormal", "median": 40_000, "sigma": 0.3}},
        bonus={"federal_rub": 0, "regional_rub": {"dist": "lognormal", "median": 1e6,
                                                  "sigma": 0.2}},
        fx={"rub_per_usd": {"dist": "lognormal", "median": 90, "sigma": 0.1}},
    )
    path = tmp_path_factory.mktemp("product") / "product.toml"
    path.write_text(to_toml(config))
    return sim.load_scenario(path)


def test_log_product_shares_are_the_log_variance_shares(product_scenario):
    ds = sim.sensitivity(product_scenario, "bonus_spend_usd_per_day_mean", samples=2**12,
                         seed=5, log=True, confidence=CONFIDENCE)
    total_var = sum(s**2 for s in SIGMAS.values())
    for key, sigma in SIGMAS.items():
        row = ds.sel(parameter=key)
        share = sigma**2 / total_var
        for name in ("first_order", "total_order"):
            assert float(row[f"{name}_low"]) <= share <= float(row[f"{name}_high"]), (key, name)
            assert float(row[name]) == pytest.approx(share, abs=0.03)
    # Monotone relations: ranks are exact (no noise, independent priors).
    assert float(ds.sel(parameter="recruitment.per_month").spearman) > 0.5
    assert float(ds.sel(parameter="fx.rub_per_usd").prcc) < -0.5


def test_tornado_matches_hand_calculation(product_scenario):
    ds = sim.sensitivity(product_scenario, "bonus_spend_usd_per_day_mean", samples=64, seed=1)
    # The fixture's priors at their medians (recruits 40,000 a month, regional bonus
    # 1e6 RUB, federal 0, 90 RUB/USD) over January's 31 days of a 30.4375-day month.
    days = 31.0
    base = 40_000 * 31 / 30.4375 * 1e6 / 90 / days
    assert float(ds.tornado_base) == pytest.approx(base, rel=1e-9)
    z = stats.norm.ppf(0.95)
    low = float(ds.sel(parameter="recruitment.per_month").tornado_low)
    high = float(ds.sel(parameter="fx.rub_per_usd").tornado_high)
    assert low == pytest.approx(base * np.exp(-0.3 * z), rel=1e-9)
    assert high == pytest.approx(base * np.exp(-0.1 * z), rel=1e-9)


def test_rank_correlations_partial_out_the_other_inputs():
    x = np.random.default_rng(1).random((2000, 3))
    y = np.exp(x[:, 0] + 0.5 * x[:, 1])[None, :]
    spearman, prcc = rank_correlations(x, y)
    assert spearman[0, 0] == pytest.approx(stats.spearmanr(x[:, 0], y[0]).statistic)
    assert prcc[0, 0] > spearman[0, 0] > 0.8 and prcc[0, 1] > spearman[0, 1] > 0.3
    # x2 plays no part: |PRCC| within 5 standard errors (1 / sqrt(n)) of zero.
    assert abs(prcc[0, 2]) < 5 / np.sqrt(2000)


@pytest.fixture(scope="module")
def baseline():
    from .conftest import CONFIGS

    return sim.load_scenario(CONFIGS / "baseline.toml")


def test_indices_over_every_time_step(baseline):
    ds = sim.sensitivity(baseline, "force_persons", "all", samples=256, seed=2, resamples=99)
    assert ds.first_order.dims == ("parameter", "time_bound")
    assert ds.sizes["time_bound"] == 25
    at_start = ds.isel(time_bound=0).total_order
    # At the start the force is its initial value: one prior explains it all.
    assert at_start.idxmax().item() == "force.initial_persons"
    assert float(at_start.max()) > 0.9


def test_same_seed_same_results(baseline):
    a = sim.sensitivity(baseline, "bonus_spend_usd_per_day_mean", samples=128, seed=3,
                        resamples=50)
    b = sim.sensitivity(baseline, "bonus_spend_usd_per_day_mean", samples=128, seed=3,
                        resamples=50)
    xr.testing.assert_identical(a, b)


def test_correlated_priors_refuse_sobol_but_give_rank_correlations():
    from .conftest import CONFIGS

    scenario = sim.load_scenario(CONFIGS / "correlated.toml")
    with pytest.raises(sim.UserError, match="--rank-only"):
        sim.sensitivity(scenario, "bonus_spend_usd_per_day_mean", samples=128)
    ds = sim.sensitivity(scenario, "bonus_spend_usd_per_day_mean", samples=128,
                         rank_only=True)
    assert "first_order" not in ds and "prcc" in ds and ds.attrs["model_evaluations"] == 0


def test_cli_writes_results_and_prints_a_ranked_table(tmp_path, capsys):
    from .conftest import CONFIGS

    out = tmp_path / "sens.nc"
    status, text, err = run_cli("sensitivity", CONFIGS / "baseline.toml", "--outcome",
                                "bonus_spend_usd_per_day", "--time", "2025-04-15",
                                "--samples", 128, "--out", out, capsys=capsys)
    assert status == 0, err
    assert "common random numbers" in text and "at 2025-04-01" in text
    ds = read_results(out)
    assert ds.attrs["outcome"] == "bonus_spend_usd_per_day"
    ranked = text.splitlines()[2].split()[0]
    assert ranked == str(ds.isel(time=0).total_order.idxmax().item())


@pytest.mark.parametrize(("args", "words"), [
    (["--outcome", "nonsense"], "--outcome: unknown output"),
    (["--outcome", "bonus_spend_usd_per_day"], "give a date or 'all'"),
    (["--outcome", "force_change_persons", "--time", "2025-02-01"],
     "--time: force_change_persons is one value per sample"),
    (["--outcome", "bonus_spend_usd_per_day", "--time", "2031-01-01"], "outside the horizon"),
    (["--outcome", "bonus_spend_usd_per_day", "--time", "soon"], "expected a date"),
    (["--outcome", "force_change_persons", "--samples", "100"], "power of two"),
    (["--outcome", "force_change_persons", "--log"], "values <= 0"),
])
def test_cli_bad_input_exits_2(args, words, tmp_path, capsys):
    from .conftest import CONFIGS

    status, _, err = run_cli("sensitivity", CONFIGS / "baseline.toml", *args, "--samples"
                             if "--samples" not in args else "--seed", "64" if "--samples"
                             not in args else "1", "--out", tmp_path / "s.nc", capsys=capsys)
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s.nc").exists()
