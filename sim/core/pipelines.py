"""Delay pipelines: one rule, used for the wounded's recovery, training, the payment of
death compensation and the declaration of the missing as dead.

A pipeline holds a stock S. In step k it releases h_k S_k with
h_k = 1 - exp(-D_k / (d M)), and the step's inflow u_k enters at the step's end:
S_{k+1} = S_k - h_k S_k + u_k. The mean time to release is about d plus half a step.
A delay d = 0 means no pipeline: the inflow passes through in the same step. Delays are
per sample, so some samples may have a pipeline and others none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.units import DAYS_PER_MONTH


@dataclass(frozen=True, eq=False)
class Pipeline:
    """The release rates of one delay pipeline over a time grid.

    Attributes
    ----------
    hazard : list of ndarray
        h_k per step, each (n,) [1]: 1 where the delay is 0 (nothing is ever held).
    instant : ndarray of bool or None
        Samples whose delay is 0 (their inflow passes through), or None when no sample's
        delay is 0.
    all_instant : bool
        Every sample's delay is 0: no stock is ever held.
    """

    hazard: list[np.ndarray]
    instant: np.ndarray | None
    all_instant: bool

    def step(self, k: int, stock: np.ndarray, inflow: np.ndarray | float,
             next_stock: np.ndarray, released: np.ndarray) -> np.ndarray:
        """Advance the pipeline through step k.

        Parameters
        ----------
        k : int
            Step index.
        stock : ndarray, shape (n,)
            S_k.
        inflow : ndarray, shape (n,), or float
            u_k, entering at the step's end (or passing through where the delay is 0).
        next_stock : ndarray, shape (n,)
            Receives S_{k+1}.
        released : ndarray, shape (n,)
            Receives what leaves the pipeline in step k: h_k S_k, plus u_k where the
            delay is 0.

        Returns
        -------
        ndarray
            `released`.
        """
        if self.all_instant:
            released[...] = inflow
            next_stock[...] = stock
            return released
        np.multiply(self.hazard[k], stock, out=released)
        np.subtract(stock, released, out=next_stock)
        if np.ndim(inflow) == 0 and inflow == 0:  # nothing enters (the caller adds it)
            return released
        if self.instant is None:
            next_stock += inflow
            return released
        passing = np.where(self.instant, inflow, 0.0)
        released += passing
        next_stock += inflow
        next_stock -= passing
        return released


def pipeline(delay_months: np.ndarray, days: np.ndarray) -> Pipeline:
    """The pipeline of mean delay `delay_months` (n,) [month] on steps of `days` (K,) [day].

    h_k = 1 - exp(-D_k / (d M)) is computed once per distinct step length.
    """
    instant = delay_months == 0
    delay_days = np.where(instant, 1.0, delay_months) * DAYS_PER_MONTH
    cache = {}
    for d in np.unique(days):
        h = -np.expm1(-d / delay_days)
        cache[d] = np.where(instant, 1.0, h) if instant.any() else h
    return Pipeline([cache[d] for d in days], instant if instant.any() else None,
                    bool(instant.all()))
