"""Figures for reports and notebooks. Each takes a Dataset and an optional ``ax`` and
returns the Axes (its ``.figure`` is the Figure). matplotlib is imported inside the
functions, so ``import sim`` never needs it.

Style, shared by every figure of the report (`sim.report.question_plots`,
`sim.report.calibration_plots`, `sim.report.discovery_plot` use the same constants):

- a title that says what and when (the horizon as ``2025-01 to 2026-12``, or the date a
  sensitivity result shows), axis labels with their units in brackets (``[USD/day]``,
  ``[persons/month]``; shares as ``[%]`` with percentage ticks), amounts with readable
  scales (611k, 20.8M, 604bn, 1.03trn; `sim.numbers.human`), a legend inside the canvas
  (under the axes when the function made the figure);
- a semantic palette: a colour means one thing in every figure. `MODEL` (blue) is the
  simulated or posterior distribution (medians, means, bands in its tints, histograms);
  `OBSERVED` (vermillion) is what someone reported (claims, observations); `THRESHOLD`
  (grey, dashed) is a threshold or target the text uses; `ZERO` (dark grey, solid) the
  zero line where signs matter; `FIRST_ORDER`/`TOTAL_ORDER` (green/purple) the Sobol
  indices; `LOW`/`HIGH` (sky/orange) a prior at its 5th/95th percentile; `PRIOR` (grey)
  a prior distribution. Series that are only names (ledger items, manpower flows,
  parameters, naive forecasts) take `CATEGORIES`, colours no semantic role uses.
- flows are drawn per month (a step's flow divided by its length in mean months), so
  February does not look like a dip.
"""

from __future__ import annotations

import json
import math

import numpy as np
import xarray as xr

from sim.analysis.experiments import factor_text, fixed_and_varying_factors, short_factor_names
from sim.analysis.summary import EVENTS, claims_from_attrs, claims_table
from sim.core.units import DAYS_PER_MONTH
from sim.numbers import human, is_share, iso_date, percent, probability, unit_label, with_unit
from sim.run.sketch import DEFAULT_RELATIVE_ACCURACY

# ------------------------------------------------------------------ palette

MODEL = "#0072B2"
"""The simulated (or posterior) distribution: median, mean, bands (its tints)."""
MODEL_DARK = "#004B75"
"""A line drawn over `MODEL` bars or bands (a median over a histogram)."""
MODEL_TINTS = ("#B3D4E8", "#6FA9D1")
"""`MODEL` lightened: the 5-95% band, the 25-75% band (opaque, so they print alike)."""
OBSERVED = "#D55E00"
"""What someone reported: claims, observations."""
THRESHOLD = "0.35"
"""A threshold or target the text uses (drawn dashed, `THRESHOLD_STYLE`)."""
THRESHOLD_STYLE = {"color": THRESHOLD, "ls": (0, (5, 3)), "lw": 1.4}
ZERO = "0.15"
"""The zero line (solid, thin), where signs matter."""
PATHS = "0.45"
"""Individual sample paths."""
PRIOR = "0.6"
"""A prior distribution (calibration)."""
FIRST_ORDER = "#009E73"
"""Sobol first-order index S1."""
TOTAL_ORDER = "#CC79A7"
"""Sobol total index ST."""
LOW = "#56B4E9"
"""Tornado: the prior at its 5th percentile."""
HIGH = "#E69F00"
"""Tornado: the prior at its 95th percentile."""
HIGHLIGHT = "#000000"
"""The one item a figure picks out (the chosen box of a scenario discovery)."""
CATEGORIES = ("#332288", "#44AA99", "#DDCC77", "#882255", "#999933", "#117733", "#88CCEE",
              "#AA4499")
"""Series that are only names (items, flows, parameters, forecasts): Paul Tol's muted
colour-blind-safe scheme, none of them a semantic colour above."""

BANDS = ((0.05, 0.95), (0.25, 0.75))
FIGSIZE = (8.0, 4.5)

_CLAIM_VARIABLE = {"force": "force_persons", "bonus_spend_usd": "bonus_spend_usd_per_day",
                   "bonus_spend_rub": "bonus_spend_rub_per_day"}

DISPLAY_NAMES = {
    "bonus_spend_usd_per_day": "Signing-bonus spend",
    "bonus_spend_rub_per_day": "Signing-bonus spend",
    "manpower_cost_usd_per_day": "Manpower cost",
    "manpower_cost_rub_per_day": "Manpower cost",
    "force_persons": "Deployed force",
    "force_change_persons": "Change of the deployed force over the horizon",
    "bonus_spend_usd_per_day_mean": "Mean signing-bonus spend over the horizon",
    "bonus_share_of_defense_horizon": "Signing-bonus bill as a share of the defence budget",
    "manpower_share_of_defense_horizon": "Manpower cost as a share of the defence budget",
}
"""Names people read for the variables the report draws; others come from `long_name`."""


# ------------------------------------------------------------------ shared pieces

def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    return ax


