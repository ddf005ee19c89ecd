"""Static figures of response geometry on a plane (matplotlib).

Every drawing function takes ``ax=None``: given an Axes it draws there and touches no
global state; without one it creates a new figure (through pyplot, so that it shows
inline in a notebook). Fields are on the grid of :meth:`geomlib.Plane.grid`: values
``(n_b, n_a)``, coords ``(n_b, n_a, 2)`` with ``coords[i, j] = (a_j, b_i)``.

>>> import jax.numpy as jnp, geomlib
>>> from matplotlib.figure import Figure
>>> p = geomlib.plane(jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0]))
>>> coords = p.grid(16)
>>> geo = geomlib.plane_geometry(lambda x: x[0] - 0.2 * x[1] ** 2, p, coords)
>>> ax = Figure().add_subplot()
>>> art = plot_response(geo, coords, ax=ax, arrows=8)
>>> art.contours is not None and art.quiver is not None
True
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import matplotlib as mpl
import numpy as np
from jax.typing import ArrayLike

from geomlib import PlaneGeometry
from geomlib.plots.axes import new_axes
from geomlib.plots.fields import arrow_field, as_grid, contour_levels, curvature_limit, plane_extent

__all__ = [
    "CURVATURE_LABELS",
    "CURVATURE_SIGNS",
    "MEI_LABEL",
    "ORTHO_LABEL",
    "PlaneArtists",
    "plot_curvature",
    "plot_plane",
    "plot_response",
]

#: Which curvature a field is; shown on every curvature panel.
CURVATURE_LABELS = {
    "exact": "exact (autodiff)",
    "grid": "grid-scale (scale-dependent)",
}

#: Colour key of every curvature map.
CURVATURE_SIGNS = "+ exo-origin, − endo-origin\ngrey: undefined"
MEI_LABEL = "a: MEI direction"
ORTHO_LABEL = "b: orthogonal direction"


class PlaneArtists(NamedTuple):
    """What a plane panel drew (None for parts not drawn)."""

    image: mpl.image.AxesImage | None
    contours: mpl.contour.ContourSet | None
    quiver: mpl.quiver.Quiver | None
    origin: mpl.lines.Line2D | None
    colorbar: mpl.colorbar.Colorbar | None


def _mark_origin(ax):
    (line,) = ax.plot([0.0], [0.0], marker="+", ms=10, mew=1.5, color="crimson", ls="none", zorder=5)
    return line


def _finish(ax, coords, xlabel, ylabel, title):
    amin, amax, bmin, bmax = plane_extent(coords)
    ax.set_xlim(amin, amax)
    ax.set_ylim(bmin, bmax)
    ax.set_aspect("equal")  # so gradient arrows *look* orthogonal to the contours
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)


def plot_response(
    field: PlaneGeometry | ArrayLike,
    coords: ArrayLike,
    *,
    ax=None,
    grad: ArrayLike | None = None,
    arrows: int | None = 12,
    levels: int | Sequence[float] = 12,
    fill: str | None = "image",
    cmap: str = "viridis",
    line_color: str = "k",
    arrow_color: str = "w",
    colorbar: bool = True,
    colorbar_label: str = "response f(x)",
    xlabel: str = MEI_LABEL,
    ylabel: str = ORTHO_LABEL,
    title: str | None = None,
    mark_origin: bool = True,
) -> PlaneArtists:
    """Iso-response contour map of a plane, optionally with gradient arrows.

    Args:
      field: a :class:`geomlib.PlaneGeometry` (its ``value`` and ``grad`` are used) or
        a response array ``(n_b, n_a)``.
      coords: grid ``(n_b, n_a, 2)`` the field was computed on.
      ax: Axes to draw in; None makes a new figure.
      grad: in-plane gradient ``(n_b, n_a, 2)``; taken from ``field`` if it is a
        PlaneGeometry.
      arrows: gradient arrows per axis, or None for no arrows.
      levels: number of round contour levels, or the levels themselves.
      fill: ``"image"`` (smooth colour image), ``"contourf"`` (filled bands) or None.
      colorbar: add a colorbar for the fill.
      xlabel, ylabel, title: text; the origin (0, 0) is marked with a red +.

    Returns:
      :class:`PlaneArtists`.
    """
    if isinstance(field, PlaneGeometry):
        grad = field.grad if grad is None else grad
        field = field.value
    values, coords = as_grid(field, coords)
    ax = new_axes(ax, layout=None)
    lv = contour_levels(values, levels) if np.ndim(levels) == 0 else np.asarray(levels, dtype=np.float64)
    ext = plane_extent(coords)
    image = contours = quiver = cbar = None
    A, B = coords[..., 0], coords[..., 1]
    if fill == "image":
        image = ax.imshow(values, extent=ext, origin="lower", cmap=cmap, interpolation="bilinear", aspect="equal")
        mappable = image
    elif fill == "contourf":
        mappable = ax.contourf(A, B, values, levels=np.concatenate([[values.min()], lv, [values.max()]]), cmap=cmap)
    elif fill is None:
        mappable = None
    else:
        raise ValueError(f"fill: expected 'image', 'contourf' or None, got {fill!r}")
    if lv.size:
        contours = ax.contour(A, B, values, levels=lv, colors=line_color, linewidths=0.8,
                              negative_linestyles="solid")
    if arrows and grad is not None:
        X, Y, U, V = arrow_field(coords, grad, arrows)
        quiver = ax.quiver(X, Y, U, V, angles="xy", scale_units="xy", scale=1.0, color=arrow_color,
                           edgecolor="k", linewidth=0.4, width=0.006, minlength=0, zorder=4)
    if colorbar and mappable is not None:
        cbar = ax.figure.colorbar(mappable, ax=ax, shrink=0.85, label=colorbar_label)
    origin = _mark_origin(ax) if mark_origin else None
    _finish(ax, coords, xlabel, ylabel, title)
    return PlaneArtists(image, contours, quiver, origin, cbar)


def plot_curvature(
    curvature: PlaneGeometry | ArrayLike,
    coords: ArrayLike,
    *,
    ax=None,
    kind: str = "exact",
    values: ArrayLike | None = None,
    levels: int | Sequence[float] = 12,
    vmax: float | None = None,
    cmap: str = "RdBu_r",
    colorbar: bool = True,
    xlabel: str = MEI_LABEL,
    ylabel: str = ORTHO_LABEL,
    title: str | None = None,
    mark_origin: bool = True,
) -> PlaneArtists:
    """Map of iso-response contour curvature kappa on a plane.

    Diverging colours centred at 0 (red = positive = exo-origin, blue = negative =
    endo-origin); NaN (undefined: zero gradient) shown in grey.

    Args:
      curvature: ``(n_b, n_a)``, e.g. ``PlaneGeometry.curvature`` or
        :func:`geomlib.grid_curvature`; a PlaneGeometry is accepted too.
      coords: grid ``(n_b, n_a, 2)``.
      ax: Axes, or None for a new figure.
      kind: ``"exact"`` or ``"grid"``: which curvature this is (see ``CURVATURE_LABELS``);
        written on the colorbar (or the title when there is no colorbar).
      values: optional response ``(n_b, n_a)`` whose contours are overlaid in grey.
      vmax: colour limit (symmetric); default :func:`curvature_limit`.

    Returns:
      :class:`PlaneArtists` (no quiver).
    """
    if kind not in CURVATURE_LABELS:
        raise ValueError(f"kind: expected one of {tuple(CURVATURE_LABELS)}, got {kind!r}")
    if isinstance(curvature, PlaneGeometry):
        values = curvature.value if values is None else values
        curvature = curvature.curvature
    kappa, coords = as_grid(curvature, coords, "curvature")
    ax = new_axes(ax, layout=None)
    vmax = curvature_limit(kappa, coords) if vmax is None else float(vmax)
    cm = mpl.colormaps[cmap].with_extremes(bad="0.82")
    image = ax.imshow(np.ma.masked_invalid(kappa), extent=plane_extent(coords), origin="lower", cmap=cm,
                      vmin=-vmax, vmax=vmax, interpolation="nearest", aspect="equal")
    contours = None
    if values is not None:
        v, _ = as_grid(values, coords)
        lv = contour_levels(v, levels) if np.ndim(levels) == 0 else np.asarray(levels, dtype=np.float64)
        if lv.size:
            contours = ax.contour(coords[..., 0], coords[..., 1], v, levels=lv, colors="0.35", linewidths=0.6,
                                  negative_linestyles="solid")
    label = f"curvature κ, {CURVATURE_LABELS[kind]}"
    cbar = None
    if colorbar:
        cbar = ax.figure.colorbar(image, ax=ax, shrink=0.85, label=f"{label}\n{CURVATURE_SIGNS}")
    elif title is None:
        title = label
    origin = _mark_origin(ax) if mark_origin else None
    _finish(ax, coords, xlabel, ylabel, title)
    return PlaneArtists(image, contours, None, origin, cbar)


def plot_plane(
    geometry: PlaneGeometry,
    coords: ArrayLike,
    *,
    curvature: bool = True,
    kind: str = "exact",
    arrows: int | None = 12,
    axes=None,
    figsize=None,
    xlabel: str = MEI_LABEL,
    ylabel: str = ORTHO_LABEL,
    title: str | None = None,
):
    """Response map with gradient arrows, and (optionally) the curvature map beside it.

    Args:
      geometry: :class:`geomlib.PlaneGeometry` on ``coords`` ``(n_b, n_a, 2)``.
      curvature: add the curvature panel (``geometry.curvature``, labelled ``kind``).
      axes: one or two Axes; None makes a new figure.

    Returns:
      ``(figure, [PlaneArtists, ...])``.
    """
    n = 2 if curvature else 1
    if axes is None:
        import matplotlib.pyplot as plt  # creating a figure is the point here

        fig, axes = plt.subplots(1, n, figsize=figsize or (4.6 * n, 3.8), squeeze=False, layout="constrained")
        axes = axes[0]
    axes = list(np.atleast_1d(axes))
    if len(axes) != n:
        raise ValueError(f"axes: expected {n} Axes, got {len(axes)}")
    out = [plot_response(geometry, coords, ax=axes[0], arrows=arrows, xlabel=xlabel, ylabel=ylabel, title=title)]
    if curvature:
        out.append(plot_curvature(geometry, coords, ax=axes[1], kind=kind, xlabel=xlabel, ylabel=ylabel))
    return axes[0].figure, out

