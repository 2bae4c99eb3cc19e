"""Figures for reports and notebooks. Each takes a Dataset and an optional ``ax`` and
returns the Axes (its ``.figure`` is the Figure). matplotlib is imported inside the
functions, so ``import sim`` never needs it.

Style: the Okabe-Ito colour-blind-safe palette, units on every axis, numbers with
readable scales (k, M, bn, trn).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sim.analysis.summary import claims_from_attrs, claims_table, human

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000")
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY = OKABE_ITO[:6]
BANDS = ((0.05, 0.95), (0.25, 0.75))
FIGSIZE = (8.0, 4.5)

_CLAIM_VARIABLE = {"force": "force_persons", "bonus_spend_usd": "bonus_spend_usd_per_day",
                   "bonus_spend_rub": "bonus_spend_rub_per_day"}


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    return ax


def _formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: human(x))


def axis_label(da: xr.DataArray) -> str:
    """``long name [units]`` for an axis."""
    units = da.attrs.get("units", "")
    return f"{da.attrs.get('long_name', da.name)} [{units}]" if units else str(
        da.attrs.get("long_name", da.name))


def _time_dim(da: xr.DataArray) -> str:
    return next(d for d in da.dims if d in ("time", "time_bound", "year"))


def quantile_bands(ds: xr.Dataset, variable: str) -> tuple[xr.DataArray, dict]:
    """Quantiles 5, 25, 50, 75, 95 over samples, from full data or summary statistics."""
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    if variable in ds:
        q = ds[variable].astype(np.float64).quantile(levels, dim="sample")
        return q, ds[variable].attrs
    stored = ds[f"{variable}_quantiles"]
    return stored.sel(quantile=levels), stored.attrs


def fan_chart(ds: xr.Dataset, variable: str = "bonus_spend_usd_per_day", ax=None,
              paths: int = 5, claims: bool = True):
    """Fan chart over time: 5-95% and 25-75% bands, the median, a few sample paths,
    and the claims about this quantity as markers (a point, or a line over a window).

    Works on full results and on ``--keep summary`` results (bands only).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    q, attrs = quantile_bands(ds, variable)
    dim = _time_dim(q)
    x = q[dim].values
    for (low, high), alpha in zip(BANDS, (0.25, 0.45), strict=True):
        ax.fill_between(x, q.sel(quantile=low), q.sel(quantile=high), color=BLUE, alpha=alpha,
                        lw=0, label=f"{low:.0%}-{high:.0%}")
    ax.plot(x, q.sel(quantile=0.5), color=BLUE, lw=2, label="median")
    if variable in ds and paths:
        for i in range(min(paths, ds.sizes["sample"])):
            ax.plot(x, ds[variable].isel(sample=i), color="0.4", lw=0.7, alpha=0.7,
                    label="sample paths" if i == 0 else None)
    if claims:
        _draw_claims(ds, variable, ax)
    ax.yaxis.set_major_formatter(_formatter())
    ax.set_ylabel(f"{attrs.get('long_name', variable)} [{attrs.get('units', '')}]")
    ax.set_xlabel("date")
    ax.set_title(attrs.get("long_name", variable))
    ax.legend(loc="best", fontsize="small", frameon=False)
    ax.figure.autofmt_xdate()
    return ax


def _draw_claims(ds: xr.Dataset, variable: str, ax) -> None:
    for claim in claims_from_attrs(ds):
        if _CLAIM_VARIABLE.get(claim.quantity) != variable:
            continue
        if claim.date is not None:
            ax.plot([np.datetime64(claim.date)], [claim.value], marker="D", color=VERMILLION,
                    ms=8, ls="none", label=claim.label)
        else:
            ax.hlines(claim.value, np.datetime64(claim.start), np.datetime64(claim.end),
                      color=VERMILLION, lw=2.5, label=claim.label)