def amount_formatter():
    """Tick formatter for amounts: 611k, 20.8M, 604bn, 1.03trn (`sim.numbers.human`)."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: human(x))


def share_formatter():
    """Tick formatter for shares: 0.05 -> 5%, 0.035 -> 3.5%, 0.1 -> 10% (no trailing
    zeros)."""
    from matplotlib.ticker import FuncFormatter

    def tick(x, _pos):
        value = round(100 * x, 6)
        return "0%" if value == 0 else np.format_float_positional(
            value, precision=3, unique=True, fractional=False, trim="-") + "%"

    return FuncFormatter(tick)


def value_formatter(units: str):
    """`share_formatter` for shares (units ``"1"``), `amount_formatter` otherwise."""
    return share_formatter() if is_share(units) else amount_formatter()


def plain(text) -> str:
    """Text for a figure with its dollar signs escaped (matplotlib reads a pair of them
    as mathematics)."""
    return str(text).replace("$", r"\$")


def label_value(x: float, units: str) -> str:
    """A value with its units for a figure's text: ``$24M/day``, ``5%``, ``611k persons``
    (a dollar sign escaped, so matplotlib does not read a pair as mathematics)."""
    return plain(with_unit(x, units))


def display_name(name: str, attrs: dict | None = None) -> str:
    """The name people read for a variable: `DISPLAY_NAMES`, else its ``long_name``
    without a unit in parentheses ("(USD)") or a "daily" the unit already says,
    capitalised."""
    if name in DISPLAY_NAMES:
        return DISPLAY_NAMES[name]
    attrs = attrs or {}
    text = str(attrs.get("long_name", name)).replace("_", " ")
    units = str(attrs.get("units", ""))
    head, _, tail = text.rpartition(" (")
    if head and tail.endswith(")") and tail[:-1] in units:
        text = head
    if units.endswith("/day"):
        text = text.removeprefix("daily ")
    return text[:1].upper() + text[1:]


def axis_label(da: xr.DataArray | str, units: str | None = None) -> str:
    """``Name [units]`` for an axis: the `display_name` of a DataArray (or a given name)
    and its units, shares in %; no unit doubled ("Signing-bonus spend [USD/day]")."""
    if isinstance(da, xr.DataArray):
        name = display_name(str(da.name), da.attrs)
        units = da.attrs.get("units", "") if units is None else units
    else:
        name = da
    return f"{name} [{unit_label(units)}]" if units else name


def _month(value) -> str:
    return str(np.datetime64(value, "M"))


def horizon_text(ds: xr.Dataset) -> str:
    """The horizon of the results as months, ``2025-01 to 2026-12`` (from the step
    boundaries, the step starts or the resolved config); "" when the results do not
    say."""
    if "time_bound" in ds.coords and ds.sizes.get("time_bound", 0) > 1:
        bounds = ds["time_bound"].values.astype("datetime64[D]")
        return f"{_month(bounds[0])} to {_month(bounds[-1] - np.timedelta64(1, 'D'))}"
    if "time" in ds.coords and ds["time"].size and "step_days" in ds.coords:
        starts = ds["time"].values.astype("datetime64[D]")
        end = starts[-1] + np.timedelta64(int(ds["step_days"].values[-1]) - 1, "D")
        return f"{_month(starts[0])} to {_month(end)}"
    try:
        time = json.loads(ds.attrs.get("config_resolved", "{}")).get("time", {})
        start = np.datetime64(str(time["start"]), "M")
        return f"{start} to {start + np.timedelta64(int(time['months']) - 1, 'M')}"
    except (KeyError, TypeError, ValueError):
        return ""


def _with_horizon(text: str, ds: xr.Dataset, joiner: str = ", ") -> str:
    horizon = horizon_text(ds)
    return f"{text}{joiner}{horizon}" if horizon else text


def legend_below(ax, ncol: int = 3, handles=None, labels=None) -> None:
    """The legend under the axes, inside the canvas: a figure legend placed by the
    constrained layout ("outside lower center"), replacing the axes' legend and any
    figure legend drawn before. On axes the caller made without a constrained layout, a
    legend inside the axes instead."""
    fig = ax.figure
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    for old in list(fig.legends):
        old.remove()
    if not handles:
        return
    engine = fig.get_layout_engine()
    if engine is None or type(engine).__name__ != "ConstrainedLayoutEngine":
        ax.legend(handles, labels, loc="best", fontsize="small", frameon=False)
        return
    renderer = fig.canvas.get_renderer()
    for columns in range(min(ncol, len(handles)), 0, -1):  # as many columns as fit
        legend = fig.legend(handles, labels, loc="outside lower center", ncol=columns,
                            fontsize="small", frameon=False)
        if columns == 1 or legend.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            return
        legend.remove()


def fit_titles(fig) -> None:
    """Wrap every title of the figure (the axes' titles, left, centre and right, and the
    suptitle) over more lines until it fits inside the canvas: a long title ("...
    posterior against 11 observations (cavoli, putin, ...)") would otherwise run off the
    figure's edge, which the constrained layout does not prevent."""
    import textwrap

    engine = fig.get_layout_engine()
    if engine is not None:  # where the axes end up decides the room a title has
        engine.execute(fig)
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    artists = []
    for ax in fig.axes:
        box = ax.get_position()
        left, centre = box.x0 * width, (box.x0 + box.x1) / 2 * width
        for artist, room in ((ax.title, 2 * min(centre, width - centre)),
                             (getattr(ax, "_left_title", None), width - left),
                             (getattr(ax, "_right_title", None), box.x1 * width)):
            artists.append((artist, room))
    suptitle = getattr(fig, "_suptitle", None)
    artists.append((suptitle, width))
    for artist, room in artists:
        if artist is None or not artist.get_text():
            continue
        text = " ".join(artist.get_text().split())
        chars = len(text)
        while artist.get_window_extent(renderer).width > 0.97 * room and chars > 24:
            chars = int(chars * 0.9)
            artist.set_text("\n".join(textwrap.wrap(text, chars)))


def zero_line(ax, axis: str = "y") -> None:
    """The zero line (solid, `ZERO`) on the y (or x) axis."""
    if axis == "y":
        ax.axhline(0, color=ZERO, lw=0.9, zorder=1.5)
    else:
        ax.axvline(0, color=ZERO, lw=0.9, zorder=1.5)


def event_thresholds(variable: str) -> list[tuple[str, str, float]]:
    """The key-probability events (`sim.analysis.summary.EVENTS`) on a per-sample
    variable: (label, comparison ``<`` or ``>``, threshold)."""
    return [(label, op, float(threshold)) for label, name, op, threshold in EVENTS
            if name == variable and op in ("<", ">")]


def _event_probability(x: np.ndarray, op: str, threshold: float) -> float:
    """As `sim.analysis.summary.probability_table` counts it."""
    return float(np.mean(x < threshold if op == "<" else x > threshold))


def _draw_thresholds(ax, variable: str, values: np.ndarray | None, units: str,
                     orientation: str = "vertical") -> None:
    """A labelled dashed line at each key-probability threshold on `variable`, the
    probability in the label when the samples are given."""
    for _, op, threshold in event_thresholds(variable):
        side = "above" if op == ">" else "below"
        label = f"threshold {label_value(threshold, units)}"
        if values is not None and values.size:
            label += f": P({side}) = {probability(_event_probability(values, op, threshold))}"
        else:
            label += ", as in the key probabilities"
        line = ax.axvline if orientation == "vertical" else ax.axhline
        line(threshold, **THRESHOLD_STYLE, label=label, zorder=4)


# ------------------------------------------------------------------ quantiles

def quantile_bands(ds: xr.Dataset, variable: str) -> tuple[xr.DataArray, dict]:
    """Quantiles 5, 25, 50, 75, 95 over samples, from full data or summary statistics
    (``--keep summary``: the quantile sketch's answers, as stored)."""
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    if variable in ds:
        q = ds[variable].astype(np.float64).quantile(levels, dim="sample")
        return q, ds[variable].attrs
    stored = ds[f"{variable}_quantiles"]
    return stored.sel(quantile=levels), stored.attrs


def _bands(ds: xr.Dataset, variable: str) -> tuple[xr.DataArray, dict, bool]:
    """`quantile_bands`, smoothed within the sketch's error when from a sketch; and
    whether they are."""
    q, attrs = quantile_bands(ds, variable)
    if variable in ds:
        return q, attrs, False
    q = q.transpose("quantile", ...)
    return q.copy(data=smooth_within_sketch(q.values)), attrs, True


"""The relative accuracy of ``--keep summary``'s quantile sketches
(`sim.run.sketch.DEFAULT_RELATIVE_ACCURACY`)."""


def smooth_within_sketch(quantiles: np.ndarray,
                         relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY) -> np.ndarray:
    """Sketch quantiles over time, drawn without the sketch's staircase and without
    leaving what the sketch says.

    A sketch answers a quantile with its bucket's representative value v, and the exact
    quantile x satisfies |v - x| <= alpha |x|: x lies in the bucket [v / (1 + alpha),
    v / (1 - alpha)] (mirrored for v < 0; 0 for v = 0). A quantile that drifts slowly
    stays in one bucket for a few steps and then moves to the next, so the answers climb
    in flat runs joined by jumps of one bucket (2 alpha), a staircase the data do not
    have. Here each flat run is replaced by straight lines through the runs' centres,
    only towards a neighbouring run one bucket away (a larger jump is real and kept),
    and every point is clipped back into its bucket: the curve passes through the
    sketch's answer at each run's centre and never leaves the interval the exact quantile
    lies in, so it is a value the exact quantile could have everywhere (the drawn line
    is at most a bucket's width, 2 alpha / (1 - alpha), from the exact quantile, like any
    value in the bucket; on a steady drift it is closer than the staircase). It is drawn,
    never stored.

    Parameters
    ----------
    quantiles : ndarray, shape (L, T) or (T,)
        L quantile series over T steps, as the sketch answered them; rows in increasing
        level.
    relative_accuracy : float
        The sketch's alpha.

    Returns
    -------
    ndarray, the shape of `quantiles`
        Inside the buckets, and non-decreasing down the rows.
    """
    values = np.asarray(quantiles, dtype=np.float64)
    squeeze = values.ndim == 1
    values = np.atleast_2d(values)
    step = math.log((1 + relative_accuracy) / (1 - relative_accuracy))
    curve = np.array([_through_run_centres(row, step) for row in values])
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        a, b = values / (1 + relative_accuracy), values / (1 - relative_accuracy)
    curve = np.where(finite, np.clip(curve, np.fmin(a, b), np.fmax(a, b)), values)
    if curve.shape[0] > 1 and finite.all():  # a shared bucket: keep the levels in order
        curve = np.maximum.accumulate(curve, axis=0)
    return curve[0] if squeeze else curve


def _through_run_centres(row: np.ndarray, log_bucket: float) -> np.ndarray:
    """One series: flat runs replaced by lines between the centres of runs one bucket
    apart (see `smooth_within_sketch`)."""
    steps = len(row)
    if steps < 3 or not np.all(np.isfinite(row)):
        return row.copy()
    starts = np.r_[0, np.flatnonzero(np.diff(row) != 0) + 1]
    ends = np.r_[starts[1:], steps]
    centres = (starts + ends - 1) / 2.0
    knots = row[starts]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = knots[1:] / knots[:-1]
        adjacent = (ratio > 0) & (np.abs(np.log(ratio)) < 1.5 * log_bucket)
    out = row.copy()
    run = np.searchsorted(starts, np.arange(steps), side="right") - 1
    for t in range(steps):
        k = run[t]
        centre = centres[k]
        last = len(knots) - 1
        # towards the next run's centre (past the last run's centre: on from the one
        # before, so the series' ends are not left flat)
        after = t > centre and k < last and adjacent[k]
        before = t != centre and k > 0 and adjacent[k - 1] and (t < centre or k == last)
        if after or (t < centre and k == 0 and last > 0 and adjacent[0]):
            towards = k + 1
        elif before:
            towards = k - 1
        else:
            continue
        share = (t - centre) / (centres[towards] - centre)
        out[t] = knots[k] + (knots[towards] - knots[k]) * share
    return out


def _time_dim(da: xr.DataArray) -> str:
    return next(d for d in da.dims if d in ("time", "time_bound", "year"))


def _percentile_label(low: float, high: float) -> str:
    return f"{round(100 * low)}th-{round(100 * high)}th percentile"


# ------------------------------------------------------------------ runs

def fan_chart(ds: xr.Dataset, variable: str = "bonus_spend_usd_per_day", ax=None,
              paths: int = 5, claims: bool = True):
    """Fan chart of one variable over time: percentile bands, median, sample paths, claims.

    5-95% and 25-75% bands, the median, a few sample paths, and the claims about this
    quantity as markers (a point, or a line over a window). Works on full results and on
    ``--keep summary`` results (bands only; the sketch's quantiles are drawn smoothly
    within its 1% error, `smooth_within_sketch`).

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (`sim.simulate`, `sim.read_results`), full or ``--keep
        summary``, or a calibration result (its posterior particles). Reads `variable`
        (or, in a summary, ``<variable>_quantiles``), the ``time``/``time_bound``
        coordinates, ``step_days`` and attrs ``claims`` and ``config_resolved``.
    variable : str, default ``"bonus_spend_usd_per_day"``
        A variable over ``time`` (per step), ``time_bound`` (stocks at step boundaries)
        or ``year``, with a ``sample`` dim, e.g. ``force_persons``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure with the legend under the axes.
    paths : int, default 5
        Sample paths drawn (full results only; 0 for none).
    claims : bool, default True
        Draw the claims about `variable` (attr ``claims``).

    Returns
    -------
    matplotlib.axes.Axes
        Title: the variable's name (per day for a daily amount) and the horizon; x: date;
        y: the variable in its units (shares in %). Legend: the two percentile bands
        (tints of `MODEL` blue), the median (`MODEL`), the sample paths (grey) and each
        claim (`OBSERVED` vermillion).
    """
    owned = ax is None
    ax = _axes(ax)
    q, attrs, sketched = _bands(ds, variable)
    units = str(attrs.get("units", ""))
    dim = _time_dim(q)
    x = q[dim].values
    for (low, high), colour in zip(BANDS, MODEL_TINTS, strict=True):
        ax.fill_between(x, q.sel(quantile=low), q.sel(quantile=high), color=colour, lw=0,
                        label=_percentile_label(low, high))
    ax.plot(x, q.sel(quantile=0.5), color=MODEL, lw=2,
            label="median (from the quantile sketch)" if sketched else "median")
    if variable in ds and paths:
        for i in range(min(paths, ds.sizes["sample"])):
            ax.plot(x, ds[variable].isel(sample=i), color=PATHS, lw=0.7, alpha=0.8,
                    label="sample paths" if i == 0 else None)
    if claims:
        _draw_claims(ds, variable, ax)
    ax.yaxis.set_major_formatter(value_formatter(units))
    name = display_name(variable, attrs)
    ax.set_ylabel(axis_label(name, units))
    ax.set_xlabel("date")
    per = " per day" if units.endswith("/day") else ""
    ax.set_title(_with_horizon(f"{name}{per}", ds))
    ax.margins(x=0.01)
    if owned:
        legend_below(ax, ncol=3)
    else:
        ax.legend(loc="best", fontsize="small", frameon=False)
    ax.figure.autofmt_xdate()
    fit_titles(ax.figure)
    return ax


def claims_drawn_on(ds: xr.Dataset, variable: str) -> list:
    """The claims a fan chart of `variable` draws (those about that quantity).

    Parameters
    ----------
    ds : xarray.Dataset
        Results holding the ``claims`` attr.
    variable : str
        The fan chart's variable (``force_persons``, ``bonus_spend_usd_per_day``, ...).

    Returns
    -------
    list of Claim
    """
    return [claim for claim in claims_from_attrs(ds)
            if _CLAIM_VARIABLE.get(claim.quantity) == variable]


def _draw_claims(ds: xr.Dataset, variable: str, ax) -> None:
    for claim in claims_drawn_on(ds, variable):
        if claim.date is not None:
            ax.plot([np.datetime64(claim.date)], [claim.value], marker="D", color=OBSERVED,
                    ms=7, ls="none", label=plain(claim.label), zorder=5)
        else:
            ax.hlines(claim.value, np.datetime64(claim.start), np.datetime64(claim.end),
                      color=OBSERVED, lw=2.5, label=plain(claim.label), zorder=5)


def distribution(ds: xr.Dataset, variable: str = "bonus_spend_usd_per_day_mean", ax=None,
                 bins: int = 50):
    """Histogram and ECDF of a per-sample outcome, with median, 90% interval, thresholds.

    The thresholds of the key probabilities on it (`event_thresholds`: $24M a day, 5% of
    the defence budget, no change of the force) are labelled dashed lines with the
    probability beyond them.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results, full or ``--keep summary`` (per-sample outcomes are kept for
        every sample), or a calibration result. Reads `variable` (its ``units`` attr).
    variable : str, default ``"bonus_spend_usd_per_day_mean"``
        A per-sample outcome (dims ``sample`` only), e.g.
        ``bonus_share_of_defense_horizon`` (shares in %).
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure with the legend under the axes.
    bins : int, default 50
        Histogram bins.

    Returns
    -------
    matplotlib.axes.Axes
        The histogram's axes; the ECDF is on a twin y axis (cumulative share of samples
        [%]). Title: the outcome's name and the horizon; x: the outcome in its units;
        y: samples [count]. Legend: the samples (`MODEL` tint), the 90% interval
        (shaded), the median (dark blue), each threshold (grey dashed, `THRESHOLD`) with
        P(above) or P(below), and the ECDF (dotted).
    """
    owned = ax is None
    ax = _axes(ax)
    da = ds[variable]
    units = str(da.attrs.get("units", ""))
    x = np.asarray(da, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:  # e.g. a date of an event that never happens in any sample
        ax.text(0.5, 0.5, "no sample has a finite value", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_title(_with_horizon(display_name(variable, da.attrs), ds, ", "))
        ax.set_xlabel(axis_label(da))
        ax.set_ylabel("samples [count]")
        return ax
    ax.hist(x, bins=bins, color=MODEL_TINTS[1], label=f"samples ({len(x):,})", zorder=2)
    p5, p50, p95 = np.quantile(x, (0.05, 0.5, 0.95))
    ax.axvspan(p5, p95, color=MODEL_TINTS[0], alpha=0.45, lw=0, zorder=1,
               label=f"90% interval {label_value(p5, units)} to {label_value(p95, units)}")
    ax.axvline(p50, color=MODEL_DARK, lw=2.2, label=f"median {label_value(p50, units)}",
               zorder=3)
    _draw_thresholds(ax, variable, x, units)
    if variable == "force_change_persons" or (x.min() < 0 < x.max()):
        zero_line(ax, "x")
    twin = ax.twinx()
    ordered = np.sort(x)
    twin.plot(ordered, np.arange(1, len(ordered) + 1) / len(ordered), color=MODEL_DARK,
              lw=1.3, ls=(0, (1, 1.5)), label="share of samples at or below (right axis)")
    twin.set_ylabel("cumulative share of samples [%]")
    twin.set_ylim(0, 1)
    twin.yaxis.set_major_formatter(share_formatter())
    ax.xaxis.set_major_formatter(value_formatter(units))
    ax.set_xlabel(axis_label(da))
    ax.set_ylabel("samples [count]")
    ax.set_title(_with_horizon(display_name(variable, da.attrs), ds, ", "))
    handles = ax.get_legend_handles_labels()
    twin_handles = twin.get_legend_handles_labels()
    handles = (handles[0] + twin_handles[0], handles[1] + twin_handles[1])
    if owned:
        legend_below(ax, ncol=2, handles=handles[0], labels=handles[1])
    else:
        ax.legend(*handles, loc="upper left", fontsize="small", frameon=False)
    fit_titles(ax.figure)
    return ax


MANPOWER_FLOWS = (
    ("recruits", "recruits_persons", +1),
    ("wounded returning to duty", "returns_persons", +1),
    ("irrecoverable losses", "irrecoverable_losses_persons", -1),
    ("wounded into recovery", ("casualties_persons", "irrecoverable_losses_persons"), -1),
    ("other exits", "other_exits_persons", -1),
    ("recruits held in training and reserve, net", ("training_persons", "reserve_persons"),
     -1),
)
"""The terms of the deployed force's change, F(k+1) - F(k) = recruits + returns to duty
- irrecoverable losses - wounded into recovery (casualties - irrecoverable losses) - other
exits - growth of the training and reserve stocks (`sim.core.model.run_force`): (label,
variable, or two variables: a difference of flows, or stocks whose growth is taken, sign)."""


MANPOWER_COLOURS = dict(zip((flow[0] for flow in MANPOWER_FLOWS),
                            ("#44AA99", "#88CCEE", "#882255", "#DDCC77", "#999933", "#117733"),
                            strict=True))
"""A `CATEGORIES` colour per flow: inflows blue-green, outflows warm."""


def _sample_mean(ds: xr.Dataset, name: str) -> xr.DataArray | None:
    """Mean over samples, from full data or the summary's ``_sample_mean``."""
    if name in ds and "sample" in ds[name].dims:
        return ds[name].astype(np.float64).mean("sample")
    if f"{name}_sample_mean" in ds:
        return ds[f"{name}_sample_mean"].astype(np.float64)
    return None


def months_per_step(ds: xr.Dataset) -> xr.DataArray:
    """Length of each step in mean months (``step_days`` / 30.4375), on ``time``."""
    return ds["step_days"].astype(np.float64) / DAYS_PER_MONTH


def manpower_flows(ds: xr.Dataset) -> tuple[dict[str, xr.DataArray], xr.DataArray]:
    """The mean flows into (+) and out of (-) the deployed force per step, as persons per
    month (each step's flow divided by its length in mean months), and the mean net
    change of the force likewise; the flows add up to the net change.

    Means are used because they add up (medians of parts do not sum to the median of
    the whole). Terms the results do not hold (no training or reserve in old results)
    are left out.

    Parameters
    ----------
    ds : xarray.Dataset
        Run results, full or ``--keep summary`` (its ``*_sample_mean``).

    Returns
    -------
    flows : dict of str to xarray.DataArray
        By label (`MANPOWER_FLOWS`), signed [persons/month] on ``time``.
    net : xarray.DataArray
        Mean ``net_change_persons`` [persons/month] on ``time``.
    """
    months = months_per_step(ds)
    time = ds["time"]
    flows = {}
    for label, names, sign in MANPOWER_FLOWS:
        if isinstance(names, str):
            mean = _sample_mean(ds, names)
        elif names[0] == "casualties_persons":
            parts = [_sample_mean(ds, n) for n in names]
            mean = None if any(p is None for p in parts) else parts[0] - parts[1]
        else:  # stocks on the step boundaries: their growth over each step
            parts = [_sample_mean(ds, n) for n in names]
            parts = [p for p in parts if p is not None]
            mean = None
            if parts:
                stock = sum(parts)
                growth = stock.diff("time_bound").values
                mean = xr.DataArray(growth, coords={"time": time}, dims="time")
        if mean is not None:
            flows[label] = sign * mean / months
    net = _sample_mean(ds, "net_change_persons") / months
    return flows, net


def manpower_balance(ds: xr.Dataset, ax=None):
    """Manpower balance: mean flows in and out of the deployed force per month, and net.

    The flows in (above zero) and out (below zero) are stacked bars that add up to the
    mean net change of the force (line), drawn with the net change's 5-95% range over
    samples; all in persons per month (a step's flow over its length in mean months).

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results, full or ``--keep summary`` (its ``*_sample_mean`` and
        ``net_change_persons_quantiles``), or a calibration result. Reads the variables
        of `MANPOWER_FLOWS` (those present), ``net_change_persons``, ``step_days`` and
        ``time``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure with the legend under the axes.

    Returns
    -------
    matplotlib.axes.Axes
        Title: "Manpower balance of the deployed force per month" and the horizon; x:
        date; y: flow (+ in, - out) [persons/month]. Each flow is a bar container in a
        `MANPOWER_COLOURS` colour labelled as in `MANPOWER_FLOWS`; the net change is the
        `MODEL` line labelled "net change of the force, mean", its 5th to 95th percentile
        the dark blue vertical lines.
    """
    owned = ax is None
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(FIGSIZE[0], FIGSIZE[1] + 1.0), layout="constrained")
    flows, net = manpower_flows(ds)
    x = ds["time"].values.astype("datetime64[D]")
    days = ds["step_days"].values.astype(float)
    centre = x + (days / 2 * 86400).astype("timedelta64[s]")
    width = 0.8 * days
    above, below = np.zeros(len(x)), np.zeros(len(x))
    for label, flow in flows.items():
        height, colour = flow.values, MANPOWER_COLOURS[label]
        bottom = np.where(height >= 0, above, below)
        ax.bar(centre, height, width=width, bottom=bottom, color=colour, lw=0,
               label=label, zorder=2)
        above = np.where(height >= 0, above + height, above)
        below = np.where(height < 0, below + height, below)
    q, _, _ = _bands(ds, "net_change_persons")
    months = months_per_step(ds).values
    ax.vlines(centre, q.sel(quantile=0.05).values / months,
              q.sel(quantile=0.95).values / months, color=MODEL_DARK, lw=1.2, zorder=3.5,
              label="net change, 5th to 95th percentile of samples")
    ax.plot(centre, net.values, color=MODEL, lw=2.2, marker="o", ms=5, zorder=4,
            markeredgecolor="white", label="net change of the force, mean")
    zero_line(ax)
    ax.yaxis.set_major_formatter(amount_formatter())
    ax.set_ylabel("flow (+ in, \u2212 out) [persons/month]")
    ax.set_xlabel("date")
    ax.set_title(_with_horizon("Manpower balance of the deployed force per month", ds)
                 + ": mean flows")
    ax.margins(x=0.01)
    if owned:
        legend_below(ax, ncol=3)
    else:
        ax.legend(loc="best", fontsize="small", frameon=False)
    ax.figure.autofmt_xdate()
    fit_titles(ax.figure)
    return ax


def ledger_chart(ds: xr.Dataset, ax=None):
    """Who pays: mean manpower spend per calendar year by payer, split by item.

    One stacked bar per payer (federal, regional) and year, split by item, labelled with
    the payer's spend as a share of its own budget (median). Means are shown because they
    add up (medians of parts do not sum to the median of the whole); a partial calendar
    year (see ``year_days``) is marked as such.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results, full or ``--keep summary`` (per-year totals are kept for every
        sample), or a calibration result. Reads ``spend_rub_by_year`` (sample, year,
        payer, item), ``<payer>_manpower_share_of_<payer>_spending_by_year`` and
        ``year_days`` when present.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure with the legend under the axes.

    Returns
    -------
    matplotlib.axes.Axes
        Title: "Who pays: mean manpower spending by payer and item" and the years; x:
        calendar year; y: mean spend per calendar year [RUB]. Legend: one entry per
        payer and item (`CATEGORIES` colours by item, regional bars hatched).
    """
    owned = ax is None
    ax = _axes(ax)
    spend = ds["spend_rub_by_year"].astype(np.float64).mean("sample")
    years, payers, items = (spend[d].values for d in ("year", "payer", "item"))
    width = 0.38
    colours = dict(zip(items, CATEGORIES, strict=False))
    hatches = {"federal": "", "regional": "//"}
    x = np.arange(len(years))
    for j, payer in enumerate(payers):
        bottom = np.zeros(len(years))
        position = x + (j - 0.5) * width
        for item in items:
            height = spend.sel(payer=payer, item=item).values
            if not np.any(height):
                continue
            ax.bar(position, height, width, bottom=bottom, color=colours[item],
                   hatch=hatches.get(str(payer), ""), edgecolor="white", lw=0.5,
                   label=f"{payer} {item}")
            bottom += height
        budget = f"{payer}_manpower_share_of_{payer}_spending_by_year"
        for i in range(len(years)):
            share = (f"{percent(float(ds[budget].isel(year=i).median()))} of {payer} "
                     "spending" if budget in ds else "")
            ax.annotate(f"{payer}\n{share}".strip(), (position[i], bottom[i]),
                        ha="center", va="bottom", fontsize="x-small",
                        xytext=(0, 2), textcoords="offset points")
    days = ds["year_days"].values if "year_days" in ds else np.full(len(years), 365)
    ax.set_xticks(x, [f"{y}" + ("" if d >= 365 else f"\n({int(d)} days)")
                      for y, d in zip(years, days, strict=True)])
    ax.yaxis.set_major_formatter(amount_formatter())
    ax.set_ylabel("mean spend per calendar year [RUB]")
    ax.set_xlabel("calendar year")
    span = f"{years[0]}" if len(years) == 1 else f"{years[0]} to {years[-1]}"
    ax.set_title(f"Who pays: mean manpower spending by payer and item, {span}")
    ax.margins(y=0.15)
    if owned:
        legend_below(ax, ncol=3)
    else:
        ax.legend(loc="upper left", fontsize="small", frameon=False)
    fit_titles(ax.figure)
    return ax


def claims_chart(ds: xr.Dataset, ax=None):
    """Each claim against its simulated 90% interval, as a difference from the median.

    Claims have different units; the ratio to the simulated median puts them on one
    axis. Each row's label gives the claim and its verdict (`claims_table`).

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results, full or ``--keep summary`` (claim values are kept for every
        sample), or a calibration result. Reads ``claim_value`` (claim, sample) and
        attr ``claims``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure, one row per claim, with the
        legend under the axes.

    Returns
    -------
    matplotlib.axes.Axes
        Title: "Claims against the simulated distribution" and the horizon; x:
        difference from the simulated median [%] (the x data are ratios to the median,
        1: the median); y: one row per claim. Legend: the simulated 90% interval
        (`MODEL` tint), the simulated median (dark blue tick), the claim (`OBSERVED`
        vermillion diamond).
    """
    from matplotlib.ticker import FuncFormatter

    table = claims_table(ds)
    owned = ax is None
    if ax is None:  # one row per claim, room for long labels
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(11.0, 1.8 + 0.32 * len(table)), layout="constrained")
    y = np.arange(len(table))[::-1]
    low, high = table.p5 / table.p50, table.p95 / table.p50
    ax.hlines(y, low, high, color=MODEL_TINTS[1], lw=6, label="simulated 90% interval")
    ax.plot(np.ones(len(y)), y, "|", color=MODEL_DARK, ms=14, mew=2,
            label="simulated median")
    ax.plot(table.value / table.p50, y, "D", color=OBSERVED, ms=8, ls="none",
            label="claim")
    verdicts = [f"{v}, set a prior" if use == "prior" else v
                for v, use in zip(table.verdict, table.used_for, strict=True)]
    ax.set_yticks(y, [plain(f"{c} ({v})") for c, v in zip(table.claim, verdicts, strict=True)],
                  fontsize="small")
    ax.axvline(1, color=ZERO, lw=0.8)
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda v, _pos: f"{100 * (v - 1):+.0f}%" if round(100 * (v - 1)) else "0"))
    ax.set_xlabel("difference from the simulated median [%]")
    ax.set_title(_with_horizon("Claims against the simulated distribution", ds), loc="left")
    ax.set_ylim(-0.7, len(y) - 0.3)
    if owned:
        legend_below(ax, ncol=3)
    else:
        ax.legend(loc="best", fontsize="small", frameon=False)
    fit_titles(ax.figure)
    return ax


