"""Unit constants, dimension names and the attrs helper.

Every quantity in the package carries its unit in its name (``force_persons``,
``bonus_rub_per_recruit``); this module holds the few constants that convert
between calendar units and the one helper that builds a variable's attrs.
"""

from __future__ import annotations

DAYS_PER_MONTH = 30.4375
"""Mean calendar month [days] (365.25 / 12)."""

DAYS_PER_YEAR = 365.25
"""Mean calendar year [days]."""

# Dimension names, declared once.
SAMPLE = "sample"
TIME = "time"
TIME_BOUND = "time_bound"
YEAR = "year"
PAYER = "payer"
ITEM = "item"

# Unit strings used in attrs and in claims.
PERSONS = "persons"
RUB = "RUB"
USD = "USD"
FRACTION = "1"


def per_day(unit: str) -> str:
    """Return the per-day form of a unit, e.g. ``"RUB"`` -> ``"RUB/day"``."""
    return f"{unit}/day"


def attrs(units: str, long_name: str, description: str) -> dict[str, str]:
    """Build the attrs every output variable carries.

    Parameters
    ----------
    units : str
        Unit string, e.g. ``"persons"`` or ``"USD/day"``; ``"1"`` for fractions.
    long_name : str
        Short human-readable name, used as an axis label.
    description : str
        One or two sentences saying what the quantity is and how it is computed.

    Returns
    -------
    dict
        ``{"units": ..., "long_name": ..., "description": ...}``.
    """
    return {"units": units, "long_name": long_name, "description": description}
