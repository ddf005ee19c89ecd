"""Exact value, gradient, Hessian and contour curvature of f at points of a plane."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_callable, check_int
from geomlib._src.core.dtypes import is_concrete
from geomlib._src.geometry.modes import DEFAULT_CHUNK, VALUE_GRAD_HESS, Mode, Response, auto_mode, restrict
from geomlib._src.planes import Plane, check_plane


class PlaneGeometry(NamedTuple):
    """Response geometry on plane coordinates of shape ``(..., 2)``.

    Attributes:
      value: response g(a, b), shape ``(...)``.
      grad: in-plane gradient (g_a, g_b), shape ``(..., 2)``.
      hess: in-plane Hessian [[g_aa, g_ab], [g_ab, g_bb]], shape ``(..., 2, 2)``.
      curvature: iso-response contour curvature, shape ``(...)``; positive =
        exo-origin, NaN where the gradient vanishes (in float32: a gradient norm below
        1.08e-19, whose square underflows).
    """

    value: jax.Array
    grad: jax.Array
    hess: jax.Array
    curvature: jax.Array


def _check_coords(coords) -> jax.Array:
    coords = check_array(coords, "coords", finite=False)   # finiteness below, with its own message
    if coords.ndim < 1 or coords.shape[-1] != 2:
        raise ValueError(f"coords: expected shape (..., 2), got {coords.shape}")
    if is_concrete(coords) and not bool(jnp.all(jnp.isfinite(coords))):
        raise ValueError("coords: expected finite plane coordinates, got non-finite entries")
    return coords


def _check_plane(p) -> Plane:
    return check_plane(p, "plane")


def contour_curvature(grad: ArrayLike, hess: ArrayLike) -> jax.Array:
    r"""Curvature of the iso-response contour from an in-plane gradient and Hessian.

    .. math:: \kappa = -(g_{aa}\hat g_b^2 - 2 g_{ab}\hat g_a \hat g_b + g_{bb}\hat g_a^2) / |\nabla g|,
       \quad \hat g = \nabla g / |\nabla g|

    Positive = exo-origin (the contour bends around the direction of increasing
    response), negative = endo-origin. Unchanged by f -> h(f) for increasing h and by
    rotating or reflecting the plane's basis.

    Args:
      grad: shape ``(..., 2)``.
      hess: shape ``(..., 2, 2)``.

    Raises:
      TypeError: None, a string, or a complex array for ``grad`` or ``hess``.
      ValueError: shapes that do not match, or NaN / infinite entries (checked where
        concrete; under ``jit`` a NaN propagates to the curvature).

    Returns:
      shape ``(...)``; NaN where the gradient norm is zero. In float32 that includes every
      gradient of norm below sqrt(1.18e-38) = 1.08e-19: g_a^2 + g_b^2 then falls below the
      smallest normal float32 and is flushed to zero, so the curvature of a response that
      changes by less than 1e-19 per plane unit reads as NaN; scale the response up, or
      enable float64 (``jax_enable_x64``), where the threshold is about 1.5e-154.

    >>> float(contour_curvature(jnp.array([1.0, 0.0]), jnp.array([[0.0, 0.0], [0.0, -0.5]])))
    0.5
    """
    grad = check_array(grad, "grad")
    hess = check_array(hess, "hess")
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
    g = restrict(f, p)
    flat = coords.reshape(-1, 2)
    value, grad, hess = jax.lax.map(functools.partial(VALUE_GRAD_HESS[mode], g), flat, batch_size=chunk_size)
    lead = coords.shape[:-1]
    grad, hess = grad.reshape(lead + (2,)), hess.reshape(lead + (2, 2))
    return PlaneGeometry(value.reshape(lead), grad, hess, contour_curvature(grad, hess))


def plane_geometry(
    f: Response, plane: Plane, coords: ArrayLike, *, mode: Mode = "auto", chunk_size: int = DEFAULT_CHUNK
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
      The curvature is NaN where the gradient vanishes; in float32 that means a gradient
      norm below 1.08e-19 (g_a^2 + g_b^2 underflows below the smallest normal float32,
      1.18e-38; see :func:`contour_curvature`).

    Raises:
      ValueError / TypeError: ``plane`` not a :class:`Plane` of orthonormal, finite, real
        ``u``, ``v`` of one shape (checked where concrete; a ``Plane(...)`` built from
        non-orthonormal vectors gives wrong curvatures, build planes with
        :func:`geomlib.plane`); ``coords`` None, a string, complex, not ``(..., 2)`` or
        non-finite. Under ``jit`` (traced arguments) nothing is checked and a NaN in the
        plane or the coordinates propagates to the result.

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
    g = restrict(f, p)
    value, grad = jax.lax.map(jax.value_and_grad(g), coords.reshape(-1, 2), batch_size=chunk_size)
    return value.reshape(coords.shape[:-1]), grad.reshape(coords.shape)


@functools.partial(jax.jit, static_argnames=("chunk_size",))
def _plane_value(f: Partial, p: Plane, coords: jax.Array, chunk_size: int):
    g = restrict(f, p)
    return jax.lax.map(g, coords.reshape(-1, 2), batch_size=chunk_size).reshape(coords.shape[:-1])


def _check_chunk(chunk_size) -> int:
    return check_int(chunk_size, "chunk_size")


def plane_values(f: Response, plane: Plane, coords: ArrayLike, *, chunk_size: int = DEFAULT_CHUNK) -> jax.Array:
    """The response g(a, b) = f(origin + a u + b v) at ``coords`` ``(..., 2)``, shape ``(...)``."""
    return _plane_value(check_callable(f, "f", "R^D -> R"), _check_plane(plane), _check_coords(coords),
                        _check_chunk(chunk_size))


def plane_gradients(f: Response, plane: Plane, coords: ArrayLike, *,
                    chunk_size: int = DEFAULT_CHUNK) -> tuple[jax.Array, jax.Array]:
    """Response ``(...)`` and exact in-plane gradient ``(..., 2)`` at ``coords`` ``(..., 2)``."""
    return _plane_value_grad(check_callable(f, "f", "R^D -> R"), _check_plane(plane), _check_coords(coords),
                             _check_chunk(chunk_size))
