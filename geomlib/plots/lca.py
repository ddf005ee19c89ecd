"""Figures for the recurrent-neuron chapter: LCA dynamics, dictionaries drawn in the
input plane, and histograms of contour bend (matplotlib).

Like the rest of :mod:`geomlib.plots`, every function takes ``ax=None``: given an Axes it draws
there and touches no global state; without one it makes a new figure through pyplot.

>>> import numpy as np
>>> from matplotlib.figure import Figure
>>> ax = Figure().add_subplot()
>>> bars = plot_bend_histograms({"comparison": np.array([0.1, 0.2, 0.3]), "random": np.array([0.05, 0.1])},
...                             ax=ax, kind="fit")
>>> sorted(bars)
['comparison', 'random']
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from jax.typing import ArrayLike

from geomlib.plots.axes import new_axes

__all__ = [
    "BEND_LABELS",
    "draw_contour_fit",
    "draw_dictionary",
    "plot_bend_histograms",
    "plot_bend_vs_angle",
    "plot_energy",
    "plot_potentials",
]

#: Which bend statistic a histogram shows; written on its x axis.
BEND_LABELS = {
    "fit": "contour-fit c2 (plane units⁻¹)",
    "exact": "curvature κ, exact (autodiff)",
    "grid": "curvature κ, grid-scale (scale-dependent)",
    "attenuation": "response attenuation",
}
_COLORS = {"comparison": "tab:red", "random": "tab:blue"}


def plot_potentials(u: ArrayLike, lam: float, eta: float, *, ax=None, top: int = 8, marks: Sequence[int] = (),
                    title: str | None = None):
    r"""Membrane potentials :math:`u_i(t)` of the LCA's most active neurons, and the threshold.

    Args:
      u: potentials over steps, shape ``(steps + 1, N)`` (e.g. ``LCATrajectory.u``).
      lam: threshold lambda, drawn as a dashed line: a neuron is active above it.
      eta: dt / tau; the time axis is ``step * eta``, in membrane time constants.
      ax: Axes, or None for a new figure.
      top: draw the ``top`` neurons with the largest final potential (coloured) and the
        rest as thin grey lines.
      marks: steps to mark with vertical dotted lines (e.g. ``(75, 120)``).

    Returns:
      the Axes.
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or u.shape[0] < 2:
        raise ValueError(f"u: expected potentials of shape (steps + 1, N), got {u.shape}")
    if not eta > 0:
        raise ValueError(f"eta: expected eta > 0, got {eta!r}")
    ax = new_axes(ax, (5.0, 3.4))
    t = np.arange(u.shape[0]) * eta
    order = np.argsort(u[-1])[::-1]
    ax.plot(t, u[:, order[top:]], color="0.8", lw=0.5)
    for i in order[:top]:
        ax.plot(t, u[:, i], lw=1.4, label=f"neuron {i}")
    ax.axhline(lam, color="k", ls="--", lw=1, label=f"threshold λ = {lam:g}")
    for m in marks:
        ax.axvline(m * eta, color="0.3", ls=":", lw=1)
        ax.annotate(f"{m} steps", (m * eta, 1.0), xycoords=("data", "axes fraction"), ha="right", va="top",
                    rotation=90, fontsize="small", color="0.3")
    ax.set_xlabel("time t / τ  (step × η)")
    ax.set_ylabel("membrane potential u")
    ax.set_xlim(t[0], t[-1])
    ax.legend(fontsize="x-small", ncols=2, loc="lower right")
    if title:
        ax.set_title(title)
    return ax


