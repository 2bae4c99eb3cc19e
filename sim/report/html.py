"""A shareable report: figures (PNG and SVG), tables as CSV (``summary.csv`` and others)
and one self-contained ``index.html`` (figures embedded) with the summary, claims,
assumptions and provenance.

Works on run results, sweep results (a ``scenario`` dim), sensitivity results, and, with
pages of their own (`sim.report.calibration_page`), calibration results (a calibrated
forecast) and backtest results.

Two forms of every table: the numbers (`summary_frames`: full-precision floats, shares as
fractions, a ``units`` column naming the units of each row's values), written as CSV;
and the same table for people (`sim.numbers`: 611k, 1.03trn, 8.1%, 23.7% with its
standard error in pp, months with one decimal, ISO dates; never scientific notation),
shown in the HTML.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sim import io
from sim.analysis.experiments import fixed_and_varying_factors, short_factor_names
from sim.analysis.summary import (
    QUANTILE_COLUMNS,
    claims_table,
    ledger_table,
    outcome_table,
    probability_table,
)
from sim.core.schema import SCHEMA
from sim.errors import ResourceError, UserError
from sim.io import outputs
from sim.numbers import (
    MONTH_UNITS,
    byte_size,
    human,
    iso_date,
    percent,
    percentage_points,
    probability,
    reads_as_percent,
    value_text,
)
from sim.numbers import is_share as _dimensionless
from sim.priors.distributions import PriorError, prior_from_value
from sim.report import plots, questions
from sim.report.plots import horizon_text

Figure = tuple[str, str, Callable]
"""(file stem, caption, function of the Dataset returning Axes)."""


SWEEP_OUTCOMES = {"force_change_persons": "force change",
                  "bonus_spend_usd_per_day_mean": "mean daily bonus spend",
                  "bonus_share_of_defense_horizon": "bonus bill / defence budget",
                  "months_of_decline": "months of decline"}
"""Outcomes of the sweep page's table, with their column headings (the units are added);
``summary.csv`` holds every outcome."""


# ------------------------------------------------------------------ numbers for people

def units_text(units: str, name: str = "") -> str:
    """Units as a table shows them: ``%`` for a share, ``%/month`` for a rate, nothing for
    a plain dimensionless number, else unchanged (``RUB``, ``USD/day``, ``persons``).

    Parameters
    ----------
    units : str
    name : str, optional
        The quantity's name (see `sim.numbers.reads_as_percent`).

    Returns
    -------
    str
    """
    units = str(units).strip()
    if units.startswith("1/"):
        return "%/" + units[2:]
    if _dimensionless(units):
        return "%" if reads_as_percent(name, units) else ""
    return units


def interval_text(p50, p5, p95, units: str = "", name: str = "") -> str:
    """``median [5th, 95th percentile]`` in one cell: ``77.3k [-115k, 282k]``."""
    if not np.isfinite(p50):
        return "n/a"
    return (f"{value_text(p50, units, name)} [{value_text(p5, units, name)}, "
            f"{value_text(p95, units, name)}]")


def signed(x, digits: int = 2) -> str:
    """A correlation or index with a sign and fixed decimals: ``+0.49``, ``-0.25``."""
    x = float(x)
    if math.isnan(x):
        return "n/a"
    return f"{0.0:.{digits}f}" if round(x, digits) == 0 else f"{x:+.{digits}f}"


def percentile_text(x) -> str:
    """A percentile (0-100) as a whole number: ``72``."""
    x = float(x)
    return "n/a" if math.isnan(x) else f"{x:.0f}"


def by_row(frame: pd.DataFrame, columns: Iterable[str] = QUANTILE_COLUMNS,
           units_column: str = "units", name_column: str | None = "quantity") -> pd.DataFrame:
    """A numeric table for people: the value columns formatted row by row in the row's
    units (`value_text`), the units column as `units_text`.

    Parameters
    ----------
    frame : pandas.DataFrame
        A numeric table with a units column.
    columns : iterable of str
        The value columns (those absent are skipped).
    units_column : str
    name_column : str or None
        The column naming each row's quantity (shares are told by name,
        `sim.numbers.reads_as_percent`).

    Returns
    -------
    pandas.DataFrame
        Same shape; the value and units columns are text.
    """
    columns = [c for c in columns if c in frame]
    shown = frame.astype({c: object for c in columns})
    for i, row in frame.iterrows():
        units = str(row.get(units_column, ""))
        name = str(row[name_column]) if name_column in frame else ""
        for column in columns:
            shown.at[i, column] = value_text(row[column], units, name)
    if units_column in frame:
        names = frame[name_column] if name_column in frame else [""] * len(frame)
        shown[units_column] = [units_text(u, n) for u, n in zip(frame[units_column], names,
                                                                 strict=True)]
    return shown


def each(frame: pd.DataFrame, columns: Iterable[str], format_: Callable) -> pd.DataFrame:
    """The columns of `frame` that exist, each value formatted by `format_`."""
    shown = frame.copy()
    for column in columns:
        if column in shown:
            shown[column] = shown[column].map(format_).astype(object)
    return shown


def probabilities_for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """The key probabilities: ``23.7%`` with the Monte Carlo standard error in pp."""
    shown = each(each(frame, ["probability"], probability), ["mc_se"], percentage_points)
    return shown.drop(columns=["units"], errors="ignore").rename(
        columns={"mc_se": "Monte Carlo standard error"})


def claims_for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """The claims table: values in each claim's units, the percentile as a whole number."""
    shown = by_row(frame, ["value", "p5", "p50", "p95"], "units", "claim")
    return each(shown, ["percentile"], percentile_text)


