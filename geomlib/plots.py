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

import contourpy  # matplotlib's own contouring engine (a dependency of matplotlib)
import matplotlib as mpl
import numpy as np
from matplotlib.ticker import MaxNLocator

from geomlib import PlaneGeometry

__all__ = [
    "CURVATURE_LABELS",
    "CURVATURE_SIGNS",
    "PlaneArtists",
    "arrow_field",
    "contour_levels",
    "contour_lines",
    "curvature_limit",
    "notebook_style",
    "plane_extent",
    "plot_curvature",
    "plot_plane",
    "plot_response",
    "show_images",
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
ARROW_FILL = 0.9  # longest arrow, as a fraction of the spacing between arrows


class PlaneArtists(NamedTuple):
    """What a plane panel drew (None for parts not drawn)."""

    image: mpl.image.AxesImage | None
    contours: mpl.contour.ContourSet | None
    quiver: mpl.quiver.Quiver | None
    origin: mpl.lines.Line2D | None
    colorbar: mpl.colorbar.Colorbar | None


def notebook_style(dpi: float = 80) -> None:
    """Set matplotlib defaults for the notebooks: modest dpi (small files), PNG output size."""
    mpl.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi})


def _new_axes(ax, figsize=None):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # creating a figure is the point here

    return plt.subplots(figsize=figsize)[1]


