r"""Exact differential geometry of a response function restricted to a plane.

For a scalar response f: R^D -> R and a plane x = x0 + a u + b v, let
g(a, b) = f(x0 + a u + b v). Everything here is computed by automatic
differentiation of the 2-variable function g, so the cost per point is a small
constant times one evaluation of f (never a D x D Hessian).

Iso-response contour curvature (positive = exo-origin, see ``contour_curvature``):

.. math::

   \kappa = -\frac{g_{aa} g_b^2 - 2 g_{ab} g_a g_b + g_{bb} g_a^2}{(g_a^2 + g_b^2)^{3/2}}
          = -\nabla \cdot \frac{\nabla g}{|\nabla g|}.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_callable, check_int
from geomlib._src.core.dtypes import float_dtype, is_inexact
from geomlib._src.planes import Plane
from geomlib._src.taylor import sub_jaxprs
from geomlib._src.taylor import value_grad_hess as _vgh_taylor
from geomlib._src.taylor import value_grad_hess_adjoint as _vgh_adjoint

Response = Callable[[jax.Array], jax.Array]
Mode = Literal["auto", "adjoint", "taylor", "fwd", "rev"]

# Points per chunk. ``make bench`` (benchmark 1, 2 CPU cores) sweeps 256, 1024 and 4096:
# 1024 is the fastest for the "adjoint" and "taylor" modes (7-15% faster than 256 for the
# MLP and the LCA; the LCA's adjoint stores 3 x 50 steps x 1024 x 400 floats, 250 MB per
# chunk), and response fields at 1024 are within about 10% of their fastest. "fwd" and
# "rev" are faster at 256 (pass ``chunk_size=256``).
DEFAULT_CHUNK = 1024


class PlaneGeometry(NamedTuple):
    """Response geometry on plane coordinates of shape ``(..., 2)``.

    Attributes:
      value: response g(a, b), shape ``(...)``.
      grad: in-plane gradient (g_a, g_b), shape ``(..., 2)``.
      hess: in-plane Hessian [[g_aa, g_ab], [g_ab, g_bb]], shape ``(..., 2, 2)``.
      curvature: iso-response contour curvature, shape ``(...)``; positive =
        exo-origin, NaN where the gradient vanishes.
    """

    value: jax.Array
    grad: jax.Array
    hess: jax.Array
    curvature: jax.Array


def _check_coords(coords) -> jax.Array:
    coords = jnp.asarray(coords, dtype=float_dtype())
    if coords.ndim < 1 or coords.shape[-1] != 2:
        raise ValueError(f"coords: expected shape (..., 2), got {coords.shape}")
    if not isinstance(coords, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(coords))):
        raise ValueError("coords: expected finite plane coordinates, got non-finite entries")
    return coords


def _check_plane(p) -> Plane:
    if not isinstance(p, Plane):
        raise ValueError(f"plane: expected a geomlib.Plane (build one with geomlib.plane), got {type(p).__name__}")
    return p


def _restrict(f: Response, p: Plane) -> Callable[[jax.Array], jax.Array]:
    def g(ab):
        y = f(p.origin + ab[0] * p.u + ab[1] * p.v)
        if jnp.shape(y) != ():
            raise ValueError(f"f: expected a scalar response per input, got output shape {jnp.shape(y)}")
        return y

    return g


def _vgh_fwd(g, ab):
    """Value, gradient, Hessian of g: R^2 -> R by forward-over-forward mode (4 tangents)."""

    def with_aux(w):
        y = g(w)
        return y, y

    def value_and_grad(z):
        grad, value = jax.jacfwd(with_aux, has_aux=True)(z)
        return grad, (value, grad)

    hess, (value, grad) = jax.jacfwd(value_and_grad, has_aux=True)(ab)
    return value, grad, hess


def _vgh_rev(g, ab):
    """Value, gradient, Hessian of g: R^2 -> R by forward-over-reverse mode."""

    def value_and_grad(z):
        value, grad = jax.value_and_grad(g)(z)
        return grad, (value, grad)

    hess, (value, grad) = jax.jacfwd(value_and_grad, has_aux=True)(ab)
    return value, grad, hess


VALUE_GRAD_HESS = {"adjoint": _vgh_adjoint, "taylor": _vgh_taylor, "fwd": _vgh_fwd, "rev": _vgh_rev}


# Operations the "adjoint" mode cannot transpose (while loops), the "taylor" mode has no
# fast rule for (while loops go through its generic jvp-of-jvp rule), or forward mode
# cannot differentiate at all (custom_vjp).
_REV_ONLY = frozenset({"while", "custom_vjp_call", "custom_vjp_call_jaxpr"})


def _needs_rev(jaxpr) -> bool:
    return any(eqn.primitive.name in _REV_ONLY or any(_needs_rev(sub) for sub in sub_jaxprs(eqn.params))
               for eqn in jaxpr.eqns)


def _scan_tape_floats(jaxpr) -> int:
    """Floats per point the adjoint's reverse sweep keeps for f's scans (an upper bound):
    each step's floating-point carries, times 3 (value and two streams)."""
    total = 0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "scan":
            nc, nk = eqn.params["num_consts"], eqn.params["num_carry"]
            carry = sum(math.prod(v.aval.shape) for v in eqn.invars[nc:nc + nk] if is_inexact(v.aval))
            total += 3 * eqn.params["length"] * carry
        total += sum(_scan_tape_floats(sub) for sub in sub_jaxprs(eqn.params))
    return total


