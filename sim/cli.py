"""The ``fiscal-sim`` command line.

Developer note: argument parsing and printing only, no numerics; the work is done by the
library (`sim.run`, `sim.analysis`, `sim.report`). User errors (bad config, flag, path)
print one line on stderr and exit 2. What users see is `DESCRIPTION` and `EPILOG`, not
this docstring.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sim import io
from sim.analysis.calibration import MAX_MOVES
from sim.analysis.experiments import (
    compare_experiments,
    comparison_text,
    load_sweep,
    run_experiments,
    run_experiments_to_file,
)
from sim.analysis.sensitivity import ranked_table, sensitivity
from sim.analysis.summary import summarize
from sim.config.scenario import MAX_SEED, load_scenario
from sim.errors import ParameterError, UserError
from sim.io import outputs
from sim.numbers import human, percent
from sim.run.schedulers import check_scheduler
from sim.run.simulate import simulate
from sim.run.streamed import run_to_file
from sim.version import __version__

REPORTER = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A reporter's name: a bare TOML key."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help with the description and examples as written, and the commands listed under
    their title without a bare ``COMMAND`` line."""

    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=18)
        # argparse sizes the first column before it indents the commands under their
        # title; room for the longest name ("observations") keeps each on one line
        self._action_max_length = 16

    def _format_action(self, action: argparse.Action) -> str:
        text = super()._format_action(action)
        if action.nargs == argparse.PARSER:  # the subcommands: drop their metavar's line
            text = text.split("\n", 1)[1]
        return text


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def _flag_type(convert: Callable[[str], Any], accept: Callable[[Any], bool],
               expected: str) -> Callable[[str], Any]:
    """An argparse type: `convert` the text, keep it if `accept`s it, else refuse with one
    message whatever is wrong ("expected EXPECTED, got 'TEXT'"), so that the range a flag
    names is the range it accepts.

    Parameters
    ----------
    convert : callable
        ``convert(text)``, raising ValueError for text that is not a value.
    accept : callable
        Whether a converted value is allowed.
    expected : str
        What the message says is expected.

    Returns
    -------
    callable
        ``parse(text)``, raising `argparse.ArgumentTypeError`.
    """
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def _whole(text: str) -> int:
    return int(text.replace("_", ""))


def _integer(minimum: int, maximum: int | None = None, *,
             expected: str | None = None) -> Callable[[str], int]:
    """An argparse type for an integer flag in [`minimum`, `maximum`] (``_`` separators
    allowed); `expected` defaults to "an integer >= MINIMUM" or "an integer in [MINIMUM,
    MAXIMUM]" (`_flag_type`)."""
    if expected is None:
        expected = (f"an integer >= {minimum}" if maximum is None
                    else f"an integer in [{minimum}, {maximum}]")
    return _flag_type(_whole, lambda v: v >= minimum and (maximum is None or v <= maximum),
                      expected)


MAX_WORKERS = 1024
"""More workers than this is a typo; each holds chunks in memory."""

_count = _integer(1)
"""Samples, chunk samples, months: a whole number >= 1."""

_seed = _integer(0, MAX_SEED, expected="an integer in [0, 2^63 - 1]")
"""The range `sim.config.scenario` accepts for ``run.seed``."""

_workers = _integer(1, MAX_WORKERS)

_particles = _integer(2, expected="at least 2 particles (an integer)")
"""`sim.analysis.calibration.calibrate` needs at least 2 particles."""

_moves = _integer(1, MAX_MOVES)
"""pCN moves per stage, as `sim.analysis.calibration.calibrate` accepts them."""


_power_of_two = _flag_type(_whole, lambda v: v >= 2 and not v & (v - 1),
                           "a power of two >= 2 such as 1024 or 4096")
"""Sobol base samples (`sim.analysis.sensitivity.sensitivity`)."""