# ------------------------------------------------------------------ sensitivity

def _extra_dim(sens: xr.Dataset) -> str | None:
    column = next(c for c in ("spearman", "prcc", "total_order", "tornado_low") if c in sens)
    extra = [d for d in sens[column].dims if d != "parameter"]
    return extra[0] if extra else None


def sensitivity_when(sens: xr.Dataset, at: int = -1) -> str:
    """When a sensitivity figure's numbers hold: ``at 2026-12-01`` (a step's start or a
    boundary, as the CLI prints it), ``in 2026`` (a calendar year), or ``over 2025-01 to
    2026-12`` (a per-sample outcome over the horizon)."""
    dim = _extra_dim(sens)
    if dim is not None:
        value = sens[dim].values[at]
        return f"in {int(value)}" if dim == "year" else f"at {iso_date(value)}"
    time = str(sens.attrs.get("outcome_time", ""))
    if time and time != "all":
        return f"at {time}"
    horizon = horizon_text(sens)
    return f"over {horizon}" if horizon else ""


def _outcome_name(sens: xr.Dataset, per_day: bool = True) -> str:
    """The outcome's name in a sentence: ``signing-bonus spend per day``."""
    name = str(sens.attrs.get("outcome", "outcome"))
    units = str(sens.attrs.get("outcome_units", ""))
    text = display_name(name, {"long_name": name.replace("_", " "), "units": units})
    if not text[1:2].isupper():  # mid-sentence: "regional ...", but "USD ..." stays
        text = text[:1].lower() + text[1:]
    return f"{text} per day" if per_day and units.endswith("/day") else text


