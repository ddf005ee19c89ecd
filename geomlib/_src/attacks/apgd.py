r"""Auto-PGD (Croce & Hein 2020): PGD with a step size that halves itself at checkpoints,
momentum, and the best point kept per image; on the cross-entropy, the difference of
logits ratio (DLR) or the targeted DLR, in an L-inf or L2 ball.

The loop (one compiled kernel, per image independent):

- start at x (``key`` None) or at a random point of the eps-ball's surface, step
  :math:`\eta^{(0)} = 2\epsilon`;
- :math:`z = P(x^{(k)} + \eta\, d(\nabla))`, :math:`x^{(k+1)} = P\big(x^{(k)} + \alpha (z - x^{(k)})
  + (1 - \alpha)(x^{(k)} - x^{(k-1)})\big)` with :math:`\alpha = 0.75` (1 at the first step), P the
  projection onto the ball intersected with the pixel box, d the sign (L-inf) or the unit
  gradient (L2);
- at the checkpoints :math:`w_j = \lceil p_j N \rceil`, :math:`p_0 = 0`, :math:`p_1 = 0.22`,
  :math:`p_{j+1} = p_j + \max(p_j - p_{j-1} - 0.03, 0.06)` the step is halved, and the
  iterate set back to the best point, where fewer than :math:`\rho = 0.75` of the steps since
  the last checkpoint raised the loss, or where the step was not halved at the last
  checkpoint and the best loss has not moved since.

With ``surrogate`` the gradient comes from another classifier (BPDA, transfer attacks);
losses, successes and best points are always those of ``logits_fn``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from geomlib._src.attacks.kernels import (
    BATCHED_LOGITS,
    Logits,
    Norm,
    attack_setup,
    check_class_labels,
    check_steps,
    classes_of,
    clip_box,
    pick_class,
    project_ball,
    steepest_direction,
)
from geomlib._src.core.checks import check_callable, check_choice, check_int, check_key, check_norm, check_scalar

#: APGD's constants (Croce & Hein 2020): momentum, the fraction of increasing steps below which
#: the step is halved, the first checkpoint and the decrease and floor of the checkpoint spacing.
APGD_MOMENTUM = 0.75
APGD_RHO = 0.75
APGD_CHECKPOINTS = (0.22, 0.03, 0.06)
#: The DLR denominators' guard against equal logits, as published.
DLR_GUARD = 1e-12


def apgd_checkpoints(steps: int) -> np.ndarray:
    r"""The checkpoint iterations of APGD for ``steps`` iterations, as the lengths in
    integer steps of the published rule (first period :math:`\max(\lfloor 0.22 N \rfloor, 1)`,
    each next one shorter by :math:`\max(\lfloor 0.03 N \rfloor, 1)` down to
    :math:`\max(\lfloor 0.06 N \rfloor, 1)`).

    Args:
      steps: N, an integer >= 1.

    Returns:
      int array ``(steps,)``: at each iteration i (0-based, the step that makes iterate i + 1)
      the length of the period that ends there, or 0 if i is not a checkpoint.

    >>> [int(i) for i in np.flatnonzero(apgd_checkpoints(100)) + 1]
    [22, 41, 57, 70, 80, 87, 93, 99]
    """
    steps = check_steps(steps, "steps")
    first, decrease, floor = APGD_CHECKPOINTS
    k = max(int(first * steps), 1)
    shrink, k_min = max(int(decrease * steps), 1), max(int(floor * steps), 1)
    out = np.zeros(steps, np.int32)
    i = k
    while i <= steps:
        out[i - 1] = k
        k = max(k - shrink, k_min)
        i += k
    return out


def margin_loss_parts(z: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(true logit, largest other logit), each ``(B,)``, of logits ``z (B, K)``."""
    true = pick_class(z, labels)
    other = jnp.max(jnp.where(jax.nn.one_hot(labels, z.shape[1], dtype=bool), -jnp.inf, z), axis=1)
    return true, other


