"""Budgets in force per step: annual amounts (and the NWF stock) from plain priors or
schedules, grown at budget.growth, kept as pieces so a budget law per year costs one draw
per year rather than a (K, n) path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.schedules import Params, Schedules, at_step, grown_amount, log_growth


def has_key(p: Params, key: str, schedules: Schedules) -> bool:
    """True when the config gives `key` (as a prior or as a schedule)."""
    return key in p or key in schedules


def budget_growth(p: Params, schedules: Schedules, years: np.ndarray, days: np.ndarray
                  ) -> np.ndarray | float:
    """exp(G_k) at the rate budget.growth.

    Parameters
    ----------
    p : mapping of str to ndarray
        Sampled parameters.
    schedules : mapping of str to Schedule
    years, days : ndarray, shape (K,)
        tau_k [year] and D_k [days].

    Returns
    -------
    ndarray (K, n) or float
        The growth factor [1], or 1.0 when the rate is zero throughout (for a constant
        rate, version 1's (1 + g)^tau_k).
    """
    log_grown = log_growth(p, "budget.growth", schedules, years, days)
    return 1.0 if log_grown is None else np.exp(log_grown, out=log_grown)


@dataclass(frozen=True)
class BudgetPath:
    """An annual budget amount (or the NWF stock) per step, kept as pieces: ``values[i]``
    applies to the steps ``steps[i]``, as (n,) when constant over them, else one row per
    step [RUB/year or RUB]. A budget law per year is one (n,) draw per year, so ratios
    over it cost one division per step and nothing is materialised as (K, n)."""

    steps: tuple[slice, ...]
    values: tuple[np.ndarray, ...]

    def scaled(self, divisor: float) -> BudgetPath:
        """The path divided by `divisor` (new arrays)."""
        return BudgetPath(self.steps, tuple(np.divide(v, divisor) for v in self.values))

    def divide(self, numerator: np.ndarray) -> np.ndarray:
        """numerator_k / budget_k, (K, n)."""
        out = np.empty(numerator.shape)
        for steps, value in zip(self.steps, self.values, strict=True):
            np.divide(numerator[steps], value, out=out[steps])
        return out

    def divided_by(self, denominator: np.ndarray) -> np.ndarray:
        """budget_k / denominator_k, (K, n)."""
        out = np.empty(denominator.shape)
        for steps, value in zip(self.steps, self.values, strict=True):
            np.divide(value, denominator[steps], out=out[steps])
        return out

    def at(self, k: int) -> np.ndarray:
        """The amount in force in step k, (n,)."""
        for steps, value in zip(self.steps, self.values, strict=True):
            if steps.start is None or steps.start <= k < steps.stop:
                return at_step(value, k - (steps.start or 0))
        raise IndexError(k)

    def weighted_sum(self, weights: np.ndarray) -> np.ndarray:
        """sum over k of weights[..., k] budget_k: (n,) for (K,) weights, (Y, n) for (Y, K)."""
        total = 0.0
        for steps, value in zip(self.steps, self.values, strict=True):
            w = weights[..., steps]
            total = total + (w @ value if value.ndim == 2 else
                             np.multiply.outer(w.sum(axis=-1), value))
        return total


def budget_path(p: Params, key: str, schedules: Schedules, grown: np.ndarray | float,
                years: np.ndarray, days: np.ndarray) -> BudgetPath:
    """An annual budget amount (or the NWF stock) in force at each step start, grown at
    budget.growth.

    Parameters
    ----------
    p : mapping of str to ndarray
        Sampled parameters.
    key : str
        A budget key, e.g. ``"budget.defense_rub"``.
    schedules : mapping of str to Schedule
    grown : ndarray (K, n) or float
        `budget_growth`'s result.
    years, days : ndarray, shape (K,)
        tau_k [year] and D_k [days].

    Returns
    -------
    BudgetPath
        [RUB/year, or RUB for the NWF]. A key without a schedule is ``p[key] * grown``, as
        in version 1; a schedule without budget growth is one piece per entry in force.
    """
    whole = (slice(None),)
    schedule = schedules.get(key)
    if schedule is None:
        return BudgetPath(whole, (np.multiply(p[key], grown),))
    if np.ndim(grown) == 0 and grown == 1.0:
        starts = np.flatnonzero(np.diff(schedule.in_force, prepend=-1))
        stops = [*starts[1:], len(schedule.in_force)]
        return BudgetPath(tuple(slice(a, b) for a, b in zip(starts, stops, strict=True)),
                          tuple(p[schedule.entries[schedule.in_force[a]]] for a in starts))
    return BudgetPath(whole, (grown_amount(p, key, "budget.growth", schedules, years, days),))
