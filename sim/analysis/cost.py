"""What one more soldier at the front costs: average and marginal cost per net soldier.

Per sample and payer (federal, regional, and both together), with C the manpower spend over
the horizon (signing bonuses, pay and compensation: the ledger summed over items and
steps), Delta F = F_K - F_0 the net additions to the deployed force and
Y = sum_k F_k D_k / 365.25 the soldier-years served at the front:

- average cost per net soldier  C / Delta F (NaN where the force did not grow), and per
  soldier-year C / Y;
- marginal cost per soldier     (C(1 + h) - C(1 - h)) / (F_K(1 + h) - F_K(1 - h)), the
  extra spend of one more deployed soldier at the horizon, from a small perturbation h of
  the lever (the regional bonus, or the recruitment level) with common random numbers;
  per extra soldier-year, the same over Y(1 + h) - Y(1 - h). NaN where the lever moves no
  soldier (the bonus with zero elasticity).

USD figures divide each step's spend by that step's exchange rate.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sim.analysis.levers import LEVERS, LeverRuns, check_lever
from sim.config.scenario import Scenario
from sim.core.schema import PAYERS
from sim.core.units import DAYS_PER_YEAR
from sim.errors import ParameterError
from sim.priors.sampling import root_seed
from sim.run.dataset import provenance
from sim.run.inputs import iter_inputs

COST_PAYERS = (*PAYERS, "total")
"""The ``payer`` coordinate of cost results: each payer, then both together."""

MEASURES = {
    "average_cost_rub_per_net_soldier": ("RUB", "average cost per net soldier added",
                                         "Manpower spend over the horizon over F_K - F_0; "
                                         "NaN where the force did not grow."),
    "average_cost_usd_per_net_soldier": ("USD", "average cost per net soldier added",
                                         "As the RUB figure, each step's spend at its "
                                         "exchange rate."),
    "average_cost_rub_per_soldier_year": ("RUB", "average cost per soldier-year at the front",
                                          "Manpower spend over the horizon over the "
                                          "soldier-years served by the deployed force."),
    "average_cost_usd_per_soldier_year": ("USD", "average cost per soldier-year at the front",
                                          "As the RUB figure, each step's spend at its "
                                          "exchange rate."),
    "marginal_cost_rub_per_soldier": ("RUB", "marginal cost per extra deployed soldier",
                                      "Extra manpower spend over the extra deployed force at "
                                      "the horizon, from a small lever perturbation (central "
                                      "difference, common random numbers); NaN where the "
                                      "lever moves no soldier."),
    "marginal_cost_usd_per_soldier": ("USD", "marginal cost per extra deployed soldier",
                                      "As the RUB figure, each step's spend at its exchange "
                                      "rate."),
    "marginal_cost_rub_per_soldier_year": ("RUB", "marginal cost per extra soldier-year",
                                           "Extra manpower spend over the extra soldier-years "
                                           "served at the front."),
    "marginal_cost_usd_per_soldier_year": ("USD", "marginal cost per extra soldier-year",
                                           "As the RUB figure, each step's spend at its "
                                           "exchange rate."),
}
"""Output name -> (units, long name, description)."""


def horizon_costs(spend_rub: np.ndarray, rub_per_usd: np.ndarray, force: np.ndarray,
                  days: np.ndarray) -> dict[str, np.ndarray]:
    """A run's spend over the horizon by payer, and its force totals.

    Parameters
    ----------
    spend_rub : ndarray, shape (K, 2, 3, n)
        The ledger [RUB per step] (`PAYERS` x items).
    rub_per_usd : ndarray, shape (K, n)
        X_k [RUB/USD].
    force : ndarray, shape (K + 1, n)
        F_k [persons].
    days : ndarray, shape (K,)
        D_k [days].

    Returns
    -------
    dict of ndarray
        ``rub``, ``usd``: spend (3, n) by `COST_PAYERS` [RUB], [USD]; ``force_change``
        F_K - F_0 and ``force_end`` F_K (n,) [persons]; ``soldier_years``
        sum_k F_k D_k / 365.25 (n,) [year].
    """
    by_payer = spend_rub.sum(axis=2)  # (K, 2, n)
    rub = by_payer.sum(axis=0)
    usd = (by_payer / rub_per_usd[:, None, :]).sum(axis=0)
    return {
        "rub": np.concatenate([rub, rub.sum(axis=0, keepdims=True)]),
        "usd": np.concatenate([usd, usd.sum(axis=0, keepdims=True)]),
        "force_change": force[-1] - force[0],
        "force_end": force[-1],
        "soldier_years": (days / DAYS_PER_YEAR) @ force[:-1],
    }


def _ratio(numerator: np.ndarray, denominator: np.ndarray, where: np.ndarray) -> np.ndarray:
    """numerator / denominator (3, n) / (n,) where `where`, NaN elsewhere."""
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=where)
    return out


def average_costs(costs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Average cost per net soldier and per soldier-year, (3, n) each, from `horizon_costs`."""
    grew = costs["force_change"] > 0
    served = costs["soldier_years"] > 0
    return {
        f"average_cost_{currency}_per_net_soldier": _ratio(costs[currency],
                                                           costs["force_change"], grew)
        for currency in ("rub", "usd")
    } | {
        f"average_cost_{currency}_per_soldier_year": _ratio(costs[currency],
                                                            costs["soldier_years"], served)
        for currency in ("rub", "usd")
    }


