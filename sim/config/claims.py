"""Claims as linear functionals of one output variable over time (pure NumPy).

A claim's simulated value in each sample is ``weights @ variable``, with the
variable time-major (T, n): a flow spread evenly over each step's days and summed
over a window, its per-day average, or a stock interpolated between step bounds.
"""

from __future__ import annotations

import numpy as np

from sim.config.scenario import Claim
from sim.core.schema import CLAIM_QUANTITIES, ITEMS, PAYERS
from sim.core.timegrid import TimeGrid
from sim.core.variables import VARIABLES


def claim_weights(grid: TimeGrid, claim: Claim) -> tuple[str, np.ndarray]:
    """The variable a claim is about and its weights over that variable's time axis.

    Returns
    -------
    variable : str
        Output variable name.
    weights : ndarray, shape (K,) or (K + 1,), or (K, payers, items)
        ``value = weights @ variable`` (summed over every axis but the samples'); a
        ledger claim weighs its payer and item only.

    Notes
    -----
    Flows: w_k = overlap_k / D_k on a per-step total, or overlap_k on a per-day
    rate (``bonus_spend_usd_per_day`` for USD), over the window [start, end);
    ``per_day`` divides by the window's days; a ``spend_rub`` claim weighs the ledger
    entries it names (all, when it names no payer or item). Stocks: linear
    interpolation in time between the two step bounds around the date. Levels (the
    bonus per recruit): the step holding the date.
    """
    variable, kind, _ = CLAIM_QUANTITIES[claim.quantity]
    if kind in ("stock", "level"):
        target = np.datetime64(claim.date, "D")
        j = min(int(np.searchsorted(grid.bounds, target, side="right")) - 1, grid.n_steps - 1)
        if kind == "level":  # the level of the step holding the date
            weights = np.zeros(grid.n_steps)
            weights[j] = 1.0
            return variable, weights
        fraction = float((target - grid.bounds[j]).astype(np.float64)) / grid.days[j]
        weights = np.zeros(grid.n_steps + 1)
        weights[j], weights[j + 1] = 1.0 - fraction, fraction
        return variable, weights
    overlap = grid.overlap_days(claim.start, claim.end)
    if f"{variable}_per_day" in VARIABLES:
        variable, weights = f"{variable}_per_day", overlap
    else:
        weights = overlap / grid.days
    if claim.statistic == "per_day":
        weights = weights / overlap.sum()
    if claim.quantity == "spend_rub":  # ledger entries of spend_rub (K, payer, item, n)
        payers = [claim.payer] if claim.payer else list(PAYERS)
        items = [claim.item] if claim.item else list(ITEMS)
        ledger = np.zeros((len(weights), len(PAYERS), len(ITEMS)))
        for payer in payers:
            for item in items:
                ledger[:, PAYERS.index(payer), ITEMS.index(item)] = weights
        weights = ledger
    return variable, weights


def claim_values(outputs: dict[str, np.ndarray], weighted: list[tuple[str, np.ndarray]]
                 ) -> np.ndarray:
    """Every claim's value in every sample, shape (C, n), from time-major outputs."""
    n = next(iter(outputs.values())).shape[-1]
    values = np.empty((len(weighted), n))
    for i, (variable, weights) in enumerate(weighted):
        if weights.ndim == 1:
            values[i] = weights @ outputs[variable]
            continue
        # A ledger claim: each (payer, item) entry it weighs, as a (K,) @ (K, n) product
        # like every other claim (a product over all axes at once would sum in an order
        # that depends on the chunk's size, and chunking must change no number).
        values[i] = 0.0
        for p, item in zip(*np.nonzero(np.any(weights != 0, axis=0)), strict=True):
            values[i] += weights[:, p, item] @ outputs[variable][:, p, item]
    return values
