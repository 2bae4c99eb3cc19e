"""Tidy summaries of a results Dataset: quantiles, key probabilities, claims verdicts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from sim.config.claims import claim_weights
from sim.config.scenario import Claim
from sim.core.timegrid import TimeGrid
from sim.core.units import SAMPLE, TIME_BOUND, YEAR
from sim.numbers import format_value, percentage_points, probability, unit_label

QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
BAND = (0.05, 0.95)
"""The central 90% band a claim is judged against."""

OUTCOMES = (
    "force_change_persons",
    "months_of_decline",
    "recruits_persons_per_month_mean",
    "irrecoverable_losses_persons_per_month_mean",
    "bonus_spend_usd_per_day_mean",
    "bonus_share_of_defense_horizon",
    "manpower_share_of_defense_horizon",
    "bonus_spend_rub_by_year",
    "bonus_spend_usd_by_year",
    "manpower_cost_rub_by_year",
)
"""Per-sample outcomes in the summary table (``*_by_year`` expand to one row per year)."""

OPTIONAL_OUTCOMES = ("months_cutting",)
"""Outcomes shown when the results hold them (the regions' response)."""

DAILY_BONUS_THRESHOLD_USD = 24e6
DEFENSE_SHARE_THRESHOLD = 0.05

EVENTS = (
    ("force shrinks over the horizon", "force_change_persons", "<", 0.0),
    ("mean daily bonus spend above $24M", "bonus_spend_usd_per_day_mean", ">",
     DAILY_BONUS_THRESHOLD_USD),
    ("bonus bill above 5% of the defence budget", "bonus_share_of_defense_horizon", ">",
     DEFENSE_SHARE_THRESHOLD),
    ("regions cut their bonuses within the horizon", "first_cut_date", "given", None),
)
"""Key probabilities: (label, per-sample variable, comparison, threshold); ``given``: the
value is not missing (a date, NaN or NaT when the event never happens). An event on a
variable the results do not hold (the regions' response) is left out."""


@dataclass(frozen=True)
class Summary:
    """The summary of a run (or of a calibration's posterior particles).

    Every table holds numbers in the variables' own units (RUB, USD, persons; shares as
    fractions, ``units = "1"``); ``str(summary)`` renders them for people (`sim.numbers`:
    611k, 8.1%, months with one decimal, probabilities in %, standard errors in
    percentage points).

    Attributes
    ----------
    outcomes : pandas.DataFrame
        One row per outcome (`OUTCOMES`, then `OPTIONAL_OUTCOMES` the results hold; a
        ``*_by_year`` outcome gives one row per calendar year, ``name[2025]``). Columns:
        ``quantity``, ``units`` (the variable's units attribute: ``persons``, ``month``,
        ``USD/day``, ``RUB``, ``1`` for a share), ``mean``, ``p5``, ``p25``, ``p50``,
        ``p75``, ``p95`` (mean and percentiles over samples, in ``units``).
    probabilities : pandas.DataFrame
        One row per key event (`EVENTS`) the results can answer. Columns: ``event`` (its
        description), ``probability`` (share of samples, 0-1), ``mc_se`` (Monte Carlo
        standard error sqrt(p (1 - p) / n), 0-1).
    claims : pandas.DataFrame
        One row per claim (`claims_table`): ``claim``, ``window`` (ISO dates),
        ``value`` and ``unit`` (as the source gives them), ``p5``, ``p50``, ``p95``
        (the simulated quantity, in ``unit``), ``percentile`` (the claim's, 0-100),
        ``verdict`` (``inside``, ``below``, ``above`` the 90% band), ``used_for``
        (``evidence`` or ``prior``), ``source``.
    ledger : pandas.DataFrame
        Who pays, per calendar year (`ledger_table`): ``year``, ``payer``, ``quantity``
        (an item, ``total`` or ``share of <budget>``), ``units`` (``RUB`` or ``1``),
        ``mean``, ``p5``, ``p50``, ``p95``.
    posterior_particles : int or None
        For a calibration's result (`sim.analysis.calibration.calibrate`), the number of
        posterior particles the tables are taken over; None for a run.
    """

    outcomes: pd.DataFrame
    probabilities: pd.DataFrame
    claims: pd.DataFrame
    ledger: pd.DataFrame
    posterior_particles: int | None = None

    def __str__(self) -> str:
        if self.posterior_particles is None:
            over, given = "quantiles over samples", ""
        else:
            over = f"posterior quantiles over {self.posterior_particles:,} particles"
            given = ", given the observations"
        probabilities = ("Key probabilities" if self.posterior_particles is None
                         else "Key probabilities (posterior, given the observations)")
        return "\n\n".join(
            (
                f"Outcomes ({over}{given})\n" + _outcome_text(self.outcomes),
                f"Who pays, per calendar year ({over}; RUB, shares of each payer's own "
                "budgets in %)\n" + _ledger_text(self.ledger),
                f"{probabilities}; mc_se: Monte Carlo standard error\n"
                + _probability_text(self.probabilities),
                "Claims against the simulated 90% band\n" + _claims_text(self.claims),
            )
        )


def is_posterior(ds: xr.Dataset) -> bool:
    """Whether `ds` holds a calibration's posterior particles rather than a run's samples.

    A calibration (`sim.analysis.calibration.calibrate`) records ``calibration_method``
    (and ``particles``) in its attrs; ``analysis = "calibration"`` is accepted too.
    """
    return "calibration_method" in ds.attrs or ds.attrs.get("analysis") == "calibration"


def summarize(ds: xr.Dataset) -> Summary:
    """Summarise a results Dataset from `sim.simulate` (or read back from a file), or a
    calibration's posterior particles.

    Parameters
    ----------
    ds : xarray.Dataset
        One run's results (no ``scenario`` dim), full or summary.

    Returns
    -------
    Summary
        Four tables of numbers, each in its variables' units:

        - ``outcomes``: per outcome (``quantity``, ``units``) the ``mean`` and the
          ``p5``, ``p25``, ``p50``, ``p75``, ``p95`` percentiles over samples;
        - ``ledger``: who pays, per ``year`` and ``payer``: spend per item and in total
          [RUB], and that total as a share of the payer's budgets [1]; ``mean``, ``p5``,
          ``p50``, ``p95``;
        - ``probabilities``: per key ``event``, its ``probability`` and Monte Carlo
          standard error ``mc_se`` (both 0-1);
        - ``claims``: per claim, its ``value`` and ``unit``, the simulated ``p5``,
          ``p50``, ``p95``, its ``percentile`` (0-100), ``verdict`` and ``used_for``.

        ``str()`` of it is the text the CLI prints (amounts 611k, shares and
        probabilities in %, standard errors in percentage points, months with one
        decimal); for a calibration the headings say the quantiles are posterior.
    """
    particles = int(ds.sizes[SAMPLE]) if is_posterior(ds) else None
    return Summary(outcome_table(ds), probability_table(ds), claims_table(ds),
                   ledger_table(ds), particles)


def outcome_table(ds: xr.Dataset) -> pd.DataFrame:
    """Mean and quantiles (5, 25, 50, 75, 95) of each per-sample outcome."""
    rows = []
    for name in (*OUTCOMES, *(n for n in OPTIONAL_OUTCOMES if n in ds)):
        da = ds[name]
        series = ([(f"{name}[{int(y)}]", da.sel({YEAR: y})) for y in da[YEAR].values]
                  if YEAR in da.dims else [(name, da)])
        for label, values in series:
            x = np.asarray(values, dtype=np.float64)
            q = np.quantile(x, QUANTILES)
            rows.append({"quantity": label, "units": da.attrs["units"], "mean": x.mean(),
                         **{f"p{round(100 * p)}": v for p, v in zip(QUANTILES, q, strict=True)}})
    return pd.DataFrame(rows)


PAYER_BUDGETS = {
    "federal": (("federal_manpower_share_of_federal_spending_by_year", "federal spending"),
                ("federal_manpower_share_of_federal_revenue_by_year", "federal revenue"),
                ("federal_manpower_share_of_defense_by_year", "defence budget")),
    "regional": (("regional_manpower_share_of_regional_spending_by_year", "regional spending"),
                 ("regional_manpower_share_of_regional_revenue_by_year", "regional revenue")),
}
"""Each payer's spend as a share of its own budgets, as shown in the ledger table."""

LEDGER_COLUMNS = ["year", "payer", "quantity", "units", "mean", "p5", "p50", "p95"]


def ledger_table(ds: xr.Dataset) -> pd.DataFrame:
    """Who pays, per calendar year: each payer's spend on each item and in all, and that
    total as a share of the payer's own budgets (mean and 5/50/95th percentiles over
    samples). Items a payer never pays (regional pay) are left out; shares appear when the
    results hold them (the regional ones need the optional regional budget keys).
    """
    if "spend_rub_by_year" not in ds:
        return pd.DataFrame(columns=LEDGER_COLUMNS)
    spend = ds["spend_rub_by_year"].astype(np.float64)
    rows = []

    def add(year, payer: str, quantity: str, units: str, values) -> None:
        x = np.asarray(values, dtype=np.float64)
        q = np.quantile(x, (0.05, 0.5, 0.95))
        rows.append(dict(zip(LEDGER_COLUMNS, (int(year), payer, quantity, units, x.mean(),
                                              *q), strict=True)))

    for year in spend[YEAR].values:
        for payer in spend["payer"].values:
            by_item = spend.sel({YEAR: year, "payer": payer})
            for item in by_item["item"].values:
                values = by_item.sel(item=item)
                if np.any(values.values != 0):
                    add(year, str(payer), str(item), "RUB", values)
            add(year, str(payer), "total", "RUB", by_item.sum("item"))
            for name, budget in PAYER_BUDGETS[str(payer)]:
                if name in ds:
                    add(year, str(payer), f"share of {budget}", "1",
                        ds[name].sel({YEAR: year}))
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS)


