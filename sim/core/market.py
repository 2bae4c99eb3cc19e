"""The recruitment market: what a contract pays against civilian work, and a finite pool.

Recruits in step k: r_k = min(R_k (D_k / M) m_k b_k^eps pool_k, N - Rcum_k), with
- the package V_k = B_fed,k + c_k B_reg,k + psi 12 P_k (bonuses, with the regions'
  multiplier c_k, plus psi years of pay P_k a month);
- the comparator A_k: the civilian wage (wage.monthly_rub, grown at wage.growth) when a
  [wage] section is given, else the price level P_k = exp(G_k) over prices.inflation;
- b_k = (V_k / A_k) / (V_0 / A_0), so b_0 = 1;
- pool_k = max(0, 1 - Rcum_k / N) with Rcum_k the recruits signed before step k.
With psi = 0, no [wage], no pool and c_k = 1 this is version 1's R (D_k/M) m_k
((B_k / P_k) / B_0)^eps, computed with the same operations.

Levers (`Levers`, for the break-even and cost questions of `sim.analysis`): a scale s_R on the
recruitment level (R_k becomes s_R R_k) and a scale s_B on the regional bonus (B_reg,k
becomes s_B B_reg,k at every step). The package's pull is measured against the package of
the scenario as given, V_0 at s_B = 1: recruitment R_k is what the bonus in the config buys,
so a higher regional bonus buys more recruits (with eps > 0), from the first step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.schedules import (
    Params,
    Schedules,
    at_step,
    grown_amount,
    log_growth,
    step_values,
)
from sim.core.units import DAYS_PER_MONTH


@dataclass(frozen=True)
class Levers:
    """Per-sample scales on the policy levers (None: 1, the scenario as given).

    Attributes
    ----------
    recruitment_scale : ndarray, shape (n,), or None
        s_R, on the recruitment level R_k [1].
    regional_bonus_scale : ndarray, shape (n,), or None
        s_B, on the scheduled regional bonus B_reg,k [1].
    """

    recruitment_scale: np.ndarray | None = None
    regional_bonus_scale: np.ndarray | None = None


NO_LEVERS = Levers()


@dataclass(eq=False)
class Market:
    """The recruitment market of one block of samples.

    Attributes
    ----------
    demand : ndarray, shape (K, n)
        R_k (D_k / M) m_k: recruits before the package's pull and the pool [persons].
    federal_bonus, regional_bonus : ndarray, (n,) or (K, n)
        B_fed,k and the scheduled B_reg,k (before the regions' response) [RUB].
    pay_weight_rub : ndarray (n,) or (K, n), or None
        psi 12 P_k, the package's pay part [RUB], None when psi = 0.
    log_comparator : ndarray (K, n) or None
        log(A_k / A_0), None when it is 1 throughout.
    elasticity : ndarray, shape (n,), or None
        eps, None when zero for every sample.
    pool_persons : ndarray, shape (n,), or None
        N, None without a finite pool.
    reference_package_rub : ndarray, shape (n,), or None
        V_0 of the scenario as given, when a lever scales the regional bonus; None when
        V_0 is the package of step 0.
    some_inelastic : bool
        Some samples have eps = 0 while others do not (their pull must stay 1 even for a
        package of 0).
    """

    demand: np.ndarray
    federal_bonus: np.ndarray
    regional_bonus: np.ndarray
    pay_weight_rub: np.ndarray | None
    log_comparator: np.ndarray | None
    elasticity: np.ndarray | None
    pool_persons: np.ndarray | None
    reference_package_rub: np.ndarray | None = None
    some_inelastic: bool = False

    def package_rub(self, k: int | slice, multiplier: np.ndarray | float = 1.0
                    ) -> np.ndarray:
        """V_k [RUB] for step (or steps) k, with the regions' multiplier c_k."""
        regional = at_step(self.regional_bonus, k)
        if np.ndim(multiplier) or multiplier != 1.0:
            regional = np.multiply(multiplier, regional)
        package = np.add(at_step(self.federal_bonus, k), regional)
        if self.pay_weight_rub is not None:  # not in place: pay may grow when bonuses do not
            package = package + at_step(self.pay_weight_rub, k)
        return package

    def static_recruits(self, bonus_rub: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """r_k for every step at once (no response, no pool), (K, n), in `demand`.

        `bonus_rub` is B_k = B_fed,k + B_reg,k (K, n); `scratch` a (K, n) work array.
        """
        r = self.demand
        if self.elasticity is None:
            return r
        package = bonus_rub if self.pay_weight_rub is None else np.broadcast_to(
            self.package_rub(slice(None)), bonus_rub.shape)  # (K, n), so row 0 is V_0
        reference = package[0] if self.reference_package_rub is None else (
            self.reference_package_rub)
        log_real = np.divide(package, reference, out=scratch)
        with np.errstate(divide="ignore"):  # a package cut to 0: no recruits (eps > 0)
            np.log(log_real, out=log_real)
        if self.log_comparator is not None:
            log_real -= self.log_comparator
        np.multiply(self.elasticity, log_real, out=log_real)
        self._no_pull_where_inelastic(log_real)
        r *= np.exp(log_real, out=log_real)
        return r

    def _no_pull_where_inelastic(self, log_pull: np.ndarray) -> None:
        """eps log b = 0 where eps = 0, also for a package cut to 0 (0 x -inf is NaN)."""
        if self.some_inelastic:
            np.nan_to_num(log_pull, copy=False, nan=0.0, posinf=np.inf, neginf=-np.inf)

    def recruits_row(self, k: int, multiplier: np.ndarray, package_0: np.ndarray,
                     signed_persons: np.ndarray, out: np.ndarray) -> np.ndarray:
        """r_k for step k inside the time loop (the regions' response or a pool is on).

        Parameters
        ----------
        k : int
        multiplier : ndarray, shape (n,)
            c_k, the regions' bonus multiplier.
        package_0 : ndarray, shape (n,)
            V_0.
        signed_persons : ndarray, shape (n,)
            Rcum_k, recruits signed before step k.
        out : ndarray, shape (n,)
            Receives r_k.
        """
        np.copyto(out, self.demand[k])
        if self.elasticity is not None:
            with np.errstate(divide="ignore"):  # a package cut to 0: no recruits (eps > 0)
                log_real = np.log(np.divide(self.package_rub(k, multiplier), package_0))
            if self.log_comparator is not None:
                log_real -= self.log_comparator[k]
            log_real *= self.elasticity
            self._no_pull_where_inelastic(log_real)
            out *= np.exp(log_real, out=log_real)
        if self.pool_persons is not None:
            left = np.subtract(self.pool_persons, signed_persons)
            np.maximum(left, 0.0, out=left)
            out *= left / self.pool_persons
            np.minimum(out, left, out=out)
        return out


def build_market(p: Params, schedules: Schedules, shock: np.ndarray | float,
                 days: np.ndarray, years: np.ndarray, out: np.ndarray,
                 levers: Levers = NO_LEVERS) -> Market:
    """The market of sampled parameters `p` on a grid of `days`, `years`.

    `shock` is the recruitment multiplier m_k (K, n) or 1.0; `out` (K, n) receives the
    demand R_k (D_k / M) m_k (and, in `Market.static_recruits`, the recruits); `levers`
    scale the recruitment level and the regional bonus.
    """
    months = days / DAYS_PER_MONTH
    per_month = step_values(p, "recruitment.per_month", schedules)
    if per_month.ndim == 1:
        np.multiply.outer(months, per_month, out=out)
    else:
        np.multiply(months[:, None], per_month, out=out)
    if np.ndim(shock):
        out *= shock
    if levers.recruitment_scale is not None:
        out *= levers.recruitment_scale
    eps = p["recruitment.bonus_elasticity"]
    elastic = bool(np.any(eps != 0))
    psi = p.get("recruitment.pay_weight")
    pay_weight = None
    if elastic and psi is not None and np.any(psi):
        monthly_pay = grown_amount(p, "pay.monthly_rub", "pay.growth", schedules, years, days)
        pay_weight = np.multiply(psi * 12.0, monthly_pay)
    log_comparator = None
    if elastic and ("wage.monthly_rub" in p or "wage.monthly_rub" in schedules):
        wage = grown_amount(p, "wage.monthly_rub", "wage.growth", schedules, years, days,
                            out=np.empty(out.shape))
        start = wage[0].copy()  # wage[0] is overwritten by the division below
        log_comparator = np.log(np.divide(wage, start, out=wage), out=wage)
    elif elastic:
        log_comparator = log_growth(p, "prices.inflation", schedules, years, days)
    market = Market(
        demand=out,
        federal_bonus=grown_amount(p, "bonus.federal_rub", "bonus.federal_growth", schedules,
                                   years, days),
        regional_bonus=grown_amount(p, "bonus.regional_rub", "bonus.regional_growth",
                                    schedules, years, days),
        pay_weight_rub=pay_weight,
        log_comparator=log_comparator,
        elasticity=eps if elastic else None,
        pool_persons=p.get("recruitment.pool_persons"),
        some_inelastic=elastic and bool(np.any(eps == 0)),
    )
    if levers.regional_bonus_scale is None:
        return market
    market.reference_package_rub = market.package_rub(0)  # V_0 before the lever
    market.regional_bonus = np.multiply(levers.regional_bonus_scale, market.regional_bonus)
    return market