def provenance_value(value) -> str:
    """An attribute as the provenance table shows it: floats in positional notation at
    full precision, long texts cut at 200 characters."""
    if isinstance(value, float | np.floating) and math.isfinite(value):
        text = np.format_float_positional(float(value), trim="-")
    else:
        text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."


def provenance_frame(ds: xr.Dataset, skip: Iterable[str] = ()) -> pd.DataFrame:
    """The results' attributes as the provenance table shows them.

    Parameters
    ----------
    ds : xarray.Dataset
    skip : iterable of str
        Attributes left out besides ``config_resolved`` and ``claims`` (shown elsewhere).

    Returns
    -------
    pandas.DataFrame
        ``attribute``, ``value`` (`provenance_value`).
    """
    skip = {"config_resolved", "claims", *skip}
    return pd.DataFrame([{"attribute": k, "value": provenance_value(v)}
                         for k, v in ds.attrs.items() if k not in skip],
                        columns=["attribute", "value"])


# ------------------------------------------------------------------ figures

def kind_of(ds: xr.Dataset) -> str:
    """``"sensitivity"``, ``"backtest"``, ``"posterior"`` (a calibration), ``"sweep"`` or
    ``"run"``."""
    if ds.attrs.get("analysis") in ("sensitivity", "backtest"):
        return ds.attrs["analysis"]
    if "calibration_method" in ds.attrs:
        return "posterior"
    return "sweep" if "scenario" in ds.dims else "run"


def sensitivity_date(ds: xr.Dataset) -> str:
    """The date (or year) whose indices the sensitivity tables and bar charts show: the
    last one analysed with ``--time all``, the one asked for otherwise, ``""`` for a
    per-sample outcome."""
    for dim in ("time", "time_bound", "year"):
        if ds.sizes.get(dim, 0) and dim in ds.coords:
            value = ds[dim].values[-1]
            return str(int(value)) if dim == "year" else iso_date(value)
    when = str(ds.attrs.get("outcome_time", ""))
    return "" if when in ("", "all") else when


def _sensitivity_figures(ds: xr.Dataset) -> list[Figure]:
    outcome = str(ds.attrs.get("outcome", "the outcome"))
    date = sensitivity_date(ds)
    at = f" on {date}" if date else ""
    over = [d for d in ("time", "time_bound", "year") if ds.sizes.get(d, 0) > 1]
    figures = []
    if "total_order" in ds:
        figures.append(("sobol", f"First-order and total Sobol indices of {outcome}{at}: "
                        "the share of its variance due to each prior alone and with its "
                        "interactions, with bootstrap intervals, for the leading priors.",
                        plots.sobol_chart))
    figures.append(("tornado", f"The value of {outcome}{at} with one prior at a time at its "
                    "5th and at its 95th percentile and every other prior at its median, for "
                    "the priors that move it most.", plots.tornado_chart))
    if over:
        what = "total Sobol index" if "total_order" in ds else "absolute partial rank " \
                                                              "correlation"
        figures.append(("indices_over_time", f"The {what} of the leading priors of "
                        f"{outcome} at each date from {_first_date(ds, over[0])} to {date}: "
                        "how the drivers change over the horizon.", plots.indices_over_time))
    return figures


def _first_date(ds: xr.Dataset, dim: str) -> str:
    value = ds[dim].values[0]
    return str(int(value)) if dim == "year" else iso_date(value)


