"""The report's "Questions" section for one run: break-even, runway, cost per soldier and
scenario discovery, each where the run has what it needs (and a note saying why not
otherwise).

Break-even and the marginal cost run the model again on the run's own samples (common
random numbers), so they need the scenario: the config file the results name, unchanged
(its resolved text equal to the one recorded) and run with the random design; at most
`RERUN_SAMPLES` of the run's samples are used (the first ones: whole seed blocks, the
same samples whatever the run's size).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from sim.analysis.breakeven import breakeven, breakeven_text, probability_above_today
from sim.analysis.cost import average_cost, cost_per_soldier
from sim.analysis.discovery import discover, p_value_text
from sim.analysis.runway import Runway, runway
from sim.config.scenario import Scenario, load_scenario, support
from sim.errors import UserError
from sim.numbers import iso_date, probability, value_text
from sim.report.plots import horizon_text

RERUN_SAMPLES = 5 * 4096
"""Break-even and marginal cost use at most this many of the run's samples: whole seed
blocks (`sim.priors.sampling.SEED_BLOCK_SAMPLES`), so that they are the run's first
samples exactly (a shorter last block draws its noise in another shape)."""

DISCOVERY_CONDITION = "force_change_persons < 0"
"""The report's discovery question: under which assumptions does the force shrink?"""


@dataclass
class Questions:
    """What the Questions section shows, and notes on what it could not.

    Attributes
    ----------
    breakeven : xarray.Dataset or None
    runway : Runway or None
    average_cost : xarray.Dataset or None
    marginal_cost : xarray.Dataset or None
    discovery : Discovery or None
    notes : list of str
        One sentence per question left out, saying why.
    lever_note : str
        Which lever break-even and the marginal cost move, and why.
    parameters : dict of str to (str, str)
        Each sampled parameter's variable (``param_recruitment_per_month``) -> its config
        key (``recruitment.per_month``, with ``@DATE`` for a schedule's entry) and units.
    when : str
        The run's horizon for captions (`` from 2025-01 to 2026-12``), or ``""``.
    """

    breakeven: xr.Dataset | None = None
    runway: Runway | None = None
    average_cost: xr.Dataset | None = None
    marginal_cost: xr.Dataset | None = None
    discovery: object | None = None
    notes: list[str] = field(default_factory=list)
    lever_note: str = ""
    parameters: dict[str, tuple[str, str]] = field(default_factory=dict)
    when: str = ""


def parameter_names(ds: xr.Dataset) -> dict[str, tuple[str, str]]:
    """Each ``param_*`` variable of a run -> (its config key, its units)."""
    out = {}
    for name, da in ds.data_vars.items():
        key = da.attrs.get("config_key")
        if str(name).startswith("param_") and key:
            since = da.attrs.get("in_force_from")
            out[str(name)] = (f"{key}@{since}" if since else str(key),
                              str(da.attrs.get("units", "")))
    return out


def rerun_scenario(ds: xr.Dataset) -> tuple[Scenario | None, str]:
    """The run's scenario, ready to run again on its samples, or None and why not."""
    path = ds.attrs.get("config_path", "")
    if ds.attrs.get("design") != "random":
        return None, f"the run used the {ds.attrs.get('design')} design (random needed)"
    try:
        scenario = load_scenario(path)
    except UserError:
        return None, f"its config {path!r} cannot be read here"
    if scenario.resolved_json() != ds.attrs.get("config_resolved"):
        return None, (f"its config {path!r} differs from the one recorded in the results "
                      "(changed since, or --set was used)")
    seed = ds.attrs.get("seed")
    if json.loads(ds.attrs.get("seed_spawn_key", "[]")) or not str(seed).isdigit():
        return None, "the run's seed is not a plain integer seed"
    return scenario.with_run(samples=min(ds.sizes["sample"], RERUN_SAMPLES),
                             seed=int(seed)), ""


def report_lever(scenario: Scenario) -> tuple[str, str]:
    """The lever the report uses, and why: the bonus where it buys recruits."""
    low, high = support(scenario.priors, "recruitment.bonus_elasticity")
    if low == high == 0.0:
        return "recruitment", ("the bonus elasticity is 0 in this scenario, so the bonus "
                               "buys no recruits: the lever is the recruitment level")
    return "bonus", "the lever is the regional bonus (recruits respond through the bonus " \
                    "elasticity)"


