r"""The CURE curvature penalty (Moosavi-Dezfooli et al. 2019): how much the input gradient
of the loss changes over a short step along the attack direction."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array
from geomlib._src.core.dtypes import is_concrete


def _unit_sign(g):
    """sign(g) / |sign(g)|_2 per row (0 where g = 0): CURE's finite-difference direction."""
    z = jnp.sign(g)
    n = jnp.linalg.norm(z, axis=1, keepdims=True)
    return jnp.where(n > 0, z / jnp.where(n > 0, n, 1), 0)


def cure_kernel(loss_fn, x, h) -> jax.Array:
    """Per-row CURE penalty of a batched per-example loss ``(B, D) -> (B,)`` (differentiable;
    checked arguments)."""
    grad = jax.grad(lambda x: jnp.sum(loss_fn(x)))
    g = grad(x)
    z = jax.lax.stop_gradient(_unit_sign(g))
    return jnp.sum((grad(x + h * z) - g) ** 2, axis=1)


def cure_penalty(fn: Callable[[jax.Array], jax.Array], x: ArrayLike, h: ArrayLike,
                 y: ArrayLike | None = None) -> jax.Array:
    r"""CURE curvature penalty per image (Moosavi-Dezfooli et al. 2019): how much the input
    gradient of the loss changes over a step of length h.

    .. math:: R(x) = \big|\nabla_x L(x + h z) - \nabla_x L(x)\big|_2^2, \qquad
              z = \operatorname{sign}\nabla_x L(x) / |\operatorname{sign}\nabla_x L(x)|_2 ,

    a finite-difference estimate of :math:`h^2 |H z|^2` (H the Hessian of L in x) along
    the direction an L-inf attack takes first. It is zero wherever L is linear in x on the
    segment, and :math:`h^2 |A z|^2` for :math:`L = \tfrac12 x^\top A x`. ``x + h z`` is not
    clipped to [0, 1]. Where the gradient is 0, z = 0 and R = 0.

    Args:
      fn: a per-example loss ``(B, D) -> (B,)`` (each row depending on its own image); or,
        with ``y``, a classifier ``logits_fn: (B, D) -> (B, K)`` whose softmax
        cross-entropy with the labels ``y`` is the loss.
      x: images ``(B, D)``, real and finite (checked where concrete; under ``jit`` a NaN
        gives a NaN penalty).
      h: step length (Euclidean), scalar > 0; for MNIST pixels in [0, 1] a unit L2 step
        is ``1 / 28`` per pixel along ``sign``.
      y: integer labels ``(B,)`` in [0, K) (checked where concrete), or None when ``fn``
        is the loss itself.

    Returns:
      penalties, shape ``(B,)``.

    Reference: Moosavi-Dezfooli, Fawzi, Uesato & Frossard (2019), Robustness via curvature
    regularization, and vice versa, CVPR.

    >>> a = jnp.diag(jnp.array([1.0, 3.0]))
    >>> quadratic = lambda x: 0.5 * jnp.einsum("bi,ij,bj->b", x, a, x)
    >>> round(float(cure_penalty(quadratic, jnp.array([[1.0, 1.0]]), 2.0)[0]), 4)   # h^2 |A z|^2 = 4 * 10 / 2
    20.0
    >>> cure_penalty(lambda x: x @ jnp.array([1.0, -2.0]), jnp.ones((3, 2)), 2.0).tolist()
    [0.0, 0.0, 0.0]
    """
    if not callable(fn):
        raise ValueError(f"fn: expected a callable (B, D) -> (B,) (or logits (B, K) with y), got {type(fn).__name__}")
    x = check_array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x: expected a batch of images of shape (B, D), got shape {x.shape}")
    if (isinstance(h, (bool, np.bool_, str, bytes)) or h is None
            or not (np.ndim(h) == 0 and (not is_concrete(h) or 0 < float(h) < np.inf))):
        raise ValueError(f"h: expected a finite scalar > 0, got {h!r}")
    if y is None:
        loss_fn = fn
    else:
        if isinstance(y, (str, bytes)):
            raise ValueError(f"y: expected integer labels of shape ({x.shape[0]},), got {type(y).__name__} {y!r}")
        y = jnp.asarray(y)
        if y.shape != x.shape[:1] or not jnp.issubdtype(y.dtype, jnp.integer):
            raise ValueError(f"y: expected integer labels of shape ({x.shape[0]},), got {y.dtype} {y.shape}")
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct(x.shape, x.dtype))
        k = getattr(out, "shape", (None, None))[-1] if len(getattr(out, "shape", ())) == 2 else None
        if k is not None and is_concrete(y) and y.size:
            yn = np.asarray(y)
            if yn.min() < 0 or yn.max() >= k:
                raise ValueError(f"y: expected integer labels in [0, K) = [0, {k}) (K from the logits of fn), got "
                                 f"values in [{int(yn.min())}, {int(yn.max())}]")

        def loss_fn(x):
            return optax.softmax_cross_entropy_with_integer_labels(fn(x), y)

    out = jax.eval_shape(loss_fn, jax.ShapeDtypeStruct(x.shape, x.dtype))
    if getattr(out, "shape", None) != x.shape[:1]:
        raise ValueError(f"fn: expected a per-example loss of shape ({x.shape[0]},)"
                         f"{' (from logits and y)' if y is not None else ''}, got {getattr(out, 'shape', out)}")
    return cure_kernel(loss_fn, x, jnp.asarray(h, x.dtype))
