"""Every figure of the reports, for notebooks and scripts: ``sim.plots.fan_chart(ds)``.

Each function takes a result (a Dataset, or the object a question returns) and an
optional ``ax`` and returns the matplotlib Axes it drew on (its ``.figure`` is the
Figure; `discovery_chart` returns the Figure). matplotlib is imported only when a figure
is drawn; ``import sim`` does not import this module until ``sim.plots`` is used.

Runs (`sim.simulate`, `sim.read_results`):
    `fan_chart`, `distribution`, `manpower_balance`, `ledger_chart`, `claims_chart`.
Sensitivity (`sim.sensitivity`):
    `tornado_chart`, `sobol_chart`, `indices_over_time`.
Sweeps (`sim.run_experiments`):
    `scenario_comparison`.
Questions (`sim.breakeven`, `sim.runway`, `sim.discover`):
    `breakeven_chart`, `runway_chart`, `discovery_chart`.
Calibration and backtests (`sim.calibrate`, `sim.backtest`, `sim.rolling_backtest`):
    `prior_posterior_chart`, `predictive_chart` (its keys from `observed_quantities`),
    `unseparable_chart`, `backtest_skill_chart`, `backtest_forecast_chart`.
"""

from sim.report.calibration_plots import (
    backtest_forecast_chart,
    backtest_skill_chart,
    observed_quantities,
    predictive_chart,
    prior_posterior_chart,
    unseparable_chart,
)
from sim.report.discovery_plot import discovery_chart
from sim.report.plots import (
    claims_chart,
    distribution,
    fan_chart,
    indices_over_time,
    ledger_chart,
    manpower_balance,
    scenario_comparison,
    sobol_chart,
    tornado_chart,
)
from sim.report.question_plots import breakeven_chart, runway_chart

__all__ = [
    "backtest_forecast_chart",
    "backtest_skill_chart",
    "breakeven_chart",
    "claims_chart",
    "discovery_chart",
    "distribution",
    "fan_chart",
    "indices_over_time",
    "ledger_chart",
    "manpower_balance",
    "observed_quantities",
    "predictive_chart",
    "prior_posterior_chart",
    "runway_chart",
    "scenario_comparison",
    "sobol_chart",
    "tornado_chart",
    "unseparable_chart",
]


def __dir__() -> list[str]:
    """The figure functions (``__all__``)."""
    return list(__all__)
