"""The report pages of a calibration result (``fiscal-sim calibrate --out``, kind
``"posterior"``) and of a backtest result (`sim.analysis.backtest`, kind ``"backtest"``).

A calibrated forecast's page: the run's summary tables and figures (with the line where
the data end and the forecast begins), prior against posterior, posterior predictive
checks with the observations drawn on the quantities they observe, the pairs of
parameters the data cannot separate, and the SMC diagnostics. A backtest's page: the
scores by cutoff and method, forecast skill and coverage, and the forecasts against
what happened. Every number in a table is written for humans (611k, 1.03trn, 8.1%).

`sim.report.html` calls `figures_for`, `summary_frames` and `page` for these kinds.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sim.analysis.summary import claims_table, ledger_table, outcome_table, probability_table
from sim.report import calibration_plots as cp
from sim.report import plots
from sim.report.html import _CHECK, _STYLE, _figure, _short, _table

_PERCENTILE = "{:.0f}".format
MOST_PAIRS = 30
"""Unseparable pairs listed on the page (all of them are in unseparable.csv)."""


def is_posterior(ds: xr.Dataset) -> bool:
    return "calibration_method" in ds.attrs


def is_backtest(ds: xr.Dataset) -> bool:
    return ds.attrs.get("analysis") == "backtest"


# ------------------------------------------------------------------ figures

def figures_for(ds: xr.Dataset) -> list[tuple]:
    """(stem, caption, function of the Dataset returning Axes) for these kinds."""
    return _backtest_figures(ds) if is_backtest(ds) else _posterior_figures(ds)


def _posterior_figures(ds: xr.Dataset) -> list[tuple]:
    dashed = "; the dashed line marks where the data end and the forecast begins" if (
        cp.data_end(ds) is not None) else ""
    figures = [
        ("fan_bonus_usd_per_day", "Daily signing-bonus spend in USD over the posterior "
         f"particles: 5-95% and 25-75% bands, median, five particles and the claims about it"
         f"{dashed}.", cp.forecast_view(lambda d: plots.fan_chart(d, "bonus_spend_usd_per_day"),
                                    "Daily signing-bonus spend, {horizon}: calibrated "
                                    "forecast", time_axis=True)),
        ("fan_force", f"Deployed force over the posterior particles, with the claims about "
         f"it{dashed}.", cp.forecast_view(lambda d: plots.fan_chart(d, "force_persons"),
                                    "Deployed force, {horizon}: calibrated forecast",
                                    time_axis=True)),
        ("distribution_bonus_usd_per_day", "Mean daily bonus spend over the horizon, data "
         "period and forecast together, across the posterior particles: histogram, ECDF, "
         "median and 90% interval.",
         cp.forecast_view(lambda d: plots.distribution(d, "bonus_spend_usd_per_day_mean"),
                          "Mean daily bonus spend, {horizon}: posterior", legend_below=True)),
        ("distribution_bonus_share_of_defense", "Bonus bill as a share of the defence "
         "budget over the horizon, across the posterior particles.",
         cp.forecast_view(lambda d: plots.distribution(d, "bonus_share_of_defense_horizon"),
                          "Bonus bill as a share of the defence budget, {horizon}: "
                          "posterior", legend_below=True)),
        ("manpower_balance", "Recruits against irrecoverable losses (posterior medians), with "
         f"the 90% band of the net change of the force{dashed}.",
         cp.forecast_view(plots.manpower_balance, "Manpower balance, {horizon}: calibrated "
                          "forecast", time_axis=True)),
    ]
    if "spend_rub_by_year" in ds:
        figures.append(("ledger", "Who pays: mean spend per calendar year by payer and item "
                        "over the posterior particles, and each payer's spend as a share of "
                        "its own budget (median).",
                        cp.forecast_view(plots.ledger_chart, "Who pays, {horizon}: manpower "
                                         "spending by payer and item (posterior)")))
    if "claim" in ds.dims and ds.sizes["claim"]:
        figures.append(("claims", "Each claim of the scenario against its posterior 90% "
                        "interval, as a ratio to the posterior median.",
                        cp.forecast_view(plots.claims_chart, "Claims against the calibrated "
                                         "forecast, {horizon}")))
    if {"prior_p5", "posterior_p5"} <= set(ds.data_vars) and ds.sizes.get("parameter"):
        figures.append(("prior_posterior", "Each calibrated parameter's prior and posterior "
                        "90% interval and median, scaled so the prior's interval runs from 0 "
                        "to 1; the most narrowed by the data on top.",
                        cp.prior_posterior_chart))
    for key in cp.observed_quantities(ds):
        name = cp.quantity_name(key)
        figures.append((cp.quantity_stem(key), f"The model's {name} per time step over the "
                        "posterior (bands), the observations of it as reported, reporting bias "
                        "not removed (a figure over several steps drawn over its window at its "
                        "average per step), and each one's posterior predictive 90% interval, "
                        f"reporting bias and observation error included{dashed}.",
                        lambda d, k=key: cp.predictive_chart(d, k)))
    if cp.drawable_pairs(ds):
        figures.append(("unseparable", "Posterior particles of the pairs of parameters the "
                        "observations cannot separate: the data fix a combination of the two, "
                        "not each.", cp.unseparable_chart))
    return figures


def _backtest_figures(ds: xr.Dataset) -> list[tuple]:
    cutoffs = ds.sizes.get("cutoff", 0)
    shown = len(cp.backtest_cutoffs_shown(ds)) if cutoffs else 0
    some = "" if shown == cutoffs else f" ({shown} of the {cutoffs} cutoffs, evenly spaced)"
    return [
        ("backtest_skill", "At each cutoff: the mean CRPS of the calibrated model and of "
         "the naive forecasts (lower is better), the model's CRPS skill against each naive "
         "forecast, and how often the model's 50% and 90% predictive intervals held the "
         "held-out observations.",
         lambda d: cp.backtest_skill_chart(d, backtest_scores(d))),
        ("backtest_forecasts", "Each method's 50% and 90% predictive intervals for every "
         f"held-out observation, by months after the cutoff{some}, with the observed value.",
         cp.backtest_forecast_chart),
    ]


# ------------------------------------------------------------------ tables (numbers)

def summary_frames(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """The page's tables as numbers (``summary`` is also written as summary.csv, the
    others as CSV beside it)."""
    if is_backtest(ds):
        return {"summary": backtest_scores(ds), "forecasts": forecasts_table(ds)}
    frames = {"summary": outcome_table(ds), "ledger": ledger_table(ds),
              "probabilities": probability_table(ds), "claims": claims_table(ds)}
    if ds.sizes.get("parameter"):
        frames["prior_posterior"] = prior_posterior_table(ds)
    if ds.sizes.get("observation"):
        frames["predictive_checks"] = predictive_table(ds)
    frames["stages"] = stages_table(ds)
    frames["unseparable"] = pairs_table(ds)
    return frames


def prior_posterior_table(ds: xr.Dataset) -> pd.DataFrame:
    """Every calibrated parameter: prior and posterior 5/50/95th percentiles, and the
    narrowing (posterior / prior 90% interval width) when the results hold it."""
    units = cp.parameter_units(ds)
    names = [str(n) for n in ds["parameter"].values]
    frame = pd.DataFrame({"parameter": names, "unit": [units.get(n, "") for n in names]})
    for name in ("prior_p5", "prior_p50", "prior_p95", "posterior_p5", "posterior_p50",
                 "posterior_p95", "narrowing"):
        if name in ds:
            frame[name] = ds[name].values.astype(float)
    return frame


def predictive_table(ds: xr.Dataset) -> pd.DataFrame:
    """Each observation: when, its value as observed, the posterior predictive 5/50/95th
    percentiles and the observed value's percentile among the predictive draws."""
    records = {r["label"]: r for r in json.loads(ds.attrs.get("observations_json", "[]")
                                                 or "[]")}
    rows = []
    for i, label in enumerate(str(o) for o in ds["observation"].values):
        record = records.get(label, {})
        when = (f"{record['start']} to {record['end']}" if record.get("start") else
                str(record.get("date") or ""))
        rows.append({"observation": label, "window": when,
                     "unit": record.get("unit", ""), "reporter": record.get("reporter") or "",
                     **{name: float(ds[name].values[i]) for name in (
                         "observed", "predictive_p5", "predictive_p50", "predictive_p95",
                         "predictive_percentile") if name in ds}})
    frame = pd.DataFrame(rows)
    if not records:
        frame = frame.drop(columns=["window", "unit", "reporter"])
    return frame