_density = _flag_type(float, lambda v: 0 < v <= 1, "a number in (0, 1]")
"""A share (``--min-density``), as `sim.analysis.discovery` accepts it."""

_positive_number = _flag_type(float, lambda v: math.isfinite(v) and v > 0,
                              "a finite number > 0")
"""``--log-sd``."""


def _bracket(text: str) -> tuple[float, float]:
    """Two scales "LOW,HIGH" (checked further by `sim.analysis.breakeven.check_bracket`)."""
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers LOW,HIGH such as 0,10, got "
                                         f"{text!r}") from None


def _memory_size(text: str) -> int:
    """Bytes from "2G", "512M", "1.5GB", "100000"."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in units else (cleaned, "")
    try:
        value = float(number) * units.get(unit, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 2G or 512M, got {text!r}"
                                         ) from None
    if not math.isfinite(value) or value < 1 or value > 2**60:
        raise argparse.ArgumentTypeError(f"expected a size between 1 byte and 1 EiB, such as "
                                         f"2G or 512M; got {text!r}")
    return int(value)


def _add_overrides(parser: argparse.ArgumentParser,
                   help_text: str = "override a config key") -> None:
    """``--set KEY=VALUE``, repeatable, into ``args.overrides``."""
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help=help_text)


def _add_batch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", choices=("full", "summary"), default="full",
                        help="full: every variable for every sample; summary: per-sample "
                             "outcomes and per-step streaming quantiles (bounded memory)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run to the same --out")
    parser.add_argument("--scheduler", default="sync",
                        help="sync (default), threads, processes, or a Dask scheduler address "
                             "such as tcp://10.0.0.5:8786; results are identical")
    parser.add_argument("--workers", type=_workers,
                        help="worker processes or threads (default: the machine's cores)")
    parser.add_argument("--max-memory", type=_memory_size,
                        help="bound on the working set, e.g. 2G; chunks are sized to fit")
    parser.add_argument("--chunk-samples", type=_count,
                        help="samples processed at once (memory vs speed; results unchanged)")
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")


def _add_experiment_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=_count, help="override every scenario's samples")
    parser.add_argument("--seed", type=_seed, help="override every scenario's seed")
    parser.add_argument("--out", help="write the stacked results (.nc or .zarr); each "
                        "scenario is streamed to disk first, so a sweep can be resumed")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted sweep to the same --out")
    parser.add_argument("--keep", choices=("full", "summary"), default="full",
                        help="full: every variable; summary: per-sample outcomes and "
                             "per-step streaming quantiles")
    parser.add_argument("--scheduler", default="sync",
                        help="sync (default), threads, processes, or a Dask scheduler address")
    parser.add_argument("--workers", type=_workers, help="parallel workers")
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")


DESCRIPTION = """\
Monte Carlo simulation of Russian contract-soldier recruitment, losses and the
signing-bonus bill, and of who pays it (federal and regional budgets). Give the
disputed figures of a scenario as ranges in a TOML config; get distributions of the
force, the bonus spending in RUB and USD, its weight in the budgets, and where each
published claim falls."""

EPILOG = """\
examples:
  fiscal-sim run configs/baseline.toml                    summary and claims tables
  fiscal-sim run configs/baseline.toml --out results/baseline.nc
  fiscal-sim report results/baseline.nc                   figures and index.html
  fiscal-sim sensitivity configs/baseline.toml --outcome bonus_spend_usd_per_day_mean

