r"""Gradient attacks in an eps-ball: the fast gradient (sign) method and projected gradient descent."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from geomlib._src.attacks.kernels import Logits, Norm, attack_labels, attack_setup, check_steps, pgd_kernel
from geomlib._src.core.checks import check_key, check_norm, check_scalar


def fgsm(logits_fn: Logits, x: ArrayLike, y: ArrayLike | None, eps: ArrayLike, norm: Norm = "inf", *,
         target: ArrayLike | None = None, clip: bool = True) -> jax.Array:
    r"""Fast gradient (sign) method: one steepest-ascent step of the cross-entropy.

    .. math::

       x^{adv} = \Pi_{[0,1]}\big(x + \epsilon\, d\big), \qquad
       d = \operatorname{sign}\nabla_x L \ (L_\infty) \quad\text{or}\quad
       d = \nabla_x L / |\nabla_x L|_2 \ (L_2),

    with L the cross-entropy of the true label y (untargeted) or minus that of the
    target (targeted). For a linear model, d is the exact optimum of the linearised
    loss on the eps-ball: ``eps * sign(w)`` resp. ``eps * w / |w|`` along the
    direction that lowers the true class margin.

    Args:
      logits_fn: batched classifier, ``(B, D) -> (B, K)``.
      x: images, shape ``(B, D)``, in [0, 1] when ``clip``.
      y: true labels, int ``(B,)``; may be None when ``target`` is given.
      eps: step size = radius of the ball, a real scalar >= 0 (not a bool).
      norm: ``"inf"`` (or ``np.inf``) or ``"2"`` (or ``2``).
      target: target labels ``(B,)`` for a targeted step, or None.
      clip: keep the images in [0, 1] (a bool).

    Returns:
      adversarial images, shape ``(B, D)``. An image whose gradient underflows to 0
      (saturated softmax) is not moved.

    Reference: Goodfellow, Shlens & Szegedy (2015), Explaining and harnessing
    adversarial examples, ICLR.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x @ jnp.array([1.0, -2.0])], axis=1)
    >>> fgsm(logits_fn, jnp.array([[0.5, 0.5]]), jnp.array([0]), 0.25).tolist()
    [[0.75, 0.25]]
    """
    norm = check_norm(norm)
    f, x, k = attack_setup(logits_fn, x, clip)
    eps = check_scalar(eps, "eps", x.dtype)
    labels, targeted = attack_labels(y, target, x.shape[0], k)
    return pgd_kernel(f, x, labels, targeted, eps, eps, jnp.int32(1), None, norm, bool(clip))


def pgd(logits_fn: Logits, x: ArrayLike, y: ArrayLike | None, eps: ArrayLike, steps: int, step_size: ArrayLike,
        norm: Norm = "inf", target: ArrayLike | None = None, key: jax.Array | None = None, *,
        clip: bool = True) -> jax.Array:
    r"""Projected gradient descent (ascent of the loss) in an L-inf or L2 ball.

    .. math::

       x^{t+1} = \Pi_{[0,1]}\Big(x + \Pi_{B_\epsilon}\big(x^t + \alpha\, d(\nabla_x L(x^t)) - x\big)\Big),

    d as in :func:`fgsm`, :math:`\Pi_{B_\epsilon}` the projection onto the eps-ball
    (clipping for L-inf, rescaling for L2). Clipping to [0, 1] after the projection
    only moves pixels toward x, so the result stays in the ball. Returns the last
    iterate (not the best one). With ``key`` the attack starts from a uniform random
    point of the ball (Madry et al.); its noise depends on the batch shape, so only
    attacks without random start equal their one-image versions exactly.

    Args:
      logits_fn: batched classifier, ``(B, D) -> (B, K)``.
      x: images, shape ``(B, D)``.
      y: true labels ``(B,)`` (untargeted loss); may be None when ``target`` is given.
      eps: ball radius, a real scalar >= 0.
      steps: number of steps, an integer in [0, ``MAX_STEPS`` = 10**7] (traced: no
        recompilation per value); 0 returns the start point (x, or the random start).
      step_size: alpha, a real scalar > 0.
      norm: ``"inf"`` or ``"2"`` (also ``np.inf``, ``2``).
      target: target labels ``(B,)``: descend the target's cross-entropy instead.
      key: PRNG key for the random start, or None to start at x.
      clip: keep the images in [0, 1] (a bool).

    Returns:
      adversarial images, shape ``(B, D)``, with ``|x_adv - x| <= eps`` per image.

    Reference: Madry, Makelov, Schmidt, Tsipras & Vladu (2018), Towards deep learning
    models resistant to adversarial attacks, ICLR.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x @ jnp.array([1.0, -2.0])], axis=1)
    >>> x_adv = pgd(logits_fn, jnp.array([[0.5, 0.5]]), jnp.array([0]), 0.1, steps=5, step_size=0.05)
    >>> [round(v, 4) for v in x_adv[0].tolist()]
    [0.6, 0.4]
    """
    norm = check_norm(norm)
    f, x, k = attack_setup(logits_fn, x, clip)
    steps = check_steps(steps, "steps", 0)
    eps = check_scalar(eps, "eps", x.dtype)
    step_size = check_scalar(step_size, "step_size", x.dtype, strict=True)
    labels, targeted = attack_labels(y, target, x.shape[0], k)
    return pgd_kernel(f, x, labels, targeted, eps, step_size, jnp.int32(steps), check_key(key), norm, bool(clip))
