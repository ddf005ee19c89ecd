"""Plane fields as drawing data (numpy only): window extent, round contour levels and
their lines, subsampled gradient arrows, the colour limit of a curvature map. Shared by
the static figures and the interactive explorer.

Fields are on the grid of :meth:`geomlib.Plane.grid`: values ``(n_b, n_a)``, coords
``(n_b, n_a, 2)`` with ``coords[i, j] = (a_j, b_i)``.
"""

from __future__ import annotations

import contourpy  # matplotlib's own contouring engine (a dependency of matplotlib)
import numpy as np
from jax.typing import ArrayLike
from matplotlib.ticker import MaxNLocator

__all__ = ["ARROW_FILL", "arrow_field", "arrow_indices", "arrow_spacing", "as_grid", "contour_levels",
           "contour_lines", "curvature_limit", "plane_extent", "scaled_arrows"]

ARROW_FILL = 0.9  # longest arrow, as a fraction of the spacing between arrows


def as_grid(values: ArrayLike, coords: ArrayLike, name: str = "values") -> tuple[np.ndarray, np.ndarray]:
    """``values`` ``(n_b, n_a)`` and ``coords`` ``(n_b, n_a, 2)`` as float64 arrays;
    ValueError (naming ``name``) for any other shapes."""
    values = np.asarray(values, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    if values.ndim != 2 or coords.shape != values.shape + (2,):
        raise ValueError(
            f"{name}: expected shape (n_b, n_a) with coords (n_b, n_a, 2), got {values.shape} and {coords.shape}"
        )
    return values, coords


def plane_extent(coords: ArrayLike) -> tuple[float, float, float, float]:
    """``(amin, amax, bmin, bmax)`` of a grid ``(n_b, n_a, 2)``, as ``imshow(extent=...)`` takes it."""
    c = np.asarray(coords)
    return float(c[0, 0, 0]), float(c[0, -1, 0]), float(c[0, 0, 1]), float(c[-1, 0, 1])


def contour_levels(values: ArrayLike, n: int = 12) -> np.ndarray:
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


def contour_lines(values: ArrayLike, coords: ArrayLike, levels: ArrayLike) -> list[np.ndarray]:
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
    values, coords = as_grid(values, coords)
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


def arrow_spacing(coords: ArrayLike, ib: np.ndarray, ia: np.ndarray) -> float:
    """Distance between neighbouring arrows (plane units) for the subsample ``(ib, ia)``."""
    coords = np.asarray(coords, dtype=np.float64)
    nb, na = coords.shape[:2]
    sa = ia[1] - ia[0] if len(ia) > 1 else na
    sb = ib[1] - ib[0] if len(ib) > 1 else nb
    return min(np.ptp(coords[..., 0]) / na * sa, np.ptp(coords[..., 1]) / nb * sb)


def scaled_arrows(grad: ArrayLike, spacing: float) -> tuple[np.ma.MaskedArray, np.ma.MaskedArray]:
    """Arrow components ``(U, V)`` for gradients ``(m_b, m_a, 2)``: the longest is
    ``ARROW_FILL`` spacings long, lengths keep their ratios; masked where the gradient is
    0 or not finite."""
    g = np.asarray(grad, dtype=np.float64)
    mag = np.linalg.norm(g, axis=-1)
    bad = ~np.isfinite(mag) | (mag == 0)
    top = np.max(mag[~bad]) if np.any(~bad) else 1.0
    uv = np.where(bad[..., None], 0.0, g) * (ARROW_FILL * spacing / top)
    return np.ma.masked_where(bad, uv[..., 0]), np.ma.masked_where(bad, uv[..., 1])


def arrow_field(coords: ArrayLike, grad: ArrayLike, n_arrows: int = 12) -> tuple[np.ndarray, ...]:
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


def curvature_limit(curvature: ArrayLike, coords: ArrayLike, floor: float = 0.05) -> float:
    """Symmetric colour limit for a curvature map: 98th percentile of |kappa|, at least
    ``floor / half-width`` of the window, so that rounding noise on a zero-curvature field
    shows as a flat white map instead of amplified speckle."""
    amin, amax, bmin, bmax = plane_extent(coords)
    low = floor / (0.5 * min(amax - amin, bmax - bmin))
    k = np.abs(np.asarray(curvature, dtype=np.float64))
    k = k[np.isfinite(k)]
    return float(max(np.percentile(k, 98), low)) if k.size else low