def answer(ds: xr.Dataset) -> Questions:
    """Compute every question the run `ds` can answer."""
    answers = Questions(parameters=parameter_names(ds))
    if horizon := horizon_text(ds):
        answers.when = f" from {horizon}"
    if "scenario" in ds.dims or "sample" not in ds.dims:
        answers.notes.append("The questions are answered for one scenario's run.")
        return answers
    if "first_cut_date" in ds and "first_stress_date" in ds:
        answers.runway = runway(ds)
    else:
        answers.notes.append("Runway: the scenario has no [regional_response], so the "
                             "regions never cut.")
    if all(name in ds for name in ("spend_rub", "rub_per_usd", "force_persons")):
        answers.average_cost = average_cost(ds)
    else:
        answers.notes.append("Average cost per soldier: needs the ledger for every sample "
                             "(a run with --keep full).")
    holds = ds["force_change_persons"].values < 0 if "force_change_persons" in ds else None
    if holds is not None and 0 < holds.sum() < holds.size:
        with contextlib.suppress(UserError):  # e.g. no parameter varies
            answers.discovery = discover(ds, DISCOVERY_CONDITION)
    if answers.discovery is None:
        answers.notes.append(f"Scenario discovery: \"{DISCOVERY_CONDITION}\" does not split "
                             "the samples (or no parameter varies).")
    scenario, why = rerun_scenario(ds)
    if scenario is None:
        answers.notes.append(f"Break-even and marginal cost run the model again on the "
                             f"run's samples, which is not possible here: {why}. Use "
                             "`fiscal-sim breakeven CONFIG` and `sim.cost_per_soldier`.")
        return answers
    lever, answers.lever_note = report_lever(scenario)
    answers.breakeven = breakeven(scenario, lever=lever)
    answers.marginal_cost = cost_per_soldier(scenario, lever=lever)
    return answers


def _statistics(values: np.ndarray) -> dict[str, float]:
    """Mean and 5/50/95th percentiles over the finite values (NaN when there are none)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": np.nan, "p5": np.nan, "p50": np.nan, "p95": np.nan}
    p5, p50, p95 = np.quantile(finite, (0.05, 0.5, 0.95))
    return {"mean": float(finite.mean()), "p5": float(p5), "p50": float(p50),
            "p95": float(p95)}


COST_MEASURES = (
    ("average_cost", "average_cost_rub_per_soldier_year",
     "average, per soldier-year at the front"),
    ("average_cost", "average_cost_usd_per_soldier_year",
     "average, per soldier-year at the front"),
    ("average_cost", "average_cost_rub_per_net_soldier", "average, per net soldier added"),
    ("marginal_cost", "marginal_cost_rub_per_soldier",
     "marginal, per extra soldier at the horizon"),
    ("marginal_cost", "marginal_cost_usd_per_soldier",
     "marginal, per extra soldier at the horizon"),
)
"""(Questions attribute, variable, label) of each cost measure the section shows."""


def cost_table(answers: Questions) -> pd.DataFrame:
    """Cost per soldier by payer, as numbers.

    Returns
    -------
    pandas.DataFrame
        One row per measure and payer: ``measure``, ``payer``, ``units`` (RUB or USD),
        ``p5``, ``p50``, ``p95`` over the samples where the measure is defined (no mean:
        the cost per net soldier added has a heavy tail where the force barely grows).
    """
    rows = []
    for attribute, name, label in COST_MEASURES:
        data = getattr(answers, attribute)
        if data is None or name not in data:
            continue
        for payer in data["payer"].values:
            stats = _statistics(data[name].sel(payer=payer).values)
            rows.append({"measure": label, "payer": str(payer),
                         "units": data[name].attrs.get("units", ""),
                         **{k: stats[k] for k in ("p5", "p50", "p95")}})
    return pd.DataFrame(rows, columns=["measure", "payer", "units", "p5", "p50", "p95"])


BREAKEVEN_COLUMNS = ["quantity", "year", "payer", "units", "mean", "p5", "p50", "p95"]


def breakeven_table(answers: Questions) -> pd.DataFrame:
    """Break-even as numbers: the scale, the lever's value at break-even and today, the
    share of futures whose break-even lies above today's level, and each year's manpower
    spend by payer today and at break-even.

    Returns
    -------
    pandas.DataFrame
        ``quantity``; ``year`` and ``payer`` (for the spend rows, else empty); ``units``;
        ``mean``, ``p5``, ``p50``, ``p95`` over the samples with a break-even in the
        bracket. The row ``break-even above today's level`` holds that share of futures
        as its ``mean`` (units ``1``), its percentiles empty.
    """
    ds = answers.breakeven
    if ds is None:
        return pd.DataFrame(columns=BREAKEVEN_COLUMNS)
    quantity = ds.attrs["lever_quantity"]
    rows = [{"quantity": "break-even scale (1 = today)", "units": "1",
             **_statistics(ds["breakeven_scale"].values)},
            {"quantity": f"{quantity} at break-even",
             "units": ds["breakeven_value"].attrs["units"],
             **_statistics(ds["breakeven_value"].values)},
            {"quantity": f"{quantity} today", "units": ds["today_value"].attrs["units"],
             **_statistics(ds["today_value"].values)},
            {"quantity": "break-even above today's level", "units": "1",
             "mean": probability_above_today(ds), "p5": np.nan, "p50": np.nan,
             "p95": np.nan}]
    for year in ds["year"].values:
        for payer in ds["payer"].values:
            for case, name in (("today", "today_spend_rub_by_year"),
                               ("at break-even", "breakeven_spend_rub_by_year")):
                rows.append({"quantity": f"manpower spend, {case}", "year": int(year),
                             "payer": str(payer), "units": ds[name].attrs["units"],
                             **_statistics(ds[name].sel(year=year, payer=payer).values)})
    frame = pd.DataFrame(rows, columns=BREAKEVEN_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    frame["payer"] = frame["payer"].fillna("")
    return frame


def runway_table(answers: Questions) -> pd.DataFrame:
    """The runway as numbers: ``date`` (ISO), ``p_cut_by_date`` and
    ``p_stress_over_threshold_by_date`` (shares of futures, 0-1)."""
    if answers.runway is None:
        return pd.DataFrame(columns=["date", *RUNWAY_COLUMNS.values()])
    frame = answers.runway.by_date.reset_index().rename(columns=RUNWAY_COLUMNS)
    frame["date"] = [iso_date(d) for d in frame["date"]]
    return frame[["date", *RUNWAY_COLUMNS.values()]].astype(
        {c: np.float64 for c in RUNWAY_COLUMNS.values()})


RUNWAY_COLUMNS = {"P(cut by date)": "p_cut_by_date",
                  "P(stress over threshold by date)": "p_stress_over_threshold_by_date"}
"""`sim.analysis.runway.Runway.by_date` columns -> the CSV's."""


