r"""Principal curvatures at one point: all D - 1 from the dense Hessian, or the top k by
ARPACK on Hessian-vector products, in the tangent basis of a Householder reflection."""

from __future__ import annotations

import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg as spla
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_callable, check_float, check_int
from geomlib._src.geometry import Response, scalar_response


def _householder(n: jax.Array) -> jax.Array:
    """Unit vector w with (I - 2 w w^T) n = -sign(n_0) e_1 (stable choice of sign)."""
    s = jnp.where(n[0] >= 0, 1.0, -1.0).astype(n.dtype)
    w = n.at[0].add(s)
    return w / jnp.linalg.norm(w)


def _reflect(w, y):
    return y - 2.0 * (w @ y) * w


@jax.jit
def _grad_norm(f: Partial, x: jax.Array) -> jax.Array:
    return jnp.linalg.norm(jax.grad(scalar_response(f))(x))


@jax.jit
def _dense(f: Partial, x: jax.Array):
    f = scalar_response(f)
    grad = jax.grad(f)(x)
    hess = jax.hessian(f)(x)
    gnorm = jnp.linalg.norm(grad)
    ok = gnorm > 0
    safe = jnp.where(ok, gnorm, 1.0)
    w = _householder(grad / safe)
    hw = hess @ w
    whw = w @ hw
    # Q H Q with Q = I - 2 w w^T, by rank-one updates.
    qhq = hess - 2.0 * jnp.outer(w, hw) - 2.0 * jnp.outer(hw, w) + 4.0 * whw * jnp.outer(w, w)
    kappa = jnp.linalg.eigvalsh(-qhq[1:, 1:] / safe)[::-1]
    return jnp.where(ok, kappa, jnp.nan)


@jax.jit
def _tangent_matvec(f: Partial, x: jax.Array, y: jax.Array) -> jax.Array:
    """Shape operator applied to tangent coordinates y (D-1,), via one Hessian-vector product."""
    grad_f = jax.grad(scalar_response(f))
    grad = grad_f(x)
    gnorm = jnp.linalg.norm(grad)
    w = _householder(grad / gnorm)
    t = _reflect(w, jnp.concatenate([jnp.zeros((1,), y.dtype), y]))
    hv = jax.jvp(grad_f, (x,), (t,))[1]
    return -_reflect(w, hv)[1:] / gnorm


def principal_curvatures(
    f: Response,
    x: ArrayLike,
    k: int | None = None,
    *,
    which: Literal["LA", "SA", "LM"] = "LM",
    tol: float = 1e-6,
) -> jax.Array:
    r"""Principal curvatures of the iso-response hypersurface of f through x.

    Eigenvalues of the shape operator :math:`-PHP/|\nabla f|` on the tangent space
    (positive = exo-origin). For ``f(x) = x^T diag(d) x`` they are :math:`-2 d_i / |\nabla f|`
    (endo-origin: closed level sets bend toward the origin).

    Args:
      f: scalar response R^D -> R.
      x: point of shape ``(D,)``.
      k: ``None`` for all D - 1 curvatures from the dense D x D Hessian (fine for D up
        to a few thousand); an integer for the top k only, found matrix-free with
        Hessian-vector products and a Lanczos eigensolver (``scipy.sparse.linalg.eigsh``).
      which: with ``k``: ``"LA"`` the k largest (most exo-origin), ``"SA"`` the k
        smallest (most endo-origin), ``"LM"`` the k largest in magnitude.
      tol: relative accuracy asked of the iterative eigensolver, a finite number >= 0
        (0: machine precision, as in ``scipy.sparse.linalg.eigsh``); unused when k is None.

    Returns:
      Principal curvatures sorted in decreasing order: shape ``(D - 1,)``, or ``(k,)``.
      All NaN where the gradient vanishes.

    >>> kap = principal_curvatures(lambda x: x @ x, jnp.array([3.0, 0.0, 4.0]))
    >>> [round(float(c), 6) for c in kap]
    [-0.2, -0.2]
    """
    x = check_array(x, "x", finite=False)   # None, strings, complex: TypeError (finiteness below)
    tol = check_float(tol, "tol", 0.0)
    if x.ndim != 1 or x.shape[0] < 2:
        raise ValueError(f"x: expected a point of shape (D,) with D >= 2, got shape {x.shape}")
    if not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError("x: expected finite entries, got non-finite values")
    fp = check_callable(f, "f", "R^D -> R")
    if which not in ("LA", "SA", "LM"):
        raise ValueError(f"which: expected 'LA', 'SA' or 'LM', got {which!r}")
    if k is None:
        return _dense(fp, x)
    dim = x.shape[0] - 1
    k = check_int(k, "k", 1, dim - 1, high_label="D - 2")
    if not float(_grad_norm(fp, x)) > 0:
        return jnp.full((int(k),), jnp.nan, dtype=x.dtype)
    matvec = functools.partial(_tangent_matvec, fp, x)
    op = spla.LinearOperator(
        (dim, dim), matvec=lambda y: np.asarray(matvec(jnp.asarray(np.ravel(y), x.dtype)), np.float64),
        dtype=np.float64,
    )
    vals = spla.eigsh(op, k=int(k), which=which, tol=tol, return_eigenvectors=False,
                      v0=np.ones(dim) / np.sqrt(dim))
    return jnp.asarray(np.sort(vals)[::-1], dtype=x.dtype)
