"""What the plane explorer computes for a view: only what it shows. The response view
needs the response on the grid and the exact gradient where an arrow is drawn; the
grid-curvature view the gradient everywhere; only the exact-curvature view Hessians."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

import geomlib

__all__ = ["view_fields"]


def view_fields(function: Callable, plane: geomlib.Plane, view: str, coords: ArrayLike,
                arrows_coords: ArrayLike | None = None) -> tuple[geomlib.PlaneGeometry, np.ndarray, np.ndarray | None]:
    """The fields ``view`` (``"response"``, ``"exact"`` or ``"grid"``) draws on ``coords``.

    Args:
      function: the response ``f: R^D -> R``.
      plane: the plane ``coords`` ``(n_b, n_a, 2)`` are on.
      arrows_coords: points ``(m_b, m_a, 2)`` of the response view's gradient arrows, or
        None for no arrows (a coarse preview).

    Returns:
      ``(geometry, field, arrows)`` as numpy arrays: a :class:`geomlib.PlaneGeometry` with
      only the fields computed (``value`` always, ``grad`` in the curvature views,
      ``hess`` and ``curvature`` in the exact view; the others None), the field drawn
      ``(n_b, n_a)`` float64 (response, or curvature with NaN where undefined), and the
      gradient at ``arrows_coords`` ``(m_b, m_a, 2)`` in the response view, else None.
    """
    f, p = function, plane
    dt = geomlib.float_dtype()
    c = jnp.asarray(coords, dt)
    arrows = None
    if view == "exact":
        geo = geomlib.plane_geometry(f, p, c)
        field = geo.curvature
    elif view == "grid":
        value, grad = geomlib.plane_gradients(f, p, c)
        field = geomlib.grid_curvature_from_gradient(grad, coords)
        geo = geomlib.PlaneGeometry(value, grad, None, None)
    else:
        value = geomlib.plane_values(f, p, c)
        if arrows_coords is not None:
            _, arrows = geomlib.plane_gradients(f, p, jnp.asarray(arrows_coords, dt))
        geo = geomlib.PlaneGeometry(value, None, None, None)
        field = value
    geo, field, arrows = jax.tree_util.tree_map(np.asarray, jax.block_until_ready((geo, field, arrows)))
    return geo, np.asarray(field, dtype=np.float64), arrows