def stages_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per tempering stage: its beta, effective sample size and acceptance."""
    columns = {name: json.loads(ds.attrs.get(f"stage_{name}", "[]") or "[]")
               for name in ("beta", "ess", "acceptance")}
    count = max((len(v) for v in columns.values()), default=0)
    frame = pd.DataFrame({"stage": np.arange(1, count + 1)})
    for name, values in columns.items():
        if len(values) == count:
            frame[name] = np.asarray(values, dtype=float)
    return frame


def pairs_table(ds: xr.Dataset) -> pd.DataFrame:
    """The pairs the data cannot separate, with each one's narrowing."""
    narrowing = ({str(n): float(v) for n, v in zip(ds["parameter"].values,
                                                    ds["narrowing"].values, strict=True)}
                 if "narrowing" in ds else {})
    rows = [{"parameter a": pair["a"], "parameter b": pair["b"],
             "posterior rank correlation": float(pair["rank_correlation"]),
             "narrowing a": narrowing.get(pair["a"], np.nan),
             "narrowing b": narrowing.get(pair["b"], np.nan)}
            for pair in cp.unseparable_pairs(ds)]
    return pd.DataFrame(rows, columns=["parameter a", "parameter b",
                                       "posterior rank correlation", "narrowing a",
                                       "narrowing b"])


def backtest_scores(ds: xr.Dataset) -> pd.DataFrame:
    """`sim.analysis.backtest.backtest_table`: one row per cutoff and method."""
    from sim.analysis.backtest import backtest_table

    return backtest_table(ds)


def forecasts_table(ds: xr.Dataset) -> pd.DataFrame:
    """Each held-out observation at each cutoff: the months ahead, the observed value and
    each method's predictive median and 90% interval."""
    rows = []
    for c in range(ds.sizes["cutoff"]):
        view = ds.isel(cutoff=c)
        for h, label in enumerate(str(x) for x in ds["heldout"].values):
            observed = float(view["observed"].values[h])
            if not math.isfinite(observed):
                continue
            row = {"cutoff": str(np.datetime64(view["cutoff"].values, "D")),
                   "held out": label, "months ahead": float(view["lead_months"].values[h]),
                   "observed": observed}
            for method in (str(x) for x in ds["method"].values):
                for q in (5, 50, 95):
                    row[f"{method} p{q}"] = float(
                        view[f"predictive_p{q}"].sel({"method": method}).values[h])
            rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ tables (for humans)

def _each(frame: pd.DataFrame, columns, format_) -> pd.DataFrame:
    shown = frame.copy()
    for column in columns:
        if column in shown:
            shown[column] = shown[column].map(format_).astype(object)
    return shown


def _by_unit(frame: pd.DataFrame, columns, unit_column: str = "units",
             name_column: str | None = None) -> pd.DataFrame:
    """Numbers formatted row by row: percentages where the row's unit is a share."""
    shown = frame.copy().astype({c: object for c in columns if c in frame})
    for i, row in frame.iterrows():
        unit = str(row.get(unit_column, ""))
        name = str(row[name_column]) if name_column else ""
        share = cp.is_share(name, unit) if name_column else unit == "1"
        for column in columns:
            if column in frame:
                shown.at[i, column] = (cp.percent if share else cp.readable)(row[column])
    return shown