def apgd_loss(z: jax.Array, labels: jax.Array, target: jax.Array | None, loss: str) -> jax.Array:
    r"""The per-image loss APGD ascends, ``(B, K) -> (B,)``.

    - ``"ce"``: cross-entropy of the label; with ``target``, minus that of the target.
    - ``"dlr"``: :math:`-\frac{z_y - \max_{i \ne y} z_i}{z_{\pi_1} - z_{\pi_3}}`; with ``target``
      t, :math:`-\frac{z_y - z_t}{z_{\pi_1} - (z_{\pi_3} + z_{\pi_4})/2}` (:math:`\pi` sorts the
      logits in decreasing order; a guard 1e-12 is added to the denominator). The DLR is invariant
      to shifts and scalings of the logits, so a saturated softmax does not flatten it. With
      fewer than 3 classes (4 with a target) the denominator is 1 (the plain margin).
    """
    k = z.shape[1]
    if loss == "ce":
        if target is None:
            return optax.softmax_cross_entropy_with_integer_labels(z, labels)
        return -optax.softmax_cross_entropy_with_integer_labels(z, target)
    top = jax.lax.top_k(z, min(k, 4))[0]
    true, other = margin_loss_parts(z, labels)
    if target is None:
        scale = top[:, 0] - top[:, 2] if k >= 3 else jnp.ones_like(true)
        return -(true - other) / (scale + DLR_GUARD)
    scale = top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) if k >= 4 else jnp.ones_like(true)
    return -(true - pick_class(z, target)) / (scale + DLR_GUARD)


def _project(x, x_new, eps, norm, clip):
    return clip_box(x + project_ball(x_new - x, eps, norm), clip)


def _random_surface(key, x, eps, norm):
    """A start on the surface of the eps-ball, as published (uniform sign-scaled for L-inf)."""
    if norm == "inf":
        t = jax.random.uniform(key, x.shape, x.dtype, -1, 1)
        return eps * t / (jnp.max(jnp.abs(t), axis=1, keepdims=True) + DLR_GUARD)
    t = jax.random.normal(key, x.shape, x.dtype)
    return eps * t / (jnp.linalg.norm(t, axis=1, keepdims=True) + DLR_GUARD)


