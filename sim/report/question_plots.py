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
from sim.analysis.summary import human, percent
from sim.report.plots import BLUE, GREEN, ORANGE, VERMILLION, _axes, _formatter


def runway_chart(result: Runway, ax=None):
    """Survival curves: the share of futures in which the regions have not yet cut their
    bonuses, and in which their stress has not yet crossed the threshold, by date; the
    probabilities of a cut by the chosen dates marked.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import PercentFormatter

    ax = _axes(ax)
    dates = pd.to_datetime(pd.Index(result.survival.index))
    ax.step(dates, 100 * result.survival["stress not yet over threshold"], where="post",
            color=ORANGE, lw=1.8, ls="--", label="regional stress not yet over threshold")
    ax.step(dates, 100 * result.survival["no cut yet"], where="post", color=BLUE, lw=2.2,
            label="no regional bonus cut yet")
    marked = result.by_date
    ax.plot(pd.to_datetime(pd.Index(marked.index)), 100 * (1 - marked["P(cut by date)"]),
            marker="o", color=VERMILLION, ms=6, ls="none", label="P(cut by date), listed")
    ax.text(0.98, 0.97, "\n".join(f"cut by {date}: {percent(row['P(cut by date)'])}"
                                  for date, row in marked.iterrows()),
            transform=ax.transAxes, ha="right", va="top", fontsize="small", color=VERMILLION,
            bbox={"facecolor": "white", "edgecolor": "0.8", "boxstyle": "round"})
    ax.set_ylim(0, 105)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylabel("share of futures [%]")
    ax.set_xlabel("date")
    ax.set_title(f"Runway to regional bonus cuts ({result.samples:,} futures from "
                 f"{result.start})")
    ax.legend(loc="lower left", fontsize="small", frameon=False)
    ax.figure.autofmt_xdate()
    return ax


def breakeven_chart(ds: xr.Dataset, ax=None, bins: int = 50):
    """Histogram of the lever's break-even value (first step) with today's level marked;
    samples without a root in the bracket are counted in the legend.

    Parameters
    ----------
    ds : xarray.Dataset
        A `sim.analysis.breakeven.breakeven` result.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    lever = ds.attrs["lever"]
    _, quantity, unit = LEVERS[lever]
    value = ds["breakeven_value"].values.astype(np.float64)
    found = np.isfinite(value)
    ax.hist(value[found], bins=bins, color=BLUE, alpha=0.6,
            label=f"break-even, {found.sum():,} futures")
    today = float(np.median(ds["today_value"].values))
    ax.axvline(today, color=VERMILLION, lw=2, label=f"today's level (median) {human(today)}")
    if found.any():
        median = float(np.median(value[found]))
        ax.axvline(median, color=GREEN, lw=2, ls="--",
                   label=f"break-even median {human(median)}")
    status = ds["breakeven_status"].values
    low, high = ds.attrs["bracket"].split(",")
    for code, text in ((BELOW, f"below the bracket (force grows even at {low}x)"),
                       (ABOVE, f"above the bracket (force shrinks even at {high}x)")):
        count = int((status == code).sum())
        if count:
            ax.plot([], [], ls="none", label=f"{count:,} futures {text}")
    ax.xaxis.set_major_formatter(_formatter())
    ax.set_xlabel(f"{quantity} at break-even, first month [{unit}]")
    ax.set_ylabel("futures [count]")
    ax.set_title(f"Break-even {quantity}: force at the horizon = force at the start\n"
                 f"P(above today's level) = {percent(probability_above_today(ds))}")
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    return ax