DISCOVERY_COLUMNS = ["parameter", "units", "box_low", "box_high", "sample_low",
                     "sample_high", "p_value"]


def discovery_table(answers: Questions) -> pd.DataFrame:
    """The discovered box as numbers: each restricted parameter (its config key), its
    ``units``, the box (``box_low``, ``box_high``), the parameter's range in the samples
    (``sample_low``, ``sample_high``) and PRIM's quasi-p-value (``p_value``)."""
    result = answers.discovery
    if result is None:
        return pd.DataFrame(columns=DISCOVERY_COLUMNS)
    limits = result.limits.reset_index()
    names = [answers.parameters.get(str(p), (str(p), "")) for p in limits["parameter"]]
    return pd.DataFrame({
        "parameter": [key for key, _ in names], "units": [units for _, units in names],
        "box_low": limits["low"].astype(np.float64),
        "box_high": limits["high"].astype(np.float64),
        "sample_low": limits["sample_low"].astype(np.float64),
        "sample_high": limits["sample_high"].astype(np.float64),
        "p_value": limits["p_value"].astype(np.float64)}, columns=DISCOVERY_COLUMNS)


TABLES = {"breakeven": breakeven_table, "runway": runway_table, "cost": cost_table,
          "discovery": discovery_table}
"""Each question's table (numbers, as written to ``question_NAME.csv``)."""


