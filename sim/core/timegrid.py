"""The calendar time grid: step start dates, step lengths and elapsed years."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR

FIRST_DATE = dt.date(1678, 1, 1)
LAST_DATE = dt.date(2262, 4, 11)
"""The calendar a horizon must lie in, from its first day to the day after its last
(`TimeGrid.end`). Results carry their time coordinates as ``datetime64[ns]``, which
holds 1677-09-21 to 2262-04-11 only: NumPy casts a date outside that span without an
error, to a wrong date, so such a horizon is refused rather than mislabelled."""


@dataclass(frozen=True, eq=False)
class TimeGrid:
    """Steps k = 0..K-1 starting at ``bounds[k]`` and lasting ``days[k]`` days.

    Attributes
    ----------
    start, end : datetime.date
        First day of the horizon and the day after its last day.
    step : str
        ``"month"`` or ``"day"``.
    bounds : ndarray of datetime64[D], shape (K + 1,)
        Step boundaries: step k runs from ``bounds[k]`` to ``bounds[k + 1]``.
    """

    start: dt.date
    end: dt.date
    step: str
    bounds: np.ndarray

    @property
    def n_steps(self) -> int:
        """Number of time steps K."""
        return len(self.bounds) - 1

    @property
    def starts(self) -> np.ndarray:
        """Step start dates t_k, datetime64[D], shape (K,)."""
        return self.bounds[:-1]

    @property
    def days(self) -> np.ndarray:
        """Step lengths D_k [days], float64, shape (K,)."""
        return np.diff(self.bounds).astype(np.float64)

    @property
    def months_per_step(self) -> np.ndarray:
        """Step lengths in mean months D_k / M [month], shape (K,)."""
        return self.days / DAYS_PER_MONTH

    @property
    def years_elapsed(self) -> np.ndarray:
        """tau_k = (t_k - start) / 365.25 [year], shape (K,)."""
        return (self.starts - self.bounds[0]).astype(np.float64) / DAYS_PER_YEAR

    def overlap_days(self, first: dt.date, last: dt.date) -> np.ndarray:
        """Days of each step inside [first, last) [days], shape (K,)."""
        lo = np.maximum(self.bounds[:-1], np.datetime64(first, "D"))
        hi = np.minimum(self.bounds[1:], np.datetime64(last, "D"))
        return np.clip((hi - lo).astype(np.float64), 0, None)

    def calendar_years(self) -> np.ndarray:
        """Calendar years the horizon touches, int, shape (Y,)."""
        return np.arange(self.start.year, (self.end - dt.timedelta(days=1)).year + 1)

    def year_weights(self) -> np.ndarray:
        """Share of each step falling in each calendar year, shape (K, Y).

        A flow spread evenly over its step's days is split between years by
        ``step_total @ year_weights()``.
        """
        years = self.calendar_years()
        columns = [
            self.overlap_days(dt.date(int(y), 1, 1), dt.date(int(y) + 1, 1, 1)) for y in years
        ]
        return np.stack(columns, axis=1) / self.days[:, None]


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus a number of calendar months, clamped to the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def build_time_grid(start: dt.date, months: int, step: str) -> TimeGrid:
    """Build the grid for a horizon of `months` calendar months from `start`.

    Parameters
    ----------
    start : datetime.date
        First day.
    months : int
        Horizon [month], >= 1.
    step : {"month", "day"}
        Calendar-month steps or one-day steps.

    Returns
    -------
    TimeGrid
    """
    end = add_months(start, months)
    if step == "month":
        dates = [add_months(start, k) for k in range(months + 1)]
        bounds = np.array(dates, dtype="datetime64[D]")
    else:
        bounds = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    return TimeGrid(start, end, step, bounds)
