"""The model run again on the same samples with a policy lever scaled (common random numbers).

A lever is a per-sample scale on the regional bonus (``bonus``) or on the recruitment level
(``recruitment``), applied from the first step (`sim.core.market.Levers`). Every run of a
`LeverRuns` uses the same parameters and innovations, so the difference between two runs of
a sample is the lever's effect alone: what break-even's root search and the marginal cost
per soldier need.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """Samples run as often as needed with the lever at chosen scales.

    Attributes
    ----------
    scenario : Scenario
    p : dict of str to ndarray, each (n,)
        The sampled parameters.
    noise : Noise
        The innovations, (K, n) each.
    lever : str
        A key of `LEVERS`.
    chunk_samples : int
        At most this many samples go through the model at once (its working set).
    runs : float
        Model runs made so far, in whole-set equivalents (a run on a tenth of the
        samples counts 0.1).
    """

    scenario: Scenario
    p: dict[str, np.ndarray]
    noise: Noise
    lever: str
    chunk_samples: int = 2**14
    runs: float = field(default=0.0)

    @property
    def samples(self) -> int:
        """Samples n held."""
        return len(self.p["force.initial_persons"])

    def run(self, scale: np.ndarray, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The model's results (`sim.core.model.run_model`) with the lever at `scale`.

        Parameters
        ----------
        scale : ndarray, shape (m,)
            The lever's scale for each sample run [1].
        rows : ndarray of int, shape (m,), optional
            The samples to run; default all of them (in one piece: see `evaluate`).
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

    def evaluate(self, scale: np.ndarray, rows: np.ndarray,
                 reduce: Callable[[dict[str, np.ndarray]], np.ndarray]) -> np.ndarray:
        """``reduce`` of the model's results with the lever at `scale` for samples `rows`,
        run `chunk_samples` at a time and joined along the last axis (samples)."""
        pieces = [reduce(self.run(scale[lo:lo + self.chunk_samples],
                                  rows[lo:lo + self.chunk_samples]))
                  for lo in range(0, len(rows), self.chunk_samples)]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=-1)

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