def _ranked(sens: xr.Dataset, column: str, at: int = -1) -> xr.Dataset:
    extra = [d for d in sens[column].dims if d != "parameter"]
    view = sens.isel({extra[0]: at}) if extra else sens
    order = np.argsort(np.abs(view[column].values))
    return view.isel(parameter=order)


def tornado_chart(sens: xr.Dataset, ax=None, top: int = 12):
    """One-at-a-time tornado: the outcome with each prior at its 5th and 95th percentile.

    The other priors stay at their medians; at the last time analysed (the title says
    which); the `top` priors with the widest swing, the widest at the top.

    Parameters
    ----------
    sens : xarray.Dataset
        A sensitivity result (`sim.sensitivity`, with or without ``rank_only``). Reads
        ``tornado_low``, ``tornado_high``, ``tornado_base`` and attrs ``outcome``,
        ``outcome_units``, ``outcome_time``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure with the legend under the axes.
    top : int, default 12
        Priors shown.

    Returns
    -------
    matplotlib.axes.Axes
        Title: "Tornado" with when, the outcome, "one prior at a time"; x: the outcome in
        its units; y: one row per prior. Legend: prior at its 5th percentile (`LOW`
        sky blue), at its 95th (`HIGH` orange), and the line of all priors at their
        medians (`ZERO` dark grey) with its value.
    """
    owned = ax is None
    ax = _axes(ax)
    units = str(sens.attrs.get("outcome_units", ""))
    base = float(np.ravel(sens.tornado_base.values)[-1])
    swing = np.abs(sens.tornado_high - sens.tornado_low)
    view = _ranked(sens.assign(swing=swing), "swing").isel(parameter=slice(-top, None))
    y = np.arange(view.sizes["parameter"])
    low = np.ravel(view.tornado_low.values)
    high = np.ravel(view.tornado_high.values)
    ax.barh(y - 0.18, low - base, left=base, height=0.36, color=LOW,
            label="prior at its 5th percentile")
    ax.barh(y + 0.18, high - base, left=base, height=0.36, color=HIGH,
            label="prior at its 95th percentile")
    ax.set_yticks(y, view.parameter.values, fontsize="small")
    ax.axvline(base, color=ZERO, lw=1, label=f"all priors at their medians: "
               f"{label_value(base, units)}")
    ax.xaxis.set_major_formatter(value_formatter(units))
    name = _outcome_name(sens, per_day=False)
    ax.set_xlabel(axis_label(name[:1].upper() + name[1:], units))
    ax.set_title(f"Tornado {sensitivity_when(sens)}: {_outcome_name(sens)}, one prior at "
                 "a time", loc="left")
    if owned:
        legend_below(ax, ncol=3)
    else:
        ax.legend(loc="lower right", fontsize="small", frameon=False)
    fit_titles(ax.figure)
    return ax


