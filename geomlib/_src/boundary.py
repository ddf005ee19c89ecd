r"""Decision boundaries of a classifier: decision functions, their curvature at the
DeepFool point, and straight-line walks between images (chapter 3).

A classifier with logits :math:`f_1, \dots, f_K` assigns x to :math:`\arg\max_k f_k(x)`.
The boundary between classes i and j is the zero level set of the *decision function*

.. math:: g_{ij}(x) = f_i(x) - f_j(x),

so it is an iso-response hypersurface like those of chapters 1 and 2, and its principal
curvatures (:func:`geomlib.principal_curvatures`) follow the same sign convention:
positive where the hypersurface bends around the side where g grows (the region of
class i is locally convex there), negative where it bends the other way.

:func:`boundary_curvatures` follows Moosavi-Dezfooli et al.: find the closest boundary
point with DeepFool, locate the boundary exactly on the segment from the image to it,
and compute the top-k principal curvatures there (matrix-free, Lanczos).
:func:`straight_line_walk` checks whether the segment between two images stays in
one class region.

>>> import jax.numpy as jnp
>>> logits = lambda x: jnp.stack([x[..., 0], x[..., 1], jnp.zeros_like(x[..., 0])], axis=-1)
>>> g = decision_function(logits, 0, 1)
>>> float(g(jnp.array([3.0, 1.0])))
2.0
>>> straight_line_walk(logits, jnp.array([2.0, 1.0]), jnp.array([1.0, -1.0]), n=9).inside.tolist()
True
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from geomlib._src.attacks import deepfool
from geomlib._src.checks import check_int
from geomlib._src.hypersurface import lanczos_curvatures
from geomlib._src.planes import float_dtype

__all__ = [
    "BoundaryCurvature",
    "Walk",
    "adversarial_direction",
    "boundary_curvatures",
    "boundary_point",
    "nearest_other_class",
    "plane_logits",
    "decision_function",
    "same_class_pairs",
    "straight_line_walk",
    "top_two",
]


def _partial(fn) -> Partial:
    """``fn`` as a ``jax.tree_util.Partial`` (a plain function becomes static, a bound Partial
    keeps its parameters traced), so it can be passed to jitted kernels."""
    return fn if isinstance(fn, Partial) else Partial(fn)


def _num_classes(logits_fn, dim: int) -> int:
    shape = jax.eval_shape(logits_fn, jax.ShapeDtypeStruct((dim,), float_dtype())).shape
    if len(shape) != 1:
        raise ValueError(f"logits_fn: expected logits (K,) for one image (D,), got shape {shape}")
    return int(shape[0])


def _decision(logits_fn, i, j, x):
    z = logits_fn(x)
    return z[i] - jnp.where(j < 0, 0.0, z[jnp.maximum(j, 0)])


def decision_function(logits_fn, i: int, j: int | None = None) -> Partial:
    r"""The decision function :math:`g(x) = f_i(x) - f_j(x)` of classes i and j (or the logit
    :math:`f_i` itself when ``j`` is None), as a scalar response R^D -> R.

    Its zero level set is the boundary between the regions of classes i and j (where those
    two are the leading classes). The class indices are bound as traced arguments of a
    ``jax.tree_util.Partial``, so every pair shares one compiled kernel in
    :func:`geomlib.plane_geometry` and friends.

    Args:
      logits_fn: classifier, one image ``(D,)`` -> logits ``(K,)`` (e.g. from
        :func:`geomlib.load_classifier`, which also accepts batches).
      i: the class whose logit counts positively.
      j: the class subtracted, or None for the logit :math:`f_i` alone; ``j != i``.

    Returns:
      ``g``: ``(D,) -> ()``.

    >>> logits = lambda x: jnp.stack([x.sum(), 2 * x[0]])
    >>> g = decision_function(logits, 1, 0)
    >>> float(g(jnp.array([1.0, 3.0])))
    -2.0
    """
    if not callable(logits_fn):
        raise ValueError(f"logits_fn: expected a callable (D,) -> (K,), got {type(logits_fn).__name__}")
    i = check_int(i, "i", 0)
    if j is not None:
        j = check_int(j, "j", 0)
        if j == i:
            raise ValueError(f"j: expected a class other than i = {i}, got {j}")
    return Partial(_decision, _partial(logits_fn), jnp.int32(i), jnp.int32(-1 if j is None else j))


def _check_batch(x, name: str) -> tuple[jax.Array, bool]:
    x = jnp.asarray(x, float_dtype())
    if x.ndim not in (1, 2) or x.shape[-1] < 2:
        raise ValueError(f"{name}: expected one image (D,) or a batch (B, D), got shape {x.shape}")
    if not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError(f"{name}: expected finite entries, got non-finite values")
    return (x[None], True) if x.ndim == 1 else (x, False)


@jax.jit
def _top_two(logits_fn, x):
    z = jax.vmap(logits_fn)(x)
    order = jnp.argsort(-z, axis=1)
    return order[:, 0], order[:, 1]


def top_two(logits_fn, x) -> tuple[jax.Array, jax.Array]:
    """The predicted class and the runner-up of each image.

    Args:
      logits_fn: classifier ``(D,) -> (K,)``, K >= 2.
      x: one image ``(D,)`` or a batch ``(B, D)``.

    Returns:
      ``(label, runner_up)``, integer arrays ``()`` or ``(B,)``.
    """
    xb, single = _check_batch(x, "x")
    if _num_classes(logits_fn, xb.shape[1]) < 2:
        raise ValueError("logits_fn: expected at least 2 classes")
    a, b = _top_two(_partial(logits_fn), xb)
    return (a[0], b[0]) if single else (a, b)


@jax.jit
def _adv_direction(logits_fn, x, i, j):
    g = jax.vmap(jax.grad(lambda x, i, j: _decision(logits_fn, i, j, x)))(x, i, j)
    norm = jnp.linalg.norm(g, axis=1, keepdims=True)
    return jnp.where(norm > 0, -g / jnp.where(norm > 0, norm, 1.0), jnp.nan)


def adversarial_direction(logits_fn, x, target=None) -> jax.Array:
    r"""Unit direction of steepest descent of the decision function toward ``target``:
    :math:`-\nabla(f_k - f_t) / |\nabla(f_k - f_t)|` at x, with k the predicted class and
    t the target (the runner-up by default): the direction of a one-step linearised
    (DeepFool-like) attack, orthogonal to the iso-response contours of :math:`f_k - f_t`.

    Args:
      logits_fn: classifier ``(D,) -> (K,)``.
      x: one image ``(D,)`` or a batch ``(B, D)``.
      target: class ``()`` or ``(B,)`` to move toward; default the runner-up. A target
        equal to the predicted class raises ValueError.

    Returns:
      ``(D,)`` or ``(B, D)``; NaN where the gradient vanishes.

    >>> logits = lambda x: jnp.stack([x @ jnp.array([1.0, 0.0]), x @ jnp.array([0.0, 1.0])])
    >>> [round(float(c), 4) for c in adversarial_direction(logits, jnp.array([2.0, 1.0]))]
    [-0.7071, 0.7071]
    """
    xb, single = _check_batch(x, "x")
    label, runner = top_two(logits_fn, xb)
    if target is None:
        target = runner
    else:
        target = jnp.broadcast_to(jnp.asarray(target), label.shape)
        if not jnp.issubdtype(target.dtype, jnp.integer) or bool(jnp.any(target == label)):
            raise ValueError(f"target: expected class indices other than the predicted ones {label.tolist()}, "
                             f"got {target.tolist()}")
    f = _partial(logits_fn)
    d = _adv_direction(f, xb, label.astype(jnp.int32), target.astype(jnp.int32))
    return d[0] if single else d


@jax.jit
def _bisect(logits_fn, x, x_far, i, j, iters):
    def g(t):
        pts = x + t[:, None] * (x_far - x)
        return jax.vmap(lambda p, i, j: _decision(logits_fn, i, j, p))(pts, i, j)

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        pos = g(mid) > 0
        return jnp.where(pos, mid, lo), jnp.where(pos, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iters, body, (jnp.zeros(x.shape[0], x.dtype), jnp.ones(x.shape[0], x.dtype)))
    t = 0.5 * (lo + hi)
    return x + t[:, None] * (x_far - x)


def boundary_point(logits_fn, x, x_far, iters: int = 30) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""The boundary crossing on the segment from x to ``x_far`` (e.g. a DeepFool point).

    With i the class predicted at x and j the class predicted at ``x_far``, bisection
    finds t in [0, 1] with :math:`g_{ij}(x + t(x_{far} - x)) = 0` (the last sign change
    it brackets; the unique one when the segment crosses the boundary once).

    Args:
      logits_fn: classifier ``(D,) -> (K,)``.
      x, x_far: ``(D,)`` or ``(B, D)``, classified differently (else ValueError).
      iters: bisection steps (the point is within ``2^-iters |x_far - x|`` of the crossing).

    Returns:
      ``(point, i, j)``: boundary points like x, and the two classes.
    """
    xb, single = _check_batch(x, "x")
    fb, _ = _check_batch(x_far, "x_far")
    if fb.shape != xb.shape:
        raise ValueError(f"x_far: expected shape {tuple(jnp.shape(x))} (the shape of x), got {tuple(jnp.shape(x_far))}")
    iters = check_int(iters, "iters")
    i, _ = top_two(logits_fn, xb)
    j, _ = top_two(logits_fn, fb)
    if bool(jnp.any(i == j)):
        raise ValueError(f"x_far: expected images classified differently from x, got the same class at rows "
                         f"{np.flatnonzero(np.asarray(i == j)).tolist()}")
    f = _partial(logits_fn)
    p = _bisect(f, xb, fb, i.astype(jnp.int32), j.astype(jnp.int32), int(iters))
    return (p[0], i[0], j[0]) if single else (p, i, j)


