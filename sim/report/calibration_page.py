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
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sim.numbers import human, iso_date, percent
from sim.report import calibration_plots as cp
from sim.report import plots
from sim.report.html import (
    _CHECK,
    _STYLE,
    _figure,
    _table,
    assumptions_for_people,
    by_row,
    claims_for_people,
    claims_note,
    each,
    horizon_text,
    percentile_text,
    probabilities_for_people,
    provenance_frame,
    run_frames,
    signed,
)

MOST_PAIRS = 30
"""Unseparable pairs listed on the page (all of them are in unseparable.csv)."""


def is_backtest(ds: xr.Dataset) -> bool:
    return ds.attrs.get("analysis") == "backtest"


# ------------------------------------------------------------------ figures

def figures_for(ds: xr.Dataset) -> list[tuple]:
    """(stem, caption, function of the Dataset returning Axes) for these kinds."""
    return _backtest_figures(ds) if is_backtest(ds) else _posterior_figures(ds)


def _posterior_figures(ds: xr.Dataset) -> list[tuple]:
    end = cp.data_end(ds)
    dashed = (f"; the dashed line at {iso_date(end)} marks where the data end and the "
              "forecast begins") if end is not None else ""
    window = horizon_text(ds)
    over = f" from {window}" if window else ""
    figures = [
        ("fan_bonus_usd_per_day", f"Daily signing-bonus spend in USD{over} over the "
         "posterior particles: median, 50% and 90% bands and a few particles"
         + claims_note(ds, "bonus_spend_usd_per_day", "the published claims about it",
                       dashed),
         cp.forecast_view(lambda d: plots.fan_chart(d, "bonus_spend_usd_per_day"),
                          "Daily signing-bonus spend, {horizon}: calibrated forecast",
                          time_axis=True)),
        ("fan_force", f"The deployed force in persons{over} over the posterior particles: "
         "median, 50% and 90% bands and a few particles"
         + claims_note(ds, "force_persons", "the published troop counts", dashed),
         cp.forecast_view(lambda d: plots.fan_chart(d, "force_persons"),
                          "Deployed force, {horizon}: calibrated forecast", time_axis=True)),
        ("distribution_bonus_usd_per_day", f"Mean daily signing-bonus spend in USD{over}, "
         "data period and forecast together, across the posterior particles: histogram and "
         "cumulative share, with the median, the 90% interval and the $24M-a-day threshold "
         "of the key probabilities.",
         cp.forecast_view(lambda d: plots.distribution(d, "bonus_spend_usd_per_day_mean"),
                          "Mean daily bonus spend, {horizon}: posterior", legend_below=True)),
        ("distribution_bonus_share_of_defense", "The signing-bonus bill as a share of the "
         f"defence budget{over} across the posterior particles: histogram and cumulative "
         "share, with the median, the 90% interval and the 5% threshold of the key "
         "probabilities.",
         cp.forecast_view(lambda d: plots.distribution(d, "bonus_share_of_defense_horizon"),
                          "Bonus bill as a share of the defence budget, {horizon}: "
                          "posterior", legend_below=True)),
        ("manpower_balance", f"The deployed force's monthly flows in persons per month"
         f"{over}, means over the posterior particles: in (recruits, wounded returning to "
         "duty) above zero and out (irrecoverable losses, wounded into recovery, other "
         "exits, recruits held in training) below, with the net change of the force and its "
         f"5th to 95th percentile{dashed}.",
         cp.forecast_view(plots.manpower_balance, "Manpower balance, {horizon}: calibrated "
                          "forecast", time_axis=True)),
    ]
    if "spend_rub_by_year" in ds:
        figures.append(("ledger", "Who pays: mean manpower spend in RUB per calendar year by "
                        "payer and item over the posterior particles, each bar labelled with "
                        "the payer's median spend as a share of its own budget.",
                        cp.forecast_view(plots.ledger_chart, "Who pays, {horizon}: manpower "
                                         "spending by payer and item (posterior)")))
    if "claim" in ds.dims and ds.sizes["claim"]:
        figures.append(("claims", "Each published claim of the scenario against the "
                        "posterior 90% interval of the same quantity, both as the difference "
                        "from the posterior median in %.",
                        cp.forecast_view(plots.claims_chart, "Claims against the calibrated "
                                         "forecast, {horizon}")))
    if {"prior_p5", "posterior_p5"} <= set(ds.data_vars) and ds.sizes.get("parameter"):
        figures.append(("prior_posterior", "Each calibrated parameter's prior and posterior "
                        "median and 90% interval, scaled so that the prior's interval runs "
                        "from 0 to 1, with the parameters the data narrowed most on top.",
                        cp.prior_posterior_chart))
    for key in cp.observed_quantities(ds):
        name = cp.quantity_name(key)
        figures.append((cp.quantity_stem(key), f"The model's {name} per time step{over} "
                        "over the posterior (bands) with the observations of it as reported "
                        "(reporting bias not removed; a figure over several steps drawn over "
                        "its window at its average per step) and each observation's posterior "
                        "predictive 90% interval, reporting bias and observation error "
                        f"included{dashed}.",
                        lambda d, k=key: cp.predictive_chart(d, k)))
    if cp.drawable_pairs(ds):
        figures.append(("unseparable", "The posterior particles of the pairs of parameters "
                        "the observations cannot separate, one panel per pair: the data fix a "
                        "combination of the two, not each.", cp.unseparable_chart))
    return figures


