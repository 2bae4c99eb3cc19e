"""fiscal-strain-sim: Monte Carlo simulation of recruitment, losses and the signing-bonus bill.

The public API is what this module lists in ``__all__``, plus the figures in `sim.plots`
(docs/architecture.md, "Public API"); everything else may change between versions.

>>> import sim
>>> scenario = sim.load_scenario("configs/baseline.toml")   # doctest: +SKIP
>>> ds = sim.simulate(scenario, samples=1000, seed=1)        # doctest: +SKIP
>>> print(sim.summarize(ds))                                 # doctest: +SKIP
>>> ax = sim.plots.fan_chart(ds, "bonus_spend_usd_per_day")  # doctest: +SKIP

- Run: `load_scenario`, `simulate`, `summarize`, `read_results`, `write_report`.
- Which assumptions matter: `sensitivity`, `ranked_table`.
- Scenarios side by side: `load_sweep`, `run_experiments`, `comparison_table`,
  `comparison_text`.
- Fit to data and test the fit: `calibrate`, `backtest`, `rolling_backtest`,
  `cutoff_dates`, `backtest_table`.
- The questions analysts ask (docs/questions.md): `breakeven` (`breakeven_text`),
  `runway`, `cost_per_soldier` (and `average_cost` of a run), `discover`.

Every subpackage (``sim.plots``, ``sim.report``, ``sim.analysis``, ``sim.run``, ``sim.io``,
``sim.config``, ``sim.core``, ``sim.priors``, ``sim.numbers``) is imported on first access,
so ``import sim`` stays light (it never imports matplotlib).
"""

import importlib

from sim.analysis.backtest import backtest, backtest_table, cutoff_dates, rolling_backtest
from sim.analysis.breakeven import breakeven, breakeven_text
from sim.analysis.calibration import calibrate
from sim.analysis.cost import average_cost, cost_per_soldier
from sim.analysis.discovery import discover
from sim.analysis.experiments import (
    comparison_table,
    comparison_text,
    load_sweep,
    run_experiments,
)
from sim.analysis.runway import runway
from sim.analysis.sensitivity import ranked_table, sensitivity
from sim.analysis.summary import Summary, summarize
from sim.config.scenario import Claim, Scenario, load_scenario
from sim.errors import ConfigError, UserError
from sim.io.files import read_results
from sim.run.simulate import simulate
from sim.version import __version__

__all__ = [
    "Claim",
    "ConfigError",
    "Scenario",
    "Summary",
    "UserError",
    "__version__",
    "average_cost",
    "backtest",
    "backtest_table",
    "breakeven",
    "breakeven_text",
    "calibrate",
    "comparison_table",
    "comparison_text",
    "cost_per_soldier",
    "cutoff_dates",
    "discover",
    "load_scenario",
    "load_sweep",
    "ranked_table",
    "read_results",
    "rolling_backtest",
    "run_experiments",
    "runway",
    "sensitivity",
    "simulate",
    "summarize",
    "write_report",
]

SUBMODULES = ("analysis", "config", "core", "errors", "io", "numbers", "plots", "priors",
              "report", "run")
"""The public subpackages and modules, imported on first attribute access."""

_LAZY = {"write_report": "sim.report.html"}
"""Public names whose modules are heavier than ``import sim`` should be, and where they live."""


def __getattr__(name: str):
    """Import a public subpackage or a lazily loaded name on first access (PEP 562)."""
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names: ``__all__`` and the public subpackages."""
    return sorted({*__all__, *SUBMODULES})
