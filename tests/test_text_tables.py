"""The text tables people read in a terminal or a notebook: one number format
(`sim.numbers`), no scientific notation, sweep tables that fit 120 columns, posterior
headings, the not-a-sweep-file refusal and the public way to set a sweep's samples."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis.backtest import backtest_text
from sim.analysis.experiments import (
    comparison_text,
    load_sweep,
    run_experiments,
)
from sim.analysis.runway import runway
from sim.analysis.summary import Summary, table_text

from .conftest import CONFIGS, run_cli

EXPONENT = re.compile(r"\d[eE][+-]?\d")
"""Scientific notation: 6.114e+05, 2.4e+07, 1e-05."""

BASE = str(CONFIGS / "baseline.toml")


@pytest.fixture(scope="module")
def baseline_run():
    return sim.simulate(sim.load_scenario(BASE), samples=400, seed=7)


@pytest.fixture(scope="module")
def baseline_text(baseline_run):
    return str(sim.summarize(baseline_run))


def _section(text: str, heading: str) -> list[str]:
    """The lines of one section of a Summary's text (heading to blank line)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start + 1:end]


def test_summary_text_has_no_scientific_notation(baseline_text):
    assert not EXPONENT.search(baseline_text), EXPONENT.search(baseline_text)


def test_summary_shares_are_percentages_and_units_read_percent(baseline_run, baseline_text):
    rows = _section(baseline_text, "Outcomes")
    share_rows = [line for line in rows if line.startswith("bonus_share_of_defense_horizon")]
    assert len(share_rows) == 1
    cells = share_rows[0].split()
    assert cells[1] == "%"  # units column: "%", not "1"
    assert all(cell.endswith("%") for cell in cells[2:]) and len(cells) == 8
    # the number behind the text: the mean share, in percent with one decimal
    mean = float(baseline_run.bonus_share_of_defense_horizon.mean())
    assert cells[2] == f"{100 * mean:.1f}%"
    ledger = _section(baseline_text, "Who pays")
    shares = [line for line in ledger if "share of" in line]
    assert shares and all(line.split()[-1].endswith("%") for line in shares)


def test_summary_months_show_one_decimal(baseline_run, baseline_text):
    rows = _section(baseline_text, "Outcomes")
    months = next(line for line in rows if line.startswith("months_of_decline"))
    cells = months.split()
    assert cells[1] == "month"
    assert all(re.fullmatch(r"\d+\.\d", cell) for cell in cells[2:]), cells
    # the metric itself is unchanged: not rounded to tenths
    assert sim.summarize(baseline_run).outcomes.set_index("quantity").loc[
        "months_of_decline", "mean"] == pytest.approx(
        float(baseline_run.months_of_decline.mean()))


def test_summary_probabilities_in_percent_and_se_in_percentage_points(baseline_run,
                                                                      baseline_text):
    table = sim.summarize(baseline_run).probabilities
    rows = _section(baseline_text, "Key probabilities")[1:]  # after the header
    assert len(rows) == len(table)
    for line, (_, row) in zip(rows, table.iterrows(), strict=True):
        assert line.startswith(row.event)
        probability, se, unit = line[len(row.event):].split()
        assert probability == f"{100 * row.probability:.1f}%"
        assert unit == "pp"
        if 0 < row.probability < 1:  # never the 0.000 of three decimals
            assert float(se) > 0
            assert float(se) == pytest.approx(100 * row.mc_se, rel=0.06)  # 2 digits
    assert any(0 < p < 1 for p in table.probability)


def test_tiny_and_huge_values_print_without_exponents():
    outcomes = pd.DataFrame([
        {"quantity": "tiny", "units": "persons", "mean": 3e-9, "p5": -2e-7, "p25": 0.0,
         "p50": 1e-12, "p75": 0.004, "p95": 0.0123},
        {"quantity": "huge", "units": "RUB", "mean": 4.2e15, "p5": 1e13, "p25": 2e13,
         "p50": 3e14, "p75": 5e14, "p95": 9.9e17},
        {"quantity": "tiny share", "units": "1", "mean": 1e-6, "p5": 0.0, "p25": 1e-9,
         "p50": 2e-5, "p75": 3e-4, "p95": 0.5},
    ])
    probabilities = pd.DataFrame([{"event": "rare", "probability": 1e-5, "mc_se": 3e-6}])
    empty = pd.DataFrame()
    text = str(Summary(outcomes, probabilities, empty, empty))
    assert not EXPONENT.search(text), text
    assert "0.004" in text and "0.0123" in text and "<0.1%" in text


def test_calibration_outcomes_heading_says_posterior(baseline_run):
    from sim.analysis.calibration import calibrate

    scenario = sim.load_scenario(CONFIGS / "calibration_2024.toml")
    posterior = calibrate(scenario, [str(CONFIGS / "observations" /
                                         "gs_monthly_2024_2025.toml")], particles=40, seed=1)
    text = str(sim.summarize(posterior))
    assert "Outcomes (posterior quantiles over 40 particles, given the observations)" in text
    assert "Key probabilities (posterior" in text
    # a run's summary does not say posterior
    assert "posterior" not in str(sim.summarize(baseline_run))


# ---------------------------------------------------------------- sweeps


