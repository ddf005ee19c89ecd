"""Figures of chapter 6 (adversarial attacks): attack paths on contour maps, accuracy-vs-epsilon
curves, adversarial images with their perturbations. Each helper takes ``ax=None`` (or
``axes=None``) and draws into a new figure when none is given.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from jax.typing import ArrayLike

from geomlib.plots.axes import new_axes
from geomlib.plots.images import show_images
from geomlib.plots.planes import plot_response

__all__ = ["plot_accuracy_curves", "plot_attack_path", "show_attacks"]


def plot_attack_path(values: ArrayLike, coords: ArrayLike, path_ab: ArrayLike, *, ax=None, levels=12, title=None, xlabel="a", ylabel="b",
                     colorbar_label="response", color="r"):
    """Contour map of a plane with an attack path drawn on it.

    Args:
      values: response on the grid ``(n_b, n_a)``.
      coords: grid ``(n_b, n_a, 2)``.
      path_ab: path in plane coordinates ``(T + 1, 2)`` (e.g. from ``path_plane_coordinates``).
      ax: Axes, or None for a new figure.
      levels: number of contour levels or the levels.
      title, xlabel, ylabel, colorbar_label: text.
      color: colour of the path.

    Returns:
      the :class:`geomlib.plots.PlaneArtists` of the map.
    """
    path_ab = np.asarray(path_ab, dtype=np.float64)
    if path_ab.ndim != 2 or path_ab.shape[1] != 2:
        raise ValueError(f"path_ab: expected shape (T + 1, 2), got {path_ab.shape}")
    art = plot_response(values, coords, ax=ax, arrows=None, levels=levels, xlabel=xlabel, ylabel=ylabel,
                        title=title, colorbar_label=colorbar_label)
    ax = art.contours.axes if art.contours is not None else art.image.axes
    ax.plot(path_ab[:, 0], path_ab[:, 1], "-", color=color, lw=1.5, zorder=5)
    ax.plot(path_ab[:, 0], path_ab[:, 1], ".", color=color, ms=3, zorder=5)
    ax.plot(*path_ab[-1], "*", color=color, ms=10, mec="k", mew=0.5, zorder=6)
    return art


def plot_accuracy_curves(eps: ArrayLike, accuracies: Mapping[str, ArrayLike], *, ax=None, title=None,
                         xlabel="ε (L∞ radius)"):
    """Accuracy under attack against the attack radius, one line per model.

    Args:
      eps: radii ``(n,)``.
      accuracies: model name -> accuracies ``(n,)``; names containing "lca" are drawn solid,
        the others dashed.
      ax: Axes, or None.

    Returns:
      the Axes.
    """
    ax = new_axes(ax, (5.5, 3.8))
    eps = np.asarray(eps, dtype=np.float64)
    for name, acc in accuracies.items():
        acc = np.asarray(acc, dtype=np.float64)
        if acc.shape != eps.shape:
            raise ValueError(f"accuracies[{name!r}]: expected shape {eps.shape}, got {acc.shape}")
        ax.plot(eps, acc, "-o" if "lca" in name else "--o", ms=4, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def show_attacks(x: ArrayLike, x_adv: Mapping[str, ArrayLike], row_labels: Sequence[str] | None = None, *, titles: Sequence[str] | None = None,
                 size: float = 1.3):
    """Rows of (image, adversarial image, perturbation) triplets, one column per image.

    Images are drawn in grey on the pixel scale [0, 1]; every perturbation row shares one
    symmetric colour scale (+-max |x_adv - x| over all of them), so that rows of different
    models compare by colour; each scale has a colour bar.

    Args:
      x: clean images ``(n, D)``.
      x_adv: a mapping name -> adversarial images ``(n, D)`` (one pair of rows per name:
        the images, then the perturbations ``x_adv - x``).
      row_labels: the names of ``x_adv`` to show, in order (default: all, in the mapping's order).
      titles: one title per column (e.g. "7 -> 3").
      size: inches per image.

    Returns:
      the Figure.
    """
    import matplotlib.pyplot as plt

    x = np.asarray(x, dtype=np.float64)
    names = list(row_labels or x_adv)
    n = x.shape[0]
    advs = {}
    for name in names:
        adv = np.asarray(x_adv[name], dtype=np.float64)
        if adv.shape != x.shape:
            raise ValueError(f"x_adv[{name!r}]: expected shape {x.shape}, got {adv.shape}")
        advs[name] = adv
    m = max([float(np.max(np.abs(a - x))) for a in advs.values()] + [0.0]) or 1.0
    fig, axes = plt.subplots(1 + 2 * len(names), n, figsize=(size * n + 2.0, size * (1 + 2 * len(names))),
                             squeeze=False, layout="constrained")
    grey = show_images(x, titles, axes=axes[0], symmetric=False, cmap="gray")
    axes[0, 0].text(-0.15, 0.5, "clean", transform=axes[0, 0].transAxes, ha="right", va="center")
    deltas = []
    for r, name in enumerate(names):
        adv = advs[name]
        grey += show_images(adv, axes=axes[1 + 2 * r], symmetric=False, cmap="gray")
        deltas += show_images(adv - x, axes=axes[2 + 2 * r], symmetric=True)
        axes[1 + 2 * r, 0].text(-0.15, 0.5, name, transform=axes[1 + 2 * r, 0].transAxes, ha="right", va="center")
        axes[2 + 2 * r, 0].text(-0.15, 0.5, "δ", transform=axes[2 + 2 * r, 0].transAxes, ha="right", va="center")
    for im in grey:
        im.set_clim(0.0, 1.0)
    for im in deltas:
        im.set_clim(-m, m)
    fig.colorbar(grey[0], ax=list(axes[0]), shrink=0.9, label="pixel value\n(every grey row)")
    for r in range(len(names)):
        fig.colorbar(deltas[r * n], ax=list(axes[2 + 2 * r]), shrink=0.9, label="δ (red: brighter)")
    return fig