'fiscal-sim COMMAND --help' lists a command's options. README.md explains the
scenarios, the outputs and the Python API; docs/ has the model and the config keys."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    parser = _Parser(prog="fiscal-sim", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                     title="commands", metavar="COMMAND")

    run = commands.add_parser("run", help="simulate a scenario and print its summary")
    run.add_argument("config", help="scenario TOML file")
    run.add_argument("--samples", type=_count, help="override [run] samples")
    run.add_argument("--seed", type=_seed, help="override [run] seed")
    run.add_argument("--design", choices=("random", "lhs", "sobol"),
                     help="override [run] design (sobol needs a power-of-two sample count)")
    run.add_argument("--out", help="write the results to this netCDF file")
    _add_overrides(run, 'override a config key, e.g. recruitment.per_month="40000 to 55000"')
    _add_batch_options(run)
    run.set_defaults(handler=_run)

    sens = commands.add_parser(
        "sensitivity", help="Sobol indices, rank correlations and a tornado for one outcome")
    sens.add_argument("config", help="scenario TOML file")
    sens.add_argument("--outcome", required=True,
                      help="output variable, e.g. bonus_spend_usd_per_day_mean")
    sens.add_argument("--time", help="for per-step outcomes: a date (YYYY-MM-DD) or 'all'")
    sens.add_argument("--samples", type=_power_of_two, default=2**12,
                      help="base samples, a power of two (default 4096); Sobol costs "
                           "(parameters + 2) x samples model runs")
    sens.add_argument("--seed", type=_seed, help="override [run] seed")
    sens.add_argument("--log", action="store_true", help="analyse log(outcome)")
    sens.add_argument("--rank-only", action="store_true",
                      help="rank correlations and tornado only (for correlated priors)")
    sens.add_argument("--out", help="write the results to this netCDF file")
    _add_overrides(sens)
    sens.set_defaults(handler=_sensitivity)

    sweep = commands.add_parser("sweep", help="run the scenarios of a sweep file (a base config "
                                "and the factors to vary) and compare them")
    sweep.add_argument("file", help="sweep TOML file (base + [factors], or configs = [...])")
    _add_experiment_options(sweep)
    sweep.set_defaults(handler=_sweep)

    compare = commands.add_parser("compare", help="run scenario configs side by side")
    compare.add_argument("configs", nargs="+", help="scenario TOML files")
    _add_experiment_options(compare)
    compare.set_defaults(handler=_compare)

    report = commands.add_parser("report", help="figures, summary.csv and a self-contained "
                                 "index.html for a results file")
    report.add_argument("results", help="results from run, sweep, compare, sensitivity, "
                        "calibrate or backtest")
    report.add_argument("--out", help="report directory (default: RESULTS_report)")
    report.set_defaults(handler=_report)

    cal = commands.add_parser("calibrate", help="condition the priors and noise on observed "
                              "figures, and forecast to the horizon")
    cal.add_argument("config", help="scenario TOML file")
    cal.add_argument("--observations", required=True, action="append",
                     help="observation TOML file (repeat for several: their observations "
                          "together)")
    cal.add_argument("--particles", type=_particles, default=4000, help="particles (4000)")
    cal.add_argument("--method", choices=("smc", "importance"), default="smc",
                     help="tempered SMC (default) or importance weighting for quick looks")
    cal.add_argument("--moves", type=_moves, default=5,
                     help="pCN moves per tempering stage (5)")
    cal.add_argument("--seed", type=_seed, help="override [run] seed")
    cal.add_argument("--out", help="write the posterior and forecast (.nc or .zarr)")
    _add_overrides(cal)
    cal.set_defaults(handler=_calibrate)

    bt = commands.add_parser("backtest", help="calibrate on observations before a cutoff, "
                             "forecast the later ones and score them against naive forecasts")
    bt.add_argument("config", help="scenario TOML file")
    bt.add_argument("--observations", required=True, action="append",
                    help="observation TOML file (repeat for several)")
    bt.add_argument("--cutoff", required=True, help="first (or only) cutoff, YYYY-MM-DD: "
                    "observations ending by it train, those starting at or after it are scored")
    bt.add_argument("--horizon", type=_count,
                    help="score only observations within this many months of the cutoff")
    bt.add_argument("--every", help="rolling cutoffs every N months from --cutoff while "
                    "observations remain after them, e.g. 3M")
    bt.add_argument("--particles", type=_particles, default=4000, help="particles (4000)")
    bt.add_argument("--method", choices=("smc", "importance"), default="smc",
                    help="tempered SMC (default) or importance weighting")
    bt.add_argument("--seed", type=_seed, help="override [run] seed")
    bt.add_argument("--out", help="write the scores (netCDF); `fiscal-sim report` draws them")
    _add_overrides(bt)
    bt.set_defaults(handler=_backtest)

    obs = commands.add_parser("observations", help="build an observation file from a "
                              "reported cumulative series (JSON or CSV)")
    obs.add_argument("file", help='JSON list of {"date", "personnel"} or CSV date,cumulative')
    obs.add_argument("--from", dest="first", required=True, help="first month (YYYY-MM-DD)")
    obs.add_argument("--to", dest="last", required=True, help="last month (YYYY-MM-DD)")
    obs.add_argument("--freq", choices=("month",), default="month", help="aggregation")
    obs.add_argument("--log-sd", type=_positive_number, default=0.1, help="error model (0.1)")
    obs.add_argument("--reporter", default="general_staff", help="bias key (general_staff)")
    obs.add_argument("--fill-gaps", action="store_true", help="interpolate missing days")
    obs.add_argument("--out", required=True, help="observation TOML file to write")
    obs.set_defaults(handler=_observations)

    be = commands.add_parser("breakeven", help="per sample, the lever scale at which the force "
                             "at the horizon equals the force at the start, and its cost")
    be.add_argument("config", help="scenario TOML file")
    be.add_argument("--lever", choices=("bonus", "recruitment"), default="bonus",
                    help="bonus: scale the regional bonus (needs a bonus elasticity); "
                         "recruitment: scale the recruitment level (default bonus)")
    be.add_argument("--target", choices=("force-constant",), default="force-constant",
                    help="force-constant: the force at the horizon equals the force at the "
                         "start")
    be.add_argument("--bracket", type=_bracket, default=(0.0, 10.0), metavar="LOW,HIGH",
                    help="scales searched, LOW <= 1 <= HIGH (1 = today's level; default 0,10)")
    be.add_argument("--samples", type=_count, help="override [run] samples")
    be.add_argument("--seed", type=_seed, help="override [run] seed")
    be.add_argument("--out", help="write the per-sample results to this netCDF file")
    _add_overrides(be)
    be.set_defaults(handler=_breakeven)

    disc = commands.add_parser("discover", help="scenario discovery (PRIM): ranges of sampled "
                               "parameters where a condition on the results mostly holds")
    disc.add_argument("results", help="results of one run (netCDF or Zarr, from run --out)")
    disc.add_argument("--where", required=True,
                      help='condition on per-sample outputs and param_* variables, e.g. '
                           '"force_change_persons < 0" (comparisons, and, or, not)')
    disc.add_argument("--min-density", type=_density, default=0.8,
                      help="density the reported box should reach (default 0.8)")
    disc.add_argument("--inputs", help="comma-separated param_* variables the box may restrict "
                                       "(default: every varying one)")
    disc.add_argument("--out", help="directory for the figure (PNG, SVG), the trajectory and "
                                    "the box (CSV)")
    disc.set_defaults(handler=_discover)

    validate = commands.add_parser("validate", help="check a scenario config without running")
    validate.add_argument("config", help="scenario TOML file")
    _add_overrides(validate)
    validate.set_defaults(handler=_validate)
    return parser


