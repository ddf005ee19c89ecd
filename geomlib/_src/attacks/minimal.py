r"""Minimal-perturbation attacks: DeepFool (nearest linearised boundary) and Carlini-Wagner
(Adam on distance plus a margin hinge)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from geomlib._src.attacks.kernels import Logits, attack_setup, check_class_labels, check_steps, clip_box, pick_class
from geomlib._src.core.checks import check_scalar


@functools.partial(jax.jit, static_argnames=("clip",))
def _deepfool(f, x, overshoot, steps, clip):
    k = jax.eval_shape(f, x).shape[1]
    label = jnp.argmax(f(x), axis=1)
    rows = jnp.arange(x.shape[0])

    def logits_and_jacobian(x_adv):
        z, vjp = jax.vjp(f, x_adv)
        # One VJP per class; rows are independent, so this is each image's own Jacobian.
        jac = jax.vmap(lambda e: vjp(jnp.broadcast_to(e, z.shape))[0])(jnp.eye(k, dtype=z.dtype))
        return z, jnp.swapaxes(jac, 0, 1)  # (B, K), (B, K, D)

    def body(carry):
        t, r_tot, _ = carry
        z, jac = logits_and_jacobian(clip_box(x + (1 + overshoot) * r_tot, clip))
        f_diff = z - z[rows, label][:, None]  # (B, K)
        w_diff = jac - jac[rows, label][:, None, :]  # (B, K, D)
        w_norm = jnp.linalg.norm(w_diff, axis=2)
        usable = (jnp.arange(k) != label[:, None]) & (w_norm > 0)
        dist = jnp.where(usable, jnp.abs(f_diff) / jnp.where(usable, w_norm, 1), jnp.inf)
        l = jnp.argmin(dist, axis=1)
        scale = jnp.abs(f_diff[rows, l]) / jnp.where(usable[rows, l], w_norm[rows, l], 1) ** 2
        step = scale[:, None] * w_diff[rows, l]
        move = (jnp.argmax(z, axis=1) == label) & (t < steps) & usable[rows, l]
        return t + 1, r_tot + jnp.where(move[:, None], step, 0), jnp.any(move)

    init = (jnp.int32(0), jnp.zeros_like(x), jnp.bool_(True))
    _, r_tot, _ = jax.lax.while_loop(lambda c: c[-1], body, init)
    return clip_box(x + (1 + overshoot) * r_tot, clip)


def deepfool(logits_fn: Logits, x: ArrayLike, steps: int = 50, overshoot: ArrayLike = 0.02, *,
             clip: bool = True) -> jax.Array:
    r"""DeepFool: the smallest L2 step to the nearest linearised decision boundary, repeated.

    With k the label predicted at x, at each iterate :math:`x^t` (while still
    classified as k):

    .. math::

       l = \arg\min_{l \ne k} \frac{|f'_l|}{|w'_l|}, \quad
       r^t = \frac{|f'_l|}{|w'_l|^2}\, w'_l, \quad
       f'_l = f_l - f_k, \ w'_l = \nabla f_l - \nabla f_k,

    :math:`r = \sum_t r^t`, and :math:`x^{t+1} = \Pi_{[0,1]}(x + (1 + \eta) r)` with
    overshoot :math:`\eta`. For a linear binary classifier one step lands exactly on
    the boundary (:math:`\eta = 0`), at distance :math:`|w \cdot x + b| / |w|`.
    Images already misclassified at the overshot iterate are frozen; images where
    every :math:`w'_l` vanishes cannot be moved and are returned unchanged.

    Args:
      logits_fn: batched classifier, ``(B, D) -> (B, K)``.
      x: images, shape ``(B, D)``.
      steps: at most this many steps (50 in the paper), an integer in [1, ``MAX_STEPS`` = 10**7].
      overshoot: eta >= 0 (0.02 in the paper), a real scalar.
      clip: keep the images in [0, 1] (a bool).

    Returns:
      adversarial images, shape ``(B, D)``.

    Reference: Moosavi-Dezfooli, Fawzi & Frossard (2016), DeepFool: a simple and
    accurate method to fool deep neural networks, CVPR.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x @ jnp.array([3.0, 4.0]) - 2.0], axis=1)
    >>> x_adv = deepfool(logits_fn, jnp.array([[0.2, 0.2]]), overshoot=0.0)
    >>> round(float(jnp.linalg.norm(x_adv - 0.2)), 5)  # |w.x + b| / |w| = 0.6 / 5
    0.12
    """
    f, x, _ = attack_setup(logits_fn, x, clip)
    steps = check_steps(steps, "steps")
    overshoot = check_scalar(overshoot, "overshoot", x.dtype)
    return _deepfool(f, x, overshoot, jnp.int32(steps), bool(clip))


@functools.partial(jax.jit, static_argnames=("clip",))
def _carlini_wagner(f, x, target, c0, kappa, learning_rate, steps, search_steps, clip):
    opt = optax.adam(learning_rate)
    not_target = jnp.arange(jax.eval_shape(f, x).shape[1]) != target[:, None]

    def objective(delta, c):
        z = f(x + delta)
        margin = jnp.max(jnp.where(not_target, z, -jnp.inf), axis=1) - pick_class(z, target)
        per_image = 0.5 * jnp.sum(delta**2, axis=1) + c * jnp.maximum(margin, -kappa)
        return per_image.sum(), z

    grad_fn = jax.grad(objective, has_aux=True)

    def keep_best(best, best_l2, delta, z):
        l2 = jnp.linalg.norm(delta, axis=1)
        better = (jnp.argmax(z, axis=1) == target) & (l2 < best_l2)
        return jnp.where(better[:, None], x + delta, best), jnp.where(better, l2, best_l2)

    def run(c):
        def step(_, carry):
            delta, state, best, best_l2 = carry
            g, z = grad_fn(delta, c)
            best, best_l2 = keep_best(best, best_l2, delta, z)
            updates, state = opt.update(g, state, delta)
            delta = clip_box(x + optax.apply_updates(delta, updates), clip) - x
            return delta, state, best, best_l2

        delta = jnp.zeros_like(x)
        init = (delta, opt.init(delta), x, jnp.full(x.shape[0], jnp.inf, x.dtype))
        delta, _, best, best_l2 = jax.lax.fori_loop(0, steps, step, init)
        return keep_best(best, best_l2, delta, f(x + delta)) + (x + delta,)

    def search(_, carry):
        c, lo, hi, best, best_l2, last = carry
        run_best, run_l2, last = run(c)
        found = run_l2 < jnp.inf
        better = run_l2 < best_l2
        best, best_l2 = jnp.where(better[:, None], run_best, best), jnp.where(better, run_l2, best_l2)
        hi = jnp.where(found, jnp.minimum(hi, c), hi)
        lo = jnp.where(found, lo, jnp.maximum(lo, c))
        c = jnp.where(hi < jnp.inf, (lo + hi) / 2, 10 * c)
        return c, lo, hi, best, best_l2, last

    b = x.shape[0]
    inf = jnp.full(b, jnp.inf, x.dtype)
    init = (jnp.full(b, c0, x.dtype), jnp.zeros(b, x.dtype), inf, x, inf, x)
    _, _, _, best, best_l2, last = jax.lax.fori_loop(0, search_steps, search, init)
    return jnp.where((best_l2 < jnp.inf)[:, None], best, last)


def carlini_wagner(logits_fn: Logits, x: ArrayLike, target: ArrayLike, *, c: ArrayLike = 1.0, steps: int = 200,
                   learning_rate: ArrayLike = 0.01, kappa: ArrayLike = 0.0, search_steps: int = 1,
                   clip: bool = True) -> jax.Array:
    r"""Carlini-Wagner targeted L2 attack: Adam on distance plus a hinge on the logit margin.

    Minimises, per image, over the perturbation :math:`\delta`

    .. math::

       \tfrac12 |\delta|_2^2 + c \max\big(\max_{i \ne t} Z_i(x + \delta) - Z_t(x + \delta), -\kappa\big)

    with Adam (optax), starting at :math:`\delta = 0`. The box constraint is kept by
    *clipping* (projected Adam: :math:`x + \delta` is clipped to [0, 1] after every
    update), not by the tanh change of variables, so the attack starts exactly at x
    and pixels at 0 or 1 are not slowed down by a saturated tanh. Of all iterates
    classified as the target, the one closest to x (L2) is returned.

    The constant c is fixed when ``search_steps=1`` (the default). With
    ``search_steps=n > 1``, c is set per image by n rounds of the original search:
    multiply c by 10 until an adversarial is found, then bisect between the largest
    failing and the smallest succeeding c; the closest adversarial over all rounds
    is kept.

    Args:
      logits_fn: batched classifier, ``(B, D) -> (B, K)``.
      x: images, shape ``(B, D)``.
      target: target labels, int ``(B,)``.
      c: (initial) trade-off constant, a real scalar > 0.
      steps: Adam steps per round, an integer in [1, ``MAX_STEPS`` = 10**7].
      learning_rate: Adam learning rate, > 0.
      kappa: confidence margin >= 0 (0 stops pushing once the target wins).
      search_steps: rounds of the search over c, an integer in [1, ``MAX_STEPS``].
      clip: keep the images in [0, 1] (a bool).

    Returns:
      adversarial images ``(B, D)``; for images where no iterate reached the target,
      the last iterate of the last round (check with :func:`attack_success`).

    Reference: Carlini & Wagner (2017), Towards evaluating the robustness of neural
    networks, IEEE Symposium on Security and Privacy.

    >>> from geomlib import attack_success
    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x @ jnp.array([3.0, 4.0]) - 2.0], axis=1)
    >>> x_adv = carlini_wagner(logits_fn, jnp.array([[0.2, 0.2]]), jnp.array([1]), steps=100)
    >>> bool(attack_success(logits_fn, x_adv, target=jnp.array([1]))[0])
    True
    """
    f, x, k = attack_setup(logits_fn, x, clip)
    target = check_class_labels(target, x.shape[0], k, "target")
    c = check_scalar(c, "c", x.dtype, strict=True)
    learning_rate = check_scalar(learning_rate, "learning_rate", x.dtype, strict=True)
    kappa = check_scalar(kappa, "kappa", x.dtype)
    steps = check_steps(steps, "steps")
    search_steps = check_steps(search_steps, "search_steps")
    return _carlini_wagner(f, x, target, c, kappa, learning_rate, jnp.int32(steps), jnp.int32(search_steps),
                           bool(clip))
