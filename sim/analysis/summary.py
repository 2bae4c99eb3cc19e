"""Tidy summaries of a results Dataset: quantiles, key probabilities, claims verdicts."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from sim.config.claims import claim_weights
from sim.config.scenario import Claim
from sim.core.timegrid import TimeGrid
from sim.core.units import SAMPLE, TIME_BOUND, YEAR

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
    """The summary of a run.

    Attributes
    ----------
    outcomes : pandas.DataFrame
        One row per outcome: ``quantity``, ``units``, ``mean``, ``p5`` ... ``p95``.
    probabilities : pandas.DataFrame
        ``event``, ``probability``, ``mc_se`` (Monte Carlo standard error).
    claims : pandas.DataFrame
        One row per claim: its value, the simulated 5/50/95th percentiles, the
        claim's percentile in the simulated distribution and the verdict.
    ledger : pandas.DataFrame
        Who pays, per calendar year (`ledger_table`).
    """

    outcomes: pd.DataFrame
    probabilities: pd.DataFrame
    claims: pd.DataFrame
    ledger: pd.DataFrame

    def __str__(self) -> str:
        return "\n\n".join(
            (
                "Outcomes (quantiles over samples)\n" + _outcome_text(self.outcomes),
                "Who pays, per calendar year (quantiles over samples)\n"
                + _ledger_text(self.ledger),
                "Key probabilities\n" + _probability_text(self.probabilities),
                "Claims against the simulated 90% band\n" + _claims_text(self.claims),
            )
        )


def summarize(ds: xr.Dataset) -> Summary:
    """Summarise a results Dataset from `sim.simulate` (or read back from netCDF).

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    Summary
    """
    return Summary(outcome_table(ds), probability_table(ds), claims_table(ds),
                   ledger_table(ds))


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


def human(x: float) -> str:
    """A number with a readable scale suffix: 1.23k, 4.56M, 7.89bn, 1.2trn."""
    ax = abs(x)
    for scale, suffix in ((1e12, "trn"), (1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if ax >= scale:
            return f"{x / scale:.3g}{suffix}"
    if ax != 0 and ax < 0.01:
        return f"{x:.2e}"
    return f"{x:.3g}"


def _format(df: pd.DataFrame, numeric: list[str]) -> str:
    shown = df.copy()
    for column in numeric:
        shown[column] = shown[column].map(human)
    return shown.to_string(index=False)


def _outcome_text(df: pd.DataFrame) -> str:
    return _format(df, ["mean", "p5", "p25", "p50", "p75", "p95"])


def percent(x: float) -> str:
    """A share as a percentage with two significant digits or one decimal: 8.1%, 0.53%."""
    value = 100 * x
    return f"{value:.1f}%" if abs(value) >= 1 else f"{value:.2g}%"


def _ledger_text(df: pd.DataFrame) -> str:
    if df.empty:
        return "(no ledger in these results)"
    shown = df.drop(columns=["units"]).astype(object)
    shares = df["units"] == "1"
    for column in ("mean", "p5", "p50", "p95"):
        shown[column] = [percent(v) if share else human(v)
                         for v, share in zip(df[column], shares, strict=True)]
    shown.loc[shown["year"].duplicated(), "year"] = ""
    shown.loc[(df["year"].astype(str) + df["payer"]).duplicated(), "payer"] = ""
    return shown.to_string(index=False)


def _probability_text(df: pd.DataFrame) -> str:
    shown = df.copy()
    shown["probability"] = shown["probability"].map(lambda p: f"{p:.3f}")
    shown["mc_se"] = shown["mc_se"].map(lambda s: f"{s:.3f}")
    return shown.to_string(index=False)


def _claims_text(df: pd.DataFrame) -> str:
    if df.empty:
        return "(no claims in this scenario)"
    shown = df.drop(columns=["source", "used_for"])
    shown["percentile"] = shown["percentile"].map(lambda p: f"{p:.1f}")
    prior = df["used_for"] == "prior"
    shown.loc[prior, "verdict"] = shown.loc[prior, "verdict"] + " (set a prior)"
    inside, total = evidence_count(df)
    note = (f"\n{inside} of {total} claims used as evidence lie inside the band"
            + (f"; {int(prior.sum())} set a prior here and test nothing" if prior.any()
               else ""))
    return _format(shown, ["value", "p5", "p50", "p95"]) + note
