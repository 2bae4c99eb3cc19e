"""The report command: expected files for runs, sweeps and sensitivity results; the HTML
renders in headless Chromium with every image loaded; every figure has a caption, no
table cell shows scientific notation or the unit "1"; the CSV files hold numbers that
read back exactly; bad inputs exit 2."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim

from .conftest import CONFIGS, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A small run, sweep and sensitivity analysis, written by the CLI."""
    import io as stdio
    from contextlib import redirect_stdout

    from sim.cli import main

    folder = tmp_path_factory.mktemp("results")
    commands = {
        "run.nc": ["run", CONFIGS / "baseline.toml", "--samples", "300"],
        "sweep.nc": ["sweep", CONFIGS / "sweeps" / "sources.toml", "--samples", "200"],
        "sens.nc": ["sensitivity", CONFIGS / "baseline.toml", "--outcome",
                    "force_persons", "--time", "all", "--samples", "64"],
    }
    for name, args in commands.items():
        with redirect_stdout(stdio.StringIO()):
            assert main([str(a) for a in args] + ["--out", str(folder / name)]) == 0
    return folder


EXPECTED = {
    "run.nc": {"fan_bonus_usd_per_day", "fan_force", "distribution_bonus_usd_per_day",
               "distribution_bonus_share_of_defense", "manpower_balance", "ledger", "claims",
               "question_breakeven", "question_runway", "question_discovery"},
    "sweep.nc": {"compare_bonus_spend_usd_per_day_mean",
                 "compare_bonus_share_of_defense_horizon", "compare_force_change_persons"},
    "sens.nc": {"sobol", "tornado", "indices_over_time"},
}


@pytest.fixture(scope="module")
def reports(results, tmp_path_factory):
    """The report of each results file of `results`, by results name."""
    import io as stdio
    from contextlib import redirect_stdout

    from sim.cli import main

    folder = tmp_path_factory.mktemp("reports")
    for name in EXPECTED:
        with redirect_stdout(stdio.StringIO()):
            out = folder / name.replace(".nc", "_report")
            assert main(["report", str(results / name), "--out", str(out)]) == 0
    return {name: folder / name.replace(".nc", "_report") for name in EXPECTED}


SCIENTIFIC = re.compile(r"(?<![\w.])[-+]?\d+(\.\d+)?[eE][+-]?\d+(?![\w.])")
"""A number in scientific notation (``6.114e+05``, ``1e-5``), not a hex id's ``7e4``."""


class Page(HTMLParser):
    """The parts of a report page the tests check: each figure's caption, and each table's
    header and cells (by table id)."""

    def __init__(self, text: str):
        super().__init__()
        self.captions: list[str | None] = []  # one per <figure>; None: no <figcaption>
        self.tables: dict[str, dict] = {}
        self._in = None
        self._table = None
        self._text = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "figure":
            self.captions.append(None)
        elif tag == "figcaption":
            self._in, self._text = "figcaption", ""
        elif tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id", ""),
                                                 {"header": [], "rows": []})
        elif tag == "tr" and self._table is not None:
            self._table["rows"].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._in, self._text = tag, ""

    def handle_endtag(self, tag):
        if tag == "figcaption" and self._in == "figcaption":
            self.captions[-1] = self._text.strip()
        elif tag == "th" and self._in == "th":
            self._table["header"].append(self._text.strip())
        elif tag == "td" and self._in == "td":
            self._table["rows"][-1].append(self._text.strip())
        elif tag == "tr" and self._table is not None and not self._table["rows"][-1]:
            self._table["rows"].pop()  # the header's row
        elif tag == "table":
            self._table = None
        if tag in ("figcaption", "td", "th"):
            self._in = None

    def handle_data(self, data):
        if self._in is not None:
            self._text += data

    def cells(self, but: tuple[str, ...] = ("provenance",)) -> list[str]:
        """Every table cell, but those of the tables in `but` (raw attributes)."""
        return [cell for name, table in self.tables.items() if name not in but
                for row in table["rows"] for cell in row]

    def column(self, table: str, header: str) -> list[str]:
        found = self.tables[table]
        j = found["header"].index(header)
        return [row[j] for row in found["rows"]]


