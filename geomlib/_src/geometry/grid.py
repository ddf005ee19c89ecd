"""Grid-scale contour curvature: the divergence of the exact unit normal, differenced
at the spacing of a regular grid (meaningful for piecewise-linear f too)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array
from geomlib._src.geometry.fields import plane_gradients
from geomlib._src.geometry.modes import DEFAULT_CHUNK, Response
from geomlib._src.planes import Plane


def grid_spacing(coords: ArrayLike) -> tuple[float, float]:
    """Steps (da, db) of a regular grid ``(n_b, n_a, 2)`` as made by :meth:`Plane.grid`; ValueError otherwise."""
    check_array(coords, "coords")   # None, strings, complex, NaN: a clear error (the dtype is kept below)
    c = np.asarray(coords)
    # Coordinates are rounded to their own dtype (float32 by default), so the steps of a
    # regular grid scatter by a few ulps of the largest coordinate: allow for that.
    eps = np.finfo(c.dtype).eps if np.issubdtype(c.dtype, np.floating) else np.finfo(np.float64).eps
    c = c.astype(np.float64)
    if c.ndim != 3 or c.shape[-1] != 2 or c.shape[0] < 3 or c.shape[1] < 3:
        raise ValueError(f"coords: expected a regular grid of shape (n_b, n_a, 2) with n_a, n_b >= 3, got {c.shape}")
    atol = 8 * eps * float(np.max(np.abs(c)))
    da = np.diff(c[..., 0], axis=1)
    db = np.diff(c[..., 1], axis=0)
    if not (np.allclose(da, da[0, 0], rtol=1e-4, atol=atol) and np.allclose(db, db[0, 0], rtol=1e-4, atol=atol)
            and np.allclose(np.diff(c[..., 0], axis=0), 0) and np.allclose(np.diff(c[..., 1], axis=1), 0)
            and da[0, 0] > 0 and db[0, 0] > 0):
        raise ValueError("coords: expected a regular grid as made by Plane.grid (a along axis 1, b along axis 0, "
                         "increasing, evenly spaced)")
    # Mean step over the whole axis: exact up to the rounding of the two end points.
    return float((c[0, -1, 0] - c[0, 0, 0]) / (c.shape[1] - 1)), float((c[-1, 0, 1] - c[0, 0, 1]) / (c.shape[0] - 1))


def grid_curvature(f: Response, plane: Plane, coords: ArrayLike, *, chunk_size: int = DEFAULT_CHUNK) -> jax.Array:
    r"""Grid-scale contour curvature: :math:`-\nabla\cdot(\nabla g/|\nabla g|)` differenced at the grid spacing.

    The unit normal is built from the *exact* autodiff gradient; only its divergence
    is taken by central differences (one-sided at the border) over the grid. For smooth
    f this converges to the exact curvature as the spacing shrinks. For piecewise-linear
    f (ReLU networks, hard-threshold LCA), whose exact curvature is 0 almost
    everywhere, it measures the bend of the contours *at the scale of the grid*: the
    number depends on the spacing, and is labelled scale-dependent wherever it is shown.

    Args:
      f: scalar response R^D -> R.
      plane: a :class:`Plane`.
      coords: regular grid from :meth:`Plane.grid`, shape ``(n_b, n_a, 2)``, n >= 3.

    Returns:
      shape ``(n_b, n_a)``; positive = exo-origin; NaN at and next to points where
      the gradient vanishes.
    """
    da, db = grid_spacing(coords)
    _, grad = plane_gradients(f, plane, coords, chunk_size=chunk_size)
    return minus_divergence_of_normal(grad, da, db)


def grid_curvature_from_gradient(grad: ArrayLike, coords: ArrayLike) -> jax.Array:
    """:func:`grid_curvature` from a gradient field already computed on the grid ``coords``.

    Args:
      grad: plane gradients ``(n_b, n_a, 2)`` at ``coords`` (e.g. from :func:`plane_gradients`).
      coords: regular grid from :meth:`Plane.grid`, shape ``(n_b, n_a, 2)``, n >= 3.

    Returns:
      shape ``(n_b, n_a)``, as :func:`grid_curvature`.
    """
    da, db = grid_spacing(coords)
    grad = check_array(grad, "grad")
    if grad.shape != np.shape(coords):
        raise ValueError(f"grad: expected the shape of coords {np.shape(coords)}, got {grad.shape}")
    return minus_divergence_of_normal(grad, da, db)


@jax.jit
def minus_divergence_of_normal(grad: ArrayLike, da: float, db: float) -> jax.Array:
    r""":math:`-\nabla \cdot (\nabla g / |\nabla g|)` by central differences of steps (da, db)."""
    norm = jnp.linalg.norm(grad, axis=-1, keepdims=True)
    normal = jnp.where(norm > 0, grad / jnp.where(norm > 0, norm, 1.0), jnp.nan)
    div = jnp.gradient(normal[..., 0], da, axis=1) + jnp.gradient(normal[..., 1], db, axis=0)
    # Central differences skip the centre point: keep NaN where the gradient itself vanishes.
    return jnp.where(jnp.isnan(normal[..., 0]), jnp.nan, -div)
