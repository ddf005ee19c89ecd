r"""How much an iso-response contour turns between its two ends: the mean exact curvature
of a whole contour from the gradients at its ends (:func:`contour_turning`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array
from geomlib._src.geometry import Response, plane_gradients
from geomlib._src.planes import Plane


class ContourTurning(NamedTuple):
    r"""How much an iso-response contour turns between its two ends.

    Attributes:
      turning: total turning :math:`\int \kappa\, ds` (radians), the signed angle between
        the contour's normals at its two ends; positive = exo-origin.
      length: arc length L of the contour (polyline through the points), plane units.
      mean_curvature: :math:`\bar\kappa = \frac1L \int \kappa\, ds` (plane units⁻¹).
    """

    turning: float
    length: float
    mean_curvature: float


def contour_turning(f: Response, plane: Plane, points: ArrayLike) -> ContourTurning:
    r"""Mean exact curvature of an iso-response contour, from the gradients at its two ends.

    Along a plane curve the integral of the curvature is the total turning of its
    normal (the "theorem of turning tangents" for an arc):

    .. math:: \int_C \kappa\, ds = \theta_{\text{end}} - \theta_{\text{start}},
       \qquad \bar\kappa = \frac{1}{L}\int_C \kappa\, ds,

    and the normal of a contour is the normalised gradient, :math:`\nabla g / |\nabla g|`.
    So two exact (autodiff) gradients give the *average* of the exact curvature over the
    whole contour, however sharply it is concentrated (e.g. at the kinks of a
    piecewise-linear model, where the local curvature is a delta function). The sign
    follows :func:`geomlib.contour_curvature` (positive = exo-origin): the contour is
    traversed with the higher responses on its right, along :math:`t = (-n_b, n_a)` for
    the mean n of the two end normals, whatever the order of ``points``. The total turning
    must stay below 180 degrees (an arc, not a closed loop).

    Args:
      f: scalar response R^D -> R.
      plane: a :class:`geomlib.Plane`.
      points: plane coordinates ``(m, 2)`` along one contour, in order (e.g. the
        crossings of ``geomlib.contour_bend(...).points``); rows with NaN are
        dropped; at least 2 must remain.

    Returns:
      :class:`ContourTurning` of floats (NaN if a gradient at an end vanishes).

    >>> import geomlib
    >>> import jax.numpy as jnp
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> b = np.linspace(-1.0, 1.0, 201)
    >>> turn = contour_turning(lambda x: x[0] - 0.5 * x[1] ** 2, p, np.stack([0.5 * b**2, b], axis=-1))
    >>> round(turn.turning, 4), round(float(2 * np.arctan(1.0)), 4)
    (1.5708, 1.5708)
    """
    check_array(points, "points", finite=False)   # None, strings, complex: TypeError (NaN rows dropped below)
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points: expected contour points of shape (m, 2), got shape {pts.shape}")
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) < 2:
        raise ValueError(f"points: expected at least 2 finite contour points, got {len(pts)}")
    _, grad = plane_gradients(f, plane, pts[[0, -1]])
    g = np.asarray(grad, dtype=np.float64)
    norms = np.linalg.norm(g, axis=1)
    length = float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1)))
    if not np.all(norms > 0):
        return ContourTurning(np.nan, length, np.nan)
    n = g / norms[:, None]
    mean_normal = n[0] + n[1]
    tangent = np.array([-mean_normal[1], mean_normal[0]])
    direction = 1.0 if (pts[-1] - pts[0]) @ tangent >= 0 else -1.0
    delta = np.arctan2(n[0, 0] * n[1, 1] - n[0, 1] * n[1, 0], n[0] @ n[1])  # signed angle n_start -> n_end
    turning = float(-direction * delta)
    return ContourTurning(turning, length, turning / length if length > 0 else np.nan)
