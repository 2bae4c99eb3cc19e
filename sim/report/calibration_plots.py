"""Figures of a calibration (`sim.analysis.calibration.calibrate`) and of a backtest
(`sim.analysis.backtest`): prior against posterior, the observed quantities with the
observations drawn on them, the pairs the data cannot separate, forecast skill.

Same conventions as `sim.report.plots`: each function takes a Dataset and an optional
``ax`` and returns the Axes; its semantic palette (the posterior is `MODEL`, the prior
`PRIOR`, observations `OBSERVED`, nominal levels `THRESHOLD`, naive forecasts
`CATEGORIES`); a title with the horizon or the cutoffs; units on every axis; numbers with
readable scales (k, M, bn, trn) and never in scientific notation (`sim.numbers`).
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import xarray as xr

from sim.core.schema import CLAIM_QUANTITIES
from sim.numbers import human, reads_as_percent, value_text
from sim.report.plots import (
    CATEGORIES,
    FIGSIZE,
    MODEL,
    MODEL_DARK,
    MODEL_TINTS,
    OBSERVED,
    PRIOR,
    THRESHOLD_STYLE,
    fit_titles,
    horizon_text,
    legend_below,
    share_formatter,
    zero_line,
)

DATA_END_LABEL = "data end / forecast"
OBSERVED_LABEL = "observed, as reported"


def _formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: human(x))


# ------------------------------------------------------------------ shared pieces

def _figure(height: float = FIGSIZE[1], width: float = FIGSIZE[0]):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), layout="constrained")[1]


def horizon(ds: xr.Dataset) -> str:
    """The horizon of the results as months, e.g. ``2024-01 to 2026-12``
    (`sim.report.plots.horizon_text`)."""
    return horizon_text(ds)


def _date(value) -> dt.date:
    return dt.date.fromisoformat(str(np.datetime64(value, "D")))


def data_end(ds: xr.Dataset) -> np.datetime64 | None:
    """Where the data end and the forecast begins (attr ``data_end``), or None."""
    end = ds.attrs.get("data_end", "")
    return np.datetime64(str(end), "D") if end else None


def mark_data_end(ax, ds: xr.Dataset, legend: bool = True):
    """Draw the vertical line at ``data_end`` labelled "data end / forecast" (when the
    results hold one), and redraw the legend so it lists the line. Returns `ax`."""
    end = data_end(ds)
    if end is None:
        return ax
    ax.axvline(end, color="0.15", ls=(0, (4, 2)), lw=1.3, label=DATA_END_LABEL, zorder=5)
    ax.annotate(" data end / forecast \u2192", (end, 1.0), xycoords=("data", "axes fraction"),
                xytext=(2, -3), textcoords="offset points", ha="left", va="top",
                fontsize="small", color="0.15", zorder=7,
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.0})
    if legend and (ax.get_legend() is not None or ax.figure.legends):
        _legend_below(ax)
    return ax


def _legend_below(ax, ncol: int = 3) -> None:
    """The legend under the axes (`sim.report.plots.legend_below`), keeping the entries
    of a legend already drawn (a twin axis's among them) and adding the axes' new ones."""
    handles, labels = [], []
    for legend in [*ax.figure.legends, ax.get_legend()]:
        if legend is not None:
            handles += list(legend.legend_handles)
            labels += [text.get_text() for text in legend.get_texts()]
    for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
        if label not in labels:
            handles.append(handle)
            labels.append(label)
    legend_below(ax, ncol=ncol, handles=handles, labels=labels)


def forecast_view(draw, title: str, time_axis: bool = False, legend_below: bool = False):
    """A figure function of a run (`sim.report.plots`) made for a calibrated forecast:
    retitled (`title` may hold ``{horizon}``), on a time axis the data-end line, and
    the legend moved under the axes if asked (and always with the data-end line)."""
    def view(ds: xr.Dataset):
        ax = draw(ds)
        for loc in ("left", "center", "right"):
            ax.set_title("", loc=loc)
        ax.set_title(title.format(horizon=horizon(ds)), loc="left", fontsize="medium")
        if time_axis:
            mark_data_end(ax, ds)
        elif legend_below and ax.get_legend() is not None:
            _legend_below(ax)
        fit_titles(ax.figure)
        return ax

    return view


# ------------------------------------------------------------------ prior vs posterior

def parameter_units(ds: xr.Dataset) -> dict[str, str]:
    """Unit of each calibrated parameter, from the ``param_*`` variables' attrs (a
    schedule entry is ``key@date``; a reporting bias ``bias.<reporter>`` is a multiplier)."""
    units = {}
    for name, da in ds.data_vars.items():
        key = da.attrs.get("config_key")
        if str(name).startswith("param_") and key:
            since = da.attrs.get("in_force_from")
            units[f"{key}@{since}" if since else key] = str(da.attrs.get("units", ""))
    for name in ds["parameter"].values if "parameter" in ds.coords else []:
        if str(name).startswith("bias."):
            units[str(name)] = "1"
    return units


def prior_posterior_chart(ds: xr.Dataset, ax=None):
    """Prior against posterior 90% intervals and medians, one row per parameter.

    Each parameter is scaled so its prior 90% interval runs from 0 to 100%; rows are
    sorted by narrowing (most narrowed on top), the numbers on the right.

    Parameters
    ----------
    ds : xarray.Dataset
        A calibration result (`sim.calibrate`). Reads ``prior_p5``/``_p50``/``_p95``,
        ``posterior_p5``/``_p50``/``_p95``, ``narrowing`` (computed when absent) on
        ``parameter``, the ``param_*`` variables' attrs (units) and attr ``data_end``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure, one row per parameter, with the
        legend under the axes.

    Returns
    -------
    matplotlib.axes.Axes
        Suptitle: "Prior against posterior", the parameter count and the data end; x:
        position within the prior's 90% interval [%]; left y: parameters; right y: the
        prior and posterior 90% intervals in their units and the width ratio. Legend:
        prior 90% interval and median (`PRIOR` grey), posterior 90% interval and median
        (`MODEL` blue).
    """
    names = [str(n) for n in ds["parameter"].values]
    if "narrowing" in ds:
        narrowing = ds["narrowing"].values.astype(float)
    else:
        narrowing = ((ds["posterior_p95"] - ds["posterior_p5"])
                     / (ds["prior_p95"] - ds["prior_p5"])).values.astype(float)
    order = np.argsort(-np.nan_to_num(narrowing, nan=np.inf))  # most narrowed plotted last
    count = len(names)
    owned = ax is None
    if ax is None:
        ax = _figure(height=2.1 + 0.3 * count, width=11.0)
    units = parameter_units(ds)

    def column(name):
        return ds[name].values.astype(float)[order]

    p5, p50, p95 = column("prior_p5"), column("prior_p50"), column("prior_p95")
    width = np.where(p95 > p5, p95 - p5, 1.0)

    def scaled(x):
        return (x - p5) / width

    y = np.arange(count)
    ax.hlines(y + 0.14, 0, 1, color=PRIOR, lw=5, alpha=0.7, label="prior 90% interval")
    ax.plot(scaled(p50), y + 0.14, "|", color="0.25", ms=10, mew=2, label="prior median")
    q5, q50, q95 = column("posterior_p5"), column("posterior_p50"), column("posterior_p95")
    ax.hlines(y - 0.14, scaled(q5), scaled(q95), color=MODEL_TINTS[1], lw=5,
              label="posterior 90% interval")
    ax.plot(scaled(q50), y - 0.14, "o", color=MODEL_DARK, ms=5, label="posterior median")
    shown = [names[i] for i in order]
    ax.set_yticks(y, shown, fontsize="small")
    right = ax.secondary_yaxis("right")
    right.set_yticks(y, [
        f"{_pair(p5[i], p95[i], shown[i], units)} \u2192 {_pair(q5[i], q95[i], shown[i], units)}"
        f"  (\u00d7{human(narrowing[order][i])})" for i in range(count)], fontsize="small")
    right.tick_params(length=0)
    right.set_ylabel("prior \u2192 posterior 90% interval (\u00d7 width ratio)")
    ax.axvline(0, color="0.8", lw=0.8, zorder=0)
    ax.axvline(1, color="0.8", lw=0.8, zorder=0)
    ax.set_ylim(-0.7, count - 0.3)
    low = min(-0.1, float(np.nanmin(scaled(q5))) - 0.05)
    high = max(1.1, float(np.nanmax(scaled(q95))) + 0.05)
    ax.set_xlim(max(low, -1.0), min(high, 2.0))
    ax.xaxis.set_major_formatter(share_formatter())
    ax.set_xlabel("position within the prior's 90% interval [%] (0%: the prior's 5th "
                  "percentile, 100%: its 95th)")
    end = data_end(ds)
    data = f", data to {end}" if end is not None else ""
    ax.figure.suptitle(f"Prior against posterior, {len(names)} calibrated parameters{data}: "
                       "90% intervals and medians, the most narrowed by the data on top",
                       fontsize="medium")
    if owned:
        legend_below(ax, ncol=4)
    else:
        ax.legend(loc="best", fontsize="small", frameon=False)
    fit_titles(ax.figure)
    return ax


def _parameter_unit(name: str, unit: str) -> str:
    """A parameter's unit for an axis: shares in %, a reporting bias a multiplier."""
    if reads_as_percent(name, unit):
        return f"%/{unit[2:]}" if unit.startswith("1/") else "%"
    if name.startswith("bias."):
        return "multiplier"
    return unit or "1"


