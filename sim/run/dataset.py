"""The labelled results: one function builds every results Dataset, in memory or on disk.

- ``keep="full"``: every output variable for every sample.
- ``keep="summary"``: per-sample parameters, summaries, per-year totals and claim
  values for every sample; for per-step and stock variables only streaming
  quantiles, means and SDs per time step (`sim.run.sinks.SketchSink`), so memory
  does not grow with the sample count.

`data_variables` labels arrays (a whole run's, a sweep's with a leading
``scenario`` axis, or one chunk's for the store on disk); `results_dataset` adds
the coordinates and the provenance attrs.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import xarray as xr

from sim.config.scenario import Scenario
from sim.core.schema import CLAIM_USES, ENTRY_MARK, LEDGER_CLAIM_KEYS, key_spec
from sim.core.units import ITEM, PAYER, SAMPLE, TIME, TIME_BOUND, YEAR, attrs
from sim.core.variables import (
    BOUND,
    LEDGER_COORDS,
    PER_SAMPLE,
    STEP,
    VARIABLES,
    YEARLY,
    dims,
    outputs_for,
)
from sim.priors.sampling import SEED_BLOCK_SAMPLES
from sim.run.chunks import STORAGE_DTYPE
from sim.version import __version__

KEEP_MODES = ("full", "summary")

SUMMARY_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
QUANTILE = "quantile"
CLAIM = "claim"
SCENARIO = "scenario"



def param_name(key: str) -> str:
    """Output name of a sampled parameter, e.g. ``param_recruitment_per_month``; a schedule
    entry's is ``param_fx_rub_per_usd_from_2025_04_01`` (``fx.rub_per_usd@2025-04-01``)."""
    return "param_" + key.replace(ENTRY_MARK, "_from_").replace(".", "_").replace("-", "_")


def output_names(scenario: Scenario) -> list[str]:
    """The output variables a scenario makes (`sim.core.variables.outputs_for`)."""
    return outputs_for(scenario.given)


def kept_names(keep: str, scenario: Scenario) -> list[str]:
    """Output variables kept for every sample."""
    if keep == "full":
        return output_names(scenario)
    return [n for n in output_names(scenario) if VARIABLES[n].layout in (PER_SAMPLE, YEARLY)]


def streamed_names(keep: str, scenario: Scenario) -> list[str]:
    """Per-step and stock variables summarised by streaming statistics."""
    if keep == "full":
        return []
    return [n for n in output_names(scenario) if VARIABLES[n].layout in (STEP, BOUND)]


def data_variables(scenario: Scenario, keep: str, outputs: dict[str, np.ndarray],
                   params: dict[str, np.ndarray], claims: np.ndarray, *,
                   scenario_axis: bool = False, params_attrs: dict | None = None) -> dict:
    """Label a run's arrays: ``(dims, values, attrs)`` of every kept output, sampled
    parameter (``param_*``) and claim value.

    Parameters
    ----------
    scenario : Scenario
    keep : {"full", "summary"}
        Which outputs are kept (`kept_names`).
    outputs : dict of str to ndarray
        Time-major arrays, (T, n) or (n,), as the model and the sinks hold them; the
        labelled values are sample-major views of them, not copies.
    params : dict of str to ndarray, each (n,)
        Sampled values of the uncertain priors, by config key.
    claims : ndarray, shape (C, n)
    scenario_axis : bool
        Every array has a leading ``scenario`` axis (a sweep).
    params_attrs : dict, optional
        Attrs of parameters by key, where they differ from this scenario's (a sweep).

    Returns
    -------
    dict
        ``{name: (dims, values, attrs)}``, ready for `xarray.Dataset`.
    """
    lead = (SCENARIO,) if scenario_axis else ()
    out = {}
    for name in kept_names(keep, scenario):
        values = outputs[name]
        if values.ndim >= len(lead) + 2:  # (..., T, [payer, item,] n) -> (..., n, T, ...)
            values = np.moveaxis(values, -1, len(lead))
        out[name] = ((*lead, *dims(name)), values, variable_attrs(scenario, name))
    for key, values in params.items():
        own = (params_attrs or {}).get(key) or param_attrs(scenario, key)
        out[param_name(key)] = ((*lead, SAMPLE), values, own)
    out["claim_value"] = ((*lead, CLAIM, SAMPLE), claims, CLAIM_VALUE_ATTRS)
    return out


def variable_attrs(scenario: Scenario, name: str) -> dict[str, str]:
    """An output's attrs; a date counted in days after time.start (``*_date``) also names
    that start as ``reference_date`` (not CF ``days since`` units, which xarray would
    decode to dates on reading a file: the numbers would differ from the run's)."""
    attrs = VARIABLES[name].attrs
    if name.endswith("_date"):
        attrs = {**attrs, "reference_date": scenario.grid.start.isoformat()}
    return attrs


