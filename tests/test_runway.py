"""Runway: the survival curves and probabilities against a hand count of the samples'
first-cut and first-stress dates, the stress date against the model's rule (a cut follows
the first crossing), and refusals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import sim
from sim.analysis.runway import default_dates, runway

from .conftest import REPO


@pytest.fixture(scope="module")
def baseline_run():
    return sim.simulate(sim.load_scenario(REPO / "configs" / "baseline.toml"), samples=1500,
                        seed=4)


def test_survival_is_a_hand_count(baseline_run):
    ds = baseline_run
    result = runway(ds)
    start = dt.date(2025, 1, 1)
    first_cut = ds.first_cut_date.values.astype(np.float64)
    first_stress = ds.first_stress_date.values.astype(np.float64)
    assert np.isnan(first_cut).any() and np.isfinite(first_cut).any()  # both kinds occur
    for date, row in result.survival.iterrows():
        day = (date - start).days
        no_cut = sum(1 for x in first_cut if np.isnan(x) or x > day) / len(first_cut)
        no_stress = sum(1 for x in first_stress if np.isnan(x) or x > day) / len(first_cut)
        assert row["no cut yet"] == pytest.approx(no_cut, abs=1e-12)
        assert row["stress not yet over threshold"] == pytest.approx(no_stress, abs=1e-12)
    # a share of futures never rises
    for column in result.survival:
        assert (np.diff(result.survival[column].values) <= 0).all()
    assert list(result.by_date.index) == [dt.date(2025, 7, 1), dt.date(2026, 1, 1),
                                          dt.date(2026, 7, 1), dt.date(2027, 1, 1)]
    by_mid_2026 = result.by_date.loc[dt.date(2026, 7, 1), "P(cut by date)"]
    # a cut in force on 1 July counts: the first reduced step starts on or before it
    assert by_mid_2026 == pytest.approx(np.mean(first_cut <= (dt.date(2026, 7, 1) - start).days))
    assert "by 2026-07-01: cut" in result.text()


def test_a_cut_follows_the_first_crossing(baseline_run):
    """The regions cut from the step after their stress first exceeds the threshold (their
    bonus is above the floor at first), so the first cut is one step after the crossing,
    unless the crossing is in the last step."""
    ds = baseline_run
    starts = (ds.time.values - ds.time.values[0]) / np.timedelta64(1, "D")
    stress = ds.first_stress_date.values.astype(np.float64)
    cut = ds.first_cut_date.values.astype(np.float64)
    crossed = np.isfinite(stress) & (stress < starts[-1])
    step = np.searchsorted(starts, stress[crossed])
    np.testing.assert_array_equal(cut[crossed], starts[step + 1])
    assert np.isnan(cut[~np.isfinite(stress)]).all()
    # the stress date is the first step whose stress exceeds the sampled threshold
    threshold = ds.param_regional_response_stress_threshold.values
    over = ds.regional_stress.values.astype(np.float64) > threshold[:, None]
    first = np.where(over.any(axis=1), starts[np.argmax(over, axis=1)], np.nan)
    # float32 storage of the stress can flip a value within 1e-7 of the threshold
    agree = np.mean((first == stress) | (np.isnan(first) & np.isnan(stress)))
    assert agree >= 0.995


def test_chosen_dates_and_refusals(baseline_run):
    result = runway(baseline_run, dates=["2025-06-15", dt.date(2026, 1, 1)])
    assert list(result.by_date.index) == [dt.date(2025, 6, 15), dt.date(2026, 1, 1)]
    with pytest.raises(sim.UserError, match="dates: expected dates from 2025-01-01"):
        runway(baseline_run, dates=["2030-01-01"])
    with pytest.raises(sim.UserError, match="YYYY-MM-DD"):
        runway(baseline_run, dates=["mid-2026"])
    v1 = sim.simulate(sim.load_scenario(REPO / "tests" / "data" / "baseline_v1.toml"),
                      samples=50)
    with pytest.raises(sim.UserError, match=r"regions' response \(\[regional_response\]"):
        runway(v1)


def test_default_dates():
    assert default_dates(dt.date(2025, 1, 1), dt.date(2026, 3, 1)) == [
        dt.date(2025, 7, 1), dt.date(2026, 1, 1), dt.date(2026, 3, 1)]
