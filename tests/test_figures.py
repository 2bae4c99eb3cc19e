"""Every figure function of the report, drawn on small results: a title, labelled axes
with units, nothing outside the canvas (the tight bounding box and every legend inside
the figure); the manpower balance adds up and is per month; the distribution charts mark
the key-probability thresholds."""

from __future__ import annotations

import inspect
import re

import matplotlib
import numpy as np
import pytest

import sim
from sim.analysis.experiments import load_sweep, run_experiments
from sim.analysis.summary import (
    DAILY_BONUS_THRESHOLD_USD,
    DEFENSE_SHARE_THRESHOLD,
    probability_table,
)
from sim.core.units import DAYS_PER_MONTH
from sim.numbers import probability
from sim.report import calibration_plots, discovery_plot, plots, question_plots

from .conftest import CONFIGS

matplotlib.use("Agg")

OBSERVATIONS = CONFIGS / "observations" / "gs_monthly_2024_2025.toml"
MODULES = (plots, question_plots, calibration_plots, discovery_plot)
UNIT = re.compile(r"\[[^\]]+\]|%")


# ------------------------------------------------------------------ results, built once

@pytest.fixture(scope="session")
def run(baseline_run_400):
    return baseline_run_400


@pytest.fixture(scope="session")
def summary_run(baseline_summary_400):
    return baseline_summary_400


@pytest.fixture(scope="module")
def sens():
    return sim.sensitivity(sim.load_scenario(CONFIGS / "baseline.toml"),
                           "bonus_spend_usd_per_day", "all", samples=32, resamples=20)


@pytest.fixture(scope="module")
def sweep():
    return run_experiments(load_sweep(CONFIGS / "sweeps" / "sources.toml", samples=200))


@pytest.fixture(scope="module")
def posterior():
    scenario = sim.load_scenario(CONFIGS / "calibration_2024.toml")
    return sim.calibrate(scenario, str(OBSERVATIONS), particles=100, seed=1)


@pytest.fixture(scope="module")
def backtest():
    scenario = sim.load_scenario(CONFIGS / "calibration_2024.toml")
    return sim.rolling_backtest(scenario, str(OBSERVATIONS), ["2025-04-01", "2025-07-01"],
                                horizon_months=3, particles=80, seed=2)


@pytest.fixture(scope="module")
def questions(run):
    scenario = sim.load_scenario(CONFIGS / "baseline.toml")
    return {"breakeven": sim.breakeven(scenario, lever="recruitment", samples=200, seed=1),
            "runway": sim.runway(run),
            "discovery": sim.discover(run, "force_change_persons < 0")}


# ------------------------------------------------------------------ the figures

FIGURES = {
    # name: (results fixture, draw, axis holding the values, other axis categorical)
    "fan_chart": ("run", lambda d: plots.fan_chart(d, "bonus_spend_usd_per_day"), "y", False),
    "fan_chart (force)": ("run", lambda d: plots.fan_chart(d, "force_persons"), "y", False),
    "fan_chart (summary)": ("summary_run", lambda d: plots.fan_chart(d, "force_persons"), "y",
                            False),
    "distribution": ("run", lambda d: plots.distribution(d, "bonus_spend_usd_per_day_mean"),
                     "x", False),
    "distribution (share)": ("run", lambda d: plots.distribution(
        d, "bonus_share_of_defense_horizon"), "x", False),
    "manpower_balance": ("run", plots.manpower_balance, "y", False),
    "manpower_balance (summary)": ("summary_run", plots.manpower_balance, "y", False),
    "ledger_chart": ("run", plots.ledger_chart, "y", True),
    "claims_chart": ("run", plots.claims_chart, "x", True),
    "tornado_chart": ("sens", plots.tornado_chart, "x", True),
    "sobol_chart": ("sens", plots.sobol_chart, "x", True),
    "indices_over_time": ("sens", plots.indices_over_time, "y", False),
    "scenario_comparison": ("sweep", lambda d: plots.scenario_comparison(
        d, "force_change_persons"), "x", True),
    "scenario_comparison (share)": ("sweep", lambda d: plots.scenario_comparison(
        d, "bonus_share_of_defense_horizon"), "x", True),
    "runway_chart": ("questions", lambda q: question_plots.runway_chart(q["runway"]), "y",
                     False),
    "breakeven_chart": ("questions", lambda q: question_plots.breakeven_chart(
        q["breakeven"]), "x", False),
    "discovery_chart": ("questions", lambda q: discovery_plot.discovery_chart(
        q["discovery"], when="2025-01 to 2026-12"), "y", False),
    "prior_posterior_chart": ("posterior", calibration_plots.prior_posterior_chart, "x", True),
    "predictive_chart": ("posterior", lambda d: calibration_plots.predictive_chart(
        d, "casualties"), "y", False),
    "unseparable_chart": ("posterior", calibration_plots.unseparable_chart, "y", False),
    "forecast_view (fan_chart)": ("posterior", calibration_plots.forecast_view(
        lambda d: plots.fan_chart(d, "force_persons"), "Deployed force, {horizon}: forecast",
        time_axis=True), "y", False),
    "forecast_view (distribution)": ("posterior", calibration_plots.forecast_view(
        lambda d: plots.distribution(d, "bonus_spend_usd_per_day_mean"),
        "Mean daily bonus spend, {horizon}: posterior", legend_below=True), "x", False),
    "forecast_view (manpower_balance)": ("posterior", calibration_plots.forecast_view(
        plots.manpower_balance, "Manpower balance, {horizon}: forecast", time_axis=True), "y",
        False),
    "backtest_skill_chart": ("backtest", calibration_plots.backtest_skill_chart, "y", False),
    "backtest_forecast_chart": ("backtest", calibration_plots.backtest_forecast_chart, "y",
                                False),
}


