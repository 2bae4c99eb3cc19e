"""Backtests: the scores against closed forms, the split at the cutoff (no leak), the naive
forecasts by hand, coverage when the model is right, the result's schema and refusals."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import integrate, stats

import sim
from sim.analysis import backtest as bt
from sim.analysis.backtest import (
    METHODS,
    backtest,
    backtest_table,
    crps_normal,
    crps_samples,
    cutoff_dates,
    interval_coverage,
    log_score,
    model_forecast,
    naive_forecasts,
    rolling_backtest,
    split_observations,
)
from sim.analysis.calibration import Likelihood, calibrate
from sim.config.observations import Observation, ObservationSet
from sim.config.scenario import Claim
from sim.core.timegrid import add_months
from sim.errors import ParameterError
from sim.priors.distributions import prior_from_value

from .conftest import minimal

D = dt.date

# ---------------------------------------------------------------- scores


def test_crps_of_normal_draws_matches_the_closed_form_within_monte_carlo_error():
    """R = 8 independent ensembles of N = 200,000 normal draws, scored at once (the score
    is vectorized over leading axes). The estimator's Monte Carlo SD is taken from the
    spread of the R estimates; each estimate must be within 5 of those SDs of the closed
    form, and their mean within 5 SDs of the mean. (The empirical CDF's bias,
    sigma / (sqrt(pi) N) = 6e-6 sigma, is far below the SD, about 1e-3 sigma.)"""
    mu, sigma, r, n = 3.0, 2.0, 8, 200_000
    draws = np.random.default_rng(11).normal(mu, sigma, (r, n))
    for y in (mu, mu + 1.5 * sigma, mu - 3.0 * sigma):
        exact = float(crps_normal(mu, sigma, y))
        estimates = crps_samples(draws, np.full(r, y))
        sd = estimates.std(ddof=1)
        assert 0 < sd < 0.01 * sigma
        assert np.all(np.abs(estimates - exact) <= 5 * sd), (y, estimates, exact)
        assert abs(estimates.mean() - exact) <= 5 * sd / math.sqrt(r)


def test_crps_samples_equals_the_double_sum():
    rng = np.random.default_rng(3)
    x, y = rng.standard_t(3, (4, 37)), rng.normal(size=4)
    pairs = np.abs(x[:, :, None] - x[:, None, :]).mean(axis=(1, 2))
    expected = np.abs(x - y[:, None]).mean(axis=1) - 0.5 * pairs
    np.testing.assert_allclose(crps_samples(x, y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("mu", "sigma", "y"), [(0.0, 1.0, 0.0), (2.0, 0.5, 3.1),
                                                (-1.0, 3.0, -9.0), (1e4, 2e3, 1.3e4)])
def test_crps_normal_against_the_integral_of_the_squared_cdf_difference(mu, sigma, y):
    def below(x):
        return stats.norm.cdf(x, mu, sigma) ** 2

    def above(x):
        return stats.norm.sf(x, mu, sigma) ** 2

    integral = integrate.quad(below, -np.inf, y)[0] + integrate.quad(above, y, np.inf)[0]
    assert float(crps_normal(mu, sigma, y)) == pytest.approx(integral, rel=1e-7)


def test_crps_is_nonnegative_and_zero_only_for_a_point_mass_at_the_observation():
    rng = np.random.default_rng(5)
    x, y = rng.lognormal(size=(500, 20)), rng.lognormal(size=500)
    assert np.all(crps_samples(x, y) > 0)
    assert np.all(crps_normal(rng.normal(size=500), rng.uniform(0.01, 3, 500), y) > 0)
    assert crps_samples(np.full(9, 4.0), 4.0) == 0.0
    assert crps_samples(np.full(9, 4.0), 4.5) == pytest.approx(0.5)
    assert crps_normal(1.0, 0.0, 3.0) == 2.0
    assert np.isnan(crps_samples([1.0, np.nan], 1.0)) and np.isnan(crps_normal(0, -1, 0))


def test_log_score_of_one_normal_component_is_the_normal_log_density():
    mu, sigma, y = np.array([0.0, 5.0, -2.0]), np.array([1.0, 0.3, 4.0]), np.array([0.5,
                                                                                    5.0, 7.0])
    np.testing.assert_allclose(log_score(y, mu[:, None], sigma),
                               stats.norm.logpdf(y, mu, sigma), rtol=1e-12)
    # A mixture: the log of the mean density; other error models as scipy has them.
    m = np.array([9.0, 10.0, 12.0])
    assert float(log_score(11.0, m, 1.5)) == pytest.approx(
        math.log(stats.norm.pdf(11.0, m, 1.5).mean()))
    assert float(log_score(11.0, m, 0.1, error="log_sd")) == pytest.approx(
        math.log(stats.lognorm.pdf(11.0, 0.1, scale=m).mean()))
    assert float(log_score(11.0, m, 0.2, error="relative_sd", t_df=4)) == pytest.approx(
        math.log(stats.t.pdf(11.0, 4, m, 0.2 * m).mean()))
    assert log_score(-1.0, m, 0.1, error="log_sd") == -np.inf
    assert np.isnan(log_score(np.nan, m, 1.0))


def test_interval_coverage_of_draws_and_of_a_quantile_function():
    draws = np.arange(101.0)  # percentiles 5 and 95 are 5 and 95
    y = np.array([4.0, 5.0, 50.0, 95.0, 96.0, np.nan])
    np.testing.assert_array_equal(interval_coverage(np.tile(draws, (6, 1)), y, 0.9),
                                  [0, 1, 1, 1, 0, np.nan])
    covered = interval_coverage(lambda p: stats.norm.ppf(p), np.array([0.6, 0.7]), 0.5)
    np.testing.assert_array_equal(covered, [1.0, 0.0])  # the 75th percentile is 0.674
    with pytest.raises(ParameterError, match=r"^level: "):
        interval_coverage(draws, 1.0, 90)


# ---------------------------------------------------------------- the split


def _flow(label, start, end, value=100.0, quantity="casualties", reporter="", error="sd",
          scale=10.0):
    claim = Claim(quantity, "total", value, "persons", "test", label, start=start, end=end)
    return Observation(claim, error, scale, None, reporter)


def _stock(label, date, value=600_000.0):
    claim = Claim("force", "at", value, "persons", "test", label, date=date)
    return Observation(claim, "sd", 1e4, None, "")


def test_split_at_the_cutoff_and_within_the_horizon():
    observations = ObservationSet("test", (
        _flow("Jan", D(2025, 1, 1), D(2025, 2, 1)),
        _flow("Feb-Mar", D(2025, 2, 1), D(2025, 4, 1)),   # ends on the cutoff: training
        _flow("Mar-Apr", D(2025, 3, 1), D(2025, 5, 1), reporter="gs"),  # straddles
        _flow("Apr", D(2025, 4, 1), D(2025, 5, 1), reporter="gs"),
        _flow("Jun", D(2025, 6, 1), D(2025, 7, 1)),
        _stock("force Mar 31", D(2025, 3, 31)),
        _stock("force Apr 1", D(2025, 4, 1)),              # dated on the cutoff: held out
        _stock("force Jul 2", D(2025, 7, 2)),
    ), {"gs": prior_from_value("0.8 to 1.3"), "unused": prior_from_value(1.0)})
    split = split_observations(observations, D(2025, 4, 1))
    labels = [o.claim.label for o in split.training.observations]
    assert labels == ["Jan", "Feb-Mar", "force Mar 31"]
    assert [o.claim.label for o in split.heldout.observations] == [
        "Apr", "Jun", "force Apr 1", "force Jul 2"]
    assert [o.claim.label for o in split.straddling] == ["Mar-Apr"]
    assert split.training.bias == {} and list(split.heldout.bias) == ["gs"]
    within = split_observations(observations, D(2025, 4, 1), horizon_months=3)
    assert [o.claim.label for o in within.heldout.observations] == ["Apr", "Jun",
                                                                     "force Apr 1"]
    assert [o.claim.label for o in within.beyond] == ["force Jul 2"]


# ---------------------------------------------------------------- naive forecasts


def test_naive_forecasts_by_hand_and_missing_when_the_series_is_too_short():
    months = [D(2025, m, 1) for m in range(1, 9)]
    values = [10.0, 12.0, 11.0, 15.0]
    training = ObservationSet("t", tuple(
        [_flow(f"c{m}", months[m], months[m + 1], v) for m, v in enumerate(values)]
        + [_flow("r1", months[0], months[1], 5.0, quantity="recruits"),
           _flow("r2", months[1], months[2], 8.0, quantity="recruits"),
           _flow("k1", months[0], months[1], 1.0, quantity="killed"),
           *(_flow(f"i{m}", months[m], months[m + 1], 7.0, quantity="irrecoverable_losses")
             for m in range(3)),  # never changes: no spread to estimate
           _flow("c1-3", months[0], months[3], 33.0)]),  # a 3-month window: another series
        {})
    heldout = ObservationSet("h", (
        _flow("c May", months[4], months[5]),
        _flow("c Jul", months[6], months[7]),
        _flow("r May", months[4], months[5], quantity="recruits"),
        _flow("k May", months[4], months[5], quantity="killed"),
        _flow("irrecoverable May", months[4], months[5], quantity="irrecoverable_losses"),
    ), {})
    naive = naive_forecasts(training, heldout)
    per_month = math.sqrt((2**2 + 1**2 + 4**2) / 3)  # RMS of the changes 2, -1, 4
    mu, sd = naive["last"]
    np.testing.assert_allclose(mu[:2], [15.0, 15.0])
    np.testing.assert_allclose(sd[:2], [per_month, per_month * math.sqrt(3)])
    mu, sd = naive["mean3"]
    np.testing.assert_allclose(mu[:2], [(12 + 11 + 15) / 3] * 2)
    np.testing.assert_allclose(sd[:2], [per_month, per_month * math.sqrt(3)])
    # recruits: two values (Jan, Feb), so "last" (8, spread 3 per month, 3 months ahead of
    # February) but no "mean3"
    assert naive["last"][0][2] == 8.0 and naive["last"][1][2] == pytest.approx(3 * math.sqrt(3))
    assert np.isnan(naive["mean3"][0][2])
    for name in ("last", "mean3"):  # killed: one value; irrecoverable losses: constant
        assert np.isnan(naive[name][0][3:]).all() and np.isnan(naive[name][1][3:]).all()


# ---------------------------------------------------------------- with the model


@pytest.fixture
def scenario(write_config):
    return sim.load_scenario(write_config(minimal(
        time={"months": 12}, recruitment={"per_month": "30_000 to 50_000"},
        losses={"per_month": "30_000 to 45_000", "shock_sd": 0.15,
                "shock_persistence": 0.8})))


def _synthetic(scenario, seed, months=12):
    """Monthly casualties of one truth drawn from the scenario's own priors and noise,
    observed with 10% log-normal error (the error model the observations declare)."""
    rng = np.random.default_rng(seed)
    truth = Likelihood(scenario, ObservationSet("none", (), {}))
    _, _, out = truth.outputs(rng.standard_normal((1, truth.latent.size)))
    observations = []
    for k in range(months):
        start = add_months(scenario.grid.start, k)
        value = float(out["casualties_persons"][k, 0] * np.exp(0.1 * rng.standard_normal()))
        observations.append(_flow(f"casualties {start:%Y-%m}", start, add_months(start, 1),
                                  value, error="log_sd", scale=0.1))
    return ObservationSet(f"synthetic {seed}", tuple(observations), {})


def test_the_backtest_never_uses_an_observation_at_or_after_the_cutoff(scenario, monkeypatch):
    """Every value that is not over by the cutoff (held out, straddling, beyond the horizon)
    is multiplied by 1000. What calibrate receives and the model's forecast must not
    change; only the scores do. A split that leaked any of them would change both."""
    cutoff = D(2025, 5, 1)
    base = _synthetic(scenario, 1)
    straddle = _flow("casualties Apr-May", D(2025, 4, 1), D(2025, 6, 1), 7e4, error="log_sd",
                     scale=0.1)
    honest = replace(base, observations=(*base.observations, straddle))
    absurd = replace(honest, observations=tuple(
        o if o.claim.end <= cutoff else replace(o, claim=replace(o.claim,
                                                                value=o.claim.value * 1000))
        for o in honest.observations))
    received = []

    def recording(scenario, observations, **kwargs):
        received.append(observations)
        return calibrate(scenario, observations, **kwargs)

    monkeypatch.setattr(bt, "calibrate", recording)
    runs = [backtest(scenario, obs, cutoff, horizon_months=3, particles=300, seed=2)
            for obs in (honest, absurd)]
    assert received[0] == received[1]
    training = {o.claim.label for o in received[0].observations}
    assert all(o.claim.end <= cutoff for o in received[0].observations)
    assert len(training) == 4 and not training & set(runs[0].heldout.values)
    assert "casualties Apr-May" not in training | set(runs[0].heldout.values)
    assert json.loads(runs[0].attrs["calibration_diagnostics"])[0]["straddling"] == [
        "casualties Apr-May"]
    model = {"method": "model"}
    for q in (5, 25, 50, 75, 95):
        np.testing.assert_array_equal(runs[0][f"predictive_p{q}"].sel(model),
                                      runs[1][f"predictive_p{q}"].sel(model))
    np.testing.assert_array_equal(runs[1].observed, runs[0].observed * 1000)
    assert (runs[1].crps.sel(model) > 100 * runs[0].crps.sel(model)).all()


def test_coverage_is_close_to_nominal_when_the_model_is_right(scenario):
    """Twelve truths drawn from the scenario itself, each backtested at two cutoffs with a
    3-month horizon: 72 forecasts. For an exact posterior each is covered by its 90%
    interval with probability 0.9 (averaged over the prior). Forecasts of one truth are
    correlated; allowing a design effect of 3 (24 effective trials), P(coverage < 0.7)
    = P(Binomial(24, 0.9) <= 16) = 0.17%; the 50% intervals are held to 0.25-0.75
    (P(Binomial(24, 0.5) <= 5) = 0.33% each side). The last run: 87.5% and 48.6%."""
    covered = {50: [], 90: []}
    for seed in range(12):
        ds = rolling_backtest(scenario, _synthetic(scenario, 100 + seed),
                              [D(2025, 5, 1), D(2025, 9, 1)], horizon_months=3,
                              particles=300, seed=seed)
        for level in covered:
            values = ds[f"covered_{level}"].sel({"method": "model"}).values
            covered[level].extend(values[np.isfinite(values)])
    assert len(covered[90]) == 72
    assert np.mean(covered[90]) >= 0.7, np.mean(covered[90])
    assert 0.25 <= np.mean(covered[50]) <= 0.75, np.mean(covered[50])


VARIABLES = {"observed": ("cutoff", "heldout"), "lead_months": ("cutoff", "heldout"),
             **{name: ("cutoff", "heldout", "method") for name in (
                 "crps", "log_score", "covered_50", "covered_90", "predictive_p5",
                 "predictive_p25", "predictive_p50", "predictive_p75", "predictive_p95")},
             "training_observations": ("cutoff",)}


def test_schema_table_missing_naive_forecasts_and_one_cutoff_alone(scenario, tmp_path):
    observations = _synthetic(scenario, 7, months=8)
    cutoffs = [D(2025, 2, 1), D(2025, 6, 1)]
    ds = rolling_backtest(scenario, observations, cutoffs, horizon_months=2, particles=200,
                          seed=3)
    assert dict(ds.sizes) == {"cutoff": 2, "heldout": 4, "method": 3}
    assert ds.cutoff.dtype == np.dtype("datetime64[ns]")
    assert list(ds.method.values) == list(METHODS)
    assert list(ds.heldout.values) == [f"casualties 2025-0{m}" for m in (2, 3, 6, 7)]
    assert {name: ds[name].dims for name in ds.data_vars} == VARIABLES
    for name in (*ds.data_vars, "heldout", "heldout_unit", "method"):
        assert {"units", "long_name", "description"} <= set(ds[name].attrs), name
    assert ds.attrs["analysis"] == "backtest" and ds.attrs["keep"] == "backtest"
    assert ds.attrs["particles"] == 200 and ds.attrs["method"] == "smc"
    assert ds.attrs["horizon_months"] == 2 and ds.attrs["samples"] == 200
    assert ds.attrs["observations_file"] == "synthetic 7" and ds.attrs["seed"] == 3
    diagnostics = json.loads(ds.attrs["calibration_diagnostics"])
    assert [d["cutoff"] for d in diagnostics] == ["2025-02-01", "2025-06-01"]
    assert all(d["stages"] >= 1 and d["final_distinct_particles"] > 0 for d in diagnostics)
    np.testing.assert_array_equal(ds.training_observations, [1, 5])
    np.testing.assert_array_equal(ds.lead_months, [[1, 2, np.nan, np.nan],
                                                   [np.nan, np.nan, 1, 2]])
    first = ds.isel(cutoff=0)
    assert np.isfinite(first.crps.sel({"method": "model"})[:2]).all()
    assert np.isnan(first.crps.sel({"method": ["last", "mean3"]})).all()  # one past value
    assert np.isnan(ds.crps.isel(cutoff=0, heldout=[2, 3])).all()  # not held out then
    assert np.isfinite(ds.isel(cutoff=1, heldout=[2, 3]).crps).all()
    p = [ds[f"predictive_p{q}"].isel(cutoff=1, heldout=[2, 3]) for q in (5, 25, 50, 75, 95)]
    assert all((a <= b).all() for a, b in itertools.pairwise(p))
    ds.to_netcdf(tmp_path / "backtest.nc", engine="h5netcdf")  # every attr writable

    table = backtest_table(ds)
    assert len(table) == 6 and list(table.columns) == [
        "cutoff", "method", "heldout", "scored", "crps", "log_score", "coverage_50",
        "coverage_90", "crps_skill_last", "crps_skill_mean3"]
    first_rows = table[table.cutoff == table.cutoff.iloc[0]].set_index("method")
    assert first_rows.scored.to_dict() == {"model": 2, "last": 0, "mean3": 0}
    assert np.isnan(first_rows.loc["model", "crps_skill_last"])
    last_rows = table[table.cutoff == table.cutoff.iloc[-1]].set_index("method")
    model_crps = ds.crps.isel(cutoff=1, heldout=[2, 3])
    assert last_rows.loc["model", "crps_skill_last"] == pytest.approx(
        1 - float(model_crps.sel({"method": "model"}).mean())
        / float(model_crps.sel({"method": "last"}).mean()))
    assert len(backtest_table(ds, overall=True)) == 9

    alone = backtest(scenario, observations, "2025-06-01", horizon_months=2, particles=200,
                     seed=3)
    np.testing.assert_array_equal(alone.crps.isel(cutoff=0).values,
                                  ds.crps.isel(cutoff=1, heldout=[2, 3]).values)


def test_a_reporter_unseen_in_training_keeps_its_prior_bias(scenario):
    observations = _synthetic(scenario, 5, months=4)
    posterior = calibrate(scenario, observations, particles=400, seed=1)
    bias = prior_from_value("0.5 to 2")
    plain = _flow("casualties May", D(2025, 5, 1), D(2025, 6, 1), 4e4, error="log_sd",
                  scale=0.1)
    heldout = ObservationSet("h", (plain, replace(plain, reporter="new")), {"new": bias})
    modelled, predictive = model_forecast(scenario, posterior, heldout,
                                          np.random.default_rng(0))
    assert modelled.shape == predictive.shape == (2, 400)
    ratio = modelled[1] / modelled[0]
    assert stats.kstest(ratio, bias.dist.cdf).pvalue > 1e-6


# ---------------------------------------------------------------- refusals


def test_cutoff_dates():
    assert cutoff_dates("2025-01-01", D(2025, 10, 1), 3) == [
        D(2025, 1, 1), D(2025, 4, 1), D(2025, 7, 1), D(2025, 10, 1)]
    assert cutoff_dates(D(2025, 1, 31), D(2025, 3, 31), 1) == [
        D(2025, 1, 31), D(2025, 2, 28), D(2025, 3, 31)]


REFUSALS = {
    "before the horizon": ({"cutoffs": ["2024-12-01"]}, "cutoff", "outside the horizon"),
    "on the first day": ({"cutoffs": ["2025-01-01"]}, "cutoff", "outside the horizon"),
    "after the horizon": ({"cutoffs": ["2026-02-01"]}, "cutoff", "outside the horizon"),
    "not a date": ({"cutoffs": ["May"]}, "cutoff", "expected a date"),
    "a single date": ({"cutoffs": "2025-05-01"}, "cutoff", "expected a list"),
    "no cutoff": ({"cutoffs": []}, "cutoff", "at least one"),
    "twice": ({"cutoffs": ["2025-05-01", "2025-05-01"]}, "cutoff", "given twice"),
    "nothing before": ({"cutoffs": ["2025-01-15"]}, "cutoff", "calibrate on"),
    "nothing after": ({"cutoffs": ["2025-12-15"]}, "cutoff", "to score"),
    "horizon 0": ({"horizon_months": 0}, "horizon_months", "whole number"),
    "horizon 1.5": ({"horizon_months": 1.5}, "horizon_months", "whole number"),
    "horizon True": ({"horizon_months": True}, "horizon_months", "whole number"),
    "one particle": ({"particles": 1}, "particles", "at least 2"),
    "no observations": ({"observations": ObservationSet("empty.toml", (), {})},
                        "observations", "holds no observations"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_bad_input_is_refused_in_one_line_before_any_calibration(case, scenario,
                                                                  monkeypatch):
    changes, parameter, words = REFUSALS[case]
    monkeypatch.setattr(bt, "calibrate", lambda *a, **k: pytest.fail("calibrated"))
    arguments = {"observations": _synthetic(scenario, 1), "cutoffs": ["2025-05-01"],
                 "horizon_months": 3, "particles": 100, **changes}
    with pytest.raises(ParameterError) as error:
        rolling_backtest(scenario, arguments.pop("observations"), arguments.pop("cutoffs"),
                         **arguments)
    assert error.value.parameter == parameter and str(error.value).startswith(parameter)
    assert words in str(error.value) and len(str(error.value).splitlines()) == 1


@pytest.mark.parametrize(("arguments", "parameter"), [
    (("2025-01-01", "2025-06-01", 0), "every"), (("2025-01-01", "2025-06-01", 1.5), "every"),
    (("2025-07-01", "2025-06-01", 1), "first"), (("2025-13-01", "2025-06-01", 1), "first"),
    (("2025-01-01", None, 1), "last")])
def test_bad_cutoff_dates_are_refused(arguments, parameter):
    with pytest.raises(ParameterError) as error:
        cutoff_dates(*arguments)
    assert error.value.parameter == parameter and len(str(error.value).splitlines()) == 1


# ---- the command line ------------------------------------------------------------------


def test_cli_backtest_prints_the_table_and_writes(tmp_path, capsys):
    from .conftest import CONFIGS, run_cli

    out = tmp_path / "bt.nc"
    status, printed, err = run_cli(
        "backtest", CONFIGS / "calibration_2024.toml", "--observations",
        CONFIGS / "observations" / "gs_monthly_2024_2025.toml", "--cutoff", "2025-01-01",
        "--every", "6M", "--horizon", "2", "--particles", "200", "--out", out, capsys=capsys)
    assert status == 0, err
    assert "backtest at 2 cutoff(s)" in printed
    assert "2025-01-01" in printed and "2025-07-01" in printed and "%" in printed
    assert "e+0" not in printed  # numbers for people
    back = sim.io.read_results(out)
    assert back.attrs["analysis"] == "backtest" and back.sizes["cutoff"] == 2


@pytest.mark.parametrize(("args", "words"), [
    (["--cutoff", "2023-01-01"], ("--cutoff", "outside the horizon")),
    (["--cutoff", "1 Jan 2025"], ("--cutoff", "YYYY-MM-DD")),
    (["--cutoff", "2025-01-01", "--every", "3Q"], ("--every", "3M")),
    (["--cutoff", "2025-01-01", "--horizon", "0"], ("--horizon",)),
])
def test_cli_backtest_refusals(args, words, tmp_path, capsys):
    from .conftest import CONFIGS, one_line_refusal, run_cli

    status, _, err = run_cli(
        "backtest", CONFIGS / "calibration_2024.toml", "--observations",
        CONFIGS / "observations" / "gs_monthly_2024_2025.toml", *args, "--particles", "50",
        "--out", tmp_path / "bt.nc", capsys=capsys)
    one_line_refusal(status, err, *words)
    assert not (tmp_path / "bt.nc").exists()
