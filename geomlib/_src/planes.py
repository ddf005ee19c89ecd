"""Planes through input space: an origin and two orthonormal directions.

A plane P = (x0, u, v) in R^D with u, v orthonormal maps plane coordinates
(a, b) to the image x = x0 + a u + b v. Every 2-D figure in the notebooks is a
function g(a, b) = f(x0 + a u + b v) evaluated on such a plane.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_float
from geomlib._src.core.dtypes import float_dtype, is_concrete

Extent = Union[float, Sequence[Sequence[float]]]

#: Largest grid :func:`grid` builds, in stored numbers (n_a * n_b * 2): 2**28 float32
#: values are 1 GiB. Larger requests raise a ValueError instead of aborting inside XLA.
MAX_GRID_VALUES = 2 ** 28



def _as_vector(x, name: str) -> jax.Array:
    arr = check_array(x, name, finite=False)   # finiteness is checked (with its own message) by plane()
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"{name}: expected a vector of shape (D,) with D >= 2, got shape {arr.shape}")
    return arr


def parse_extent(extent: Extent) -> tuple[tuple[float, float], tuple[float, float]]:
    """Normalise ``extent`` to ``((amin, amax), (bmin, bmax))``.

    A scalar ``e`` means the square window ``[-e, e]^2``.
    """
    if extent is None or isinstance(extent, (str, bytes, bool, np.bool_)) or (
            np.ndim(extent) == 0 and np.iscomplexobj(extent)):
        raise TypeError(f"extent: expected a finite positive half-width or ((amin, amax), (bmin, bmax)), "
                        f"got {type(extent).__name__} {extent!r}")
    if np.ndim(extent) == 0:
        e = float(extent)
        if not np.isfinite(e) or e <= 0:
            raise ValueError(f"extent: expected a finite positive half-width, got {extent!r}")
        return (-e, e), (-e, e)
    try:
        arr = np.asarray(extent, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"extent: expected a finite positive half-width or ((amin, amax), (bmin, bmax)), "
                        f"got {extent!r}") from None
    if arr.shape != (2, 2):
        raise ValueError(
            f"extent: expected a scalar or ((amin, amax), (bmin, bmax)), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or not (arr[0, 0] < arr[0, 1] and arr[1, 0] < arr[1, 1]):
        raise ValueError(f"extent: expected finite ranges with min < max, got {arr.tolist()}")
    return (float(arr[0, 0]), float(arr[0, 1])), (float(arr[1, 0]), float(arr[1, 1]))


_EPS64 = float(np.finfo(np.float64).eps)


def _plane_tolerance(dtype) -> float:
    """How far from orthonormal (max |[u v]^T [u v] - I|) a plane of this dtype may be:
    sqrt(eps) (3.5e-4 in float32, 1.5e-8 in float64)."""
    dtype = np.dtype(dtype)
    return float(np.sqrt(np.finfo(dtype).eps if dtype.kind == "f" else _EPS64))


def _concrete_vectors(leaves) -> list[np.ndarray] | None:
    """The leaves as host arrays when all three are concrete 1-D numeric arrays (a single
    plane), else None: tracers, batched leaves (``(B, D)``) and anything else (the ints and
    None of a ``vmap`` ``in_axes`` spec, the sentinels of pytree unflattening) pass."""
    out = []
    for leaf in leaves:
        if not is_concrete(leaf) or not isinstance(leaf, (np.ndarray, jax.Array)):
            return None
        if leaf.ndim != 1 or np.dtype(leaf.dtype).kind not in "iufc":
            return None
        out.append(np.asarray(leaf))
    return out


def _validate_vectors(vecs: list[np.ndarray], what: str) -> None:
    """ValueError / TypeError unless origin, u, v (host arrays) are one real, finite plane of
    one D with orthonormal u, v (within :func:`_plane_tolerance` of their dtype). About
    10 microseconds for D = 784: a few float64 dot products on the host."""
    names = ("origin", "u", "v")
    hint = "build it with geomlib.plane(u, v, origin), which checks and orthonormalises"
    o, u, v = vecs
    if "c" in (o.dtype.kind, u.dtype.kind, v.dtype.kind):
        name = names[[a.dtype.kind for a in vecs].index("c")]
        raise TypeError(f"{what}.{name}: expected real numbers, got complex values")
    d = u.shape
    if o.shape != d or v.shape != d or d[0] < 2:
        bad = "u" if d[0] < 2 else ("origin" if o.shape != d else "v")
        raise ValueError(f"{what}.{bad}: expected shape (D,) = {d} (the shape of u) with D >= 2, got "
                         f"shapes origin {o.shape}, u {u.shape}, v {v.shape}; {hint}")
    o64, u64, v64 = (np.asarray(a, np.float64) for a in vecs)
    oo, uu, uv, vv = float(o64 @ o64), float(u64 @ u64), float(u64 @ v64), float(v64 @ v64)
    if not (math.isfinite(oo) and math.isfinite(uu) and math.isfinite(uv) and math.isfinite(vv)):
        for name, arr in zip(names, vecs):   # a sum of float64 squares of float32 cannot overflow: NaN / inf
            bad = int(np.sum(~np.isfinite(arr)))
            if bad:
                raise ValueError(f"{what}.{name}: expected finite entries, got {bad} NaN or infinite; {hint}")
    err = max(abs(uu - 1.0), abs(vv - 1.0), abs(uv))
    # the least precise of the leaves and of the dtype the plane is computed in (float32 unless x64)
    tol = max(_plane_tolerance(u.dtype), _plane_tolerance(v.dtype), _plane_tolerance(float_dtype()))
    if not err <= tol:
        raise ValueError(f"{what}: expected orthonormal u, v, got |u| = {math.sqrt(uu):.6g}, "
                         f"|v| = {math.sqrt(vv):.6g}, u.v = {uv:.3g} (off by {err:.2g} > tolerance "
                         f"{tol:.2g}); {hint}")


class Plane(NamedTuple):
    """A plane ``x = origin + a u + b v`` with orthonormal ``u``, ``v`` (all shape ``(D,)``).

    Build one with :func:`plane`, which checks and orthonormalises its input.
    A ``Plane`` is a pytree, so planes can be stacked and ``vmap``-ed over.

    ``Plane(origin, u, v)`` built directly is not checked: JAX rebuilds planes from traced
    values, batches, gradients and ``tree_map`` results, which need not be orthonormal.
    Instead every public function that takes a plane (:func:`geomlib.plane_geometry`,
    :func:`geomlib.plane_values`, :func:`geomlib.contour_turning`, ...) checks it once on
    the host where it is concrete (:func:`check_plane`, about 40 microseconds for D = 784):
    real, finite, one shape ``(D,)``, and ``u``, ``v`` orthonormal within sqrt(eps) of their
    dtype (3.5e-4 in float32), else a ValueError pointing to :func:`plane`. A
    non-orthonormal plane would otherwise give wrong curvatures (the formulas assume unit,
    orthogonal axes).
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
          n: points per axis, or ``(n_a, n_b)``; at most 2**28 numbers in all
            (n_a * n_b * 2 <= :data:`MAX_GRID_VALUES`), else a ValueError.
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
        """Map plane coordinates ``(..., 2)`` to points of ``R^D``, shape ``(..., D)`` (finite
        real coordinates; checked where concrete)."""
        coords = check_array(coords, "coords")
        if coords.ndim < 1 or coords.shape[-1] != 2:
            raise ValueError(f"coords: expected shape (..., 2), got {coords.shape}")
        return self.origin + coords[..., :1] * self.u + coords[..., 1:] * self.v

    def project(self, x) -> jax.Array:
        """Plane coordinates ``(..., 2)`` of the orthogonal projection of points ``(..., D)``
        (finite real points; checked where concrete)."""
        x = check_array(x, "x")
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise ValueError(f"x: expected shape (..., {self.dim}), got {x.shape}")
        d = x - self.origin
        return jnp.stack([d @ self.u, d @ self.v], axis=-1)


