"""The report of a calibration (a calibrated forecast) and of a backtest: the expected
figures and tables, the observations drawn on the quantities they observe, the line where
the data end, numbers for humans, and the pages render in headless Chromium."""

from __future__ import annotations

import io as stdio
import re
import shutil
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from sim import io
from sim.cli import main
from sim.numbers import value_text
from sim.report import calibration_page, calibration_plots
from sim.report.calibration_plots import DATA_END_LABEL, OBSERVED_LABEL
from sim.report.html import kind_of

from .conftest import CONFIGS
from .test_report import HUMAN_NUMBER, assert_readable_page

matplotlib.use("Agg")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000"]
OBSERVATIONS = CONFIGS / "observations" / "gs_monthly_2024_2025.toml"
SCIENTIFIC = re.compile(r"\d(\.\d+)?e[+-]?\d", re.IGNORECASE)
RUN_FIGURES = {"fan_bonus_usd_per_day", "fan_force", "distribution_bonus_usd_per_day",
               "distribution_bonus_share_of_defense", "manpower_balance", "ledger", "claims"}
TIME_FIGURES = ("fan_bonus_usd_per_day", "fan_force", "manpower_balance",
                "predictive_casualties")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A small calibration (CLI) and a two-cutoff backtest, each with its report."""
    from sim import load_scenario
    from sim.analysis.backtest import rolling_backtest

    folder = tmp_path_factory.mktemp("calibration_report")
    commands = [["calibrate", CONFIGS / "calibration_2024.toml", "--observations",
                 OBSERVATIONS, "--particles", "300", "--seed", "1", "--out",
                 folder / "posterior.nc"],
                ["report", folder / "posterior.nc", "--out", folder / "posterior_report"],
                ["report", folder / "backtest.nc", "--out", folder / "backtest_report"]]
    scenario = load_scenario(CONFIGS / "calibration_2024.toml")
    backtest = rolling_backtest(scenario, str(OBSERVATIONS), ["2025-04-01", "2025-07-01"],
                                horizon_months=3, particles=100, seed=2)
    io.write_results(backtest, folder / "backtest.nc")
    for args in commands:
        with redirect_stdout(stdio.StringIO()):
            assert main([str(a) for a in args]) == 0
    return folder


def _page(reports: Path, name: str) -> str:
    return (reports / f"{name}_report" / "index.html").read_text()


def _table(page: str, table_id: str) -> str:
    start = page.index(f'id="{table_id}"')
    return page[start:page.index("</table>", start)]


def _rows(table: str) -> int:
    return table.split("<tbody>")[1].count("<tr")


def _cells(page: str) -> list[str]:
    """Every table cell of the page but the provenance (raw attributes)."""
    without = page.replace(_table(page, "provenance"), "")
    return re.findall(r"<td[^>]*>(.*?)</td>", without, flags=re.S)


def test_posterior_report_files_title_and_sections(reports):
    ds = io.read_results(reports / "posterior.nc")
    assert kind_of(ds) == "posterior"
    out = reports / "posterior_report"
    files = {p.name for p in out.iterdir()}
    stems = RUN_FIGURES | {"prior_posterior", "predictive_casualties"}
    if calibration_plots.drawable_pairs(ds):
        stems.add("unseparable")
    for stem in stems:
        assert {f"{stem}.png", f"{stem}.svg"} <= files
    assert {"index.html", "summary.csv", "prior_posterior.csv", "predictive_checks.csv",
            "stages.csv"} <= files
    page = _page(reports, "posterior")
    assert page.count("<img") == len([f for f in files if f.endswith(".png")]) == len(stems)
    assert "<h1>Calibrated forecast: posterior.nc</h1>" in page
    assert "gs_monthly_2024_2025.toml" in page.split("<h2")[0]
    for table in ("summary", "probabilities", "claims", "prior_posterior",
                  "predictive_checks", "stages", "diagnostics", "assumptions", "provenance"):
        assert f'id="{table}"' in page
    for heading in ("Posterior predictive checks", "Prior against posterior",
                    "Identifiability", "SMC diagnostics"):
        assert f">{heading}</h2>" in page
    assert "data end / forecast" not in page.split("<h2")[0]  # the line is in the figures
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "reporting bias not removed" in page


def test_prior_posterior_table_has_a_row_per_parameter(reports):
    ds = io.read_results(reports / "posterior.nc")
    table = _table(_page(reports, "posterior"), "prior_posterior")
    assert _rows(table) == ds.sizes["parameter"]
    for name in ds["parameter"].values:
        assert f"<td>{name}</td>" in table
    assert "narrowing" in table and "bias.general_staff" in table
    assert "<td class=\"n\">617k</td>" in table  # force.initial_persons' prior 5th percentile
    stages = _table(_page(reports, "posterior"), "stages")
    assert _rows(stages) == int(ds.attrs["stages"])


def test_no_table_cell_in_scientific_notation(reports):
    for name in ("posterior", "backtest"):
        cells = _cells(_page(reports, name))
        assert cells
        assert not [c for c in cells if SCIENTIFIC.search(c)], name


def test_unseparable_pairs_are_listed(reports):
    ds = io.read_results(reports / "posterior.nc")
    page = _page(reports, "posterior")
    section = page[page.index('id="identifiability"'):page.index('id="diagnostics"')]
    pairs = calibration_plots.unseparable_pairs(ds)
    if pairs:
        shown = min(len(pairs), calibration_page.MOST_PAIRS)
        assert _rows(_table(section, "unseparable")) == shown
        assert "bias against the level it multiplies" in section
    else:
        assert "No pair of parameters" in section


def test_predictive_chart_draws_every_observation(reports):
    import matplotlib.pyplot as plt

    ds = io.read_results(reports / "posterior.nc")
    observed = calibration_plots.observations(ds)
    assert len(observed) == ds.sizes["observation"] == 24
    assert calibration_plots.observed_quantities(ds) == [("casualties", None, None)]
    ax = calibration_plots.predictive_chart(ds, "casualties")
    lines = [line for line in ax.get_lines()
             if str(line.get_label()).startswith(OBSERVED_LABEL)]
    assert len(lines) == 1
    assert len(lines[0].get_xdata()) == 24
    # a monthly window on a monthly grid: each observation drawn at its reported value
    assert np.allclose(lines[0].get_ydata(), [o["value"] for o in observed])
    plt.close(ax.figure)


def _data_end_lines(ax, end: np.datetime64) -> list:
    from matplotlib.dates import date2num

    return [line for line in ax.get_lines() if line.get_label() == DATA_END_LABEL
            and np.allclose(date2num(line.get_xdata()), date2num(end))]


def test_every_time_chart_has_the_data_end_line(reports):
    import matplotlib.pyplot as plt

    ds = io.read_results(reports / "posterior.nc")
    end = np.datetime64(ds.attrs["data_end"], "D")
    assert end == np.datetime64("2026-01-01")
    figures = {stem: draw for stem, _, draw in calibration_page.figures_for(ds)}
    for stem in TIME_FIGURES:
        ax = figures[stem](ds)
        assert len(_data_end_lines(ax, end)) == 1, stem
        plt.close(ax.figure)
    without = ds.copy()
    without.attrs = {k: v for k, v in ds.attrs.items() if k != "data_end"}
    ax = figures["fan_force"](without)
    assert not [line for line in ax.get_lines() if line.get_label() == DATA_END_LABEL]
    plt.close(ax.figure)


def test_backtest_report(reports):
    ds = io.read_results(reports / "backtest.nc")
    assert kind_of(ds) == "backtest"
    out = reports / "backtest_report"
    files = {p.name for p in out.iterdir()}
    for stem in ("backtest_skill", "backtest_forecasts"):
        assert {f"{stem}.png", f"{stem}.svg"} <= files
    assert {"index.html", "summary.csv", "forecasts.csv"} <= files
    page = _page(reports, "backtest")
    assert "<h1>Backtest: backtest.nc</h1>" in page and page.count("<img") == 2
    scores = _table(page, "summary")
    assert _rows(scores) == ds.sizes["cutoff"] * ds.sizes["method"]
    assert "CRPS skill vs last" in scores and "in 90% interval" in scores
    forecasts = _table(page, "forecasts")
    assert _rows(forecasts) == int(np.isfinite(ds["observed"].values).sum())
    assert 'id="calibrations"' in page and 'id="provenance"' in page


def test_parameters_read_as_percent_by_name_and_units():
    """Shares and rates in %, other dimensionless numbers plain (one rule, sim.numbers)."""
    assert value_text(0.3, "1", "losses.killed_share") == "30.0%"
    assert value_text(0.05, "1/year", "prices.inflation") == "5.0%"
    assert value_text(0.5, "1", "recruitment.shock_persistence") == "0.5"
    assert value_text(1.2e6, "RUB", "bonus.regional_rub@2025-01-01") == "1.2M"
    assert value_text(float("nan"), "1", "losses.killed_share") == "n/a"
    for x in (1e-9, 3.3e-7, 1e20, -4.5e-12):
        assert not SCIENTIFIC.search(value_text(x, "1", "a_share"))


@pytest.mark.skipif(CHROMIUM is None, reason="headless check needs chromium (Debian package "
                    "chromium), which .ci/run installs; it is not on this machine")
@pytest.mark.parametrize("name", ["posterior", "backtest"])
def test_report_renders_in_headless_chromium(reports, name, tmp_path):
    index = reports / f"{name}_report" / "index.html"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", index.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded, "the page's load check did not run"
    assert loaded.group(1) == loaded.group(2) == str(index.read_text().count("<img"))
    captioned = re.search(r'data-figures-captioned="(\d+)/(\d+)"', dom)
    assert captioned and captioned.group(1) == captioned.group(2) == loaded.group(2)
    assert 'data-scientific-cells="0"' in dom
    assert_readable_page(dom)
    tables = (("summary", "prior_posterior", "predictive_checks", "stages", "provenance")
              if name == "posterior" else ("summary", "forecasts", "provenance"))
    for table in tables:
        assert f'id="{table}"' in dom


@pytest.mark.parametrize("name", ["posterior", "backtest"])
def test_pages_caption_every_figure_and_show_no_unit_1(reports, name):
    """Without a browser: a one-sentence caption under every figure (saying the horizon
    and where the data end), no scientific notation, no units "1"."""
    page = assert_readable_page(_page(reports, name))
    assert len(page.captions) == _page(reports, name).count("<figure")
    for caption in page.captions:
        assert caption[0].isupper() and caption.endswith(".") and ". " not in caption
    if name == "posterior":
        fan = next(c for c in page.captions if c.startswith("Daily signing-bonus spend"))
        assert "from 2024-01 to 2026-12" in fan and "line at 2026-01-01" in fan
        probabilities = page.tables["probabilities"]["rows"]
        assert all(re.fullmatch(r"\d+\.\d%", row[1]) and row[2].endswith(" pp")
                   for row in probabilities)
        shares = [row for row in page.tables["prior_posterior"]["rows"]
                  if row[0].endswith("_share")]
        assert shares and all(row[1] == "%" and row[2].endswith("%") for row in shares)
    else:
        assert "from 2025-04-01 to 2025-07-01" in page.captions[0]
        assert set(page.column("forecasts", "units")) == {"persons"}


@pytest.mark.parametrize("name", ["posterior", "backtest"])
def test_csv_files_hold_numbers(reports, name):
    """Every CSV of the page holds numbers (no "611k" or "8.1%" text), with a ``units``
    column wherever its rows carry values in units."""
    import pandas as pd

    files = sorted((reports / f"{name}_report").glob("*.csv"))
    assert len(files) >= 2
    for path in files:
        frame = pd.read_csv(path)
        for column in frame.columns:
            if frame[column].dtype == object:
                assert not frame[column].dropna().astype(str).str.contains(
                    HUMAN_NUMBER).any(), (path.name, column)
        if path.stem in ("summary", "ledger", "claims", "prior_posterior",
                         "predictive_checks", "forecasts") and not (
                name == "backtest" and path.stem == "summary"):
            assert "units" in frame and "unit" not in frame, path.name
    ds = io.read_results(reports / f"{name}.nc")
    if name == "posterior":
        table = pd.read_csv(reports / "posterior_report" / "prior_posterior.csv")
        assert list(table["posterior_p50"]) == [float(v) for v in ds["posterior_p50"].values]
