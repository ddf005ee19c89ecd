r"""The direction of steepest descent of a decision function: a one-step linearised
(DeepFool-like) attack direction."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from geomlib._src.boundary.decision import (
    IMAGE_LOGITS,
    ImageLogits,
    as_partial,
    check_batch,
    decision_value,
    top_two_classes,
)
from geomlib._src.core.checks import check_array, check_callable


@jax.jit
def _adv_direction(image_logits, x, i, j):
    g = jax.vmap(jax.grad(lambda x, i, j: decision_value(image_logits, i, j, x)))(x, i, j)
    norm = jnp.linalg.norm(g, axis=1, keepdims=True)
    return jnp.where(norm > 0, -g / jnp.where(norm > 0, norm, 1.0), jnp.nan)


def adversarial_direction(image_logits: ImageLogits, x: ArrayLike, target: ArrayLike | None = None) -> jax.Array:
    r"""Unit direction of steepest descent of the decision function toward ``target``:
    :math:`-\nabla(f_k - f_t) / |\nabla(f_k - f_t)|` at x, with k the predicted class and
    t the target (the runner-up by default): the direction of a one-step linearised
    (DeepFool-like) attack, orthogonal to the iso-response contours of :math:`f_k - f_t`.

    Args:
      image_logits: classifier of one image ``(D,) -> (K,)``.
      x: one image ``(D,)`` or a batch ``(B, D)``.
      target: class ``()`` or ``(B,)`` (integers in ``[0, K)``) to move toward; default the
        runner-up. A target equal to the predicted class raises ValueError.

    Returns:
      ``(D,)`` or ``(B, D)``; NaN where the gradient vanishes.

    >>> logits = lambda x: jnp.stack([x @ jnp.array([1.0, 0.0]), x @ jnp.array([0.0, 1.0])])
    >>> [round(float(c), 4) for c in adversarial_direction(logits, jnp.array([2.0, 1.0]))]
    [-0.7071, 0.7071]
    """
    image_logits = check_callable(image_logits, "image_logits", IMAGE_LOGITS)
    check_array(x, "x", finite=False)
    xb, single = check_batch(x, "x")
    label, runner = top_two_classes(image_logits, xb)
    if target is None:
        target = runner
    else:
        target = _check_target(target, label, image_logits, xb, single)
        if not jnp.issubdtype(target.dtype, jnp.integer) or bool(jnp.any(target == label)):
            raise ValueError(f"target: expected class indices other than the predicted ones {label.tolist()}, "
                             f"got {target.tolist()}")
    f = as_partial(image_logits)
    d = _adv_direction(f, xb, label.astype(jnp.int32), target.astype(jnp.int32))
    return d[0] if single else d


def _check_target(target, label: jax.Array, image_logits, xb: jax.Array, single: bool) -> jax.Array:
    """``target`` broadcast to the shape ``(B,)`` of ``label``: a real array of that shape or
    ``()``, with integer entries in ``[0, K)``."""
    check_array(target, "target", finite=False)
    target = jnp.asarray(target)
    if target.shape not in ((), label.shape):
        want = "()" if single else f"() or (B,) = ({label.shape[0]},)"
        raise ValueError(f"target: expected a class index of shape {want}, got shape {target.shape}")
    k = jax.eval_shape(image_logits, jax.ShapeDtypeStruct(xb.shape[1:], xb.dtype)).shape[-1]
    if jnp.issubdtype(target.dtype, jnp.integer) and not bool(jnp.all((target >= 0) & (target < k))):
        raise ValueError(f"target: expected class indices in [0, {k}) (K = {k} classes), got {target.tolist()}")
    return jnp.broadcast_to(target, label.shape)
