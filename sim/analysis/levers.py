"""The model run again on the same samples with a policy lever scaled (common random numbers).

A lever is a per-sample scale on the regional bonus (``bonus``) or on the recruitment level
(``recruitment``), applied from the first step (`sim.core.market.Levers`). Every run of a
`LeverRuns` uses the same parameters and innovations, so the difference between two runs of
a sample is the lever's effect alone: what break-even's root search and the marginal cost
per soldier need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.config.scenario import Scenario, support
from sim.core.market import Levers
from sim.core.model import Noise, run_model
from sim.core.schedules import at_step, grown_amount, step_values
from sim.errors import ParameterError

LEVERS = {
    "bonus": ("regional_bonus_scale", "regional bonus", "RUB per recruit"),
    "recruitment": ("recruitment_scale", "recruitment level", "persons per month"),
}
"""Lever name -> (`Levers` field, what it scales, the unit of its value)."""


def check_lever(scenario: Scenario, lever: str) -> None:
    """Refuse a lever that cannot move the force in this scenario (one line, exit 2).

    Raises
    ------
    ParameterError
        For an unknown lever, or the bonus lever when the bonus elasticity is zero in
        every sample (the bonus then buys no recruits).
    """
    if lever not in LEVERS:
        raise ParameterError("lever", f"expected one of {', '.join(LEVERS)}, got {lever!r}")
    if lever == "bonus":
        low, high = support(scenario.priors, "recruitment.bonus_elasticity")
        if low == high == 0.0:
            raise ParameterError(
                "lever", f"the bonus cannot change recruitment in {scenario.path}: "
                "recruitment.bonus_elasticity is 0 in every sample; give it a prior "
                "(e.g. --set recruitment.bonus_elasticity=\"0.2 to 0.8\") or use "
                "--lever recruitment")


@dataclass
class LeverRuns:
    """One chunk's samples, run as often as needed with the lever at chosen scales.

    Attributes
    ----------
    scenario : Scenario
    p : dict of str to ndarray, each (n,)
        The chunk's sampled parameters.
    noise : Noise
        The chunk's innovations, (K, n) each.
    lever : str
        A key of `LEVERS`.
    runs : float
        Model runs made so far, in whole-chunk equivalents (a run on a tenth of the
        samples counts 0.1).
    """

    scenario: Scenario
    p: dict[str, np.ndarray]
    noise: Noise
    lever: str
    runs: float = field(default=0.0)

    @property
    def samples(self) -> int:
        """Samples n of the chunk."""
        return len(self.p["force.initial_persons"])

    def run(self, scale: np.ndarray, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The model's results (`sim.core.model.run_model`) with the lever at `scale`.

        Parameters
        ----------
        scale : ndarray, shape (m,)
            The lever's scale for each sample run [1].
        rows : ndarray of int, shape (m,), optional
            The samples to run; default all of them.
        """
        p, noise = self.p, self.noise
        if rows is not None:
            p = {key: values[rows] for key, values in p.items()}
            noise = Noise(*(None if z is None else z[:, rows]
                            for z in (noise.recruitment, noise.losses, noise.fx)))
        self.runs += len(scale) / self.samples
        grid = self.scenario.grid
        levers = Levers(**{LEVERS[self.lever][0]: np.asarray(scale, dtype=np.float64)})
        return run_model(p, noise, grid.days, grid.years_elapsed, self.scenario.loss_mode,
                         self.scenario.schedules, levers)

    def value_at_start(self) -> np.ndarray:
        """The lever's quantity in the first step at scale 1, (n,): the regional bonus
        [RUB per recruit] (before the regions' response) or the recruitment level
        [persons per month]."""
        grid, schedules = self.scenario.grid, self.scenario.schedules
        if self.lever == "bonus":
            bonus = grown_amount(self.p, "bonus.regional_rub", "bonus.regional_growth",
                                 schedules, grid.years_elapsed, grid.days)
            return np.array(at_step(bonus, 0), dtype=np.float64)
        return np.array(at_step(step_values(self.p, "recruitment.per_month", schedules), 0),
                        dtype=np.float64)


def force_change(results: dict[str, np.ndarray]) -> np.ndarray:
    """F_K - F_0 [persons], (n,), from a model run's results."""
    force = results["force"]
    return force[-1] - force[0]
