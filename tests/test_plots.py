"""Figures: each returns Axes with labelled, unit-bearing axes, draws what it should, and
saves to PNG and SVG without warnings."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest

import sim
from sim.analysis.experiments import load_sweep, run_experiments
from sim.report import plots
from sim.run.sketch import DEFAULT_RELATIVE_ACCURACY

from .conftest import CONFIGS

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def run(baseline_run_400):
    return baseline_run_400


@pytest.fixture(scope="session")
def summary_run(baseline_summary_400):
    return baseline_summary_400


@pytest.fixture(scope="module")
def sweep():
    return run_experiments(load_sweep(CONFIGS / "sweeps" / "sources.toml", samples=300))


@pytest.fixture(scope="module")
def sens():
    return sim.sensitivity(sim.load_scenario(CONFIGS / "baseline.toml"),
                           "bonus_spend_usd_per_day", "all", samples=64, resamples=50)


def _check_saves(ax, tmp_path):
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for suffix in (".png", ".svg"):
            path = tmp_path / f"figure{suffix}"
            ax.figure.savefig(path)
            assert path.stat().st_size > 1000
    plt.close(ax.figure)


def _has_units(label: str) -> bool:
    return label.endswith("]") and "[" in label


def test_fan_chart_bands_paths_and_claims(run, tmp_path):
    ax = plots.fan_chart(run, "bonus_spend_rub_per_day", paths=3)
    assert len(ax.collections) == 2 + 1  # two bands, and the claim's window line
    labels = [line.get_label() for line in ax.lines]
    assert labels.count("median") == 1 and labels.count("sample paths") == 1
    assert sum(1 for line in ax.lines if line.get_label().startswith("_")) == 2
    assert _has_units(ax.get_ylabel()) and ax.get_xlabel() == "date"
    _check_saves(ax, tmp_path)
    force = plots.fan_chart(run, "force_persons", paths=0)
    last = [line.get_label() for line in force.lines][-1]
    assert last == "Putin: ~700k in the war zone (Dec 2025)"
    _check_saves(force, tmp_path)


def test_fan_chart_from_summary_results(summary_run, run, tmp_path):
    """The sketch's median, drawn smoothly, stays in the bucket that holds the exact
    median: within alpha of the sketch's answer's interval, so within a bucket's width
    2 alpha / (1 - alpha) of the exact median."""
    ax = plots.fan_chart(summary_run, "force_persons")
    assert len(ax.collections) == 2
    median = ax.lines[0].get_ydata()
    stored = summary_run.force_persons_quantiles.sel(quantile=0.5).values
    alpha = DEFAULT_RELATIVE_ACCURACY
    assert np.all(median >= stored / (1 + alpha)) and np.all(median <= stored / (1 - alpha))
    exact = run.force_persons.astype(float).median("sample").values
    np.testing.assert_allclose(median, exact, rtol=2 * alpha / (1 - alpha) + 1e-6)
    _check_saves(ax, tmp_path)


def test_sketch_staircase_is_drawn_smoothly():
    """A median drifting 0.3% a step sits in one 2%-wide bucket for several steps: the
    sketch's answers climb in flat runs. The drawn curve has almost none left (a point
    may rest on its bucket's edge), stays in each answer's bucket, and is closer to the
    exact median than the staircase."""
    from sim.run.sketch import QuantileSketch

    rng = np.random.default_rng(3)
    steps = 48
    values = np.exp(10 + 0.003 * np.arange(steps)[:, None]
                    + 0.1 * rng.standard_normal((steps, 10_001)))
    sketch = QuantileSketch(steps)
    sketch.update(values)
    levels = np.array([0.05, 0.5, 0.95])
    raw = sketch.quantiles(levels)
    exact = np.quantile(values, levels, axis=1, method="lower")
    drawn = plots.smooth_within_sketch(raw)
    alpha = DEFAULT_RELATIVE_ACCURACY
    assert np.sum(np.diff(raw[1]) == 0) > steps / 2  # the staircase
    assert np.sum(np.diff(drawn[1]) == 0) <= steps // 12
    assert np.all(drawn >= raw / (1 + alpha) - 1e-9) and np.all(drawn <= raw / (1 - alpha))
    assert np.all(np.diff(drawn, axis=0) >= 0)  # levels stay in order
    error = np.abs(drawn[1] - exact[1]) / exact[1]
    assert np.mean(error) < 0.8 * np.mean(np.abs(raw[1] - exact[1]) / exact[1])
    # a real jump (more than a bucket) is kept, not smoothed away
    jump = np.r_[np.full(6, 100.0), np.full(6, 200.0)]
    np.testing.assert_array_equal(plots.smooth_within_sketch(jump), jump)


def test_distribution_marks_median_and_interval(run, tmp_path):
    ax = plots.distribution(run, "bonus_spend_usd_per_day_mean", bins=20)
    assert len(ax.patches) >= 20  # histogram bars (+ the interval span)
    median = float(np.median(run.bonus_spend_usd_per_day_mean))
    assert any(np.allclose(line.get_xdata(), median) for line in ax.lines)
    assert _has_units(ax.get_xlabel()) and _has_units(ax.get_ylabel())
    _check_saves(ax, tmp_path)


def test_manpower_balance_lines(run, tmp_path):
    ax = plots.manpower_balance(run)
    labels = [line.get_label() for line in ax.lines]
    assert "net change of the force, mean" in labels
    bars = [container.get_label() for container in ax.containers]
    assert "recruits" in bars and "irrecoverable losses" in bars
    assert "wounded into recovery" in bars and "wounded returning to duty" in bars
    assert len(ax.collections) == 1 and _has_units(ax.get_ylabel())  # the 5-95% whiskers
    _check_saves(ax, tmp_path)


def test_claims_chart_one_marker_per_claim(run, tmp_path):
    ax = plots.claims_chart(run)
    claims = next(line for line in ax.lines if line.get_label() == "claim")
    assert len(claims.get_xdata()) == 17 and len(ax.get_yticklabels()) == 17
    assert _has_units(ax.get_xlabel())
    _check_saves(ax, tmp_path)


def test_ledger_chart_stacks_mean_spend_by_payer_and_item(run, tmp_path):
    """One bar per payer, item and year; the stacked heights are the mean spend."""
    ax = plots.ledger_chart(run)
    spend = run.spend_rub_by_year.astype(float).mean("sample")
    nonzero = int((spend.max("year") != 0).sum())  # regional pay is never drawn
    years = run.sizes["year"]
    assert len(ax.patches) == nonzero * years
    tops = sorted(p.get_y() + p.get_height() for p in ax.patches)
    for payer in ("federal", "regional"):
        for total in spend.sel(payer=payer).sum("item").values:
            assert np.isclose(tops, total, rtol=1e-6).any(), (payer, total)
    assert _has_units(ax.get_ylabel()) and ax.get_title()
    assert len(ax.figure.legends[0].get_texts()) == nonzero
    _check_saves(ax, tmp_path)


def test_sensitivity_charts(sens, tmp_path):
    ax = plots.sobol_chart(sens, top=5)
    assert len(ax.patches) == 10 and _has_units(ax.get_xlabel())
    _check_saves(ax, tmp_path)
    ax = plots.tornado_chart(sens, top=6)
    assert len(ax.patches) == 12 and _has_units(ax.get_xlabel())
    _check_saves(ax, tmp_path)
    ax = plots.indices_over_time(sens, top=3)
    assert len(ax.lines) == 3 and _has_units(ax.get_ylabel())
    _check_saves(ax, tmp_path)


def test_scenario_comparison(sweep, tmp_path):
    ax = plots.scenario_comparison(sweep, "bonus_spend_usd_per_day_mean")
    medians = next(line for line in ax.lines if line.get_label() == "median")
    assert len(medians.get_xdata()) == 4
    labels = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    assert (labels["baseline"] > labels["seed_article"] > labels["independent"]
            > labels["official"])  # first on top
    assert _has_units(ax.get_xlabel())
    _check_saves(ax, tmp_path)


def test_scale_formatter():
    formatter = plots.amount_formatter()
    assert formatter(24e6, 0) == "24M" and formatter(1.5e9, 0) == "1.5bn"
    share = plots.share_formatter()
    assert share(0.05, 0) == "5%" and share(0.035, 0) == "3.5%" and share(0, 0) == "0%"


def test_axis_labels_do_not_double_the_unit(run):
    """"daily bonus spend (USD) [USD/day]" reads "Signing-bonus spend [USD/day]"; a
    variable without a display name loses its "(USD)" and "daily"."""
    assert plots.axis_label(run.bonus_spend_usd_per_day) == "Signing-bonus spend [USD/day]"
    assert plots.axis_label(run.manpower_cost_usd_per_day) == "Manpower cost [USD/day]"
    attrs = {"long_name": "daily pay bill (USD)", "units": "USD/day"}
    assert plots.display_name("x", attrs) == "Pay bill"
    assert plots.axis_label("Share", "1") == "Share [%]"


def test_sweep_tick_labels_read_without_exponents_and_stay_distinct(tmp_path):
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(f'base = "{CONFIGS / "baseline.toml"}"\n[factors]\n'
                          '"bonus.regional_rub" = [1.2e6, 1.5e6]\n')
    sweep = run_experiments(load_sweep(sweep_file, samples=20))
    assert plots.scenario_tick_labels(sweep) == ["regional_rub=1.2M", "regional_rub=1.5M"]
    sweep_file.write_text(f'base = "{CONFIGS / "baseline.toml"}"\n[factors]\n'
                          '"bonus.regional_rub" = [1_200_000, 1_200_001]\n')
    sweep = run_experiments(load_sweep(sweep_file, samples=20))
    labels = plots.scenario_tick_labels(sweep)  # both round to 1.2M: the full labels
    assert labels == ["bonus.regional_rub=1200000", "bonus.regional_rub=1200001"]


def test_distribution_of_an_outcome_with_no_finite_sample_says_so(run):
    ds = run.copy()
    ds["bonus_spend_usd_per_day_mean"] = ds["bonus_spend_usd_per_day_mean"] * np.nan
    ax = plots.distribution(ds)
    assert any("no sample has a finite value" in t.get_text() for t in ax.texts)
    assert ax.get_title()