def _pair(low: float, high: float, name: str, units: dict) -> str:
    unit = units.get(name, "")
    return f"{value_text(low, unit, name)} to {value_text(high, unit, name)}"


# ------------------------------------------------------------------ observations

def observations(ds: xr.Dataset) -> list[dict]:
    """The observations the posterior was conditioned on (attr ``observations_json``),
    each with its predictive 5/50/95th percentiles; [] when the results do not say."""
    records = json.loads(ds.attrs.get("observations_json", "[]") or "[]")
    if "observation" not in ds.coords:
        return []
    labels = [str(label) for label in ds["observation"].values]
    out = []
    for record in records:
        if record.get("label") not in labels:
            continue
        i = labels.index(record["label"])
        out.append({**record, **{name: float(ds[name].values[i]) for name in (
            "predictive_p5", "predictive_p50", "predictive_p95") if name in ds}})
    return out


def observed_quantities(ds: xr.Dataset) -> list[tuple[str, str | None, str | None]]:
    """The observed quantities of a calibration that `predictive_chart` can draw.

    Parameters
    ----------
    ds : xarray.Dataset
        A calibration result (`sim.calibrate`). Reads attr ``observations_json``, the
        ``observation`` coordinate and the model variables the observations are about
        (`sim.core.schema.CLAIM_QUANTITIES`).

    Returns
    -------
    list of tuple (str, str or None, str or None)
        One ``(quantity, payer, item)`` key per observed quantity, in the order first
        observed (payer and item None unless the observation is a ledger entry); the
        `key` argument of `predictive_chart`. Empty when the results hold no
        observations.
    """
    keys = []
    for record in observations(ds):
        key = (record["quantity"], record.get("payer"), record.get("item"))
        if key not in keys and _model_variable(ds, key) is not None:
            keys.append(key)
    return keys


