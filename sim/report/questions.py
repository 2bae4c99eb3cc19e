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
from sim.analysis.summary import human, percent
from sim.config.scenario import Scenario, load_scenario, support
from sim.errors import UserError

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
    """

    breakeven: xr.Dataset | None = None
    runway: Runway | None = None
    average_cost: xr.Dataset | None = None
    marginal_cost: xr.Dataset | None = None
    discovery: object | None = None
    notes: list[str] = field(default_factory=list)
    lever_note: str = ""


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
    answers = Questions()
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


def _interval(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "undefined"
    p5, p50, p95 = np.quantile(finite, (0.05, 0.5, 0.95))
    return f"{human(p50)} [{human(p5)} to {human(p95)}]"


def cost_table(answers: Questions) -> pd.DataFrame:
    """Cost per soldier by payer: median [5% to 95%] of each measure available."""
    measures = []
    if answers.average_cost is not None:
        measures += [(answers.average_cost, "average_cost_rub_per_soldier_year",
                      "average, per soldier-year at the front [RUB]"),
                     (answers.average_cost, "average_cost_usd_per_soldier_year",
                      "average, per soldier-year at the front [USD]"),
                     (answers.average_cost, "average_cost_rub_per_net_soldier",
                      "average, per net soldier added [RUB]")]
    if answers.marginal_cost is not None:
        measures += [(answers.marginal_cost, "marginal_cost_rub_per_soldier",
                      "marginal, per extra soldier at the horizon [RUB]"),
                     (answers.marginal_cost, "marginal_cost_usd_per_soldier",
                      "marginal, per extra soldier at the horizon [USD]")]
    rows = []
    for data, name, label in measures:
        row = {"measure": label}
        for payer in data["payer"].values:
            row[str(payer)] = _interval(data[name].sel(payer=payer).values.astype(np.float64))
        rows.append(row)
    return pd.DataFrame(rows)


def breakeven_table(answers: Questions) -> pd.DataFrame:
    """Break-even: the scale, the lever's value and the yearly cost by payer."""
    ds = answers.breakeven
    if ds is None:
        return pd.DataFrame()
    unit = ds["breakeven_value"].attrs["units"]
    rows = [{"quantity": "break-even scale (1 = today)",
             "median [5% to 95%]": _interval(ds["breakeven_scale"].values)},
            {"quantity": f"{ds.attrs['lever_quantity']} at break-even [{unit}]",
             "median [5% to 95%]": _interval(ds["breakeven_value"].values)},
            {"quantity": f"{ds.attrs['lever_quantity']} today [{unit}]",
             "median [5% to 95%]": _interval(ds["today_value"].values)},
            {"quantity": "P(break-even above today's level)",
             "median [5% to 95%]": percent(probability_above_today(ds))}]
    for year in ds["year"].values:
        for payer in ds["payer"].values:
            today = ds["today_spend_rub_by_year"].sel(year=year, payer=payer).values
            at_root = ds["breakeven_spend_rub_by_year"].sel(year=year, payer=payer).values
            rows.append({"quantity": f"{payer} manpower spend {year}, today -> at break-even "
                                     "[RUB]",
                         "median [5% to 95%]": f"{_interval(today)} -> {_interval(at_root)}"})
    return pd.DataFrame(rows)


def runway_table(answers: Questions) -> pd.DataFrame:
    """P(cut by date) and P(stress over threshold by date), in %."""
    if answers.runway is None:
        return pd.DataFrame()
    frame = answers.runway.by_date.reset_index()
    frame["date"] = frame["date"].astype(str)
    for column in frame.columns[1:]:
        frame[column] = frame[column].map(percent)
    return frame


def discovery_table(answers: Questions) -> pd.DataFrame:
    """The discovered box: each restricted parameter's range and p-value."""
    result = answers.discovery
    if result is None:
        return pd.DataFrame()
    limits = result.limits.reset_index()
    return pd.DataFrame({
        "parameter": limits["parameter"],
        "box": [f"{human(lo)} to {human(hi)}" for lo, hi in zip(limits.low, limits.high,
                                                                 strict=True)],
        "sampled range": [f"{human(lo)} to {human(hi)}" for lo, hi in
                          zip(limits.sample_low, limits.sample_high, strict=True)],
        "quasi-p-value": [p_value_text(p).removeprefix("p ").removeprefix("= ")
                          for p in limits.p_value],
    })


def figures(answers: Questions) -> list[tuple[str, str, object]]:
    """(stem, caption, function returning a Figure) for each answer that has a figure."""
    from sim.report.discovery_plot import discovery_chart
    from sim.report.question_plots import breakeven_chart, runway_chart

    out = []
    if answers.breakeven is not None:
        out.append(("question_breakeven", "Break-even: for each future, the lever's value in "
                    "the first month at which the force at the horizon equals the force at "
                    "the start, against today's level.",
                    lambda: breakeven_chart(answers.breakeven).figure))
    if answers.runway is not None:
        out.append(("question_runway", "Runway: the share of futures in which the regions "
                    "have not yet cut their bonuses (and in which their bill has not yet "
                    "crossed their threshold), by date.",
                    lambda: runway_chart(answers.runway).figure))
    if answers.discovery is not None:
        out.append(("question_discovery", "Scenario discovery (PRIM): the peeling trajectory "
                    "(coverage against density) and the box of assumptions where the force "
                    "shrinks.", lambda: discovery_chart(answers.discovery)))
    return out


def section_text(answers: Questions) -> list[tuple[str, str]]:
    """(heading, one-paragraph explanation) for each answer present."""
    out = []
    if answers.breakeven is not None:
        out.append(("Break-even", breakeven_text(answers.breakeven).splitlines()[0]
                    + f" Here {answers.lever_note}; {answers.breakeven.sizes['sample']:,} "
                    "of the run's samples."))
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