class ProgressBar:
    """Progress of a run on stderr: a tqdm bar with the rate and the time left.

    The bar appears only once the run has taken over `delay_seconds` (a run that
    finishes in under a second prints nothing) and only when stderr is a terminal (a
    log file or a pipe gets no bar). Called as ``bar(done_samples, total_samples)``
    after each chunk, the `sim.run.plan.Progress` interface of runs and sweeps.

    Parameters
    ----------
    enabled : bool
        False (``--no-progress``) never draws a bar.
    delay_seconds : float
        Time before the bar may appear [s].
    """

    def __init__(self, enabled: bool = True, delay_seconds: float = 1.0):
        stream = sys.stderr
        self.bar = None
        if enabled and stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=None, file=stream, delay=delay_seconds, unit=" samples",
                            unit_scale=True, dynamic_ncols=True, leave=True)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        """End the bar's line, if it was drawn."""
        if self.bar is not None:
            self.bar.close()


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.config, args.overrides, override_source="--set").with_run(
        args.samples, args.seed, args.design)
    check_scheduler(args.scheduler)
    if args.resume and not args.out:
        raise UserError("--resume: needs --out, the file the interrupted run was writing")
    if args.out is not None:
        outputs.check_output(args.out, "results", inputs=scenario.files)
    bar = ProgressBar(enabled=not args.no_progress)
    started = time.perf_counter()
    try:
        if args.out is not None:
            path = run_to_file(scenario, args.out, keep=args.keep, resume=args.resume,
                               scheduler=args.scheduler, workers=args.workers,
                               chunk_samples=args.chunk_samples, max_memory=args.max_memory,
                               progress=bar)
            ds = io.read_results(path, lazy=True)
        else:
            ds = simulate(scenario, keep=args.keep, chunk_samples=args.chunk_samples,
                          progress=bar, scheduler=args.scheduler, workers=args.workers,
                          available_bytes=args.max_memory)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    print(f"{scenario.path}: {scenario.samples} samples x {scenario.grid.n_steps} "
          f"{scenario.grid.step} steps from {scenario.grid.start}, {scenario.design} design, "
          f"seed {scenario.seed}, {seconds:.2f} s\n")
    print(summarize(ds))
    if args.out is not None:
        print(f"\nwrote {path}")
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.config, args.overrides, override_source="--set")
    if args.out is not None:
        outputs.check_output(args.out, "results", inputs=scenario.files)
    ds = sensitivity(scenario, args.outcome, args.time, samples=args.samples, seed=args.seed,
                     log=args.log, rank_only=args.rank_only)
    print(ranked_table(ds))
    if args.out is not None:
        print(f"\nwrote {io.write_results(ds, args.out)}")
    return 0


