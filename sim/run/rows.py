"""Model runs at given rows of the unit hypercube, with given noise paths: the designs of
sensitivity analysis (Sobol matrices, tornado settings), computed in chunks of rows
through the same path as every run (`sim.run.plan.run_tasks`).

A `RowTask` holds its rows' uniforms and noise columns and the outcome to keep; a
worker returns only that outcome's (s, rows) block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.config.scenario import Scenario
from sim.core.model import Noise
from sim.priors.sampling import parameters_from_unit
from sim.run.chunks import model_outputs


@dataclass(frozen=True)
class RowTask:
    """Rows [lo, hi) of a design.

    Attributes
    ----------
    scenario : Scenario
    rows : tuple of int
        The rows' positions in the whole design.
    unit : ndarray, shape (m, d)
        Independent uniforms, one column per uncertain prior.
    noise : Noise
        Innovations, (K, m) each: column j goes with row j.
    outcome : object
        Has ``name`` (an output variable) and ``pick(values)``, which maps the
        time-major (T, m) or (m,) output to the analysed (s, m) block.
    """

    scenario: Scenario
    rows: tuple[int, int]
    unit: np.ndarray
    noise: Noise
    outcome: Any


@dataclass
class RowResult:
    """The analysed block of a `RowTask`'s rows, shape (s, m)."""

    rows: tuple[int, int]
    values: np.ndarray


def compute_rows(task: RowTask) -> RowResult:
    """Run the model at a task's rows and keep its outcome (a top-level function, so
    workers can run it)."""
    p = parameters_from_unit(task.scenario.priors, task.unit)
    outputs = model_outputs(task.scenario, p, task.noise)
    return RowResult(task.rows, task.outcome.pick(outputs[task.outcome.name]))


class RowSink:
    """Collects the analysed blocks of every row into one (s, m) array."""

    def __init__(self, rows: int):
        self.rows = rows
        self.values: np.ndarray | None = None

    def add(self, result: RowResult) -> None:
        """Store one chunk of rows."""
        if self.values is None:
            self.values = np.empty((result.values.shape[0], self.rows))
        lo, hi = result.rows
        self.values[:, lo:hi] = result.values
