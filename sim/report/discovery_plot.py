"""Figure of a scenario discovery (`sim.analysis.discovery.discover`): PRIM's peeling
trajectory, and the chosen box drawn inside the sampled ranges of its parameters.

matplotlib is imported inside the function, so ``import sim`` never needs it. Style as in
`sim.report.plots`: its semantic palette (the target density is a `THRESHOLD`, the chosen
box the `HIGHLIGHT`, the box's ranges a `CATEGORIES` colour), units on every axis,
readable number scales.
"""

from __future__ import annotations

import numpy as np

from sim.analysis.discovery import WEAK_P_VALUE, Discovery, p_value_text
from sim.numbers import percent, value_text
from sim.report.plots import CATEGORIES, FIGSIZE, HIGHLIGHT, THRESHOLD_STYLE, fit_titles

BOX = CATEGORIES[0]
"""The box's range of each restricted parameter."""
GREY = "0.85"
TITLE_CHARS = 70
"""Longest condition text shown in the title (longer ones are cut with "...")."""


def discovery_chart(result: Discovery, axes=None, when: str = "",
                    names: dict | None = None):
    """Scenario discovery in two panels: PRIM's peeling trajectory and the chosen box.

    Left, every box of PRIM's trajectory as coverage (x) against density (y), coloured
    by how many parameters it restricts, the target density as a dashed line and the
    chosen box ringed and annotated. Right, one bar per restricted parameter (most
    significant at the top): its whole sampled range in grey and the box's range in
    colour (pale when the quasi-p-value is above 0.05), both as a share of the sampled
    range, with the actual bounds written above the bar and the p-value in the label.

    Parameters
    ----------
    result : sim.analysis.discovery.Discovery
        From `sim.discover` (on a run's results). Reads its ``trajectory``, ``chosen``,
        ``pruned``, ``limits``, ``coverage``, ``density``, ``mass``, ``min_density``,
        ``where``, ``base_rate`` and ``samples``.
    axes : sequence of two matplotlib.axes.Axes, optional
        Where to draw (left, right); by default (None) a new figure, taller with more
        restricted parameters.
    when : str, default ""
        The horizon the condition is about, for the title (e.g. ``2025-01 to 2026-12``,
        `sim.report.plots.horizon_text` of the run).
    names : dict of str to (str, str), optional
        For each ``param_*`` variable, its config key and units (e.g.
        ``{"param_recruitment_per_month": ("recruitment.per_month", "persons/month")}``):
        the right panel's labels then read as the config and the bounds in its units
        (shares in %). By default the variable names and plain numbers.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the two panels (``fig.axes[0]`` and ``[1]``; the colour bar is
        added after them). Suptitle: where the condition holds, over `when`, and its
        base rate. Left: coverage [%] (x) against density [%] (y), points coloured by
        restricted parameters [count] (viridis colour bar), legend: target density
        (`THRESHOLD` grey dashed), the chosen (or reported) box (`HIGHLIGHT` black
        ring). Right: position in the sampled range [% of range], one bar per
        restricted parameter; legend: sampled range (grey), box (`BOX`), weak box
        (pale).
    """
    if axes is None:
        import matplotlib.pyplot as plt

        height = max(FIGSIZE[1] + 0.5, 0.62 * len(result.limits) + 2.2)
        fig, axes = plt.subplots(1, 2, figsize=(FIGSIZE[0] + 5.0, height),
                                 layout="constrained")
    left, right = axes
    fig = left.figure
    _trajectory_panel(result, left)
    _box_panel(result, right, names or {})
    over = f" over {when}" if when else ""
    fig.suptitle(f'Where "{_cut(result.where, TITLE_CHARS)}" holds{over}: '
                 f"{percent(result.base_rate)} of {result.samples:,} samples")
    fit_titles(fig)
    return fig