def plot_energy(energy: ArrayLike, eta: float, *, ax=None, marks: Sequence[int] = (), show: int | None = None,
                title: str | None = None):
    r"""Relative excess LCA energy :math:`E(t) / E(\infty) - 1` against time, on a log scale.

    Args:
      energy: shape ``(steps + 1,)``, or ``(B, steps + 1)`` for B inputs (the mean over
        inputs is drawn, with the 10-90% band; inputs whose energy never changes, because
        no neuron ever becomes active, are left out and counted). The last step stands in for
        :math:`E(\infty)`, so run about twice as long as you show.
      eta: dt / tau; the time axis is ``step * eta``.
      marks: steps to mark with vertical dotted lines, labelled with the mean excess.
      show: number of steps drawn; default half of them.

    Returns:
      the Axes.
    """
    e = np.asarray(energy, dtype=np.float64)
    e = e[None] if e.ndim == 1 else e
    if e.ndim != 2 or e.shape[1] < 3:
        raise ValueError(f"energy: expected shape (steps + 1,) or (B, steps + 1), got {np.shape(energy)}")
    ax = new_axes(ax, (5.0, 3.4))
    show = (e.shape[1] - 1) // 2 if show is None else int(show)
    if not 1 <= show < e.shape[1] - 1:
        raise ValueError(f"show: expected 1 <= show < {e.shape[1] - 1} (steps recorded), got {show!r}")
    still = np.all(e == e[:, :1], axis=1)  # no neuron ever active: nothing to converge
    if np.all(still):
        raise ValueError("energy: every input keeps its initial energy (no neuron ever active)")
    rel = e[~still, :show + 1] / e[~still, -1:] - 1.0
    t = np.arange(rel.shape[1]) * eta
    floor = 1e-6
    left_out = f" ({int(still.sum())} with no active neuron left out)" if still.any() else ""
    ax.plot(t, np.maximum(rel.mean(0), floor), color="k", lw=1.5, label=f"mean over {len(rel)} inputs{left_out}")
    if rel.shape[0] > 1:
        lo, hi = np.percentile(rel, [10, 90], axis=0)
        ax.fill_between(t, np.maximum(lo, floor), np.maximum(hi, floor), color="0.8", label="10-90% of inputs")
    for m in marks:
        if m <= show:
            ax.axvline(m * eta, color="0.3", ls=":", lw=1)
            ax.annotate(f"{m} steps: {rel.mean(0)[m]:.1%}", (m * eta, rel.mean(0)[m]), xytext=(4, 4),
                        textcoords="offset points", fontsize="small")
    ax.set_yscale("log")
    ax.set_xlabel("time t / τ  (step × η)")
    ax.set_ylabel(f"E(t) / E({e.shape[1] - 1} steps) − 1")
    ax.set_xlim(t[0], t[-1])
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def draw_dictionary(phi: ArrayLike, *, ax=None, scale: float = 1.0, labels: Sequence[str] | None = None,
                    color: str = "crimson", highlight: int | None = None):
    """Dictionary elements of a 2-D dictionary as arrows from the origin of the input plane.

    Args:
      phi: dictionary, shape ``(2, N)``.
      scale: arrow length per unit of element norm.
      labels: one label per element (default ``φ0, φ1, ...``).
      highlight: index of an element to draw thicker.

    Returns:
      the Axes.
    """
    phi = np.asarray(phi, dtype=np.float64)
    if phi.ndim != 2 or phi.shape[0] != 2:
        raise ValueError(f"phi: expected a 2-D dictionary of shape (2, N), got {phi.shape}")
    labels = [f"φ{i}" for i in range(phi.shape[1])] if labels is None else list(labels)
    if len(labels) != phi.shape[1]:
        raise ValueError(f"labels: expected {phi.shape[1]} labels, got {len(labels)}")
    ax = new_axes(ax)
    for i in range(phi.shape[1]):
        x, y = scale * phi[:, i]
        width = 2.4 if i == highlight else 1.3
        ax.annotate("", (x, y), (0.0, 0.0), arrowprops=dict(arrowstyle="-|>", color=color, lw=width), zorder=6)
        ax.annotate(labels[i], (x, y), xytext=(4 * np.sign(x or 1), 4 * np.sign(y or 1)), textcoords="offset points",
                    color=color, fontsize="medium", fontweight="bold" if i == highlight else "normal", zorder=6,
                    ha="left" if x >= 0 else "right", va="bottom" if y >= 0 else "top")
    return ax


def plot_bend_histograms(samples: Mapping[str, ArrayLike], *, ax=None, kind: str = "fit", bins=30,
                         limits: tuple[float, float] | None = None, title: str | None = None,
                         medians: bool = True):
    """Overlaid histograms of a per-plane bend statistic, one per plane kind.

    Args:
      samples: plane kind (e.g. ``"comparison"``, ``"random"``) -> values ``(m,)``; NaN
        (no contour found) is left out and counted in the legend.
      ax: Axes, or None for a new figure.
      kind: which statistic (a key of :data:`BEND_LABELS`), written on the x axis.
      bins: number of bins or the bin edges (shared by all kinds).
      limits: ``(lo, hi)`` of the bins; default the 0.5-99.5 percentile span of all values.
      medians: draw each kind's median as a dashed line.

    Returns:
      dict kind -> the bar container.
    """
    if kind not in BEND_LABELS:
        raise ValueError(f"kind: expected one of {tuple(BEND_LABELS)}, got {kind!r}")
    if not samples:
        raise ValueError("samples: expected at least one kind of plane, got none")
    data = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in samples.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in data.values()])
    if finite.size == 0:
        raise ValueError("samples: expected some finite values, got none")
    if np.ndim(bins) == 0:
        lo, hi = limits if limits is not None else tuple(np.percentile(finite, [0.5, 99.5]))
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, int(bins) + 1)
    ax = new_axes(ax, (5.0, 3.4))
    out = {}
    for i, (name, v) in enumerate(data.items()):
        ok = v[np.isfinite(v)]
        color = _COLORS.get(name, f"C{i + 2}")
        missing = f", {v.size - ok.size} without contour" if ok.size < v.size else ""
        label = f"{name} (n = {ok.size}{missing})"
        _, _, bars = ax.hist(np.clip(ok, bins[0], bins[-1]), bins=bins, color=color, alpha=0.45, label=label)
        out[name] = bars
        if medians and ok.size:
            ax.axvline(np.median(ok), color=color, ls="--", lw=1.5)
    ax.axvline(0.0, color="k", lw=0.8)
    ax.set_xlabel(BEND_LABELS[kind] + "\n+ exo-origin, − endo-origin; dashed: medians")
    ax.set_ylabel("planes")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return out