def _sweep_figures(ds: xr.Dataset) -> list[Figure]:
    window = horizon_text(ds)
    over = f" from {window}" if window else " over the horizon"
    what = {"bonus_spend_usd_per_day_mean": f"Mean daily signing-bonus spend in USD{over}",
            "bonus_share_of_defense_horizon": f"The signing-bonus bill as a share of the "
                                              f"defence budget{over}",
            "force_change_persons": f"The change of the deployed force in persons{over}"}
    return [(f"compare_{name}", f"{text} in each scenario: median, 50% and 90% intervals "
             "over the samples.", lambda d, n=name: plots.scenario_comparison(d, n))
            for name, text in what.items()]


def claims_note(ds: xr.Dataset, variable: str, claims: str, after: str = "") -> str:
    """The end of a fan chart's caption: the claims it draws, if it draws any.

    Parameters
    ----------
    ds : xarray.Dataset
        The results the chart draws.
    variable : str
        The fan chart's variable.
    claims : str
        What the claims are, in the caption's words.
    after : str
        Text before the full stop in either case.

    Returns
    -------
    str
        ``", with CLAIMS as markers{after}."`` or ``"{after}."``.
    """
    drawn = plots.claims_drawn_on(ds, variable)
    return (f", with {claims} as markers" if drawn else "") + f"{after}."


def _run_figures(ds: xr.Dataset) -> list[Figure]:
    window = horizon_text(ds)
    over = f" from {window}" if window else ""
    return [
        ("fan_bonus_usd_per_day", f"Daily signing-bonus spend in USD{over}: median, 50% "
         "and 90% bands and a few sample paths" + claims_note(ds, "bonus_spend_usd_per_day",
                                                               "the published claims about it"),
         lambda d: plots.fan_chart(d, "bonus_spend_usd_per_day")),
        ("fan_force", f"The deployed force in persons{over}: median, 50% and 90% bands and "
         "a few sample paths" + claims_note(ds, "force_persons", "the published troop counts"),
         lambda d: plots.fan_chart(d, "force_persons")),
        ("distribution_bonus_usd_per_day", f"Mean daily signing-bonus spend in USD{over} "
         "across the samples: histogram and cumulative share, with the median, the 90% "
         "interval and the $24M-a-day threshold of the key probabilities.",
         lambda d: plots.distribution(d, "bonus_spend_usd_per_day_mean")),
        ("distribution_bonus_share_of_defense", f"The signing-bonus bill as a share of the "
         f"defence budget{over} across the samples: histogram and cumulative share, with "
         "the median, the 90% interval and the 5% threshold of the key probabilities.",
         lambda d: plots.distribution(d, "bonus_share_of_defense_horizon")),
        ("manpower_balance", f"The deployed force's monthly flows in persons per "
         f"month{over}, means over the samples: in (recruits, wounded returning to duty) "
         "above zero and out (irrecoverable losses, wounded into recovery, other exits, "
         "recruits held in training) below, with the net change of the force and its 5th "
         "to 95th percentile.", plots.manpower_balance),
        *([("ledger", "Who pays: mean manpower spend in RUB per calendar year by payer "
            "(federal, regional) and item (bonus, pay, compensation), each bar labelled "
            "with the payer's median spend as a share of its own budget.",
            plots.ledger_chart)] if "spend_rub_by_year" in ds else []),
        ("claims", "Each published claim against the simulated 90% interval of the same "
         "quantity, both as the difference from the simulated median in %.",
         plots.claims_chart),
    ]


def figures_for(ds: xr.Dataset) -> list[Figure]:
    """The figures a report shows for this kind of results.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of a run, sweep, sensitivity analysis, calibration or backtest.

    Returns
    -------
    list of (str, str, callable)
        File stem, a one-sentence caption saying what the figure shows (and over which
        dates), and a function of the Dataset returning the figure's Axes.
    """
    kind = kind_of(ds)
    if kind in CALIBRATION_KINDS:
        from sim.report import calibration_page

        return calibration_page.figures_for(ds)
    if kind == "sensitivity":
        return _sensitivity_figures(ds)
    if kind == "sweep":
        return _sweep_figures(ds)
    return _run_figures(ds)


# ------------------------------------------------------------------ tables (numbers)