def _figure_functions() -> set[str]:
    """Public functions of the four modules whose docstring says they return a
    matplotlib Axes or Figure."""
    names = set()
    for module in MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            doc = inspect.getdoc(function) or ""
            returns = doc.partition("Returns\n-------")[2]
            if (not name.startswith("_") and function.__module__ == module.__name__
                    and "matplotlib." in returns):
                names.add(name)
    return names


def test_every_figure_function_is_checked():
    """A new figure function must be added to `FIGURES` (and so to the checks below)."""
    drawn = {name.split(" ")[0] for name in FIGURES}
    functions = _figure_functions()
    assert len(functions) >= 16
    assert functions - drawn == set()


def _titles(fig) -> list[str]:
    titles = [ax.get_title(loc=loc) for ax in fig.axes for loc in ("left", "center", "right")]
    return [t for t in [*titles, fig.get_suptitle()] if t.strip()]


def _inside(box, canvas, tolerance: float = 1.0) -> bool:
    return (box.x0 >= canvas.x0 - tolerance and box.y0 >= canvas.y0 - tolerance
            and box.x1 <= canvas.x1 + tolerance and box.y1 <= canvas.y1 + tolerance)


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_is_titled_labelled_and_inside_the_canvas(name, request):
    import matplotlib.pyplot as plt

    fixture, draw, values_axis, categorical = FIGURES[name]
    drawn = draw(request.getfixturevalue(fixture))
    fig = drawn if hasattr(drawn, "savefig") else drawn.figure
    ax = fig.axes[0] if hasattr(drawn, "savefig") else drawn
    try:
        assert _titles(fig), f"{name}: no title"
        value_label = ax.get_ylabel() if values_axis == "y" else ax.get_xlabel()
        other_label = ax.get_xlabel() if values_axis == "y" else ax.get_ylabel()
        assert UNIT.search(value_label), f"{name}: no unit in {value_label!r}"
        assert "[1]" not in value_label, f"{name}: a share shown as [1]: {value_label!r}"
        if not categorical:  # on some panel: shared axes are labelled once
            other = [a.get_xlabel() if values_axis == "y" else a.get_ylabel() for a in fig.axes]
            assert any(label.strip() for label in [other_label, *other]), \
                f"{name}: the {values_axis} axis' partner is unlabelled"
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
        assert _inside(tight, fig.bbox), f"{name}: text outside the canvas, {tight} > {fig.bbox}"
        legends = [*fig.legends, *(a.get_legend() for a in fig.axes)]
        for legend in (legend for legend in legends if legend is not None):
            box = legend.get_window_extent(renderer)
            assert _inside(box, fig.bbox), f"{name}: legend outside the canvas, {box}"
    finally:
        plt.close(fig)


# ------------------------------------------------------------------ what they draw

def _net_line(ax):
    return next(line for line in ax.lines if line.get_label() == "net change of the force, mean")