# Above this many bytes of stored scan steps per chunk, "auto" picks "taylor" (no tape) over
# "adjoint": the LCA benchmark (400 neurons, 50 steps) keeps 250 MB per chunk of 1024 points.
ADJOINT_TAPE_BYTES = 2**30


@functools.lru_cache(maxsize=256)
def _auto_mode_cached(treedef, leaves_avals, x_aval, chunk_size: int) -> str:
    def traced(leaves, x):
        return jax.tree_util.tree_unflatten(treedef, leaves)(x)

    leaves = [jax.ShapeDtypeStruct(*a) for a in leaves_avals]
    jaxpr = jax.make_jaxpr(traced)(leaves, jax.ShapeDtypeStruct(*x_aval)).jaxpr
    if _needs_rev(jaxpr):
        return "rev"
    tape = _scan_tape_floats(jaxpr) * jnp.dtype(x_aval[1]).itemsize * chunk_size
    return "taylor" if tape > ADJOINT_TAPE_BYTES else "adjoint"


def auto_mode(f: Response, plane: Plane, chunk_size: int = DEFAULT_CHUNK) -> str:
    """The faster Hessian mode for f, by its structure (measured by ``make bench``).

    ``"adjoint"`` (the second-order adjoint, :mod:`geomlib._src.taylor`: a forward pass
    with 3 streams and one reverse sweep, 4 matmuls per dense layer) for feed-forward f and
    for f with ``lax.scan`` loops such as the LCA dynamics: it beat ``"taylor"`` (6 streams),
    ``"fwd"`` and ``"rev"`` on the MLP and LCA benchmarks. ``"taylor"`` when the adjoint's
    reverse sweep would keep more than ``ADJOINT_TAPE_BYTES`` (1 GiB) of scan steps per chunk
    of ``chunk_size`` points (long loops over wide states: 3 x steps x carry floats per
    point). ``"rev"`` (forward-over-reverse) when f contains a ``while`` loop (which the
    adjoint cannot transpose and Taylor mode has no fast rule for) or a ``custom_vjp``
    function (which forward mode cannot differentiate).
    """
    leaves, treedef = jax.tree_util.tree_flatten(check_callable(f, "f", "R^D -> R"))
    avals = tuple((jnp.shape(x), jnp.result_type(x)) for x in leaves)
    return _auto_mode_cached(treedef, avals, (plane.origin.shape, plane.origin.dtype), int(chunk_size))