def assert_readable_page(text: str) -> Page:
    """Every figure has a non-empty caption; no table cell (but the provenance) shows a
    number in scientific notation; no units column or header shows the unit "1"."""
    page = Page(text)
    assert page.captions and all(page.captions), page.captions
    cells = page.cells()
    assert cells
    assert not [c for c in cells if SCIENTIFIC.search(c)]
    for name, table in page.tables.items():
        assert not [h for h in table["header"] if h.endswith("[1]")], name
        for header in ("units", "unit"):
            if header in table["header"]:
                assert "1" not in page.column(name, header), name
    return page


def _browser_check(index: Path, tmp_path: Path) -> str:
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", index.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return dom


@pytest.mark.parametrize("name", EXPECTED)
def test_report_writes_every_expected_file(reports, name):
    out = reports[name]
    files = {p.name for p in out.iterdir()}
    for stem in EXPECTED[name]:
        assert {f"{stem}.png", f"{stem}.svg"} <= files
    assert {"index.html", "summary.csv"} <= files
    page = (out / "index.html").read_text()
    assert page.count("<img") == len(EXPECTED[name])
    assert 'id="summary"' in page and 'id="assumptions"' in page and 'id="provenance"' in page
    assert "http://" not in page and "https://" not in page  # self-contained
    if name == "run.nc":
        assert 'id="claims"' in page and "Kelin" in page
        assert "bne, 2025-06-04" in page  # a prior's cited source in the assumptions


@pytest.mark.skipif(CHROMIUM is None, reason="headless check needs chromium (Debian package "
                    "chromium), which .ci/run installs; it is not on this machine")
@pytest.mark.parametrize("name", EXPECTED)
def test_report_renders_in_headless_chromium(reports, name, tmp_path):
    dom = _browser_check(reports[name] / "index.html", tmp_path)
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded, "the page's load check did not run"
    assert loaded.group(1) == loaded.group(2) == str(len(EXPECTED[name]))
    captioned = re.search(r'data-figures-captioned="(\d+)/(\d+)"', dom)
    assert captioned and captioned.group(1) == captioned.group(2) == str(len(EXPECTED[name]))
    assert 'data-scientific-cells="0"' in dom
    for table in ("summary", "assumptions", "provenance"):
        assert f'id="{table}"' in dom
    assert_readable_page(dom)


def test_default_report_directory(results, capsys):
    status, _, _ = run_cli("report", results / "run.nc", capsys=capsys)
    assert status == 0 and (results / "run_report" / "index.html").is_file()