def distribution(ds: xr.Dataset, variable: str = "bonus_spend_usd_per_day_mean", ax=None,
                 bins: int = 50):
    """Histogram of a per-sample outcome with its ECDF, median and 90% interval marked.

    Returns
    -------
    matplotlib.axes.Axes
        The histogram's axes; the ECDF is on a twin y axis.
    """
    ax = _axes(ax)
    da = ds[variable]
    x = np.asarray(da, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    ax.hist(x, bins=bins, color=BLUE, alpha=0.6, label="samples")
    p5, p50, p95 = np.quantile(x, (0.05, 0.5, 0.95))
    ax.axvline(p50, color=VERMILLION, lw=2, label=f"median {human(p50)}")
    ax.axvspan(p5, p95, color=ORANGE, alpha=0.15, label=f"90% interval {human(p5)}-{human(p95)}")
    twin = ax.twinx()
    ordered = np.sort(x)
    twin.plot(ordered, np.arange(1, len(ordered) + 1) / len(ordered), color=GREEN, lw=1.5,
              label="ECDF")
    twin.set_ylabel("cumulative share [1]")
    twin.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(_formatter())
    ax.set_xlabel(axis_label(da))
    ax.set_ylabel("samples [count]")
    ax.set_title(da.attrs.get("long_name", variable))
    handles = ax.get_legend_handles_labels()
    twin_handles = twin.get_legend_handles_labels()
    ax.legend(handles[0] + twin_handles[0], handles[1] + twin_handles[1], loc="upper right",
              fontsize="small", frameon=False)
    return ax


def manpower_balance(ds: xr.Dataset, ax=None):
    """Recruits against irrecoverable losses per step (medians), with the 90% band of the
    net change of the force.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    recruits, _ = quantile_bands(ds, "recruits_persons")
    losses, _ = quantile_bands(ds, "irrecoverable_losses_persons")
    net, _ = quantile_bands(ds, "net_change_persons")
    x = recruits["time"].values
    ax.fill_between(x, net.sel(quantile=0.05), net.sel(quantile=0.95), color=GREEN,
                    alpha=0.25, lw=0, label="net change of force, 90% band")
    ax.plot(x, net.sel(quantile=0.5), color=GREEN, lw=1.5, ls="--",
            label="net change, median")
    ax.plot(x, recruits.sel(quantile=0.5), color=BLUE, lw=2, marker="o", ms=3,
            label="recruits, median")
    ax.plot(x, losses.sel(quantile=0.5), color=VERMILLION, lw=2, marker="s", ms=3,
            label="irrecoverable losses, median")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.yaxis.set_major_formatter(_formatter())
    ax.set_ylabel("persons per step [persons]")
    ax.set_xlabel("date")
    ax.set_title("Manpower balance")
    ax.legend(loc="best", fontsize="small", frameon=False)
    ax.figure.autofmt_xdate()
    return ax


def ledger_chart(ds: xr.Dataset, ax=None):
    """Who pays: mean spend per calendar year, one stacked bar per payer (federal, regional)
    split by item, labelled with the payer's spend as a share of its own budget (median).

    Means are shown because they add up (medians of parts do not sum to the median of the
    whole); a partial calendar year (see ``year_days``) is marked as such.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    spend = ds["spend_rub_by_year"].astype(np.float64).mean("sample")
    years, payers, items = (spend[d].values for d in ("year", "payer", "item"))
    width = 0.38
    colours = dict(zip(items, (BLUE, ORANGE, GREEN), strict=True))
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
            share = (f"{100 * float(ds[budget].isel(year=i).median()):.1f}% of {payer} "
                     "spending" if budget in ds else "")
            ax.annotate(f"{payer}\n{share}".strip(), (position[i], bottom[i]),
                        ha="center", va="bottom", fontsize="x-small",
                        xytext=(0, 2), textcoords="offset points")
    days = ds["year_days"].values if "year_days" in ds else np.full(len(years), 365)
    ax.set_xticks(x, [f"{y}" + ("" if d >= 365 else f"\n({int(d)} days)")
                      for y, d in zip(years, days, strict=True)])
    ax.yaxis.set_major_formatter(_formatter())
    ax.set_ylabel("mean spend per calendar year [RUB]")
    ax.set_title("Who pays: manpower spending by payer and item")
    ax.margins(y=0.15)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize="small",
              frameon=False)
    return ax


def claims_chart(ds: xr.Dataset, ax=None):
    """Each claim against its simulated 90% interval, as ratios to the simulated median
    (claims have different units; the ratio puts them on one axis).

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = claims_table(ds)
    if ax is None:  # one row per claim, room for long labels
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(11.0, 1.6 + 0.32 * len(table)), layout="constrained")
    y = np.arange(len(table))[::-1]
    low, high = table.p5 / table.p50, table.p95 / table.p50
    ax.hlines(y, low, high, color=BLUE, lw=6, alpha=0.5, label="simulated 90% interval")
    ax.plot(np.ones(len(y)), y, "|", color=BLUE, ms=14, label="simulated median")
    ax.plot(table.value / table.p50, y, "D", color=VERMILLION, ms=8, ls="none",
            label="claim")
    verdicts = [f"{v}, set a prior" if use == "prior" else v
                for v, use in zip(table.verdict, table.used_for, strict=True)]
    ax.set_yticks(y, [f"{c} ({v})" for c, v in zip(table.claim, verdicts, strict=True)],
                  fontsize="small")
    ax.axvline(1, color="0.5", lw=0.8)
    ax.set_xlabel("value / simulated median [1]")
    ax.set_title("Claims against the simulated distribution", loc="left")
    ax.set_ylim(-0.7, len(y) - 0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize="small",
              frameon=False)
    return ax


def _ranked(sens: xr.Dataset, column: str, at: int = -1) -> xr.Dataset:
    extra = [d for d in sens[column].dims if d != "parameter"]
    view = sens.isel({extra[0]: at}) if extra else sens
    order = np.argsort(np.abs(view[column].values))
    return view.isel(parameter=order)


def tornado_chart(sens: xr.Dataset, ax=None, top: int = 12):
    """One-at-a-time tornado from a sensitivity result: the outcome with each prior at
    its 5th and 95th percentile, the others at their medians.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    base = float(np.ravel(sens.tornado_base.values)[-1])
    swing = np.abs(sens.tornado_high - sens.tornado_low)
    view = _ranked(sens.assign(swing=swing), "swing").isel(parameter=slice(-top, None))
    y = np.arange(view.sizes["parameter"])
    low = np.ravel(view.tornado_low.values)
    high = np.ravel(view.tornado_high.values)
    ax.barh(y, low - base, left=base, color=BLUE, label="prior at 5th percentile")
    ax.barh(y, high - base, left=base, color=ORANGE, label="prior at 95th percentile")
    ax.set_yticks(y, view.parameter.values, fontsize="small")
    ax.axvline(base, color="0.2", lw=1)
    ax.xaxis.set_major_formatter(_formatter())
    ax.set_xlabel(f"{sens.attrs['outcome']} [{sens.attrs['outcome_units']}]")
    ax.set_title("Tornado: one prior at a time")
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    return ax


