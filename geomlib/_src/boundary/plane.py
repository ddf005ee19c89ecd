r"""All logits of a one-image classifier on a plane of input space, in one pass over the grid."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from geomlib._src.boundary.decision import IMAGE_LOGITS, ImageLogits
from geomlib._src.core.checks import check_array, check_callable
from geomlib._src.planes import Plane, check_plane


def _check_orthonormal(plane) -> None:
    """TypeError unless ``plane`` is a :class:`Plane`; then :func:`geomlib._src.planes.check_plane`
    (a directly built ``Plane(...)`` skips the checks of :func:`geomlib.plane`)."""
    if not isinstance(plane, Plane):
        raise TypeError(f"plane: expected a geomlib.Plane (build one with geomlib.plane), got {type(plane).__name__}")
    check_plane(plane, "plane")


@jax.jit
def _plane_logits(image_logits, origin, u, v, coords):
    pts = origin + coords[..., :1] * u + coords[..., 1:] * v
    flat = pts.reshape(-1, pts.shape[-1])
    return jax.lax.map(jax.vmap(image_logits), flat.reshape(-1, 256, flat.shape[-1])).reshape(
        *coords.shape[:-1], -1)


def plane_logits(image_logits: ImageLogits, plane: Plane, coords: ArrayLike) -> jax.Array:
    """All logits of a classifier on a plane: ``image_logits(origin + a u + b v)``.

    One forward pass per point gives every class at once, so the logit maps and the
    decision-function maps of all class pairs cost one evaluation of the grid.

    Args:
      image_logits: classifier of one image ``(D,) -> (K,)``.
      plane: a :class:`geomlib.Plane`.
      coords: plane coordinates ``(..., 2)``, real and finite (e.g. ``geomlib.grid(n, extent)``); the
        number of points must be a multiple of 256 or is padded to one internally.

    Returns:
      logits ``(..., K)``.

    >>> import geomlib
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> z = plane_logits(lambda x: jnp.stack([x[0], -x[0]]), p, geomlib.grid(4, 1.0))
    >>> z.shape, float(z[0, -1, 0])
    ((4, 4, 2), 1.0)
    """
    f = check_callable(image_logits, "image_logits", IMAGE_LOGITS)
    _check_orthonormal(plane)
    coords = check_array(coords, "coords")
    if coords.ndim < 1 or coords.shape[-1] != 2:
        raise ValueError(f"coords: expected plane coordinates of shape (..., 2), got {coords.shape}")
    flat = coords.reshape(-1, 2)
    m = len(flat)
    pad = (-m) % 256
    flat = jnp.concatenate([flat, jnp.zeros((pad, 2), flat.dtype)])
    z = _plane_logits(f, jnp.asarray(plane.origin, flat.dtype), jnp.asarray(plane.u, flat.dtype),
                      jnp.asarray(plane.v, flat.dtype), flat)
    return z.reshape(m + pad, -1)[:m].reshape(*coords.shape[:-1], -1)
