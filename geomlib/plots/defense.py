"""Figures of chapter 8 (curvature and adversarial defense): robustness against curvature across
models with the rank correlation, and per-image scatter plots. Each helper takes ``ax=None``
and draws into a new figure when none is given.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from jax.typing import ArrayLike

from geomlib.plots.axes import new_axes

__all__ = ["model_color", "plot_correlation_table", "plot_per_image", "plot_robustness_vs_curvature"]


def model_color(name: str) -> str:
    """Colour of a model in chapter 8's figures: LCA front-ends in blues, the others in oranges/greys."""
    if name.startswith("lca"):
        return "tab:blue"
    if name == "linear":
        return "0.45"
    if name.endswith(("-pgd", "-cure")):
        return "tab:red"
    return "tab:orange"


def plot_robustness_vs_curvature(summary: Mapping[str, Mapping[str, float]], x_stat: str, y_stat: str, *,
                                 correlation=None, ax=None, xlabel: str | None = None, ylabel: str | None = None,
                                 logy: bool = False, annotate: bool = True, models: Sequence[str] | None = None):
    """One point per model: a curvature statistic (x) against a robustness statistic (y).

    Args:
      summary: statistic -> {model: value} (:func:`geomlib.comparison_summary`).
      x_stat, y_stat: statistic names in ``summary``.
      correlation: a :class:`geomlib.RankCorrelation` of the two, shown in the title.
      ax: Axes, or None.
      xlabel, ylabel: axis labels (the statistic names by default).
      logy: logarithmic y axis.
      annotate: write each model's name next to its point.
      models: the models to draw (all in ``summary[x_stat]`` by default).

    Returns:
      the Axes.
    """
    for stat in (x_stat, y_stat):
        if stat not in summary:
            raise ValueError(f"statistic {stat!r} not in summary (has {sorted(summary)})")
    ax = new_axes(ax, (4.6, 3.8))
    names = list(summary[x_stat]) if models is None else list(models)
    for name in names:
        x, y = summary[x_stat][name], summary[y_stat][name]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        ax.plot(x, y, "o", color=model_color(name), ms=6, mec="k", mew=0.4, zorder=3)
        if annotate:
            ax.annotate(name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7, color="0.2")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel or x_stat, ylabel=ylabel or y_stat)
    if correlation is not None:
        ax.set_title(f"Spearman ρ = {correlation.rho:+.2f}  "
                     f"[{correlation.low:+.2f}, {correlation.high:+.2f}]", fontsize=9)
    ax.grid(alpha=0.3)
    return ax


def plot_per_image(results: Mapping, x_values: Mapping[str, ArrayLike], y_values: Mapping[str, ArrayLike], *,
                   ax=None, xlabel: str = "", ylabel: str = "", logx: bool = False, logy: bool = False,
                   title: str | None = None):
    """Per-image scatter, one colour per model (the same images for every model).

    Args:
      results: model name -> anything (fixes the order and the colours).
      x_values, y_values: model name -> per-image values ``(B,)``.
      ax: Axes, or None.
      xlabel, ylabel, title: text; logx, logy: logarithmic axes.

    Returns:
      the Axes.
    """
    ax = new_axes(ax, (5.2, 4))
    for name in results:
        x, y = np.asarray(x_values[name], float), np.asarray(y_values[name], float)
        if x.shape != y.shape:
            raise ValueError(f"{name}: x and y values of different shapes {x.shape} and {y.shape}")
        ax.plot(x, y, ".", color=model_color(name), alpha=0.55, ms=5, label=name)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    return ax


def plot_correlation_table(correlations: Mapping[tuple[str, str], object], *, ax=None, x_labels=None, y_labels=None):
    """Rank correlations (rho, with the CI as error bars) of curvature (rows) vs robustness pairs.

    Args:
      correlations: ``(curvature stat, robustness stat)`` -> :class:`geomlib.RankCorrelation`.
      ax: Axes, or None.
      x_labels, y_labels: display names of the statistics (dicts), defaults the names.

    Returns:
      the Axes.
    """
    ax = new_axes(ax, (6.5, 0.5 + 0.35 * len(correlations)))
    keys = list(correlations)
    rho = np.array([correlations[k].rho for k in keys])
    low = np.array([correlations[k].low for k in keys])
    high = np.array([correlations[k].high for k in keys])
    pos = np.arange(len(keys))[::-1]
    names = [f"{(x_labels or {}).get(a, a)}  vs  {(y_labels or {}).get(b, b)}" for a, b in keys]
    ax.errorbar(rho, pos, xerr=[np.abs(rho - low), np.abs(high - rho)], fmt="o", color="k", ms=4, capsize=3)
    ax.axvline(0, color="0.5", lw=0.8, ls="--")
    ax.set(yticks=pos, yticklabels=names, xlim=(-1.05, 1.05), xlabel="Spearman ρ (95% bootstrap CI)")
    ax.grid(alpha=0.3, axis="x")
    return ax