def contour_curvature(grad, hess) -> jax.Array:
    r"""Curvature of the iso-response contour from an in-plane gradient and Hessian.

    .. math:: \kappa = -(g_{aa}\hat g_b^2 - 2 g_{ab}\hat g_a \hat g_b + g_{bb}\hat g_a^2) / |\nabla g|,
       \quad \hat g = \nabla g / |\nabla g|

    Positive = exo-origin (the contour bends around the direction of increasing
    response), negative = endo-origin. Unchanged by f -> h(f) for increasing h and by
    rotating or reflecting the plane's basis.

    Args:
      grad: shape ``(..., 2)``.
      hess: shape ``(..., 2, 2)``.

    Returns:
      shape ``(...)``; NaN where the gradient is exactly zero (curvature undefined).

    >>> float(contour_curvature(jnp.array([1.0, 0.0]), jnp.array([[0.0, 0.0], [0.0, -0.5]])))
    0.5
    """
    grad = jnp.asarray(grad)
    hess = jnp.asarray(hess)
    if grad.shape[-1:] != (2,) or hess.shape[-2:] != (2, 2) or hess.shape[:-2] != grad.shape[:-1]:
        raise ValueError(f"expected grad (..., 2) and hess (..., 2, 2), got {grad.shape} and {hess.shape}")
    norm = jnp.linalg.norm(grad, axis=-1)
    ok = norm > 0
    safe = jnp.where(ok, norm, 1.0)
    na, nb = grad[..., 0] / safe, grad[..., 1] / safe
    num = hess[..., 0, 0] * nb**2 - 2 * hess[..., 0, 1] * na * nb + hess[..., 1, 1] * na**2
    return jnp.where(ok, -num / safe, jnp.nan)


@functools.partial(jax.jit, static_argnames=("mode", "chunk_size"))
def _plane_geometry(f: Partial, p: Plane, coords: jax.Array, mode: str, chunk_size: int):
    g = _restrict(f, p)
    flat = coords.reshape(-1, 2)
    value, grad, hess = jax.lax.map(functools.partial(VALUE_GRAD_HESS[mode], g), flat, batch_size=chunk_size)
    lead = coords.shape[:-1]
    grad, hess = grad.reshape(lead + (2,)), hess.reshape(lead + (2, 2))
    return PlaneGeometry(value.reshape(lead), grad, hess, contour_curvature(grad, hess))


def plane_geometry(
    f: Response, plane: Plane, coords, *, mode: Mode = "auto", chunk_size: int = DEFAULT_CHUNK
) -> PlaneGeometry:
    """Exact value, gradient, Hessian and contour curvature of f on a plane.

    Computes g(a, b) = f(origin + a u + b v) and its first and second derivatives
    with respect to (a, b) by autodiff, for every point of ``coords``. Points are
    processed ``chunk_size`` at a time (``lax.map`` over ``vmap``-ed chunks), so memory
    stays bounded for large grids.

    Args:
      f: scalar response of one input, R^D -> R, JAX-traceable. Bind parameters with
        ``jax.tree_util.Partial(model, params)`` so they are not baked into the
        compiled code as constants.
      plane: a :class:`Plane`.
      coords: plane coordinates, shape ``(..., 2)`` (e.g. ``plane.grid(64)``).
      mode: ``"adjoint"`` (g, g_a, g_b carried forward through f, then one reverse
        sweep for g_aa, g_ab, g_bb; it stores every scan step's carries for the sweep),
        ``"taylor"`` (second-order forward mode: the six Taylor coefficients g, g_a,
        g_b, g_aa, g_ab, g_bb carried through f), ``"fwd"`` (forward-over-forward,
        ``jacfwd(jacfwd)``), ``"rev"`` (forward-over-reverse), or ``"auto"``: whichever
        measures faster for f's structure (:func:`auto_mode`). Same numbers, different
        speed and memory (``make bench`` compares them).
      chunk_size: points evaluated together.

    Returns:
      :class:`PlaneGeometry` with shapes ``(...)``, ``(..., 2)``, ``(..., 2, 2)``, ``(...)``.

    >>> import geomlib
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> geo = plane_geometry(lambda x: x[0] - 0.25 * x[1] ** 2, p, jnp.array([[0.3, 0.0]]))
    >>> float(geo.curvature[0])
    0.5
    """
    if mode not in ("auto", *VALUE_GRAD_HESS):
        raise ValueError(f"mode: expected 'auto', 'adjoint', 'taylor', 'fwd' or 'rev', got {mode!r}")
    chunk_size = _check_chunk(chunk_size)
    fp, plane = check_callable(f, "f", "R^D -> R"), _check_plane(plane)
    if mode == "auto":
        mode = auto_mode(fp, plane, chunk_size)
    return _plane_geometry(fp, plane, _check_coords(coords), mode, int(chunk_size))