def sobol_chart(sens: xr.Dataset, ax=None, top: int = 12):
    """First-order and total Sobol indices of the top priors, with bootstrap intervals.

    As shares of the outcome's variance; at the last time analysed (the title says
    which); the `top` priors by total index, the largest at the top.

    Parameters
    ----------
    sens : xarray.Dataset
        A sensitivity result (`sim.sensitivity`) with Sobol indices (not ``rank_only``).
        Reads ``first_order``, ``total_order`` and their ``_low``/``_high`` ends, and
        attrs ``outcome``, ``outcome_units``, ``outcome_time``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure with the legend under the axes.
    top : int, default 12
        Priors shown.

    Returns
    -------
    matplotlib.axes.Axes
        Title: "Sobol indices of" the outcome and when; x: share of the outcome's
        variance [%]; y: one row per prior. Legend: first order S1 (`FIRST_ORDER`
        green), total ST (`TOTAL_ORDER` purple); the error bars are the bootstrap
        intervals.
    """
    owned = ax is None
    ax = _axes(ax)
    view = _ranked(sens, "total_order").isel(parameter=slice(-top, None))
    y = np.arange(view.sizes["parameter"])
    for offset, name, color, label in (
            (-0.2, "first_order", FIRST_ORDER, "first order S1 (this prior alone)"),
            (0.2, "total_order", TOTAL_ORDER, "total ST (with its interactions)")):
        value = np.ravel(view[name].values)
        error = np.abs(np.vstack([value - np.ravel(view[f"{name}_low"].values),
                                  np.ravel(view[f"{name}_high"].values) - value]))
        ax.barh(y + offset, value, height=0.4, xerr=error, color=color, label=label,
                error_kw={"lw": 0.8, "ecolor": "0.25"})
    ax.set_yticks(y, view.parameter.values, fontsize="small")
    zero_line(ax, "x")
    ax.xaxis.set_major_formatter(share_formatter())
    ax.set_xlabel("share of the outcome's variance [%]")
    ax.set_title(f"Sobol indices of {_outcome_name(sens)} {sensitivity_when(sens)}",
                 loc="left")
    if owned:
        legend_below(ax, ncol=2)
    else:
        ax.legend(loc="lower right", fontsize="small", frameon=False)
    fit_titles(ax.figure)
    return ax


