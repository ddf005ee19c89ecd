r"""Robustness measurements built on the attacks: accuracy under attack, attack size at a
target confidence, how attack steps cross the iso-response contours, semantic content of a
perturbation, and how many mutually orthogonal adversarial directions exist at an image.

Conventions as in :mod:`geomlib._src.attacks`: ``logits_fn`` maps a batch ``(B, D)`` to
logits ``(B, K)``, each row depending on its own image only; a *response* ``response_fn``
maps a batch ``(B, D)`` to one number per image ``(B,)`` (e.g. :func:`target_log_probability`).
Images are in [0, 1] when ``clip=True``. Bind parameters with ``jax.tree_util.Partial``
so that the compiled kernels are reused (plain functions are keyed by identity).
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from geomlib._src.attacks import (
    _as_partial,
    _bound,
    _check_images,
    _check_key,
    _check_labels,
    _check_norm,
    _check_scalar,
    _loss_grad,
    _num_classes,
    mean_squared_distance,
    pgd,
    targeted_sign_attack,
)
from geomlib._src.checks import check_int
from geomlib._src.planes import Plane


# ----------------------------------------------------------------------------- accuracy under attack


def accuracy_under_attack(logits_fn, x, y, eps_list: Sequence[float], steps: int = 10, step_size_factor: float = 2.5,
                          norm="inf", key=None) -> jax.Array:
    r"""Accuracy of a classifier under an untargeted PGD attack, for each radius in ``eps_list``.

    For every :math:`\epsilon`, :func:`geomlib.pgd` runs ``steps`` steps of size
    :math:`\alpha = \text{step\_size\_factor} \cdot \epsilon / \text{steps}` (Madry et al.
    2018 use 2.5), and the accuracy is the fraction of images whose arg-max logit at
    :math:`x^{adv}` is still the label. :math:`\epsilon = 0` gives the clean accuracy.

    For a linear binary classifier with logit difference :math:`w \cdot x + b` an
    :math:`L_\infty` attack (no clipping) can lower the true-class margin by exactly
    :math:`\epsilon |w|_1`, so an image is lost exactly when :math:`\epsilon |w|_1` exceeds its margin.

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``.
      x: images ``(B, D)`` in [0, 1].
      y: labels, int ``(B,)``.
      eps_list: radii, each >= 0 (a sequence of floats; one compiled kernel for all).
      steps: PGD steps per radius.
      step_size_factor: step size relative to ``eps / steps``, > 0.
      norm: ``"inf"`` or ``"2"``.
      key: PRNG key for a random start, or None (start at x).

    Returns:
      accuracies, shape ``(len(eps_list),)``.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x[:, 0] - 0.5], axis=1)
    >>> accuracy_under_attack(logits_fn, jnp.array([[0.4], [0.8]]), jnp.array([0, 1]), [0.0, 0.2], steps=5).tolist()
    [1.0, 0.5]
    """
    eps = np.asarray(eps_list, dtype=np.float64)
    if eps.ndim != 1 or eps.size == 0 or not np.all(np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError(f"eps_list: expected a non-empty sequence of finite radii >= 0, got {eps_list!r}")
    steps = check_int(steps, "steps")
    if not (np.ndim(step_size_factor) == 0 and float(step_size_factor) > 0):
        raise ValueError(f"step_size_factor: expected a scalar > 0, got {step_size_factor!r}")
    norm = _check_norm(norm)
    key = _check_key(key)
    f = _as_partial(logits_fn)
    x = _check_images(x, True)
    y = _check_labels(y, x.shape[0], _num_classes(f, x), "y")
    return jnp.mean(_correct_under_attack(f, x, y, eps, steps, float(step_size_factor), norm, key), axis=1)


def _correct_under_attack(f, x, y, eps, steps: int, step_size_factor: float, norm: str, key) -> jax.Array:
    """Bool ``(len(eps), B)``: image still classified as its label after PGD at each radius
    (checked arguments; ``eps`` a float array, radius 0 = the clean image)."""
    rows = [jnp.zeros((0, x.shape[0]), bool)]
    for e in eps:
        x_adv = x if e == 0 else pgd(f, x, y, float(e), steps, step_size_factor * float(e) / steps, norm, key=key)
        rows.append((jnp.argmax(f(x_adv), axis=1) == y)[None])
    return jnp.concatenate(rows)


# ----------------------------------------------------------------------------- attack size at a confidence


class MSDResult(NamedTuple):
    """Outcome of :func:`msd_at_confidence`.

    Attributes:
      msd: mean squared distance per image at the first step reaching the confidence, ``(B,)``
        (NaN where the confidence was not reached).
      reached: bool ``(B,)``.
      steps: sign steps taken, int ``(B,)``.
      x_adv: adversarial images ``(B, D)``.
    """

    msd: jax.Array
    reached: jax.Array
    steps: jax.Array
    x_adv: jax.Array


def msd_at_confidence(logits_fn, x, target, step_size=0.005, max_steps: int = 500, confidence=0.9) -> MSDResult:
    r"""Attack size as in Paiton et al. (2020): MSD of a targeted sign attack at target confidence c.

    Runs :func:`geomlib.targeted_sign_attack` (step :math:`\alpha`, images clipped to [0, 1])
    and measures :math:`\mathrm{MSD} = \frac1D |x^{adv} - x|^2` at the first step where
    :math:`p_t \ge c`. Images that never reach it get NaN (use ``reached`` for the success rate).

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``.
      x: images ``(B, D)`` in [0, 1].
      target: target labels, int ``(B,)``.
      step_size: alpha > 0 (0.005 in the paper).
      max_steps: at most this many steps.
      confidence: c in (0, 1) (0.9 in the paper).

    Returns:
      :class:`MSDResult` ``(msd (B,), reached (B,), steps (B,), x_adv (B, D))``.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), 4 * x.sum(axis=1) - 4], axis=1)
    >>> res = msd_at_confidence(logits_fn, jnp.array([[0.5, 0.5]]), jnp.array([1]), 0.1, 20)
    >>> [round(v, 4) for v in res.msd.tolist()], res.steps.tolist()
    ([0.09], [3])
    """
    res = targeted_sign_attack(logits_fn, x, target, step_size, max_steps, confidence)
    x = _check_images(x, True)
    msd = jnp.where(res.reached, mean_squared_distance(res.x_adv, x), jnp.nan)
    return MSDResult(msd, res.reached, res.steps, res.x_adv)


# ----------------------------------------------------------------------------- responses and paths


def _target_log_prob(logits_fn, target, x):
    lp = jax.nn.log_softmax(logits_fn(x), axis=1)
    return jnp.take_along_axis(lp, target[:, None], axis=1)[:, 0]


def target_log_probability(logits_fn, target) -> Partial:
    r"""The response :math:`x \mapsto \log p_t(x)` (log-softmax of the target), ``(B, D) -> (B,)``.

    ``target`` is an int array ``(B,)`` (one target per image of the batch it will be
    called on). Returned as a ``jax.tree_util.Partial`` so that jitted kernels are reused.
    """
    target = jnp.asarray(target)
    if target.ndim != 1 or not jnp.issubdtype(target.dtype, jnp.integer):
        raise ValueError(f"target: expected integer labels of shape (B,), got shape {target.shape}, "
                         f"dtype {target.dtype}")
    return Partial(_target_log_prob, _as_partial(logits_fn), target.astype(jnp.int32))


def _check_response(response_fn, x) -> Partial:
    f = _as_partial(response_fn) if callable(response_fn) else None
    if f is None:
        raise ValueError(f"response_fn: expected a callable (B, D) -> (B,), got {type(response_fn).__name__}")
    out = jax.eval_shape(f, jax.ShapeDtypeStruct(x.shape, x.dtype))
    if getattr(out, "shape", None) != (x.shape[0],):
        raise ValueError(f"response_fn: expected output shape (B,) = ({x.shape[0]},), "
                         f"got {getattr(out, 'shape', type(out).__name__)}")
    return f


def _unit(g, axis=-1):
    n = jnp.linalg.norm(g, axis=axis, keepdims=True)
    return jnp.where(n > 0, g / jnp.where(n > 0, n, 1), 0)


@functools.partial(jax.jit, static_argnames=("steps", "clip"))
def _ascent_path(f, x, step_size, steps, clip):
    grad = jax.grad(lambda z: f(z).sum())

    def body(x_t, _):
        x_next = _bound(x_t + step_size * _unit(grad(x_t)), clip)
        return x_next, x_next

    _, path = jax.lax.scan(body, x, None, length=steps)
    return jnp.concatenate([x[None], path], axis=0)


def gradient_ascent_path(response_fn, x, step_size, steps: int, *, clip: bool = True) -> jax.Array:
    r"""Path of normalised (L2) gradient ascent on a response: the steepest way up the contour map.

    .. math:: x^{t+1} = \Pi_{[0,1]}\big(x^t + \alpha\, \nabla r(x^t) / |\nabla r(x^t)|\big).

    Unlike a sign step, each (unclipped) step is along the gradient, i.e. orthogonal to the
    iso-response contour through :math:`x^t`. With ``response_fn = target_log_probability(...)``
    this is an L2 targeted attack (PGD-L2 without a ball).

    Args:
      response_fn: ``(B, D) -> (B,)``.
      x: start images ``(B, D)``.
      step_size: alpha > 0 (L2 length of a step).
      steps: number of steps (static).
      clip: keep the images in [0, 1].

    Returns:
      the path, shape ``(steps + 1, B, D)``, starting with ``x``.

    Raises:
      ValueError: bad arguments, or a response that is not finite at ``x``.

    >>> path = gradient_ascent_path(lambda x: x @ jnp.array([3.0, 4.0]), jnp.zeros((1, 2)), 0.5, 2, clip=False)
    >>> [[round(v, 4) for v in p] for p in path[:, 0].tolist()]
    [[0.0, 0.0], [0.3, 0.4], [0.6, 0.8]]
    """
    x = _check_images(x, bool(clip))
    f = _check_response(response_fn, x)
    step_size = _check_scalar(step_size, "step_size", x.dtype, strict=True)
    steps = check_int(steps, "steps", 0)
    bad = ~np.isfinite(np.asarray(f(x)))
    if bad.any():  # the gradient of a NaN response is 0 there: the path would silently stand still
        raise ValueError(f"response_fn: expected finite responses at x, got non-finite values for images "
                         f"{np.flatnonzero(bad)[:10].tolist()} (e.g. a target outside [0, K) in "
                         f"target_log_probability)")
    return _ascent_path(f, x, step_size, steps, bool(clip))


@jax.jit
def _step_cosines(f, path):
    grad = jax.vmap(jax.grad(lambda z: f(z).sum()))(path[:-1])  # (T, B, D)
    step = path[1:] - path[:-1]
    cos = jnp.sum(_unit(grad) * _unit(step), axis=-1)
    ok = (jnp.linalg.norm(grad, axis=-1) > 0) & (jnp.linalg.norm(step, axis=-1) > 0)
    return jnp.where(ok, cos, jnp.nan)


def step_contour_cosines(response_fn, path) -> jax.Array:
    r"""Cosine between each step of a path and the normal of the iso-response contour it leaves.

    .. math:: c_t = \frac{(x^{t+1} - x^t) \cdot \nabla r(x^t)}{|x^{t+1} - x^t|\,|\nabla r(x^t)|}

    1 means the step crosses the contour at a right angle, uphill (the contour normal is
    the gradient direction). Clipping to [0, 1] and sign steps lower it; for a sign step
    on a linear response :math:`w \cdot x` it is :math:`|w|_1 / (\sqrt D |w|_2)`.

    Args:
      response_fn: ``(B, D) -> (B,)``.
      path: ``(T + 1, B, D)`` (e.g. from :func:`gradient_ascent_path`), T >= 1.

    Returns:
      cosines ``(T, B)``; NaN for a zero step or a zero gradient.

    >>> path = jnp.array([[[0.0, 0.0]], [[0.3, 0.4]], [[0.3, 0.4]]])
    >>> step_contour_cosines(lambda x: x @ jnp.array([3.0, 4.0]), path).tolist()
    [[1.0], [nan]]
    """
    path = jnp.asarray(path)
    if path.ndim != 3 or path.shape[0] < 2 or path.shape[1] < 1:
        raise ValueError(f"path: expected shape (T + 1, B, D) with T >= 1, got shape {path.shape}")
    path = path.astype(jnp.result_type(path.dtype, jnp.float32))
    f = _check_response(response_fn, path[0])
    return _step_cosines(f, path)


# ----------------------------------------------------------------------------- semantic content


def class_means(x, y, num_classes: int = 10) -> jax.Array:
    """Mean image of each class, ``(num_classes, D)`` from images ``(n, D)`` and labels ``(n,)``
    (NaN rows for classes without images)."""
    x = jnp.asarray(x)
    num_classes = check_int(num_classes, "num_classes")
    if x.ndim != 2:
        raise ValueError(f"x: expected images of shape (n, D), got shape {x.shape}")
    y = _check_labels(y, x.shape[0], int(num_classes), "y")
    onehot = jax.nn.one_hot(y, num_classes, dtype=x.dtype)
    return (onehot.T @ x) / onehot.sum(axis=0)[:, None]


def template_cosine(x_adv, x, source, target, means) -> jax.Array:
    r"""How much a perturbation looks like "turn the source digit into the target digit".

    .. math:: \cos\big(x^{adv} - x,\ \mu_t - \mu_s\big)

    with :math:`\mu_k` the class means (:func:`class_means`). Random noise scores about
    :math:`\pm 1/\sqrt D`; a perturbation that draws the target's strokes and erases the
    source's scores high.

    Args:
      x_adv, x: ``(B, D)``.
      source, target: int ``(B,)``.
      means: ``(K, D)``.

    Returns:
      ``(B,)``, NaN for a zero perturbation.
    """
    x_adv, x, means = jnp.asarray(x_adv), jnp.asarray(x), jnp.asarray(means)
    if x_adv.ndim != 2 or x_adv.shape != x.shape:
        raise ValueError(f"x_adv: expected the shape (B, D) of x {x.shape}, got {x_adv.shape}")
    if means.ndim != 2 or means.shape[1] != x.shape[1]:
        raise ValueError(f"means: expected shape (K, {x.shape[1]}), got {means.shape}")
    source = _check_labels(source, x.shape[0], means.shape[0], "source")
    target = _check_labels(target, x.shape[0], means.shape[0], "target")
    d = x_adv - x
    t = means[target] - means[source]
    den = jnp.linalg.norm(d, axis=1) * jnp.linalg.norm(t, axis=1)
    return jnp.where(den > 0, jnp.sum(d * t, axis=1) / jnp.where(den > 0, den, 1), jnp.nan)


# ----------------------------------------------------------------------------- adversarial dimensionality


class AdversarialDirections(NamedTuple):
    r"""Outcome of :func:`orthogonal_adversarial_directions` and :func:`gaas_directions`.

    Attributes:
      delta: the perturbations actually applied (after clipping), ``(B, k, D)``.
      success: whether ``x + delta`` is misclassified, bool ``(B, k)``.
      max_overlap: per image, the largest ``|cos|`` between two applied perturbations,
        ``(B,)`` (0 = mutually orthogonal).
      rank: per image, numerical rank of the *successful* perturbations (normalised),
        int ``(B,)``.
      effective_dim: participation ratio :math:`(\sum \sigma_i^2)^2 / \sum \sigma_i^4` of the
        normalised successful perturbations, ``(B,)`` (equals their count when orthogonal).
    """

    delta: jax.Array
    success: jax.Array
    max_overlap: jax.Array
    rank: jax.Array
    effective_dim: jax.Array


def _summarise(f, x, y, delta, rank_tol):
    """AdversarialDirections from applied perturbations delta (B, k, D)."""
    k = delta.shape[1]
    pred = jnp.argmax(jax.vmap(f, in_axes=1, out_axes=1)(x[:, None, :] + delta), axis=-1)  # (B, k)
    success = (pred != y[:, None]) & (jnp.linalg.norm(delta, axis=-1) > 0)
    u = _unit(delta)
    gram = jnp.einsum("bid,bjd->bij", u, u)
    off = jnp.abs(gram) * (1 - jnp.eye(k, dtype=gram.dtype))
    max_overlap = jnp.max(off, axis=(1, 2))
    us = u * success[..., None]
    s = jnp.linalg.svd(us, compute_uv=False)  # (B, min(k, D))
    rank = jnp.sum(s > rank_tol * jnp.maximum(s[:, :1], 1e-30), axis=1)
    s2 = s**2
    eff = jnp.where(s2.sum(1) > 0, s2.sum(1) ** 2 / jnp.where(s2.sum(1) > 0, (s2**2).sum(1), 1), 0)
    return AdversarialDirections(delta, success, max_overlap, rank, eff)


def _project_out(v, basis, mask):
    """v (B, D) minus its components along the orthonormal rows of basis (B, k, D) where mask (k,)."""
    coef = jnp.einsum("bkd,bd->bk", basis, v) * mask
    return v - jnp.einsum("bk,bkd->bd", coef, basis)


@functools.partial(jax.jit, static_argnames=("k", "clip", "alternations"))
def _orthogonal_directions(f, x, y, k, eps, steps, step_size, clip, alternations):
    targeted = jnp.bool_(False)
    d = x.shape[1]

    def feasible(delta, basis, mask):
        # Alternating projections onto {orthogonal to the basis} and {x + delta in [0, 1]}
        # (both convex), ending in the box; then shrink into the ball |delta| <= eps
        # (a scaling towards x keeps both the box and the orthogonality).
        def alt(_, dl):
            return _bound(x + _project_out(dl, basis, mask), clip) - x

        delta = jax.lax.fori_loop(0, alternations, alt, delta)
        n = jnp.linalg.norm(delta, axis=1, keepdims=True)
        return delta * jnp.where(n > eps, eps / jnp.where(n > eps, n, 1), 1)

    def one_direction(i, carry):
        basis, applied = carry
        mask = (jnp.arange(k) < i).astype(x.dtype)

        def step(_, delta):
            g = _project_out(_loss_grad(f, _bound(x + delta, clip), y, targeted), basis, mask)
            return feasible(delta + step_size * _unit(g), basis, mask)

        delta_applied = jax.lax.fori_loop(0, steps, step, jnp.zeros_like(x))  # x + delta is in the box
        basis = basis.at[:, i].set(_unit(_project_out(delta_applied, basis, mask)))
        return basis, applied.at[:, i].set(delta_applied)

    init = (jnp.zeros((x.shape[0], k, d), x.dtype), jnp.zeros((x.shape[0], k, d), x.dtype))
    _, applied = jax.lax.fori_loop(0, k, one_direction, init)
    return applied


def _check_direction_args(logits_fn, x, y, k, eps, clip):
    f = _as_partial(logits_fn)
    x = _check_images(x, bool(clip))
    y = _check_labels(y, x.shape[0], _num_classes(f, x), "y")
    k = check_int(k, "k", 1, x.shape[1], high_label="D")
    eps = _check_scalar(eps, "eps", x.dtype, strict=True)
    return f, x, y, int(k), eps


def orthogonal_adversarial_directions(logits_fn, x, y, k: int, eps, steps: int = 10, step_size=None, *,
                                      clip: bool = True, alternations: int = 30,
                                      rank_tol: float = 1e-3) -> AdversarialDirections:
    r"""Up to k mutually orthogonal adversarial perturbations of L2 size <= eps per image, found one by one.

    Perturbation i is an untargeted L2 PGD attack (``steps`` normalised-gradient steps of
    size ``step_size``, default ``2.5 eps / steps``) whose gradient and iterate are kept in
    the orthogonal complement of the perturbations *actually applied* before it, and inside
    the box (alternating projections between the complement and
    :math:`\{\delta : x + \delta \in [0, 1]^D\}`, then the ball :math:`|\delta|_2 \le \epsilon`).
    The perturbation applied is the clipped one; ``max_overlap`` reports how far clipping left
    them from orthogonal (about 0 here, unlike :func:`gaas_directions`), and ``rank`` checks the
    linear independence of those that succeed. The count of successes is an estimate of the
    dimension of the adversarial subspace at x (Tramer et al. 2017, done with the two checks
    the original omits).

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``.
      x: images ``(B, D)``.
      y: labels, int ``(B,)``.
      k: number of directions (static), 1 <= k <= D.
      eps: L2 radius > 0.
      steps: PGD steps per direction.
      step_size: L2 step (default ``2.5 * eps / steps``).
      clip: keep images in [0, 1].
      alternations: alternating projections per step.
      rank_tol: singular values below ``rank_tol * sigma_max`` do not count towards the rank.

    Returns:
      :class:`AdversarialDirections` with ``delta (B, k, D)``.
    """
    f, x, y, k, eps = _check_direction_args(logits_fn, x, y, k, eps, clip)
    steps = check_int(steps, "steps", 0)
    step_size = 2.5 * eps / max(steps, 1) if step_size is None else _check_scalar(step_size, "step_size", x.dtype,
                                                                                  strict=True)
    alternations = check_int(alternations, "alternations", 0)
    delta = _orthogonal_directions(f, x, y, k, eps, jnp.int32(steps), jnp.asarray(step_size, x.dtype), bool(clip),
                                   alternations)
    return _summarise(f, x, y, delta, rank_tol)


def gaas_basis(g, k: int) -> jax.Array:
    r"""k orthonormal directions each with inner product :math:`1/\sqrt k` with ``g / |g|``.

    Tramer et al. (2017), GAAS: with :math:`Q` an orthonormal ``(D, k)`` frame whose first column
    is :math:`\hat g` (Gram-Schmidt of :math:`\hat g` and fixed coordinate directions), and the
    Householder reflection :math:`H` of :math:`\mathbb{R}^k` mapping :math:`(1, \dots, 1)/\sqrt k`
    to :math:`e_1`, the directions are the columns of :math:`Q H`.

    Args:
      g: gradients ``(B, D)``.
      k: number of directions, 1 <= k <= D.

    Returns:
      ``(B, k, D)``, orthonormal rows.
    """
    g = jnp.asarray(g)
    if g.ndim != 2:
        raise ValueError(f"g: expected gradients of shape (B, D), got shape {g.shape}")
    k = check_int(k, "k", 1, g.shape[1], high_label="D")
    d = g.shape[1]
    # Q: QR of [g, fixed pseudo-random vectors] (a deterministic complement, full rank a.s.)
    rest = jax.random.normal(jax.random.key(0), (d, k - 1), g.dtype)

    def frame(gi):
        q, r = jnp.linalg.qr(jnp.concatenate([gi[:, None], rest], axis=1))
        d = jnp.diagonal(r)
        return q * jnp.where(d >= 0, 1, -1).astype(q.dtype)[None, :]  # first column = +g / |g| (orthonormal if g = 0)

    q = jax.vmap(frame)(g)  # (B, D, k)
    u = jnp.full((k,), 1 / np.sqrt(k), g.dtype)
    v = u - jnp.eye(k, dtype=g.dtype)[0]
    vv = v @ v
    h = jnp.eye(k, dtype=g.dtype) - (2 * jnp.outer(v, v) / vv if k > 1 else 0)
    return jnp.swapaxes(q @ h, 1, 2)


def gaas_directions(logits_fn, x, y, k: int, eps, *, clip: bool = True, rank_tol: float = 1e-3) -> AdversarialDirections:
    r"""The naive GAAS estimate (Tramer et al. 2017): k orthonormal directions around the gradient, then clip.

    The perturbations are :math:`\epsilon r_i` with :math:`r_i` from :func:`gaas_basis` at the
    loss gradient; the images :math:`x + \epsilon r_i` are then clipped to [0, 1], which is
    what the original did and what breaks orthogonality (``max_overlap``) and may reduce the
    rank of the successful perturbations.

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``.
      x: images ``(B, D)``.
      y: labels, int ``(B,)``.
      k: number of directions, 1 <= k <= D.
      eps: L2 radius > 0.
      clip: clip the images to [0, 1].
      rank_tol: as in :func:`orthogonal_adversarial_directions`.

    Returns:
      :class:`AdversarialDirections`.
    """
    f, x, y, k, eps = _check_direction_args(logits_fn, x, y, k, eps, clip)
    g = _loss_grad(f, x, y, jnp.bool_(False))
    r = gaas_basis(g, k)
    delta = _bound(x[:, None, :] + eps * r, clip) - x[:, None, :]
    return _summarise(f, x, y, delta, rank_tol)


def path_plane_coordinates(path, plane) -> jax.Array:
    r"""Coordinates :math:`(a, b) = ((x^t - o) \cdot u, (x^t - o) \cdot v)` of a path in a plane.

    Args:
      path: ``(T + 1, D)`` (one image's path) or ``(T + 1, B, D)``.
      plane: a :class:`geomlib.Plane` (``origin``, orthonormal ``u``, ``v``).

    Returns:
      ``(T + 1, 2)`` resp. ``(T + 1, B, 2)``.
    """
    if not isinstance(plane, Plane):
        raise ValueError(f"plane: expected a geomlib.Plane (from geomlib.plane(u, v, origin)), got {type(plane).__name__}")
    path = jnp.asarray(path)
    if path.ndim not in (2, 3) or path.shape[-1] != plane.u.shape[0]:
        raise ValueError(f"path: expected shape (T + 1, D) or (T + 1, B, D) with D = {plane.u.shape[0]}, "
                         f"got shape {path.shape}")
    d = path - plane.origin
    return jnp.stack([d @ plane.u, d @ plane.v], axis=-1)


def _one_image(response_fn, x):
    return response_fn(x[None])[0]


def one_image(response_fn) -> Partial:
    """A batched response ``(B, D) -> (B,)`` as a one-image response ``(D,) -> ()`` (for
    :func:`geomlib.plane_values`), kept a ``Partial`` so that bound parameters stay traced
    (a closure would bake them into the compiled code as constants)."""
    if not callable(response_fn):
        raise ValueError(f"response_fn: expected a callable (B, D) -> (B,), got {type(response_fn).__name__}")
    return Partial(_one_image, _as_partial(response_fn))