def quantity_stem(key: tuple) -> str:
    """A file stem for an observed quantity: ``predictive_casualties``."""
    return "predictive_" + "_".join(str(part) for part in key if part)


def quantity_name(key: tuple) -> str:
    quantity, payer, item = key
    text = quantity.replace("_", " ")
    extra = " ".join(str(part) for part in (payer, item) if part)
    return f"{text} ({extra})" if extra else text


def _model_variable(ds: xr.Dataset, key: tuple):
    """The model quantity an observation is about, per step (flows: the step's total;
    stocks: at step bounds; levels: the step's value), as (DataArray, kind) or None."""
    quantity, payer, item = key
    if quantity not in CLAIM_QUANTITIES:
        return None
    variable, kind, _ = CLAIM_QUANTITIES[quantity]
    if variable in ds and "sample" in ds[variable].dims:
        da = ds[variable]
    elif kind == "flow" and f"{variable}_per_day" in ds:
        per_day = ds[f"{variable}_per_day"]
        da = per_day * ds["step_days"]
        da.attrs = {**per_day.attrs, "units": per_day.attrs.get("units", "").replace("/day", "")}
    else:
        return None
    if "payer" in da.dims:
        attrs = da.attrs
        da = da.sel(payer=[payer] if payer else da["payer"].values,
                    item=[item] if item else da["item"].values).sum(("payer", "item"))
        da.attrs = attrs
    return da.astype(np.float64), kind