def indices_over_time(sens: xr.Dataset, ax=None, top: int = 5):
    """Total Sobol indices (or |PRCC| for rank-only results) of the top priors over time.

    Parameters
    ----------
    sens : xarray.Dataset
        A sensitivity result over time (`sim.sensitivity` with ``time="all"``: a
        ``time``, ``time_bound`` or ``year`` dim). Reads ``total_order``, else ``prcc``,
        and attr ``outcome``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure with the legend under the axes.
    top : int, default 5
        Priors drawn: those with the largest mean index over time.

    Returns
    -------
    matplotlib.axes.Axes
        Title: "Drivers of" the outcome "over time" and the span; x: date (or calendar
        year); y: total Sobol index ST [% of variance], or |partial rank correlation|
        [0 to 1]. Legend: one line per prior (`CATEGORIES` colours, names only).
    """
    owned = ax is None
    ax = _axes(ax)
    column = "total_order" if "total_order" in sens else "prcc"
    da = sens[column] if column == "total_order" else np.abs(sens[column])
    dim = _time_dim(da)
    leaders = da.mean(dim).to_series().sort_values(ascending=False).index[:top]
    for color, name in zip(CATEGORIES, leaders, strict=False):
        ax.plot(da[dim].values, da.sel(parameter=name), color=color, lw=2, label=name)
    if column == "total_order":
        ax.yaxis.set_major_formatter(share_formatter())
        ax.set_ylabel("total Sobol index ST [% of variance]")
    else:
        ax.set_ylabel("|partial rank correlation| [0 to 1]")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("date" if dim != "year" else "calendar year")
    values = da[dim].values
    span = (f"{int(values[0])} to {int(values[-1])}" if dim == "year"
            else f"{_month(values[0])} to {_month(values[-1])}")
    ax.set_title(f"Drivers of {_outcome_name(sens)} over time, {span}", loc="left")
    if owned:
        legend_below(ax, ncol=3)
    else:
        ax.legend(loc="best", fontsize="small", frameon=False)
    if dim != "year":
        ax.figure.autofmt_xdate()
    fit_titles(ax.figure)
    return ax


