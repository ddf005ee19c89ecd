"""Root finding and fitting for the contour bend: vectorised Illinois (regula falsi)
brackets, the weighted parabola fit, and the Gauss-Legendre rows."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from geomlib._src.core.checks import check_int

def _solve3(m, r):
    """Solve the 3 x 3 system m d = r by Cramer's rule (compiles far faster than an LU
    solve; the normal equations here are well conditioned, b being scaled to [-1, 1])."""
    def det(c0, c1, c2):
        return jnp.dot(c0, jnp.cross(c1, c2))

    cols = [m[:, 0], m[:, 1], m[:, 2]]
    full = det(*cols)
    out = []
    for k in range(3):
        c = list(cols)
        c[k] = r
        out.append(det(*c) / full)
    return jnp.stack(out)


def fit_parabola(a, b, ok, scale, weights=None):
    """Weighted least squares a = c0 + c1 b + c2 b^2 over rows where ok; b scaled by ``scale``."""
    t = b / scale
    basis = jnp.stack([jnp.ones_like(t), t, t * t], axis=-1)  # (n, 3)
    w = ok.astype(a.dtype) if weights is None else jnp.where(ok, weights, 0.0)
    aw = jnp.where(ok, a, 0.0)
    gram = jnp.einsum("n,ni,nj->ij", w, basis, basis)
    rhs = jnp.einsum("n,n,ni->i", w, aw, basis)
    n_valid = jnp.sum(ok)
    good = n_valid >= 3
    d = _solve3(jnp.where(good, gram, jnp.eye(3, dtype=a.dtype)), rhs)
    d = jnp.where(good, d, jnp.nan)
    return d[0], d[1] / scale, d[2] / scale**2, n_valid


def _secant(x0, x1, f0, f1):
    den = f1 - f0
    ok = den > 0
    x = jnp.where(ok, (x0 * f1 - x1 * f0) / jnp.where(ok, den, 1.0), 0.5 * (x0 + x1))
    return jnp.clip(x, jnp.minimum(x0, x1), jnp.maximum(x0, x1))


def illinois(h, x0, x1, f0, f1, iterations: int):
    """Vectorised Illinois (modified regula falsi) for h(x) = 0 from brackets with
    f0 = h(x0) < 0 <= f1 = h(x1) (elementwise); ``iterations`` evaluations of h, then a final
    secant interpolation. Rows without a valid bracket return some point of [x0, x1]."""

    def step(_, state):
        x0, x1, f0, f1, side = state
        x = _secant(x0, x1, f0, f1)
        fx = h(x)
        right = fx >= 0  # x replaces x1
        f0h = jnp.where(right & (side > 0), 0.5 * f0, f0)  # same end replaced twice: halve the other
        f1h = jnp.where(~right & (side < 0), 0.5 * f1, f1)
        return (jnp.where(right, x0, x), jnp.where(right, x, x1), jnp.where(right, f0h, fx),
                jnp.where(right, fx, f1h), jnp.where(right, 1, -1))

    state = (x0, x1, f0, f1, jnp.zeros(x0.shape, jnp.int32))
    x0, x1, f0, f1, _ = jax.lax.fori_loop(0, iterations, step, state)
    return _secant(x0, x1, f0, f1)


def oriented(x_lo, x_hi, f_lo, f_hi):
    """Order each bracket so that the first end has the negative value."""
    neg = f_lo < 0
    return (jnp.where(neg, x_lo, x_hi), jnp.where(neg, x_hi, x_lo), jnp.where(neg, f_lo, f_hi),
            jnp.where(neg, f_hi, f_lo))


def slopes(a, b, ok):
    """da/db at each row from its valid neighbours (mean of the one-sided differences)."""
    db = jnp.diff(b)
    d = jnp.diff(a) / db
    okd = ok[1:] & ok[:-1]
    fwd = jnp.concatenate([jnp.where(okd, d, 0.0), jnp.zeros((1,), a.dtype)])
    bwd = jnp.concatenate([jnp.zeros((1,), a.dtype), jnp.where(okd, d, 0.0)])
    nf = jnp.concatenate([okd, jnp.zeros((1,), bool)]).astype(a.dtype)
    nb = jnp.concatenate([jnp.zeros((1,), bool), okd]).astype(a.dtype)
    return (jnp.abs(fwd) * nf + jnp.abs(bwd) * nb) / jnp.maximum(nf + nb, 1.0)

def gauss_rows(n_b: int, b_range: tuple[float, float] = (-2.0, 2.0)) -> tuple[np.ndarray, np.ndarray]:
    """The rows :math:`b_j` of :func:`contour_bend` and their quadrature weights: the n_b
    Gauss-Legendre nodes and weights of the interval ``b_range`` (weights sum to its length).
    ``n_b`` in [1, 10**4]; ``b_range`` finite with lo < hi (ValueError naming either otherwise).

    >>> b, w = gauss_rows(3, (-2.0, 2.0))
    >>> np.round(b, 4).tolist(), np.round(w, 4).tolist()
    ([-1.5492, 0.0, 1.5492], [1.1111, 1.7778, 1.1111])
    """
    n_b = check_int(n_b, "n_b", 1, 10_000)
    try:
        rng = np.asarray(b_range, dtype=float) if not isinstance(b_range, (str, bytes)) else None
    except (TypeError, ValueError):
        rng = None
    if rng is None or rng.shape != (2,) or not np.all(np.isfinite(rng)) or not rng[0] < rng[1]:
        raise ValueError(f"b_range: expected (lo, hi), finite numbers with lo < hi, got {b_range!r}")
    lo, hi = float(rng[0]), float(rng[1])
    x, w = np.polynomial.legendre.leggauss(n_b)
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * x, 0.5 * (hi - lo) * w