def _backtest_figures(ds: xr.Dataset) -> list[tuple]:
    cutoffs = ds.sizes.get("cutoff", 0)
    shown = len(cp.backtest_cutoffs_shown(ds)) if cutoffs else 0
    some = "" if shown == cutoffs else f" ({shown} of the {cutoffs} cutoffs, evenly spaced)"
    first, last = (iso_date(ds["cutoff"].values[i]) for i in (0, -1)) if cutoffs else ("", "")
    when = f" from {first} to {last}" if cutoffs > 1 else f" {first}" if cutoffs else ""
    return [
        ("backtest_skill", f"At each cutoff{when}: the mean CRPS of the calibrated model "
         "and of the naive forecasts (lower is better), the model's CRPS skill against each "
         "naive forecast, and the share of held-out observations inside the model's 50% and "
         "90% predictive intervals.",
         lambda d: cp.backtest_skill_chart(d, backtest_scores(d))),
        ("backtest_forecasts", "Each method's median and 50% and 90% predictive intervals "
         f"for every held-out observation against the observed value, by months after the "
         f"cutoff, one panel per cutoff{some}.",
         cp.backtest_forecast_chart),
    ]


# ------------------------------------------------------------------ tables (numbers)

def summary_frames(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """The page's tables as numbers (``summary`` is also written as summary.csv, the
    others as CSV beside it)."""
    if is_backtest(ds):
        return {"summary": backtest_scores(ds), "forecasts": forecasts_table(ds)}
    frames = run_frames(ds)
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
    frame = pd.DataFrame({"parameter": names, "units": [units.get(n, "") for n in names]})
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
                     "units": record.get("unit", ""),
                     "reporter": record.get("reporter") or "",
                     **{name: float(ds[name].values[i]) for name in (
                         "observed", "predictive_p5", "predictive_p50", "predictive_p95",
                         "predictive_percentile") if name in ds}})
    frame = pd.DataFrame(rows)
    if not records:
        frame = frame.drop(columns=["window", "units", "reporter"])
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
    """Each held-out observation at each cutoff: its ``units``, the months ahead, the
    observed value and each method's predictive 5th, 50th and 95th percentiles
    (``METHOD p5`` ...)."""
    rows = []
    for c in range(ds.sizes["cutoff"]):
        view = ds.isel(cutoff=c)
        for h, label in enumerate(str(x) for x in ds["heldout"].values):
            observed = float(view["observed"].values[h])
            if not math.isfinite(observed):
                continue
            row = {"cutoff": iso_date(view["cutoff"].values), "held out": label,
                   "units": str(ds["heldout_unit"].values[h]) if "heldout_unit" in ds
                   else "",
                   "months ahead": float(view["lead_months"].values[h]),
                   "observed": observed}
            for method in (str(x) for x in ds["method"].values):
                for q in (5, 50, 95):
                    row[f"{method} p{q}"] = float(
                        view[f"predictive_p{q}"].sel({"method": method}).values[h])
            rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ tables (for humans)