# ------------------------------------------------------------------ sweeps

def scenario_comparison(sweep: xr.Dataset, variable: str = "bonus_spend_usd_per_day_mean",
                        ax=None):
    """Median and 50%/90% intervals of a per-sample outcome for each scenario of a sweep.

    With the key-probability thresholds on it (`event_thresholds`) and a zero line where
    the sign matters. Scenarios are labelled by the factors that vary between them
    (`scenario_tick_labels`).

    Parameters
    ----------
    sweep : xarray.Dataset
        A sweep (`sim.run_experiments`, or a sweep's results read back), full or
        ``--keep summary``. Reads `variable` (scenario, sample), the per-scenario factor
        coordinates and ``scenario_label``.
    variable : str, default ``"bonus_spend_usd_per_day_mean"``
        A per-sample outcome, e.g. ``force_change_persons``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default (None) a new figure, one row per scenario, with the
        legend under the axes.

    Returns
    -------
    matplotlib.axes.Axes
        Title: the outcome's name "by scenario" and the horizon; x: the outcome in its
        units; y: one row per scenario. Legend: the 90% interval (`MODEL` tint), the
        50% interval (`MODEL`), the median (dark blue dot), each threshold (`THRESHOLD`
        grey dashed).
    """
    count = sweep.sizes["scenario"]
    owned = ax is None
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(FIGSIZE[0], max(FIGSIZE[1], 0.45 * count + 2.2)),
                             layout="constrained")
    units = str(sweep[variable].attrs.get("units", ""))
    da = sweep[variable].astype(np.float64)
    q = da.quantile([0.05, 0.25, 0.5, 0.75, 0.95], dim="sample")
    y = np.arange(count)[::-1]
    ax.hlines(y, q.sel(quantile=0.05), q.sel(quantile=0.95), color=MODEL_TINTS[1], lw=2,
              label="90% interval")
    ax.hlines(y, q.sel(quantile=0.25), q.sel(quantile=0.75), color=MODEL, lw=7, alpha=0.7,
              label="50% interval")
    ax.plot(q.sel(quantile=0.5), y, "o", color=MODEL_DARK, ms=7, label="median",
            markeredgecolor="white")
    _draw_thresholds(ax, variable, None, units)
    values = da.values
    signed = variable.endswith("_change_persons") or np.nanmin(values) < 0 < np.nanmax(values)
    if signed and not any(t == 0 for _, _, t in event_thresholds(variable)):
        zero_line(ax, "x")
    ax.set_yticks(y, scenario_tick_labels(sweep), fontsize="small")
    ax.set_ylim(-0.6, count - 0.4)
    ax.xaxis.set_major_formatter(value_formatter(units))
    ax.set_xlabel(axis_label(sweep[variable]))
    ax.set_title(_with_horizon(f"{display_name(variable, sweep[variable].attrs)} by scenario",
                               sweep), loc="left", fontsize="medium")
    if owned:
        legend_below(ax, ncol=4)
    else:
        ax.legend(loc="best", fontsize="small", frameon=False)
    fit_titles(ax.figure)
    return ax


def scenario_tick_labels(sweep: xr.Dataset) -> list[str]:
    """Short scenario labels: only the factors that vary, by their shortest unique name,
    values with k/M/bn/trn (``regional_rub=1.2M``); the file names when whole configs are
    compared."""
    _, varying = fixed_and_varying_factors(sweep)
    factors = [name for name in varying if name != "config"]
    if not factors:  # whole configs compared: their labels are the file names
        return [str(label) for label in sweep.scenario_label.values]
    short = short_factor_names(factors)
    labels = [", ".join(f"{short[name]}={factor_text(sweep[name].values[i].item())}"
                        for name in factors) for i in range(sweep.sizes["scenario"])]
    unique = len(set(labels)) == len(labels)  # else rounding made two alike
    return labels if unique else [str(label) for label in sweep.scenario_label.values]
