r"""The targeted iterative sign attack that stops, per image, at a target confidence
(the attack whose size Paiton et al. 2020 report)."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from geomlib._src.attacks.kernels import Logits, attack_setup, check_class_labels, check_steps, clip_box, pick_class
from geomlib._src.core.checks import check_scalar


class SignAttackResult(NamedTuple):
    """Outcome of :func:`targeted_sign_attack`.

    Attributes:
      x_adv: adversarial images, shape ``(B, D)``: each image at the first step where
        the target confidence was reached (or after ``max_steps`` steps).
      steps: sign steps taken per image, int32 shape ``(B,)``.
      reached: whether the target probability reached ``confidence``, bool ``(B,)``.
      target_prob: softmax probability of the target class at ``x_adv``, ``(B,)``.
    """

    x_adv: jax.Array
    steps: jax.Array
    reached: jax.Array
    target_prob: jax.Array


@functools.partial(jax.jit, static_argnames=("clip",))
def _sign_attack(f, x, target, step_size, confidence, max_steps, clip):
    def log_prob(x):
        lp = pick_class(jax.nn.log_softmax(f(x), axis=1), target)
        return lp.sum(), lp

    grad_fn = jax.grad(log_prob, has_aux=True)

    def body(carry):
        t, x_adv, _, steps, _ = carry
        g, lp = grad_fn(x_adv)
        prob = jnp.exp(lp)
        move = (prob < confidence) & (t < max_steps)
        x_adv = jnp.where(move[:, None], clip_box(x_adv + step_size * jnp.sign(g), clip), x_adv)
        return t + 1, x_adv, prob, steps + move, jnp.any(move)

    # Each pass evaluates the current images and steps only those below the confidence;
    # the loop ends after a pass that moved nothing, so `prob` belongs to the returned
    # images and frozen images never change again.
    init = (jnp.int32(0), x, jnp.zeros(x.shape[0], x.dtype), jnp.zeros(x.shape[0], jnp.int32), jnp.bool_(True))
    _, x_adv, prob, steps, _ = jax.lax.while_loop(lambda c: c[-1], body, init)
    return SignAttackResult(x_adv, steps, prob >= confidence, prob)


def targeted_sign_attack(logits_fn: Logits, x: ArrayLike, target: ArrayLike, step_size: ArrayLike, max_steps: int,
                         confidence: ArrayLike = 0.9, *, clip: bool = True) -> SignAttackResult:
    r"""Targeted iterative sign-gradient attack that stops, per image, at a target confidence.

    .. math::

       x^{t+1} = \Pi_{[0,1]}\big(x^t + \alpha \operatorname{sign} \nabla_x \log p_t(x^t)\big)
       \quad \text{while } p_t(x^t) < c,

    with :math:`p_t` the softmax probability of the target. Each image stops at the
    first step where :math:`p_t \ge c` and is frozen there (no eps-ball), so its size
    (:func:`mean_squared_distance`) is measured at that step, as in Paiton et al.
    (2020), who used c = 0.9. Images already at the confidence are returned unchanged.

    Args:
      logits_fn: batched classifier, ``(B, D) -> (B, K)``.
      x: images, shape ``(B, D)``.
      target: target labels, int ``(B,)``.
      step_size: alpha, a real scalar > 0 (Paiton et al. 2020 use 0.005 on MNIST).
      max_steps: at most this many steps per image, an integer in [0, ``MAX_STEPS`` = 10**7]
        (traced: no recompilation); 0 takes no step and only reports whether each image
        is already at the confidence.
      confidence: c in (0, 1).
      clip: keep the images in [0, 1] (a bool).

    Returns:
      :class:`SignAttackResult` ``(x_adv (B, D), steps (B,), reached (B,), target_prob (B,))``.

    References: Kurakin, Goodfellow & Bengio (2017), Adversarial examples in the
    physical world, ICLR workshop; Paiton, Frye, Lundquist, Bowen, Zarcone & Olshausen
    (2020), Selectivity and robustness of sparse coding networks, J. Vision 20(12):10.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), 4 * x.sum(axis=1) - 4], axis=1)
    >>> res = targeted_sign_attack(logits_fn, jnp.array([[0.5, 0.5]]), jnp.array([1]), 0.1, 20)
    >>> res.steps.tolist(), res.reached.tolist()
    ([3], [True])
    """
    f, x, k = attack_setup(logits_fn, x, clip)
    target = check_class_labels(target, x.shape[0], k, "target")
    step_size = check_scalar(step_size, "step_size", x.dtype, strict=True)
    confidence = check_scalar(confidence, "confidence", x.dtype, strict=True, high=1.0)
    max_steps = check_steps(max_steps, "max_steps", 0)
    return _sign_attack(f, x, target, step_size, confidence, jnp.int32(max_steps), bool(clip))
