"""Figures of chapter 5 (deep networks): class maps on planes through a digit, boundary
curvature histograms, straight-line walks.

Like the rest of :mod:`geomlib.plots`, every function takes ``ax=None`` and, given Axes, draws only
there.

>>> import numpy as np
>>> from matplotlib.figure import Figure
>>> import geomlib
>>> coords = np.asarray(geomlib.grid(8, 1.0))
>>> ax = Figure().add_subplot()
>>> art = plot_decision(coords[..., 0] - 0.2, coords, ax=ax, title="g")
>>> art.boundary is not None
True
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import numpy as np
from jax.typing import ArrayLike
from matplotlib.ticker import MaxNLocator

from geomlib.plots.axes import new_axes
from geomlib.plots.planes import PlaneArtists, plot_response

__all__ = ["DecisionArtists", "plot_curvature_histograms", "plot_decision", "plot_walks"]

BOUNDARY_COLOR = "crimson"


class DecisionArtists(NamedTuple):
    """What :func:`plot_decision` drew (None for parts not drawn)."""

    plane: PlaneArtists
    boundary: object | None
    marks: list


def plot_decision(
    values: ArrayLike,
    coords: ArrayLike,
    *,
    ax=None,
    zero: bool = True,
    marks: Mapping[str, tuple[float, float]] | None = None,
    title: str | None = None,
    xlabel: str = "a: adversarial direction",
    ylabel: str = "b",
    colorbar: bool = True,
    colorbar_label: str = "response",
    levels: int = 12,
    fill: str | None = "image",
) -> DecisionArtists:
    """Iso-response contours of a logit or a decision function on a plane, with its zero
    contour (the decision boundary, for a decision function f_i - f_j) in red.

    Args:
      values: response ``(n_b, n_a)`` on ``coords`` ``(n_b, n_a, 2)``.
      ax: Axes; None makes a figure.
      zero: draw the zero contour (if the response changes sign in the window).
      marks: label -> plane coordinates (a, b) of points to mark (e.g. another digit).
      title, xlabel, ylabel, colorbar, colorbar_label, levels, fill: as in
        :func:`geomlib.plots.plot_response` (no gradient arrows here); ``fill="contourf"``
        (filled bands) keeps a saved notebook small where many maps are drawn.

    Returns:
      :class:`DecisionArtists`.
    """
    values, coords = np.asarray(values, np.float64), np.asarray(coords, np.float64)
    if values.ndim != 2 or coords.shape != (*values.shape, 2):
        raise ValueError(f"values, coords: expected (n_b, n_a) and (n_b, n_a, 2), got {values.shape} and "
                         f"{coords.shape}")
    ax = new_axes(ax, (4.5, 4))
    art = plot_response(values, coords, ax=ax, arrows=None, levels=levels, fill=fill, colorbar=colorbar,
                        colorbar_label=colorbar_label, xlabel=xlabel, ylabel=ylabel, title=title)
    if fill == "contourf" and art.colorbar is not None:   # round ticks, not the band edges at min and max
        art.colorbar.ax.yaxis.set_major_locator(MaxNLocator(6))
    boundary = None
    if zero and values.min() < 0 < values.max():
        boundary = ax.contour(coords[..., 0], coords[..., 1], values, levels=[0.0], colors=BOUNDARY_COLOR,
                              linewidths=2.2)
    drawn = []
    for k, (label, (a, b)) in enumerate((marks or {}).items()):
        drawn += ax.plot([a], [b], marker="*", ms=11, color="w", mec="k", ls="none", label=label)
    return DecisionArtists(art, boundary, drawn)


def plot_curvature_histograms(
    samples: Mapping[str, ArrayLike],
    *,
    ax=None,
    bins: int | Sequence[float] = 24,
    xlabel: str = "principal curvature of the boundary",
    title: str | None = None,
):
    """Overlaid step histograms of boundary curvatures per model, with each median dashed.

    Args:
      samples: model name -> curvatures (any shape; NaN ignored).
      ax: Axes; None makes a figure.
      bins: number of shared bins or their edges.

    Returns:
      the Axes.
    """
    if not samples:
        raise ValueError("samples: expected at least one model, got none")
    ax = new_axes(ax, (5.5, 3.6))
    clean = {k: np.asarray(v, np.float64).ravel() for k, v in samples.items()}
    clean = {k: v[np.isfinite(v)] for k, v in clean.items()}
    everything = np.concatenate([v for v in clean.values()] + [np.zeros(1)])
    edges = np.histogram_bin_edges(everything, bins=bins)
    for k, (name, v) in enumerate(clean.items()):
        color = f"C{k}"
        ax.hist(v, bins=edges, histtype="step", lw=1.8, color=color, label=f"{name} (median {np.median(v):+.2f})"
                if len(v) else name)
        if len(v):
            ax.axvline(np.median(v), color=color, ls="--", lw=1)
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.legend(fontsize="small", frameon=False)
    if title:
        ax.set_title(title)
    return ax


def plot_walks(classes: Mapping[str, ArrayLike], labels: ArrayLike, *, ax=None, title: str | None = None):
    """Straight-line walks as a picture: one row per pair, one column per path point,
    white where the point is in the pair's class and dark where it has left it; models
    side by side.

    Args:
      classes: model name -> predicted classes along each path ``(P, n)``
        (:attr:`geomlib._src.boundary.Walk.classes`).
      labels: the class each walk should stay in ``(P,)``.
      ax: Axes; None makes a figure.

    Returns:
      the Axes.
    """
    if not classes:
        raise ValueError("classes: expected at least one model, got none")
    labels = np.asarray(labels)
    blocks = []
    for name, c in classes.items():
        c = np.asarray(c)
        if c.ndim != 2 or len(c) != len(labels):
            raise ValueError(f"classes[{name!r}]: expected ({len(labels)}, n), got {c.shape}")
        blocks.append(c == labels[:, None])
    n = blocks[0].shape[1]
    gap = np.ones((len(labels), 2), bool)
    image = np.concatenate([x for b in blocks for x in (b, gap)][:-1], axis=1)
    ax = new_axes(ax, (6, 3.5))
    ax.imshow(~image, cmap="Greys", aspect="auto", interpolation="nearest", vmin=0, vmax=1.6)
    ax.set_xticks([k * (n + 2) + (n - 1) / 2 for k in range(len(blocks))], list(classes))
    ax.set_ylabel("pair")
    ax.set_xlabel("path from digit 1 (left) to digit 2 (right), per model; dark: another class")
    if title:
        ax.set_title(title)
    return ax
