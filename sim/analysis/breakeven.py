"""Break-even: the lever's scale at which the force at the horizon equals the force at the start.

For every sample, the scale s* on the lever (the regional bonus, or the recruitment level;
`sim.analysis.levers`) with F_K(s*) = F_0, found on the real model with the sample's own
parameters and innovations (common random numbers: each root is exact for its own noise),
and what the ledger costs each year at s* against today's level (s = 1).

The root search runs on all samples at once: the gap g(s) = F_K(s) - F_0 is evaluated at
s = 1, then at the end of the bracket on the side where the root lies (below 1 when the
force grows at today's level, above when it shrinks), then by the Illinois variant of
regula falsi (a secant step kept inside the bracket, the retained end's gap halved when the
same end is kept twice; a bisection when the step leaves the bracket, and for every sample
still unsolved after `ILLINOIS_PASSES` passes). Each pass runs the
model only on the samples not yet solved. A sample is solved when |g| <= the tolerance
[persons]; when the bracket shrinks to nothing while |g| stays larger, the force jumps over
the target there (the regions' response switches between cutting and recovering as the
bill crosses their threshold) and the crossing point is reported with that status.
A sample whose gap has the same sign at both ends of the bracket has no root in it: it is
reported as below or above the bracket, never clipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import xarray as xr

from sim.analysis.levers import LEVERS, LeverRuns, check_lever, force_change
from sim.config.scenario import Scenario
from sim.core.metrics import ledger_by_year
from sim.errors import ParameterError
from sim.numbers import human, percent, probability
from sim.priors.sampling import root_seed
from sim.run.dataset import coordinates, provenance
from sim.run.inputs import all_inputs

TARGETS = ("force-constant",)
"""What break-even means: ``force-constant``, the deployed force at the horizon equals the
force at the start."""

DEFAULT_BRACKET = (0.0, 10.0)
"""The scales searched by default: from no lever at all to ten times today's level."""

MAX_SCALE = 1000.0
"""A bracket beyond this is a typo (a thousand times today's bonus or recruitment)."""

FOUND, BELOW, ABOVE, JUMP, UNSOLVED = range(5)
STATUS_MEANINGS = ("found", "below_bracket", "above_bracket", "at_a_jump", "not_converged")
"""`breakeven_status` codes 0-4: a root within the tolerance; the force grows even at the
bracket's low end (the break-even scale lies below it); it shrinks even at the high end
(above it); the force jumps over the target at the scale reported; not converged within
the iterations allowed, or the model gave no finite force there."""

ILLINOIS_PASSES = 8
"""Passes of the Illinois step before bisection takes over for the samples still unsolved:
a smooth gap converges well within them; a gap with jumps (the regions' response) can stall
the secant, and bisection then halves the bracket every pass (43 passes from 10 to 1e-12)."""

DEFAULT_CHUNK_SAMPLES = 2**14
"""Samples run through the model at once: the search holds every sample's inputs, and
runs the unsolved ones in pieces of this size (one piece when few are left)."""

RELATIVE_SCALE_TOLERANCE = 1e-12
"""A bracket narrower than this (relative to max(1, s), a few thousand ulps) has shrunk to
a point: if |g| is still above the tolerance there, the force jumps over the target."""


def check_bracket(bracket: tuple[float, float]) -> tuple[float, float]:
    """The bracket as floats, or a one-line refusal: 0 <= low <= 1 <= high <= `MAX_SCALE`."""
    try:
        low, high = (float(x) for x in bracket)
    except (TypeError, ValueError):
        raise ParameterError("bracket", f"expected two numbers LOW,HIGH, got {bracket!r}"
                             ) from None
    if not (np.isfinite(low) and np.isfinite(high) and 0.0 <= low <= 1.0 <= high <= MAX_SCALE
            and low < high):
        raise ParameterError("bracket", f"expected scales 0 <= LOW <= 1 <= HIGH <= "
                             f"{MAX_SCALE:g} with LOW < HIGH (1 is today's level), got "
                             f"{low:g},{high:g}")
    return low, high


