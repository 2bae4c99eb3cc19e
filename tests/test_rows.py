"""sim.run.rows: model runs at design rows, in chunks through the common task loop."""

from __future__ import annotations

import numpy as np

import sim
from sim.analysis import sensitivity as sensitivity_module
from sim.analysis.sensitivity import _base_noise, evaluate, select_outcome
from sim.core.model import Noise
from sim.priors.sampling import parameters_from_unit, root_seed, uncertain_keys
from sim.run.chunks import model_outputs

from .conftest import CONFIGS

BASELINE = sim.load_scenario(CONFIGS / "baseline.toml")


def test_rows_in_chunks_equal_one_direct_model_run(monkeypatch):
    """Chunked evaluation (3 chunks here, the noise reused with a period) gives the
    numbers of one model run over every row, bit for bit."""
    monkeypatch.setattr(sensitivity_module, "ROWS_PER_EVALUATION", 40)
    n, m = 50, 110
    rng = np.random.default_rng(3)
    unit = rng.random((m, len(uncertain_keys(BASELINE.priors))))
    noise = _base_noise(BASELINE, root_seed(7), n)
    outcome = select_outcome(BASELINE, "bonus_spend_usd_per_day", "all")
    chunked = evaluate(BASELINE, unit, noise, outcome, period=n)
    columns = np.arange(m) % n
    direct_noise = Noise(*(None if z is None else z[:, columns]
                           for z in (noise.recruitment, noise.losses, noise.fx)))
    direct = model_outputs(BASELINE, parameters_from_unit(BASELINE.priors, unit),
                           direct_noise)["bonus_spend_usd_per_day"]
    assert chunked.shape == (BASELINE.grid.n_steps, m)
    np.testing.assert_array_equal(chunked, direct)
