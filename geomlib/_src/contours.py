r"""Scale-aware contour bend: fit a parabola to an iso-response contour in plane units.

The statistic of Paiton et al. (2020), done so that it does not depend on the
grid: sample g(a, b) on the window, extract the contour {g = level} with
``skimage.measure.find_contours`` (linear interpolation between grid points),
map it to plane units, keep the part on the positive-a (MEI) side and fit

.. math:: a = c_0 + c_1 b + c_2 b^2

by least squares. ``c2 > 0`` means exo-origin: the contour bends around the MEI
axis, away from the origin. For g = a - c b^2 the contour at any level is exactly
a = level + c b^2, so c2 = c up to the O(h^2) error of the linear interpolation
between grid points (spacing h) that locates the contour. The tip curvature of
the fitted parabola is 2 c2 / (1 + c1^2)^{3/2}. Unlike autodiff curvature this is
a *global* measure over the window, so it sees the bend of piecewise-linear models
(ReLU, hard-threshold LCA).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from jax.typing import ArrayLike
from skimage import measure

from geomlib._src.core.checks import check_array
from geomlib._src.geometry import DEFAULT_CHUNK, Response, plane_values
from geomlib._src.planes import Extent, Plane, grid, parse_extent


#: A contour fit is resolved when its points span at least this many grid steps in b;
#: fewer, and :func:`fit_contour_curvature` warns (the parabola is then fitted to a few
#: linearly interpolated crossings, and c2 can be off by any amount).
MIN_RESOLVED_STEPS = 4


def _level(level) -> float:
    if level is None or isinstance(level, (bool, np.bool_, str, bytes)) or np.ndim(level) != 0 \
            or np.iscomplexobj(level):
        raise TypeError(f"level: expected a finite response level (a real number), got {type(level).__name__} {level!r}")
    level = float(level)
    if not np.isfinite(level):
        raise ValueError(f"level: expected a finite response level, got {level!r}")
    return level


class ContourFit(NamedTuple):
    """Parabola a = c0 + c1 b + c2 b^2 fitted to a contour (plane units), and its points."""

    c0: float
    c1: float
    c2: float
    points: np.ndarray  # (m, 2) plane coordinates (a, b) of the contour points used


def contour_points(values: ArrayLike, coords: ArrayLike, level: float) -> list[np.ndarray]:
    """Iso-response contours of a gridded field, in plane units.

    Args:
      values: field on a grid, shape ``(n_b, n_a)``, real. NaN or infinite entries mark
        points where the field is undefined: contours stop at them (they are not an error).
      coords: the grid's plane coordinates, shape ``(n_b, n_a, 2)`` from :meth:`Plane.grid`
        (finite, real).
      level: response level, a finite real number.

    Returns:
      A list of arrays of shape ``(m, 2)``: (a, b) along each contour piece.

    Raises:
      TypeError: None, a string or a complex array for ``values`` or ``coords``; a
        non-number ``level``.
      ValueError: mismatched shapes, non-finite ``coords`` or ``level``.
    """
    check_array(values, "values", finite=False)   # NaN allowed: undefined points
    check_array(coords, "coords")
    level = _level(level)
    values = np.asarray(values, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    if values.ndim != 2 or coords.shape != values.shape + (2,):
        raise ValueError(f"expected values (n_b, n_a) and coords (n_b, n_a, 2), got {values.shape} and {coords.shape}")
    a, b = coords[0, :, 0], coords[:, 0, 1]
    pieces = []
    for rc in measure.find_contours(np.where(np.isfinite(values), values, np.nan), level):
        pa = np.interp(rc[:, 1], np.arange(a.size), a)
        pb = np.interp(rc[:, 0], np.arange(b.size), b)
        pieces.append(np.stack([pa, pb], axis=-1))
    return pieces


def fit_contour_curvature(
    f: Response,
    plane: Plane,
    level: float,
    extent: Extent = 2.0,
    *,
    n: int = 64,
    normalize: bool = False,
    positive_side: bool = True,
    return_fit: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
) -> float | ContourFit:
    """Second-order coefficient c2 of the contour {g = level} fitted as a = c0 + c1 b + c2 b^2.

    Args:
      f: scalar response R^D -> R.
      plane: the plane; its ``u`` is the horizontal (MEI) axis a.
      level: response level of the contour; with ``normalize=True`` a fraction in
        (0, 1) of the min-max range of the response over the window (the original
        work used 0.5).
      extent: the window, as in :meth:`Plane.grid`.
      n: grid points per axis used to locate the contour. The result is in plane
        units, so it converges as n grows instead of scaling with it.
      normalize: min-max normalise the response over the window first.
      positive_side: keep only contour points with a > 0 (the MEI side).
      return_fit: return the whole :class:`ContourFit` instead of c2.

    Returns:
      c2 (float; positive = exo-origin), or a :class:`ContourFit`. NaN (or a fit of
      NaNs) when fewer than 3 contour points are found in the window.

    Warns:
      RuntimeWarning: when the contour is not resolved at this ``extent`` and ``n``: its
        points span fewer than :data:`MIN_RESOLVED_STEPS` = 4 grid steps in b (grid step
        ``2 * extent / (n - 1)`` for a scalar extent), e.g. a window far wider than the
        contour's bend (``extent=1e4`` with ``n=64`` puts a contour ``a = 0.3 + 0.25 b^2``
        between two grid rows). The value is returned as fitted, and can be off by any
        amount: narrow the window or raise ``n``.

    Raises:
      ValueError / TypeError: a non-finite or non-number ``level``, a bad ``extent``, ``n``
        (an integer >= 2 with at most 2**28 grid numbers, see :func:`geomlib.grid`),
        ``chunk_size``, or a ``plane`` that is not an orthonormal :class:`Plane`.

    >>> import jax.numpy as jnp, geomlib
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> round(fit_contour_curvature(lambda x: x[0] - 0.2 * x[1] ** 2, p, 0.5, n=32), 3)
    0.2
    """
    level = _level(level)
    if normalize and not 0 < level < 1:
        raise ValueError(f"level: with normalize=True expected a fraction in (0, 1), got {level!r}")
    coords = grid(n, parse_extent(extent))
    values = np.asarray(plane_values(f, plane, coords, chunk_size=chunk_size), dtype=np.float64)
    if normalize:
        lo, hi = np.nanmin(values), np.nanmax(values)
        values = (values - lo) / (hi - lo) if hi > lo else np.full_like(values, np.nan)
    pieces = contour_points(values, coords, level)
    pts = np.concatenate(pieces) if pieces else np.zeros((0, 2))
    if positive_side:
        pts = pts[pts[:, 0] > 0]
    if len(pts) < 3 or np.ptp(pts[:, 1]) == 0:
        fit = ContourFit(np.nan, np.nan, np.nan, pts)
    else:
        c2, c1, c0 = np.polyfit(pts[:, 1], pts[:, 0], 2)
        fit = ContourFit(float(c0), float(c1), float(c2), pts)
    db = float(coords[1, 0, 1] - coords[0, 0, 1])
    span = float(np.ptp(pts[:, 1])) if len(pts) else 0.0
    if len(pts) and span < MIN_RESOLVED_STEPS * db:
        warnings.warn(f"fit_contour_curvature: the contour at level {level:g} spans {span:.3g} in b, fewer than "
                      f"{MIN_RESOLVED_STEPS} grid steps of {db:.3g} (extent={extent!r}, n={n!r}): the parabola is "
                      f"not resolved and c2 = {fit.c2:.3g} may be far off; narrow the extent or raise n",
                      RuntimeWarning, stacklevel=2)
    return fit if return_fit else fit.c2