@functools.partial(jax.jit, static_argnames=("norm", "loss", "clip"))
def apgd_kernel(f, g, x, labels, target, eps, checkpoints, key, norm, loss, clip):
    """One APGD run on checked arguments: returns ``(x_found, found, x_best, loss_best)``.

    ``f`` the true classifier, ``g`` the one whose gradient is followed (``None``: ``f``),
    ``target`` labels or None, ``checkpoints`` from :func:`apgd_checkpoints` (its length is N),
    ``key`` a PRNG key or None (start at x). Static: ``norm``, ``loss``, ``clip``.
    """
    dtype = x.dtype

    def loss_of(z):
        return apgd_loss(z, labels, target, loss)

    def evaluate(xa):
        """(loss (B,), misclassified (B,), gradient (B, D)) at xa."""
        if g is None:
            def total(xa):
                z = f(xa)
                per = loss_of(z)
                return per.sum(), (per, z)
            (_, (per, z)), grad = jax.value_and_grad(total, has_aux=True)(xa)
        else:
            z = f(xa)
            per = loss_of(z)
            grad = jax.grad(lambda xa: loss_of(g(xa)).sum())(xa)
        return per, jnp.argmax(z, axis=1) != labels, grad

    wrong_clean = jnp.argmax(f(x), axis=1) != labels
    x0 = x if key is None else _project(x, x + _random_surface(key, x, eps, norm), eps, norm, clip)
    loss0, wrong0, grad0 = evaluate(x0)
    found0 = wrong_clean | wrong0
    x_found0 = jnp.where(wrong_clean[:, None], x, x0)
    col = lambda v: v[:, None]  # noqa: E731
    batch = x.shape[0]
    state = dict(
        x_cur=x0, x_prev=x0, grad=grad0, step=jnp.full((batch,), 2.0, dtype) * eps,
        x_best=x0, grad_best=grad0, loss_best=loss0, loss_last=loss0,
        x_found=x_found0, found=found0,
        n_up=jnp.zeros((batch,), jnp.int32), loss_best_check=loss0, halved_check=jnp.ones((batch,), bool),
    )

    def body(i, s):
        a = jnp.where(i == 0, 1.0, APGD_MOMENTUM).astype(dtype)
        z = _project(x, s["x_cur"] + col(s["step"]) * steepest_direction(s["grad"], norm), eps, norm, clip)
        x_new = _project(x, s["x_cur"] + a * (z - s["x_cur"]) + (1 - a) * (s["x_cur"] - s["x_prev"]), eps, norm,
                         clip)
        per, wrong, grad = evaluate(x_new)
        first = wrong & ~s["found"]
        better = per > s["loss_best"]
        s = dict(s, x_prev=s["x_cur"], x_cur=x_new, grad=grad,
                 x_found=jnp.where(col(first), x_new, s["x_found"]), found=s["found"] | wrong,
                 x_best=jnp.where(col(better), x_new, s["x_best"]),
                 grad_best=jnp.where(col(better), grad, s["grad_best"]),
                 loss_best=jnp.where(better, per, s["loss_best"]), loss_last=per,
                 n_up=s["n_up"] + (per > s["loss_last"]).astype(jnp.int32))
        period = checkpoints[i]

        def check(s):
            few_up = s["n_up"].astype(dtype) < APGD_RHO * period.astype(dtype)
            stalled = ~s["halved_check"] & (s["loss_best_check"] >= s["loss_best"])
            halve = few_up | stalled
            return dict(s, step=jnp.where(halve, s["step"] / 2, s["step"]),
                        x_cur=jnp.where(col(halve), s["x_best"], s["x_cur"]),
                        grad=jnp.where(col(halve), s["grad_best"], s["grad"]),
                        n_up=jnp.zeros_like(s["n_up"]), halved_check=halve, loss_best_check=s["loss_best"])

        return jax.lax.cond(period > 0, check, lambda s: s, s)

    s = jax.lax.fori_loop(0, checkpoints.shape[0], body, state)
    return s["x_found"], s["found"], s["x_best"], s["loss_best"]


def padded_rows(index: np.ndarray) -> np.ndarray:
    """Row indices padded, by repeating the last one, to the next power of two, so that
    attacks run on a shrinking subset of a batch compile for O(log B) shapes only.

    >>> padded_rows(np.array([3, 5, 6])).tolist()
    [3, 5, 6, 6]
    """
    index = np.asarray(index, np.int64)
    if index.ndim != 1 or index.size == 0:
        raise ValueError(f"index: expected a non-empty 1-d array of rows, got shape {index.shape}")
    size = 1 << (index.size - 1).bit_length()
    return np.concatenate([index, np.full(size - index.size, index[-1])])


def _apgd_checked(logits_fn, x, y, eps, norm, clip, surrogate):
    norm = check_norm(norm)
    f, x, k = attack_setup(logits_fn, x, clip)
    eps = check_scalar(eps, "eps", x.dtype)
    if y is None:
        raise ValueError("y: expected true labels of shape (B,), got None")
    labels = check_class_labels(y, x.shape[0], k, "y")
    g = None
    if surrogate is not None:
        g = check_callable(surrogate, "surrogate", BATCHED_LOGITS)
        k_g = classes_of(g, x, "surrogate")
        if k_g != k:
            raise ValueError(f"surrogate: expected logits with K = {k} classes like logits_fn, got K = {k_g}")
    return norm, f, g, x, k, eps, labels


