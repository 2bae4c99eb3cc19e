"""Calibration: prior with no data, the conjugate answer, reproducibility, truth recovery,
the observation loaders and bad input."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from scipy import stats

import sim
from sim.analysis.calibration import Likelihood, calibrate
from sim.config.observations import (
    Observation,
    ObservationSet,
    load_observations,
    monthly_totals,
    read_series,
)
from sim.config.scenario import Claim
from sim.core.timegrid import add_months
from sim.core.units import DAYS_PER_MONTH

from .conftest import CONFIGS, TIMING_ATTRS, minimal, run_cli

FALSE_FAILURE_RATE = 1e-6


def _scenario(write_config, **sections):
    return sim.load_scenario(write_config(minimal(**sections)))


def test_no_observations_leave_the_prior(write_config, tmp_path):
    scenario = _scenario(write_config, recruitment={"per_month": "30_000 to 50_000"},
                         losses={"per_month": {"dist": "uniform", "low": 3e4, "high": 4e4}})
    path = tmp_path / "none.toml"
    path.write_text("# no observations\n")
    ds = calibrate(scenario, load_observations(path, scenario.grid), particles=2000, seed=4)
    assert ds.attrs["stages"] == 1
    for key in ("recruitment.per_month", "losses.per_month"):
        draws = ds[f"param_{key.replace('.', '_')}"].values
        assert stats.kstest(draws, scenario.priors[key].dist.cdf).pvalue > FALSE_FAILURE_RATE


def _one_observation(scenario, value, sd):
    claim = Claim("recruits", "total", value, "persons", "test", "January recruits",
                  start=dt.date(2025, 1, 1), end=dt.date(2025, 2, 1))
    return ObservationSet("test", (Observation(claim, "sd", sd, None, ""),), {})


def test_one_gaussian_observation_matches_the_conjugate_posterior(write_config):
    mu0, sd0, sd_obs, y = 40_000.0, 4_000.0, 2_000.0, 47_000.0
    scenario = _scenario(write_config, recruitment={
        "per_month": {"dist": "normal", "mean": mu0, "sd": sd0}})
    a = 31 / DAYS_PER_MONTH  # January recruits = a R
    precision = 1 / sd0**2 + a**2 / sd_obs**2
    mean = (mu0 / sd0**2 + a * y / sd_obs**2) / precision
    sd = precision**-0.5
    ds = calibrate(scenario, _one_observation(scenario, y, sd_obs), particles=4000, seed=2)
    draws = ds.param_recruitment_per_month.values
    # SMC particles are correlated: take an effective sample of N / 10 = 400 for the
    # Monte Carlo error of the mean (five SEs) and allow 15% on the SD.
    assert abs(draws.mean() - mean) <= 5 * sd / np.sqrt(400)
    assert draws.std() == pytest.approx(sd, rel=0.15)
    assert float(ds.posterior_p50.sel(parameter="recruitment.per_month")) == pytest.approx(
        mean, abs=5 * sd / np.sqrt(400))


def test_same_seed_same_posterior(write_config):
    scenario = _scenario(write_config, recruitment={"per_month": "30_000 to 50_000",
                                                    "shock_sd": 0.1})
    obs = _one_observation(scenario, 45_000, 3_000)
    a = calibrate(scenario, obs, particles=500, seed=7)
    b = calibrate(scenario, obs, particles=500, seed=7)
    np.testing.assert_array_equal(a.param_recruitment_per_month, b.param_recruitment_per_month)
    np.testing.assert_array_equal(a.recruits_persons, b.recruits_persons)
    strip = {k: v for k, v in a.attrs.items() if k not in TIMING_ATTRS}
    assert strip == {k: v for k, v in b.attrs.items() if k not in TIMING_ATTRS}


def test_synthetic_truth_is_recovered_at_close_to_nominal_coverage(write_config):
    """Ten truths drawn from the prior, each observed for 12 months with 10% log noise and
    calibrated; the 90% posterior intervals must cover the true loss level and the true
    casualties of month 20 (a forecast) in at least 6 of 10 cases. For an exact posterior,
    P(fewer than 6 | 0.9) = 0.16%, the false-failure rate of each check."""
    scenario = _scenario(
        write_config, time={"months": 24},
        recruitment={"per_month": "30_000 to 50_000"},
        losses={"per_month": "30_000 to 45_000", "shock_sd": 0.15,
                "shock_persistence": 0.8})
    grid = scenario.grid
    empty = ObservationSet("none", (), {})
    covered = {"level": 0, "forecast": 0}
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        truth = Likelihood(scenario, empty)
        z = rng.standard_normal((1, truth.latent.size))
        params, _, out = truth.outputs(z)
        observations = []
        for k in range(12):
            start = add_months(grid.start, k)
            value = float(out["casualties_persons"][k, 0] * np.exp(0.1 * rng.standard_normal()))
            claim = Claim("casualties", "total", value, "persons", "synthetic", f"m{k}",
                          start=start, end=add_months(start, 1))
            observations.append(Observation(claim, "log_sd", 0.1, None, ""))
        ds = calibrate(scenario, ObservationSet("synthetic", tuple(observations), {}),
                       particles=1000, seed=seed)
        level = ds.param_losses_per_month.values
        true_level = params["losses.per_month"][0]
        lo, hi = np.quantile(level, (0.05, 0.95))
        covered["level"] += bool(lo <= true_level <= hi)
        month20 = ds.casualties_persons.isel(time=20).values
        lo, hi = np.quantile(month20, (0.05, 0.95))
        covered["forecast"] += bool(lo <= out["casualties_persons"][20, 0] <= hi)
    assert covered["level"] >= 6 and covered["forecast"] >= 6, covered


def test_importance_method_and_diagnostics(write_config):
    scenario = _scenario(write_config, recruitment={"per_month": "30_000 to 50_000"})
    ds = calibrate(scenario, _one_observation(scenario, 45_000, 5_000), particles=800,
                   seed=1, method="importance")
    assert ds.attrs["calibration_method"] == "importance" and ds.attrs["stages"] == 1
    assert 0 < json.loads(ds.attrs["stage_ess"])[0] <= 800
    assert np.isfinite(ds.attrs["log_evidence"])


def test_cli_calibrate_on_the_shipped_observations(tmp_path, capsys):
    out = tmp_path / "posterior.nc"
    status, text, err = run_cli("calibrate", CONFIGS / "calibration_2024.toml",
                                "--observations",
                                CONFIGS / "observations" / "gs_monthly_2024_2025.toml",
                                "--particles", 300, "--out", out, capsys=capsys)
    assert status == 0, err
    assert "Prior against posterior" in text and "Posterior predictive checks" in text
    ds = sim.io.read_results(out)
    assert ds.sizes["observation"] == 24 and "bias_general_staff" in ds
    assert "force_persons" in ds and ds.sizes["time"] == 36  # 2026 is a forecast


BAD_OBSERVATIONS = {
    "unknown key": ('[[observations]]\nquantity = "casualties"\nstart = 2025-01-01\n'
                    'end = 2025-02-01\nvalue = 1.0\nunit = "persons"\nsd = 1\nerror = 2\n',
                    "observations[0].error"),
    "no error model": ('[[observations]]\nquantity = "casualties"\nstart = 2025-01-01\n'
                       'end = 2025-02-01\nvalue = 1.0\nunit = "persons"\n',
                       "exactly one of sd"),
    "unknown reporter": ('[[observations]]\nquantity = "casualties"\nstart = 2025-01-01\n'
                         'end = 2025-02-01\nvalue = 1.0\nunit = "persons"\nsd = 1\n'
                         'reporter = "gs"\n', "no [bias] prior named 'gs'"),
    "bias not positive": ('[bias]\ngs = "-1 to 1"\n', "bias.gs"),
    "outside horizon": ('[[observations]]\nquantity = "casualties"\nstart = 2030-01-01\n'
                        'end = 2030-02-01\nvalue = 1.0\nunit = "persons"\nsd = 1\n',
                        "within the horizon"),
}


@pytest.mark.parametrize("case", BAD_OBSERVATIONS)
def test_bad_observation_files_exit_2(case, tmp_path, capsys, write_config):
    text, words = BAD_OBSERVATIONS[case]
    path = tmp_path / "obs.toml"
    path.write_text(text)
    config = write_config(minimal())
    status, _, err = run_cli("calibrate", config, "--observations", path, "--out",
                             tmp_path / "o.nc", capsys=capsys)
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.nc").exists()


# ---------------------------------------------------------------- loaders


def _daily(start: dt.date, days: int, per_day: float, base: float = 1000.0):
    return [{"date": str(start + dt.timedelta(days=i)), "personnel": base + per_day * (i + 1)}
            for i in range(days)]


def test_json_series_aggregates_to_monthly_totals(tmp_path, capsys):
    rows = _daily(dt.date(2023, 12, 1), 31 + 31 + 29, 10.0)  # Dec 2023 to Feb 2024
    path = tmp_path / "series.json"
    path.write_text(json.dumps(rows))
    totals = monthly_totals(read_series(path), dt.date(2024, 1, 1), dt.date(2024, 2, 1))
    assert [t[2] for t in totals] == [310.0, 290.0]
    out = tmp_path / "obs.toml"
    status, _, err = run_cli("observations", path, "--from", "2024-01-01", "--to",
                             "2024-02-01", "--out", out, capsys=capsys)
    assert status == 0, err
    grid = sim.load_scenario(CONFIGS / "calibration_2024.toml").grid
    loaded = load_observations(out, grid)
    assert [o.claim.value for o in loaded.observations] == [310.0, 290.0]


def test_csv_series_and_gaps(tmp_path, capsys):
    lines = ["date,cumulative"] + [f"{r['date']},{r['personnel']}" for r in
                                   _daily(dt.date(2023, 12, 1), 62, 5.0)]
    del lines[40]  # a missing day in January
    path = tmp_path / "series.csv"
    path.write_text("\n".join(lines) + "\n")
    series = read_series(path)
    assert len(series.gaps) == 1
    filled = read_series(path, fill_gaps=True)
    assert len(filled.dates) == 62 and not np.any(np.diff(filled.cumulative) < 0)
    status, _, err = run_cli("observations", path, "--from", "2024-01-01", "--to",
                             "2024-01-01", "--out", tmp_path / "o.toml", capsys=capsys)
    assert status == 0 and "gap from 2024-01-09 to 2024-01-09" in err


@pytest.mark.parametrize(("content", "words"), [
    ('[{"date": "2024-01-01", "personnel": 5}, {"date": "2024-01-02", "personnel": 4}]',
     "row 2: cumulative value 4 on 2024-01-02 is below"),
    ('[{"date": "2024-01-01", "personnel": 5}, {"date": "2024-01-01", "personnel": 6}]',
     "repeats row 1"),
    ('[{"date": "2024-13-01", "personnel": 5}]', "row 1: bad date"),
    ("date,cumulative\n2024-01-01,x\n", "bad value"),
    ("", "file is empty"),
    ("[]", "no data rows"),
])
def test_bad_series_exit_2_naming_the_first_bad_row(content, words, tmp_path, capsys):
    path = tmp_path / ("series.json" if content.startswith("[") or not content else "s.csv")
    path.write_text(content)
    status, _, err = run_cli("observations", path, "--from", "2024-01-01", "--to",
                             "2024-01-01", "--out", tmp_path / "o.toml", capsys=capsys)
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.toml").exists()


def test_shipped_observations_match_the_reference_totals():
    grid = sim.load_scenario(CONFIGS / "calibration_2024.toml").grid
    obs = load_observations(CONFIGS / "observations" / "gs_monthly_2024_2025.toml", grid)
    values = np.array([o.claim.value for o in obs.observations])
    assert len(values) == 24
    # Yearly totals of Ukraine's General Staff personnel-loss figures, 2024 and 2025
    # (differences of the cumulative daily series, PetroIvaniuk/2022-Ukraine-Russia-War-
    # Dataset, data/russia_losses_personnel.json; see the header of the observation file).
    assert values[:12].sum() == 430_320 and values[12:].sum() == 418_360
    assert all(o.claim.source for o in obs.observations)
