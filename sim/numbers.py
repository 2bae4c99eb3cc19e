"""One number format for everything people read: the CLI, the HTML report, figure ticks
and CSV headers.

- Amounts get a scale suffix and three significant digits: ``611k``, ``20.8M``,
  ``604bn``, ``1.03trn`` (trailing zeros dropped: ``24M``); never scientific notation.
- Shares (units ``"1"``) are percentages: ``8.1%``, ``0.53%``.
- Lengths in months keep one decimal (``3.0``): a step's length in mean months is not a
  whole number (February is 0.92 of a mean month).
- Dates are ISO (``2025-06-19``).
- Sizes in bytes use binary prefixes (``2.3 GiB``), never ``0.0 GiB``.
- Units are shown as people write them: ``"1"`` becomes ``%``, ``USD/day`` stays.

Machine-readable outputs (CSV) keep full-precision numbers in their own columns, with a
``units`` column; this module only formats what people read.
"""

from __future__ import annotations

import math
import re

import numpy as np

SCALES = ((1e12, "trn"), (1e9, "bn"), (1e6, "M"), (1e3, "k"))
_SUFFIX_SCALE = {suffix: scale for scale, suffix in SCALES}
SHARE_UNITS = ("1", "fraction", "share")
MONTH_UNITS = ("month", "months")


def _significant(x: float, digits: int) -> str:
    """``x`` in positional notation rounded to ``digits`` significant digits, trailing
    zeros dropped (``24``, ``20.8``, ``0.0045``)."""
    return np.format_float_positional(x, precision=digits, unique=False, fractional=False,
                                      trim="-")


def human(x: float, digits: int = 3) -> str:
    """A number with a readable scale suffix: ``1.23k``, ``4.56M``, ``7.89bn``, ``1.2trn``.

    Parameters
    ----------
    x : float
    digits : int, default 3
        Significant digits.

    Returns
    -------
    str
        Never in scientific notation; ``"n/a"`` for NaN, ``"inf"``/``"-inf"``.
    """
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    ax = abs(x)
    for scale, suffix in SCALES:
        # the rounded value decides the suffix: 999,999 shows as 1M, not 1000k
        if float(_significant(ax, digits)) >= scale:
            return _significant(x / scale, digits) + suffix
    if ax == 0:
        return "0"
    return _significant(x, digits)


def parse_human(text: str) -> float:
    """The number a `human` string stands for (``"1.03trn"`` -> 1.03e12), for tests and
    for reading tables back.

    Parameters
    ----------
    text : str

    Returns
    -------
    float
    """
    text = text.strip()
    if text in ("n/a", "nan"):
        return math.nan
    match = re.fullmatch(r"(-?[0-9.]+|-?inf)(trn|bn|M|k)?", text)
    if match is None:
        raise ValueError(f"not a human-formatted number: {text!r}")
    value = float(match.group(1))
    return value * _SUFFIX_SCALE.get(match.group(2), 1.0)


def percent(x: float) -> str:
    """A share as a percentage: one decimal from 1% up (``8.1%``), two significant digits
    below (``0.53%``), ``0%`` for zero.

    Parameters
    ----------
    x : float
        The share (0.081 for 8.1%).

    Returns
    -------
    str
    """
    x = float(x)
    if math.isnan(x):
        return "n/a"
    value = 100 * x
    if value == 0:
        return "0%"
    if abs(value) >= 1:
        return f"{value:.1f}%"
    return _significant(value, 2) + "%"


def months(x: float) -> str:
    """A length in months with one decimal: ``3.0``, ``11.4``."""
    x = float(x)
    return "n/a" if math.isnan(x) else f"{x:.1f}"


def is_share(units: str) -> bool:
    """Whether ``units`` marks a share (dimensionless ratio shown in %)."""
    return str(units).strip() in SHARE_UNITS


PERCENT_NAME_PARTS = ("share", "stress", "threshold", "_rate", "growth", "inflation", "drift",
                      "volatility")
"""A dimensionless quantity whose name holds one of these reads as a percentage; other
dimensionless quantities (an elasticity, a persistence, a multiplier, a scale) are plain
numbers."""