def _run_restarts(f, g, x, labels, target, eps, steps, restarts, key, norm, loss, clip):
    """APGD with restarts on checked arguments; each restart runs on the rows not yet broken."""
    checkpoints = jnp.asarray(apgd_checkpoints(steps))
    x_found, found, x_best, loss_best = apgd_kernel(f, g, x, labels, target, eps, checkpoints,
                                                    None if key is None else jax.random.fold_in(key, 0),
                                                    norm, loss, clip)
    x_found, found, x_best, loss_best = (np.array(a) for a in (x_found, found, x_best, loss_best))  # writable
    for r in range(1, restarts):
        rows = np.flatnonzero(~found)
        if rows.size == 0:
            break
        idx = padded_rows(rows)
        sub_key = None if key is None else jax.random.fold_in(key, r)
        out = apgd_kernel(f, g, x[idx], labels[idx], None if target is None else target[idx], eps, checkpoints,
                          sub_key, norm, loss, clip)
        xf, fd, xb, lb = (np.asarray(a)[: rows.size] for a in out)
        x_found[rows] = np.where(fd[:, None], xf, x_found[rows])
        found[rows] = fd
        better = lb > loss_best[rows]
        x_best[rows] = np.where(better[:, None], xb, x_best[rows])
        loss_best[rows] = np.where(better, lb, loss_best[rows])
    return np.where(found[:, None], x_found, x_best), found, x_best


def apgd(logits_fn: Logits, x: ArrayLike, y: ArrayLike, eps: ArrayLike, norm: Norm = "inf", loss: str = "ce",
         target: ArrayLike | None = None, steps: int = 100, restarts: int = 1, key: jax.Array | None = None, *,
         surrogate: Logits | None = None, clip: bool = True) -> jax.Array:
    r"""Auto-PGD: PGD with checkpointed step-size halving, momentum and the best point kept.

    Each step

    .. math::

       z = P\big(x^{(k)} + \eta^{(k)} d(\nabla L(x^{(k)}))\big), \qquad
       x^{(k+1)} = P\big(x^{(k)} + 0.75\,(z - x^{(k)}) + 0.25\,(x^{(k)} - x^{(k-1)})\big),

    P the projection onto the eps-ball intersected with [0, 1]^D, d the sign (L-inf) or the
    unit vector (L2), :math:`\eta^{(0)} = 2\epsilon`, halved (and the iterate reset to the best
    point) at the checkpoints of :func:`apgd_checkpoints` where fewer than 75% of the steps
    since the last one raised the loss, or where the best loss has not moved since a checkpoint
    that did not halve. No step size to tune.

    Every iterate counts: an image is broken as soon as any iterate (x itself included) is
    misclassified by ``logits_fn``, and the first such iterate is returned; otherwise the
    point of highest loss over all iterates and restarts. Each restart (from a new random point
    of the ball's surface, ``key`` folded with the restart number) runs on the images not yet
    broken.

    Args:
      logits_fn: batched classifier, ``(B, D) -> (B, K)``.
      x: images, shape ``(B, D)``, in [0, 1] when ``clip``.
      y: true labels, int ``(B,)``.
      eps: ball radius, a real scalar >= 0.
      norm: ``"inf"`` or ``"2"`` (also ``np.inf``, ``2``).
      loss: ``"ce"`` (cross-entropy) or ``"dlr"`` (difference of logits ratio); see
        :func:`apgd_loss`. With ``target``, the targeted version of either (``"dlr"`` with a
        target is the loss of APGD-T).
      target: target labels ``(B,)`` or None. Success is still any misclassification.
      steps: iterations N per restart, an integer in [1, ``MAX_STEPS``] (one compiled kernel
        per N).
      restarts: random restarts, an integer >= 1 (with ``key`` None all restarts would be
        the same, so only one runs).
      key: PRNG key for the random starts, or None to start at x (deterministic: a batch
        equals its images attacked one by one).
      surrogate: a second batched classifier ``(B, D) -> (B, K)`` whose gradient is followed
        instead (BPDA: a smooth twin of a non-differentiable model; a transfer attack: another
        model). Losses, successes and best points are those of ``logits_fn``.
      clip: keep the images in [0, 1] (a bool).

    Returns:
      adversarial images, shape ``(B, D)``, each within eps of x (and in [0, 1] with ``clip``).

    Reference: Croce & Hein (2020), Reliable evaluation of adversarial robustness with an
    ensemble of diverse parameter-free attacks, ICML.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x @ jnp.array([1.0, -2.0])], axis=1)
    >>> x_adv = apgd(logits_fn, jnp.array([[0.5, 0.4]]), jnp.array([0]), 0.12, steps=10)
    >>> [round(v, 4) for v in x_adv[0].tolist()]   # the corner x + eps (1, -1): w.x = 0.06 > 0
    [0.62, 0.28]
    """
    norm, f, g, x, k, eps, labels = _apgd_checked(logits_fn, x, y, eps, norm, clip, surrogate)
    loss = check_choice(loss, "loss", ("ce", "dlr"))
    steps = check_steps(steps, "steps")
    restarts = check_int(restarts, "restarts", 1)
    key = check_key(key)
    tgt = None if target is None else check_class_labels(target, x.shape[0], k, "target")
    x_adv, _, _ = _run_restarts(f, g, x, labels, tgt, eps, steps, restarts if key is not None else 1, key, norm,
                                loss, bool(clip))
    return jnp.asarray(x_adv, x.dtype)