def _trajectory_panel(result: Discovery, ax) -> None:
    import matplotlib as mpl
    from matplotlib.ticker import MaxNLocator

    trajectory = result.trajectory
    coverage = 100 * trajectory["coverage"].to_numpy()
    density = 100 * trajectory["density"].to_numpy()
    restricted = trajectory["restricted"].to_numpy()
    top = int(restricted.max())
    norm = mpl.colors.BoundaryNorm(np.arange(-0.5, top + 1.5), 256)
    points = ax.scatter(coverage, density, c=restricted, cmap="viridis", norm=norm, s=18,
                        zorder=3)
    bar = ax.figure.colorbar(points, ax=ax, pad=0.01, fraction=0.05, aspect=30)
    bar.set_label("restricted parameters [count]")
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.axhline(100 * result.min_density, **THRESHOLD_STYLE,
               label=f"target density {percent(result.min_density)}")
    chosen = result.trajectory.iloc[result.chosen]
    if result.pruned:
        ax.scatter([100 * chosen.coverage], [100 * chosen.density], s=120, marker="s",
                   facecolors="none", edgecolors="0.3", linewidths=1.5, zorder=4,
                   label=f"densest box, before dropping {len(result.pruned)} weak "
                         "restrictions")
    x, y = 100 * result.coverage, 100 * result.density
    ax.scatter([x], [y], s=170, facecolors="none", edgecolors=HIGHLIGHT, linewidths=2,
               zorder=4, label="box reported" if result.pruned else "chosen box")
    # The note sits in the upper right, where a trajectory (density falling as coverage
    # grows) seldom goes, unless the chosen box is there itself.
    corner = (0.03, 0.5, "left", "center") if x > 55 and y > 55 else \
        (0.97, 0.97, "right", "top")
    name = (f"box #{result.chosen}, pruned" if result.pruned
            else f"chosen box #{result.chosen}")
    ax.annotate(f"{name}:\ncoverage {percent(result.coverage)}, "
                f"density {percent(result.density)},\nmass {percent(result.mass)}, "
                f"{len(result.limits)} restricted", (x, y), xytext=corner[:2],
                textcoords="axes fraction", ha=corner[2], va=corner[3], fontsize="small",
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7"},
                arrowprops={"arrowstyle": "->", "color": HIGHLIGHT, "lw": 1,
                            "shrinkB": 8}, zorder=5)
    ax.set_xlim(0, 104)
    ax.set_ylim(0, 105)
    ax.set_xlabel("coverage: samples where it holds that are in the box [%]")
    ax.set_ylabel("density: samples in the box where it holds [%]")
    ax.set_title("PRIM peeling trajectory", loc="left", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small", frameon=True, framealpha=0.9)


def _box_panel(result: Discovery, ax, names: dict) -> None:
    limits = result.limits
    ax.set_title(f"Chosen box: {len(limits)} restricted parameter"
                 f"{'' if len(limits) == 1 else 's'}", loc="left", fontsize="medium")
    ax.set_xlim(0, 100)
    ax.set_xlabel("position in the sampled range [% of range]")
    if limits.empty:
        ax.set_yticks([])
        ax.text(50, 0.5, "no parameter is restricted:\nthe whole sample reaches the density",
                ha="center", va="center", transform=ax.get_xaxis_transform())
        return
    span = (limits["sample_high"] - limits["sample_low"]).to_numpy()
    low = 100 * (limits["low"].to_numpy() - limits["sample_low"].to_numpy()) / span
    high = 100 * (limits["high"].to_numpy() - limits["sample_low"].to_numpy()) / span
    weak = limits["p_value"].to_numpy() > WEAK_P_VALUE
    y = np.arange(len(limits))[::-1]
    ax.barh(y, 100, height=0.36, color=GREY, label="sampled range")
    ax.barh(y[~weak], (high - low)[~weak], left=low[~weak], height=0.36, color=BOX,
            label=f"box (p \u2264 {WEAK_P_VALUE})")
    if weak.any():
        ax.barh(y[weak], (high - low)[weak], left=low[weak], height=0.36, color=BOX,
                alpha=0.35, label=f"box (p > {WEAK_P_VALUE}, weak)")
    for row, (name, limit) in zip(y, limits.iterrows(), strict=True):
        key, units = names.get(str(name), (name, ""))
        low_text, high_text, sample_low, sample_high = (
            value_text(x, units, key) for x in (limit.low, limit.high, limit.sample_low,
                                                limit.sample_high))
        ax.text(50, row + 0.24, f"[{low_text}, {high_text}] of [{sample_low}, {sample_high}]",
                ha="center", va="bottom", fontsize="small")
    ax.set_yticks(y, [f"{names.get(str(name), (name, ''))[0]}\n{p_value_text(p)}"
                      for name, p in zip(limits.index, limits["p_value"], strict=True)],
                  fontsize="small")
    ax.set_ylim(-0.6, len(limits) - 0.05)
    # below the axis label, a fixed distance whatever the figure's height
    from matplotlib.transforms import offset_copy

    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), ncol=3, fontsize="small",
              frameon=False, bbox_transform=offset_copy(ax.transAxes, fig=ax.figure, y=-36,
                                                        units="points"))


def _cut(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars - 3] + "..."