def check_plane(p, name: str = "plane") -> Plane:
    """``p`` if it is a :class:`Plane` of one concrete, real, finite plane with orthonormal
    ``u``, ``v`` (see :class:`Plane`), else a ValueError / TypeError naming ``name``. A plane
    with traced or batched leaves passes (its values cannot be checked here)."""
    if not isinstance(p, Plane):
        raise ValueError(f"{name}: expected a geomlib.Plane (build one with geomlib.plane), got {type(p).__name__}")
    for field, leaf in zip(p._fields, p):
        if not is_concrete(leaf):
            return p
        if leaf is None or isinstance(leaf, (str, bytes, bool, np.bool_)) or not hasattr(leaf, "shape"):
            raise TypeError(f"{name}.{field}: expected an array of shape (D,), got {type(leaf).__name__}")
    vecs = _concrete_vectors(p)
    if vecs is None:
        if any(np.ndim(leaf) == 1 for leaf in p):
            raise ValueError(f"{name}: expected origin, u, v of one shape (D,), got shapes "
                             f"{', '.join(str(np.shape(leaf)) for leaf in p)}")
        return p
    _validate_vectors(vecs, name)
    return p


def grid(n: int | tuple[int, int] = 64, extent: Extent = 2.0) -> jax.Array:
    """Regular grid of plane coordinates, shape ``(n_b, n_a, 2)``; see :meth:`Plane.grid`.

    At most :data:`MAX_GRID_VALUES` = 2**28 numbers (n_a * n_b * 2, 1 GiB in float32):
    a larger ``n`` raises a ValueError."""
    try:
        na, nb = (n, n) if np.ndim(n) == 0 else tuple(n)
        ok = int(na) == na and int(nb) == nb and na >= 2 and nb >= 2
    except (TypeError, ValueError, OverflowError):  # a triple, NaN, inf, a string...
        ok = False
    if not ok:
        raise ValueError(f"n: expected an integer >= 2 (or a pair of them), got {n!r}")
    if int(na) * int(nb) * 2 > MAX_GRID_VALUES:
        raise ValueError(f"n: a grid of n = {n!r} points holds {int(na)} * {int(nb)} * 2 = {int(na) * int(nb) * 2:.3g} "
                         f"numbers, more than the limit of 2**28 = {MAX_GRID_VALUES:.3g} (1 GiB of float32); "
                         f"use a smaller n")
    (amin, amax), (bmin, bmax) = parse_extent(extent)
    a = jnp.linspace(amin, amax, int(na), dtype=float_dtype())
    b = jnp.linspace(bmin, bmax, int(nb), dtype=float_dtype())
    aa, bb = jnp.meshgrid(a, b, indexing="xy")
    return jnp.stack([aa, bb], axis=-1)


