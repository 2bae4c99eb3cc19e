"""fiscal-strain-sim: Monte Carlo simulation of recruitment, losses and the signing-bonus bill.

The public API:

>>> import sim
>>> scenario = sim.load_scenario("configs/baseline.toml")   # doctest: +SKIP
>>> ds = sim.simulate(scenario, samples=1000, seed=1)        # doctest: +SKIP
>>> print(sim.summarize(ds))                                 # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fiscal-strain-sim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

from .calibration import calibrate
from .config import Claim, Scenario, load_scenario
from .errors import ConfigError, UserError
from .sensitivity import sensitivity
from .simulate import simulate
from .summary import Summary, summarize

__all__ = [
    "Claim",
    "ConfigError",
    "Scenario",
    "Summary",
    "UserError",
    "__version__",
    "calibrate",
    "load_scenario",
    "sensitivity",
    "simulate",
    "summarize",
]