def for_people(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A question's table (`TABLES`) as the page shows it: k/M/bn/trn in each row's units,
    shares and probabilities in %, ``median [5th, 95th percentile]`` in one cell.

    Parameters
    ----------
    name : str
        ``"breakeven"``, ``"runway"``, ``"cost"`` or ``"discovery"``.
    frame : pandas.DataFrame
        The table from ``TABLES[name]``.

    Returns
    -------
    pandas.DataFrame
        Text cells, never in scientific notation.
    """
    from sim.report.html import each, interval_text, units_text

    if name == "runway":
        shown = each(frame, RUNWAY_COLUMNS.values(), probability)
        return shown.rename(columns={v: k for k, v in RUNWAY_COLUMNS.items()})
    if name == "discovery":
        def span(low, high, units, parameter):
            return f"{value_text(low, units, parameter)} to {value_text(high, units, parameter)}"

        return pd.DataFrame({
            "parameter": frame["parameter"],
            "units": [units_text(u, p) for u, p in zip(frame["units"], frame["parameter"],
                                                       strict=True)],
            "box": [span(*r) for r in zip(frame["box_low"], frame["box_high"],
                                          frame["units"], frame["parameter"], strict=True)],
            "sampled range": [span(*r) for r in zip(frame["sample_low"], frame["sample_high"],
                                                    frame["units"], frame["parameter"],
                                                    strict=True)],
            "quasi-p-value": [p_value_text(p).removeprefix("p ").removeprefix("= ")
                              for p in frame["p_value"]]})
    if name == "cost":
        rows = {}
        for _, r in frame.iterrows():
            row = rows.setdefault((r["measure"], r["units"]), {
                "measure": r["measure"], "units": units_text(r["units"], r["measure"])})
            row[r["payer"]] = interval_text(r["p50"], r["p5"], r["p95"], r["units"])
        return pd.DataFrame(list(rows.values()))
    # breakeven: the share of futures above today's level is in the section's text
    frame = frame[frame["p50"].notna() | (frame["quantity"] != "break-even above today's "
                                                               "level")]
    return pd.DataFrame({
        "quantity": frame["quantity"],
        "year": [str(y) if pd.notna(y) else "" for y in frame["year"]],
        "payer": frame["payer"],
        "units": [units_text(u, q) for u, q in zip(frame["units"], frame["quantity"],
                                                   strict=True)],
        "median [5th, 95th percentile]": [
            interval_text(p50, p5, p95, u) for p50, p5, p95, u in zip(
                frame["p50"], frame["p5"], frame["p95"], frame["units"], strict=True)]})


def figures(answers: Questions) -> list[tuple[str, str, object]]:
    """(stem, caption, function returning a Figure) for each answer that has a figure; each
    caption is one sentence saying what the figure shows and over which dates."""
    from sim.report.discovery_plot import discovery_chart
    from sim.report.question_plots import breakeven_chart, runway_chart

    out = []
    if answers.breakeven is not None:
        quantity = answers.breakeven.attrs.get("lever_quantity", "lever")
        out.append(("question_breakeven", f"Histogram over the futures of the {quantity} "
                    f"(its value in the first month) at which the force at the horizon"
                    f"{answers.when} equals the force at the start, against today's level."
                    , lambda: breakeven_chart(answers.breakeven).figure))
    if answers.runway is not None:
        out.append(("question_runway", "The share of futures in which the regions have not "
                    "yet cut their bonuses, and in which their bonus bill has not yet crossed "
                    f"their stress threshold, at each date{answers.when}, with the "
                    "probabilities of a cut by the listed dates marked.",
                    lambda: runway_chart(answers.runway).figure))
    if answers.discovery is not None:
        out.append(("question_discovery", "Scenario discovery (PRIM) for a shrinking force: "
                    "the peeling trajectory of candidate boxes (coverage against density) and "
                    "the chosen box of assumptions, against each restricted prior's sampled "
                    "range.", lambda: discovery_chart(answers.discovery,
                                                      names=answers.parameters)))
    return out


def section_text(answers: Questions) -> list[tuple[str, str]]:
    """(heading, one-paragraph explanation) for each answer present."""
    out = []
    if answers.breakeven is not None:
        out.append(("Break-even", breakeven_text(answers.breakeven).splitlines()[0]
                    + f" Here {answers.lever_note}; {answers.breakeven.sizes['sample']:,} "
                    "of the run's samples. The break-even lies above today's level in "
                    f"{probability(probability_above_today(answers.breakeven))} of them."))
    if answers.runway is not None:
        out.append(("Runway to regional cuts", "P(cut by date): the share of futures in "
                    "which a regional bonus cut is in force on the date."))
    if answers.average_cost is not None or answers.marginal_cost is not None:
        out.append(("Cost per soldier", "Average: the manpower spend (bonuses, pay, "
                    "compensation) over the horizon per soldier-year served at the front, "
                    "or per net soldier added (undefined where the force shrank). Marginal: "
                    "the extra spend per extra soldier at the horizon, from a 1% move of the "
                    "lever with the same random numbers."))
    if answers.discovery is not None:
        out.append(("Where the force shrinks", answers.discovery.text().splitlines()[1]
                    .strip().capitalize() + "; the box below holds the assumptions under "
                    "which it mostly does."))
    return out