def plane(u: ArrayLike, v: ArrayLike, origin: ArrayLike | None = None, *, tol: float = 1e-6) -> Plane:
    """The plane through ``origin`` spanned by ``u`` and ``v``, orthonormalised.

    Gram-Schmidt: ``u' = u / |u|``, ``v' = (v - (v.u') u') / |v - (v.u') u'|``, so the
    horizontal axis keeps the direction of ``u`` exactly and ``v'`` is the part of ``v``
    orthogonal to it.

    Args:
      u: horizontal direction, shape ``(D,)``.
      v: vertical direction, shape ``(D,)``; must not be (nearly) parallel to ``u``.
      origin: point of the plane at coordinates (0, 0), shape ``(D,)``; zeros if None.
      tol: ``v`` counts as parallel to ``u`` when the sine of their angle is below tol
        (a finite number > 0).

    Returns:
      A :class:`Plane` with orthonormal ``u``, ``v``.

    Raises:
      ValueError: mismatched shapes, non-finite entries, a zero direction, or
        directions that are (nearly) parallel.
      TypeError: None, a string, or a complex array for ``u``, ``v`` or ``origin``.

    >>> p = plane([2.0, 0.0], [1.0, 1.0])
    >>> p.u.tolist(), p.v.tolist()
    ([1.0, 0.0], [0.0, 1.0])
    """
    tol = check_float(tol, "tol", 0.0, open_low=True)
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
