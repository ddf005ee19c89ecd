r"""Principal curvatures of an iso-response hypersurface in R^D.

At a point x with gradient \nabla f \ne 0, the level set {f = f(x)} is a smooth
hypersurface with unit normal n = \nabla f / |\nabla f|. Its shape operator on the
tangent space is

.. math:: S = -P H P / |\nabla f|, \qquad P = I - n n^T,

and its D - 1 eigenvalues on the tangent space are the principal curvatures
(positive = exo-origin, the sign convention of :func:`contour_curvature`).

A Householder reflection Q (symmetric, orthogonal, Q n = -s e_1) gives an explicit
orthonormal basis of the tangent space: columns 2..D of Q. The tangent block of
Q H Q is therefore the shape operator in that basis, without forming P.
"""

from __future__ import annotations

import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg as spla
from jax.tree_util import Partial

from geomlib._src.geometry import Response, _as_partial
from geomlib._src.planes import float_dtype


def _householder(n: jax.Array) -> jax.Array:
    """Unit vector w with (I - 2 w w^T) n = -sign(n_0) e_1 (stable choice of sign)."""
    s = jnp.where(n[0] >= 0, 1.0, -1.0).astype(n.dtype)
    w = n.at[0].add(s)
    return w / jnp.linalg.norm(w)


def _reflect(w, y):
    return y - 2.0 * (w @ y) * w


def _scalar(f):
    """f, checked at trace time to return one scalar per input (else ValueError)."""

    def g(x):
        y = f(x)
        if jnp.shape(y) != ():
            raise ValueError(f"f: expected a scalar response per input, got output shape {jnp.shape(y)}")
        return y

    return g


@jax.jit
def _grad_norm(f: Partial, x: jax.Array) -> jax.Array:
    return jnp.linalg.norm(jax.grad(_scalar(f))(x))


@jax.jit
def _dense(f: Partial, x: jax.Array):
    f = _scalar(f)
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
    grad_f = jax.grad(_scalar(f))
    grad = grad_f(x)
    gnorm = jnp.linalg.norm(grad)
    w = _householder(grad / gnorm)
    t = _reflect(w, jnp.concatenate([jnp.zeros((1,), y.dtype), y]))
    hv = jax.jvp(grad_f, (x,), (t,))[1]
    return -_reflect(w, hv)[1:] / gnorm


def principal_curvatures(
    f: Response,
    x,
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
      tol: relative accuracy asked of the iterative eigensolver.

    Returns:
      Principal curvatures sorted in decreasing order: shape ``(D - 1,)``, or ``(k,)``.
      All NaN where the gradient vanishes.

    >>> kap = principal_curvatures(lambda x: x @ x, jnp.array([3.0, 0.0, 4.0]))
    >>> [round(float(c), 6) for c in kap]
    [-0.2, -0.2]
    """
    x = jnp.asarray(x, dtype=float_dtype())
    if x.ndim != 1 or x.shape[0] < 2:
        raise ValueError(f"x: expected a point of shape (D,) with D >= 2, got shape {x.shape}")
    if not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError("x: expected finite entries, got non-finite values")
    fp = _as_partial(f)
    if which not in ("LA", "SA", "LM"):
        raise ValueError(f"which: expected 'LA', 'SA' or 'LM', got {which!r}")
    if k is None:
        return _dense(fp, x)
    dim = x.shape[0] - 1
    if int(k) != k or not 1 <= k < dim:
        raise ValueError(f"k: expected an integer with 1 <= k < D - 1 = {dim}, got {k!r}")
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