def probability_table(ds: xr.Dataset) -> pd.DataFrame:
    """Probabilities of the key events, with their Monte Carlo standard errors."""
    rows = []
    n = ds.sizes[SAMPLE]
    for label, name, op, threshold in EVENTS:
        if name not in ds:
            continue
        if op == "given":  # float days in memory, datetime64 read back from a file
            p = float(ds[name].notnull().mean())
        else:
            x = np.asarray(ds[name], dtype=np.float64)
            p = float(np.mean(x < threshold if op == "<" else x > threshold))
        rows.append({"event": label, "probability": p, "mc_se": np.sqrt(p * (1 - p) / n)})
    return pd.DataFrame(rows)


def claims_from_attrs(ds: xr.Dataset) -> list[Claim]:
    """The claims recorded in a results file's attrs."""
    claims = []
    for entry in json.loads(ds.attrs.get("claims", "[]")):
        for key in ("start", "end", "date"):
            if entry.get(key):
                entry[key] = dt.date.fromisoformat(entry[key])
        claims.append(Claim(**entry))
    return claims


def claim_samples(ds: xr.Dataset, claim: Claim) -> np.ndarray:
    """The claimed quantity in every sample, shape (n,), from the per-step variables.

    Flows are spread evenly over each step's days and summed over the window
    [start, end); ``per_day`` divides by the window's days. Stocks are
    interpolated linearly in time between step boundaries (`sim.config.claims`).
    """
    variable, weights = claim_weights(_grid_of(ds), claim)
    da = ds[variable].astype(np.float64)
    dims = [d for d in da.dims if d != SAMPLE]  # time (and payer, item), in stored order
    return (da * xr.DataArray(weights, dims=dims)).sum(dims).values