@pytest.mark.parametrize("kind", ["foreign", "truncated", "missing", "text"])
def test_bad_results_file_exits_2(kind, results, tmp_path, capsys):
    import xarray as xr

    path = tmp_path / "bad.nc"
    if kind == "foreign":
        xr.Dataset({"a": ("x", [1.0])}).to_netcdf(path, engine="h5netcdf")
    elif kind == "truncated":
        path.write_bytes((results / "run.nc").read_bytes()[:5000])
    elif kind == "text":
        path.write_text("not netcdf")
    status, _, err = run_cli("report", path, "--out", tmp_path / "r", capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and str(path) in err
    assert not (tmp_path / "r").exists()


def test_questions_section(reports):
    """A run's report answers the four questions, with tables (also as CSV) and figures;
    break-even and the marginal cost use the run's own samples (the config is unchanged)."""
    out = reports["run.nc"]
    page = (out / "index.html").read_text()
    section = page[page.index('id="questions"'):page.index("<h2>Assumptions")]
    for heading in ("Break-even", "Runway to regional cuts", "Cost per soldier",
                    "Where the force shrinks"):
        assert f"<h3>{heading}</h3>" in section
    for table in ("breakeven", "runway", "cost", "discovery"):
        assert f'id="question_{table}"' in section
        assert (out / f"question_{table}.csv").is_file()
    # the baseline's bonus elasticity is 0: the report says the lever is recruitment
    assert "the lever is the recruitment level" in section
    assert "300 of the run" in section
    assert "Not answered here" not in section
    assert not re.search(r"\d\.\d+e[+-]\d", section.split("<figure")[0])  # no 1.2e-05


def test_questions_not_answered_say_why(tmp_path, capsys):
    """When the config has changed since the run, break-even and the marginal cost are
    left out with a note (never run on the wrong scenario); the rest is answered."""
    config = tmp_path / "scenario.toml"
    config.write_text((CONFIGS / "baseline.toml").read_text())
    assert run_cli("run", config, "--samples", "200", "--out", tmp_path / "run.nc",
                   capsys=capsys)[0] == 0
    config.write_text(config.read_text().replace("months = 24", "months = 12"))
    out = tmp_path / "report"
    assert run_cli("report", tmp_path / "run.nc", "--out", out, capsys=capsys)[0] == 0
    section = (out / "index.html").read_text().split('id="questions"')[1]
    assert "<h3>Not answered here</h3>" in section
    assert "differs from the one recorded in the results" in section
    assert "<h3>Break-even</h3>" not in section and "<h3>Runway to regional cuts</h3>" in section


EXPECTED_CSV = {
    "run.nc": {"summary", "ledger", "probabilities", "claims", "question_breakeven",
               "question_runway", "question_cost", "question_discovery"},
    "sweep.nc": {"summary", "claims"},
    "sens.nc": {"summary"},
}
HUMAN_NUMBER = re.compile(r"^-?[\d.,]+ ?(k|M|bn|trn|%|pp)$|\d \[")
"""A number formatted for people (``611k``, ``8.1%``, ``77k [-115k, 282k]``): never in a
CSV."""


@pytest.mark.parametrize("name", EXPECTED)
def test_page_captions_every_figure_and_shows_no_raw_numbers(reports, name):
    """Without a browser: each figure has a one-sentence caption, no table cell shows
    scientific notation (today's 6.114e+05) and no units cell shows "1"."""
    page = assert_readable_page((reports[name] / "index.html").read_text())
    assert len(page.captions) == len(EXPECTED[name])
    for caption in page.captions:
        assert caption[0].isupper() and caption.endswith(".") and caption.count(". ") == 0
    if name == "run.nc":
        units = page.column("summary", "units")
        shares = [row for row in page.tables["summary"]["rows"] if "share" in row[0]]
        assert shares and all(row[1] == "%" and row[5].endswith("%") for row in shares)
        assert "month" in units
        assert re.fullmatch(r"\d+\.\d", page.column("summary", "p50")[units.index("month")])
        probabilities = page.tables["probabilities"]["rows"]
        assert all(re.fullmatch(r"\d+\.\d%", row[1]) and row[2].endswith(" pp")
                   for row in probabilities)
        assert "horizon 2025-01 to 2026-12" in (reports[name] / "index.html").read_text()
    if name == "sens.nc":
        assert "on 2027-01-01" in page.captions[0]  # --time all: the date shown


@pytest.mark.parametrize("name", EXPECTED)
def test_csv_files_hold_numbers(reports, name):
    """Each CSV the report writes holds numbers in their own columns (no "615k [346k,
    891k]" text), with a units column where its rows carry units."""
    written = {p.stem for p in reports[name].glob("*.csv")}
    assert written == EXPECTED_CSV[name]
    for stem in written:
        frame = pd.read_csv(reports[name] / f"{stem}.csv")
        for column in frame.columns:
            if frame[column].dtype == object:
                text = frame[column].dropna().astype(str)
                assert not text.str.contains(HUMAN_NUMBER).any(), (stem, column)
        for column in ("mean", "p5", "p50", "p95", "value", "probability", "box_low",
                       "p_cut_by_date", "first_order", "tornado_low"):
            if column in frame:
                assert frame[column].dtype == np.float64, (stem, column)
        if {"p5", "p50", "p95"} <= set(frame.columns) or "value" in frame:
            assert "units" in frame and "1" not in set(frame.columns), stem


def _quantiles(values) -> np.ndarray:
    return np.quantile(np.asarray(values, dtype=np.float64), (0.05, 0.5, 0.95))


def test_summary_csv_of_a_run_reads_back_as_the_quantiles(results, reports):
    import xarray as xr

    from sim import io

    ds = io.read_results(results / "run.nc")
    frame = pd.read_csv(reports["run.nc"] / "summary.csv")
    assert all(frame[c].dtype == np.float64 for c in ("p5", "p50", "p95"))
    checked = 0
    for _, row in frame.iterrows():
        name, _, year = row["quantity"].partition("[")
        da: xr.DataArray = ds[name]
        if year:
            da = da.sel(year=int(year.rstrip("]")))
        assert row["units"] == ds[name].attrs["units"]
        assert list(row[["p5", "p50", "p95"]]) == list(_quantiles(da.values)), row["quantity"]
        checked += 1
    assert checked >= 10


def test_summary_csv_of_a_sweep_reads_back_as_the_quantiles(results, reports):
    from sim import io

    ds = io.read_results(results / "sweep.nc")
    frame = pd.read_csv(reports["sweep.nc"] / "summary.csv")
    assert all(frame[c].dtype == np.float64 for c in ("mean", "p5", "p50", "p95"))
    labels = [str(v) for v in ds.scenario_label.values]
    assert list(dict.fromkeys(frame["scenario"])) == labels
    for i, label in enumerate(labels):
        one = frame[frame["scenario"] == label].set_index("quantity")
        for name in ("force_change_persons", "bonus_spend_usd_per_day_mean",
                     "bonus_share_of_defense_horizon", "months_of_decline"):
            expected = _quantiles(ds[name].isel(scenario=i).values)
            assert list(one.loc[name, ["p5", "p50", "p95"]]) == list(expected), (label, name)
            assert one.loc[name, "units"] == ds[name].attrs["units"]
    claims = pd.read_csv(reports["sweep.nc"] / "claims.csv")
    assert claims["percentile"].dtype == np.float64 and set(claims["scenario"]) <= set(labels)


def test_sensitivity_csv_says_its_date_and_ranks_the_priors(results, reports):
    from sim import io

    ds = io.read_results(results / "sens.nc")
    frame = pd.read_csv(reports["sens.nc"] / "summary.csv")
    assert set(frame["date"]) == {"2027-01-01"}
    assert set(frame["units"]) == {"persons"}
    assert list(frame["total_order"].abs()) == sorted(frame["total_order"].abs(), reverse=True)
    first = frame.iloc[0]
    last = ds.isel(time_bound=-1).sel(parameter=first["parameter"])
    assert first["total_order"] == float(last["total_order"])
    assert first["tornado_high"] == float(last["tornado_high"])


def test_numbers_in_cells():
    from sim.numbers import value_text
    from sim.report.html import provenance_value, units_text

    assert value_text(611_400, "persons", "force") == "611k"
    assert value_text(1.026e12, "RUB") == "1.03trn"
    assert value_text(0.0452, "1", "bonus_share_of_defense_horizon") == "4.5%"
    assert value_text(0.004, "1/month", "force.other_exit_rate") == "0.4%"
    assert value_text(0.3, "1", "recruitment.bonus_elasticity") == "0.3"  # not a share
    assert value_text(2.99, "month", "months_of_decline") == "3.0"
    assert value_text(float("nan"), "RUB") == "n/a"
    assert units_text("1", "share of federal spending") == "%"
    assert units_text("1/year", "bonus.regional_growth") == "%/year"
    assert units_text("1", "recruitment.shock_sd") == ""
    assert units_text("USD/day") == "USD/day"
    assert provenance_value(1.2e-05) == "0.000012" and provenance_value(3) == "3"


def test_fan_chart_captions_promise_claims_only_where_they_are_drawn():
    from sim.report.html import figures_for

    ds = sim.simulate(sim.load_scenario(CONFIGS / "baseline.toml"), samples=50, seed=1)
    captions = {stem: caption for stem, caption, _ in figures_for(ds)}
    assert "troop counts as markers" in captions["fan_force"]  # the force claims
    assert "claims" not in captions["fan_bonus_usd_per_day"]  # no claim is in USD a day
    assert captions["fan_bonus_usd_per_day"].endswith("paths.")