@pytest.mark.parametrize("fixture", ["run", "summary_run"])
def test_manpower_balance_flows_add_up_to_the_net_change(fixture, request):
    """The stacked flows (recruits, returns to duty, irrecoverable losses, wounded into
    recovery, other exits, growth of training and reserve) sum to the plotted net change;
    dropping the wounded pipeline would miss it by ~10k a month."""
    import matplotlib.pyplot as plt

    ds = request.getfixturevalue(fixture)
    ax = plots.manpower_balance(ds)
    labels = [c.get_label() for c in ax.containers]
    assert labels == [flow[0] for flow in plots.MANPOWER_FLOWS]
    total = np.sum([[bar.get_height() for bar in c] for c in ax.containers], axis=0)
    net = _net_line(ax).get_ydata()
    scale = np.abs([[bar.get_height() for bar in c] for c in ax.containers]).max()
    np.testing.assert_allclose(total, net, rtol=0, atol=1e-5 * scale)
    def flow(label):
        return np.array([bar.get_height() for bar in ax.containers[labels.index(label)]])

    # recruits against irrecoverable losses alone (the old chart) miss the net change
    assert np.abs(flow("recruits") + flow("irrecoverable losses") - net).min() > 1000
    assert (flow("wounded into recovery") < 0).all() and (flow("recruits") > 0).all()
    assert ax.get_ylabel().endswith("[persons/month]")
    assert any(np.allclose(line.get_ydata(), 0) for line in ax.lines)  # the zero line
    plt.close(ax.figure)


def test_manpower_balance_is_per_month_not_per_step(run):
    """February's recruits per month match January's (per step it is 28/31 of them)."""
    import matplotlib.pyplot as plt

    ax = plots.manpower_balance(run)
    recruits = np.array([bar.get_height() for bar in ax.containers[0]])
    months = run.step_days.values / DAYS_PER_MONTH
    expected = run.recruits_persons.astype(float).mean("sample").values / months
    np.testing.assert_allclose(recruits, expected, rtol=1e-9)
    assert run.step_days.values[1] == 28
    per_step = run.recruits_persons.astype(float).mean("sample").values
    assert per_step[1] / per_step[0] < 0.93 < recruits[1] / recruits[0]
    plt.close(ax.figure)


@pytest.mark.parametrize("variable, threshold, tick", [
    ("bonus_spend_usd_per_day_mean", DAILY_BONUS_THRESHOLD_USD, "M"),
    ("bonus_share_of_defense_horizon", DEFENSE_SHARE_THRESHOLD, "%")])
def test_distribution_marks_the_key_probability_threshold(run, variable, threshold, tick):
    """A dashed line at the threshold the key probabilities use, labelled with the same
    probability as the table; shares read in %."""
    import matplotlib.pyplot as plt

    ax = plots.distribution(run, variable)
    lines = [line for line in ax.lines if np.allclose(line.get_xdata(), threshold)]
    assert len(lines) == 1 and lines[0].get_linestyle() == "--"
    table = probability_table(run).set_index("event")["probability"]
    event = next(label for label, name, *_ in plots.EVENTS if name == variable)
    label = lines[0].get_label()
    assert label.startswith("threshold") and probability(table[event]) in label
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(t.endswith(tick) for t in ticks), ticks
    plt.close(ax.figure)


def test_force_change_comparison_has_its_zero_line(sweep):
    import matplotlib.pyplot as plt

    ax = plots.scenario_comparison(sweep, "force_change_persons")
    zero = [line for line in ax.lines if np.allclose(line.get_xdata(), 0)]
    assert zero and "threshold 0 persons" in zero[0].get_label()
    plt.close(ax.figure)


def test_sensitivity_titles_say_which_date(sens):
    import matplotlib.pyplot as plt

    def title(ax):
        return " ".join(ax.get_title(loc="left").split())  # however it is wrapped

    last = str(np.datetime64(sens.time.values[-1], "D"))
    for draw in (plots.sobol_chart, plots.tornado_chart):
        ax = draw(sens)
        assert f"at {last}" in title(ax)
        plt.close(ax.figure)
    one = sens.isel(time=[3])
    ax = plots.sobol_chart(one)
    assert f"at {np.datetime64(sens.time.values[3], 'D')}" in title(ax)
    plt.close(ax.figure)


def test_one_colour_one_meaning():
    """S1/ST, the tornado's low/high, the model, observations and categories never share
    a colour."""
    roles = [plots.MODEL, plots.OBSERVED, plots.FIRST_ORDER, plots.TOTAL_ORDER, plots.LOW,
             plots.HIGH, *plots.MODEL_TINTS]
    assert len(set(roles)) == len(roles)
    assert not set(plots.CATEGORIES) & set(roles)
    assert not set(plots.MANPOWER_COLOURS.values()) - set(plots.CATEGORIES)