def _step_scale(bounds: np.ndarray, start: np.datetime64, end: np.datetime64) -> float:
    """Overlap-weighted mean length [days] of the steps a window [start, end) covers."""
    lows, highs = bounds[:-1], bounds[1:]
    overlap = np.clip((np.minimum(highs, end) - np.maximum(lows, start)).astype(float), 0, None)
    days = (highs - lows).astype(float)
    return float((overlap * days).sum() / overlap.sum()) if overlap.sum() else float("nan")


def _per_step(record: dict, bounds: np.ndarray, kind: str):
    """Where an observation sits on a per-step chart: (x, x_start, x_end, factor); a
    flow's total over a window becomes its per-step equivalent (exact when the window is
    one step), its per-day figure likewise."""
    if kind != "flow" or not record.get("start"):
        when = np.datetime64(record["date"], "D")
        return when, None, None, 1.0
    start, end = np.datetime64(record["start"], "D"), np.datetime64(record["end"], "D")
    step = _step_scale(bounds, start, end)
    window = float((end - start).astype(float))
    factor = step if record.get("statistic") == "per_day" else step / window
    middle = start + (end - start) / 2
    return middle, start, end, factor


def predictive_chart(ds: xr.Dataset, key: tuple | str, ax=None):
    """Posterior of one observed quantity over the horizon, with its observations drawn.

    The model quantity an observation set is about, over the whole horizon (the
    posterior's 5-95% and 25-75% bands and median; flows as totals per step), with the
    observations drawn on it as reported (a diamond, and a line over the window of a
    flow) and each observation's posterior predictive 90% interval (reporting bias and
    observation error included), and the data-end line.

    Parameters
    ----------
    ds : xarray.Dataset
        A calibration result (`sim.calibrate`). Reads the model variable of `key`
        (`sim.core.schema.CLAIM_QUANTITIES`), ``time_bound``, ``step_days``, attrs
        ``observations_json``, ``time_step`` and ``data_end``, and ``predictive_p5``,
        ``_p50``, ``_p95`` on ``observation``.
    key : tuple or str
        ``(quantity, payer, item)`` from `observed_quantities`, or a quantity name.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure; the legend goes under the axes.

    Returns
    -------
    matplotlib.axes.Axes
        Title: the quantity (per step for a flow), the horizon, "posterior against" the
        observations and reporters; x: date; y: the quantity in its units. Legend: the
        model's 5th-95th and 25th-75th percentile bands (`MODEL` tints) and median
        (`MODEL`), the observations as reported (`OBSERVED` vermillion diamonds, other
        reporters in `CATEGORIES` colours; the line labelled `OBSERVED_LABEL`), the
        predictive 90% interval (dark blue vertical lines) and the data-end line.

    Raises
    ------
    KeyError
        If the results hold no model variable for `key`.
    """
    key = (key, None, None) if isinstance(key, str) else tuple(key)
    found = _model_variable(ds, key)
    if found is None:
        raise KeyError(f"no model variable for observed quantity {key}")
    da, kind = found
    ax = _axes(ax)
    q = da.quantile([0.05, 0.25, 0.5, 0.75, 0.95], dim="sample")
    bounds = ds["time_bound"].values.astype("datetime64[D]")
    if kind == "stock":
        x, step = q["time_bound"].values, None
    else:
        x, step = bounds, "post"
        q = xr.concat([q, q.isel(time=-1)], dim="time")  # the last step's value to its end
    for (low, high), colour in zip(((0.05, 0.95), (0.25, 0.75)), MODEL_TINTS, strict=True):
        ax.fill_between(x, q.sel(quantile=low), q.sel(quantile=high), step=step, color=colour,
                        lw=0, label=f"model, {round(100 * low)}th-{round(100 * high)}th "
                                    "percentile")
    ax.plot(x, q.sel(quantile=0.5), color=MODEL, lw=1.8, drawstyle="steps-post" if step
            else "default", label="model, median")
    records = [r for r in observations(ds)
               if (r["quantity"], r.get("payer"), r.get("item")) == key]
    reporters = list(dict.fromkeys(r.get("reporter") or "" for r in records))
    colours = (OBSERVED, *CATEGORIES[3:])  # the first reporter in the observation colour
    for n, reporter in enumerate(reporters):
        mine = [r for r in records if (r.get("reporter") or "") == reporter]
        colour = colours[n % len(colours)]
        placed = [_per_step(r, bounds, kind) for r in mine]
        xs = [p[0] for p in placed]
        for (_, start, end, factor), r in zip(placed, mine, strict=True):
            if start is not None:
                ax.hlines(r["value"] * factor, start, end, color=colour, lw=2.2)
        for (middle, _, _, factor), r in zip(placed, mine, strict=True):
            if "predictive_p5" in r:
                ax.vlines(middle, r["predictive_p5"] * factor, r["predictive_p95"] * factor,
                          color=MODEL_DARK, lw=1.0, zorder=4)
        ax.plot(xs, [r["value"] * p[3] for r, p in zip(mine, placed, strict=True)], "D",
                color=colour, ms=5, ls="none", zorder=6,
                label=f"{OBSERVED_LABEL} ({reporter})" if reporter else OBSERVED_LABEL)
    if any("predictive_p5" in r for r in records):
        ax.plot([], [], color=MODEL_DARK, lw=1.0, label="predictive 90% interval "
                "(bias and error included)")
    per = {"month": "per month", "day": "per day"}.get(str(ds.attrs.get("time_step")), "per step")
    name = str(da.attrs.get("long_name", quantity_name(key))).removeprefix("daily ")
    if key[1] or key[2]:  # a ledger entry: who pays, for what
        name = f"{key[1] or 'total'} {key[2] or 'manpower'} spend"
    what = f"{name} {per}" if kind == "flow" else name
    ax.yaxis.set_major_formatter(_formatter())
    ax.set_ylabel(f"{what} [{da.attrs.get('units', '')}]")
    ax.set_xlabel("date")
    source = f"{len(records)} observation{'s' if len(records) != 1 else ''}"
    if any(reporters):
        source += f" ({', '.join(r for r in reporters if r)})"
    ax.set_title(f"{what[:1].upper()}{what[1:]}, {horizon(ds)}: posterior against {source}",
                 loc="left", fontsize="medium")
    ax.margins(x=0.01)
    mark_data_end(ax, ds, legend=False)
    _legend_below(ax)
    ax.figure.autofmt_xdate()
    fit_titles(ax.figure)
    return ax