def sobol_chart(sens: xr.Dataset, ax=None, top: int = 12):
    """First-order and total Sobol indices with their bootstrap intervals.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    view = _ranked(sens, "total_order").isel(parameter=slice(-top, None))
    y = np.arange(view.sizes["parameter"])
    for offset, name, color, label in ((-0.2, "first_order", BLUE, "first order S1"),
                                       (0.2, "total_order", ORANGE, "total ST")):
        value = np.ravel(view[name].values)
        error = np.abs(np.vstack([value - np.ravel(view[f"{name}_low"].values),
                                  np.ravel(view[f"{name}_high"].values) - value]))
        ax.barh(y + offset, value, height=0.4, xerr=error, color=color, label=label,
                error_kw={"lw": 0.8})
    ax.set_yticks(y, view.parameter.values, fontsize="small")
    ax.set_xlabel("share of variance [1]")
    ax.set_title(f"Sobol indices of {sens.attrs['outcome']}")
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    return ax


def indices_over_time(sens: xr.Dataset, ax=None, top: int = 5):
    """Total Sobol indices (or |PRCC| for rank-only results) of the top priors over time.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    column = "total_order" if "total_order" in sens else "prcc"
    da = sens[column] if column == "total_order" else np.abs(sens[column])
    dim = _time_dim(da)
    leaders = da.mean(dim).to_series().sort_values(ascending=False).index[:top]
    for color, name in zip(OKABE_ITO, leaders, strict=False):
        ax.plot(da[dim].values, da.sel(parameter=name), color=color, lw=2, label=name)
    ax.set_ylabel("total Sobol index [1]" if column == "total_order" else "|PRCC| [1]")
    ax.set_xlabel("date" if dim != "year" else "year")
    ax.set_title(f"Drivers of {sens.attrs['outcome']} over time")
    ax.legend(loc="best", fontsize="small", frameon=False)
    if dim != "year":
        ax.figure.autofmt_xdate()
    return ax


def scenario_comparison(sweep: xr.Dataset, variable: str = "bonus_spend_usd_per_day_mean",
                        ax=None):
    """Median and 50%/90% intervals of a per-sample outcome for each scenario.

    Scenarios are labelled by the factors that vary between them.

    Returns
    -------
    matplotlib.axes.Axes
    """
    count = sweep.sizes["scenario"]
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(FIGSIZE[0], max(FIGSIZE[1], 0.45 * count + 1.8)),
                             layout="constrained")
    da = sweep[variable].astype(np.float64)
    q = da.quantile([0.05, 0.25, 0.5, 0.75, 0.95], dim="sample")
    y = np.arange(count)[::-1]
    ax.hlines(y, q.sel(quantile=0.05), q.sel(quantile=0.95), color=BLUE, lw=2,
              label="90% interval")
    ax.hlines(y, q.sel(quantile=0.25), q.sel(quantile=0.75), color=BLUE, lw=7, alpha=0.6,
              label="50% interval")
    ax.plot(q.sel(quantile=0.5), y, "o", color=VERMILLION, ms=7, label="median")
    ax.set_yticks(y, scenario_tick_labels(sweep), fontsize="small")
    ax.xaxis.set_major_formatter(_formatter())
    ax.set_xlabel(axis_label(sweep[variable]))
    ax.set_title(f"{sweep[variable].attrs.get('long_name', variable)} by scenario",
                 loc="left", fontsize="medium")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize="small",
              frameon=False)
    return ax


def scenario_tick_labels(sweep: xr.Dataset) -> list[str]:
    """Short scenario labels: only the factors that vary, by their last key part."""
    factors = [name for name, coord in sweep.coords.items()
               if coord.dims == ("scenario",) and name not in ("scenario", "scenario_label")
               and name != "config" and len(set(np.asarray(coord.values).tolist())) > 1]
    if not factors:  # whole configs compared: their labels are the file names
        return [str(label) for label in sweep.scenario_label.values]

    def show(value):
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    return [", ".join(f"{name.split('.')[-1]}={show(sweep[name].values[i].item())}"
                      for name in factors) for i in range(sweep.sizes["scenario"])]
