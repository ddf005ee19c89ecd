r"""The boundary point between two classes on a segment, and the principal curvatures of the
decision boundary at each image's DeepFool point (Moosavi-Dezfooli et al.)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.attacks import Logits, deepfool
from geomlib._src.boundary.decision import (
    ImageLogits,
    as_partial,
    check_batch,
    decision_value,
    image_logits_of,
    top_two_classes,
)
from geomlib._src.core.checks import check_callable, check_float, check_int
from geomlib._src.hypersurface import lanczos_curvatures


#: Upper bound of ``iters`` (bisection steps) and of DeepFool ``steps`` checked here.
MAX_BISECTION = 1000
MAX_STEPS = 10_000


@jax.jit
def bisect_boundary(image_logits, x, x_far, i, j, iters) -> jax.Array:
    """Points ``(B, D)`` where :math:`f_i = f_j` on the segments from x to ``x_far`` (bisection,
    ``iters`` steps; class pairs ``i``, ``j`` ``(B,)`` per row, checked arguments)."""
    def g(t):
        pts = x + t[:, None] * (x_far - x)
        return jax.vmap(lambda p, i, j: decision_value(image_logits, i, j, p))(pts, i, j)

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        pos = g(mid) > 0
        return jnp.where(pos, mid, lo), jnp.where(pos, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iters, body, (jnp.zeros(x.shape[0], x.dtype), jnp.ones(x.shape[0], x.dtype)))
    t = 0.5 * (lo + hi)
    return x + t[:, None] * (x_far - x)


def boundary_point(image_logits: ImageLogits, x: ArrayLike, x_far: ArrayLike,
                   iters: int = 30) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""The boundary crossing on the segment from x to ``x_far`` (e.g. a DeepFool point).

    With i the class predicted at x and j the class predicted at ``x_far``, bisection
    finds t in [0, 1] with :math:`g_{ij}(x + t(x_{far} - x)) = 0` (the last sign change
    it brackets; the unique one when the segment crosses the boundary once).

    Args:
      image_logits: classifier of one image ``(D,) -> (K,)``.
      x, x_far: ``(D,)`` or ``(B, D)``, classified differently (else ValueError).
      iters: bisection steps (the point is within ``2^-iters |x_far - x|`` of the crossing),
        1 <= iters <= 1000 (float precision stops improving after about 60).

    Returns:
      ``(point, i, j)``: boundary points like x, and the two classes.
    """
    xb, single = check_batch(x, "x")
    fb, _ = check_batch(x_far, "x_far")
    if fb.shape != xb.shape:
        raise ValueError(f"x_far: expected shape {tuple(jnp.shape(x))} (the shape of x), got {tuple(jnp.shape(x_far))}")
    iters = check_int(iters, "iters", 1, MAX_BISECTION)
    i, _ = top_two_classes(image_logits, xb)
    j, _ = top_two_classes(image_logits, fb)
    if bool(jnp.any(i == j)):
        raise ValueError(f"x_far: expected images classified differently from x, got the same class at rows "
                         f"{np.flatnonzero(np.asarray(i == j)).tolist()}")
    f = as_partial(image_logits)
    p = bisect_boundary(f, xb, fb, i.astype(jnp.int32), j.astype(jnp.int32), int(iters))
    return (p[0], i[0], j[0]) if single else (p, i, j)


def _pair_decision(image_logits, x, i, j):
    """g_ij(x) with the class pair as trailing (per-image, traced) arguments."""
    return decision_value(image_logits, i, j, x)


class BoundaryCurvature(NamedTuple):
    """Result of :func:`boundary_curvatures` (one row per image).

    Attributes:
      point: boundary point ``(B, D)`` on the segment from the image to its DeepFool point.
      label, target: the class of the image and the class across the boundary ``(B,)``.
      distance: L2 distance from the image to the boundary point ``(B,)``.
      curvatures: top-k principal curvatures of :math:`f_{label} - f_{target} = 0` at the
        point ``(B, k)``, decreasing; positive: the region of ``label`` is locally convex.
      top_two: whether label and target are the two leading classes at the point ``(B,)``
        (else the crossing lies on a stretch of that boundary hidden by a third class).
      residuals: Lanczos residual norms ``|S y - kappa y|`` of the curvatures ``(B, k)``
        (each curvature is within that distance of an eigenvalue of the shape operator S).
    """

    point: jax.Array
    label: jax.Array
    target: jax.Array
    distance: jax.Array
    curvatures: jax.Array
    top_two: jax.Array
    residuals: jax.Array