def human_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A table of the page as text: readable scales, percentages, no scientific notation."""
    quantiles = ["mean", "p5", "p25", "p50", "p75", "p95"]
    if name in ("summary", "ledger") and "units" in frame:
        return _by_unit(frame, quantiles)
    if name == "probabilities":
        return _each(frame, ["probability", "mc_se"], cp.percent)
    if name == "claims":
        shown = _each(frame, ["value", "p5", "p50", "p95"], cp.readable)
        return _each(shown, ["percentile"], _PERCENTILE)
    if name == "prior_posterior":
        shown = _by_unit(frame, [c for c in frame if c.startswith(("prior_", "posterior_"))],
                         "unit", "parameter")
        shown = _each(shown, ["narrowing"], cp.readable)
        return shown.rename(columns={
            "prior_p5": "prior 5%", "prior_p50": "prior median", "prior_p95": "prior 95%",
            "posterior_p5": "posterior 5%", "posterior_p50": "posterior median",
            "posterior_p95": "posterior 95%", "narrowing": "narrowing (posterior / prior "
            "90% width)"})
    if name == "predictive_checks":
        shown = _each(frame, ["observed", "predictive_p5", "predictive_p50",
                              "predictive_p95"], cp.readable)
        shown = _each(shown, ["predictive_percentile"], _PERCENTILE)
        return shown.rename(columns={"predictive_p5": "predictive 5%",
                                     "predictive_p50": "predictive median",
                                     "predictive_p95": "predictive 95%",
                                     "predictive_percentile": "percentile of observed"})
    if name == "stages":
        shown = _each(frame, ["beta", "ess"], cp.readable)
        return _each(shown, ["acceptance"], cp.percent).rename(
            columns={"beta": "beta (tempering)", "ess": "effective sample size",
                     "acceptance": "move acceptance"})
    if name == "backtest":
        return _generic(frame).rename(columns={
            "heldout": "held out", "crps": "mean CRPS", "log_score": "mean log score",
            "coverage_50": "in 50% interval", "coverage_90": "in 90% interval",
            **{c: f"CRPS skill vs {c.removeprefix('crps_skill_')}" for c in frame
               if str(c).startswith("crps_skill_")}})
    if name == "unseparable":
        shown = _each(frame, ["posterior rank correlation"], "{:+.2f}".format)
        return _each(shown, ["narrowing a", "narrowing b"], cp.readable)
    return _generic(frame)


def _generic(frame: pd.DataFrame) -> pd.DataFrame:
    """Any table: dates as dates, shares (coverage, skill) as percentages, counts as
    integers, other numbers `readable`."""
    shown = frame.copy()
    for column in frame.columns:
        values = frame[column]
        lower = str(column).lower()
        if pd.api.types.is_datetime64_any_dtype(values):
            shown[column] = values.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            continue
        elif pd.api.types.is_integer_dtype(values):
            shown[column] = values.map(str)
        elif any(word in lower for word in ("coverage", "covered", "skill", "share")):
            shown[column] = values.map(cp.percent).astype(object)
        else:
            shown[column] = values.map(cp.readable).astype(object)
    return shown


# ------------------------------------------------------------------ the page

def page(ds: xr.Dataset, results: Path, frames: dict, priors: pd.DataFrame,
         figures: list) -> str:
    """The page's HTML: `frames` from `summary_frames`, `priors` the assumptions table,
    `figures` (stem, caption, PNG bytes)."""
    drawn = {stem: _figure(stem, caption, png) for stem, caption, png in figures}
    if is_backtest(ds):
        title = f"Backtest: {results.name}"
        parts = _backtest_parts(ds, frames, drawn)
    else:
        title = f"Calibrated forecast: {results.name}"
        parts = _posterior_parts(ds, frames, priors, drawn)
    parts += ["<h2 id=\"provenance-heading\">Provenance</h2>",
              _table(pd.DataFrame([{"attribute": k, "value": _short(v)}
                                   for k, v in ds.attrs.items()
                                   if k not in ("config_resolved", "claims",
                                                "observations_json")]), "provenance")]
    head = (f"<h1>{html.escape(title)}</h1><p>fiscal-strain-sim "
            f"{html.escape(str(ds.attrs.get('fiscal_strain_sim_version')))} &middot; figures "
            "are also saved as PNG and SVG, and the tables as CSV, beside this page.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}{_EXTRA_STYLE}</style>"
            f"<script>{_CHECK}</script></head><body>{head}{''.join(parts)}</body></html>\n")


_EXTRA_STYLE = """
.warning { border-left: 4px solid #D55E00; background: #fdf0e8; padding: 0.5em 1em; }
nav ul { columns: 2; }
#predictive_checks td, #prior_posterior td, #stages td, #unseparable td, #forecasts td,
#calibrations td, #summary td { white-space: nowrap; }
"""


def _human_table(frames: dict, name: str, table_id: str | None = None) -> str:
    return _table(human_frame(name, frames[name]), table_id or name)


def _posterior_parts(ds: xr.Dataset, frames: dict, priors: pd.DataFrame,
                     drawn: dict) -> list[str]:
    e = html.escape
    records = cp.observations(ds)
    count = ds.sizes.get("observation", 0)
    end = cp.data_end(ds)
    what = (f"the {count} observation{'s' if count != 1 else ''}" if count else
            "no observations (the posterior is the prior)")
    intro = (f"<p>A calibrated forecast: the scenario <code>{e(str(ds.attrs.get('config_path')))}"
             f"</code> conditioned on {what} in <code>"
             f"{e(str(ds.attrs.get('observations_file')))}</code> by "
             f"{e(str(ds.attrs.get('calibration_method')))} with "
             f"{e(str(ds.attrs.get('particles')))} particles, {e(cp.horizon(ds))}. "
             + (f"The data end at {end} (the end of the last observation); from there on "
                "the figures are a forecast from the calibrated paths. " if end is not None
                else "")
             + "Every figure and table below is over the posterior particles, each equally "
             "weighted.</p>")
    parts = [intro]
    if ds.attrs.get("warning"):
        parts.append(f"<p class=\"warning\"><strong>Warning:</strong> "
                     f"{e(str(ds.attrs['warning']))}</p>")
    sections = [("summary-heading", "Summary"), ("forecast", "Forecast"),
                ("predictive", "Posterior predictive checks"),
                ("prior-posterior", "Prior against posterior"),
                ("identifiability", "Identifiability"), ("diagnostics", "SMC diagnostics"),
                ("assumptions-heading", "Priors and their sources"),
                ("provenance-heading", "Provenance")]
    parts.append("<nav><ul>" + "".join(f"<li><a href=\"#{i}\">{t}</a></li>"
                                       for i, t in sections) + "</ul></nav>")
    parts += ["<h2 id=\"summary-heading\">Summary</h2>", "<p>Outcomes over the horizon "
              "(quantiles over the posterior particles; shares as percentages).</p>",
              _human_table(frames, "summary")]
    if not frames["ledger"].empty:
        parts += ["<h3>Who pays</h3>", "<p>Spend per calendar year by payer and item, and "
                  "each payer's total as a share of its own budgets.</p>",
                  _human_table(frames, "ledger")]
    parts += ["<h3>Key probabilities</h3>", _human_table(frames, "probabilities")]
    if not frames["claims"].empty:
        parts += ["<h3>Claims</h3>", "<p>Each published figure of the scenario against the "
                  "posterior distribution of the same quantity: its percentile and whether "
                  "it lies in the central 90% band.</p>", _human_table(frames, "claims")]
    parts += ["<h2 id=\"forecast\">Forecast</h2>"]
    parts += [drawn[stem] for stem in ("fan_bonus_usd_per_day", "fan_force",
                                       "distribution_bonus_usd_per_day",
                                       "distribution_bonus_share_of_defense",
                                       "manpower_balance", "ledger", "claims") if stem in drawn]
    parts += ["<h2 id=\"predictive\">Posterior predictive checks</h2>",
              "<p>Each observation against what the posterior predicts the reporter would "
              "report (reporting bias and observation error included): a calibrated model "
              "puts the observed values at percentiles spread evenly between 0 and 100; "
              "many near 0 or 100 mean the model cannot reproduce the data.</p>"]
    if "predictive_checks" in frames:
        parts.append(_human_table(frames, "predictive_checks"))
    if not records and count:
        parts.append("<p>These results do not record the observations' windows, so they "
                     "are not drawn on the model's quantities.</p>")
    parts += [html_ for stem, html_ in drawn.items() if stem.startswith("predictive_")]
    if "prior_posterior" in frames:
        narrowing = ("The narrowing column is the width of the posterior 90% interval over "
                     "the prior's: near 1, the data say nothing about that parameter (its "
                     "posterior is its prior); small, the data pinned it down. "
                     if "narrowing" in ds else "")
        parts += ["<h2 id=\"prior-posterior\">Prior against posterior</h2>",
                  f"<p>Every calibrated parameter (reporting biases as "
                  f"<code>bias.&lt;reporter&gt;</code>). {narrowing}</p>",
                  _human_table(frames, "prior_posterior")]
        parts += [drawn[stem] for stem in ("prior_posterior",) if stem in drawn]
    parts += ["<h2 id=\"identifiability\">Identifiability</h2>"]
    if "unseparable_pairs" not in ds.attrs:
        parts.append("<p>These results do not record which parameters the data cannot "
                     "separate.</p>")
    elif frames["unseparable"].empty:
        parts.append("<p>No pair of parameters is strongly correlated in the posterior "
                     "beyond what their priors imposed: the data do not trade one parameter "
                     "off against another.</p>")
    else:
        parts += ["<p>These pairs are strongly rank-correlated in the posterior (beyond "
                  "any correlation their priors were given): the observations fix a "
                  "combination of the two, not each one. A reporter's bias against the "
                  "level it multiplies is the typical case: the data fix their product, so a "
                  "higher true level with an under-reporting source fits as well as a lower "
                  "level with an over-reporting one. Such a parameter's narrowing says little "
                  "by itself; to separate them, add observations of the same quantity from "
                  "another source, or a tighter prior on one of them.</p>"]
        if ds.attrs.get("warning"):
            parts.append("<p class=\"warning\">The particles collapsed (see the SMC "
                         "diagnostics): with few distinct particles these correlations are "
                         "mostly chance.</p>")
        pairs = frames["unseparable"]
        parts.append(_table(human_frame("unseparable", pairs.head(MOST_PAIRS)), "unseparable"))
        if len(pairs) > MOST_PAIRS:
            parts.append(f"<p>The strongest {MOST_PAIRS} of {len(pairs)} pairs; all are in "
                         "<code>unseparable.csv</code>.</p>")
        parts += [drawn[stem] for stem in ("unseparable",) if stem in drawn]
    parts += ["<h2 id=\"diagnostics\">SMC diagnostics</h2>",
              "<p>Each tempering stage raises beta (the power of the likelihood) from 0, "
              "the prior, to 1, the posterior, keeping the effective sample size near half "
              "the particles; low acceptance or few distinct particles at the end mean the "
              "particles collapsed.</p>", _diagnostics(ds)]
    if not frames["stages"].empty:
        parts.append(_human_table(frames, "stages"))
    if not priors.empty:
        shown = _by_unit(priors, ["5%", "median", "95%"], "unit", "parameter")
        for column in ("distribution", "source"):
            if column in shown:
                shown[column] = shown[column].map(_no_exponents)
        parts += ["<h2 id=\"assumptions-heading\">Priors and their sources</h2>",
                  "<p>Every prior of the scenario, its distribution, its 5th, 50th and 95th "
                  "percentiles and the source it cites.</p>", _table(shown, "assumptions")]
    return parts


_EXPONENT = re.compile(r"-?\d+(?:\.\d+)?e[+-]?\d+", re.IGNORECASE)


def _no_exponents(text) -> str:
    """Numbers in scientific notation within a text (``1.1e+06``) made readable (1.1M)."""
    return _EXPONENT.sub(lambda m: cp.readable(float(m.group())), str(text))


def _diagnostics(ds: xr.Dataset) -> str:
    a = ds.attrs
    particles = a.get("particles", ds.sizes.get("sample", ""))
    rows = [("method", a.get("calibration_method", "")), ("particles", particles),
            ("tempering stages", a.get("stages", "")),
            ("distinct particles after the last resampling",
             f"{a.get('final_distinct_particles', '')} of {particles}"),
            ("log evidence", _fixed(a.get("log_evidence"))),
            ("latent dimension", a.get("latent_dimension", "")),
            ("warning", a.get("warning", "none"))]
    return _table(pd.DataFrame(rows, columns=["diagnostic", "value"]).astype(str),
                  "diagnostics")


def _fixed(value) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return ""


def _backtest_parts(ds: xr.Dataset, frames: dict, drawn: dict) -> list[str]:
    cutoffs = ds["cutoff"].values
    first, last = (str(np.datetime64(c, "D")) for c in (cutoffs[0], cutoffs[-1]))
    held = int(np.isfinite(ds["observed"].values.astype(float)).sum())
    e = html.escape
    parts = [f"<p>A backtest of the calibration of <code>{e(str(ds.attrs.get('config_path')))}"
             f"</code> on <code>{e(str(ds.attrs.get('observations_file')))}</code>: at each of "
             f"{len(cutoffs)} cutoffs from {first} to {last}, the model was calibrated "
             f"({e(str(ds.attrs.get('method', '')))}, {e(str(ds.attrs.get('particles', '')))} "
             "particles) on the observations over by the cutoff and forecast the ones after "
             f"it ({held} held-out forecasts in all), next to two naive forecasts: "
             "<code>last</code> carries the last observed value forward, <code>mean3</code> "
             "the mean of the last three. CRPS, the continuous ranked probability score, is "
             "the error of a whole forecast distribution in the observation's unit (lower is "
             "better); the CRPS skill against a naive forecast is 1 minus the ratio of their "
             "mean CRPS (above 0: better than it); a well-calibrated forecast's 50% and 90% "
             "intervals hold about 50% and 90% of the held-out values.</p>",
             "<h2 id=\"scores\">Scores by cutoff and method</h2>",
             _table(human_frame("backtest", frames["summary"]), "summary")]
    parts += [drawn[stem] for stem in ("backtest_skill", "backtest_forecasts")
              if stem in drawn]
    diagnostics = json.loads(ds.attrs.get("calibration_diagnostics", "[]") or "[]")
    if diagnostics:
        frame = pd.DataFrame(diagnostics)
        frame = frame[[c for c in ("cutoff", "training_observations", "heldout_observations",
                                   "stages", "final_distinct_particles", "log_evidence",
                                   "warning") if c in frame]]
        if "log_evidence" in frame:
            frame["log_evidence"] = frame["log_evidence"].map(_fixed)
        parts += ["<h2 id=\"calibrations\">The calibration at each cutoff</h2>",
                  _table(frame.fillna("").astype(str).rename(columns=lambda c: c.replace(
                      "_", " ")), "calibrations")]
    if not frames["forecasts"].empty:
        parts += ["<h2 id=\"forecasts\">Held-out forecasts</h2>", "<p>Every held-out "
                  "observation at every cutoff: the observed value and each method's "
                  "predictive 5th, 50th and 95th percentiles.</p>",
                  _table(human_frame("forecasts", frames["forecasts"]), "forecasts")]
    return parts
