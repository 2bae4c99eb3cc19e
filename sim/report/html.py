"""A shareable report: figures (PNG and SVG), ``summary.csv`` and one self-contained
``index.html`` (figures embedded) with the summary, claims, assumptions and provenance.

Works on run results, sweep results (a ``scenario`` dim), sensitivity results, and, with
pages of their own (`sim.report.calibration_page`), calibration results (a calibrated
forecast) and backtest results.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import xarray as xr

from sim import io
from sim.analysis.experiments import comparison_table
from sim.analysis.summary import claims_table, ledger_table, outcome_table, probability_table
from sim.core.schema import SCHEMA
from sim.errors import ResourceError, UserError
from sim.io import outputs
from sim.priors.distributions import PriorError, prior_from_value
from sim.report import plots, questions

Figure = tuple[str, str, Callable]
"""(file stem, caption, function of the Dataset returning Axes)."""


def kind_of(ds: xr.Dataset) -> str:
    """``"sensitivity"``, ``"backtest"``, ``"posterior"`` (a calibration), ``"sweep"`` or
    ``"run"``."""
    if ds.attrs.get("analysis") in ("sensitivity", "backtest"):
        return ds.attrs["analysis"]
    if "calibration_method" in ds.attrs:
        return "posterior"
    return "sweep" if "scenario" in ds.dims else "run"


def figures_for(ds: xr.Dataset) -> list[Figure]:
    """The figures a report shows for this kind of results."""
    kind = kind_of(ds)
    if kind in CALIBRATION_KINDS:
        from sim.report import calibration_page

        return calibration_page.figures_for(ds)
    if kind == "sensitivity":
        figures = []
        if "total_order" in ds:
            figures.append(("sobol", "First-order and total Sobol indices (bootstrap "
                            "intervals), at the last time analysed.", plots.sobol_chart))
        figures.append(("tornado", "One prior at a time at its 5th and 95th percentile.",
                        plots.tornado_chart))
        if any(d in ds.dims for d in ("time", "time_bound", "year")) and any(
                ds.sizes.get(d, 0) > 1 for d in ("time", "time_bound", "year")):
            figures.append(("indices_over_time", "How the main drivers change over the "
                            "horizon.", plots.indices_over_time))
        return figures
    if kind == "sweep":
        return [(f"compare_{name}", f"{ds[name].attrs.get('long_name', name)} by scenario: "
                 "median, 50% and 90% intervals.",
                 lambda d, n=name: plots.scenario_comparison(d, n))
                for name in ("bonus_spend_usd_per_day_mean", "bonus_share_of_defense_horizon",
                             "force_change_persons")]
    return [
        ("fan_bonus_usd_per_day", "Daily signing-bonus spend in USD: 5-95% and 25-75% "
         "bands, median, five sample paths, and the claims about it.",
         lambda d: plots.fan_chart(d, "bonus_spend_usd_per_day")),
        ("fan_force", "Deployed force, with the claims about it.",
         lambda d: plots.fan_chart(d, "force_persons")),
        ("distribution_bonus_usd_per_day", "Mean daily bonus spend over the horizon: "
         "histogram, ECDF, median and 90% interval.",
         lambda d: plots.distribution(d, "bonus_spend_usd_per_day_mean")),
        ("distribution_bonus_share_of_defense", "Bonus bill as a share of the defence "
         "budget over the horizon.",
         lambda d: plots.distribution(d, "bonus_share_of_defense_horizon")),
        ("manpower_balance", "Recruits against irrecoverable losses, with the 90% band of "
         "the net change of the force.", plots.manpower_balance),
        *([("ledger", "Who pays: mean spend per calendar year by payer and item, and each "
            "payer's spend as a share of its own budget (median).", plots.ledger_chart)]
          if "spend_rub_by_year" in ds else []),
        ("claims", "Each claim against its simulated 90% interval.", plots.claims_chart),
    ]


def summary_frames(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """The report's tables: summary (also written as summary.csv), for a run also the
    ledger ("who pays"), key probabilities and claims."""
    kind = kind_of(ds)
    if kind in CALIBRATION_KINDS:
        from sim.report import calibration_page

        return calibration_page.summary_frames(ds)
    if kind == "sensitivity":
        columns = [c for c in ("first_order", "total_order", "spearman", "prcc",
                               "tornado_low", "tornado_high") if c in ds]
        extra = [d for d in ds["spearman"].dims if d != "parameter"]
        view = ds.isel({extra[0]: -1}) if extra else ds
        frame = view[columns].to_dataframe()[columns].reset_index()
        return {"summary": frame.sort_values(columns[1] if "total_order" in ds else "prcc",
                                             ascending=False, key=abs)}
    if kind == "sweep":
        return {"summary": comparison_table(ds)}
    return {"summary": outcome_table(ds), "ledger": ledger_table(ds),
            "probabilities": probability_table(ds), "claims": claims_table(ds)}


def assumptions(ds: xr.Dataset) -> pd.DataFrame:
    """Every prior of the (first) scenario: its distribution and cited source."""
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
                rows.append({"parameter": parameter, "unit": key.unit,
                             "distribution": prior.describe(),
                             "5%": prior.quantile(0.05), "median": prior.quantile(0.5),
                             "95%": prior.quantile(0.95),
                             "source": prior.source or schedule_source})
    return pd.DataFrame(rows)


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
            frames["summary"].to_csv(temp / "summary.csv", index=False)
            if kind_of(ds) in CALIBRATION_KINDS:
                from sim.report import calibration_page

                for name, frame in frames.items():
                    if name != "summary" and not frame.empty:
                        frame.to_csv(temp / f"{name}.csv", index=False)
                page = calibration_page.page(ds, results, frames, assumptions(ds), embedded)
            else:
                asked = _questions(ds, temp) if kind_of(ds) == "run" else []
                page = _html(ds, results, frames, assumptions(ds), embedded, asked)
            (temp / "index.html").write_text(page, encoding="utf-8")
    return target / "index.html"


def _questions(ds: xr.Dataset, directory: Path) -> list[str]:
    """The Questions section (`sim.report.questions`): its HTML, its figures written to
    `directory` as PNG and SVG and embedded, its tables also as CSV."""
    import matplotlib.pyplot as plt

    answers = questions.answer(ds)
    tables = {"breakeven": questions.breakeven_table(answers),
              "runway": questions.runway_table(answers),
              "cost": questions.cost_table(answers),
              "discovery": questions.discovery_table(answers)}
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
    for heading, table, stem in (("Break-even", "breakeven", "question_breakeven"),
                                 ("Runway to regional cuts", "runway", "question_runway"),
                                 ("Cost per soldier", "cost", None),
                                 ("Where the force shrinks", "discovery", "question_discovery")):
        if heading not in headings:
            continue
        parts += [f"<h3>{heading}</h3>", f"<p>{html.escape(headings[heading])}</p>"]
        if not tables[table].empty:
            parts.append(_table(tables[table], f"question_{table}"))
            tables[table].to_csv(directory / f"question_{table}.csv", index=False)
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
                            f"{need / 2**30:.1f} GiB but {available / 2**30:.1f} GiB is "
                            "available; rerun with fewer samples or --keep summary")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
figure { margin: 2em 0; } figure img { max-width: 100%; }
figcaption { color: #555; } code { background: #f4f4f4; padding: 0 0.2em; }
"""