@pytest.fixture(scope="module")
def fixed_factor_sweep(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "sweep.toml"
    path.write_text(f'base = "{BASE}"\n[run]\nsamples = 200\n[factors]\n'
                    '"bonus.regional_growth" = [0.0, 0.1, 0.2]\n'
                    '"recruitment.bonus_elasticity" = [0.0, 0.6]\n'
                    '"prices.inflation" = [0.08]\n')
    return run_experiments(load_sweep(path))


def test_sweep_table_fits_120_columns_and_shows_a_fixed_factor_once(fixed_factor_sweep):
    text = comparison_text(fixed_factor_sweep)
    widths = [len(line) for line in text.splitlines()]
    assert max(widths) <= 120, max(widths)
    assert text.count("prices.inflation") == 1
    assert "fixed in every scenario: prices.inflation=0.08" in text
    # the varying factors are columns with short names, one row per scenario
    header = next(line for line in text.splitlines() if line.startswith("regional_growth"))
    assert "bonus_elasticity" in header and "force change [persons]" in header
    assert "bonus/defence [%]" in header
    assert not EXPONENT.search(text)
    assert "C1: Medvedev: 175,000 contracts by 27 May 2025" in text


def test_a_sweep_of_configs_is_named_by_config_stem(tmp_path):
    experiments = load_sweep(CONFIGS / "sweeps" / "sources.toml", samples=150)
    text = comparison_text(run_experiments(experiments[:2]))
    rows = text.splitlines()
    assert any(line.startswith("baseline ") for line in rows)
    assert any(line.startswith("seed_article ") for line in rows)
    assert max(len(line) for line in rows) <= 120


def test_table_text_wraps_and_repeats_the_label_columns():
    frame = pd.DataFrame({"scenario": ["a", "bb"],
                          **{f"column {i}": ["x" * 20, "y"] for i in range(8)}})
    text = table_text(frame, left=("scenario",), repeat=1, width=60)
    blocks = text.split("\n\n")
    assert len(blocks) > 1
    assert all(max(len(line) for line in block.splitlines()) <= 60 for block in blocks)
    assert all(block.startswith("scenario") for block in blocks)
    assert sum(block.count("column") for block in blocks) == 8  # every column once


# ---------------------------------------------------------------- loading sweeps


def test_load_sweep_sets_every_scenarios_samples_and_seed():
    path = CONFIGS / "sweeps" / "bonus_escalation.toml"
    default = load_sweep(path)
    experiments = load_sweep(path, samples=1_000, seed=11)
    assert len(experiments) == len(default) == 9
    assert {e.scenario.samples for e in experiments} == {1_000}
    assert {e.scenario.seed for e in experiments} == {11}
    assert {e.scenario.samples for e in default} == {20_000}  # the file's [run]
    assert [e.label for e in experiments] == [e.label for e in default]
    with pytest.raises(sim.UserError, match="samples"):
        load_sweep(path, samples=0)


def test_a_scenario_config_is_not_a_sweep_file(capsys):
    status, _, err = run_cli("sweep", BASE, capsys=capsys)
    assert status == 2
    assert err.strip().splitlines() == [
        f"fiscal-sim: error: {BASE}: not a sweep file: it looks like a scenario config (a "
        "sweep file has base = ... and [factors], or configs = [...]); run it with "
        "`fiscal-sim run`"]
    with pytest.raises(sim.ConfigError, match="not a sweep file") as error:
        load_sweep(BASE)
    assert error.value.path == BASE and error.value.key == ""


def test_a_config_that_extends_another_is_not_a_sweep_file(tmp_path):
    child = tmp_path / "child.toml"
    child.write_text(f'extends = "{BASE}"\n[run]\nsamples = 100\n')
    with pytest.raises(sim.ConfigError, match="looks like a scenario config"):
        load_sweep(child)


# ---------------------------------------------------------------- other tables


def test_backtest_text_formats_every_column():
    table = pd.DataFrame([
        {"cutoff": pd.Timestamp("2025-01-01"), "method": "model", "heldout": 6, "scored": 6,
         "crps": 1234.5, "log_score": -11.234, "coverage_50": 0.5, "coverage_90": 0.8333,
         "crps_skill_last": 0.125, "crps_skill_mean3": -0.04},
        {"cutoff": "all", "method": "last", "heldout": 6, "scored": 0, "crps": np.nan,
         "log_score": np.nan, "coverage_50": np.nan, "coverage_90": np.nan,
         "crps_skill_last": np.nan, "crps_skill_mean3": 2e-7},
    ])
    text = backtest_text(table)
    first = text.splitlines()[1].split()
    assert first == ["2025-01-01", "model", "6", "6", "1.23k", "-11.23", "50.0%", "83.3%",
                     "+12.5%", "-4.0%"]
    assert "00:00:00" not in text and not EXPONENT.search(text)


def test_runway_text_dates_are_iso_and_shares_in_percent(baseline_run):
    text = runway(baseline_run).text()
    lines = text.splitlines()[1:]
    assert lines and all(re.match(r"  by \d{4}-\d{2}-\d{2}: cut (\d+\.\d%|<0\.1%|>99\.9%), "
                                  r"stress over threshold (\d+\.\d%|<0\.1%|>99\.9%)$", line)
                         for line in lines), text
    assert "400 futures" in text