def marginal_costs(down: dict[str, np.ndarray], up: dict[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
    """Marginal cost per extra soldier and soldier-year, (3, n) each, from the
    `horizon_costs` of runs with the lever at 1 - h (`down`) and 1 + h (`up`)."""
    extra_force = up["force_change"] - down["force_change"]
    extra_years = up["soldier_years"] - down["soldier_years"]
    # a lever that moves no soldier (zero elasticity) leaves rounding noise at most
    moved = np.abs(extra_force) > 1e-9 * np.maximum(up["force_end"], 1.0)
    served = np.abs(extra_years) > 1e-12 * np.maximum(up["soldier_years"], 1.0)
    out = {}
    for currency in ("rub", "usd"):
        extra = up[currency] - down[currency]
        out[f"marginal_cost_{currency}_per_soldier"] = _ratio(extra, extra_force, moved)
        out[f"marginal_cost_{currency}_per_soldier_year"] = _ratio(extra, extra_years, served)
    return out


def cost_per_soldier(scenario: Scenario, *, lever: str = "bonus", relative_step: float = 0.01,
                     samples: int | None = None, seed: int | None = None,
                     chunk_samples: int | None = None) -> xr.Dataset:
    """Average and marginal cost per net soldier, by payer, in RUB and USD.

    Parameters
    ----------
    scenario : Scenario
        From `sim.load_scenario`.
    lever : {"bonus", "recruitment"}
        What is perturbed for the marginal cost: the regional bonus (more recruits only
        through ``recruitment.bonus_elasticity``), or the recruitment level (one more
        recruit at today's bonus).
    relative_step : float
        h, the perturbation: the lever at 1 - h and 1 + h (0 < h <= 0.5).
    samples, seed : int, optional
        Default ``[run] samples`` and ``seed``; sample i is sample i of `sim.simulate`.
    chunk_samples : int, optional
        Samples computed at once (memory); results do not depend on it.

    Returns
    -------
    xarray.Dataset
        Dims ``sample``, ``payer`` (federal, regional, total). Variables (sample, payer):

        - ``average_cost_rub_per_net_soldier``, ``average_cost_usd_per_net_soldier``
          [RUB, USD per soldier]: manpower spend over the horizon / (F_K - F_0), NaN where
          the force did not grow;
        - ``average_cost_rub_per_soldier_year``, ``average_cost_usd_per_soldier_year``
          [RUB, USD per soldier-year]: spend / soldier-years served at the front;
        - ``marginal_cost_rub_per_soldier``, ``marginal_cost_usd_per_soldier`` [RUB, USD
          per soldier]: extra spend / extra deployed force at the horizon for a lever
          step of +-h, NaN where the lever moves no soldier;
        - ``marginal_cost_rub_per_soldier_year``, ``marginal_cost_usd_per_soldier_year``
          [RUB, USD per soldier-year].

        Per sample: ``force_change_persons`` [persons] and ``soldier_years`` [year] at
        today's level. Attrs: the run's provenance, ``analysis = "cost_per_soldier"``,
        ``lever``, ``lever_quantity``, ``relative_step``.
    """
    check_lever(scenario, lever)
    if not (np.isfinite(relative_step) and 0.0 < relative_step <= 0.5):
        raise ParameterError("relative_step", f"expected a number in (0, 0.5], got "
                             f"{relative_step!r}")
    scenario = scenario.with_run(samples=samples, seed=seed)
    root = root_seed(scenario.seed)
    days = scenario.grid.days
    parts = []
    for _, p, noise in iter_inputs(scenario, root, chunk_samples):
        runs = LeverRuns(scenario, p, noise, lever)
        n = runs.samples

        def costs(scale: float, runs=runs, n=n) -> dict[str, np.ndarray]:
            out = runs.run(np.full(n, scale))
            return horizon_costs(out["spend_rub"], out["rub_per_usd"], out["force"], days)

        today = costs(1.0)
        part = average_costs(today) | marginal_costs(costs(1.0 - relative_step),
                                                     costs(1.0 + relative_step))
        part["force_change_persons"] = today["force_change"]
        part["soldier_years"] = today["soldier_years"]
        parts.append(part)
    joined = {name: np.concatenate([part[name] for part in parts], axis=-1)
              for name in parts[0]}
    ds = cost_dataset(joined, scenario.samples)
    ds.attrs.update(provenance(scenario, root, "cost"))
    ds.attrs.update(analysis="cost_per_soldier", lever=lever,
                    lever_quantity=LEVERS[lever][1], relative_step=relative_step)
    return ds


def cost_dataset(values: dict[str, np.ndarray], samples: int) -> xr.Dataset:
    """Label cost measures (3, n) and per-sample totals (n,) as a Dataset."""
    data = {name: (("payer", "sample"), values[name],
                   {"units": units, "long_name": long_name, "description": description})
            for name, (units, long_name, description) in MEASURES.items() if name in values}
    if "force_change_persons" in values:
        data["force_change_persons"] = ("sample", values["force_change_persons"], {
            "units": "persons", "long_name": "force change over the horizon",
            "description": "F_K - F_0 at today's level."})
    if "soldier_years" in values:
        data["soldier_years"] = ("sample", values["soldier_years"], {
            "units": "year", "long_name": "soldier-years at the front",
            "description": "sum_k F_k D_k / 365.25: years served by the deployed force."})
    coords = {"sample": ("sample", np.arange(samples)),
              "payer": ("payer", list(COST_PAYERS),
                        {"long_name": "payer", "description": "Who pays: the federal budget, "
                         "the regional budgets, or both together (total)."})}
    return xr.Dataset(data, coords=coords).transpose("sample", "payer")


def average_cost(ds: xr.Dataset) -> xr.Dataset:
    """Average cost per net soldier and per soldier-year of a run's results.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results with ``spend_rub``, ``rub_per_usd`` and ``force_persons`` for
        every sample (``keep="full"``).

    Returns
    -------
    xarray.Dataset
        Dims ``sample``, ``payer`` (federal, regional, total). Variables (sample, payer):
        ``average_cost_rub_per_net_soldier`` and ``average_cost_usd_per_net_soldier``
        [RUB, USD per soldier]: manpower spend over the horizon (bonuses, pay and
        compensation) / (F_K - F_0), NaN where the force did not grow;
        ``average_cost_rub_per_soldier_year`` and ``average_cost_usd_per_soldier_year``
        [RUB, USD per soldier-year]: spend / soldier-years served at the front. Each
        variable's ``units``, ``long_name`` and ``description`` attrs say the same.
    """
    missing = [name for name in ("spend_rub", "rub_per_usd", "force_persons") if name not in ds]
    if missing or "scenario" in ds.dims:
        raise ParameterError("results", "the average cost per soldier needs one run's "
                             "spend_rub, rub_per_usd and force_persons for every sample "
                             f"(keep=\"full\"); missing: {', '.join(missing) or 'one scenario'}")
    spend = ds["spend_rub"].transpose("time", "payer", "item", "sample").values
    costs = horizon_costs(spend.astype(np.float64),
                          ds["rub_per_usd"].transpose("time", "sample").values.astype(np.float64),
                          ds["force_persons"].transpose("time_bound", "sample").values.astype(
                              np.float64),
                          ds["step_days"].values.astype(np.float64))
    return cost_dataset(average_costs(costs), ds.sizes["sample"])