def human_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A table of the page as text for people (`sim.report.html.value_text`): k/M/bn/trn
    in each row's units, shares and rates in %, probabilities with their standard error in
    pp, percentiles as whole numbers, dates in ISO; never scientific notation.

    Parameters
    ----------
    name : str
        The table's name in `summary_frames` (``summary``, ``ledger``, ``probabilities``,
        ``claims``, ``prior_posterior``, ``predictive_checks``, ``stages``,
        ``unseparable``, ``backtest`` for a backtest's scores, ``forecasts``).
    frame : pandas.DataFrame
        The table as numbers.

    Returns
    -------
    pandas.DataFrame
    """
    if name in ("summary", "ledger") and "units" in frame:
        return by_row(frame)
    if name == "probabilities":
        return probabilities_for_people(frame)
    if name == "claims":
        return claims_for_people(frame)
    if name == "prior_posterior":
        shown = by_row(frame, [c for c in frame if c.startswith(("prior_", "posterior_"))],
                       "units", "parameter")
        shown = each(shown, ["narrowing"], human)
        return shown.rename(columns={
            "prior_p5": "prior 5%", "prior_p50": "prior median", "prior_p95": "prior 95%",
            "posterior_p5": "posterior 5%", "posterior_p50": "posterior median",
            "posterior_p95": "posterior 95%", "narrowing": "narrowing (posterior / prior "
            "90% width)"})
    if name == "predictive_checks":
        values = ["observed", "predictive_p5", "predictive_p50", "predictive_p95"]
        shown = (by_row(frame, values, "units", "observation") if "units" in frame
                 else each(frame, values, human))
        shown = each(shown, ["predictive_percentile"], percentile_text)
        return shown.rename(columns={"predictive_p5": "predictive 5%",
                                     "predictive_p50": "predictive median",
                                     "predictive_p95": "predictive 95%",
                                     "predictive_percentile": "percentile of observed"})
    if name == "stages":
        shown = each(frame, ["beta"], human)
        shown = each(shown, ["ess"], lambda x: f"{x:,.0f}")
        return each(shown, ["acceptance"], percent).rename(
            columns={"beta": "beta (tempering)", "ess": "effective sample size",
                     "acceptance": "move acceptance"})
    if name == "backtest":
        return _generic(frame).rename(columns={
            "heldout": "held out", "crps": "mean CRPS", "log_score": "mean log score",
            "coverage_50": "in 50% interval", "coverage_90": "in 90% interval",
            **{c: f"CRPS skill vs {c.removeprefix('crps_skill_')}" for c in frame
               if str(c).startswith("crps_skill_")}})
    if name == "unseparable":
        shown = each(frame, ["posterior rank correlation"], signed)
        return each(shown, ["narrowing a", "narrowing b"], human)
    if name == "forecasts":
        values = [c for c in frame if c == "observed" or str(c).endswith((" p5", " p50",
                                                                          " p95"))]
        shown = by_row(frame, values, "units", "held out")
        return each(shown, ["months ahead"], lambda x: f"{x:.1f}")
    return _generic(frame)


def _generic(frame: pd.DataFrame) -> pd.DataFrame:
    """Any table: dates in ISO, shares (coverage, skill) in %, counts as integers, other
    numbers as k/M/bn/trn."""
    shown = frame.copy()
    for column in frame.columns:
        values = frame[column]
        lower = str(column).lower()
        if pd.api.types.is_datetime64_any_dtype(values):
            shown[column] = values.map(iso_date)
        elif pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            continue
        elif pd.api.types.is_integer_dtype(values):
            shown[column] = values.map(str)
        elif any(word in lower for word in ("coverage", "covered", "skill", "share")):
            shown[column] = values.map(percent).astype(object)
        else:
            shown[column] = values.map(human).astype(object)
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
              _table(provenance_frame(ds, skip=("observations_json",)), "provenance")]
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
        parts += ["<h2 id=\"assumptions-heading\">Priors and their sources</h2>",
                  "<p>Every prior of the scenario, its distribution, its 5th, 50th and 95th "
                  "percentiles and the source it cites.</p>",
                  _table(assumptions_for_people(priors), "assumptions")]
    return parts


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
    first, last = (iso_date(c) for c in (cutoffs[0], cutoffs[-1]))
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