def plot_bend_vs_angle(surveys: Mapping[str, object], *, ax=None, width: float = 5.0, min_planes: int = 20,
                       title: str | None = None) -> dict:
    """Contour bend of comparison planes against the angle between the neuron's element and
    its competitor's, one curve per survey: the median c2 of the planes in each angle bin
    (line) and their interquartile range (band); the median of the survey's random planes
    as a dashed line of the same colour.

    A larger dictionary has more competitors at small angles, so its closest 300 reach less
    far: comparing bends at equal angle separates "more overcomplete" from "closer competitors".

    Args:
      surveys: label -> survey with per-plane ``c2``, ``angle`` (degrees) ``(n, p)`` and
        ``kind`` ``(p,)``, e.g. ``{"patches-2x": SurveyResult, ...}``.
      ax: Axes, or None for a new figure.
      width: angle bins in degrees (> 0), from the smallest comparison angle.
      min_planes: a bin with fewer finite planes is not drawn (>= 1).
      title: the Axes' title.

    Returns:
      dict label -> the median line (``Line2D``).
    """
    if not surveys:
        raise ValueError("surveys: expected at least one survey, got none")
    if not np.isfinite(width) or width <= 0:
        raise ValueError(f"width: expected a positive bin width in degrees, got {width!r}")
    if isinstance(min_planes, bool) or not isinstance(min_planes, (int, np.integer)) or min_planes < 1:
        raise ValueError(f"min_planes: expected an int >= 1, got {min_planes!r}")
    ax = new_axes(ax, (5.0, 3.4))
    out = {}
    for i, (label, survey) in enumerate(surveys.items()):
        kind = np.asarray(getattr(survey, "kind", None))
        if not all(hasattr(survey, f) for f in ("c2", "angle")) or kind.ndim != 1:
            raise ValueError(f"surveys[{label!r}]: expected a survey with c2, angle and kind, got "
                             f"{type(survey).__name__}")
        c2, angle = np.asarray(survey.c2, np.float64), np.asarray(survey.angle, np.float64)
        comparison = (kind == "comparison")
        a, c = angle[:, comparison].ravel(), c2[:, comparison].ravel()
        ok = np.isfinite(a) & np.isfinite(c)
        if not ok.any():
            raise ValueError(f"surveys[{label!r}]: expected comparison planes with a finite c2, got none")
        a, c = a[ok], c[ok]
        edges = np.arange(np.floor(a.min() / width) * width, a.max() + width, width)
        which = np.digitize(a, edges) - 1
        centre, q = [], []
        for b in range(len(edges) - 1):
            sel = c[which == b]
            if sel.size >= min_planes:
                centre.append(edges[b] + width / 2)
                q.append(np.percentile(sel, [25, 50, 75]))
        color = f"C{i}"
        if q:
            q = np.array(q)
            (line,) = ax.plot(centre, q[:, 1], "o-", color=color, ms=3, label=f"{label} (n = {c.size})")
            ax.fill_between(centre, q[:, 0], q[:, 2], color=color, alpha=0.2, lw=0)
            out[label] = line
        random = c2[:, kind == "random"]
        if np.isfinite(random).any():
            ax.axhline(np.nanmedian(random), color=color, ls="--", lw=1.2)
    ax.plot([], [], "k--", lw=1.2, label="random planes (median)")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel("angle between the neuron's element and its competitor's (degrees)")
    ax.set_ylabel("contour-fit c2 (comparison planes)\nline: median, band: quartiles")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return out


def draw_contour_fit(fit, *, ax=None, color: str = "crimson", size: float = 3.0):
    """The contour points a bend fit used (dots) and its parabola a = c0 + c1 b + c2 b^2 (dashed).

    Args:
      fit: the fit of one plane, with attributes ``points`` ``(m, 2)`` (plane coordinates
        (a, b); rows with NaN are skipped) and ``c0``, ``c1``, ``c2`` (scalars), e.g. a
        ``ContourBend`` of one plane or a :class:`geomlib.ContourFit`.
      ax: Axes (a plane map drawn by :func:`geomlib.plots.plot_response`), or None.
      color: of dots and parabola.
      size: dot size (points).

    Returns:
      the Axes. Nothing is drawn for a fit without finite coefficients.
    """
    pts = np.asarray(fit.points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"fit.points: expected shape (m, 2), got {pts.shape}")
    c0, c1, c2 = (float(np.asarray(x)) for x in (fit.c0, fit.c1, fit.c2))
    ax = new_axes(ax)
    ok = np.all(np.isfinite(pts), axis=1)
    if not (ok.any() and np.isfinite([c0, c1, c2]).all()):
        return ax
    pts = pts[ok]
    ax.plot(pts[:, 0], pts[:, 1], "o", ms=size, color=color, zorder=6)
    b = np.linspace(pts[:, 1].min(), pts[:, 1].max(), 101)
    ax.plot(c0 + c1 * b + c2 * b**2, b, "--", color=color, lw=1.2, zorder=6)
    return ax
