"""Planes through input space: an origin and two orthonormal directions.

A plane P = (x0, u, v) in R^D with u, v orthonormal maps plane coordinates
(a, b) to the image x = x0 + a u + b v. Every 2-D figure in the notebooks is a
function g(a, b) = f(x0 + a u + b v) evaluated on such a plane.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from geomlib._src.core.dtypes import float_dtype, is_concrete

Extent = Union[float, Sequence[Sequence[float]]]


def _as_vector(x, name: str) -> jax.Array:
    arr = jnp.asarray(x, dtype=float_dtype())
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"{name}: expected a vector of shape (D,) with D >= 2, got shape {arr.shape}")
    return arr


def parse_extent(extent: Extent) -> tuple[tuple[float, float], tuple[float, float]]:
    """Normalise ``extent`` to ``((amin, amax), (bmin, bmax))``.

    A scalar ``e`` means the square window ``[-e, e]^2``.
    """
    if np.ndim(extent) == 0:
        e = float(extent)
        if not np.isfinite(e) or e <= 0:
            raise ValueError(f"extent: expected a finite positive half-width, got {extent!r}")
        return (-e, e), (-e, e)
    arr = np.asarray(extent, dtype=float)
    if arr.shape != (2, 2):
        raise ValueError(
            f"extent: expected a scalar or ((amin, amax), (bmin, bmax)), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or not (arr[0, 0] < arr[0, 1] and arr[1, 0] < arr[1, 1]):
        raise ValueError(f"extent: expected finite ranges with min < max, got {arr.tolist()}")
    return (float(arr[0, 0]), float(arr[0, 1])), (float(arr[1, 0]), float(arr[1, 1]))


class Plane(NamedTuple):
    """A plane ``x = origin + a u + b v`` with orthonormal ``u``, ``v`` (all shape ``(D,)``).

    Build one with :func:`plane`, which checks and orthonormalises its input.
    A ``Plane`` is a pytree, so planes can be stacked and ``vmap``-ed over.
    """

    origin: jax.Array
    u: jax.Array
    v: jax.Array

    @property
    def dim(self) -> int:
        """The input dimension D."""
        return self.u.shape[-1]

    def grid(self, n: int | tuple[int, int] = 64, extent: Extent = 2.0) -> jax.Array:
        """Plane coordinates on a regular grid.

        Args:
          n: points per axis, or ``(n_a, n_b)``.
          extent: half-width ``e`` of the window ``[-e, e]^2``, or
            ``((amin, amax), (bmin, bmax))``.

        Returns:
          coords of shape ``(n_b, n_a, 2)`` with ``coords[i, j] = (a_j, b_i)``: the
          horizontal coordinate a runs along axis 1 and the vertical b along axis 0,
          as ``imshow(..., origin="lower")`` and ``contour`` expect.

        >>> p = plane([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        >>> p.grid(5, extent=1.0).shape
        (5, 5, 2)
        """
        return grid(n, extent)

    def embed(self, coords) -> jax.Array:
        """Map plane coordinates ``(..., 2)`` to points of ``R^D``, shape ``(..., D)``."""
        coords = jnp.asarray(coords, dtype=float_dtype())
        if coords.ndim < 1 or coords.shape[-1] != 2:
            raise ValueError(f"coords: expected shape (..., 2), got {coords.shape}")
        return self.origin + coords[..., :1] * self.u + coords[..., 1:] * self.v

    def project(self, x) -> jax.Array:
        """Plane coordinates ``(..., 2)`` of the orthogonal projection of points ``(..., D)``."""
        x = jnp.asarray(x, dtype=float_dtype())
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise ValueError(f"x: expected shape (..., {self.dim}), got {x.shape}")
        d = x - self.origin
        return jnp.stack([d @ self.u, d @ self.v], axis=-1)


def grid(n: int | tuple[int, int] = 64, extent: Extent = 2.0) -> jax.Array:
    """Regular grid of plane coordinates, shape ``(n_b, n_a, 2)``; see :meth:`Plane.grid`."""
    try:
        na, nb = (n, n) if np.ndim(n) == 0 else tuple(n)
        ok = int(na) == na and int(nb) == nb and na >= 2 and nb >= 2
    except (TypeError, ValueError, OverflowError):  # a triple, NaN, inf, a string...
        ok = False
    if not ok:
        raise ValueError(f"n: expected an integer >= 2 (or a pair of them), got {n!r}")
    (amin, amax), (bmin, bmax) = parse_extent(extent)
    a = jnp.linspace(amin, amax, int(na), dtype=float_dtype())
    b = jnp.linspace(bmin, bmax, int(nb), dtype=float_dtype())
    aa, bb = jnp.meshgrid(a, b, indexing="xy")
    return jnp.stack([aa, bb], axis=-1)


def plane(u, v, origin=None, *, tol: float = 1e-6) -> Plane:
    """The plane through ``origin`` spanned by ``u`` and ``v``, orthonormalised.

    Gram-Schmidt: ``u' = u / |u|``, ``v' = (v - (v.u') u') / |v - (v.u') u'|``, so the
    horizontal axis keeps the direction of ``u`` exactly and ``v'`` is the part of ``v``
    orthogonal to it.

    Args:
      u: horizontal direction, shape ``(D,)``.
      v: vertical direction, shape ``(D,)``; must not be (nearly) parallel to ``u``.
      origin: point of the plane at coordinates (0, 0), shape ``(D,)``; zeros if None.
      tol: ``v`` counts as parallel to ``u`` when the sine of their angle is below tol.

    Returns:
      A :class:`Plane` with orthonormal ``u``, ``v``.

    Raises:
      ValueError: mismatched shapes, non-finite entries, a zero direction, or
        directions that are (nearly) parallel.

    >>> p = plane([2.0, 0.0], [1.0, 1.0])
    >>> p.u.tolist(), p.v.tolist()
    ([1.0, 0.0], [0.0, 1.0])
    """
    u = _as_vector(u, "u")
    v = _as_vector(v, "v")
    if v.shape != u.shape:
        raise ValueError(f"v: expected shape {u.shape} (the shape of u), got {v.shape}")
    origin = jnp.zeros_like(u) if origin is None else _as_vector(origin, "origin")
    if origin.shape != u.shape:
        raise ValueError(f"origin: expected shape {u.shape} (the shape of u), got {origin.shape}")
    if not is_concrete(u, v, origin):
        # Under a transformation: no value checks possible, orthonormalise in-graph.
        uh = u / jnp.linalg.norm(u)
        w = v - (v @ uh) * uh
        return Plane(origin, uh, w / jnp.linalg.norm(w))
    # Concrete input: check values and orthonormalise in float64 for accuracy.
    u64, v64, o64 = (np.asarray(t, dtype=np.float64) for t in (u, v, origin))
    for name, arr in (("u", u64), ("v", v64), ("origin", o64)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: expected finite entries, got {int(np.sum(~np.isfinite(arr)))} non-finite")
    nu, nv = np.linalg.norm(u64), np.linalg.norm(v64)
    if nu == 0:
        raise ValueError("u: expected a nonzero direction, got the zero vector")
    if nv == 0:
        raise ValueError("v: expected a nonzero direction, got the zero vector")
    uh = u64 / nu
    w = v64 - (v64 @ uh) * uh
    w = w - (w @ uh) * uh  # second pass keeps orthogonality to rounding error
    sin = np.linalg.norm(w) / nv
    if sin < tol:
        raise ValueError(
            f"u, v: expected two directions that are not parallel, got directions whose angle "
            f"has sine {sin:.2e} (below tol={tol:g})"
        )
    dt = float_dtype()
    return Plane(jnp.asarray(o64, dt), jnp.asarray(uh, dt), jnp.asarray(w / np.linalg.norm(w), dt))
