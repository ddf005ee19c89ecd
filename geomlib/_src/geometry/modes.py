"""How second derivatives on a plane are computed: the four Hessian modes and the
choice among them for a given f (:func:`auto_mode`)."""

from __future__ import annotations

import functools
import math
from typing import Callable, Literal

import jax
import jax.numpy as jnp

from geomlib._src.core.checks import check_callable
from geomlib._src.core.dtypes import is_inexact
from geomlib._src.planes import Plane
from geomlib._src.taylor import sub_jaxprs
from geomlib._src.taylor import value_grad_hess as _vgh_taylor
from geomlib._src.taylor import value_grad_hess_adjoint as _vgh_adjoint

Response = Callable[[jax.Array], jax.Array]
Mode = Literal["auto", "adjoint", "taylor", "fwd", "rev"]

# Points per chunk: the fastest of 256, 1024 and 4096 for the "adjoint" and "taylor" modes
# in ``make bench`` (benchmark 1; the LCA's adjoint then stores 250 MB per chunk); "fwd"
# and "rev" are faster at 256 (pass ``chunk_size=256``).
DEFAULT_CHUNK = 1024


def scalar_response(f: Response) -> Response:
    """f, checked at trace time to return one scalar per input (else ValueError)."""

    def checked(x):
        y = f(x)
        if jnp.shape(y) != ():
            raise ValueError(f"f: expected a scalar response per input, got output shape {jnp.shape(y)}")
        return y

    return checked


def restrict(f: Response, p: Plane) -> Callable[[jax.Array], jax.Array]:
    """g(a, b) = f(origin + a u + b v), checking that f's response is a scalar."""
    return scalar_response(lambda ab: f(p.origin + ab[0] * p.u + ab[1] * p.v))


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

