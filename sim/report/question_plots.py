"""Figures for the questions analysts ask: the runway to regional cuts and the break-even
lever. Each returns the Axes (its ``.figure`` is the Figure); matplotlib is imported
inside the functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from sim.analysis.breakeven import ABOVE, BELOW, probability_above_today
from sim.analysis.levers import LEVERS
from sim.analysis.runway import Runway
from sim.numbers import human, iso_date, probability
from sim.report.plots import (
    CATEGORIES,
    MODEL,
    MODEL_DARK,
    MODEL_TINTS,
    THRESHOLD_STYLE,
    _axes,
    amount_formatter,
    fit_titles,
    horizon_text,
    legend_below,
    share_formatter,
)


def runway_chart(result: Runway, ax=None):
    """Runway to regional bonus cuts: survival curves of the first cut and first stress.

    The share of futures in which the regions have not yet cut their bonuses, and in
    which their stress has not yet crossed the threshold, by date; the probabilities of a
    cut by the chosen dates marked on the first curve and listed in a box.

    Parameters
    ----------
    result : sim.analysis.runway.Runway
        From `sim.runway` (a run's results with the regions' response). Reads its
        ``survival``, ``by_date``, ``start`` and ``samples``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure with the legend under the axes.

    Returns
    -------
    matplotlib.axes.Axes
        Title: "Runway to regional bonus cuts", start to end and the number of futures;
        x: date; y: share of futures [%]. Legend: no regional bonus cut yet (`MODEL`
        blue step line), regional stress not yet over its threshold (dashed, a
        `CATEGORIES` colour), and the listed dates as open circles at 1 - P(cut by date).
    """
    owned = ax is None
    ax = _axes(ax)
    dates = pd.to_datetime(pd.Index(result.survival.index))
    ax.step(dates, result.survival["stress not yet over threshold"], where="post",
            color=CATEGORIES[1], lw=1.8, ls="--",
            label="regional stress not yet over its threshold")
    ax.step(dates, result.survival["no cut yet"], where="post", color=MODEL, lw=2.2,
            label="no regional bonus cut yet")
    marked = result.by_date
    ax.plot(pd.to_datetime(pd.Index(marked.index)), 1 - marked["P(cut by date)"],
            marker="o", color=MODEL_DARK, markerfacecolor="white", mew=1.8, ms=7, ls="none",
            label="the dates listed: 1 - P(cut by date)", zorder=4)
    ax.text(0.98, 0.97, "\n".join(f"P(cut by {date}) = {probability(row['P(cut by date)'])}"
                                  for date, row in marked.iterrows()),
            transform=ax.transAxes, ha="right", va="top", fontsize="small",
            bbox={"facecolor": "white", "edgecolor": "0.8", "boxstyle": "round"})
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(share_formatter())
    ax.set_ylabel("share of futures [%]")
    ax.set_xlabel("date")
    end = iso_date(dates[-1].to_datetime64())
    ax.set_title(f"Runway to regional bonus cuts, {result.start} to {end} "
                 f"({result.samples:,} futures)")
    if owned:
        legend_below(ax, ncol=2)
    else:
        ax.legend(loc="lower left", fontsize="small", frameon=False)
    ax.figure.autofmt_xdate()
    fit_titles(ax.figure)
    return ax


def breakeven_chart(ds: xr.Dataset, ax=None, bins: int = 50):
    """Histogram of the lever's break-even value (first step) with today's level marked.

    Samples without a root in the bracket are counted in the legend.

    Parameters
    ----------
    ds : xarray.Dataset
        A break-even result (`sim.breakeven`). Reads ``breakeven_value``,
        ``today_value``, ``breakeven_status`` and attrs ``lever`` and ``bracket``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure with the legend under the axes.
    bins : int, default 50
        Histogram bins.

    Returns
    -------
    matplotlib.axes.Axes
        Title: "Break-even" and the lever's quantity, the horizon, "the level at which
        the force ends the horizon where it started"; x: the quantity at break-even in
        the first month, in its unit (`sim.analysis.levers.LEVERS`); y: futures [count].
        Legend: the break-even histogram (`MODEL` tint), today's level (median,
        `THRESHOLD` grey dashed) with P(break-even above it), the break-even median
        (dark blue), and the counts of futures below or above the bracket.
    """
    owned = ax is None
    ax = _axes(ax)
    lever = ds.attrs["lever"]
    _, quantity, unit = LEVERS[lever]
    value = ds["breakeven_value"].values.astype(np.float64)
    found = np.isfinite(value)
    ax.hist(value[found], bins=bins, color=MODEL_TINTS[1],
            label=f"break-even, {found.sum():,} futures")
    today = float(np.median(ds["today_value"].values))
    ax.axvline(today, **THRESHOLD_STYLE,
               label=f"today's level (median) {human(today)}: P(break-even above it) = "
                     f"{probability(probability_above_today(ds))}")
    if found.any():
        median = float(np.median(value[found]))
        ax.axvline(median, color=MODEL_DARK, lw=2.2, label=f"break-even median {human(median)}")
    status = ds["breakeven_status"].values
    low, high = ds.attrs["bracket"].split(",")
    for code, text in ((BELOW, f"below the bracket (force grows even at {low}x)"),
                       (ABOVE, f"above the bracket (force shrinks even at {high}x)")):
        count = int((status == code).sum())
        if count:
            ax.plot([], [], ls="none", label=f"{count:,} futures {text}")
    ax.xaxis.set_major_formatter(amount_formatter())
    ax.set_xlabel(f"{quantity} at break-even, first month [{unit}]")
    ax.set_ylabel("futures [count]")
    when = f", {horizon_text(ds)}" if horizon_text(ds) else ""
    ax.set_title(f"Break-even {quantity}{when}:\nthe level at which the force ends the "
                 "horizon where it started")
    if owned:
        legend_below(ax, ncol=2)
    else:
        ax.legend(loc="upper right", fontsize="small", frameon=False)
    fit_titles(ax.figure)
    return ax