_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-loaded", loaded.length + "/" + images.length);
});
"""


def _table(frame: pd.DataFrame, table_id: str) -> str:
    return frame.to_html(index=False, table_id=table_id, float_format=lambda x: f"{x:.4g}",
                         border=0, na_rep="")


def _html(ds: xr.Dataset, results: Path, frames: dict, priors: pd.DataFrame,
          figures: list, asked: list[str]) -> str:
    kind = kind_of(ds)
    title = {"run": "Simulation", "sweep": "Scenario comparison",
             "sensitivity": "Sensitivity analysis"}[kind]
    parts = [f"<h1>{title}: {html.escape(results.name)}</h1>",
             f"<p>fiscal-strain-sim {html.escape(str(ds.attrs.get('fiscal_strain_sim_version')))}"
             " &middot; figures are also saved as PNG and SVG beside this page.</p>",
             "<h2>Summary</h2>", _table(frames["summary"], "summary")]
    if "ledger" in frames and not frames["ledger"].empty:
        parts += ["<h2>Who pays</h2>", "<p>Spend per calendar year by payer and item, and "
                  "each payer's total as a share of its own budgets (shares in units of 1).</p>",
                  _table(frames["ledger"], "ledger")]
    if "probabilities" in frames:
        parts += ["<h2>Key probabilities</h2>", _table(frames["probabilities"],
                                                       "probabilities")]
    if "claims" in frames:
        parts += ["<h2>Claims</h2>", "<p>Each published figure against the simulated "
                  "distribution of the same quantity: its percentile and whether it lies in "
                  "the central 90% band.</p>", _table(frames["claims"], "claims")]
    parts += [_figure(stem, caption, png) for stem, caption, png in figures]
    parts += asked
    parts += ["<h2>Assumptions</h2>", "<p>Every prior, its distribution, its 5th, 50th "
              "and 95th percentiles and the source it cites.</p>",
              _table(priors, "assumptions"), "<h2>Provenance</h2>",
              _table(pd.DataFrame([{"attribute": k, "value": _short(v)}
                                   for k, v in ds.attrs.items()
                                   if k not in ("config_resolved", "claims")]),
                     "provenance")]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
            f"<script>{_CHECK}</script></head><body>{''.join(parts)}</body></html>\n")


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."
