"""The regions' response: regional bonuses cut when the bill strains regional budgets.

Stress in step k is the regions' manpower spend (their bonuses and compensation paid in the
step), annualised, over regional revenue in force:
sigma_k = (S_reg,k / D_k x 365.25) / revenue_k. The multiplier cR_0 = 1 (cR, since c_k
are the casualties elsewhere) and, after each step, with f_k = min(1, floor / B_reg,k)
(1 where B_reg,k = 0):
cR_{k+1} = max(f_{k+1}, cR_k (1 - zeta)^(D_k / M))             if sigma_k > theta,
cR_{k+1} = max(f_{k+1}, min(1, cR_k (1 + eta)^(D_k / M)))      otherwise.
The regional bonus paid is cR_k B_reg,k: never below the floor, nor above the scheduled bonus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.schedules import at_step
from sim.core.units import DAYS_PER_MONTH, DAYS_PER_YEAR


@dataclass(eq=False)
class RegionalResponse:
    """The response rule of one block of samples, and its record.

    Attributes
    ----------
    threshold : ndarray, shape (n,)
        theta [1].
    cut_factor, recovery_factor : list of ndarray
        (1 - zeta)^(D_k / M) and (1 + eta)^(D_k / M) per step, each (n,) [1].
    floor_share : ndarray, shape (K, n) or (n,)
        f_k = min(1, floor / B_reg,k), 1 where B_reg,k = 0 [1].
    revenue_per_day_rub : callable
        ``revenue_per_day_rub(k)``: regional revenue in force in step k over 365.25, (n,).
    multiplier : ndarray, shape (K, n)
        c_k (filled as the loop runs).
    stress : ndarray, shape (K, n)
        sigma_k (filled as the loop runs).
    """

    threshold: np.ndarray
    cut_factor: list[np.ndarray]
    recovery_factor: list[np.ndarray]
    floor_share: np.ndarray
    revenue_per_day_rub: object
    multiplier: np.ndarray
    stress: np.ndarray

    def update(self, k: int, regional_spend_rub: np.ndarray, days: float) -> None:
        """Record sigma_k from the regions' spend in step k [RUB] and set c_{k+1}."""
        stress = self.stress[k]
        np.divide(regional_spend_rub, days, out=stress)
        stress /= self.revenue_per_day_rub(k)
        if k + 1 == len(self.multiplier):
            return
        c, following = self.multiplier[k], self.multiplier[k + 1]
        cut = np.multiply(c, self.cut_factor[k])
        recovered = np.multiply(c, self.recovery_factor[k])
        np.minimum(recovered, 1.0, out=recovered)
        np.copyto(following, np.where(stress > self.threshold, cut, recovered))
        np.maximum(following, at_step(self.floor_share, k + 1), out=following)

    def first_cut_days(self, starts_days: np.ndarray) -> np.ndarray:
        """Days from the start to the first step with c_k < 1 (NaN if none), (n,)."""
        return _first_days(self.multiplier < 1.0, starts_days)

    def first_stress_days(self, starts_days: np.ndarray) -> np.ndarray:
        """Days from the start to the first step with sigma_k > theta (NaN if none), (n,).

        The regions cut from the next step on (unless their bonus is at the floor)."""
        return _first_days(self.stress > self.threshold, starts_days)

    def months_cutting(self, days: np.ndarray) -> np.ndarray:
        """Mean months of the steps with c_k < 1, (n,)."""
        return (self.multiplier < 1.0).T @ (days / DAYS_PER_MONTH)


def _first_days(happens: np.ndarray, starts_days: np.ndarray) -> np.ndarray:
    """Start [days] of the first step where `happens` (K, n) is true, NaN if never, (n,)."""
    first = np.argmax(happens, axis=0)
    days = starts_days[first].astype(np.float64)
    days[~happens.any(axis=0)] = np.nan
    return days


def build_response(threshold: np.ndarray, cut_per_month: np.ndarray,
                   recovery_per_month: np.ndarray, floor_rub: np.ndarray,
                   regional_bonus_rub: np.ndarray, revenue_rub_per_year,
                   days: np.ndarray) -> RegionalResponse:
    """The rule for these parameters on steps of `days`.

    Parameters
    ----------
    threshold, cut_per_month, recovery_per_month, floor_rub : ndarray, shape (n,)
        theta [1], zeta [1/month], eta [1/month], the floor [RUB].
    regional_bonus_rub : ndarray, (K, n) or (n,)
        B_reg,k, the scheduled regional bonus [RUB].
    revenue_rub_per_year : callable
        ``revenue_rub_per_year(k)``: regional revenue in force in step k [RUB/year], (n,).
    days : ndarray, shape (K,)
        D_k [days].
    """
    n_steps, n = len(days), len(threshold)
    cut, recovery = {}, {}
    for d in np.unique(days):
        cut[d] = np.power(1.0 - cut_per_month, d / DAYS_PER_MONTH)
        recovery[d] = np.power(1.0 + recovery_per_month, d / DAYS_PER_MONTH)
    with np.errstate(divide="ignore", invalid="ignore"):
        floor_share = np.where(regional_bonus_rub > 0,
                               np.minimum(1.0, floor_rub / regional_bonus_rub), 1.0)
    multiplier = np.empty((n_steps, n))
    multiplier[0] = 1.0
    return RegionalResponse(
        threshold=threshold,
        cut_factor=[cut[d] for d in days],
        recovery_factor=[recovery[d] for d in days],
        floor_share=floor_share,
        revenue_per_day_rub=lambda k: revenue_rub_per_year(k) / DAYS_PER_YEAR,
        multiplier=multiplier,
        stress=np.empty((n_steps, n)),
    )