@functools.partial(jax.jit, static_argnames=("chunk_size",))
def _plane_value_grad(f: Partial, p: Plane, coords: jax.Array, chunk_size: int):
    g = _restrict(f, p)
    value, grad = jax.lax.map(jax.value_and_grad(g), coords.reshape(-1, 2), batch_size=chunk_size)
    return value.reshape(coords.shape[:-1]), grad.reshape(coords.shape)


@functools.partial(jax.jit, static_argnames=("chunk_size",))
def _plane_value(f: Partial, p: Plane, coords: jax.Array, chunk_size: int):
    g = _restrict(f, p)
    return jax.lax.map(g, coords.reshape(-1, 2), batch_size=chunk_size).reshape(coords.shape[:-1])


def _check_chunk(chunk_size) -> int:
    return check_int(chunk_size, "chunk_size")


def plane_values(f: Response, plane: Plane, coords, *, chunk_size: int = DEFAULT_CHUNK) -> jax.Array:
    """The response g(a, b) = f(origin + a u + b v) at ``coords`` ``(..., 2)``, shape ``(...)``."""
    return _plane_value(check_callable(f, "f", "R^D -> R"), _check_plane(plane), _check_coords(coords), _check_chunk(chunk_size))


def plane_gradients(f: Response, plane: Plane, coords, *, chunk_size: int = DEFAULT_CHUNK):
    """Response ``(...)`` and exact in-plane gradient ``(..., 2)`` at ``coords`` ``(..., 2)``."""
    return _plane_value_grad(check_callable(f, "f", "R^D -> R"), _check_plane(plane), _check_coords(coords), _check_chunk(chunk_size))


def grid_spacing(coords) -> tuple[float, float]:
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


def grid_curvature(f: Response, plane: Plane, coords, *, chunk_size: int = DEFAULT_CHUNK) -> jax.Array:
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
    _, grad = plane_gradients(f, plane, coords, chunk_size=chunk_size)
    return grid_curvature_from_gradient(grad, coords)


def grid_curvature_from_gradient(grad: ArrayLike, coords: ArrayLike) -> jax.Array:
    """:func:`grid_curvature` from a gradient field already computed on the grid ``coords``.

    Args:
      grad: plane gradients ``(n_b, n_a, 2)`` at ``coords`` (e.g. from :func:`plane_gradients`).
      coords: regular grid from :meth:`Plane.grid`, shape ``(n_b, n_a, 2)``, n >= 3.

    Returns:
      shape ``(n_b, n_a)``, as :func:`grid_curvature`.
    """
    da, db = grid_spacing(coords)
    grad = jnp.asarray(grad)
    if grad.shape != np.shape(coords):
        raise ValueError(f"grad: expected the shape of coords {np.shape(coords)}, got {grad.shape}")
    return minus_divergence_of_normal(grad, da, db)


@jax.jit
def minus_divergence_of_normal(grad, da, db):
    norm = jnp.linalg.norm(grad, axis=-1, keepdims=True)
    normal = jnp.where(norm > 0, grad / jnp.where(norm > 0, norm, 1.0), jnp.nan)
    div = jnp.gradient(normal[..., 0], da, axis=1) + jnp.gradient(normal[..., 1], db, axis=0)
    # Central differences skip the centre point: keep NaN where the gradient itself vanishes.
    return jnp.where(jnp.isnan(normal[..., 0]), jnp.nan, -div)