def _grid_of(ds: xr.Dataset) -> TimeGrid:
    bounds = ds[TIME_BOUND].values.astype("datetime64[D]")
    start = bounds[0].astype(dt.date)
    return TimeGrid(start, bounds[-1].astype(dt.date), ds.attrs.get("time_step", "month"),
                    bounds)


def claims_table(ds: xr.Dataset) -> pd.DataFrame:
    """Each claim's value against the simulated distribution of the same quantity.

    Uses ``claim_value`` (every run stores each claim's value per sample). The
    percentile counts ties as half, so a claim equal to a fixed simulated value
    sits at the 50th. The verdict is ``inside`` when the claim lies in the
    central 90% band [p5, p95], else ``below`` or ``above``. ``used_for`` says whether
    the claim is evidence or set a prior of the same scenario (then it tests nothing).
    """
    rows = []
    for claim in claims_from_attrs(ds):
        x = np.asarray(ds["claim_value"].sel(claim=claim.label), dtype=np.float64)
        x = x[np.isfinite(x)]  # a sweep's scenarios may not share every claim
        if x.size == 0:
            continue
        p5, p50, p95 = np.quantile(x, (BAND[0], 0.5, BAND[1]))
        percentile = 100 * (np.mean(x < claim.value) + 0.5 * np.mean(x == claim.value))
        verdict = "below" if claim.value < p5 else "above" if claim.value > p95 else "inside"
        window = (f"{claim.date}" if claim.date else f"{claim.start} to {claim.end}")
        rows.append({"claim": claim.label, "window": window, "value": claim.value,
                     "unit": claim.unit, "p5": p5, "p50": p50, "p95": p95,
                     "percentile": percentile, "verdict": verdict, "used_for": claim.used_for,
                     "source": claim.source})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


CLAIM_COLUMNS = ["claim", "window", "value", "unit", "p5", "p50", "p95", "percentile",
                 "verdict", "used_for", "source"]