def reads_as_percent(name: str, units: str) -> bool:
    """Whether a named quantity reads as a percentage: a rate (units ``1/month``,
    ``1/year``) or a dimensionless quantity named as a share (`PERCENT_NAME_PARTS`).

    Parameters
    ----------
    name : str
        The quantity's name (``bonus_share_of_defense_horizon``, ``losses.killed_share``,
        ``bonus.regional_rub@2025-01-01``, ``share of federal spending``).
    units : str
        Its units attribute.

    Returns
    -------
    bool
    """
    units = str(units).strip()
    if units.startswith("1/"):
        return True
    base = str(name).split("@")[0].lower()
    return is_share(units) and any(part in base for part in PERCENT_NAME_PARTS)


def value_text(x, units: str = "", name: str = "") -> str:
    """One named value for a table or a figure whose units are shown beside it:
    percentages for shares and rates (`reads_as_percent`), one decimal for months,
    k/M/bn/trn otherwise; ``n/a`` for a missing value, text passed through.

    Parameters
    ----------
    x : float, str or None
    units : str
    name : str
        The quantity's name, which tells a share from another dimensionless number.

    Returns
    -------
    str
        Never in scientific notation.
    """
    if x is None or isinstance(x, str):
        return "" if x is None else x
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if reads_as_percent(name, units):
        return percent(x)
    if str(units).strip() in MONTH_UNITS:
        return months(x)
    return human(x)


def format_value(x: float, units: str = "") -> str:
    """A value for a table whose units are shown elsewhere (a column or a header).

    Parameters
    ----------
    x : float
    units : str
        The variable's units attribute: shares (``"1"``) become percentages, months keep
        one decimal, everything else gets a scale suffix.

    Returns
    -------
    str
    """
    if is_share(units):
        return percent(x)
    if str(units).strip() in MONTH_UNITS:
        return months(x)
    return human(x)


def unit_label(units: str) -> str:
    """Units as people read them: ``"1"`` -> ``"%"``, everything else unchanged."""
    return "%" if is_share(units) else str(units)


def with_unit(x: float, units: str = "") -> str:
    """A value with its units: ``"611k persons"``, ``"$20.8M/day"``, ``"604bn RUB"``,
    ``"8.1%"``, ``"3.0 months"``.

    Parameters
    ----------
    x : float
    units : str

    Returns
    -------
    str
    """
    units = str(units).strip()
    if math.isnan(float(x)):
        return "n/a"
    if is_share(units):
        return percent(x)
    if units in MONTH_UNITS:
        return f"{months(x)} months"
    if units.startswith("USD"):
        text = human(x)
        sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
        return f"{sign}${text}{units[3:]}"
    return f"{human(x)} {units}" if units else human(x)


def probability(p: float) -> str:
    """A probability as a percentage with one decimal: ``23.7%``, ``<0.1%``, ``>99.9%``."""
    p = float(p)
    if math.isnan(p):
        return "n/a"
    if 0 < p < 0.0005:
        return "<0.1%"
    if 0.9995 < p < 1:
        return ">99.9%"
    return f"{100 * p:.1f}%"


def percentage_points(x: float) -> str:
    """A difference of probabilities (a standard error) in percentage points, two
    significant digits: ``0.30 pp``."""
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if x == 0:
        return "0 pp"
    return (f"{100 * x:#.2g}".rstrip(".") if abs(100 * x) >= 0.01
            else _significant(100 * x, 2)) + " pp"


def iso_date(value) -> str:
    """A date as ``YYYY-MM-DD`` (numpy datetime64, pandas Timestamp, date or string)."""
    return str(np.datetime64(value, "D"))


def byte_size(n_bytes: float) -> str:
    """A size in bytes as people read it, with one decimal and never "0.0": ``2.3 GiB``,
    ``12.0 MiB``, ``0.5 KiB``, ``12 B``.

    Parameters
    ----------
    n_bytes : float

    Returns
    -------
    str
    """
    n_bytes = float(n_bytes)
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n_bytes) >= size:
            return f"{n_bytes / size:,.1f} {unit}"
    return f"{n_bytes:,.0f} B"