def _axes(ax):
    return ax if ax is not None else _figure()


# ------------------------------------------------------------------ identifiability

def unseparable_pairs(ds: xr.Dataset) -> list[dict]:
    """Attr ``unseparable_pairs`` as a list of {"a", "b", "rank_correlation"}."""
    return json.loads(ds.attrs.get("unseparable_pairs", "[]") or "[]")


def _draws(ds: xr.Dataset, name: str):
    if name.startswith("bias."):
        variable = "bias_" + name.removeprefix("bias.")
        return ds[variable].values if variable in ds else None
    for variable, da in ds.data_vars.items():
        key = da.attrs.get("config_key")
        since = da.attrs.get("in_force_from")
        if str(variable).startswith("param_") and key and (
                f"{key}@{since}" if since else key) == name:
            return da.values
    return None


def drawable_pairs(ds: xr.Dataset, top: int = 4) -> list[dict]:
    """The strongest unseparable pairs whose particles the results hold."""
    return [pair for pair in unseparable_pairs(ds)
            if _draws(ds, pair["a"]) is not None and _draws(ds, pair["b"]) is not None][:top]


def unseparable_chart(ds: xr.Dataset, top: int = 4):
    """Posterior particles of the parameter pairs the observations cannot separate.

    One scatter panel per pair (up to `top`): a ridge along which the observations fit
    equally well; a single panel saying so when every pair is separated.

    Parameters
    ----------
    ds : xarray.Dataset
        A calibration result (`sim.calibrate`). Reads attrs ``unseparable_pairs`` and
        ``data_end``, the ``param_*`` variables and ``bias_<reporter>`` (per particle).
    top : int, default 4
        Most pairs drawn, the strongest first.

    Returns
    -------
    matplotlib.axes.Axes
        The first panel (``.figure`` holds them all; a new figure each call). Suptitle:
        "Pairs the observations cannot separate" and the data end; each panel: one
        parameter against the other in their units, the particles in `MODEL` blue, the
        rank correlation as its title; no legend.
    """
    import matplotlib.pyplot as plt

    pairs = drawable_pairs(ds, top)
    units = parameter_units(ds)
    count = max(len(pairs), 1)
    figure, axes = plt.subplots(1, count, figsize=(min(max(4.2 * count, 5.0), 14.0), 4.2),
                                layout="constrained", squeeze=False)
    if not pairs:
        axes[0][0].text(0.5, 0.5, "the observations separate every pair of parameters",
                        ha="center", va="center", transform=axes[0][0].transAxes)
        axes[0][0].set_axis_off()
    for ax, pair in zip(axes[0], pairs, strict=False):
        a, b = _draws(ds, pair["a"]), _draws(ds, pair["b"])
        ax.scatter(a, b, s=6, color=MODEL, alpha=0.35, lw=0)
        for axis, name in ((ax.xaxis, pair["a"]), (ax.yaxis, pair["b"])):
            unit = units.get(name, "")
            share = reads_as_percent(name, unit)
            axis.set_label_text(f"{name} [{_parameter_unit(name, unit)}]", fontsize="small")
            axis.set_major_formatter(share_formatter() if share else _formatter())
        ax.tick_params(labelsize="small")
        ax.set_title(f"rank correlation {pair['rank_correlation']:+.2f}", fontsize="small")
    end = data_end(ds)
    data = f" (data to {end})" if end is not None else ""
    figure.suptitle(f"Pairs the observations cannot separate{data}: posterior particles",
                    fontsize="medium")
    fit_titles(figure)
    return axes[0][0]