def summary_frames(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """The report's tables as numbers, each also written as ``NAME.csv``.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of a run, sweep, sensitivity analysis, calibration or backtest.

    Returns
    -------
    dict of str to pandas.DataFrame
        Always ``summary`` (``summary.csv``). A run: ``summary`` (`outcome_table`:
        ``quantity``, ``units``, ``mean``, ``p5``, ``p25``, ``p50``, ``p75``, ``p95``),
        ``ledger``, ``probabilities`` and ``claims``. A sweep: ``summary`` (one row per
        scenario and outcome: ``scenario``, one column per factor, then as a run's) and
        ``claims`` (one row per scenario and claim). A sensitivity analysis: ``summary``
        (`sensitivity_frame`). Values are floats at full precision in the row's
        ``units`` (shares as fractions).
    """
    kind = kind_of(ds)
    if kind in CALIBRATION_KINDS:
        from sim.report import calibration_page

        return calibration_page.summary_frames(ds)
    if kind == "sensitivity":
        return {"summary": sensitivity_frame(ds)}
    if kind == "sweep":
        return sweep_frames(ds)
    return run_frames(ds)


def run_frames(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """A run's tables as numbers.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (or a calibration's posterior).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``summary`` (`outcome_table`), ``ledger`` (`ledger_table`), ``probabilities``
        (`probability_table`: ``event``, ``probability``, ``mc_se``) and ``claims``
        (`claims_table`, its ``unit`` column named ``units`` as in every table of the
        report).
    """
    return {"summary": outcome_table(ds), "ledger": ledger_table(ds),
            "probabilities": probability_table(ds),
            "claims": claims_table(ds).rename(columns={"unit": "units"})}


def factor_columns(ds: xr.Dataset) -> list[str]:
    """A sweep's factors (coordinates along ``scenario`` but its index and label) whose
    values differ between scenarios (`sim.analysis.experiments.fixed_and_varying_factors`)."""
    return [name for name in fixed_and_varying_factors(ds)[1] if name != "config"]


def sweep_frames(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """A sweep's tables as numbers.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep's results (a ``scenario`` dim).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``summary``: one row per scenario and outcome; ``scenario`` (its label), one
        column per varying factor (its value), then the columns of `outcome_table`
        (``quantity``, ``units``, ``mean``, ``p5`` ... ``p95``). ``claims``: one row per
        scenario and claim, the same naming columns, then those of `claims_table`.
    """
    factors = factor_columns(ds)
    summaries, claims = [], []
    for i in range(ds.sizes["scenario"]):
        one = ds.isel(scenario=i)
        names = {"scenario": str(one.scenario_label.values),
                 **{f: one[f].values.item() for f in factors}}
        for frame, into in ((outcome_table(one), summaries),
                            (claims_table(one).rename(columns={"unit": "units"}), claims)):
            into.append(frame.assign(**names)[[*names, *frame.columns]])
    return {"summary": pd.concat(summaries, ignore_index=True),
            "claims": pd.concat(claims, ignore_index=True)}


SENSITIVITY_COLUMNS = ("first_order", "first_order_low", "first_order_high", "total_order",
                       "total_order_low", "total_order_high", "spearman", "prcc",
                       "tornado_low", "tornado_high")


def sensitivity_frame(ds: xr.Dataset) -> pd.DataFrame:
    """A sensitivity analysis as numbers, one row per prior, most important first (by
    total Sobol index, else by absolute PRCC), at `sensitivity_date`.

    Returns
    -------
    pandas.DataFrame
        ``parameter``; ``date`` (ISO, or the year; empty for a per-sample outcome); the
        Sobol indices ``first_order``, ``total_order`` with their bootstrap intervals
        (``_low``, ``_high``; shares of the outcome's variance, as fractions), ``spearman``
        and ``prcc`` (rank correlations); ``tornado_low``, ``tornado_high`` (the outcome
        with the prior at its 5th and 95th percentile, the others at their medians) and
        ``tornado_base`` (every prior at its median), in ``units``, the outcome's units.
    """
    columns = [c for c in SENSITIVITY_COLUMNS if c in ds]
    extra = [d for d in ds["spearman"].dims if d != "parameter"]
    view = ds.isel({extra[0]: -1}) if extra else ds
    frame = view[columns].to_dataframe()[columns].reset_index()
    frame.insert(1, "date", sensitivity_date(ds))
    frame["tornado_base"] = float(np.ravel(view["tornado_base"].values)[-1]) if (
        "tornado_base" in view) else np.nan
    frame["units"] = str(ds.attrs.get("outcome_units", ""))
    key = "total_order" if "total_order" in frame else "prcc"
    return frame.sort_values(key, ascending=False, key=abs, kind="stable").reset_index(
        drop=True)


def assumptions(ds: xr.Dataset) -> pd.DataFrame:
    """Every prior of the (first) scenario: its distribution and cited source.

    Returns
    -------
    pandas.DataFrame
        ``parameter`` (``section.key``, with ``from DATE`` for a schedule's entry),
        ``units``, ``distribution``, ``p5``, ``p50``, ``p95`` (the prior's percentiles, in
        ``units``) and ``source``.
    """
    if "scenario_config" in ds:
        config = json.loads(json.loads(str(ds.scenario_config.values.ravel()[0]))["config"])
    else:
        config = json.loads(ds.attrs.get("config_resolved", "{}"))
    rows = []
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            value = config.get(section, {}).get(name)
            if not key.is_prior or value is None:
                continue
            entries = ([(f"{section}.{name} from {date}", entry, value.get("source", ""))
                        for date, entry in value["schedule"].items()]
                       if isinstance(value, dict) and isinstance(value.get("schedule"), dict)
                       else [(f"{section}.{name}", value, "")])
            for parameter, entry, schedule_source in entries:
                try:
                    prior = prior_from_value(entry)
                except PriorError:
                    continue
                rows.append({"parameter": parameter, "units": key.unit,
                             "distribution": prior.describe(),
                             "p5": prior.quantile(0.05), "p50": prior.quantile(0.5),
                             "p95": prior.quantile(0.95),
                             "source": prior.source or schedule_source})
    return pd.DataFrame(rows, columns=["parameter", "units", "distribution", "p5", "p50",
                                       "p95", "source"])


def assumptions_for_people(priors: pd.DataFrame) -> pd.DataFrame:
    """The assumptions table for people: percentiles in each prior's units (shares and
    rates in %), distributions as `Prior.describe` writes them (no exponents)."""
    shown = by_row(priors, ["p5", "p50", "p95"], "units", "parameter")
    if "distribution" in shown:  # a fixed value: its percentiles say it
        shown["distribution"] = shown["distribution"].map(
            lambda text: "fixed" if _NUMERIC_CELL.fullmatch(str(text)) else text)
    return shown.rename(columns={"p5": "5%", "p50": "median", "p95": "95%"})


# ------------------------------------------------------------------ writing

def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A numeric table as CSV: floats at full precision (``pandas.read_csv`` reads back
    the same float64 values), no index. Called inside the report's temporary directory,
    which is renamed into place only when every file is written."""
    frame.to_csv(path, index=False)


def write_report(results: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of a results file into directory `out`.

    Parameters
    ----------
    results : str or Path
        A results file (netCDF or Zarr) from ``run``, ``sweep``/``compare``,
        ``sensitivity``, ``calibrate`` or a backtest.
    out : str or Path, optional
        Report directory; default ``RESULTS_report`` beside the results. Written to a
        temporary directory first and renamed, so a failed report leaves nothing.

    Returns
    -------
    Path
        The report's ``index.html``.

    Raises
    ------
    UserError
        If the results file is missing, truncated or not ours, or `out` cannot be written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = Path(results)
    ds = io.read_results(results, lazy=True)
    if ds.attrs.get("analysis") in ANALYSES_WITHOUT_REPORT:
        raise UserError(f"{results}: a {ds.attrs['analysis']} result has no report; expected "
                        "the results of run, sweep, compare, sensitivity, calibrate or a "
                        "backtest (the report of a run answers break-even in its Questions "
                        "section)")
    target = outputs.check_output(out if out is not None else
                                  results.with_name(results.stem + "_report"),
                                  "directory", inputs=[results])
    _check_memory(ds, results)
    ds = io.read_results(results)
    with outputs.OutputLock(target):
        outputs.remove_stale_temps(target)
        with outputs.atomic_directory(target, "report") as temp:
            embedded = []
            for stem, caption, draw in figures_for(ds):
                ax = draw(ds)
                for suffix in (".png", ".svg"):
                    ax.figure.savefig(temp / f"{stem}{suffix}", dpi=110)
                plt.close(ax.figure)
                embedded.append((stem, caption, (temp / f"{stem}.png").read_bytes()))
            frames = summary_frames(ds)
            for name, frame in frames.items():
                if name == "summary" or not frame.empty:
                    write_csv(frame, temp / f"{name}.csv")
            priors = assumptions(ds)
            if kind_of(ds) in CALIBRATION_KINDS:
                from sim.report import calibration_page

                page = calibration_page.page(ds, results, frames, priors, embedded)
            else:
                asked = _questions(ds, temp) if kind_of(ds) == "run" else []
                page = _html(ds, results, frames, priors, embedded, asked)
            (temp / "index.html").write_text(page, encoding="utf-8")
    return target / "index.html"


QUESTION_SECTIONS = (("Break-even", "breakeven", "question_breakeven"),
                     ("Runway to regional cuts", "runway", "question_runway"),
                     ("Cost per soldier", "cost", None),
                     ("Where the force shrinks", "discovery", "question_discovery"))
"""(heading, table, figure stem) of each question, in page order."""


def _questions(ds: xr.Dataset, directory: Path) -> list[str]:
    """The Questions section (`sim.report.questions`): its HTML, its figures written to
    `directory` as PNG and SVG and embedded, its tables also as CSV (numbers)."""
    import matplotlib.pyplot as plt

    answers = questions.answer(ds)
    parts = ["<h2 id=\"questions\">Questions</h2>", "<p>What analysts ask of these "
             "results, answered for every future: each number is a median with its 90% "
             "interval, or a share of futures.</p>"]
    headings = dict(questions.section_text(answers))
    drawn = {}
    for stem, caption, draw in questions.figures(answers):
        figure = draw()
        for suffix in (".png", ".svg"):
            figure.savefig(directory / f"{stem}{suffix}", dpi=110)
        plt.close(figure)
        drawn[stem] = _figure(stem, caption, (directory / f"{stem}.png").read_bytes())
    for heading, table, stem in QUESTION_SECTIONS:
        if heading not in headings:
            continue
        parts += [f"<h3>{heading}</h3>", f"<p>{html.escape(headings[heading])}</p>"]
        numbers = questions.TABLES[table](answers)
        if not numbers.empty:
            parts.append(_table(questions.for_people(table, numbers), f"question_{table}"))
            write_csv(numbers, directory / f"question_{table}.csv")
        if stem in drawn:
            parts.append(drawn[stem])
    if answers.notes:
        parts += ["<h3>Not answered here</h3>", "<ul>", *(f"<li>{html.escape(note)}</li>"
                                                         for note in answers.notes), "</ul>"]
    return parts


def _figure(stem: str, caption: str, png: bytes) -> str:
    data = base64.b64encode(png).decode()
    return (f'<figure id="{stem}"><img alt="{html.escape(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>'
            f"{html.escape(caption)}</figcaption></figure>")


CALIBRATION_KINDS = ("posterior", "backtest")
"""Kinds whose page is `sim.report.calibration_page`'s."""

ANALYSES_WITHOUT_REPORT = ("breakeven", "cost_per_soldier")
"""Results files of analyses whose numbers the report of a run already shows."""

REPORT_MEMORY_FACTOR = 3
"""A report holds the results and, for figures and quantiles, up to about two
working copies of the largest variables."""


def _check_memory(ds: xr.Dataset, results: Path) -> None:
    """Refuse a report whose results would not fit in memory."""
    need = REPORT_MEMORY_FACTOR * ds.nbytes
    available = io.available_memory_bytes()
    if need > available:
        raise ResourceError(f"{results}: a report of these results needs about "
                            f"{byte_size(need)} but {byte_size(available)} is available; "
                            "rerun with fewer samples or --keep summary")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left;
         vertical-align: top; }
th { background: #f0f0f0; } .n { text-align: right; }
td.n { white-space: nowrap; font-variant-numeric: tabular-nums; } .d { white-space: nowrap; }
#claims td:first-child, #question_breakeven td:first-child { min-width: 14em; }
.scroll { overflow-x: auto; }
figure { margin: 2em 0; } figure img { max-width: 100%; }
figcaption { color: #555; } code { background: #f4f4f4; padding: 0 0.2em; }
"""

_CHECK = """
window.addEventListener("load", function () {
  var all = function (selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector));
  };
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-loaded", loaded.length + "/" + images.length);
  var figures = all("figure");
  var captioned = figures.filter(function (f) {
    var caption = f.querySelector("figcaption");
    return caption !== null && caption.textContent.trim().length > 0;
  });
  document.body.setAttribute("data-figures-captioned", captioned.length + "/" + figures.length);
  var scientific = all("table:not(#provenance) td").filter(function (cell) {
    return /(^|[^\\w.])[-+]?\\d+(\\.\\d+)?[eE][+-]?\\d+(?![\\w.])/.test(cell.textContent);
  });
  document.body.setAttribute("data-scientific-cells", String(scientific.length));
});
"""
"""Run on load: records on ``<body>`` how many images loaded, how many figures have a
caption and how many table cells (but the provenance's raw attributes) show a number in
scientific notation, for the tests' headless-browser check."""


def _cell(value) -> str:
    """A cell left unformatted by the caller: numbers as `human` (never scientific)."""
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float | np.floating):
        return human(value)
    return "" if value is None else str(value)


_NUMBER = r"[-+<>$]*\d[\d.,]*(?:k|M|bn|trn)?%?(?:/\w+)?(?: pp)?"
_NUMERIC_CELL = re.compile(rf"{_NUMBER}(?: \[{_NUMBER}, {_NUMBER}\]| to {_NUMBER})?|n/a")
"""A cell holding a number, ``median [5th, 95th]`` or a range ``low to high``: aligned
right and never wrapped."""
_DATE_CELL = re.compile(r"\d{4}-\d{2}-\d{2}(?: to \d{4}-\d{2}-\d{2})?")


def _cell_class(text: str) -> str:
    if _NUMERIC_CELL.fullmatch(text):
        return "n"
    return "d" if _DATE_CELL.fullmatch(text) else ""


def _table(frame: pd.DataFrame, table_id: str) -> str:
    """A table as HTML: every cell as text (`_cell`), numbers aligned right (class ``n``),
    dates kept on one line (class ``d``), text aligned left."""
    text = frame.map(_cell) if len(frame.columns) else frame
    classes = text.map(_cell_class) if len(frame.columns) else text

    def attribute(name: str) -> str:
        return f' class="{name}"' if name else ""

    head = "".join(
        f"<th{attribute('n' if len(text) and (classes[c] == 'n').all() else '')}>"
        f"{html.escape(str(c))}</th>" for c in text.columns)
    body = "".join(
        "<tr>" + "".join(f"<td{attribute(k)}>{html.escape(v)}</td>"
                         for v, k in zip(values, kinds, strict=True)) + "</tr>\n"
        for values, kinds in zip(text.itertuples(index=False, name=None),
                                 classes.itertuples(index=False, name=None), strict=True))
    return (f'<div class="scroll"><table class="dataframe" id="{html.escape(table_id)}">\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table></div>")


def _sweep_for_people(ds: xr.Dataset, frames: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sweep's tables for people: one row per scenario with the median [5th, 95th
    percentile] of `SWEEP_OUTCOMES` (units in the headers), and the claims' verdicts
    with their percentiles, one row per claim and one column per scenario."""
    summary = frames["summary"]
    factors = factor_columns(ds)
    headers = _factor_headers(factors)
    labels = scenario_names(ds)
    rows = []
    for i, label in enumerate(str(v) for v in ds.scenario_label.values):
        one = summary[summary["scenario"] == label]
        row = ({headers[f]: value_text(ds[f].values[i].item(), _factor_units(f), f)
                for f in factors} if factors else {"scenario": label})
        for name, header in SWEEP_OUTCOMES.items():
            match = one[one["quantity"] == name]
            if match.empty:
                continue
            r = match.iloc[0]
            shown = "months" if r["units"] in MONTH_UNITS else units_text(r["units"], name)
            header = f"{header} [{shown}]" if shown else header
            row[header] = interval_text(r["p50"], r["p5"], r["p95"], r["units"], name)
        rows.append(row)
    claims = frames["claims"]
    verdicts = pd.DataFrame()
    if not claims.empty:
        table = {}
        for i, label in enumerate(str(v) for v in ds.scenario_label.values):
            one = claims[claims["scenario"] == label]
            table[labels[i]] = {c: f"{v} ({percentile_text(p)})" for c, v, p in
                                zip(one["claim"], one["verdict"], one["percentile"],
                                    strict=True)}
        verdicts = pd.DataFrame(table).reindex(list(dict.fromkeys(claims["claim"])))
        verdicts = verdicts.fillna("").rename_axis("claim").reset_index()
    return pd.DataFrame(rows), verdicts


def _factor_headers(names: list[str]) -> dict[str, str]:
    """The factors' column headings: their shortest unique names, with units."""
    short = short_factor_names(names)
    return {name: f"{short[name]} [{shown}]" if (shown := units_text(_factor_units(name),
                                                                     name)) else short[name]
            for name in names}


def _factor_units(name: str) -> str:
    section, _, key = name.partition(".")
    spec = SCHEMA.get(section, {}).get(key)
    return spec.unit if spec is not None else ""


def scenario_names(ds: xr.Dataset) -> list[str]:
    """Short names of a sweep's scenarios: the varying factors' shortest unique names
    with their values (``regional_growth=10%, bonus_elasticity=0.3``), or the labels
    (also when two short names would coincide)."""
    factors = factor_columns(ds)
    labels = [str(v) for v in ds.scenario_label.values]
    if not factors:
        return labels
    short = short_factor_names(factors)
    names = [", ".join(f"{short[f]}={value_text(ds[f].values[i].item(), _factor_units(f), f)}"
                       for f in factors) for i in range(ds.sizes["scenario"])]
    return names if len(set(names)) == len(names) else labels


def _sensitivity_for_people(ds: xr.Dataset, frame: pd.DataFrame) -> pd.DataFrame:
    """The ranked sensitivity table for people: Sobol indices in % of the outcome's
    variance with their bootstrap intervals, rank correlations with two decimals, the
    tornado's outcome values in the outcome's units (in the headers)."""
    units = str(ds.attrs.get("outcome_units", ""))
    outcome = str(ds.attrs.get("outcome", "outcome"))
    shown_units = units_text(units, outcome)
    suffix = f" [{shown_units}]" if shown_units else ""
    out = pd.DataFrame({"parameter": frame["parameter"]})
    for name, header in (("first_order", "first-order index [%]"),
                         ("total_order", "total index [%]")):
        if name in frame:
            out[header] = [f"{percent(v)} [{percent(lo)}, {percent(hi)}]"
                           if f"{name}_low" in frame else percent(v) for v, lo, hi in zip(
                               frame[name], frame.get(f"{name}_low", frame[name]),
                               frame.get(f"{name}_high", frame[name]), strict=True)]
    for name, header in (("spearman", "Spearman"), ("prcc", "PRCC")):
        if name in frame:
            out[header] = frame[name].map(signed)
    for name, header in (("tornado_low", "prior at 5%"), ("tornado_high", "prior at 95%")):
        if name in frame:
            out[f"{header}{suffix}"] = [value_text(v, units, outcome) for v in frame[name]]
    return out


def _html(ds: xr.Dataset, results: Path, frames: dict, priors: pd.DataFrame,
          figures: list, asked: list[str]) -> str:
    kind = kind_of(ds)
    title = {"run": "Simulation", "sweep": "Scenario comparison",
             "sensitivity": "Sensitivity analysis"}[kind]
    window = horizon_text(ds)
    parts = [f"<h1>{title}: {html.escape(results.name)}</h1>",
             f"<p>fiscal-strain-sim {html.escape(str(ds.attrs.get('fiscal_strain_sim_version')))}"
             + (f" &middot; horizon {window}" if window else "")
             + " &middot; figures are also saved as PNG and SVG, and the tables as CSV "
             "(numbers at full precision), beside this page.</p>"]
    if kind == "run":
        parts += ["<h2>Summary</h2>", "<p>Outcomes over the horizon: mean and percentiles "
                  "over the samples, in each row's units (shares in %, months with one "
                  "decimal).</p>", _table(by_row(frames["summary"]), "summary")]
    elif kind == "sweep":
        summary, verdicts = _sweep_for_people(ds, frames)
        parts += ["<h2>Summary</h2>", "<p>Each scenario's median [5th, 95th percentile] "
                  "over its samples; <code>summary.csv</code> holds every outcome's mean and "
                  "percentiles as numbers.</p>", _table(summary, "summary")]
        if not verdicts.empty:
            parts += ["<h2>Claims</h2>", "<p>Each claim against each scenario's central 90% "
                      "band: inside, below or above, with the claim's percentile in the "
                      "scenario's samples (blank where the scenario does not hold the "
                      "claim).</p>", _table(verdicts, "claims")]
    else:
        date = sensitivity_date(ds)
        at = f" on {date}" if date else ""
        parts += ["<h2>Summary</h2>", f"<p>The priors ranked by their effect on "
                  f"<code>{html.escape(str(ds.attrs.get('outcome')))}</code>{at}, most "
                  "important first: the first-order and total Sobol indices (the share of "
                  "the outcome's variance due to the prior alone, and with its interactions) "
                  "with their bootstrap intervals, the Spearman and partial rank correlations "
                  "(PRCC) of the prior with the outcome, and the outcome with the prior at its "
                  "5th and 95th percentile and every other prior at its median (the tornado)."
                  "</p>",
                  _table(_sensitivity_for_people(ds, frames["summary"]), "summary")]
    if "ledger" in frames and not frames["ledger"].empty:
        parts += ["<h2>Who pays</h2>", "<p>Spend per calendar year by payer and item, and "
                  "each payer's total as a share of its own budgets.</p>",
                  _table(by_row(frames["ledger"]), "ledger")]
    if "probabilities" in frames:
        parts += ["<h2>Key probabilities</h2>", "<p>The share of samples in which each event "
                  "happens, with its Monte Carlo standard error in percentage points.</p>",
                  _table(probabilities_for_people(frames["probabilities"]), "probabilities")]
    if kind == "run" and "claims" in frames:
        parts += ["<h2>Claims</h2>", "<p>Each published figure against the simulated "
                  "distribution of the same quantity: its percentile and whether it lies in "
                  "the central 90% band.</p>",
                  _table(claims_for_people(frames["claims"]), "claims")]
    parts += [_figure(stem, caption, png) for stem, caption, png in figures]
    parts += asked
    parts += ["<h2>Assumptions</h2>", "<p>Every prior, its distribution, its 5th, 50th "
              "and 95th percentiles and the source it cites.</p>",
              _table(assumptions_for_people(priors), "assumptions"), "<h2>Provenance</h2>",
              _table(provenance_frame(ds), "provenance")]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
            f"<script>{_CHECK}</script></head><body>{''.join(parts)}</body></html>\n")