def _pair_decision(logits_fn, x, i, j):
    """g_ij(x) with the class pair as trailing (per-image, traced) arguments."""
    return _decision(logits_fn, i, j, x)


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


def boundary_curvatures(logits_fn, x, k: int = 5, *, steps: int = 50, overshoot: float = 0.02,
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
      logits_fn: classifier accepting ``(B, D) -> (B, K)`` and ``(D,) -> (K,)``.
      x: images ``(B, D)`` (or one image ``(D,)``: then the fields lose their batch axis).
      k: number of principal curvatures per image, 1 <= k < D - 1.
      steps, overshoot, clip: of DeepFool. ``clip=False`` by default: the boundary is a
        property of the function, and clipping to [0, 1] can stall DeepFool short of it.
      which: ``"LM"`` largest in magnitude, ``"LA"`` most positive, ``"SA"`` most negative.
      tol: relative accuracy asked of each curvature: a Lanczos residual above
        ``tol * |curvature|`` (or above the floating-point noise of the shape operator,
        for curvatures far smaller than the largest one) means not converged, and that
        curvature is NaN (see ``residuals``): raise ``iterations`` then.
      iterations: Lanczos steps (Hessian-vector products per image), capped at D - 1.
        The default 40 gives relative residuals below 1e-7 for the top 3 on the shipped
        smooth classifiers (``mlp-2``, ``mlp-3``, ``lca-mlp-2``, ``lca-mlp-3``, T = 0.05;
        10 test digits), where 30 is borderline.
      chunk: images per vmapped batch (bounds memory).

    Returns:
      :class:`BoundaryCurvature`. Images DeepFool could not move across a boundary have
      NaN distance, curvatures and residuals (and label == target); a curvature the
      Lanczos iteration did not converge to ``tol`` is NaN, never an unconverged value.
    """
    xb, single = _check_batch(x, "x")
    k = check_int(k, "k", 1, xb.shape[1] - 2, high_label="D - 2")
    iterations = check_int(iterations, "iterations", k, low_label="k")
    if which not in ("LA", "SA", "LM"):
        raise ValueError(f"which: expected 'LA', 'SA' or 'LM', got {which!r}")
    x_adv = deepfool(logits_fn, xb, steps=steps, overshoot=overshoot, clip=clip)
    label, _ = top_two(logits_fn, xb)
    target, _ = top_two(logits_fn, x_adv)
    moved = np.asarray(label != target)
    f = _partial(logits_fn)
    point = jnp.where(jnp.asarray(moved)[:, None], _bisect(f, xb, x_adv, label.astype(jnp.int32),
                                                           target.astype(jnp.int32), 30), xb)
    # All rows in one batch (stable shapes: one compilation per batch size); the rows
    # DeepFool did not move have g = f_i - f_i = 0, a zero gradient, and are masked anyway.
    lanczos = lanczos_curvatures(Partial(_pair_decision, f), point, int(k),
                                 args=(label.astype(jnp.int32), target.astype(jnp.int32)), which=which,
                                 iterations=int(iterations), tol=tol, chunk=chunk)
    curv = np.where(moved[:, None], np.asarray(lanczos.curvatures), np.nan)
    res = np.where(moved[:, None], np.asarray(lanczos.residuals), np.nan)
    a, b = (np.asarray(c) for c in top_two(logits_fn, point))
    lab, tgt = np.asarray(label), np.asarray(target)
    on_top = moved & (((a == lab) & (b == tgt)) | ((a == tgt) & (b == lab)))
    dist = np.where(moved, np.linalg.norm(np.asarray(point - xb), axis=1), np.nan)
    out = BoundaryCurvature(point, label, target, jnp.asarray(dist, xb.dtype), jnp.asarray(curv, xb.dtype),
                            jnp.asarray(on_top), jnp.asarray(res, xb.dtype))
    return BoundaryCurvature(*(a[0] for a in out)) if single else out


class Walk(NamedTuple):
    """Result of :func:`straight_line_walk` (one row per pair).

    Attributes:
      inside: the whole segment (endpoints included) is classified as ``label`` ``(B,)``.
      fraction: fraction of the path points classified as ``label`` ``(B,)``.
      classes: predicted class at each path point ``(B, n)``.
      label: the class the walk should stay in ``(B,)``.
    """

    inside: jax.Array
    fraction: jax.Array
    classes: jax.Array
    label: jax.Array


@jax.jit
def _walk(logits_fn, x0, x1, t):
    pts = x0[:, None, :] + t[None, :, None] * (x1 - x0)[:, None, :]
    z = jax.vmap(jax.vmap(logits_fn))(pts)
    return jnp.argmax(z, axis=-1)


def straight_line_walk(logits_fn, x0, x1, n: int = 64, label=None) -> Walk:
    r"""Walk in a straight line from x0 to x1: does the class stay the same?

    Classifies the n equally spaced points :math:`x_0 + t (x_1 - x_0)`, t = 0, 1/(n-1),
    ..., 1, and reports whether all of them are in the class ``label`` (by default the
    class predicted at x0). A convex class region contains every such segment; a
    segment that leaves the region shows that the region is not convex along it (at the
    resolution n).

    Args:
      logits_fn: classifier ``(D,) -> (K,)``.
      x0, x1: endpoints ``(D,)`` or batches ``(B, D)`` of pairs.
      n: path points, >= 2.
      label: class ``()`` or ``(B,)`` to stay in; default the class predicted at x0.

    Returns:
      :class:`Walk` (fields without the batch axis for a single pair).
    """
    xb, single = _check_batch(x0, "x0")
    yb, _ = _check_batch(x1, "x1")
    if yb.shape != xb.shape:
        raise ValueError(f"x1: expected shape {tuple(jnp.shape(x0))} (the shape of x0), got {tuple(jnp.shape(x1))}")
    n = check_int(n, "n", 2)
    f = _partial(logits_fn)
    t = jnp.linspace(0.0, 1.0, int(n), dtype=xb.dtype)
    classes = _walk(f, xb, yb, t)
    lab = classes[:, 0] if label is None else jnp.broadcast_to(jnp.asarray(label), (len(xb),))
    if label is not None and (not jnp.issubdtype(lab.dtype, jnp.integer) or bool(jnp.any(lab < 0))):
        raise ValueError(f"label: expected non-negative class indices, got {label!r}")
    same = classes == lab[:, None]
    out = Walk(jnp.all(same, axis=1), jnp.mean(same, axis=1), classes, lab)
    return Walk(*(a[0] for a in out)) if single else out


def same_class_pairs(labels, n_pairs: int, seed: int = 0, allowed=None) -> np.ndarray:
    """Random pairs of distinct images with the same label (numpy, seeded).

    Args:
      labels: ``(N,)`` integer labels.
      n_pairs: number of pairs (sampled with replacement over pairs, without repeating
        an image within a pair).
      seed: numpy seed.
      allowed: optional boolean mask ``(N,)`` of the images that may be used (e.g. the
        ones every model classifies correctly).

    Returns:
      indices ``(n_pairs, 2)``; the classes are drawn in proportion to their counts.

    >>> same_class_pairs([0, 1, 0, 1, 0], 3, seed=1).shape
    (3, 2)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected integer labels (N,), got {labels.dtype} shape {labels.shape}")
    n_pairs = check_int(n_pairs, "n_pairs")
    ok = np.ones(len(labels), bool) if allowed is None else np.asarray(allowed, bool)
    if ok.shape != labels.shape:
        raise ValueError(f"allowed: expected a mask of shape {labels.shape}, got {ok.shape}")
    idx = np.flatnonzero(ok)
    classes, counts = np.unique(labels[idx], return_counts=True)
    keep = counts >= 2
    if not keep.any():
        raise ValueError("labels: expected at least one class with two allowed images")
    classes, counts = classes[keep], counts[keep]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(classes), size=int(n_pairs), p=counts / counts.sum())
    out = np.empty((int(n_pairs), 2), np.int64)
    for r, c in enumerate(picks):
        members = idx[labels[idx] == classes[c]]
        out[r] = rng.choice(members, size=2, replace=False)
    return out


