"""The number format people read (sim.numbers): scale suffixes, percentages, months, bytes,
round trips, and no scientific notation at any magnitude."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import numbers

EXPONENT = re.compile(r"\d[eE][+-]?\d")
finite = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False)
units = st.sampled_from(["persons", "RUB", "USD/day", "RUB/day", "persons/month", "1",
                         "month", "RUB/person", ""])


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (3, "3"), (1.5, "1.5"), (611_400, "611k"), (-113_000, "-113k"),
    (2.4e7, "24M"), (20_812_000, "20.8M"), (6.04e11, "604bn"), (1.026e12, "1.03trn"),
    (999.9, "1k"), (999_999, "1M"), (0.0452, "0.0452"), (1.23e-5, "0.0000123"),
    (math.nan, "n/a"), (math.inf, "inf"),
])
def test_human_examples(value, text):
    assert numbers.human(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (0.081, "8.1%"), (0.0053, "0.53%"), (0, "0%"), (1, "100.0%"), (-0.02, "-2.0%")])
def test_percent_examples(value, text):
    assert numbers.percent(value) == text


@pytest.mark.parametrize(("value", "units", "text"), [
    (611_400, "persons", "611k persons"), (20_812_000, "USD/day", "$20.8M/day"),
    (-1.5e6, "USD", "-$1.5M"), (6.04e11, "RUB", "604bn RUB"), (0.081, "1", "8.1%"),
    (2.99, "month", "3.0 months"), (math.nan, "USD/day", "n/a")])
def test_with_unit_examples(value, units, text):
    assert numbers.with_unit(value, units) == text


def test_probabilities_and_standard_errors():
    assert numbers.probability(0.237) == "23.7%"
    assert numbers.probability(1e-5) == "<0.1%"
    assert numbers.probability(0.99999) == ">99.9%"
    assert numbers.probability(0) == "0.0%"
    assert numbers.percentage_points(0.003) == "0.30 pp"
    assert numbers.percentage_points(0.0125) == "1.2 pp"
    assert numbers.percentage_points(0) == "0 pp"


def test_units_dates_and_bytes():
    assert numbers.unit_label("1") == "%"
    assert numbers.unit_label("USD/day") == "USD/day"
    assert numbers.iso_date(np.datetime64("2025-06-19T12:00")) == "2025-06-19"
    assert numbers.iso_date(pd.Timestamp("2026-12-31")) == "2026-12-31"
    assert numbers.byte_size(2**20) == "1.0 MiB"
    assert numbers.byte_size(12) == "12 B"
    assert numbers.byte_size(3 * 2**30) == "3.0 GiB"


@given(finite)
def test_human_round_trips_to_three_significant_digits(x):
    text = numbers.human(x)
    assert not EXPONENT.search(text), text
    back = numbers.parse_human(text)
    # three significant digits: the relative error is at most half a unit in the third digit
    assert back == pytest.approx(x, rel=5e-3, abs=1e-300), (x, text)


@given(finite, units)
def test_format_value_never_uses_scientific_notation(x, unit):
    for text in (numbers.format_value(x, unit), numbers.with_unit(x, unit)):
        assert not EXPONENT.search(text), (x, unit, text)


@given(st.floats(min_value=-10, max_value=10, allow_nan=False))
def test_percent_round_trips(x):
    text = numbers.percent(x)
    assert text.endswith("%") and not EXPONENT.search(text)
    # one decimal from 1% up, two significant digits below
    tolerance = 0.05 if abs(100 * x) >= 1 else max(abs(100 * x) * 0.05, 1e-300)
    assert float(text[:-1]) == pytest.approx(100 * x, abs=tolerance)


@given(st.floats(min_value=0, max_value=1e15), st.floats(min_value=0, max_value=1e15))
def test_human_is_monotone_after_rounding(a, b):
    low, high = sorted((a, b))
    assert numbers.parse_human(numbers.human(low)) <= numbers.parse_human(numbers.human(high))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(finite, min_size=1, max_size=20))
def test_report_csv_columns_hold_numbers_that_round_trip(tmp_path, values):
    """What the report's CSV writer stores is the float itself, and it reads back bit for
    bit (the human format is for people only)."""
    from sim.report.html import write_csv

    path = tmp_path / "table.csv"
    write_csv(pd.DataFrame({"quantity": "x", "units": "RUB", "p50": values}), path)
    back = pd.read_csv(path)
    assert back.columns.tolist() == ["quantity", "units", "p50"]
    assert back["p50"].dtype == np.float64
    np.testing.assert_array_equal(back["p50"].to_numpy(), np.asarray(values, float))


def test_parse_human_refuses_what_is_not_a_number():
    with pytest.raises(ValueError, match="not a human-formatted number"):
        numbers.parse_human("12 apples")