def _as_grid(values, coords, name="values"):
    values = np.asarray(values, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    if values.ndim != 2 or coords.shape != values.shape + (2,):
        raise ValueError(
            f"{name}: expected shape (n_b, n_a) with coords (n_b, n_a, 2), got {values.shape} and {coords.shape}"
        )
    return values, coords


def plane_extent(coords) -> tuple[float, float, float, float]:
    """``(amin, amax, bmin, bmax)`` of a grid ``(n_b, n_a, 2)``, as ``imshow(extent=...)`` takes it."""
    c = np.asarray(coords)
    return float(c[0, 0, 0]), float(c[0, -1, 0]), float(c[0, 0, 1]), float(c[-1, 0, 1])


def contour_levels(values, n: int = 12) -> np.ndarray:
    """About ``n`` round response levels strictly inside the range of ``values``.

    Round levels (0.5, 1.0, ...) stay put when the window moves, so contours
    translate smoothly in the interactive explorer. Empty if the field is flat.

    >>> contour_levels(np.array([[0.0, 1.0]]), 4).tolist()
    [0.25, 0.5, 0.75]
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.zeros(0)
    lo, hi = float(v.min()), float(v.max())
    if not hi > lo:
        return np.zeros(0)
    levels = MaxNLocator(nbins=n).tick_values(lo, hi)
    return levels[(levels > lo) & (levels < hi)]


def contour_lines(values, coords, levels) -> list[np.ndarray]:
    """Iso-response lines of ``values`` at ``levels``, as ``LineCollection.set_segments`` takes them.

    The same lines as ``ax.contour`` draws, without building a ``ContourSet``: cheap
    enough to redo on every update of an interactive figure.

    Args:
      values: ``(n_b, n_a)``; NaN is left out (no line through it).
      coords: grid ``(n_b, n_a, 2)`` (rectilinear, as :func:`geomlib.grid` makes).
      levels: the response levels, e.g. from :func:`contour_levels`.

    Returns:
      list of ``(k, 2)`` arrays of plane coordinates ``(a, b)``, all levels together.

    >>> coords = np.stack(np.meshgrid([0.0, 1.0, 2.0], [0.0, 1.0]), axis=-1)
    >>> [seg.tolist() for seg in contour_lines(coords[..., 0], coords, [0.5])]
    [[[0.5, 1.0], [0.5, 0.0]]]
    """
    values, coords = _as_grid(values, coords)
    levels = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if levels.size == 0:
        return []
    z = np.ma.masked_invalid(values) if not np.all(np.isfinite(values)) else values
    gen = contourpy.contour_generator(coords[0, :, 0], coords[:, 0, 1], z, line_type="Separate")
    return [seg for level in levels for seg in gen.lines(float(level))]


def arrow_indices(shape: tuple[int, int], n_arrows: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a ``(n_b, n_a)`` grid where :func:`arrow_field` draws arrows:
    about ``n_arrows`` per axis, a centred subsample with equal margins and no arrow on
    the window's edge.

    >>> [i.tolist() for i in arrow_indices((8, 8), 4)]
    [[0, 2, 4, 6], [0, 2, 4, 6]]
    """
    nb, na = shape
    sa, sb = max(1, round(na / n_arrows)), max(1, round(nb / n_arrows))
    ia = (na - 1 - (na // sa - 1) * sa) // 2 + sa * np.arange(na // sa)
    ib = (nb - 1 - (nb // sb - 1) * sb) // 2 + sb * np.arange(nb // sb)
    return ib, ia


def arrow_spacing(coords, ib, ia) -> float:
    """Distance between neighbouring arrows (plane units) for the subsample ``(ib, ia)``."""
    coords = np.asarray(coords, dtype=np.float64)
    nb, na = coords.shape[:2]
    sa = ia[1] - ia[0] if len(ia) > 1 else na
    sb = ib[1] - ib[0] if len(ib) > 1 else nb
    return min(np.ptp(coords[..., 0]) / na * sa, np.ptp(coords[..., 1]) / nb * sb)


def scaled_arrows(grad, spacing: float):
    """Arrow components ``(U, V)`` for gradients ``(m_b, m_a, 2)``: the longest is
    ``ARROW_FILL`` spacings long, lengths keep their ratios; masked where the gradient is
    0 or not finite."""
    g = np.asarray(grad, dtype=np.float64)
    mag = np.linalg.norm(g, axis=-1)
    bad = ~np.isfinite(mag) | (mag == 0)
    top = np.max(mag[~bad]) if np.any(~bad) else 1.0
    uv = np.where(bad[..., None], 0.0, g) * (ARROW_FILL * spacing / top)
    return np.ma.masked_where(bad, uv[..., 0]), np.ma.masked_where(bad, uv[..., 1])


def arrow_field(coords, grad, n_arrows: int = 12):
    """Subsampled gradient arrows, scaled so the longest is 0.9 arrow spacings long.

    Args:
      coords: grid ``(n_b, n_a, 2)``.
      grad: in-plane gradient ``(n_b, n_a, 2)``.
      n_arrows: arrows per axis (about).

    Returns:
      ``(X, Y, U, V)``, each ``(m_b, m_a)``; U, V masked where the gradient is 0 or
      not finite. Lengths keep their ratios: short arrows = gentle slope.
    """
    grad = np.asarray(grad, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    if grad.shape != coords.shape or grad.ndim != 3 or grad.shape[-1] != 2:
        raise ValueError(f"grad: expected shape {coords.shape} (the shape of coords), got {grad.shape}")
    ib, ia = arrow_indices(coords.shape[:2], n_arrows)
    c, g = coords[np.ix_(ib, ia)], grad[np.ix_(ib, ia)]
    U, V = scaled_arrows(g, arrow_spacing(coords, ib, ia))
    return c[..., 0], c[..., 1], U, V


def curvature_limit(curvature, coords, floor: float = 0.05) -> float:
    """Symmetric colour limit for a curvature map: 98th percentile of |kappa|, at least
    ``floor / half-width`` of the window, so that rounding noise on a zero-curvature field
    shows as a flat white map instead of amplified speckle."""
    amin, amax, bmin, bmax = plane_extent(coords)
    low = floor / (0.5 * min(amax - amin, bmax - bmin))
    k = np.abs(np.asarray(curvature, dtype=np.float64))
    k = k[np.isfinite(k)]
    return float(max(np.percentile(k, 98), low)) if k.size else low


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
    field,
    coords,
    *,
    ax=None,
    grad=None,
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
    values, coords = _as_grid(field, coords)
    ax = _new_axes(ax)
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
    curvature,
    coords,
    *,
    ax=None,
    kind: str = "exact",
    values=None,
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
    kappa, coords = _as_grid(curvature, coords, "curvature")
    ax = _new_axes(ax)
    vmax = curvature_limit(kappa, coords) if vmax is None else float(vmax)
    cm = mpl.colormaps[cmap].with_extremes(bad="0.82")
    image = ax.imshow(np.ma.masked_invalid(kappa), extent=plane_extent(coords), origin="lower", cmap=cm,
                      vmin=-vmax, vmax=vmax, interpolation="nearest", aspect="equal")
    contours = None
    if values is not None:
        v, _ = _as_grid(values, coords)
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
    coords,
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


def show_images(
    images,
    titles: Sequence[str] | None = None,
    *,
    axes=None,
    ncols: int | None = None,
    shape: tuple[int, int] | None = None,
    symmetric: bool | None = None,
    cmap: str | None = None,
    size: float = 1.7,
):
    """Show flattened images (digits, weight vectors, plane directions) in a row or grid.

    Args:
      images: ``(n, D)`` or ``(D,)``; each reshaped to ``shape`` (default: square,
        e.g. 28 x 28 for D = 784).
      titles: one per image.
      axes: Axes to use (at least n of them); None makes a new figure.
      ncols: images per row (default: all in one row, at most 8).
      symmetric: diverging colours centred at 0 with limits +-max|image| (weights,
        directions); default: whenever an image has negative entries. Otherwise grey
        scale from each image's min to max.
      cmap: override the colour map.
      size: inches per image when a figure is made.

    Returns:
      list of ``AxesImage``, one per image.
    """
    imgs = np.asarray(images, dtype=np.float64)
    imgs = imgs[None] if imgs.ndim == 1 else imgs
    if imgs.ndim != 2:
        raise ValueError(f"images: expected shape (n, D) or (D,), got {np.shape(images)}")
    n, d = imgs.shape
    if shape is None:
        side = int(round(np.sqrt(d)))
        if side * side != d:
            raise ValueError(f"shape: expected it for non-square images, got D = {d}")
        shape = (side, side)
    if int(np.prod(shape)) != d:
        raise ValueError(f"shape: expected a shape with {d} pixels, got {shape}")
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles: expected {n} titles, got {len(titles)}")
    if axes is None:
        import matplotlib.pyplot as plt  # creating a figure is the point here

        ncols = ncols or min(n, 8)
        nrows = -(-n // ncols)
        _, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * (titles is not None)),
                               squeeze=False, layout="constrained")
    axes = list(np.ravel(axes))
    if len(axes) < n:
        raise ValueError(f"axes: expected at least {n} Axes, got {len(axes)}")
    out = []
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        img = imgs[i].reshape(shape)
        sym = bool(np.nanmin(img) < 0) if symmetric is None else symmetric
        if sym:
            m = float(np.nanmax(np.abs(img))) or 1.0
            im = ax.imshow(img, cmap=cmap or "RdBu_r", vmin=-m, vmax=m, origin="upper")
        else:
            im = ax.imshow(img, cmap=cmap or "gray", origin="upper")
        if titles is not None:
            ax.set_title(titles[i], fontsize="medium")
        out.append(im)
    return out
