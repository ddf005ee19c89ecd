r"""Semantic content of a perturbation: does it look like "turn the source digit into the
target digit"? Class means and the cosine of a perturbation with their difference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_int, check_labels


def class_means(x: ArrayLike, y: ArrayLike, num_classes: int = 10) -> jax.Array:
    """Mean image of each class, ``(num_classes, D)`` from images ``(n, D)`` and labels ``(n,)``
    (NaN rows for classes without images). ``x`` real and finite, ``y`` integers in
    ``[0, num_classes)``, ``1 <= num_classes <= 2**20``."""
    x = check_array(x, "x")
    num_classes = check_int(num_classes, "num_classes", 1, 2 ** 20)
    if x.ndim != 2:
        raise ValueError(f"x: expected images of shape (n, D), got shape {x.shape}")
    y = check_labels(check_array(y, "y", kind="int"), x.shape[0], int(num_classes), "y")
    onehot = jax.nn.one_hot(y, num_classes, dtype=x.dtype)
    return (onehot.T @ x) / onehot.sum(axis=0)[:, None]


def template_cosine(x_adv: ArrayLike, x: ArrayLike, source: ArrayLike, target: ArrayLike,
                    means: ArrayLike) -> jax.Array:
    r"""How much a perturbation looks like "turn the source digit into the target digit".

    .. math:: \cos\big(x^{adv} - x,\ \mu_t - \mu_s\big)

    with :math:`\mu_k` the class means (:func:`class_means`). Random noise scores about
    :math:`\pm 1/\sqrt D`; a perturbation that draws the target's strokes and erases the
    source's scores high.

    Args:
      x_adv, x: ``(B, D)``, real and finite.
      source, target: int ``(B,)`` in ``[0, K)``.
      means: ``(K, D)``, real and finite; a row all NaN (a class without images, as
        :func:`class_means` gives it) makes the cosines of images from or to that class NaN.

    Returns:
      ``(B,)``, NaN for a zero perturbation.
    """
    for value, name in ((x_adv, "x_adv"), (x, "x"), (means, "means"), (source, "source"), (target, "target")):
        check_array(value, name, finite=name in ("x_adv", "x"))
    if np.isinf(np.asarray(means)).any() or (np.isnan(means).any(axis=1) & ~np.isnan(means).all(axis=1)).any():
        raise ValueError("means: expected finite class means (a row all NaN for a class without images), got "
                         "infinite or partly NaN rows")
    x_adv, x, means = jnp.asarray(x_adv), jnp.asarray(x), jnp.asarray(means)
    if x_adv.ndim != 2 or x_adv.shape != x.shape:
        raise ValueError(f"x_adv: expected the shape (B, D) of x {x.shape}, got {x_adv.shape}")
    if means.ndim != 2 or means.shape[1] != x.shape[1]:
        raise ValueError(f"means: expected shape (K, {x.shape[1]}), got {means.shape}")
    source = check_labels(source, x.shape[0], means.shape[0], "source")
    target = check_labels(target, x.shape[0], means.shape[0], "target")
    d = x_adv - x
    t = means[target] - means[source]
    den = jnp.linalg.norm(d, axis=1) * jnp.linalg.norm(t, axis=1)
    return jnp.where(den > 0, jnp.sum(d * t, axis=1) / jnp.where(den > 0, den, 1), jnp.nan)
