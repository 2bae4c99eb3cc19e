"""Runway: how long until the regions' bonus bill pushes them into cuts.

From a run with the regions' response ([regional_response]): per sample, the date the
regional stress first exceeds its threshold (``first_stress_date``) and the date of the
first cut (``first_cut_date``), both in days after the start (NaN: never within the
horizon). Summarised as survival curves, the share of futures with no cut (no threshold
crossing) yet at each step start, and the probability of a cut by chosen dates:
P(cut by t) = share of samples whose first cut is in force on t (the first step paid at a
reduced bonus starts on or before t).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from sim.errors import ParameterError
from sim.numbers import iso_date, probability

EVENTS = {"first_cut_date": "no cut yet", "first_stress_date": "stress not yet over threshold"}
"""The event variables and what their survival curve's share means."""


@dataclass(frozen=True)
class Runway:
    """A run's runway to regional bonus cuts.

    Attributes
    ----------
    survival : pandas.DataFrame
        Index: dates (each step start, then the horizon's end); columns: ``no cut yet``,
        ``stress not yet over threshold`` [share of samples, 0-1].
    by_date : pandas.DataFrame
        Index: the chosen dates; columns ``P(cut by date)``, ``P(stress over threshold by
        date)`` [0-1].
    samples : int
    start : datetime.date
        The horizon's start (day 0 of the event dates).
    """

    survival: pd.DataFrame
    by_date: pd.DataFrame
    samples: int
    start: dt.date

    def text(self) -> str:
        """A short human summary: per chosen date (ISO), the probability of a cut and of
        the stress over its threshold by then, in %.

        Returns
        -------
        str
            A heading and one line per date.
        """
        lines = [f"Runway to regional bonus cuts (share of {self.samples:,} futures):"]
        for date, row in self.by_date.iterrows():
            lines.append(f"  by {iso_date(date)}: cut {probability(row['P(cut by date)'])}, "
                         "stress over threshold "
                         f"{probability(row['P(stress over threshold by date)'])}")
        return "\n".join(lines)


def _event_days(ds: xr.Dataset, name: str) -> np.ndarray:
    values = ds[name].values.astype(np.float64)
    return np.where(np.isnan(values), np.inf, values)  # never: after every date


def default_dates(start: dt.date, end: dt.date) -> list[dt.date]:
    """1 January and 1 July after `start` up to `end`, then `end` itself."""
    dates = [dt.date(year, month, 1) for year in range(start.year, end.year + 1)
             for month in (1, 7)]
    return [d for d in dates if start < d < end] + [end]


def runway(ds: xr.Dataset, dates: Sequence[dt.date | str] | None = None) -> Runway:
    """Survival curves of the regions' first cut and first threshold crossing.

    Parameters
    ----------
    ds : xarray.Dataset
        One run's results with ``first_cut_date`` and ``first_stress_date`` (a config with
        [regional_response]).
    dates : sequence of date or str (YYYY-MM-DD), optional
        Dates for the probabilities; default every 1 January and 1 July within the horizon
        and its end.

    Returns
    -------
    Runway
        ``survival``: a DataFrame indexed by ``date`` (each step start, then the horizon's
        end) with columns ``no cut yet`` and ``stress not yet over threshold``, the
        shares of samples (0-1) in which the event has not happened by that date;
        ``by_date``: indexed by the chosen dates, columns ``P(cut by date)`` and
        ``P(stress over threshold by date)`` (0-1); ``samples``; ``start`` (day 0 of
        the event dates). ``text()`` renders ``by_date`` in %.

    Raises
    ------
    ParameterError
        Results without the regions' response, a sweep, or a date outside the horizon.
    """
    missing = [name for name in EVENTS if name not in ds]
    if missing:
        raise ParameterError("results", "the runway needs the regions' response "
                             "([regional_response] in the config): no "
                             f"{' or '.join(missing)} in these results")
    if "scenario" in ds.dims:
        raise ParameterError("results", "the runway is computed for one scenario's run, "
                             f"got a sweep of {ds.sizes['scenario']} scenarios")
    start = dt.date.fromisoformat(ds["first_cut_date"].attrs["reference_date"])
    bounds = pd.DatetimeIndex(ds["time_bound"].values).date
    end = bounds[-1]
    chosen = default_dates(start, end) if dates is None else [
        d if isinstance(d, dt.date) else _date(d) for d in dates]
    for date in chosen:
        if not start <= date <= end:
            raise ParameterError("dates", f"expected dates from {start} to {end} (the "
                                 f"horizon), got {date}")
    events = {name: _event_days(ds, name) for name in EVENTS}

    def share_before(name: str, date: dt.date) -> float:  # in force on `date`
        return float((events[name] <= (date - start).days).mean())

    survival = pd.DataFrame(
        {label: [1.0 - share_before(name, d) for d in bounds] for name, label in EVENTS.items()},
        index=pd.Index(bounds, name="date"))
    by_date = pd.DataFrame(
        {"P(cut by date)": [share_before("first_cut_date", d) for d in chosen],
         "P(stress over threshold by date)": [share_before("first_stress_date", d)
                                              for d in chosen]},
        index=pd.Index(chosen, name="date"))
    return Runway(survival, by_date, ds.sizes["sample"], start)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ParameterError("dates", f"expected dates as YYYY-MM-DD, got {text!r}") from None
