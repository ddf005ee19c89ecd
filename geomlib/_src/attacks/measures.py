r"""How big and how successful an attack is: the mean squared distance of Paiton et al.
(2020), the perturbation norm, and whether the predicted label changed."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from geomlib._src.attacks.kernels import BATCHED_LOGITS, Logits, Norm, check_class_labels, classes_of
from geomlib._src.core.checks import check_callable, check_images, check_norm


def _check_pair(x_adv, x):
    x_adv = check_images(x_adv, False, "x_adv")
    x = check_images(x, False)
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv: expected the shape of x {x.shape}, got {x_adv.shape}")
    return x_adv, x


def mean_squared_distance(x_adv: ArrayLike, x: ArrayLike) -> jax.Array:
    r"""Attack size as in Paiton et al. (2020): :math:`\frac1D \sum_j (x^{adv}_j - x_j)^2` per image.

    Args:
      x_adv: shape ``(B, D)``.
      x: shape ``(B, D)``.

    Returns:
      shape ``(B,)``.

    >>> mean_squared_distance(jnp.array([[0.5, 0.0]]), jnp.array([[0.0, 0.0]])).tolist()
    [0.125]
    """
    x_adv, x = _check_pair(x_adv, x)
    return jnp.mean((x_adv - x) ** 2, axis=1)


def perturbation_norm(x_adv: ArrayLike, x: ArrayLike, norm: Norm = "2") -> jax.Array:
    r"""Norm of the perturbation per image, :math:`|x^{adv} - x|_2` or :math:`|x^{adv} - x|_\infty`.

    Args:
      x_adv: shape ``(B, D)``.
      x: shape ``(B, D)``.
      norm: ``"2"`` or ``"inf"`` (also ``2``, ``np.inf``).

    Returns:
      shape ``(B,)``.

    >>> perturbation_norm(jnp.array([[0.3, 0.4]]), jnp.zeros((1, 2))).tolist()
    [0.5]
    """
    norm = check_norm(norm)
    x_adv, x = _check_pair(x_adv, x)
    d = x_adv - x
    return jnp.max(jnp.abs(d), axis=1) if norm == "inf" else jnp.linalg.norm(d, axis=1)


def attack_success(logits_fn: Logits, x_adv: ArrayLike, y: ArrayLike | None = None, *,
                   target: ArrayLike | None = None) -> jax.Array:
    """Whether each attack succeeded: predicted label != y, or == target when given.

    Args:
      logits_fn: batched classifier, ``(B, D) -> (B, K)``.
      x_adv: adversarial images, shape ``(B, D)``.
      y: true labels ``(B,)`` (untargeted), or None.
      target: target labels ``(B,)`` (targeted), or None. Exactly one of y, target.

    Returns:
      bool, shape ``(B,)``.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x[:, 0] - 0.5], axis=1)
    >>> attack_success(logits_fn, jnp.array([[0.2], [0.8]]), jnp.array([0, 0])).tolist()
    [False, True]
    """
    if (y is None) == (target is None):
        raise ValueError("y, target: expected exactly one of y (untargeted) or target (targeted), got "
                         f"{'both' if y is not None else 'neither'}")
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x_adv = check_images(x_adv, False, "x_adv")
    k = classes_of(f, x_adv, "x_adv")
    if target is not None:
        return jnp.argmax(f(x_adv), axis=1) == check_class_labels(target, x_adv.shape[0], k, "target")
    labels = check_class_labels(y, x_adv.shape[0], k, "y")
    return jnp.argmax(f(x_adv), axis=1) != labels
