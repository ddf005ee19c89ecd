"""Two statistics at the MEI axis: the response attenuation along a vertical line, and
the exact (autodiff) curvature of the contour where it crosses the axis."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_callable, check_choice, check_float, check_int
from geomlib._src.geometry import VALUE_GRAD_HESS, Response, contour_curvature
from geomlib._src.planes import Extent, Plane
from geomlib._src.survey.bend import MAX_ROWS, check_extent
from geomlib._src.survey.kernel import check_planes, flat_planes
from geomlib._src.survey.results import ResponseAttenuation
from geomlib._src.survey.roots import fit_parabola


@functools.partial(jax.jit, static_argnames=("b_range", "n"))
def _attenuation_batch(fp, planes, a, *, b_range, n):
    bmin, bmax = b_range
    scale = max(abs(bmin), abs(bmax))

    def one(p):
        dt = p.u.dtype
        bs = jnp.linspace(bmin, bmax, n, dtype=dt)
        vals = jax.vmap(lambda b: fp(p.origin + a * p.u + b * p.v))(bs)
        on_axis, slope = jax.jvp(lambda s: fp(p.origin + s * p.u), (jnp.asarray(a, dt),), (jnp.ones((), dt),))
        r0, r1, r2, _ = fit_parabola(vals, bs, jnp.ones((n,), bool), scale)
        att = jnp.where(on_axis > 0, -r2 / jnp.where(on_axis > 0, on_axis, 1.0), jnp.nan)
        bend = jnp.where(slope != 0, -r2 / jnp.where(slope != 0, slope, 1.0), jnp.nan)
        return r0, r1, r2, on_axis, slope, att, bend

    return jax.vmap(one)(planes)


def response_attenuation(f: Response, planes: Plane, a: float = 1.0, extent: Extent = 2.0, *, n: int = 21
                         ) -> ResponseAttenuation:
    r"""Response attenuation: how fast the response falls off away from the MEI axis.

    The second statistic of Paiton et al. (2020): the response along the vertical line
    at fixed ``a``, :math:`g(a, b_k)` for n values :math:`b_k` evenly spaced over the
    window's b range, is fitted by least squares with :math:`r_0 + r_1 b + r_2 b^2`.
    Positive :attr:`~ResponseAttenuation.attenuation` :math:`= -r_2 / g(a, 0)` means the
    response falls off away from the MEI axis (exo-origin). Dividing instead by the exact
    slope along the MEI axis gives :attr:`~ResponseAttenuation.bend`
    :math:`= -r_2 / g_a(a, 0)`, in plane units: for :math:`g = h(a - c b^2)` it is c,
    like :attr:`ContourBend.c2`. Pick ``a`` where the neuron responds (inside the
    contour region, e.g. a little beyond :attr:`ContourBend.c0`).

    Args:
      f: scalar response R^D -> R.
      planes: :class:`Plane` with any batch shape ``S``.
      a: position of the vertical line along the MEI axis.
      extent: window (its b range is used), as in :func:`contour_bend`.
      n: points on the line (in [3, 10**4]).

    Returns:
      :class:`ResponseAttenuation` with arrays of shape ``S``.

    >>> import geomlib
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> att = response_attenuation(lambda x: 3 * (x[0] - 0.25 * x[1] ** 2), p, a=1.0)
    >>> round(float(att.bend), 4), round(float(att.attenuation), 4)
    (0.25, 0.25)
    """
    fp = check_callable(f, "f", "R^D -> R")
    planes = check_planes(planes)
    a = check_float(a, "a")
    n = check_int(n, "n", 3, MAX_ROWS)
    _, b_range = check_extent(extent)
    flat, shape = flat_planes(planes)
    out = _attenuation_batch(fp, flat, jnp.asarray(a, flat.u.dtype), b_range=b_range, n=n)
    out = [jnp.reshape(x, shape) for x in out]
    return ResponseAttenuation(*out, n + 2)


# --------------------------------------------------------------------------- exact curvature


@functools.partial(jax.jit, static_argnames=("mode",))
def _axis_curvature_batch(fp, planes, a, mode):
    def one(p, ai):
        g = lambda ab: fp(p.origin + ab[0] * p.u + ab[1] * p.v)  # noqa: E731
        _, grad, hess = VALUE_GRAD_HESS[mode](g, jnp.stack([ai, jnp.zeros_like(ai)]))
        return contour_curvature(grad, hess)

    return jax.vmap(one)(planes, a)


def axis_curvature(f: Response, planes: Plane, a: ArrayLike, *, mode: str = "rev") -> jax.Array:
    r"""Exact (autodiff) curvature of the iso-response contour through (a, 0), on the MEI axis.

    :math:`\kappa = -(g_{aa} g_b^2 - 2 g_{ab} g_a g_b + g_{bb} g_a^2)/|\nabla g|^3` at the
    point (a, 0) of each plane (positive = exo-origin; see
    :func:`geomlib.contour_curvature`). Meaningful for smooth f, e.g. the LCA with a
    softplus threshold (``dictionary_neuron(..., temperature=T)``); for piecewise-linear f it
    is 0 almost everywhere. For g = h(a - c b^2) it is 2c: compare with
    :attr:`ContourBend.tip_curvature` (at ``a = bend.c0``).

    Args:
      f: scalar response R^D -> R.
      planes: :class:`Plane` with batch shape ``S``.
      a: point on the MEI axis, a real scalar or an array of shape ``S`` (e.g. ``bend.c0``);
        NaN entries are allowed (planes without a contour) and give NaN.
      mode: ``"rev"`` (forward-over-reverse), ``"adjoint"``, ``"taylor"`` or ``"fwd"``
        (see :func:`geomlib.plane_geometry`).

    Returns:
      shape ``S``; NaN where the gradient vanishes or a is not finite.

    Raises:
      ValueError, TypeError: naming the bad argument (mode, f, planes, a of another
        shape, or not real numbers).
    """
    mode = check_choice(mode, "mode", tuple(VALUE_GRAD_HESS))
    fp = check_callable(f, "f", "R^D -> R")
    planes = check_planes(planes)
    flat, shape = flat_planes(planes)
    a = check_array(a, "a", finite=False)
    if a.shape not in ((), shape):
        raise ValueError(f"a: expected a scalar or shape {shape} (the planes' batch shape), got {a.shape}")
    a = jnp.broadcast_to(a.astype(flat.u.dtype), shape).reshape(-1)
    return _axis_curvature_batch(fp, flat, a, mode).reshape(shape)
