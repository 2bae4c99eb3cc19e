"""Observed figures for calibration, and loaders that build them from reported series.

An observation file holds ``[[observations]]`` tables in the claims vocabulary (a flow
over a window, its per-day average, or a stock at a date) with an error model, and an
optional ``[bias]`` table of reporting-bias priors, one per reporter::

    [bias]
    general_staff = "0.8 to 1.3"     # multiplier on the model quantity that source reports

    [[observations]]
    quantity = "casualties"
    start = 2024-01-01
    end = 2024-02-01
    value = 26_000
    unit = "persons"
    log_sd = 0.1                     # or sd = ..., or relative_sd = ...
    t_df = 4                         # optional: Student-t errors, robust to outliers
    reporter = "general_staff"       # optional: which [bias] prior applies
    source = "Ukraine's General Staff (docs/sources.md B)"
"""

from __future__ import annotations

import csv
import datetime as dt
import io as stdio
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim import io
from sim.config.scenario import Claim, check_unique_labels, parse_claim, read_toml, suggest
from sim.core.timegrid import TimeGrid, add_months
from sim.errors import ConfigError, ParameterError, UserError
from sim.priors.distributions import Prior, PriorError, prior_from_value

ERROR_MODELS = ("sd", "relative_sd", "log_sd")
OBSERVATION_KEYS = ("quantity", "statistic", "start", "end", "date", "value", "unit",
                    "source", "label", "payer", "item", *ERROR_MODELS, "t_df", "reporter")


@dataclass(frozen=True)
class Observation:
    """One observed figure and how it was measured.

    Attributes
    ----------
    claim : Claim
        What was observed (quantity, window or date, value, unit, source).
    error : str
        ``"sd"`` (absolute, in the value's unit), ``"relative_sd"`` (a share of the
        observed value) or ``"log_sd"`` (SD of log(observed / model)).
    scale : float
        The error's size.
    t_df : float or None
        Degrees of freedom of Student-t errors; None: normal.
    reporter : str
        Key of the ``[bias]`` prior that multiplies the model quantity ("" for none).
    """

    claim: Claim
    error: str
    scale: float
    t_df: float | None
    reporter: str


@dataclass(frozen=True)
class ObservationSet:
    """The observations of a file and its reporting-bias priors."""

    path: str
    observations: tuple[Observation, ...]
    bias: dict[str, Prior]


