"""Batch experiments: scenario sweeps and side-by-side comparisons on a ``scenario`` dim.

A sweep file names a base config and factors, or a list of configs::

    base = "../baseline.toml"
    combine = "factorial"            # or "zip"
    n_scenarios = 8                  # for sampled factors

    [run]                            # optional: samples, seed, design
    samples = 100_000

    [factors]
    "bonus.regional_growth" = [0.0, 0.1, 0.2]
    "recruitment.bonus_elasticity" = [0.0, 0.3, 0.6]
    "recruitment.per_month" = { sample = "30_000 to 50_000" }   # LHS over n_scenarios

or ``configs = ["../baseline.toml", "../official.toml"]``. Every scenario runs
with the sweep's seed, so each one's results equal a run of that scenario alone
(and scenarios share their noise paths: common random numbers).
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import qmc

from sim import io
from sim.analysis.summary import TEXT_WIDTH, claims_table, table_text
from sim.config.scenario import Scenario, load_scenario, read_toml, suggest
from sim.core.schema import SCHEMA
from sim.core.units import attrs
from sim.core.variables import shape
from sim.errors import ConfigError, OutputError, ParameterError, ResourceError
from sim.io import outputs
from sim.numbers import MONTH_UNITS, byte_size, format_value, human, unit_label
from sim.priors.distributions import Prior, PriorError, prior_from_value
from sim.priors.sampling import root_seed, uncertain_keys
from sim.run.chunks import STORAGE_DTYPE, default_chunk_samples
from sim.run.dataset import (
    SCENARIO,
    data_variables,
    kept_names,
    param_attrs,
    param_name,
    results_dataset,
    streamed_names,
)
from sim.run.plan import (
    Progress,
    chunks_in_flight,
    execute,
    kept_bytes,
    make_plan,
    statistics_bytes,
    timing_attrs,
    working_bytes,
)
from sim.run.simulate import simulate
from sim.run.sinks import ArraySink, SketchSink
from sim.run.streamed import partial_path, run_to_file

SWEEP_KEYS = ("base", "configs", "combine", "n_scenarios", "run", "factors")
COMBINE = ("factorial", "zip")
MAX_SCENARIOS = 1000
"""Most scenarios in one sweep: each is a whole Monte Carlo run, validated up front
(about 10 ms each), and stacked in memory."""
SWEEP_SPAWN_KEY = 2**32 + 2
"""Spawn key of the LHS stream that samples factors (distinct from runs and analyses)."""


@dataclass(frozen=True)
class Experiment:
    """One scenario of a sweep: its label, factor values and validated config.

    Attributes
    ----------
    label : str
        ``key=value, ...`` of its factors, or the config file's stem for a list of
        configs (``baseline``); the ``scenario_label`` coordinate of the results.
    factors : dict
        Dotted config key -> value (``{"config": "baseline.toml"}`` for a config list).
    scenario : Scenario
        The validated config; change its run with ``load_sweep(path, samples=...)`` or
        ``dataclasses.replace(e, scenario=e.scenario.with_run(samples=...))``.
    """

    label: str
    factors: dict[str, Any]
    scenario: Scenario


SCENARIO_KEYS = frozenset(SCHEMA) - {"run"} | {"extends", "claims", "correlations"}
"""Top-level keys of a scenario config that a sweep file never has."""


def load_sweep(path: str | Path, samples: int | None = None,
               seed: int | None = None) -> list[Experiment]:
    """Read a sweep file and expand it into validated scenarios.

    Parameters
    ----------
    path : str or Path
        The sweep file: ``base = "CONFIG.toml"`` and ``[factors]``, or
        ``configs = [...]`` (module docstring).
    samples : int, optional
        Samples of every scenario, instead of the sweep file's ``[run] samples`` (or
        each config's): ``load_sweep("configs/sweeps/sources.toml", samples=1_000)``.
    seed : int, optional
        Root seed of every scenario's run. Factors sampled with ``{ sample = PRIOR }``
        keep the values the file's seed draws, so the scenarios stay the same.

    Returns
    -------
    list of Experiment
        One per scenario, in sweep order: ``label`` (the factors as ``key=value``, or
        the config file's stem for ``configs = [...]``), ``factors`` (dotted config key
        -> value; ``{"config": FILE}`` for a config list) and the validated
        ``scenario``.

    Raises
    ------
    ConfigError
        One line naming the sweep file, the key and what was expected; a scenario config
        given where a sweep file is expected is named as such.
    ParameterError
        `samples` or `seed` out of range (`Scenario.with_run`).
    """
    experiments = _load_sweep(str(path))
    if samples is None and seed is None:
        return experiments
    return [replace(e, scenario=e.scenario.with_run(samples, seed)) for e in experiments]


def _load_sweep(path: str) -> list[Experiment]:
    raw = read_toml(path)
    if not {"base", "configs", "factors"} & set(raw) and set(raw) & SCENARIO_KEYS:
        raise ConfigError(path, "", "not a sweep file: it looks like a scenario config (a "
                          "sweep file has base = ... and [factors], or configs = [...]); "
                          "run it with `fiscal-sim run`")
    for key in raw:
        if key not in SWEEP_KEYS:
            raise ConfigError(path, key, f"unknown key{suggest(key, SWEEP_KEYS)}")
    run = raw.get("run", {})
    if not isinstance(run, dict) or set(run) - {"samples", "seed", "design"}:
        raise ConfigError(path, "run", "expected a [run] table with samples, seed, design")
    run_values = {f"run.{k}": v for k, v in run.items()}
    here = Path(path).parent
    if "configs" in raw:
        return _config_list(raw, path, here, run_values)
    if "base" not in raw:
        raise ConfigError(path, "base", "expected base = \"CONFIG.toml\" and [factors], "
                          "or configs = [...]")
    if not isinstance(raw["base"], str) or not raw["base"]:
        raise ConfigError(path, "base", f"expected a config file name, got {raw['base']!r}")
    base = str(here / raw["base"])
    problem = io.regular_file_problem(base)
    if problem is not None:
        problem = "does not exist" if problem == "file not found" else problem
        raise ConfigError(path, "base", f"config {base} {problem}")
    combos = _combinations(raw, path, load_scenario(base, values=run_values,
                                                    values_source=path))
    experiments = []
    for i, factors in enumerate(combos):
        try:
            scenario = load_scenario(base, values={**run_values, **factors},
                                     values_source=path)
        except ConfigError as error:
            if error.key in factors:
                raise ConfigError(path, f"factors.{error.key}",
                                  f"value {factors[error.key]!r} (scenario {i}): "
                                  f"{error.message}") from None
            raise
        experiments.append(Experiment(_label(factors), factors, scenario))
    return experiments


def _config_list(raw: dict, path: str, here: Path, run_values: dict) -> list[Experiment]:
    configs = raw["configs"]
    if not isinstance(configs, list) or not configs or not all(
            isinstance(c, str) and c for c in configs):
        raise ConfigError(path, "configs", "expected a non-empty list of config file names")
    if "factors" in raw:
        raise ConfigError(path, "factors", "give either configs or base with factors")
    if len(configs) > MAX_SCENARIOS:
        raise ConfigError(path, "configs", f"{len(configs)} configs; a sweep runs at most "
                          f"{MAX_SCENARIOS} scenarios")
    paths = [str(here / c) for c in configs]
    for i, config in enumerate(paths):
        problem = io.regular_file_problem(config)
        if problem is not None:
            problem = "does not exist" if problem == "file not found" else problem
            raise ConfigError(path, f"configs[{i}]", f"config {config} {problem}")
    return compare_experiments(paths, values=run_values, values_source=path)


def compare_experiments(paths: list[str], overrides: list[str] = (), *,
                        values: dict | None = None,
                        values_source: str = "values") -> list[Experiment]:
    """One experiment per config file, labelled by file name; `overrides`
    (``"section.key=VALUE"``) and `values` (from `values_source`) apply to each."""
    return [Experiment(Path(p).stem, {"config": Path(p).name},
                       load_scenario(p, overrides, values, values_source=values_source))
            for p in paths]


def _combinations(raw: dict, path: str, base: Scenario) -> list[dict[str, Any]]:
    factors = raw.get("factors")
    if not isinstance(factors, dict) or not factors:
        raise ConfigError(path, "factors", "expected a [factors] table with at least one key")
    listed, sampled = {}, {}
    for key, values in factors.items():
        section, _, name = key.partition(".")
        if section not in SCHEMA or name not in SCHEMA[section]:
            options = [f"{s}.{n}" for s in SCHEMA for n in SCHEMA[s]]
            raise ConfigError(path, f"factors.{key}",
                              f"unknown config key{suggest(key, options)}")
        if isinstance(values, dict) and set(values) == {"sample"}:
            try:
                sampled[key] = prior_from_value(values["sample"])
            except PriorError as error:
                raise ConfigError(path, f"factors.{key}", str(error)) from None
        elif isinstance(values, list):
            if not values:
                raise ConfigError(path, f"factors.{key}", "empty list of values")
            listed[key] = values
        else:
            raise ConfigError(path, f"factors.{key}",
                              "expected a list of values or { sample = PRIOR }")
    combine = raw.get("combine", "factorial")
    if combine not in COMBINE:
        raise ConfigError(path, "combine", f"expected factorial or zip, got {combine!r}")
    if combine == "zip" and len({len(v) for v in listed.values()}) > 1:
        lengths = ", ".join(f"{k}: {len(v)}" for k, v in listed.items())
        raise ConfigError(path, "factors", f"zip needs lists of equal length; got {lengths}")
    n = raw.get("n_scenarios") if sampled else 1
    if sampled and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigError(path, "n_scenarios",
                          f"sampled factors need n_scenarios, an integer >= 1; got {n!r}")
    rows = (len(next(iter(listed.values()))) if combine == "zip" and listed
            else math.prod(len(v) for v in listed.values()))
    if rows * n > MAX_SCENARIOS:  # counted before anything is expanded
        raise ConfigError(path, "factors", f"{rows * n:,} scenarios; a sweep runs at most "
                          f"{MAX_SCENARIOS:,} (each is a whole Monte Carlo run): use fewer "
                          "values, or sample the factors with { sample = PRIOR } and "
                          "n_scenarios")
    if listed:
        keys = list(listed)
        rows = (zip(*listed.values(), strict=True) if combine == "zip"
                else itertools.product(*listed.values()))
        combos = [dict(zip(keys, row, strict=True)) for row in rows]
    else:
        combos = [{}]
    if sampled:
        points = _lhs_points(sampled, n, base.seed)
        combos = [{**combo, **point} for combo in combos for point in points]
    return combos


def _lhs_points(sampled: dict[str, Prior], n: int, seed: int) -> list[dict[str, float]]:
    root = root_seed(seed)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        root.entropy, spawn_key=(SWEEP_SPAWN_KEY,))))
    unit = qmc.LatinHypercube(len(sampled), rng=rng).random(n)
    columns = {key: prior.ppf(unit[:, j]) for j, (key, prior) in enumerate(sampled.items())}
    return [{key: float(values[i]) for key, values in columns.items()} for i in range(n)]


def _label(factors: dict[str, Any]) -> str:
    def show(value):
        if isinstance(value, float):
            return f"{value:.4g}"
        return json.dumps(value) if not isinstance(value, int | str) else str(value)

    return ", ".join(f"{k}={show(v)}" for k, v in factors.items()) or "base"


# ---------------------------------------------------------------- running


def sweep_memory_bytes(experiments: list[Experiment], keep: str = "full",
                       in_flight: int = 1, samples: int | None = None) -> int:
    """Bytes a sweep needs in memory (every scenario's kept arrays at once), with each
    scenario's own sample count or `samples` for all."""
    def kept(e: Experiment) -> int:
        n = e.scenario.samples if samples is None else samples
        return kept_bytes(e.scenario, n, keep) + statistics_bytes(e.scenario, keep)

    first = experiments[0].scenario
    working = working_bytes(first, default_chunk_samples(first.grid.n_steps), in_flight)
    copies = 1 if _homogeneous(experiments) else 2  # stacking separate runs copies them
    return copies * sum(kept(e) for e in experiments) + working


def check_sweep_memory(experiments: list[Experiment], keep: str, available_bytes: int,
                       in_flight: int = 1, source: str = "sweep") -> None:
    """Refuse up front a sweep whose results would not fit in `available_bytes`.

    Raises
    ------
    ResourceError
        Saying what the sweep needs and how many samples per scenario would fit.
    """
    need = sweep_memory_bytes(experiments, keep, in_flight)
    if need <= available_bytes:
        return
    fixed = sweep_memory_bytes(experiments, keep, in_flight, samples=0)
    per_sample = sweep_memory_bytes(experiments, keep, in_flight, samples=1) - fixed
    fit = max(0, int((available_bytes - fixed) // per_sample))
    raise _too_big(experiments, keep, source, fit,
                   f"{byte_size(need)} but {byte_size(available_bytes)} is available")


def _too_big(experiments: list[Experiment], keep: str, source: str, fit: int,
             needed: str) -> ResourceError:
    """The one-line refusal of a sweep: what it needs, and how many samples would fit."""
    samples = sorted({e.scenario.samples for e in experiments})
    shown = str(samples[0]) if len(samples) == 1 else f"{samples[0]} to {samples[-1]}"
    hint = "" if keep == "summary" else " (or use --keep summary)"
    return ResourceError(f"{source}: {len(experiments)} scenarios x {shown} samples need "
                         f"{needed}; at most {fit} samples per scenario fit{hint}")


def run_experiments(experiments: list[Experiment], *, keep: str = "full",
                    scheduler: str = "sync", workers: int | None = None,
                    progress: Progress | None = None, available_bytes: int | None = None,
                    source: str = "sweep") -> xr.Dataset:
    """Run every scenario and stack the results along ``scenario``.

    Parameters
    ----------
    experiments : list of Experiment
    keep, scheduler, workers, progress
        See `sim.simulate`.
    available_bytes : int, optional
        Memory budget [bytes]; default: what this machine has available now. A sweep
        that would exceed it is refused before anything runs.
    source : str
        The sweep file (or command) named in a refusal.

    Returns
    -------
    xarray.Dataset
        The results of `sim.simulate` for each scenario, along a new ``scenario``
        dim with one coordinate per factor and ``scenario_label``.

    Raises
    ------
    ResourceError
        If the results would not fit in memory.
    """
    if available_bytes is None:
        available_bytes = io.available_memory_bytes()
    check_sweep_memory(experiments, keep, available_bytes, chunks_in_flight(scheduler, workers),
                       source)
    total = sum(e.scenario.samples for e in experiments)
    if _homogeneous(experiments):
        return _run_stacked(experiments, keep, scheduler, workers, progress, total,
                            available_bytes)
    done = 0
    datasets = []
    for experiment in experiments:
        def step(samples, _total, offset=done):  # progress over the whole sweep
            if progress is not None:
                progress(offset + samples, total)

        ds = simulate(experiment.scenario, keep=keep, scheduler=scheduler, workers=workers,
                      progress=step, available_bytes=available_bytes)
        datasets.append(ds)
        done += experiment.scenario.samples
    return _stack(experiments, datasets)


SWEEP_SUFFIX = ".partial.sweep"


def sweep_work_path(out: str | Path) -> Path:
    """Where a sweep to `out` keeps each scenario's results until all are done."""
    out = Path(out)
    return out.with_name(out.name + SWEEP_SUFFIX)


def run_experiments_to_file(experiments: list[Experiment], out: str | Path, *,
                            keep: str = "full", resume: bool = False,
                            scheduler: str = "sync", workers: int | None = None,
                            progress: Progress | None = None,
                            max_memory: int | None = None, source: str = "sweep") -> Path:
    """Run every scenario to disk, then stack them along ``scenario`` into `out`.

    Each scenario is a run to disk (`sim.run.streamed.run_to_file`) into
    ``OUT.partial.sweep/NNNN.zarr``: memory holds one scenario's chunks at a time, and
    an interrupted sweep resumes where it stopped (finished scenarios are kept, the
    one in progress resumes from its checkpoint). The stacked file is written only
    when every scenario is done; the working folder is then removed. The values are
    those of `run_experiments`, bit for bit.

    Parameters
    ----------
    experiments : list of Experiment
    out : str or Path
        ``.nc`` or ``.zarr``; checked by the caller (`sim.io.outputs.check_output`).
    keep, scheduler, workers, progress, max_memory
        See `sim.run.streamed.run_to_file`.
    resume : bool
        Continue the sweep an interrupted run left in ``OUT.partial.sweep``.
    source : str
        The sweep file (or command) named in a refusal.

    Raises
    ------
    ParameterError
        `resume` without a partial sweep, or one made with other settings.
    ResourceError
        If the scenarios' stores and the stacked file would not fit on the disk.
    """
    out = Path(out)
    work = sweep_work_path(out)
    check_sweep_disk(experiments, keep, out, source)
    fingerprint = json.dumps([_config_json(e) for e in experiments] + [keep])
    total = sum(e.scenario.samples for e in experiments)
    with outputs.OutputLock(work):
        _prepare_sweep(work, fingerprint, resume)
        done = 0
        for i, experiment in enumerate(experiments):
            target = work / f"{i:04d}.zarr"

            def step(samples, _total, offset=done):  # progress over the whole sweep
                if progress is not None:
                    progress(offset + samples, total)

            if not (target.exists() and outputs.owned_by_tool(target)):
                run_to_file(experiment.scenario, target, keep=keep, scheduler=scheduler,
                            workers=workers, max_memory=max_memory, progress=step,
                            resume=partial_path(target).exists())
            done += experiment.scenario.samples
        datasets = [io.read_results(work / f"{i:04d}.zarr", lazy=True)
                    for i in range(len(experiments))]
        stacked = _stack(experiments, datasets)
        stacked.attrs.pop("run_id", None)
        stacked.attrs.pop("data_variables", None)
        io.write_results(stacked, out)
        for ds in datasets:
            ds.close()
        shutil.rmtree(work)
    return out


def check_sweep_disk(experiments: list[Experiment], keep: str, out: Path,
                     source: str = "sweep") -> None:
    """Refuse up front a sweep to disk whose scenarios' stores and stacked file (twice
    the uncompressed results) would not fit on the output's disk."""
    def need(samples: int | None = None) -> int:
        return 2 * sum(kept_bytes(e.scenario, e.scenario.samples if samples is None
                                  else samples, keep) for e in experiments)

    free = io.free_disk_bytes(out.parent)
    if need() <= free:
        return
    raise _too_big(experiments, keep, source, int(free // need(1)),
                   f"{byte_size(need())} on disk but {byte_size(free)} is free at "
                   f"{out.parent}")


def _prepare_sweep(work: Path, fingerprint: str, resume: bool) -> None:
    """Create the sweep's working folder, or check the one a resumed sweep left."""
    settings = work / "sweep.json"
    if work.exists() and (work.is_symlink() or outputs.read_marker(work) is None):
        raise OutputError(f"{work} exists and was not written by fiscal-sim; the tool "
                          "never deletes it: move it away")
    if resume:
        if not work.is_dir():
            raise ParameterError("resume", f"no partial sweep to resume at {work}")
        try:
            same = json.loads(settings.read_text(encoding="utf-8")) == fingerprint
        except (OSError, ValueError):
            same = False
        if not same:
            raise ParameterError("resume", f"the partial sweep at {work} was made with other "
                                 "settings (scenarios, samples, seed or keep); rerun "
                                 "without resume")
        return
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    outputs.write_marker(work, outputs.new_run_id(), "sweep")
    settings.write_text(json.dumps(fingerprint), encoding="utf-8")


def _homogeneous(experiments: list[Experiment]) -> bool:
    """Same time grid, samples, loss mode, claims and config keys given (so the same
    outputs): results can share arrays."""
    first = experiments[0].scenario

    def shape_of(s: Scenario):
        return (s.samples, s.loss_mode, tuple(c.label for c in s.claims), s.given)

    return all(np.array_equal(e.scenario.grid.bounds, first.grid.bounds)
               and shape_of(e.scenario) == shape_of(first) for e in experiments)


def _run_stacked(experiments: list[Experiment], keep: str, scheduler: str,
                 workers: int | None, progress: Progress | None, total: int,
                 available_bytes: int) -> xr.Dataset:
    """Run scenarios straight into arrays with a leading ``scenario`` axis (no copies):
    each scenario's plan fills views of them (`sim.run.sinks.ArraySink`)."""
    first = experiments[0].scenario
    grid, n, count = first.grid, first.samples, len(experiments)
    k, y = grid.n_steps, len(grid.calendar_years())
    arrays = {name: np.empty((count, *shape(name, k, y, n)), STORAGE_DTYPE)
              for name in kept_names(keep, first)}
    keys = list(dict.fromkeys(key for e in experiments
                              for key in uncertain_keys(e.scenario.priors)))
    params = {key: np.full((count, n), np.nan) for key in keys}
    claims = np.empty((count, len(first.claims), n))
    statistics, seconds = [], 0.0
    for s, experiment in enumerate(experiments):
        scenario = experiment.scenario
        own = uncertain_keys(scenario.priors)
        for key in keys:
            if key not in own and key in scenario.priors:  # fixed by a factor here
                params[key][s] = scenario.priors[key].params["value"]
        sink = ArraySink(scenario, keep, {name: a[s] for name, a in arrays.items()},
                         {key: params[key][s] for key in own}, claims[s])
        sketches = SketchSink(streamed_names(keep, scenario), k)

        def step(samples, _total, offset=s * n):  # progress over the whole sweep
            if progress is not None:
                progress(offset + samples, total)

        # The sweep's memory was checked as a whole; this scenario's arrays are views.
        plan = make_plan(scenario, root_seed(scenario.seed), keep=keep, scheduler=scheduler,
                         workers=workers, available_bytes=available_bytes)
        seconds += execute(plan, [sink, sketches], step)[1]
        statistics.append(sketches.data_vars())

    owners = {key: param_attrs(next(e.scenario for e in experiments
                                    if key in uncertain_keys(e.scenario.priors)), key)
              for key in keys}
    variables = data_variables(first, keep, arrays, params, claims, scenario_axis=True,
                               params_attrs=owners)
    stacked = {name: ((SCENARIO, *dims), np.stack([st[name][1] for st in statistics]),
                      var_attrs)
               for name, (dims, _, var_attrs) in (statistics[0] if statistics else {}).items()}
    stacked["scenario_config"] = ((SCENARIO,), [_config_json(e) for e in experiments],
                                  SCENARIO_CONFIG_ATTRS)
    ds = results_dataset(first, root_seed(first.seed), keep, variables, stacked,
                         timing_attrs(total, seconds, scheduler))
    return _label_scenarios(ds, experiments)


SCENARIO_CONFIG_ATTRS = attrs("1", "scenario config",
                              "Each scenario's label and resolved config, as JSON.")


def _config_json(experiment: Experiment) -> str:
    return json.dumps({"label": experiment.label,
                       "config": experiment.scenario.resolved_json()})


def _label_scenarios(ds: xr.Dataset, experiments: list[Experiment]) -> xr.Dataset:
    """Scenario coordinates (one per factor, and the label) and sweep-level attrs."""
    coords = {SCENARIO: np.arange(len(experiments)),
              "scenario_label": (SCENARIO, [e.label for e in experiments])}
    for key in dict.fromkeys(k for e in experiments for k in e.factors):
        values = [e.factors.get(key) for e in experiments]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        coords[key] = (SCENARIO, np.array(values, dtype=float) if numeric else
                       [v if isinstance(v, str) else json.dumps(v) for v in values])
    ds = ds.assign_coords(coords)
    ds.attrs.update(title="fiscal-strain-sim sweep", scenarios=len(experiments))
    for name in ("config_resolved", "config_path", "config_files"):
        ds.attrs.pop(name, None)
    return ds


def _stack(experiments: list[Experiment], datasets: list[xr.Dataset]) -> xr.Dataset:
    params = {name for ds in datasets for name in ds.data_vars if name.startswith("param_")}
    filled = []
    for experiment, ds in zip(experiments, datasets, strict=True):
        missing = {}
        for key, prior in experiment.scenario.priors.items():
            name = param_name(key)
            if name in params and name not in ds:
                missing[name] = ("sample", np.full(ds.sizes["sample"], prior.params["value"]),
                                 param_attrs(experiment.scenario, key))
        filled.append(ds.assign(missing).assign(
            scenario_config=((), _config_json(experiment), SCENARIO_CONFIG_ATTRS)
        ).drop_attrs(deep=False))
    stacked = xr.concat(filled, dim=SCENARIO, join="outer", fill_value=np.nan,
                        coords="minimal", compat="override")
    claims = {c["label"]: c for d in datasets for c in json.loads(d.attrs["claims"])}
    stacked.attrs = {**datasets[0].attrs, "claims": json.dumps(list(claims.values())),
                     "wall_seconds": round(sum(d.attrs["wall_seconds"] for d in datasets), 3)}
    return _label_scenarios(stacked, experiments)


# ---------------------------------------------------------------- comparison table

COMPARED = {
    "force_change_persons": "force change",
    "bonus_spend_usd_per_day_mean": "bonus spend",
    "bonus_share_of_defense_horizon": "bonus/defence",
    "months_of_decline": "months of decline",
}
"""Outcomes in the comparison table, with their short column names (the text adds units)."""

COMPARISON_QUANTILES = (0.05, 0.5, 0.95)


def factor_names(ds: xr.Dataset) -> list[str]:
    """The sweep's factors: the coordinates along ``scenario`` other than its index and
    ``scenario_label`` (dotted config keys, or ``config`` for a list of configs)."""
    return [str(name) for name, coord in ds.coords.items()
            if coord.dims == (SCENARIO,) and name not in (SCENARIO, "scenario_label")]


def _factor_values(ds: xr.Dataset, name: str) -> list:
    return [v.item() if hasattr(v, "item") else v for v in np.asarray(ds[name].values)]


def fixed_and_varying_factors(ds: xr.Dataset) -> tuple[dict[str, Any], list[str]]:
    """The factors with one value in every scenario (name -> value), and the others.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep (`run_experiments`).

    Returns
    -------
    fixed : dict
        Factor -> its value, for the factors the same in every scenario.
    varying : list of str
        The factors that differ between scenarios, in sweep order.
    """
    fixed, varying = {}, []
    for name in factor_names(ds):
        values = _factor_values(ds, name)
        same = all(v == values[0] or (v != v and values[0] != values[0]) for v in values)
        if same and ds.sizes[SCENARIO] > 1:
            fixed[name] = values[0]
        else:
            varying.append(name)
    return fixed, varying


def comparison_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per scenario: median and 90% interval of key outcomes, and each claim's verdict,
    as text for people (the report's summary.csv holds the numbers).

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep (`run_experiments`).

    Returns
    -------
    pandas.DataFrame
        One row per scenario. Columns: ``scenario`` (its label); one per outcome of
        `COMPARED` (named as the variable), ``"median [p5, p95]"`` over samples in the
        variable's units (``85.4k [-109k, 287k]`` persons, ``20.6M [15.8M, 26.5M]``
        USD/day, shares in %, months with one decimal); one per claim label,
        ``"verdict (percentile)"`` (``inside (59)``: the verdict against the scenario's
        90% band and the claim's percentile in its samples).
    """
    rows = []
    for i in range(ds.sizes[SCENARIO]):
        one = ds.isel({SCENARIO: i})
        row = {"scenario": str(one.scenario_label.values)}
        for name in COMPARED:
            row[name] = _band_text(one[name])
        for _, claim in claims_table(one).iterrows():
            row[claim["claim"]] = f"{claim['verdict']} ({claim['percentile']:.0f})"
        rows.append(row)
    return pd.DataFrame(rows)


def _band_text(da: xr.DataArray) -> str:
    """``median [p5, p95]`` of a per-sample variable, in its units (`format_value`)."""
    x = np.asarray(da, dtype=np.float64)
    if not np.isfinite(x).any():
        return "n/a"
    units = da.attrs.get("units", "")
    p5, p50, p95 = (format_value(v, units) for v in np.nanquantile(x, COMPARISON_QUANTILES))
    return f"{p50} [{p5}, {p95}]"


def short_factor_names(names: list[str]) -> dict[str, str]:
    """Factor names as column headers or tick labels: the last part of a dotted key when
    that is unique (``bonus.regional_growth`` -> ``regional_growth``), else the whole key.

    Parameters
    ----------
    names : list of str
        Dotted config keys.

    Returns
    -------
    dict of str to str
        Each name's short form.
    """
    last = [name.split(".")[-1] for name in names]
    return {name: short if last.count(short) == 1 else name
            for name, short in zip(names, last, strict=True)}


def factor_text(value) -> str:
    """A factor's value for people: numbers with k/M/bn/trn (``1.2M``), text unchanged.

    Parameters
    ----------
    value : object

    Returns
    -------
    str
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return str(value)
    return human(value)


def _scenario_columns(ds: xr.Dataset) -> pd.DataFrame:
    """The columns that name each scenario: one per varying factor (short names), or the
    label when whole configs are compared or nothing varies."""
    _, varying = fixed_and_varying_factors(ds)
    varying = [name for name in varying if name != "config"]
    if not varying:
        return pd.DataFrame({"scenario": [str(v) for v in ds.scenario_label.values]})
    short = short_factor_names(varying)
    return pd.DataFrame({short[name]: [factor_text(v) for v in _factor_values(ds, name)]
                         for name in varying})


def comparison_text(ds: xr.Dataset, width: int = TEXT_WIDTH) -> str:
    """The comparison of a sweep's scenarios as text for a terminal.

    Factors with the same value in every scenario are listed once above the tables;
    each scenario is named by the factors that vary (last part of the dotted key,
    ``regional_growth``, unless two factors share it) or, for a list of configs, by the
    config's file stem. The first table shows the median [5th, 95th percentile] of the
    outcomes of `COMPARED`, units in the header. The second shows each claim's verdict
    against each scenario's 90% band with the claim's percentile; claims inside the band
    in every scenario are listed on one line instead of as columns; the claims are
    numbered ``C1``, ``C2`` ... with a legend below. A table wider than `width` is split
    into blocks of columns, each repeating the scenario columns.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep (`run_experiments`).
    width : int
        The widest line [characters].

    Returns
    -------
    str
        Several lines, none wider than `width` unless one cell is.
    """
    fixed, _ = fixed_and_varying_factors(ds)
    names = _scenario_columns(ds)
    keys = list(names.columns)
    outcomes = names.copy()
    for name in COMPARED:
        units = ds[name].attrs.get("units", "")
        header = (COMPARED[name] if units in MONTH_UNITS
                  else f"{COMPARED[name]} [{unit_label(units)}]")
        outcomes[header] = [_band_text(ds[name].isel({SCENARIO: i}))
                            for i in range(ds.sizes[SCENARIO])]
    lines = [f"{ds.sizes[SCENARIO]} scenarios x {ds.sizes.get('sample', 0):,} samples; "
             "outcomes: median [5th, 95th percentile] over samples"]
    if fixed:
        lines.append("fixed in every scenario: " + ", ".join(
            f"{name}={factor_text(value)}" for name, value in fixed.items()))
    lines += ["", table_text(outcomes, left=keys, repeat=len(keys), width=width)]

    verdicts = [claims_table(ds.isel({SCENARIO: i})).set_index("claim")
                for i in range(ds.sizes[SCENARIO])]
    labels = list(dict.fromkeys(label for table in verdicts for label in table.index))
    if not labels:
        return "\n".join(lines)
    number = {label: f"C{i + 1}" for i, label in enumerate(labels)}
    inside_everywhere = [label for label in labels
                         if all(label in t.index and t.loc[label, "verdict"] == "inside"
                                for t in verdicts)]
    shown = [label for label in labels if label not in inside_everywhere]
    prior = {label for t in verdicts for label in t.index if t.loc[label, "used_for"] ==
             "prior"}
    lines += ["", "Claims: verdict against each scenario's 90% band (the claim's percentile "
              "in its samples); * set a prior, tests nothing"]
    if inside_everywhere:
        lines.append("inside the band in every scenario: "
                     + ", ".join(number[label] + ("*" if label in prior else "")
                                 for label in inside_everywhere))
    if any(label not in t.index for label in shown for t in verdicts):
        lines.append("-: not a claim of that scenario")
    if shown:
        table = names.copy()
        for label in shown:
            table[number[label] + ("*" if label in prior else "")] = [
                f"{t.loc[label, 'verdict']} {t.loc[label, 'percentile']:.0f}"
                if label in t.index else "-" for t in verdicts]
        lines.append(table_text(table, left=keys, repeat=len(keys), width=width))
    lines += [f"  {number[label]}: {label}" for label in labels]
    return "\n".join(lines)
