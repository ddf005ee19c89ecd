r"""Per-image prediction of robustness from the local geometry of the decision boundary.

- :func:`quadric_distance`: the distance from an image to the second-order model of the
  boundary at its DeepFool point (a paraboloid with the measured principal curvatures);
- :func:`prediction_test`: how much of the spread of the distances the attacks found it
  explains, beside the flat prediction;
- :func:`noise_robustness`, :func:`noise_distance`: robustness to random noise, the
  curve of Fawzi, Moosavi-Dezfooli & Frossard (2016) against adversarial robustness.
"""

from __future__ import annotations

import functools
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.attacks import BATCHED_LOGITS, Logits, check_class_labels, classes_of
from geomlib._src.core.checks import check_array, check_callable, check_float, check_images, check_int, check_key


def _max_positive(kappa: np.ndarray) -> np.ndarray:
    """max(0, max_i kappa_i) over the last axis, NaN ignored (NaN where all are NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all NaN: NaN
        top = np.nanmax(kappa, axis=-1) if kappa.shape[-1] else np.full(kappa.shape[:-1], np.nan)
    return np.where(np.isnan(top), np.nan, np.maximum(top, 0.0))


def quadric_distance(r: ArrayLike, kappa: ArrayLike) -> np.ndarray:
    r"""Distance from an image to the paraboloid through its boundary point with the boundary's
    principal curvatures: the second-order prediction of its minimal adversarial L2 distance.

    In the frame at the boundary point p (tangent coordinates :math:`t`, normal coordinate
    s along the unit normal pointing to the image's side), the boundary is to second order
    :math:`s = \tfrac12 \sum_i \kappa_i t_i^2`, and the image sits at :math:`(0, r)`. The
    curvatures follow :func:`geomlib.boundary_curvatures`: :math:`\kappa > 0` where the
    boundary bends toward the image (the image's class region is locally convex). With
    :math:`u_i = t_i^2 \ge 0` and :math:`q = \tfrac12 \sum_i \kappa_i u_i`, the squared
    distance is :math:`\sum_i u_i + (r - q)^2`; for a given q > 0 the least
    :math:`\sum_i u_i` is :math:`2q/\kappa_+` (all of it along the largest curvature
    :math:`\kappa_+`), and q < 0 only moves away. Minimising
    :math:`2q/\kappa_+ + (r - q)^2` over :math:`q \ge 0`:

    .. math::

       d = \begin{cases} r & r\kappa_+ \le 1 \\
           \sqrt{2r/\kappa_+ - 1/\kappa_+^2} = \sqrt{r^2 - (r - \rho)^2} & r\kappa_+ > 1
           \end{cases}, \qquad \rho = 1/\kappa_+,

    so only the largest positive curvature matters, a boundary bending away
    (all :math:`\kappa_i \le 0`) or flat leaves d = r, and d < r exactly when the image lies
    beyond the focal point :math:`r > \rho` (then p is not the nearest boundary point: at a
    nearest point :math:`r\kappa_i \le 1` for every i). The paraboloid is a model: an
    osculating sphere of radius :math:`\rho` agrees with it for :math:`r \le \rho` (d = r)
    but gives :math:`|2\rho - r|` beyond.

    Args:
      r: distances from the images to their boundary points, ``(...)``, >= 0 (NaN allowed:
        NaN out).
      kappa: principal curvatures at those points along a last axis, ``(..., k)`` with
        ``(...)`` the shape of r (one curvature per point: ``kappa[..., None]``). NaN
        curvatures (not converged) are ignored; all NaN gives NaN. With the top k by
        magnitude, a positive curvature smaller than the k-th magnitude is not seen.

    Returns:
      predicted distances, ``(...)``, float64, <= r.

    >>> quadric_distance([1.0, 1.0, 3.0, 3.0], [[0.5], [-2.0], [0.5], [0.0]])  # sqrt(2 * 3 * 2 - 4) = sqrt(8)
    array([1.        , 1.        , 2.82842712, 3.        ])
    """
    check_array(r, "r", finite=False)
    check_array(kappa, "kappa", finite=False)
    r, kappa = np.asarray(r, np.float64), np.asarray(kappa, np.float64)
    if kappa.ndim < 1 or kappa.shape[-1] < 1:
        raise ValueError(f"kappa: expected principal curvatures along a last axis of length k >= 1, "
                         f"got shape {kappa.shape}")
    if np.any(r < 0):
        raise ValueError(f"r: expected distances >= 0, got {int(np.sum(r < 0))} negative")
    if np.any(np.isinf(kappa)):
        raise ValueError(f"kappa: expected finite curvatures (NaN for not converged), got "
                         f"{int(np.sum(np.isinf(kappa)))} infinite")
    if kappa.shape[:-1] != r.shape:
        raise ValueError(f"r, kappa: expected kappa of shape r.shape + (k,) = {r.shape + ('k',)}, got r of shape "
                         f"{r.shape} and kappa of shape {kappa.shape}".replace("'k'", "k"))
    top = _max_positive(kappa)
    with np.errstate(divide="ignore", invalid="ignore"):
        beyond = r * top > 1
        rho = 1.0 / np.where(beyond, top, 1.0)
        d = np.where(beyond, np.sqrt(np.maximum(r * r - (r - rho) ** 2, 0.0)), r)
    return np.where(np.isnan(r) | np.isnan(top), np.nan, d)


class PredictionTest(NamedTuple):
    """Result of :func:`prediction_test` for one model.

    Attributes:
      r2: fraction of the variance of log(found) explained by the quadric prediction.
      r2_flat: the same for the flat prediction (predicted = r).
      predicted: the quadric prediction per image ``(B,)`` (NaN where undefined).
      n_images: images used; n_dropped: images dropped (a NaN, infinite or zero distance).
      n_curved: images used where the prediction differs from r (:math:`r\\kappa_+ > 1`).
    """

    r2: float
    r2_flat: float
    predicted: np.ndarray
    n_images: int
    n_dropped: int
    n_curved: int


def _r2_log(found: np.ndarray, predicted: np.ndarray) -> float:
    lf, lp = np.log(found), np.log(predicted)
    total = np.sum((lf - lf.mean()) ** 2)
    return float(1 - np.sum((lf - lp) ** 2) / total) if total > 0 else float("nan")


def prediction_test(r: ArrayLike, kappa: ArrayLike, found: ArrayLike) -> PredictionTest:
    r"""How much of the per-image spread of the distances the attacks found the boundary's
    second-order model at the DeepFool point explains (:func:`quadric_distance`), beside the
    flat prediction (distance = r, the first-order model DeepFool itself uses).

    The score is the coefficient of determination of the prediction as it stands, on the log
    scale: :math:`R^2 = 1 - \sum (\log f - \log \hat d)^2 / \sum (\log f - \overline{\log f})^2`,
    with f the found distance and :math:`\hat d` the prediction (no slope or intercept
    fitted, so it is negative for a prediction worse than the mean). Log, because distances
    are positive and spread multiplicatively across images: a residual is then a relative
    error, a few far images do not dominate, and the score does not depend on the unit.
    Images with a NaN, infinite or zero value of r, the prediction or ``found`` (a failed
    measurement, an attack that found nothing, an image misclassified already) are dropped.
    Compare like with like: :func:`geomlib.boundary_curvatures` measures the function's
    boundary without the pixel box (``clip=False``), while :func:`geomlib.minimal_perturbation`
    keeps its adversarials in [0, 1], so its distances can exceed r; and take r, kappa and
    ``found`` on the same (smooth) model.

    Args:
      r: distance from each image to its boundary point ``(B,)`` (e.g.
        ``ClassifierMeasures.boundary_distance``).
      kappa: principal curvatures there ``(B, k)`` (``ClassifierMeasures.boundary_curvature``).
      found: the smallest adversarial L2 distance found per image ``(B,)`` (e.g.
        ``minimal_perturbation(..., norm="2").distance``).

    Returns:
      :class:`PredictionTest` ``(r2, r2_flat, predicted, n_images, n_dropped, n_curved)``.

    >>> t = prediction_test([1.0, 4.0, 2.0], [[0.0], [1.0], [0.1]], [1.0, 2.6, 2.0])
    >>> t.predicted.round(3).tolist()   # the second image lies beyond its focal point: sqrt(16 - 9)
    [1.0, 2.646, 2.0]
    >>> round(t.r2, 3), round(t.r2_flat, 3), t.n_images, t.n_curved
    (0.999, 0.619, 3, 1)
    """
    check_array(r, "r", ndim=1, finite=False)
    check_array(kappa, "kappa", ndim=2, finite=False)
    check_array(found, "found", ndim=1, finite=False)
    r, kappa, found = (np.asarray(v, np.float64) for v in (r, kappa, found))
    b = r.shape[0]
    if kappa.shape[0] != b or found.shape != (b,):
        raise ValueError(f"r, kappa, found: expected shapes (B,), (B, k), (B,) for one B, got r {r.shape}, "
                         f"kappa {kappa.shape}, found {found.shape}")
    if np.any(found < 0):
        raise ValueError(f"found: expected distances >= 0, got {int(np.sum(found < 0))} negative")
    predicted = quadric_distance(r, kappa)
    ok = np.all([np.isfinite(v) & (v > 0) for v in (r, predicted, found)], axis=0)
    n = int(ok.sum())
    if n < 2:
        return PredictionTest(float("nan"), float("nan"), predicted, n, b - n, 0)
    curved = int(np.sum(predicted[ok] < r[ok]))
    return PredictionTest(_r2_log(found[ok], predicted[ok]), _r2_log(found[ok], r[ok]), predicted, n, b - n, curved)


# ----------------------------------------------------------------------------- random noise


def _directions(key: jax.Array, n: int, d: int, dtype) -> jax.Array:
    """``(n, d)`` directions uniform on the unit sphere (normalised Gaussians)."""
    v = jax.random.normal(key, (n, d), dtype)
    return v / jnp.linalg.norm(v, axis=1, keepdims=True)


def _check_noise_args(logits_fn, x, y, key, n_directions):
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x = check_images(x, False)
    k = classes_of(f, x, "x")
    y = check_class_labels(y, x.shape[0], k, "y")
    key = check_key(key)
    if key is None:
        raise ValueError("key: expected a PRNG key (jax.random.key or jax.random.PRNGKey), got None")
    n = check_int(n_directions, "n_directions", 1, 10 ** 6)
    return f, x, y, key, n


@functools.partial(jax.jit, static_argnames=("n",))
def _noise_fractions(f, x, y, radii, key, n):
    keys = jax.random.split(key, x.shape[0])

    def one(args):
        xi, yi, ki = args
        v = _directions(ki, n, xi.shape[0], xi.dtype)
        pts = xi + radii[:, None, None] * v[None]                           # (R, n, D)
        pred = jnp.argmax(f(pts.reshape(-1, xi.shape[0])), axis=1).reshape(radii.shape[0], n)
        return jnp.mean(pred == yi, axis=1)

    return jax.lax.map(one, (x, y, keys))


def noise_robustness(logits_fn: Logits, x: ArrayLike, y: ArrayLike, radii: ArrayLike, *, n_directions: int = 100,
                     key: jax.Array) -> jax.Array:
    r"""Fraction of random directions along which each image is still classified as y at each L2 radius.

    For image b, ``n_directions`` directions v uniform on the unit sphere of R^D (normalised
    Gaussians, drawn with ``jax.random.split(key, B)[b]``, the same for every radius), and
    the points :math:`x_b + \epsilon v`: the fraction with :math:`\arg\max f = y_b`. No
    clipping to the pixel box [0, 1] (the geometry of the function, as
    :func:`geomlib.boundary_curvatures`). Against the adversarial accuracy at the same
    radius this is Fawzi et al.'s comparison of random and adversarial noise; for a
    linear classifier with margin m at x, the fraction is :math:`1 - \tfrac12
    P(\cos^2 > m^2/\epsilon^2)` with :math:`\cos^2 \sim \mathrm{Beta}(\tfrac12, \tfrac{D-1}2)`.

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``; it is evaluated on batches of
        ``len(radii) * n_directions`` points, one image at a time (``jax.lax.map``, jit-compiled).
      x: images ``(B, D)``; y: labels to keep ``(B,)`` (the predicted labels: "prediction
        unchanged"; the true labels: "still correct").
      radii: L2 radii ``(R,)``, finite and >= 0.
      n_directions: random directions per image (>= 1).
      key: a PRNG key.

    Returns:
      fractions ``(B, R)`` in [0, 1].

    Reference: Fawzi, Moosavi-Dezfooli & Frossard (2016), Robustness of classifiers: from
    adversarial to random noise, NeurIPS.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x[:, 0] - 1.0], axis=1)   # boundary x0 = 1
    >>> frac = noise_robustness(logits_fn, jnp.zeros((1, 2)), jnp.array([0]), jnp.array([0.5, 1e6]),
    ...                         n_directions=1000, key=jax.random.key(0))
    >>> [round(float(v), 1) for v in frac[0]]   # far away half the directions cross
    [1.0, 0.5]
    """
    f, x, y, key, n = _check_noise_args(logits_fn, x, y, key, n_directions)
    radii = check_array(radii, "radii", ndim=1).astype(x.dtype)
    if radii.shape[0] < 1 or bool(jnp.any(radii < 0)):
        raise ValueError(f"radii: expected a non-empty list of radii >= 0, got {np.asarray(radii).tolist()}")
    return _noise_fractions(f, x, y, radii, key, n)


@functools.partial(jax.jit, static_argnames=("n", "grid", "iters"))
def _line_distances(f, x, y, key, max_radius, n, grid, iters):
    keys = jax.random.split(key, x.shape[0])
    steps = max_radius * jnp.arange(1, grid + 1, dtype=x.dtype) / grid    # (grid,)

    def one(args):
        xi, yi, ki = args
        d = xi.shape[0]
        v = _directions(ki, n, d, xi.dtype)
        v2 = jnp.concatenate([v, -v])                                       # (2n, D): both rays of each line

        def wrong(t):                                                       # t (m, 2n) -> (m, 2n)
            pts = xi + t[..., None] * v2
            return jnp.argmax(f(pts.reshape(-1, d)), axis=1).reshape(t.shape) != yi

        bad = wrong(jnp.broadcast_to(steps[:, None], (grid, 2 * n)))        # (grid, 2n)
        crossed = bad.any(axis=0)
        first = jnp.argmax(bad, axis=0)                                     # first grid radius misclassified
        hi = steps[first]
        lo = jnp.where(first > 0, steps[jnp.maximum(first - 1, 0)], 0.0)

        def halve(_, lohi):
            lo, hi = lohi
            mid = 0.5 * (lo + hi)
            w = wrong(mid[None])[0]
            return jnp.where(w, lo, mid), jnp.where(w, mid, hi)

        lo, hi = jax.lax.fori_loop(0, iters, halve, (lo, hi))
        ray = jnp.where(crossed, hi, jnp.inf)
        dist = jnp.minimum(ray[:n], ray[n:])
        at_x = jnp.argmax(f(xi[None]), axis=1)[0] != yi
        return jnp.where(at_x, 0.0, dist)

    return jax.lax.map(one, (x, y, keys))


class NoiseDistance(NamedTuple):
    """Result of :func:`noise_distance`.

    Attributes:
      median: per image, the median over directions ``(B,)`` (inf where most lines never cross).
      distances: per image and direction ``(B, n_directions)`` (inf: not crossed within ``max_radius``).
    """

    median: jax.Array
    distances: jax.Array


def noise_distance(logits_fn: Logits, x: ArrayLike, y: ArrayLike, *, n_directions: int = 100, key: jax.Array,
                   max_radius: float, grid: int = 16, iters: int = 30) -> NoiseDistance:
    r"""The L2 distance from each image to the decision boundary along random lines.

    For image b and each of ``n_directions`` directions v uniform on the unit sphere (drawn as
    in :func:`noise_robustness`, the same for the same key), the smallest :math:`|t|`,
    :math:`t \in [-\epsilon_{max}, \epsilon_{max}]`, at which :math:`x_b + t v` is no
    longer classified as :math:`y_b`: each ray is scanned at ``grid`` equal steps up to
    ``max_radius``, and the first misclassified step bracketed by bisection (``iters``
    halvings: within ``max_radius / grid / 2**iters``); a boundary crossed and recrossed
    between two steps is missed. Lines never crossed give inf. No clipping to [0, 1].

    For a flat boundary (a linear classifier :math:`w \cdot x + b`) the distance along v
    is :math:`|w \cdot x + b| / |w \cdot v| = r_{adv} / |\cos(w, v)|`, with
    :math:`\cos^2 \sim \mathrm{Beta}(\tfrac12, \tfrac{D-1}2)`: the median ratio to the
    adversarial distance is about :math:`\sqrt{D} / 0.674`, Fawzi et al.'s
    :math:`\Theta(\sqrt{D / m})` for a random subspace of dimension m = 1. A curved boundary
    changes the ratio (their semi-random regime); the ratio per image is the measured one.

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``.
      x: images ``(B, D)``; y: labels to keep ``(B,)``.
      n_directions: random lines per image (>= 1); key: a PRNG key.
      max_radius: the farthest distance looked at along each ray, > 0.
      grid: scan steps per ray (>= 1); iters: bisection halvings (1 to 64).

    Returns:
      :class:`NoiseDistance` ``(median (B,), distances (B, n_directions))`` (0 for an image
      not classified as y).

    Reference: Fawzi, Moosavi-Dezfooli & Frossard (2016), Robustness of classifiers: from
    adversarial to random noise, NeurIPS.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x[:, 0] - 1.0], axis=1)   # boundary x0 = 1, r = 1
    >>> res = noise_distance(logits_fn, jnp.zeros((1, 2)), jnp.array([0]), n_directions=2000,
    ...                      key=jax.random.key(0), max_radius=1e3)
    >>> round(float(res.median[0]), 1)   # 1 / |cos| at the median |cos| = cos(pi / 4)
    1.4
    """
    f, x, y, key, n = _check_noise_args(logits_fn, x, y, key, n_directions)
    max_radius = check_float(max_radius, "max_radius", 0.0, open_low=True)
    grid = check_int(grid, "grid", 1, 10 ** 4)
    iters = check_int(iters, "iters", 1, 64)
    dist = _line_distances(f, x, y, key, jnp.asarray(max_radius, x.dtype), n, grid, iters)
    return NoiseDistance(jnp.median(dist, axis=1), dist)
