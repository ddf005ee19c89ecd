"""Figures of the mechanism (chapter 6): bent contours turn a gradient attack's path toward the
target's preferred stimulus. :func:`plot_toy_mechanism` draws the 2-D toy of
:func:`geomlib.toy_attacks` (LCA, ReLU and linear units with the same weights);
:func:`plot_digit_mechanism` draws attacks on digit classifiers in the plane of the image
and the target's template (:func:`geomlib.plane_attacks`). Both draw into a given
``Figure`` (cleared first; the explorers redraw theirs) or a new pyplot figure.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from jax.typing import ArrayLike

from geomlib import PlaneAttack, ToyAttack
from geomlib.plots.planes import plot_response

__all__ = ["MODEL_COLORS", "plot_digit_mechanism", "plot_toy_mechanism"]

#: Line colour of each circuit / model in the path and line panels.
MODEL_COLORS = {"LCA": "crimson", "ReLU": "darkorange", "linear": "royalblue"}
PATH_COLOR = "r"


def _figure(fig, figsize):
    if fig is not None:
        fig.clear()
        return fig
    import matplotlib.pyplot as plt  # a new figure shows inline in a notebook

    return plt.figure(figsize=figsize, layout="constrained")


def _draw_path(ax, path, color=PATH_COLOR, label=None):
    path = np.asarray(path, dtype=np.float64)
    ax.plot(path[:, 0], path[:, 1], "-", color=color, lw=1.8, zorder=6, label=label)
    ax.plot(*path[0], "o", color=color, mec="k", mew=0.6, ms=6, zorder=7)
    ax.plot(*path[-1], "*", color=color, mec="k", mew=0.6, ms=12, zorder=7)


def plot_toy_mechanism(toy: Mapping[str, ToyAttack], coords: ArrayLike, phi: ArrayLike, index: int, *,
                       level: float, fig=None, arrows: int = 9, title: str | None = None):
    """The 2-D toy: one contour map per circuit with its attack path, then the response and
    the exact contour curvature along each path.

    Args:
      toy: circuit name -> :class:`geomlib.ToyAttack` (from :func:`geomlib.toy_attacks`).
      coords: the grid ``(n, n, 2)`` the maps were computed on.
      phi: the dictionary ``(2, N)``; every atom is drawn as an arrow from 0, the target's in red.
      index: the target unit.
      level: the response the attacks climb to (its contour is drawn dashed).
      fig: a Figure to draw into (cleared), or None for a new one (10.5 x 6.6 inches).
      arrows: gradient arrows per axis.
      title: the figure's title.

    Returns:
      the Figure; its first ``len(toy)`` axes are the maps, then the two line panels.
    """
    phi = np.asarray(phi, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    if phi.ndim != 2 or phi.shape[0] != 2:
        raise ValueError(f"phi: expected a dictionary of shape (2, N), got {phi.shape}")
    fig = _figure(fig, (10.5, 6.6))
    n = len(toy)
    grid = fig.add_gridspec(2, 2 * n, height_ratios=[1.35, 1.0])
    maps = [fig.add_subplot(grid[0, 2 * k:2 * k + 2]) for k in range(n)]
    line_axes = [fig.add_subplot(grid[1, :n]), fig.add_subplot(grid[1, n:])]
    r = 0.92 * float(np.max(np.abs(coords)))
    for ax, (name, t) in zip(maps, toy.items()):
        plot_response(t.value, coords, ax=ax, grad=t.grad, arrows=arrows, levels=10, colorbar_label="response",
                      xlabel="x₁", ylabel="x₂" if ax is maps[0] else "", mark_origin=False)
        if np.nanmin(t.value) < level < np.nanmax(t.value):
            ax.contour(coords[..., 0], coords[..., 1], t.value, levels=[level], colors="w", linewidths=1.6,
                       linestyles="--", zorder=3)
        for j in range(phi.shape[1]):
            target = j == index
            ax.annotate("", xy=r * phi[:, j] / np.linalg.norm(phi[:, j]), xytext=(0, 0), zorder=5,
                        arrowprops=dict(arrowstyle="-|>", color="crimson" if target else "0.85",
                                        lw=2.2 if target else 1.2, shrinkA=0, shrinkB=0))
            ax.text(*(1.03 * r * phi[:, j] / np.linalg.norm(phi[:, j])), f"φ{j}", fontsize="small",
                    color="crimson" if target else "0.9", ha="center", va="center", zorder=5,
                    fontweight="bold" if target else "normal")
        _draw_path(ax, t.attack.path)
        a = t.attack
        ax.set_title(f"{name}: length {a.length:.2f}, distance {a.distance:.2f}"
                     + ("" if a.reached else " (level not reached)"), fontsize="small")
    resp_ax, kappa_ax = line_axes
    for name, t in toy.items():
        path = t.attack.path
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
        color = MODEL_COLORS.get(name, None)
        values = t.response
        resp_ax.plot(s, values, "-", color=color, label=name)
        kappa_ax.plot(s, t.curvature, "-", color=color, label=name)
        resp_ax.plot(s[-1], values[-1], "*", color=color, mec="k", mew=0.5, ms=10)
    resp_ax.axhline(level, color="k", ls="--", lw=0.8, label=f"level {level:g}")
    resp_ax.set(xlabel="path length s (input units)", ylabel="response of the target unit",
                title="response along the attack path")
    kappa_ax.axhline(0.0, color="k", lw=0.6)
    kappa_ax.set(xlabel="path length s (input units)", ylabel="contour curvature κ (exact)",
                 title="curvature of the contour the path crosses (+ exo-origin)")
    for ax in line_axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_digit_mechanism(views: Mapping[str, PlaneAttack], *, source: int, target: int, fig=None,
                         title: str | None = None):
    """Targeted attacks on digit classifiers in the plane of the digit and the target's template.

    One map per model: the target's logit on the plane (colour bar, contours), the attack
    path projected on it (red, from the digit at the origin), the direction to the template;
    then the cosine of the perturbation with the template direction along each path.

    Args:
      views: model name -> :class:`geomlib.PlaneAttack` (all in the same plane).
      source, target: the digit's class and the target class (for the labels).
      fig: a Figure to draw into (cleared), or None for a new one (11 x 3.9 inches).
      title: the figure's title.

    Returns:
      the Figure; its first ``len(views)`` axes are the maps, the last the cosines.
    """
    fig = _figure(fig, (11.0, 3.9))
    n = len(views)
    grid = fig.add_gridspec(1, n + 1, width_ratios=[1.0] * n + [0.9])
    maps = [fig.add_subplot(grid[0, k]) for k in range(n)]
    cos_ax = fig.add_subplot(grid[0, n])
    for ax, (name, v) in zip(maps, views.items()):
        plot_response(v.value, v.coords, ax=ax, arrows=None, levels=10, colorbar_label=f"logit of class {target}",
                      xlabel=f"a: toward the mean {target}", ylabel="b: rest of span(digit, mean)" if ax is maps[0]
                      else "", mark_origin=False)
        _draw_path(ax, v.path_ab)
        lo, hi = float(v.coords[0, 0, 0]), float(v.coords[0, -1, 0])
        ta = float(v.template_ab[0])
        if ta <= hi:
            ax.plot(ta, 0.0, "D", color="w", mec="k", ms=7, zorder=7)
        else:
            b_lo = float(v.coords[0, 0, 1])
            ax.text(hi - 0.03 * (hi - lo), 0.9 * b_lo, f"→ mean {target} at a = {ta:.1f}", color="w",
                    fontsize="small", ha="right", va="bottom", zorder=7)
        a = v.attack
        ax.set_title(f"{name}: {source} → {target}, length {a.length:.2f}, distance {a.distance:.2f}"
                     + ("" if a.reached else " (not reached)"), fontsize="small")
    for name, v in views.items():
        s = np.cumsum(np.linalg.norm(np.diff(v.attack.path, axis=0), axis=1))
        cos_ax.plot(s, v.cosine, "-o", ms=2.5, color=MODEL_COLORS.get("LCA" if "lca" in name else "linear"),
                    label=name)
    d = views[next(iter(views))].attack.path.shape[1]
    cos_ax.axhspan(-1 / np.sqrt(d), 1 / np.sqrt(d), color="0.85", label="noise (±1/√D)")
    cos_ax.set(xlabel="path length (pixel L2)", ylabel=f"cos(δ, mean {target} − mean {source})",
               title="template cosine")
    cos_ax.grid(alpha=0.3)
    cos_ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