@jax.jit
def _plane_logits(logits_fn, origin, u, v, coords):
    pts = origin + coords[..., :1] * u + coords[..., 1:] * v
    flat = pts.reshape(-1, pts.shape[-1])
    return jax.lax.map(jax.vmap(logits_fn), flat.reshape(-1, 256, flat.shape[-1])).reshape(
        *coords.shape[:-1], -1)


def plane_logits(logits_fn, plane, coords) -> jax.Array:
    """All logits of a classifier on a plane: ``logits_fn(origin + a u + b v)``.

    One forward pass per point gives every class at once, so the logit maps and the
    decision-function maps of all class pairs cost one evaluation of the grid.

    Args:
      logits_fn: classifier ``(D,) -> (K,)``.
      plane: a :class:`geomlib.Plane`.
      coords: plane coordinates ``(..., 2)`` (e.g. ``geomlib.grid(n, extent)``); the
        number of points must be a multiple of 256 or is padded to one internally.

    Returns:
      logits ``(..., K)``.

    >>> import geomlib
    >>> p = geomlib.plane(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))
    >>> z = plane_logits(lambda x: jnp.stack([x[0], -x[0]]), p, geomlib.grid(4, 1.0))
    >>> z.shape, float(z[0, -1, 0])
    ((4, 4, 2), 1.0)
    """
    coords = jnp.asarray(coords, float_dtype())
    if coords.ndim < 1 or coords.shape[-1] != 2:
        raise ValueError(f"coords: expected plane coordinates of shape (..., 2), got {coords.shape}")
    flat = coords.reshape(-1, 2)
    m = len(flat)
    pad = (-m) % 256
    flat = jnp.concatenate([flat, jnp.zeros((pad, 2), flat.dtype)])
    f = _partial(logits_fn)
    z = _plane_logits(f, jnp.asarray(plane.origin, flat.dtype), jnp.asarray(plane.u, flat.dtype),
                      jnp.asarray(plane.v, flat.dtype), flat)
    return z.reshape(m + pad, -1)[:m].reshape(*coords.shape[:-1], -1)


def nearest_other_class(images, labels, index: int) -> int:
    """Index of the image closest (L2) to ``images[index]`` among those with another label.

    >>> nearest_other_class(np.array([[0.0], [3.0], [1.0], [0.5]]), np.array([0, 1, 1, 0]), 0)
    2
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 2 or labels.shape != (len(images),):
        raise ValueError(f"images, labels: expected (N, D) and (N,), got {images.shape} and {labels.shape}")
    index = check_int(index, "index", 0, len(images) - 1, high_label="N - 1")
    other = np.flatnonzero(labels != labels[index])
    if not len(other):
        raise ValueError("labels: expected at least one image of another class")
    d = np.linalg.norm(images[other] - images[index], axis=1)
    return int(other[np.argmin(d)])
