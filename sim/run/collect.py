"""Collecting chunk results into a labelled Dataset, keeping all of it or a summary.

- ``keep="full"``: every output variable for every sample.
- ``keep="summary"``: per-sample parameters, summaries, per-year totals and claim
  values for every sample; for per-step and stock variables only streaming
  quantiles, means and SDs per time step (`sim.streaming`), so memory does not
  grow with the sample count.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import xarray as xr

from sim.config.scenario import Scenario
from sim.core.schema import key_spec
from sim.core.units import SAMPLE, TIME, TIME_BOUND, YEAR, attrs
from sim.core.variables import BOUND, PER_SAMPLE, STEP, VARIABLES, YEARLY
from sim.priors.sampling import SEED_BLOCK_SAMPLES, uncertain_keys
from sim.run.chunks import STORAGE_DTYPE, ChunkResult
from sim.run.sketch import Moments, QuantileSketch
from sim.version import __version__

KEEP_MODES = ("full", "summary")

SUMMARY_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
QUANTILE = "quantile"
CLAIM = "claim"

DIMS = {STEP: (SAMPLE, TIME), BOUND: (SAMPLE, TIME_BOUND), YEARLY: (SAMPLE, YEAR),
         PER_SAMPLE: (SAMPLE,)}


def param_name(key: str) -> str:
    """Output name of a sampled parameter, e.g. ``param_recruitment_per_month``."""
    return "param_" + key.replace(".", "_")


def kept_names(keep: str) -> list[str]:
    """Output variables kept for every sample."""
    if keep == "full":
        return list(VARIABLES)
    return [n for n, v in VARIABLES.items() if v.layout in (PER_SAMPLE, YEARLY)]


def streamed_names(keep: str) -> list[str]:
    """Per-step and stock variables summarised by streaming statistics."""
    if keep == "full":
        return []
    return [n for n, v in VARIABLES.items() if v.layout in (STEP, BOUND)]


def shape(layout: str, n_steps: int, n_years: int, n: int) -> tuple[int, ...]:
    """Time-major array shape of a layout for n samples."""
    return {STEP: (n_steps, n), BOUND: (n_steps + 1, n), YEARLY: (n_years, n),
            PER_SAMPLE: (n,)}[layout]


class StepStatistics:
    """Streaming quantiles and moments of the per-step variables, per time step."""

    def __init__(self, names: list[str], n_steps: int):
        self.names = names
        self.sketches = {n: QuantileSketch(_length(n, n_steps)) for n in names}
        self.moments = {n: Moments.empty(_length(n, n_steps)) for n in names}

    def add(self, result: ChunkResult) -> None:
        """Fold in a chunk's statistics (`sim.chunks.chunk_statistics`, computed by the
        worker); moments merge seed block by seed block, in order."""
        for name in self.names:
            columns, counts, block_moments = result.statistics[name]
            self.sketches[name].add_sparse(columns, counts)
            for moments in block_moments:
                self.moments[name].merge(moments)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that restore the statistics (for checkpoints), sketches stored sparsely."""
        state = {}
        for name in self.names:
            m = self.moments[name]
            columns, counts = self.sketches[name].sparse()
            state[f"{name}.columns"], state[f"{name}.counts"] = columns, counts
            state[f"{name}.moments"] = np.concatenate([[m.count], m.mean, m.m2])
        return state

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Load arrays written by `state`."""
        for name in self.names:
            self.sketches[name].counts[...] = 0
            self.sketches[name].add_sparse(state[f"{name}.columns"], state[f"{name}.counts"])
            packed = state[f"{name}.moments"]
            t = (len(packed) - 1) // 2
            self.moments[name] = Moments(float(packed[0]), packed[1:1 + t].copy(),
                                         packed[1 + t:].copy())

    def data_vars(self) -> dict:
        """``{name}_quantiles``, ``{name}_sample_mean`` and ``{name}_sample_sd`` per variable."""
        out = {}
        for name in self.names:
            v = VARIABLES[name]
            dim = DIMS[v.layout][1]
            alpha = self.sketches[name].alpha
            out[f"{name}_quantiles"] = (
                (QUANTILE, dim), self.sketches[name].quantiles(np.array(SUMMARY_QUANTILES)),
                attrs(v.units, f"{v.long_name}, quantiles over samples",
                      f"{v.description} Streaming quantiles (relative error <= {alpha})."))
            out[f"{name}_sample_mean"] = ((dim,), self.moments[name].mean,
                                   attrs(v.units, f"{v.long_name}, mean over samples",
                                         v.description))
            out[f"{name}_sample_sd"] = ((dim,), self.moments[name].sd,
                                 attrs(v.units, f"{v.long_name}, SD over samples",
                                       v.description))
        return out


def _length(name: str, n_steps: int) -> int:
    return n_steps + 1 if VARIABLES[name].layout == BOUND else n_steps


class MemoryCollector:
    """Keeps chunk results in preallocated float32 arrays, plus streaming statistics."""

    def __init__(self, scenario: Scenario, keep: str, arrays: dict | None = None,
                 params: dict | None = None, claims: np.ndarray | None = None):
        """Allocate the arrays, or fill the given ones (views into a sweep's arrays)."""
        grid, n = scenario.grid, scenario.samples
        k, y = grid.n_steps, len(grid.calendar_years())
        self.scenario, self.keep = scenario, keep
        self.arrays = arrays if arrays is not None else {
            name: np.empty(shape(VARIABLES[name].layout, k, y, n), STORAGE_DTYPE)
            for name in kept_names(keep)}
        self.params = params if params is not None else {
            key: np.empty(n) for key in uncertain_keys(scenario.priors)}
        self.claims = claims if claims is not None else np.empty((len(scenario.claims), n))
        self.statistics = StepStatistics(streamed_names(keep), k)

    def add(self, result: ChunkResult) -> None:
        """Store one chunk."""
        lo, hi = result.rows
        with np.errstate(over="ignore"):  # beyond float32's 3.4e38 is stored as inf
            for name, array in self.arrays.items():
                array[..., lo:hi] = result.outputs[name]
        for key, values in self.params.items():
            values[lo:hi] = result.params[key]
        self.claims[:, lo:hi] = result.claims
        self.statistics.add(result)

    def dataset(self, root: np.random.SeedSequence, extra_attrs: dict) -> xr.Dataset:
        """The labelled results."""
        data_vars = {name: (DIMS[VARIABLES[name].layout], array.T, VARIABLES[name].attrs)
                     for name, array in self.arrays.items()}
        data_vars.update(per_sample_extras(self.scenario, self.params, self.claims))
        data_vars.update(self.statistics.data_vars())
        return xr.Dataset(data_vars, coordinates(self.scenario),
                          {**provenance(self.scenario, root, self.keep), **extra_attrs})


def per_sample_extras(scenario: Scenario, params: dict, claims: np.ndarray) -> dict:
    """Data variables for the sampled parameters and the claims' simulated values."""
    out = {param_name(key): ((SAMPLE,), values, param_attrs(scenario, key))
           for key, values in params.items()}
    out["claim_value"] = ((CLAIM, SAMPLE), claims, CLAIM_VALUE_ATTRS)
    return out


CLAIM_VALUE_ATTRS = attrs("various", "simulated value of each claim",
                          "The claimed quantity in each sample, in the claim's unit "
                          "(claim_unit).")


def param_attrs(scenario: Scenario, key: str) -> dict:
    """Attrs of a sampled parameter: unit, names, the prior and its source."""
    spec, prior = key_spec(key), scenario.priors[key]
    return {**attrs(spec.unit.replace("/recruit", "/person"), f"sampled {key}",
                    spec.description),
            "config_key": key, "prior": prior.describe(), "source": prior.source}


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
               for k, v in asdict(c).items()} for c in scenario.claims]
    return {
        "title": "fiscal-strain-sim results",
        "fiscal_strain_sim_version": __version__,
        "model_version": "1",
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
