"""sim.core.timegrid: calendar steps, their lengths, year weights and add_months."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sim.core.timegrid import FIRST_DATE, LAST_DATE, add_months, build_time_grid
from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR

# Horizons well inside [FIRST_DATE, LAST_DATE]; daily grids kept short for speed.
starts = st.dates(dt.date(1700, 1, 1), dt.date(2200, 12, 31))
month_counts = st.integers(1, 60)
steps = st.sampled_from(["month", "day"])


def _day(value: np.datetime64) -> dt.date:
    return value.astype("datetime64[D]").item()


# ---------------------------------------------------------------- add_months


@pytest.mark.parametrize(("day", "months", "expected"), [
    (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
    (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),  # leap year
    (dt.date(2025, 3, 31), 1, dt.date(2025, 4, 30)),
    (dt.date(2025, 3, 31), -1, dt.date(2025, 2, 28)),
    (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
    (dt.date(2024, 2, 29), 48, dt.date(2028, 2, 29)),
    (dt.date(2025, 12, 15), 1, dt.date(2026, 1, 15)),
    (dt.date(2025, 1, 15), -1, dt.date(2024, 12, 15)),
    (dt.date(2025, 1, 15), -13, dt.date(2023, 12, 15)),
    (dt.date(2025, 5, 31), 0, dt.date(2025, 5, 31)),
    (dt.date(1900, 1, 29), 1, dt.date(1900, 2, 28)),  # 1900 is not a leap year
    (dt.date(2000, 1, 29), 1, dt.date(2000, 2, 29)),  # 2000 is
])
def test_add_months_edge_cases(day, months, expected):
    assert add_months(day, months) == expected


@given(starts, st.integers(-240, 240))
def test_add_months_moves_the_month_and_clamps_the_day(day, months):
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day == min(day.day, calendar.monthrange(result.year, result.month)[1])


@given(starts, st.integers(-120, 120), st.integers(-120, 120))
def test_add_months_composes_when_no_clamping_happens(day, a, b):
    """Days 1-28 exist in every month, so adding a then b months is adding a + b."""
    day = day.replace(day=min(day.day, 28))
    assert add_months(add_months(day, a), b) == add_months(day, a + b)


# ---------------------------------------------------------------- grids


@given(starts, month_counts, steps)
@example(dt.date(2025, 1, 31), 13, "month")
@example(dt.date(2024, 2, 29), 12, "day")
def test_steps_cover_the_horizon_exactly(start, months, step):
    grid = build_time_grid(start, months, step)
    end = add_months(start, months)
    assert grid.start == start and grid.end == end and grid.step == step
    assert _day(grid.bounds[0]) == start and _day(grid.bounds[-1]) == end
    assert np.all(np.diff(grid.bounds).astype(int) > 0)  # strictly increasing
    assert grid.days.sum() == (end - start).days
    assert grid.n_steps == len(grid.days) == len(grid.starts) == len(grid.bounds) - 1
    np.testing.assert_array_equal(grid.starts, grid.bounds[:-1])
    np.testing.assert_allclose(grid.months_per_step.sum(), (end - start).days / DAYS_PER_MONTH,
                               rtol=1e-12)


@given(starts, month_counts)
@example(dt.date(2025, 1, 31), 13)
def test_monthly_steps_are_calendar_months_from_the_start(start, months):
    """Bound k is start + k months (not chained: a start on the 31st returns to the 31st
    in every 31-day month instead of drifting to the 28th after February)."""
    grid = build_time_grid(start, months, "month")
    assert grid.n_steps == months
    assert [_day(b) for b in grid.bounds] == [add_months(start, k) for k in range(months + 1)]
    assert np.all((grid.days >= 28) & (grid.days <= 31))


def test_a_start_on_the_31st_does_not_drift():
    grid = build_time_grid(dt.date(2025, 1, 31), 4, "month")
    assert [_day(b).isoformat() for b in grid.bounds] == [
        "2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31"]
    np.testing.assert_array_equal(grid.days, [28, 31, 30, 31])


@given(starts, st.integers(1, 6))
def test_daily_steps_are_single_days_over_the_same_horizon(start, months):
    daily = build_time_grid(start, months, "day")
    monthly = build_time_grid(start, months, "month")
    assert daily.end == monthly.end
    assert daily.n_steps == (daily.end - start).days
    assert np.all(daily.days == 1.0)
    # Every monthly bound is a daily bound.
    assert np.all(np.isin(monthly.bounds, daily.bounds))


@given(starts, month_counts, steps)
def test_years_elapsed_start_at_zero_and_count_days(start, months, step):
    grid = build_time_grid(start, months, step)
    tau = grid.years_elapsed
    assert tau[0] == 0.0 and np.all(np.diff(tau) > 0)
    np.testing.assert_allclose(tau * DAYS_PER_YEAR,
                               np.concatenate([[0.0], np.cumsum(grid.days)[:-1]]), rtol=1e-12)


# ---------------------------------------------------------------- overlaps and years


@given(starts, month_counts, steps, st.integers(-400, 2200), st.integers(0, 2200))
def test_overlap_days_is_the_part_of_the_window_inside_the_horizon(start, months, step,
                                                                   offset, length):
    grid = build_time_grid(start, months, step)
    first = start + dt.timedelta(days=offset)
    last = first + dt.timedelta(days=length)
    overlap = grid.overlap_days(first, last)
    assert np.all(overlap >= 0) and np.all(overlap <= grid.days)
    inside = max(0, (min(last, grid.end) - max(first, start)).days)
    assert overlap.sum() == inside


def test_overlap_days_of_a_window_inside_one_step():
    grid = build_time_grid(dt.date(2025, 1, 1), 3, "month")
    np.testing.assert_array_equal(grid.overlap_days(dt.date(2025, 2, 10), dt.date(2025, 2, 15)),
                                  [0, 5, 0])


@given(starts, month_counts, steps)
@example(dt.date(2025, 12, 15), 1, "month")
@example(dt.date(2024, 12, 31), 1, "day")
def test_year_weights_split_each_step_between_its_calendar_years(start, months, step):
    grid = build_time_grid(start, months, step)
    years = grid.calendar_years()
    last_day = grid.end - dt.timedelta(days=1)
    np.testing.assert_array_equal(years, np.arange(start.year, last_day.year + 1))
    weights = grid.year_weights()
    assert weights.shape == (grid.n_steps, len(years))
    assert np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)
    # Days given to each year are the horizon's days in that year.
    for column, year in enumerate(years):
        lo = max(start, dt.date(int(year), 1, 1))
        hi = min(grid.end, dt.date(int(year) + 1, 1, 1))
        assert weights[:, column] @ grid.days == pytest.approx((hi - lo).days, rel=1e-12)


def test_a_step_across_new_year_is_split_by_days():
    grid = build_time_grid(dt.date(2025, 12, 15), 1, "month")
    np.testing.assert_array_equal(grid.calendar_years(), [2025, 2026])
    np.testing.assert_allclose(grid.year_weights(), [[17 / 31, 14 / 31]], rtol=1e-15)


# ---------------------------------------------------------------- calendar limits


def test_limits_are_the_span_of_datetime64_ns():
    """Both limits survive a cast to datetime64[ns]; a day beyond either does not (NumPy
    wraps it silently, which is why horizons outside are refused)."""
    for limit, beyond in ((LAST_DATE, LAST_DATE + dt.timedelta(days=1)),
                          (FIRST_DATE, dt.date(1677, 9, 20))):
        assert _day(np.datetime64(limit, "D").astype("datetime64[ns]")) == limit
        assert _day(np.datetime64(beyond, "D").astype("datetime64[ns]")) != beyond

