"""sim.core.units: calendar constants, unit strings, dimension names and the attrs helper."""

from __future__ import annotations

import calendar

import pytest

from sim.core import units
from sim.core.units import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    FRACTION,
    PERSONS,
    RUB,
    USD,
    attrs,
    per_day,
)
from sim.core.variables import VARIABLES


def test_mean_year_and_month_are_those_of_the_four_year_leap_cycle():
    """365.25 and 365.25 / 12: the mean over 1901-2099, where every fourth year leaps."""
    years = range(1901, 2100 - 3, 4)  # whole cycles
    for first in years:
        cycle = range(first, first + 4)
        days = sum(366 if calendar.isleap(y) else 365 for y in cycle)
        assert days / 4 == DAYS_PER_YEAR
        month_days = sum(calendar.monthrange(y, m)[1] for y in cycle for m in range(1, 13))
        assert month_days / 48 == DAYS_PER_MONTH
    assert DAYS_PER_MONTH * 12 == DAYS_PER_YEAR  # exactly, in binary floating point


def test_dimension_names_are_distinct_strings():
    names = [units.SAMPLE, units.TIME, units.TIME_BOUND, units.YEAR]
    assert all(isinstance(n, str) and n.isidentifier() for n in names)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("unit", [PERSONS, RUB, USD, "RUB/person"])
def test_per_day_appends_the_day_denominator(unit):
    assert per_day(unit) == f"{unit}/day"


def test_attrs_holds_exactly_the_three_fields():
    first = attrs("USD/day", "daily spend", "Spend per day.")
    assert first == {"units": "USD/day", "long_name": "daily spend",
                     "description": "Spend per day."}
    second = attrs("USD/day", "daily spend", "Spend per day.")
    second["units"] = "RUB"
    assert first["units"] == "USD/day"  # a fresh dict each call, not a shared one


UNIT_IN_NAME = {PERSONS: "persons", RUB: "rub", USD: "usd", FRACTION: "share"}
SPEC_WORDS = {FRACTION: ("share", "multiplier", "stress")}
"""Dimensionless outputs whose names the model's specification fixes (the regions'
bonus multiplier and stress) say what they are rather than "share"."""


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_every_output_variable_carries_its_unit_in_its_name(name):
    """The module's rule: a quantity's unit is in its name (force_persons, *_rub_per_day)."""
    unit = VARIABLES[name].units
    assert VARIABLES[name].attrs["units"] == unit
    if unit.endswith("/day"):
        assert "_per_day" in name, (name, unit)
        unit = unit.removesuffix("/day")
    if name.endswith("_date"):  # a date, in days after time.start (attrs reference_date)
        assert unit == "day", (name, unit)
        return
    numerator = unit.split("/")[0]
    words = SPEC_WORDS.get(numerator, (UNIT_IN_NAME.get(numerator, numerator.lower()),))
    assert any(word in name for word in words), (name, VARIABLES[name].units)