def evidence_count(claims: pd.DataFrame) -> tuple[int, int]:
    """Claims that are evidence (not used to set a prior) and how many lie in the band."""
    evidence = claims[claims["used_for"] == "evidence"]
    return int((evidence["verdict"] == "inside").sum()), len(evidence)


# ---------------------------------------------------------------- text rendering

QUANTILE_COLUMNS = ("mean", "p5", "p25", "p50", "p75", "p95")
TEXT_WIDTH = 120
"""Widest text table a terminal shows without wrapping lines (`table_text` splits wider
ones into blocks of columns)."""


def table_text(frame: pd.DataFrame, *, left: Sequence[str] = (), repeat: int = 0,
               width: int | None = None) -> str:
    """A table of already formatted cells as aligned text columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Cells are shown as ``str(cell)``; the header is the column names.
    left : sequence of str
        Columns aligned left (labels); every other column is aligned right (numbers).
    repeat : int
        The first `repeat` columns label the rows: when the table is split, every block
        starts with them.
    width : int, optional
        The widest line allowed [characters]; a wider table is split into blocks of
        columns, one under the other, separated by a blank line. None: never split.

    Returns
    -------
    str
        Columns separated by two spaces, no trailing spaces.
    """
    columns = [str(c) for c in frame.columns]
    cells = {c: [str(v) for v in frame[name]] for c, name in zip(columns, frame.columns,
                                                                     strict=True)}
    widths = {c: max([len(c), *(len(v) for v in cells[c])]) for c in columns}
    keys, rest = columns[:repeat], columns[repeat:]
    blocks: list[list[str]] = []
    used = sum(widths[c] + 2 for c in keys)
    for column in rest:
        if blocks and width is not None and used + widths[column] > width:
            blocks.append([])
            used = sum(widths[c] + 2 for c in keys)
        if not blocks:
            blocks.append([])
        blocks[-1].append(column)
        used += widths[column] + 2
    blocks = blocks or [[]]

    def line(values: dict[str, str], shown: list[str]) -> str:
        return "  ".join(values[c].ljust(widths[c]) if c in left else values[c].rjust(widths[c])
                         for c in shown).rstrip()

    parts = []
    for block in blocks:
        shown = keys + block
        rows = [line({c: c for c in shown}, shown)]
        rows += [line({c: cells[c][i] for c in shown}, shown) for i in range(len(frame))]
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def _in_row_units(df: pd.DataFrame, columns: Sequence[str], units: str) -> pd.DataFrame:
    """`df` with the value `columns` formatted in each row's units (column `units`)."""
    shown = df.astype(object)
    for column in columns:
        shown[column] = [format_value(v, u) for v, u in zip(df[column], df[units],
                                                            strict=True)]
    return shown


def _outcome_text(df: pd.DataFrame) -> str:
    shown = _in_row_units(df, QUANTILE_COLUMNS, "units")
    shown["units"] = [unit_label(u) for u in df["units"]]
    return table_text(shown, left=("quantity", "units"))


def _ledger_text(df: pd.DataFrame) -> str:
    if df.empty:
        return "(no ledger in these results)"
    shown = _in_row_units(df, ("mean", "p5", "p50", "p95"), "units").drop(columns=["units"])
    shown.loc[shown["year"].duplicated(), "year"] = ""
    shown.loc[(df["year"].astype(str) + df["payer"]).duplicated(), "payer"] = ""
    return table_text(shown, left=("year", "payer", "quantity"))


def _probability_text(df: pd.DataFrame) -> str:
    shown = df.astype(object)
    shown["probability"] = df["probability"].map(probability)
    shown["mc_se"] = df["mc_se"].map(percentage_points)
    return table_text(shown, left=("event",))


def _claims_text(df: pd.DataFrame) -> str:
    if df.empty:
        return "(no claims in this scenario)"
    shown = _in_row_units(df, ("value", "p5", "p50", "p95"), "unit").drop(
        columns=["source", "used_for"])
    shown["unit"] = [unit_label(u) for u in df["unit"]]
    shown["percentile"] = df["percentile"].map(lambda p: f"{p:.1f}")
    prior = df["used_for"] == "prior"
    shown.loc[prior, "verdict"] = shown.loc[prior, "verdict"] + " (set a prior)"
    inside, total = evidence_count(df)
    note = (f"\n{inside} of {total} claims used as evidence lie inside the band"
            + (f"; {int(prior.sum())} set a prior here and test nothing" if prior.any()
               else ""))
    return table_text(shown, left=("claim", "window", "unit", "verdict")) + note
