"""Figures of chapter 8 (curvature and adversarial defense): robustness against curvature across
models with the rank correlation, and per-image scatter plots. Each helper takes ``ax=None``
and draws into a new figure when none is given.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from jax.typing import ArrayLike

from geomlib.plots.axes import new_axes

__all__ = ["model_color", "plot_correlation_table", "plot_per_image", "plot_robustness_vs_curvature",
           "plot_seeded_robustness_vs_curvature"]


def model_color(name: str) -> str:
    """Colour of a model in chapter 8's figures: LCA front-ends in blues, the others in oranges/greys."""
    if name.startswith("lca"):
        return "tab:blue"
    if name == "linear":
        return "0.45"
    if name.endswith(("-pgd", "-cure")):
        return "tab:red"
    return "tab:orange"


#: Per-model colour and marker: shades of the family colour, one marker per model of a family.
_STYLES = {
    "linear": ("0.45", "s"), "mlp-2": ("tab:orange", "o"), "mlp-3": ("#a65000", "^"),
    "mlp-2-cure": ("tab:red", "D"), "mlp-2-pgd": ("#5c0a0a", "P"),
    "lca-mlp-2": ("tab:blue", "o"), "lca-mlp-2-lam0.1": ("#9ecae1", "v"), "lca-mlp-2-lam0.5": ("#08306b", "^"),
    "lca-mlp-2-t25": ("#6baed6", "<"), "lca-mlp-2-t150": ("#2171b5", ">"), "lca1568-mlp-2": ("#4292c6", "s"),
    "lca-mlp-3": ("#08519c", "D"),
}


def _style(name: str) -> tuple[str, str]:
    """(colour, marker) of a model: its own entry, else the family colour and a circle."""
    return _STYLES.get(name, (model_color(name), "o"))


def plot_robustness_vs_curvature(summary: Mapping[str, Mapping[str, float]], x_stat: str, y_stat: str, *,
                                 correlation=None, ax=None, xlabel: str | None = None, ylabel: str | None = None,
                                 logy: bool = False, annotate: bool = False, models: Sequence[str] | None = None):
    """One point per model: a curvature statistic (x) against a robustness statistic (y).

    Args:
      summary: statistic -> {model: value} (:func:`geomlib.comparison_summary`).
      x_stat, y_stat: statistic names in ``summary``.
      correlation: a :class:`geomlib.RankCorrelation` of the two, shown in the title.
      ax: Axes, or None.
      xlabel, ylabel: axis labels (the statistic names by default).
      logy: logarithmic y axis.
      annotate: write each model's name next to its point (off by default: the points carry
        one colour and marker per model, labelled with the model names, so that
        ``ax.legend()`` or ``fig.legend(*ax.get_legend_handles_labels())`` names them without
        overlapping text).
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
        color, marker = _style(name)
        ax.plot(x, y, marker, color=color, ms=6.5, mec="k", mew=0.4, zorder=3, label=name)
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


def plot_seeded_robustness_vs_curvature(x_spread: Mapping, y_spread: Mapping, *, correlation=None, ax=None,
                                        xlabel: str | None = None, ylabel: str | None = None, logy: bool = False):
    """One point per configuration trained with several seeds: the seed means of a curvature
    statistic (x) and a robustness statistic (y), with bars of one between-seed standard deviation
    each way, and every seed's own model as a small faint dot.

    Args:
      x_spread, y_spread: configuration -> :class:`geomlib.SeedSpread` (:func:`geomlib.seed_spread`
        of the two statistics on the same groups).
      correlation: a :class:`geomlib.HierarchicalCorrelation` of the two, shown in the title
        (rho across configurations, its interval over seeds then digits, and p).
      ax, xlabel, ylabel, logy: as :func:`plot_robustness_vs_curvature`.

    Returns:
      the Axes.
    """
    missing = sorted(set(x_spread) ^ set(y_spread))
    if missing:
        raise ValueError(f"x_spread, y_spread: expected the same configurations, not in both: {missing[:5]}")
    ax = new_axes(ax, (4.6, 3.8))
    for name, sx in x_spread.items():
        sy = y_spread[name]
        color, marker = _style(name)
        seeds = [s for s in sx.values if s in sy.values]
        ax.plot([sx.values[s] for s in seeds], [sy.values[s] for s in seeds], ".", color=color, alpha=0.35, ms=4,
                zorder=2)
        if not (np.isfinite(sx.mean) and np.isfinite(sy.mean)):
            continue
        ax.errorbar(sx.mean, sy.mean, xerr=np.nan_to_num(sx.sd), yerr=np.nan_to_num(sy.sd), fmt=marker, color=color,
                    ms=6.5, mec="k", mew=0.4, elinewidth=1, capsize=2, zorder=3,
                    label=f"{name} ({min(sx.n_seeds, sy.n_seeds)} seeds)")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel or "curvature (seed mean ± SD)", ylabel=ylabel or "robustness (seed mean ± SD)")
    if correlation is not None:
        ax.set_title(f"ρ = {correlation.rho:+.2f} [{correlation.low:+.2f}, {correlation.high:+.2f}], "
                     f"p = {correlation.p_value:.3f} ({correlation.n_configurations} configurations)", fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_per_image(results: Mapping, x_values: Mapping[str, ArrayLike], y_values: Mapping[str, ArrayLike], *,
                   ax=None, xlabel: str = "", ylabel: str = "", logx: bool = False, logy: bool = False,
                   title: str | None = None):
    """Per-image scatter, one colour and marker per model (the same images for every model);
    the colour shade says the family (LCA front-ends in blues, plain MLPs in oranges and
    grey, trained defenses in reds).

    Args:
      results: model name -> anything (fixes the order and the colours).
      x_values, y_values: model name -> per-image values ``(B,)``.
      ax: Axes, or None.
      xlabel, ylabel, title: text; logx, logy: logarithmic axes.

    Returns:
      the Axes.
    """
    ax = new_axes(ax, (6.6, 4))
    for name in results:
        x, y = np.asarray(x_values[name], float), np.asarray(y_values[name], float)
        if x.shape != y.shape:
            raise ValueError(f"{name}: x and y values of different shapes {x.shape} and {y.shape}")
        color, marker = _style(name)
        ax.plot(x, y, marker, color=color, alpha=0.7, ms=4.5, mec="none", label=name)
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