def _run_experiments(experiments, args: argparse.Namespace, inputs: list[str],
                     source: str) -> int:
    check_scheduler(args.scheduler)
    experiments = [replace(e, scenario=e.scenario.with_run(args.samples, args.seed))
                   for e in experiments]
    if args.out is not None:
        files = [*inputs, *(f for e in experiments for f in e.scenario.files)]
        outputs.check_output(args.out, "results", inputs=files)
    if args.resume and not args.out:
        raise UserError("--resume: needs --out, the file the interrupted sweep was writing")
    bar = ProgressBar(enabled=not args.no_progress)
    try:
        if args.out is not None:
            path = run_experiments_to_file(experiments, args.out, keep=args.keep,
                                           resume=args.resume, scheduler=args.scheduler,
                                           workers=args.workers, progress=bar,
                                           source=source)
            ds = io.read_results(path, lazy=True)
        else:
            ds = run_experiments(experiments, keep=args.keep, scheduler=args.scheduler,
                                 workers=args.workers, progress=bar, source=source)
    finally:
        bar.close()
    print(comparison_text(ds))
    print(f"\nran in {ds.attrs['wall_seconds']:.2f} s")
    if args.out is not None:
        print(f"\nwrote {path}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    return _run_experiments(load_sweep(args.file), args, [args.file], args.file)


def _compare(args: argparse.Namespace) -> int:
    return _run_experiments(compare_experiments(args.configs), args, args.configs, "compare")


def _report(args: argparse.Namespace) -> int:
    from sim.report.html import write_report  # matplotlib only when a report is asked for

    print(f"wrote {write_report(args.results, args.out)}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from sim.analysis.calibration import calibrate
    from sim.config.observations import load_observation_files

    scenario = load_scenario(args.config, args.overrides, override_source="--set")
    observations = load_observation_files(args.observations, scenario.grid)
    if args.out is not None:
        outputs.check_output(args.out, "results",
                             inputs=[*scenario.files, *args.observations])
    def progress(line: str) -> None:  # the collapse warning goes to stderr, once, below
        if not line.startswith("WARNING: "):
            print(line)

    ds = calibrate(scenario, observations, particles=args.particles, seed=args.seed,
                   method=args.method, moves=args.moves, log=progress)
    ess = ", ".join(human(x) for x in json.loads(ds.attrs["stage_ess"]))
    print(f"\n{ds.attrs['calibration_method']}: {ds.attrs['stages']} stage(s), effective "
          f"sample size per stage {ess}, log evidence {ds.attrs['log_evidence']:.2f}, "
          f"{ds.attrs['final_distinct_particles']} distinct particles")
    if "warning" in ds.attrs:
        print(f"WARNING: {ds.attrs['warning']}", file=sys.stderr)
    table = ds[["prior_p5", "prior_p50", "prior_p95", "posterior_p5", "posterior_p50",
                "posterior_p95"]].to_dataframe().map(human)
    table["narrowing"] = [percent(x) for x in ds["narrowing"].values]
    print("\nPrior against posterior (5th, 50th, 95th percentiles; narrowing = posterior 90% "
          "width as a share of the prior's)")
    print(table.to_string())
    pairs = json.loads(ds.attrs["unseparable_pairs"])
    if pairs:
        print(pairs_text(pairs))
    checks = ds[["observed", "predictive_p5", "predictive_p50", "predictive_p95"]
                ].to_dataframe().map(human)
    checks["percentile"] = [f"{x:.0f}" for x in ds["predictive_percentile"].values]
    print("\nPosterior predictive checks (percentile: where the observed figure falls in the "
          "posterior predictive distribution, 0 to 100)")
    print(checks.to_string())
    print()
    print(summarize(ds))
    if args.out is not None:
        print(f"\nwrote {io.write_results(ds, args.out)}")
    return 0


PAIRS_SHOWN = 10
"""Unseparable pairs printed by ``calibrate`` (the strongest; the file holds them all)."""


def pairs_text(pairs: list[dict]) -> str:
    """The pairs of parameters the observations cannot separate, strongest first, at most
    `PAIRS_SHOWN` of them.

    Parameters
    ----------
    pairs : list of dict
        ``{"a", "b", "rank_correlation"}`` each, strongest first (the results'
        ``unseparable_pairs`` attribute).

    Returns
    -------
    str
    """
    shown = "; ".join(f"{p['a']} and {p['b']} ({p['rank_correlation']:+.2f})"
                      for p in pairs[:PAIRS_SHOWN])
    more = (f"; and {len(pairs) - PAIRS_SHOWN} more (posterior_rank_correlation in the "
            "results)" if len(pairs) > PAIRS_SHOWN else "")
    return ("\nPairs these observations cannot separate (posterior rank correlation): "
            + shown + more)


EVERY = re.compile(r"([1-9][0-9]{0,2})M")
"""A rolling step in months: 1M to 999M."""


def _backtest(args: argparse.Namespace) -> int:
    import datetime as dt

    from sim.analysis.backtest import (
        backtest_table,
        backtest_text,
        cutoff_dates,
        rolling_backtest,
        split_observations,
    )
    from sim.config.observations import load_observation_files

    try:
        cutoff = dt.date.fromisoformat(args.cutoff)
    except ValueError:
        raise UserError(f"--cutoff: expected a date YYYY-MM-DD, got {args.cutoff!r}") from None
    every = None
    if args.every is not None:
        match = EVERY.fullmatch(args.every.strip().upper())
        if match is None:
            raise UserError(f"--every: expected a number of months such as 3M, got "
                            f"{args.every!r}")
        every = int(match.group(1))
    scenario = load_scenario(args.config, args.overrides, override_source="--set")
    observations = load_observation_files(args.observations, scenario.grid)
    if args.out is not None:
        outputs.check_output(args.out, "results",
                             inputs=[*scenario.files, *args.observations])
    last = max((o.claim.start or o.claim.date for o in observations.observations),
               default=cutoff)  # the last cutoff that still holds an observation out
    cutoffs = [cutoff]
    if every is not None:  # rolling: only the cutoffs with something to learn and to score
        rolling = cutoff_dates(cutoff, max(last, cutoff), every)
        cutoffs = [day for day in rolling if day < scenario.grid.end and (
            (split := split_observations(observations, day, args.horizon)).training
            .observations and split.heldout.observations)] or rolling[:1]
        skipped = [str(day) for day in rolling if day not in cutoffs]
        if skipped:
            print(f"skipped cutoffs with nothing to train on or to score: "
                  f"{', '.join(skipped)}", file=sys.stderr)
    ds = rolling_backtest(scenario, observations, cutoffs, horizon_months=args.horizon,
                          particles=args.particles, seed=args.seed, method=args.method)
    table = backtest_table(ds)
    print(f"{scenario.path}: backtest at {len(cutoffs)} cutoff(s), {args.particles} "
          f"particles, observations {observations.path}\n")
    print(backtest_text(table))
    if args.out is not None:
        print(f"\nwrote {io.write_results(ds, args.out)}")
    return 0


def _observations(args: argparse.Namespace) -> int:
    import datetime as dt

    from sim.config.observations import monthly_totals, observations_toml, read_series

    dates = []
    for flag, text in (("--from", args.first), ("--to", args.last)):
        try:
            dates.append(dt.date.fromisoformat(text))
        except ValueError:
            raise UserError(f"{flag}: expected a date YYYY-MM-DD, got {text!r}") from None
    first, last = dates
    if first > last:
        raise UserError(f"--from {first} is after --to {last}; expected --from <= --to")
    if not REPORTER.fullmatch(args.reporter):
        raise UserError(f"--reporter: expected a name of letters, digits, _ or - (at most 64), "
                        f"got {args.reporter!r}")
    outputs.check_output(args.out, "toml", inputs=[args.file])
    series = read_series(args.file, fill_gaps=args.fill_gaps)
    try:
        totals = monthly_totals(series, first, last)
    except UserError as error:
        raise UserError(f"{args.file}: {error_text(error)}") from None
    for start, end in series.gaps:
        state = "filled by interpolation" if args.fill_gaps else "not filled (--fill-gaps)"
        print(f"{args.file}: gap from {start} to {end}, {state}", file=sys.stderr)
    text = observations_toml(totals, "casualties", args.log_sd, args.reporter,
                             f"{Path(args.file).name}, monthly totals")
    path = io.write_text(text, args.out, "observations")
    print(f"wrote {len(totals)} monthly observations to {path}")
    return 0


def _breakeven(args: argparse.Namespace) -> int:
    from sim.analysis.breakeven import breakeven, breakeven_text

    scenario = load_scenario(args.config, args.overrides, override_source="--set")
    if args.out is not None:
        outputs.check_output(args.out, "results", inputs=scenario.files)
    ds = breakeven(scenario, lever=args.lever, target=args.target, bracket=args.bracket,
                   samples=args.samples, seed=args.seed)
    print(f"{scenario.path}: {ds.sizes['sample']} samples, seed {ds.attrs['seed']}, "
          f"{ds.attrs['model_runs']:.1f} model runs' worth in {ds.attrs['wall_seconds']:.2f} s\n")
    print(breakeven_text(ds))
    if args.out is not None:
        print(f"\nwrote {io.write_results(ds, args.out)}")
    return 0


def _discover(args: argparse.Namespace) -> int:
    from sim.analysis.discovery import discover

    target = (None if args.out is None
              else outputs.check_output(args.out, "directory", inputs=[args.results]))
    ds = io.read_results(args.results)
    inputs = None if args.inputs is None else [s.strip() for s in args.inputs.split(",")]
    try:
        result = discover(ds, args.where, min_density=args.min_density, inputs=inputs)
    except ParameterError as error:  # the results file is a positional argument, not a flag
        if error.parameter != "results":
            raise
        raise UserError(f"{args.results}: {error.message}") from None
    written = None if target is None else _write_discovery(result, target)  # before printing
    print(result.text())
    trajectory = result.trajectory
    shown = sorted({*range(0, len(trajectory), max(1, len(trajectory) // 8)),
                    len(trajectory) - 1, result.chosen})
    print("\nPeeling trajectory (every few boxes; * the chosen one):")
    print(f"  {'box':>5} {'coverage':>9} {'density':>8} {'mass':>7} {'restricted':>10}")
    for i in shown:
        row = trajectory.iloc[i]
        print(f"  {i:>4}{'*' if i == result.chosen else ' '} {100 * row.coverage:8.1f}% "
              f"{100 * row.density:7.1f}% {100 * row.mass:6.1f}% {int(row.restricted):>10}")
    if written is not None:
        print(f"\nwrote {written}")
    return 0


def _write_discovery(result, target: Path) -> Path:
    """The figure, trajectory and box of a discovery, in a new directory `target`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.report.discovery_plot import discovery_chart

    with outputs.OutputLock(target):
        outputs.remove_stale_temps(target)
        with outputs.atomic_directory(target, "report") as temp:
            figure = discovery_chart(result)
            for suffix in (".png", ".svg"):
                figure.savefig(temp / f"discovery{suffix}", dpi=110)
            plt.close(figure)
            result.trajectory.to_csv(temp / "trajectory.csv")
            result.limits.to_csv(temp / "box.csv", index_label="parameter")
            (temp / "summary.txt").write_text(result.text() + "\n", encoding="utf-8")
    return target


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.config, args.overrides, override_source="--set")
    uncertain = sum(not p.is_fixed for p in scenario.priors.values())
    print(f"{scenario.path}: ok ({len(scenario.priors)} parameters, {uncertain} uncertain, "
          f"{len(scenario.claims)} claims, {scenario.grid.n_steps} {scenario.grid.step} steps)")
    return 0


FLAGS = {"first": "--from", "last": "--to", "available_bytes": "--max-memory",
         "horizon_months": "--horizon",
         "max_memory": "--max-memory", "overrides": "--set"}
"""Library parameters whose flag is not ``--`` + the name with dashes."""


def flag_for(parameter: str) -> str:
    """The flag that gives a library function's `parameter` (``log`` -> ``--log``)."""
    if parameter.startswith("-"):  # already a flag
        return parameter
    return FLAGS.get(parameter, "--" + parameter.replace("_", "-"))


def error_text(error: UserError) -> str:
    """The one line printed for `error`: an error a parameter caused names its flag."""
    text, parameter = str(error), error.parameter
    if parameter and text.startswith(f"{parameter}: "):
        return flag_for(parameter) + text[len(parameter):]
    return text


def one_line(text: str) -> str:
    """`text` on one line: control characters (a newline in a path) shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fiscal-sim`` and ``python -m sim``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        # Warnings are held back until the command succeeds: a bad input gives its one
        # line, not numerical warnings first.
        with warnings.catch_warnings(record=True) as caught:
            status = args.handler(args)
        for warning in caught:
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
        return status
    except UserError as error:
        print(f"fiscal-sim: error: {one_line(error_text(error))}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("fiscal-sim: interrupted; no output written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a command that stopped reading
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 141