def apgd_targeted(logits_fn: Logits, x: ArrayLike, y: ArrayLike, eps: ArrayLike, norm: Norm = "inf",
                  n_targets: int = 9, steps: int = 100, restarts: int = 1, key: jax.Array | None = None, *,
                  surrogate: Logits | None = None, clip: bool = True) -> jax.Array:
    r"""APGD-T: :func:`apgd` on the targeted DLR loss towards each of the ``n_targets`` classes
    with the highest clean logits after the label, in turn, as AutoAttack runs it.

    The targets are ranked at the clean image x (by ``logits_fn``; the label excluded). Each
    target's run (``restarts`` restarts of ``steps`` iterations) attacks only the images that
    no earlier target has broken. An image is broken when any iterate is misclassified (as
    any class). Unbroken images get the highest-loss point of the first target's run.

    Args:
      logits_fn: batched classifier, ``(B, D) -> (B, K)``.
      x: images ``(B, D)``; y: labels ``(B,)``; eps, norm, steps, restarts, key, surrogate,
        clip: as in :func:`apgd`.
      n_targets: how many runner-up classes to target, an integer >= 1 (at most K - 1 are used).

    Returns:
      adversarial images, shape ``(B, D)``.

    Reference: Croce & Hein (2020), ICML (APGD-T, with AutoAttack's 9 targets on 10 classes).

    >>> logits_fn = lambda x: x @ jnp.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.5, 0.2]])
    >>> x_adv = apgd_targeted(logits_fn, jnp.array([[0.6, 0.4]]), jnp.array([0]), 0.15, steps=10)
    >>> int(jnp.argmax(logits_fn(x_adv), axis=1)[0])
    1
    """
    norm, f, g, x, k, eps, labels = _apgd_checked(logits_fn, x, y, eps, norm, clip, surrogate)
    n_targets = min(check_int(n_targets, "n_targets", 1), k - 1)
    steps = check_steps(steps, "steps")
    restarts = check_int(restarts, "restarts", 1)
    key = check_key(key)
    z = jnp.where(jax.nn.one_hot(labels, k, dtype=bool), -jnp.inf, f(x))
    ranked = np.asarray(jnp.argsort(-z, axis=1))[:, :n_targets]  # runner-ups, best first
    labels_np = np.asarray(labels)
    x_np = np.asarray(x)
    x_adv = x_np.copy()
    found = np.zeros(x.shape[0], bool)
    for t in range(n_targets):
        rows = np.flatnonzero(~found)
        if rows.size == 0:
            break
        idx = padded_rows(rows)
        sub_key = None if key is None else jax.random.fold_in(key, t)
        xa, fd, _ = _run_restarts(f, g, x[idx], jnp.asarray(labels_np[idx]), jnp.asarray(ranked[idx, t]), eps,
                                  steps, restarts if key is not None else 1, sub_key, norm, "dlr", bool(clip))
        xa, fd = xa[: rows.size], fd[: rows.size]
        keep = fd | (t == 0)
        x_adv[rows[keep]] = xa[keep]
        found[rows] = fd
    return jnp.asarray(x_adv, x.dtype)