# ------------------------------------------------------------------ backtest

METHOD_COLOURS = {"model": MODEL, "last": CATEGORIES[2], "mean3": CATEGORIES[4]}
"""The calibrated model in the model's colour, the naive forecasts in category colours."""


def _method_colour(method: str, i: int) -> str:
    return METHOD_COLOURS.get(method, CATEGORIES[(i + 5) % len(CATEGORIES)])


def _month(value) -> str:
    return f"{_date(value):%Y-%m}"


def _column(table, *candidates: str) -> str | None:
    for name in candidates:
        if name in table.columns:
            return name
    return None


def backtest_skill_chart(ds: xr.Dataset, table=None):
    """Backtest forecast skill by cutoff: CRPS, CRPS skill and interval coverage.

    Three panels: the mean CRPS of each forecast (top; lower is better), the model's
    CRPS skill against each naive forecast (middle; above 0: the model is better) and
    the coverage of the model's 50% and 90% intervals against their nominal levels
    (bottom).

    Parameters
    ----------
    ds : xarray.Dataset
        A backtest result (`sim.backtest`, `sim.rolling_backtest`). Reads the
        ``heldout_unit`` coordinate, and the scores through `table`.
    table : pandas.DataFrame, optional
        `sim.backtest_table` of `ds` (rows with cutoff ``"all"`` are ignored); by
        default (None) computed.

    Returns
    -------
    matplotlib.axes.Axes
        The CRPS panel (``.figure`` holds all three; a new figure each call). Title:
        "Backtest" with the cutoffs; x: cutoff date; y: mean CRPS [the observations'
        unit], CRPS skill [%], held-out values inside the interval [%]. Legends: one line
        per method (the model in `MODEL` blue, naive forecasts in `CATEGORIES`
        colours), skill against each naive forecast, and the model's 50% and 90%
        intervals with the nominal levels (`THRESHOLD` grey dashed).
    """
    import matplotlib.pyplot as plt

    if table is None:
        from sim.analysis.backtest import backtest_table

        table = backtest_table(ds)
    table = table[table["cutoff"].map(lambda c: not isinstance(c, str))]
    figure, (top, middle, bottom) = plt.subplots(
        3, 1, figsize=(FIGSIZE[0], 8.2), sharex=True, layout="constrained",
        height_ratios=(3, 2, 2))
    cutoffs = sorted(set(table["cutoff"]))
    x = np.array([np.datetime64(pd.Timestamp(c).to_datetime64(), "D") for c in cutoffs])
    methods = list(dict.fromkeys(table["method"]))
    units = _units(ds)
    for i, method in enumerate(methods):
        rows = table[table["method"] == method].set_index("cutoff").reindex(cutoffs)
        top.plot(x, rows["crps"].to_numpy(float), "o-", color=_method_colour(method, i),
                 lw=1.8, ms=5, label=_method_label(method))
    top.set_ylabel(f"mean CRPS [{units}]")
    top.yaxis.set_major_formatter(_formatter())
    top.set_ylim(bottom=0)
    top.set_title(f"Backtest {_cutoffs_text(x)}: forecast error, skill and coverage",
                  loc="left", fontsize="medium")
    top.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), fontsize="small",
               frameon=False, ncol=len(methods))
    model = table[table["method"] == "model"].set_index("cutoff").reindex(cutoffs)
    skills = [c for c in table.columns if str(c).startswith("crps_skill_")]
    for i, column in enumerate(skills):
        naive = column.removeprefix("crps_skill_")
        middle.plot(x, 100 * model[column].to_numpy(float), "o-",
                    color=_method_colour(naive, i + 1), lw=1.5, ms=4,
                    label=f"against {naive}")
    zero_line(middle)
    middle.set_ylabel("model's CRPS skill [%]\n(> 0: model better)")
    middle.legend(loc="best", fontsize="small", frameon=False, ncol=len(skills))
    for level, colour, marker in ((50, MODEL_TINTS[1], "s"), (90, MODEL, "o")):
        name = _column(table, f"coverage_{level}")
        if name is None:
            continue
        bottom.plot(x, 100 * model[name].to_numpy(float), marker=marker, color=colour, lw=1.5,
                    label=f"model's {level}% interval")
        bottom.axhline(level, **THRESHOLD_STYLE)
    bottom.plot([], [], **THRESHOLD_STYLE, label="nominal levels, 50% and 90%")
    bottom.set_ylim(-5, 105)
    bottom.set_ylabel("held-out values inside\nthe interval [%]")
    bottom.set_xlabel("cutoff (calibrated on the observations over by this date)")
    bottom.legend(loc="lower left", fontsize="small", frameon=False, ncol=2)
    if len(x) == 1:
        top.set_xlim(x[0] - np.timedelta64(45, "D"), x[0] + np.timedelta64(45, "D"))
    figure.autofmt_xdate()
    fit_titles(figure)
    return top