def results_dataset(scenario: Scenario, root: np.random.SeedSequence, keep: str,
                    variables: dict, statistics: dict | None = None,
                    extra_attrs: dict | None = None) -> xr.Dataset:
    """The labelled results of a run: its variables (`data_variables`) and summary
    statistics, the scenario's coordinates, and the provenance attrs.

    Every results Dataset is built here: in-memory runs, sweeps and calibration; a run
    to disk writes the same variables, coordinates and attrs chunk by chunk.
    """
    return xr.Dataset({**variables, **(statistics or {})}, coordinates(scenario),
                      {**provenance(scenario, root, keep), **(extra_attrs or {})})


CLAIM_VALUE_ATTRS = attrs("various", "simulated value of each claim",
                          "The claimed quantity in each sample, in the claim's unit "
                          "(claim_unit).")


def param_attrs(scenario: Scenario, key: str) -> dict:
    """Attrs of a sampled parameter: unit, names, the prior and its source."""
    spec, prior = key_spec(key), scenario.priors[key]
    base, _, date = key.partition(ENTRY_MARK)
    dated = {"in_force_from": date} if date else {}
    return {**attrs(spec.unit.replace("/recruit", "/person"), f"sampled {key}",
                    spec.description + (f" Schedule entry in force from {date}." if date
                                        else "")),
            "config_key": base, **dated, "prior": prior.describe(), "source": prior.source}


def sample_coordinate(lo: int, hi: int) -> tuple:
    """The ``sample`` coordinate of samples [lo, hi)."""
    return (SAMPLE, np.arange(lo, hi), attrs("1", "sample", "Sample index."))


def coordinates(scenario: Scenario, with_samples: bool = True) -> dict:
    """Coordinates shared by every results Dataset of a scenario."""
    grid = scenario.grid
    weights = grid.year_weights()
    samples = {SAMPLE: sample_coordinate(0, scenario.samples)} if with_samples else {}
    return {
        **samples,
        TIME: (TIME, grid.starts.astype("datetime64[ns]"),
               {"long_name": "step start", "description": "First day of each time step."}),
        TIME_BOUND: (TIME_BOUND, grid.bounds.astype("datetime64[ns]"),
                     {"long_name": "step boundary",
                      "description": "Start of each step, then the day after the horizon."}),
        "step_days": (TIME, grid.days, attrs("day", "step length", "Days in each step (D_k).")),
        YEAR: (YEAR, grid.calendar_years(), attrs("1", "calendar year", "Calendar year.")),
        "year_days": (YEAR, (weights * grid.days[:, None]).sum(axis=0),
                      attrs("day", "days simulated in year",
                            "Days of the horizon in each calendar year (< 365 when partial).")),
        PAYER: (PAYER, list(LEDGER_COORDS[PAYER]),
                attrs("1", "payer", "Who pays: the federal budget or the regional budgets.")),
        ITEM: (ITEM, list(LEDGER_COORDS[ITEM]),
               attrs("1", "item", "What is paid: signing bonuses, soldier pay, death and "
                     "injury compensation.")),
        QUANTILE: (QUANTILE, np.array(SUMMARY_QUANTILES),
                   attrs("1", "quantile level", "Levels of the streaming quantiles.")),
        CLAIM: (CLAIM, [c.label for c in scenario.claims],
                attrs("1", "claim", "Claim labels, in config order.")),
        "claim_unit": (CLAIM, [c.unit for c in scenario.claims],
                       attrs("1", "claim unit", "Unit of each claim's value.")),
    }


def provenance(scenario: Scenario, root: np.random.SeedSequence, keep: str) -> dict:
    """Global attrs recording how the results were made."""
    claims = [{k: (str(v) if v is not None and k in ("start", "end", "date") else v)
               for k, v in asdict(c).items()
               if not ((k in LEDGER_CLAIM_KEYS and v is None)  # as version 1 wrote them
                       or (k == "used_for" and v == CLAIM_USES[0]))}
              for c in scenario.claims]
    return {
        "title": "fiscal-strain-sim results",
        "fiscal_strain_sim_version": __version__,
        "model_version": "2",
        "config_path": scenario.path,
        "config_files": json.dumps(list(scenario.files)),
        "config_resolved": scenario.resolved_json(),
        "claims": json.dumps(claims),
        "seed": int(root.entropy) if isinstance(root.entropy, int) else str(root.entropy),
        "seed_spawn_key": json.dumps(list(root.spawn_key)),
        "design": scenario.design,
        "correlations": json.dumps([list(pair) for pair in scenario.correlations]),
        "samples": scenario.samples,
        "seed_block_samples": SEED_BLOCK_SAMPLES,
        "keep": keep,
        "time_step": scenario.grid.step,
        "loss_mode": scenario.loss_mode,
        "storage_dtype": np.dtype(STORAGE_DTYPE).name,
        "Conventions": "CF-1.8",
    }
