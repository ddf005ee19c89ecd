r"""Straight-line walks between images (does the segment stay in one class region?), and
the pairs of images to walk between."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.boundary.decision import IMAGE_LOGITS, ImageLogits, image_num_classes, check_batch
from geomlib._src.core.checks import check_array, check_callable, check_int

#: Upper bound of the path points of :func:`straight_line_walk`.
MAX_WALK_POINTS = 100_000


class StraightLineWalk(NamedTuple):
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


Walk = StraightLineWalk  # alias, to be removed after the next release


@jax.jit
def _walk(image_logits, x0, x1, t):
    pts = x0[:, None, :] + t[None, :, None] * (x1 - x0)[:, None, :]
    z = jax.vmap(jax.vmap(image_logits))(pts)
    return jnp.argmax(z, axis=-1)


def straight_line_walk(image_logits: ImageLogits, x0: ArrayLike, x1: ArrayLike, n: int = 64,
                       label: ArrayLike | None = None) -> StraightLineWalk:
    r"""Walk in a straight line from x0 to x1: does the class stay the same?

    Classifies the n equally spaced points :math:`x_0 + t (x_1 - x_0)`, t = 0, 1/(n-1),
    ..., 1, and reports whether all of them are in the class ``label`` (by default the
    class predicted at x0). A convex class region contains every such segment; a
    segment that leaves the region shows that the region is not convex along it (at the
    resolution n).

    Args:
      image_logits: classifier of one image ``(D,) -> (K,)``.
      x0, x1: endpoints ``(D,)`` or batches ``(B, D)`` of pairs.
      n: path points, 2 <= n <= 100000.
      label: integer class in [0, K), ``()`` or ``(B,)``, to stay in; default the class
        predicted at x0.

    Returns:
      :class:`StraightLineWalk` (fields without the batch axis for a single pair).
    """
    xb, single = check_batch(x0, "x0")
    yb, _ = check_batch(x1, "x1")
    if yb.shape != xb.shape:
        raise ValueError(f"x1: expected shape {tuple(jnp.shape(x0))} (the shape of x0), got {tuple(jnp.shape(x1))}")
    n = check_int(n, "n", 2, MAX_WALK_POINTS)
    f = check_callable(image_logits, "image_logits", IMAGE_LOGITS)
    if label is not None:
        lab = check_array(label, "label", kind="int")
        if lab.shape not in (((),) if single else ((), (len(xb),))):
            want = "a class () for one pair" if single else f"a class () or classes (B,) = ({len(xb)},)"
            raise ValueError(f"label: expected {want}, got shape {lab.shape}")
        k = image_num_classes(f, xb.shape[1])
        if bool(jnp.any((lab < 0) | (lab >= k))):
            raise ValueError(f"label: expected non-negative class indices in [0, K) = [0, {k}), got {label!r}")
    t = jnp.linspace(0.0, 1.0, int(n), dtype=xb.dtype)
    classes = _walk(f, xb, yb, t)
    lab = classes[:, 0] if label is None else jnp.broadcast_to(lab, (len(xb),))
    same = classes == lab[:, None]
    out = StraightLineWalk(jnp.all(same, axis=1), jnp.mean(same, axis=1), classes, lab)
    return StraightLineWalk(*(a[0] for a in out)) if single else out


def same_class_pairs(labels: ArrayLike, n_pairs: int, seed: int = 0, allowed: ArrayLike | None = None) -> np.ndarray:
    """Random pairs of distinct images with the same label (numpy, seeded).

    Args:
      labels: ``(N,)`` non-negative integer labels.
      n_pairs: number of pairs (sampled with replacement over pairs, without repeating
        an image within a pair), 1 <= n_pairs <= 10**7.
      seed: numpy seed, an integer >= 0 (None is rejected: the pairs are reproducible).
      allowed: optional boolean mask ``(N,)`` of the images that may be used (e.g. the
        ones every model classifies correctly).

    Returns:
      indices ``(n_pairs, 2)``; the classes are drawn in proportion to their counts.

    >>> same_class_pairs([0, 1, 0, 1, 0], 3, seed=1).shape
    (3, 2)
    """
    labels = np.asarray(check_array(labels, "labels", kind="int"))
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected integer labels (N,), got {labels.dtype} shape {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels: expected non-negative class labels, got minimum {int(labels.min())}")
    n_pairs = check_int(n_pairs, "n_pairs", 1, 10 ** 7)
    seed = check_int(seed, "seed", 0)
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


def nearest_other_class(images: ArrayLike, labels: ArrayLike, index: int) -> int:
    """Index of the image closest (L2) to ``images[index]`` among those with another label.

    ``images`` ``(N, D)`` real and finite, ``labels`` ``(N,)`` integers, ``index`` in [0, N).

    >>> nearest_other_class(np.array([[0.0], [3.0], [1.0], [0.5]]), np.array([0, 1, 1, 0]), 0)
    2
    """
    images = np.asarray(check_array(images, "images", ndim=2))
    labels = np.asarray(check_array(labels, "labels", kind="int"))
    if images.ndim != 2 or labels.shape != (len(images),):
        raise ValueError(f"images, labels: expected (N, D) and (N,), got {images.shape} and {labels.shape}")
    index = check_int(index, "index", 0, len(images) - 1, high_label="N - 1")
    other = np.flatnonzero(labels != labels[index])
    if not len(other):
        raise ValueError("labels: expected at least one image of another class")
    d = np.linalg.norm(images[other] - images[index], axis=1)
    return int(other[np.argmin(d)])