def _cutoffs_text(cutoffs) -> str:
    """``at 7 cutoffs, 2024-07 to 2025-12`` or ``at the cutoff 2025-10``."""
    if len(cutoffs) == 1:
        return f"at the cutoff {_month(cutoffs[0])}"
    return f"at {len(cutoffs)} cutoffs, {_month(cutoffs[0])} to {_month(cutoffs[-1])}"


def _method_label(method: str) -> str:
    return {"model": "model (calibrated)", "last": "last (last value carried forward)",
            "mean3": "mean3 (mean of the last 3)"}.get(method, method)


def _units(ds: xr.Dataset) -> str:
    """The held-out observations' unit when they share one, else "their unit"."""
    if "heldout_unit" in ds.coords:
        units = set(str(u) for u in ds["heldout_unit"].values)
        if len(units) == 1:
            return units.pop()
    return "each observation's unit"


def backtest_cutoffs_shown(ds: xr.Dataset, most: int = 6) -> list[int]:
    """Indices of the cutoffs the forecast chart shows: all, or `most` evenly spaced."""
    count = ds.sizes["cutoff"]
    if count <= most:
        return list(range(count))
    return sorted(set(np.linspace(0, count - 1, most).round().astype(int).tolist()))


def backtest_forecast_chart(ds: xr.Dataset, most: int = 6):
    """Backtest forecasts against what happened, one panel per cutoff.

    For each cutoff (up to `most`, evenly spaced), each method's 50% and 90% predictive
    intervals and median for every held-out observation, by months ahead of the cutoff,
    and the observed value.

    Parameters
    ----------
    ds : xarray.Dataset
        A backtest result (`sim.backtest`, `sim.rolling_backtest`). Reads ``observed``,
        ``lead_months``, ``predictive_p5``/``_p25``/``_p50``/``_p75``/``_p95`` on
        ``cutoff``, ``heldout`` and ``method``, ``training_observations`` when present
        and the ``heldout_unit`` coordinate.
    most : int, default 6
        Most cutoffs (panels) shown.

    Returns
    -------
    matplotlib.axes.Axes
        The first panel (``.figure`` holds them all; a new figure each call). Suptitle:
        "Backtest forecasts against what happened" and the cutoffs; each panel: the
        cutoff and training observations as title, x: months after the cutoff [month],
        y: held-out value [unit]. Legend (under the panels): each method's intervals
        (thick: 50%, thin: 90%; the model in `MODEL` blue, naive forecasts in
        `CATEGORIES` colours; the median a white tick) and the observed value
        (`OBSERVED` vermillion).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    shown = backtest_cutoffs_shown(ds, most)
    columns = min(len(shown), 3)
    rows = math.ceil(len(shown) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(max(4.4 * columns + 1.0, 7.5),
                                                        3.4 * rows + 1.2),
                                layout="constrained", squeeze=False, sharey=True)
    methods = [str(m) for m in ds["method"].values]
    offsets = (np.arange(len(methods)) - (len(methods) - 1) / 2) * 0.22
    units = _units(ds)
    leads = ds["lead_months"].values.astype(float)
    leads = leads[np.isfinite(leads)] if np.isfinite(leads).any() else np.array([1.0])
    for panel, ax in zip(shown, axes.ravel(), strict=False):
        view = ds.isel(cutoff=panel)
        held = np.isfinite(view["observed"].values.astype(float))
        lead = view["lead_months"].values.astype(float)[held]
        for i, method in enumerate(methods):
            v = view.sel({"method": method})

            def get(name, v=v, held=held):
                return v[name].values.astype(float)[held]

            colour = _method_colour(method, i)
            ax.vlines(lead + offsets[i], get("predictive_p5"), get("predictive_p95"),
                      color=colour, lw=1.2, alpha=0.8)
            ax.vlines(lead + offsets[i], get("predictive_p25"), get("predictive_p75"),
                      color=colour, lw=4.5, alpha=0.8,
                      label=f"{method} (thick: 50%, thin: 90%)" if panel == shown[0] else None)
            ax.plot(lead + offsets[i], get("predictive_p50"), "_", color="white", ms=5, mew=1.2)
        half = 0.22 * len(methods) / 2 + 0.06
        ax.hlines(view["observed"].values.astype(float)[held], lead - half, lead + half,
                  color=OBSERVED, lw=2.2, zorder=5,
                  label="observed" if panel == shown[0] else None)
        ax.set_title(f"cutoff {_month(view['cutoff'].values)}, calibrated on "
                     f"{int(view['training_observations'].values)} observations"
                     if "training_observations" in view else
                     f"cutoff {_month(view['cutoff'].values)}", fontsize="small")
        ax.set_xlim(min(0.4, np.nanmin(leads) - 0.6), max(np.nanmax(leads), 2.0) + 0.6)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(_formatter())
        ax.tick_params(labelsize="small")
        ax.set_xlabel("months after the cutoff [month]", fontsize="small")
    for ax in axes.ravel()[len(shown):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"held-out value [{units}]", fontsize="small")
    cutoffs = ds["cutoff"].values
    more = "" if len(shown) == ds.sizes["cutoff"] else f" ({len(shown)} of {len(cutoffs)} shown)"
    figure.suptitle(f"Backtest forecasts against what happened, {_cutoffs_text(cutoffs)}"
                    f"{more}", fontsize="medium")
    figure.legend(loc="outside lower center", ncol=len(methods) + 1 if columns > 1 else 2,
                  fontsize="small", frameon=False)
    fit_titles(figure)
    return axes[0][0]