def load_observations(path: str | Path, grid: TimeGrid) -> ObservationSet:
    """Read and validate an observation file against a scenario's time grid.

    Raises
    ------
    ConfigError
        One line naming the file, the key and what was expected.
    """
    path = str(path)
    raw = read_toml(path)
    for key in raw:
        if key not in ("observations", "bias"):
            raise ConfigError(path, key, f"unknown key{suggest(key, ('observations', 'bias'))}")
    if not isinstance(raw.get("bias", {}), dict):
        raise ConfigError(path, "bias", "expected a [bias] table of priors")
    bias = {}
    for name, value in raw.get("bias", {}).items():
        try:
            bias[name] = prior_from_value(value)
        except PriorError as error:
            raise ConfigError(path, f"bias.{name}", str(error)) from None
        low, _ = bias[name].effective_support()
        if low <= 0:
            raise ConfigError(path, f"bias.{name}", "a reporting bias is a multiplier; "
                              "expected a prior on positive values")
    entries = raw.get("observations", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(path, "observations", "expected [[observations]] tables")
    observations = tuple(_observation(e, path, i, grid, bias) for i, e in enumerate(entries))
    first: dict[tuple, int] = {}
    for i, o in enumerate(observations):
        c = o.claim
        what = (c.quantity, c.statistic, c.start, c.end, c.date, c.payer, c.item, o.reporter)
        if what in first:
            raise ConfigError(path, f"observations[{i}]",
                              f"the same {c.quantity} {c.statistic} over the same window and "
                              f"reporter as observations[{first[what]}]; it would count twice")
        first[what] = i
    check_unique_labels([o.claim.label for o in observations], path, "observations")
    return ObservationSet(path, observations, bias)


def load_observation_files(paths: str | Path | list[str | Path], grid: TimeGrid
                           ) -> ObservationSet:
    """Read one or several observation files as one set (`load_observations`, then
    `merge_observations`)."""
    if isinstance(paths, str | Path):
        return load_observations(paths, grid)
    return merge_observations([load_observations(path, grid) for path in paths])


def merge_observations(sets: list[ObservationSet]) -> ObservationSet:
    """One set of the observations of several files.

    Raises
    ------
    ConfigError
        A reporter whose [bias] prior differs between files, a label used twice, or the
        same quantity over the same window by the same reporter in two files.
    """
    if len(sets) == 1:
        return sets[0]
    bias: dict[str, Prior] = {}
    owner: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    labels: dict[str, str] = {}
    for part in sets:
        for name, prior in part.bias.items():
            if name in bias and (prior.family, prior.params) != (bias[name].family,
                                                                  bias[name].params):
                raise ConfigError(part.path, f"bias.{name}", f"differs from the prior of the "
                                  f"same reporter in {owner[name]}; expected one prior per "
                                  "reporter across the files")
            bias.setdefault(name, prior)
            owner.setdefault(name, part.path)
        for i, o in enumerate(part.observations):
            c = o.claim
            what = (c.quantity, c.statistic, c.start, c.end, c.date, c.payer, c.item,
                    o.reporter)
            if what in seen:
                raise ConfigError(part.path, f"observations[{i}]", f"the same {c.quantity} "
                                  f"{c.statistic} over the same window and reporter as in "
                                  f"{seen[what]}; it would count twice")
            seen[what] = part.path
            if c.label in labels:
                raise ConfigError(part.path, f"observations[{i}].label", f"{c.label!r} is "
                                  f"also a label in {labels[c.label]}; expected unique labels")
            labels[c.label] = part.path
    return ObservationSet(", ".join(part.path for part in sets),
                          tuple(o for part in sets for o in part.observations), bias)


def _observation(entry: dict, path: str, index: int, grid: TimeGrid,
                 bias: dict[str, Prior]) -> Observation:
    where = f"observations[{index}]"
    unknown = sorted(set(entry) - set(OBSERVATION_KEYS))
    if unknown:
        raise ConfigError(path, f"{where}.{unknown[0]}",
                          f"unknown key{suggest(unknown[0], OBSERVATION_KEYS)}")
    reporter = entry.get("reporter", "")
    if not isinstance(reporter, str):
        raise ConfigError(path, f"{where}.reporter",
                          f"expected the name of a [bias] prior, got {reporter!r}")
    claim_part = {k: v for k, v in entry.items()
                  if k not in (*ERROR_MODELS, "t_df", "reporter")}
    claim_part.setdefault("label", _default_label(entry))
    claim = parse_claim(claim_part, path, index, grid, "observations")
    given = [name for name in ERROR_MODELS if name in entry]
    if len(given) != 1:
        raise ConfigError(path, where, f"expected exactly one of {', '.join(ERROR_MODELS)}")
    scale = entry[given[0]]
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not (
            math.isfinite(scale) and scale > 0):
        raise ConfigError(path, f"{where}.{given[0]}", f"expected a number > 0, got {scale!r}")
    if given[0] == "log_sd" and claim.value <= 0:
        raise ConfigError(path, f"{where}.value", "log_sd needs a positive observed value")
    t_df = entry.get("t_df")
    if t_df is not None and (isinstance(t_df, bool) or not isinstance(t_df, int | float)
                             or not t_df > 0):
        raise ConfigError(path, f"{where}.t_df", f"expected degrees of freedom > 0, got {t_df!r}")
    if reporter and reporter not in bias:
        raise ConfigError(path, f"{where}.reporter",
                          f"no [bias] prior named {reporter!r}{suggest(reporter, bias)}")
    return Observation(claim, given[0], float(scale), None if t_df is None else float(t_df),
                       reporter)


def _default_label(entry: dict) -> str:
    """``"casualties 2024-01-01 to 2024-02-01"``, with the statistic and the reporter when
    given, so that two reporters' figures for one window get distinct labels."""
    when = entry.get("date") or f"{entry.get('start')} to {entry.get('end')}"
    statistic = f" {entry['statistic']}" if "statistic" in entry else ""
    ledger = "".join(f" {entry[k]}" for k in ("payer", "item") if entry.get(k))
    reporter = f" ({entry['reporter']})" if entry.get("reporter") else ""
    return f"{entry.get('quantity')}{ledger}{statistic} {when}{reporter}"


# ---------------------------------------------------------------- reported series


@dataclass(frozen=True)
class Series:
    """A cumulative daily series: dates (datetime64[D]) and cumulative values."""

    dates: np.ndarray
    cumulative: np.ndarray
    gaps: list[tuple[dt.date, dt.date]]


def read_series(path: str | Path, fill_gaps: bool = False) -> Series:
    """Read a cumulative series: a JSON list of ``{"date", "personnel"}`` objects (as in
    the open dataset of the General Staff's daily figures) or a CSV ``date,cumulative``.

    Checks that dates parse, none repeats and cumulative values never decrease; missing
    days are reported in `Series.gaps` and, if `fill_gaps`, filled by linear
    interpolation of the cumulative value.

    Raises
    ------
    UserError
        One line naming the file and the first bad row.
    """
    text = io.read_text(path)
    rows = _json_rows(text, path) if text.lstrip().startswith("[") else _csv_rows(text, path)
    if not rows:
        raise UserError(f"{path}: no data rows")
    parsed = []
    for number, (day, value) in rows:
        try:
            date = dt.date.fromisoformat(str(day))
        except ValueError:
            raise UserError(f"{path}: row {number}: bad date {day!r} (expected YYYY-MM-DD)"
                            ) from None
        try:
            amount = float(value)
        except (TypeError, ValueError):
            raise UserError(f"{path}: row {number}: bad value {value!r}") from None
        if not math.isfinite(amount):
            raise UserError(f"{path}: row {number}: value {value!r} is not finite")
        parsed.append((number, date, amount))
    parsed.sort(key=lambda row: row[1])
    for (n0, d0, v0), (n1, d1, v1) in itertools.pairwise(parsed):
        if d1 == d0:
            raise UserError(f"{path}: row {n1}: date {d1} repeats row {n0}")
        if v1 < v0:
            raise UserError(f"{path}: row {n1}: cumulative value {_as_written(v1)} on {d1} is "
                            f"below {_as_written(v0)} on {d0}; a cumulative series never "
                            "decreases")
    dates = np.array([d for _, d, _ in parsed], dtype="datetime64[D]")
    values = np.array([v for _, _, v in parsed])
    steps = np.diff(dates).astype(int)
    gaps = [(parsed[i][1] + dt.timedelta(days=1), parsed[i + 1][1] - dt.timedelta(days=1))
            for i in np.flatnonzero(steps > 1)]
    if gaps and fill_gaps:
        every = np.arange(dates[0], dates[-1] + 1)
        values = np.interp(every.astype(float), dates.astype(float), values)
        dates = every
    return Series(dates, values, gaps)


def _json_rows(text: str, path) -> list:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
    rows = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict) or "date" not in item or "personnel" not in item:
            raise UserError(f"{path}: row {number}: expected an object with date and "
                            "personnel")
        rows.append((number, (item["date"], item["personnel"])))
    return rows


