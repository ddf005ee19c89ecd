"""Top-k principal curvatures at a batch of points: a fixed-step Lanczos in JAX on the
shape operator, ``vmap``-ed over the points (used by :func:`geomlib.boundary_curvatures`)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_callable, check_float, check_int
from geomlib._src.core.dtypes import float_dtype
from geomlib._src.geometry import Response, scalar_response


class LanczosCurvatures(NamedTuple):
    """Result of :func:`lanczos_curvatures` (one row per point).

    Attributes:
      curvatures: top-k principal curvatures ``(B, k)``, decreasing; NaN where the Ritz
        value did not converge to ``tol`` or the gradient vanishes.
      residuals: residual norms ``|S y - theta y|`` of the k Ritz pairs ``(B, k)``
        (an upper bound on the distance of each Ritz value to an eigenvalue of S), in the
        order of ``curvatures``, reported even where ``curvatures`` is NaN.
    """

    curvatures: jax.Array
    residuals: jax.Array


_NOISE_ULPS = 64  # residuals below 64 eps ||S|| are at the floating-point noise of S itself


def _lanczos_point(f, x, args, start, restarts):
    """Lanczos with full reorthogonalisation on S = -P H P / |grad g| at one point, g = f(., *args).

    Krylov vectors are kept in R^D, orthogonal to the unit normal n (so P v = v); each step
    is one Hessian-vector product (forward-over-reverse, linearised once at x). A breakdown
    (the new vector is zero to rounding: an invariant subspace was found, e.g. S = 0 or an
    eigenvalue of multiplicity > 1) restarts from ``restarts[t]`` made orthogonal to the
    basis, so T stays the restriction of S to an orthonormal basis and its eigenvalues
    stay eigenvalues of S. Returns the diagonal alpha (m,) and off-diagonal beta (m,) of
    the tridiagonal matrix T (zero couplings at restarts; beta[-1] unused), the norm of
    the last residual vector (after step m) and |grad g|.
    """
    grad, hvp = jax.linearize(jax.grad(scalar_response(lambda y: f(y, *args))), x)
    gnorm = jnp.linalg.norm(grad)
    safe = jnp.where(gnorm > 0, gnorm, 1.0)
    n = grad / safe
    eps = jnp.finfo(x.dtype).eps

    def shape_op(v):
        h = hvp(v)
        return -(h - n * (n @ h)) / safe

    def orthogonalise(w, basis):  # classical Gram-Schmidt, twice ("twice is enough")
        for _ in range(2):
            w = w - basis.T @ (basis @ w)
            w = w - n * (n @ w)
        return w

    def unit(w):
        norm = jnp.linalg.norm(w)
        return jnp.where(norm > 0, w / jnp.where(norm > 0, norm, 1.0), 0.0)

    m = restarts.shape[0]
    basis = jnp.zeros((m + 1, x.shape[0]), x.dtype).at[0].set(unit(start - n * (n @ start)))

    def step(t, carry):
        basis, alpha, beta, _, scale = carry
        q = basis[t]
        w = shape_op(q)
        a = q @ w
        w = orthogonalise(w, basis)  # rows > t of basis are still zero
        b = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        breakdown = b <= _NOISE_ULPS * eps * scale
        fresh = unit(orthogonalise(restarts[t], basis))
        basis = basis.at[t + 1].set(jnp.where(breakdown, fresh, w / jnp.where(b > 0, b, 1.0)))
        return basis, alpha.at[t].set(a), beta.at[t].set(jnp.where(breakdown, 0.0, b)), b, scale

    zero = jnp.zeros((m,), x.dtype)
    _, alpha, beta, b_last, _ = jax.lax.fori_loop(0, m, step, (basis, zero, zero, zero[0], zero[0]))
    return alpha, beta, b_last, gnorm


@jax.jit
def _lanczos_chunk(f: Partial, x, args, start, restarts):
    """Lanczos coefficients of every point of a chunk (m = len(restarts) steps)."""
    return jax.vmap(_lanczos_point, (None, 0, 0, None, None))(f, x, args, start, restarts)


def _ritz(alpha, beta, b_last, gnorm, k: int, which: str, tol: float, eps: float):
    """Top-k Ritz values of the tridiagonal matrices (B, m, m), their residuals, and NaN
    where not converged (numpy, float64: an m x m problem per point, not worth compiling)."""
    alpha, beta, b_last = (np.asarray(a, np.float64) for a in (alpha, beta, b_last))
    n_pts, m = alpha.shape
    tri = np.zeros((n_pts, m, m))
    idx = np.arange(m)
    tri[:, idx, idx] = alpha
    tri[:, idx[:-1], idx[1:]] = tri[:, idx[1:], idx[:-1]] = beta[:, :-1]
    theta, y = np.linalg.eigh(tri)
    # |S V y - theta V y| = |beta_m y_m| (V orthonormal, S V = V T + beta_m v_{m+1} e_m^T);
    # beta_m is the last vector's norm even when it is below the breakdown threshold.
    res = np.abs(b_last[:, None] * y[:, -1, :])
    key = {"LA": -theta, "SA": theta, "LM": -np.abs(theta)}[which]
    pick = np.argsort(key, axis=1, kind="stable")[:, :k]
    theta_k, res_k = np.take_along_axis(theta, pick, 1), np.take_along_axis(res, pick, 1)
    order = np.argsort(-theta_k, axis=1, kind="stable")
    theta_k, res_k = np.take_along_axis(theta_k, order, 1), np.take_along_axis(res_k, order, 1)
    noise = _NOISE_ULPS * eps * np.max(np.abs(theta), axis=1, keepdims=True)
    converged = res_k <= np.maximum(tol * np.abs(theta_k), noise)
    ok = (np.asarray(gnorm) > 0)[:, None]
    return np.where(converged & ok, theta_k, np.nan), np.where(ok, res_k, np.nan)


def lanczos_curvatures(
    f: Response,
    x: ArrayLike,
    k: int,
    *,
    args: tuple = (),
    which: Literal["LA", "SA", "LM"] = "LM",
    iterations: int = 40,
    tol: float = 1e-4,
    chunk: int = 16,
    seed: int = 0,
) -> LanczosCurvatures:
    r"""Top-k principal curvatures at a batch of points, by one batched, jit-compiled Lanczos.

    The batched counterpart of ``principal_curvatures(f, x, k)``: same shape operator
    :math:`S = -P H P / |\nabla f|` on the tangent space, same sign convention and sorting,
    but a fixed number of Lanczos steps with full reorthogonalisation, written in JAX and
    vmapped over the points, so the Hessian-vector products of all points in a chunk run
    as matrix-matrix products. Every point starts from the same fixed-seed random vector
    projected onto its tangent space. A breakdown (an invariant subspace, e.g. a flat
    hypersurface with S = 0, or a repeated curvature) restarts from a fresh random vector,
    so a flat hypersurface gives curvature exactly 0 and a curvature of multiplicity r is
    found r times (up to ``iterations``).

    After ``iterations`` = m steps the m x m tridiagonal matrix is diagonalised (on the
    host, numpy float64: tiny, and not worth a compilation), the k
    Ritz values are picked by ``which``, and each Ritz pair's residual
    :math:`r = |S y - \theta y|` is computed (for symmetric S, some eigenvalue lies within
    r of :math:`\theta`). A Ritz value is returned only if it has converged,
    :math:`r \le \max(\mathrm{tol}\,|\theta|, 64\,\epsilon\,\|S\|)` (the second term, the
    floating-point noise of S itself, only matters for curvatures far smaller than the
    largest one), and is NaN otherwise: ask for more ``iterations`` then. As with any
    Krylov method, an eigenvalue whose eigenvector is (nearly) orthogonal to the start
    vector can be missed.

    Args:
      f: scalar response ``f(x_b, *args_b) -> ()`` for one point ``x_b`` ``(D,)``; bind
        parameters with ``jax.tree_util.Partial`` to compile once per model structure.
      x: points ``(B, D)``.
      k: number of curvatures per point, ``1 <= k <= min(iterations, D - 1)``.
      args: tuple of per-point arrays with leading axis B (e.g. the class indices of a
        decision function), passed to f row by row: one compiled kernel serves them all.
      which: ``"LM"`` largest in magnitude, ``"LA"`` most positive, ``"SA"`` most negative.
      iterations: Lanczos steps m (Hessian-vector products per point); capped at D - 1,
        where the Krylov space is the whole tangent space and the result is exact.
      tol: relative accuracy a Ritz value must reach (else NaN).
      chunk: points per vmapped batch (bounds memory); chunks are balanced and the last
        is padded, so a batch of B <= chunk points runs as one.
      seed: seed of the start and restart vectors, an integer in [0, 2**32 - 1].

    Returns:
      :class:`LanczosCurvatures` with ``curvatures`` and ``residuals`` of shape ``(B, k)``;
      all NaN for points where the gradient vanishes.

    >>> f = lambda x: x[0] - 0.5 * x[1] ** 2 - 2.0 * x[2] ** 2
    >>> kap = lanczos_curvatures(f, jnp.zeros((1, 3)), 2).curvatures
    >>> [round(float(c), 5) for c in kap[0]]
    [4.0, 1.0]
    """
    dtype = float_dtype()
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
        check_array(x, "x", finite=False)   # None, strings, complex: TypeError (finiteness below)
    x = np.asarray(x, dtype=dtype)  # host-side: no eager device ops (each one compiles)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"x: expected points of shape (B, D) with D >= 2, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x: expected finite entries, got non-finite values")
    fp = check_callable(f, "f", "R^D -> R")
    if which not in ("LA", "SA", "LM"):
        raise ValueError(f"which: expected 'LA', 'SA' or 'LM', got {which!r}")
    iterations = check_int(iterations, "iterations")
    dim = x.shape[1] - 1
    m = min(iterations, dim)
    k = check_int(k, "k", 1, m, high_label="min(iterations, D - 1)")
    chunk = check_int(chunk, "chunk")
    tol = check_float(tol, "tol", 0.0, open_low=True)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
    args = tuple(np.asarray(a) for a in args)
    if any(a.ndim < 1 or a.shape[0] != x.shape[0] for a in args):
        raise ValueError(f"args: expected arrays with leading axis B = {x.shape[0]}, got shapes "
                         f"{[a.shape for a in args]}")
    b = x.shape[0]
    if b == 0:
        empty = jnp.zeros((0, int(k)), dtype)
        return LanczosCurvatures(empty, empty)
    n_chunks = -(-b // int(chunk))
    size = -(-b // n_chunks)
    pad = n_chunks * size - b
    take = np.concatenate([np.arange(b), np.zeros(pad, int)])  # padding repeats row 0
    x, args = x[take], tuple(a[take] for a in args)
    rng = np.random.default_rng(int(seed))
    start = rng.normal(size=x.shape[1]).astype(dtype)
    restarts = rng.normal(size=(m, x.shape[1])).astype(dtype)
    parts = [_lanczos_chunk(fp, x[s:s + size], tuple(a[s:s + size] for a in args), start, restarts)
             for s in range(0, n_chunks * size, size)]
    alpha, beta, b_last, gnorm = (np.concatenate([np.asarray(q) for q in p])[:b] for p in zip(*parts))
    curv, res = _ritz(alpha, beta, b_last, gnorm, int(k), which, float(tol), float(np.finfo(dtype).eps))
    return LanczosCurvatures(jnp.asarray(curv, dtype), jnp.asarray(res, dtype))