def solve_scale(gap: Callable[[np.ndarray, np.ndarray], np.ndarray], gap_at_one: np.ndarray,
                bracket: tuple[float, float], tolerance_persons: float,
                max_iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The scale s* with g(s*) = 0 for every sample, vectorized over samples.

    Parameters
    ----------
    gap : callable
        ``gap(scale, rows)``: g at the given scales (m,) for the samples `rows` (m,) [persons].
    gap_at_one : ndarray, shape (n,)
        g(1) [persons], already computed.
    bracket : (float, float)
        The scales searched, low <= 1 <= high.
    tolerance_persons : float
        A root is a scale with |g| <= this [persons].
    max_iterations : int
        Passes at most (Illinois steps, then bisection).

    Returns
    -------
    scale : ndarray, shape (n,)
        s* [1]; NaN where there is no root in the bracket.
    status : ndarray of int8, shape (n,)
        Codes of `STATUS_MEANINGS`.
    """
    n = len(gap_at_one)
    low, high = bracket
    scale = np.full(n, np.nan)
    status = np.full(n, UNSOLVED, dtype=np.int8)
    solved = np.abs(gap_at_one) <= tolerance_persons
    scale[solved], status[solved] = 1.0, FOUND
    shrinks = ~solved & (gap_at_one < 0)  # the root lies above today's level
    # the ends: a is the end with the gap of g(1)'s sign, b the other one, found next
    a = np.ones(n)
    b = np.where(shrinks, high, low)
    ga = gap_at_one.copy()
    gb = np.full(n, np.nan)
    rows = np.flatnonzero(~solved)
    if len(rows):
        gb[rows] = gap(b[rows], rows)
    broken = ~solved & ~(np.isfinite(gb) & np.isfinite(ga))  # the model gave no number
    at_end = ~solved & ~broken & (np.abs(gb) <= tolerance_persons)
    scale[at_end], status[at_end] = b[at_end], FOUND
    outside = ~solved & ~broken & ~at_end & (np.sign(gb) == np.sign(ga))
    status[outside & shrinks] = ABOVE
    status[outside & ~shrinks] = BELOW
    active = ~solved & ~broken & ~at_end & ~outside
    kept = np.zeros(n, dtype=np.int8)  # Illinois: which end was kept last (+1 a, -1 b)
    for iteration in range(max_iterations):
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        ar, br, gar, gbr = a[rows], b[rows], ga[rows], gb[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (ar * gbr - br * gar) / (gbr - gar)
        lo, hi = np.minimum(ar, br), np.maximum(ar, br)
        bisect = ~((s > lo) & (s < hi)) | (iteration >= ILLINOIS_PASSES)
        s[bisect] = 0.5 * (lo[bisect] + hi[bisect])
        gs = gap(s, rows)
        broken = ~np.isfinite(gs)  # left as not converged
        active[rows[broken]] = False
        rows, s, gs, ar, br, gar = (x[~broken] for x in (rows, s, gs, ar, br, gar))
        root = np.abs(gs) <= tolerance_persons
        same_as_a = np.sign(gs) == np.sign(gar)
        # replace the end whose gap has the sign of g(s); halve the other's if kept twice
        replace_a, replace_b = same_as_a & ~root, ~same_as_a & ~root
        a[rows[replace_a]], ga[rows[replace_a]] = s[replace_a], gs[replace_a]
        b[rows[replace_b]], gb[rows[replace_b]] = s[replace_b], gs[replace_b]
        kept_b = rows[replace_a]
        gb[kept_b[kept[kept_b] == -1]] *= 0.5
        kept[kept_b] = -1
        kept_a = rows[replace_b]
        ga[kept_a[kept[kept_a] == 1]] *= 0.5
        kept[kept_a] = 1
        width = np.abs(a[rows] - b[rows])
        narrow = ~root & (width <= RELATIVE_SCALE_TOLERANCE * np.maximum(1.0, s))
        scale[rows[root]], status[rows[root]] = s[root], FOUND
        scale[rows[narrow]], status[rows[narrow]] = s[narrow], JUMP
        active[rows[root | narrow]] = False
    return scale, status


def breakeven(scenario: Scenario, *, lever: str = "bonus", target: str = "force-constant",
              samples: int | None = None, seed: int | None = None,
              bracket: tuple[float, float] = DEFAULT_BRACKET, tolerance_persons: float = 1.0,
              chunk_samples: int | None = None) -> xr.Dataset:
    """The break-even scale on a lever for every sample, and its yearly cost by payer.

    Parameters
    ----------
    scenario : Scenario
        From `sim.load_scenario`.
    lever : {"bonus", "recruitment"}
        ``bonus`` scales the regional bonus (before the regions' response; the federal
        bonus is the law's), ``recruitment`` the recruitment level R, from the first step.
        The bonus buys recruits only through ``recruitment.bonus_elasticity``.
    target : {"force-constant"}
        The deployed force at the horizon equals the force at the start.
    samples, seed : int, optional
        Default ``[run] samples`` and ``seed``; sample i is sample i of `sim.simulate`
        with the same samples and seed.
    bracket : (float, float)
        Scales searched, 0 <= low <= 1 <= high (1 is the scenario as given).
    tolerance_persons : float
        |F_K(s*) - F_0| at a root [persons].
    chunk_samples : int, optional
        Samples run through the model at once (memory; default `DEFAULT_CHUNK_SAMPLES`);
        results do not depend on it. Every sample's inputs are held in memory.

    Returns
    -------
    xarray.Dataset
        Dims ``sample``, ``year``, ``payer`` (federal, regional). Per sample:

        - ``breakeven_scale`` [1]: s*, a multiple of today's level (NaN without a root in
          the bracket);
        - ``breakeven_status``: codes 0-4 of `STATUS_MEANINGS` (found, below_bracket,
          above_bracket, at_a_jump, not_converged);
        - ``breakeven_value`` and ``today_value``: the lever's quantity in the first step
          at s* and at 1 [RUB per recruit or persons per month, `LEVERS`];
        - ``force_change_persons`` [persons]: F_K - F_0 at today's level.

        Per sample, year and payer: ``today_spend_rub_by_year`` and
        ``breakeven_spend_rub_by_year`` [RUB] (bonuses, pay and compensation falling in
        the calendar year). Attrs: the run's provenance, ``lever``, ``target``,
        ``bracket``, ``tolerance_persons``, ``model_runs`` (model runs made, in whole-run
        equivalents) and ``wall_seconds``.

    Raises
    ------
    ParameterError
        For an unknown lever or target, a bad bracket, or the bonus lever in a scenario
        where the bonus elasticity is zero in every sample.
    """
    check_lever(scenario, lever)
    if target not in TARGETS:
        raise ParameterError("target", f"expected one of {', '.join(TARGETS)}, got {target!r}")
    bracket = check_bracket(bracket)
    if not (np.isfinite(tolerance_persons) and tolerance_persons > 0):
        raise ParameterError("tolerance_persons", f"expected a number > 0, got "
                             f"{tolerance_persons!r}")
    scenario = scenario.with_run(samples=samples, seed=seed)
    root = root_seed(scenario.seed)
    started = time.perf_counter()
    runs = LeverRuns(scenario, *all_inputs(scenario, root), lever,
                     chunk_samples=chunk_samples or DEFAULT_CHUNK_SAMPLES)
    values = _solve(runs, bracket, tolerance_persons)
    seconds = time.perf_counter() - started
    return _dataset(scenario, root, values, lever, target, bracket, tolerance_persons,
                    runs.runs, seconds)


def _solve(runs: LeverRuns, bracket: tuple[float, float], tolerance_persons: float
           ) -> dict[str, np.ndarray]:
    """The roots, lever values and yearly costs of every sample of `runs`."""
    n, weights = runs.samples, runs.scenario.grid.year_weights()
    every = np.arange(n)

    def spend_by_year(results: dict[str, np.ndarray]) -> np.ndarray:
        return ledger_by_year(results["spend_rub"], weights).sum(axis=2)  # (Y, payer, m)

    def gap_and_spend(results: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([force_change(results)[None],
                               spend_by_year(results).reshape(-1, len(results["force"][0]))])

    today = runs.evaluate(np.ones(n), every, gap_and_spend)
    change_today = today[0]
    spend_today = today[1:].reshape(len(weights.T), -1, n)
    scale, status = solve_scale(
        lambda s, rows: runs.evaluate(s, rows, force_change), change_today, bracket,
        tolerance_persons)
    spend_breakeven = np.full_like(spend_today, np.nan)
    rows = np.flatnonzero(np.isfinite(scale))
    if len(rows):
        spend_breakeven[..., rows] = runs.evaluate(scale[rows], rows, spend_by_year)
    today_value = runs.value_at_start()
    return {
        "breakeven_scale": scale,
        "breakeven_status": status,
        "breakeven_value": scale * today_value,
        "today_value": today_value,
        "force_change_persons": change_today,
        "today_spend_rub_by_year": spend_today,
        "breakeven_spend_rub_by_year": spend_breakeven,
    }


def _dataset(scenario: Scenario, root, values: dict[str, np.ndarray], lever: str, target: str,
             bracket: tuple[float, float], tolerance_persons: float, runs: float,
             seconds: float) -> xr.Dataset:
    """The labelled result of `breakeven`."""
    _, quantity, unit = LEVERS[lever]
    coords = {name: coord for name, coord in coordinates(scenario).items()
              if name in ("sample", "year", "year_days", "payer")}

    def attrs(units: str, long_name: str, description: str) -> dict:
        return {"units": units, "long_name": long_name, "description": description}

    yearly = ("year", "payer", "sample")
    data = {
        "breakeven_scale": ("sample", values["breakeven_scale"], attrs(
            "1", f"break-even scale on the {quantity}",
            f"Scale s on the {quantity} at which the deployed force at the horizon equals "
            "the force at the start (1: the scenario as given); NaN where the bracket holds "
            "no root (see breakeven_status).")),
        "breakeven_status": ("sample", values["breakeven_status"], {
            "long_name": "break-even search status",
            "flag_values": np.arange(len(STATUS_MEANINGS), dtype=np.int8),
            "flag_meanings": " ".join(STATUS_MEANINGS),
            "description": "0 found; 1 the force grows even at the bracket's low end; 2 it "
                           "shrinks even at the high end; 3 the force jumps over the target "
                           "at the scale given; 4 not converged."}),
        "breakeven_value": ("sample", values["breakeven_value"], attrs(
            unit, f"break-even {quantity}",
            f"The {quantity} in the first step at the break-even scale.")),
        "today_value": ("sample", values["today_value"], attrs(
            unit, f"{quantity} as given", f"The {quantity} in the first step at scale 1.")),
        "force_change_persons": ("sample", values["force_change_persons"], attrs(
            "persons", "force change over the horizon at today's level",
            "F_K - F_0 with the lever at 1.")),
        "today_spend_rub_by_year": (yearly, values["today_spend_rub_by_year"], attrs(
            "RUB", "manpower spend per year at today's level",
            "Bonuses, pay and compensation falling in each calendar year, by payer, with "
            "the lever at 1.")),
        "breakeven_spend_rub_by_year": (yearly, values["breakeven_spend_rub_by_year"], attrs(
            "RUB", "manpower spend per year at break-even",
            "Bonuses, pay and compensation falling in each calendar year, by payer, with "
            "the lever at the break-even scale; NaN without a root.")),
    }
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(provenance(scenario, root, "breakeven"))
    ds.attrs.update(analysis="breakeven", lever=lever, lever_quantity=quantity, target=target,
                    bracket=f"{bracket[0]:g},{bracket[1]:g}",
                    tolerance_persons=float(tolerance_persons), model_runs=round(runs, 2),
                    wall_seconds=round(seconds, 3))
    return ds.transpose("sample", ...)


def probability_above_today(ds: xr.Dataset) -> float:
    """P(s* > 1): the share of samples whose break-even lies above today's level (a root
    above 1, or no root up to the bracket's high end, which is >= 1)."""
    status = ds["breakeven_status"].values
    scale = ds["breakeven_scale"].values
    above = (status == ABOVE) | (np.isfinite(scale) & (scale > 1.0))
    return float(above.mean())


def _scale_text(x: float) -> str:
    """A lever scale: two decimals (1.35), or three significant digits below 0.1."""
    return f"{x:.2f}" if abs(x) >= 0.1 or x == 0 else human(x)


def breakeven_text(ds: xr.Dataset) -> str:
    """A short human summary of a `breakeven` result.

    Parameters
    ----------
    ds : xarray.Dataset
        From `breakeven`.

    Returns
    -------
    str
        Several lines: the median and 5-95% range of the break-even scale and of the
        lever's value at break-even (amounts as 611k, 1.2M), P(break-even above today's
        level) in %, the samples without a root by reason, and per calendar year and
        payer the median manpower spend today and at break-even [RUB].
    """
    lever, quantity = ds.attrs["lever"], ds.attrs["lever_quantity"]
    unit = LEVERS[lever][2]
    status = ds["breakeven_status"].values
    n = len(status)
    low, high = ds.attrs["bracket"].split(",")
    found = np.isfinite(ds["breakeven_scale"].values)
    lines = [f"Break-even ({ds.attrs['target']}): the scale on the {quantity} at which the "
             f"force at the horizon equals the force at the start, per sample "
             f"(bracket {low} to {high}; 1 = today's level)."]
    if found.any():
        scale = ds["breakeven_scale"].values[found]
        value = ds["breakeven_value"].values[found]
        today = ds["today_value"].values[found]
        q = np.quantile
        lines.append(
            f"  scale     median {_scale_text(q(scale, 0.5))}  [5-95%: "
            f"{_scale_text(q(scale, 0.05))} to {_scale_text(q(scale, 0.95))}]  "
            f"({found.sum():,} of {n:,} samples)")
        lines.append(
            f"  {quantity} at break-even: median {human(q(value, 0.5))} [{human(q(value, 0.05))}"
            f" to {human(q(value, 0.95))}] {unit}, against {human(q(today, 0.5))} today")
    lines.append("  P(break-even above today's level) = "
                 f"{probability(probability_above_today(ds))}")
    for code, text in ((BELOW, f"the force grows even at {low}x: break-even below the bracket"),
                       (ABOVE, f"the force shrinks even at {high}x: break-even above the "
                               "bracket"),
                       (JUMP, "the force jumps over the target (the regions' response "
                              "switches); the crossing point is reported"),
                       (UNSOLVED, "not converged")):
        count = int((status == code).sum())
        if count:
            lines.append(f"  {count:,} samples ({percent(count / n)}): {text}")
    lines.append("Manpower spend per year by payer, median (today -> at break-even), RUB:")
    today_spend = ds["today_spend_rub_by_year"].median("sample")
    at_breakeven = ds["breakeven_spend_rub_by_year"].median("sample", skipna=True)
    for year in ds["year"].values:
        parts = [f"{payer} {human(float(today_spend.sel(year=year, payer=payer)))} -> "
                 f"{human(float(at_breakeven.sel(year=year, payer=payer)))}"
                 for payer in ds["payer"].values]
        lines.append(f"  {year}: " + "; ".join(parts))
    return "\n".join(lines)