def _csv_rows(text: str, path) -> list:
    reader = csv.reader(stdio.StringIO(text))
    rows = []
    for number, row in enumerate(reader, start=1):
        if not row or (number == 1 and row[0].strip().lower() == "date"):
            continue
        if len(row) != 2:
            raise UserError(f"{path}: row {number}: expected date,cumulative")
        rows.append((number, (row[0].strip(), row[1].strip())))
    return rows


def monthly_totals(series: Series, first: dt.date, last: dt.date
                   ) -> list[tuple[dt.date, dt.date, float]]:
    """Totals per calendar month from `first` to `last` (month starts): the cumulative
    value at the month's last report minus that at the previous month's last report.

    Raises
    ------
    UserError
        If a month (or the month before `first`) has no report.
    """
    if first > last:
        raise ParameterError("first", f"{first} is after last, {last}; expected first <= last")
    if (first.year, first.month) == (dt.MINYEAR, 1):  # the total needs the month before
        raise ParameterError(
            "first", f"{first.isoformat()[:7]}: no month before it in the "
                     f"calendar; expected a month from {dt.MINYEAR:04d}-02 on")
    if (last.year, last.month) == (dt.MAXYEAR, 12):  # a month ends at the next one's start
        raise ParameterError(
            "last", f"{last.isoformat()[:7]}: the month ends after the calendar's "
                    f"last day; expected a month up to {dt.MAXYEAR}-11")
    months = []
    day = dt.date(first.year, first.month, 1)
    while day <= last:
        months.append(day)
        day = add_months(day, 1)

    def last_report(month_start: dt.date) -> float:
        end = np.datetime64(add_months(month_start, 1), "D")
        inside = (series.dates < end) & (series.dates >= np.datetime64(month_start, "D"))
        if not inside.any():
            raise UserError(f"no report in {month_start:%Y-%m}: the series must cover it")
        return float(series.cumulative[np.flatnonzero(inside)[-1]])

    totals = []
    for month in months:
        previous = last_report(add_months(month, -1))
        totals.append((month, add_months(month, 1), last_report(month) - previous))
    return totals


def observations_toml(totals, quantity: str, log_sd: float, reporter: str,
                      source: str) -> str:
    """An observation file for monthly totals (the ``observations`` command's output),
    written with a TOML writer so that any reporter or source text stays valid TOML."""
    import tomli_w

    document: dict = {}
    if reporter:
        document["bias"] = {reporter: {
            "dist": "fixed", "value": 1.0,
            "source": "no reporting bias assumed; replace with a prior to admit one"}}
    rows = []
    for start, end, value in totals:
        row = {"label": f"{quantity} {start:%Y-%m}", "quantity": quantity, "start": start,
               "end": end, "value": _number(value), "unit": "persons",
               "log_sd": log_sd}
        if reporter:
            row["reporter"] = reporter
        row["source"] = source
        rows.append(row)
    document["observations"] = rows
    header = [f"Monthly {quantity} built by `fiscal-sim observations` from {source}.",
              f"Error model: log_sd = {log_sd} per month; reporter {reporter!r}."]
    comments = "".join(f"# {''.join(c if c.isprintable() else ' ' for c in line)}\n"
                       for line in header)
    return comments + "\n" + tomli_w.dumps(document)


def _as_written(value: float) -> str:
    """`value` as a series file writes it, in full (``1500000``, ``1234.5``): never
    rounded, so that two close rows stay distinct in a message, nor in scientific
    notation."""
    if float(value).is_integer():
        return str(int(value))
    return np.format_float_positional(value, trim="-")


def _number(value: float) -> int | float:
    """`value` to 6 significant digits, as an integer when it is one."""
    rounded = float(f"{value:.6g}")
    return int(rounded) if rounded.is_integer() else rounded
