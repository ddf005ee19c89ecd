"""Chapter 7's figures: accuracy against the attack radius under the worst case and under
PGD-10 with bootstrap bands, and the distributions of minimal adversarial distances."""

from __future__ import annotations

from typing import Mapping

import numpy as np
from numpy.typing import ArrayLike

from geomlib.plots.axes import new_axes
from geomlib.plots.defense import model_color


def plot_worst_case_curves(eps: ArrayLike, worst: Mapping[str, tuple], pgd: Mapping[str, tuple] | None = None, *,
                           ax=None, title: str | None = None, xlabel: str = "ε (L∞ radius)"):
    """Accuracy against the radius: the worst case (solid, with its interval as a band) and,
    optionally, PGD-10 (dashed, same colour), one colour per model.

    Args:
      eps: radii ``(n,)`` (0 for the clean accuracy may be included).
      worst: model name -> ``(acc, lo, hi)``, each ``(n,)`` (e.g. from ``accuracy_interval``).
      pgd: model name -> ``(acc, lo, hi)`` or ``acc`` ``(n,)`` for the old single attack, or None.
      ax: Axes, or None.

    Returns:
      the Axes.
    """
    ax = new_axes(ax, (6.0, 4.0))
    eps = np.asarray(eps, np.float64)
    styles = {name: (model_color(name), "-" if k % 2 == 0 else "-.") for k, name in enumerate(worst)}
    for name, (acc, lo, hi) in worst.items():
        color, ls = styles[name]
        for arr, what in ((acc, "acc"), (lo, "lo"), (hi, "hi")):
            if np.shape(arr) != eps.shape:
                raise ValueError(f"worst[{name!r}] {what}: expected shape {eps.shape}, got {np.shape(arr)}")
        ax.plot(eps, acc, ls, marker="o", ms=4, color=color, label=f"{name}, worst case")
        ax.fill_between(eps, lo, hi, color=color, alpha=0.15, lw=0)
    for name, values in (pgd or {}).items():
        acc = values[0] if isinstance(values, tuple) else values
        color = styles.get(name, (model_color(name), "-"))[0]
        ax.plot(eps, np.asarray(acc), ":", marker="x", ms=4, color=color, alpha=0.8, label=f"{name}, PGD-10")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small", ncol=2)
    if title:
        ax.set_title(title)
    return ax


def plot_minimal_distances(distances: Mapping[str, ArrayLike], *, ax=None, title: str | None = None,
                           xlabel: str = "minimal L2 perturbation"):
    """Empirical distribution (ECDF) of the minimal adversarial distance per image, one line
    per model: the fraction of images broken at or below each distance.

    Args:
      distances: model name -> distances ``(n,)`` (0 for images misclassified already; inf
        where none was found: they never count as broken).
      ax: Axes, or None.

    Returns:
      the Axes.
    """
    ax = new_axes(ax, (6.0, 4.0))
    for k, (name, d) in enumerate(distances.items()):
        d = np.sort(np.asarray(d, np.float64))
        frac = np.arange(1, d.size + 1) / d.size
        ok = np.isfinite(d)
        ax.step(d[ok], frac[ok], where="post", color=model_color(name), ls="-" if k % 2 == 0 else "-.",
                label=f"{name} (median {np.median(d):.2f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of images broken")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax
