"""Schedules (history as data): per-step values of keys written as dated entries.

A scheduled key's entries are sampled like any other prior, each under its own
parameter name (``bonus.federal_rub@2024-08-01``, see `sim.core.schema.entry_key`).
A `Schedule` says which entry is in force in each time step; the functions here turn
the sampled entries into per-step values (K, n), and amounts with a growth rate into
their grown path. A key without a schedule keeps its (n,) draw, and every function
returns what version 1 computed for it, with the same floating-point operations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sim.core.schema import entry_key
from sim.core.units import DAYS_PER_YEAR

Params = Mapping[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class Schedule:
    """When each entry of one scheduled key is in force.

    Attributes
    ----------
    entries : tuple of str
        Parameter names of the entries, in date order.
    in_force : ndarray of int, shape (K,)
        Index into `entries` of the entry in force at each step start t_k: the latest
        entry dated <= t_k.
    known_steps : int
        Steps up to the first one in which the last entry is in force (all steps when
        it never is; at least 1): for the exchange rate, the steps of the known path.
    """

    entries: tuple[str, ...]
    in_force: np.ndarray
    known_steps: int

    @property
    def first_step(self) -> np.ndarray:
        """k_j for the entry in force at each step: the first step in which that entry
        is in force, shape (K,)."""
        changes = np.flatnonzero(np.diff(self.in_force)) + 1
        starts = np.concatenate([[0], changes])
        return np.repeat(starts, np.diff(np.concatenate([starts, [len(self.in_force)]])))

    @property
    def constant(self) -> bool:
        """One entry is in force over the whole horizon."""
        return bool(np.all(self.in_force == self.in_force[0]))


Schedules = Mapping[str, Schedule]
NO_SCHEDULES: Schedules = {}


def build_schedule(key: str, dates: Sequence[dt.date], starts: np.ndarray) -> Schedule:
    """The `Schedule` of `key` with entries dated `dates` on a grid with step starts `starts`.

    Parameters
    ----------
    key : str
        The scheduled config key.
    dates : sequence of datetime.date
        The entries' dates, increasing; the first on or before the first step start.
    starts : ndarray of datetime64[D], shape (K,)
        Step start dates t_k.

    Returns
    -------
    Schedule
    """
    days = np.array(dates, dtype="datetime64[D]")
    in_force = np.searchsorted(days, starts, side="right") - 1
    if in_force[0] < 0:
        raise ValueError(f"the first entry of {key} is dated after the first step start")
    last = np.flatnonzero(in_force == len(dates) - 1)
    known = int(last[0]) + 1 if last.size else len(starts)
    return Schedule(tuple(entry_key(key, d) for d in dates), in_force, known)


def step_values(p: Params, key: str, schedules: Schedules) -> np.ndarray:
    """Value of `key` in force in each step.

    Parameters
    ----------
    p : mapping of str to ndarray, each (n,)
        Sampled parameters (a schedule's entries under their own names).
    key : str
        A config key, e.g. ``"recruitment.per_month"``.
    schedules : mapping of str to Schedule

    Returns
    -------
    ndarray
        (K, n), or the (n,) draw when one value is in force throughout (a key without a
        schedule, or a schedule with one entry in force). Not a copy in the latter case:
        callers must not write to it.
    """
    schedule = schedules.get(key)
    if schedule is None:
        return p[key]
    if schedule.constant:
        return p[schedule.entries[schedule.in_force[0]]]
    used, rows = np.unique(schedule.in_force, return_inverse=True)  # entries in force only
    stacked = np.stack([p[schedule.entries[j]] for j in used])
    return stacked[rows]


def at_step(values: np.ndarray, steps: int | slice) -> np.ndarray:
    """Step (or steps) of a per-step value: rows of a (K, n) array, or an (n,) draw (in
    force throughout) as it is."""
    return values[steps] if values.ndim == 2 else values


def log_growth(p: Params, rate_key: str, schedules: Schedules, years: np.ndarray,
               days: np.ndarray) -> np.ndarray | None:
    """G_k, the log growth from the start to step k at the rate `rate_key`.

    Parameters
    ----------
    p : mapping of str to ndarray
        Sampled parameters.
    rate_key : str
        An annual growth rate's key, e.g. ``"pay.growth"`` [1/year].
    schedules : mapping of str to Schedule
    years, days : ndarray, shape (K,)
        tau_k [year] and D_k [days].

    Returns
    -------
    ndarray, shape (K, n), or None
        G_k [1] (a new array), or None when the rate is zero throughout.

    Notes
    -----
    A constant rate g gives G_k = tau_k log(1 + g), version 1's exponent. A scheduled rate
    compounds step by step: G_k = sum over i < k of log(1 + g_i) D_i / 365.25.
    """
    rate = step_values(p, rate_key, schedules)
    if not np.any(rate):
        return None
    if rate.ndim == 1:
        return np.multiply.outer(years, np.log1p(rate))
    steps = np.log1p(rate) * (days / DAYS_PER_YEAR)[:, None]
    out = np.empty_like(steps)
    out[0] = 0.0
    np.cumsum(steps[:-1], axis=0, out=out[1:])
    return out


def grown_amount(p: Params, amount_key: str, rate_key: str, schedules: Schedules,
                 years: np.ndarray, days: np.ndarray, out: np.ndarray | None = None
                 ) -> np.ndarray:
    """An amount with a growth rate, per step: value_j exp(G_k - G_{k_j}).

    Parameters
    ----------
    p : mapping of str to ndarray
        Sampled parameters.
    amount_key, rate_key : str
        The amount (e.g. ``"pay.monthly_rub"``) and its annual growth rate.
    schedules : mapping of str to Schedule
    years, days : ndarray, shape (K,)
        tau_k [year] and D_k [days].
    out : ndarray, shape (K, n), optional
        Receives the result.

    Returns
    -------
    ndarray
        (K, n) [the amount's unit], or the (n,) draw (not a copy) when nothing grows or
        changes and no `out` is given.

    Notes
    -----
    Entry j is the one in force in step k and k_j the first step in which it is in force,
    so growth compounds from the step an entry takes effect. Without a schedule this is
    version 1's value (1 + g)^tau_k, computed the same way (growth factor, then times the
    value). `out`, when given, receives the result; without it, an amount that neither
    grows nor changes is returned as its (n,) draw.
    """
    n_steps = len(days)
    growth = log_growth(p, rate_key, schedules, years, days)
    value = step_values(p, amount_key, schedules)
    schedule = schedules.get(amount_key)
    if growth is None and out is None:
        return value
    if out is None:
        out = np.empty((n_steps, np.shape(value)[-1]))
    if growth is None:
        out[...] = value
        return out
    if schedule is not None and not schedule.constant:
        growth -= growth[schedule.first_step]
    np.exp(growth, out=out)
    out *= value
    return out
