"""fiscal-strain-sim: Monte Carlo simulation of recruitment, losses and the signing-bonus bill.

The public API:

>>> import sim
>>> scenario = sim.load_scenario("configs/baseline.toml")   # doctest: +SKIP
>>> ds = sim.simulate(scenario, samples=1000, seed=1)        # doctest: +SKIP
>>> print(sim.summarize(ds))                                 # doctest: +SKIP

The questions analysts ask (docs/questions.md): `breakeven`, `runway`, `cost_per_soldier`
(and `average_cost` of a run), `discover`.
"""

from sim.analysis.backtest import backtest, rolling_backtest
from sim.analysis.breakeven import breakeven
from sim.analysis.calibration import calibrate
from sim.analysis.cost import average_cost, cost_per_soldier
from sim.analysis.discovery import discover
from sim.analysis.runway import runway
from sim.analysis.sensitivity import sensitivity
from sim.analysis.summary import Summary, summarize
from sim.config.scenario import Claim, Scenario, load_scenario
from sim.errors import ConfigError, UserError
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
    "breakeven",
    "calibrate",
    "cost_per_soldier",
    "discover",
    "load_scenario",
    "rolling_backtest",
    "runway",
    "sensitivity",
    "simulate",
    "summarize",
]