def boundary_curvatures(logits_fn: Logits, x: ArrayLike, k: int = 5, *, steps: int = 50, overshoot: float = 0.02,
                        which: str = "LM", tol: float = 1e-4, clip: bool = False, iterations: int = 40,
                        chunk: int = 16) -> BoundaryCurvature:
    r"""Principal curvatures of the decision boundary at each image's DeepFool point.

    For each image: DeepFool (:func:`geomlib.deepfool`, ``steps``, ``overshoot``) gives a
    nearby point of another class j; bisection on the segment from the image to it gives
    the boundary point p with :math:`f_i(p) = f_j(p)` (:func:`boundary_point`); the top-k
    principal curvatures of the hypersurface :math:`g_{ij} = 0` at p (the shape operator and
    sign convention of :func:`geomlib.principal_curvatures`) come from a Lanczos
    eigensolver on Hessian-vector products, no D x D matrix: ``iterations`` steps with full
    reorthogonalisation, jit-compiled once and vmapped over the images (``chunk`` at a
    time), so their Hessian-vector products run together as matrix-matrix products
    (:func:`geomlib._src.hypersurface.lanczos_curvatures`). A flat boundary (e.g. a
    linear classifier) gives curvature 0. Use a smooth classifier
    (``load_classifier(..., smooth_temperature=T)``): a ReLU network is piecewise linear,
    and its curvature is 0 almost everywhere.

    The dimensionless product ``distance * curvature`` says whether the bend matters at
    the scale of the attack: the boundary is flat over the distance that DeepFool
    travels where it is much smaller than 1.

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)`` (as for the attacks; its one-image
        version ``logits_fn(x[None])[0]`` gives the decision functions).
      x: images ``(B, D)`` (or one image ``(D,)``: then the fields lose their batch axis).
      k: number of principal curvatures per image, 1 <= k < D - 1.
      steps, overshoot, clip: of DeepFool (1 <= steps <= 10000, overshoot >= 0). ``clip=False`` by default: the boundary is a
        property of the function, and clipping to [0, 1] can stall DeepFool short of it.
      which: ``"LM"`` largest in magnitude, ``"LA"`` most positive, ``"SA"`` most negative.
      tol: relative accuracy asked of each curvature: a Lanczos residual above
        ``tol * |curvature|`` (or above the floating-point noise of the shape operator,
        for curvatures far smaller than the largest one) means not converged, and that
        curvature is NaN (see ``residuals``): raise ``iterations`` then.
      iterations: Lanczos steps (Hessian-vector products per image), >= k, capped at D - 1
        (a larger count, e.g. 2**31, runs D - 1 steps).
        The default 40 gives relative residuals below 1e-7 for the top 3 on the shipped
        smooth classifiers (``mlp-2``, ``mlp-3``, ``lca-mlp-2``, ``lca-mlp-3``, T = 0.05;
        10 test digits), where 30 is borderline.
      chunk: images per vmapped batch (bounds memory).

    Returns:
      :class:`BoundaryCurvature`. Images DeepFool could not move across a boundary have
      NaN distance, curvatures and residuals (and label == target); a curvature the
      Lanczos iteration did not converge to ``tol`` is NaN, never an unconverged value.
    """
    check_callable(logits_fn, "logits_fn", "(B, D) -> (B, K)")
    xb, single = check_batch(x, "x")
    k = check_int(k, "k", 1, xb.shape[1] - 2, high_label="D - 2")
    iterations = check_int(iterations, "iterations", k, low_label="k")
    steps = check_int(steps, "steps", 1, MAX_STEPS)
    overshoot = check_float(overshoot, "overshoot", 0.0)
    if which not in ("LA", "SA", "LM"):
        raise ValueError(f"which: expected 'LA', 'SA' or 'LM', got {which!r}")
    x_adv = deepfool(logits_fn, xb, steps=steps, overshoot=overshoot, clip=clip)
    f = image_logits_of(logits_fn)
    label, _ = top_two_classes(f, xb)
    target, _ = top_two_classes(f, x_adv)
    moved = np.asarray(label != target)
    point = jnp.where(jnp.asarray(moved)[:, None], bisect_boundary(f, xb, x_adv, label.astype(jnp.int32),
                                                                   target.astype(jnp.int32), 30), xb)
    # All rows in one batch (stable shapes: one compilation per batch size); the rows
    # DeepFool did not move have g = f_i - f_i = 0, a zero gradient, and are masked anyway.
    lanczos = lanczos_curvatures(Partial(_pair_decision, f), point, int(k),
                                 args=(label.astype(jnp.int32), target.astype(jnp.int32)), which=which,
                                 iterations=int(iterations), tol=tol, chunk=chunk)
    curv = np.where(moved[:, None], np.asarray(lanczos.curvatures), np.nan)
    res = np.where(moved[:, None], np.asarray(lanczos.residuals), np.nan)
    a, b = (np.asarray(c) for c in top_two_classes(f, point))
    lab, tgt = np.asarray(label), np.asarray(target)
    on_top = moved & (((a == lab) & (b == tgt)) | ((a == tgt) & (b == lab)))
    dist = np.where(moved, np.linalg.norm(np.asarray(point - xb), axis=1), np.nan)
    out = BoundaryCurvature(point, label, target, jnp.asarray(dist, xb.dtype), jnp.asarray(curv, xb.dtype),
                            jnp.asarray(on_top), jnp.asarray(res, xb.dtype))
    return BoundaryCurvature(*(a[0] for a in out)) if single else out
