r"""Adversarial attacks on batched classifiers, and how big and how successful they are.

Every attack takes ``logits_fn``, a JAX-traceable map from a batch of images ``(B, D)``
to logits ``(B, K)`` in which each row depends on its own image only (e.g.
``jax.vmap`` of a one-image model), and returns adversarial images ``(B, D)``.
Losses are *sums* over the batch, so each image's gradient is its own and attacking a
batch equals attacking its images one by one. Images stay in [0, 1] (``clip=True``,
the default); ``clip=False`` is for unbounded inputs such as whitened patches.

Bind the model's parameters with ``jax.tree_util.Partial(batched_model, params)``:
the kernels are jit-compiled once per model *structure* (and norm, clip, batch shape)
and the parameters, eps, step sizes and step counts stay traced arguments (a plain
function or lambda is keyed by identity instead).

Attack size is reported as in Paiton et al. (2020): the mean squared distance
:math:`\mathrm{MSD} = \frac1D \sum_j (x^{adv}_j - x_j)^2` per image.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.tree_util import Partial

from geomlib._src.checks import check_int
from geomlib._src.planes import float_dtype

Logits = Callable[[jax.Array], jax.Array]
Norm = Union[str, int, float]


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


# ----------------------------------------------------------------------------- checks


def _concrete(*xs) -> bool:
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def _as_partial(logits_fn) -> Partial:
    if not callable(logits_fn):
        raise ValueError(f"logits_fn: expected a callable (B, D) -> (B, K), got {type(logits_fn).__name__}")
    return logits_fn if isinstance(logits_fn, Partial) else Partial(logits_fn)


def _check_norm(norm) -> str:
    if isinstance(norm, str) and norm in ("inf", "2"):
        return norm
    if isinstance(norm, (int, float, np.integer, np.floating)) and not isinstance(norm, bool):
        if norm == 2:
            return "2"
        if norm == np.inf:
            return "inf"
    raise ValueError(f"norm: expected 'inf' or '2' (or np.inf, 2), got {norm!r}")


def _check_images(x, clip: bool, name: str = "x") -> jax.Array:
    x = jnp.asarray(x, dtype=float_dtype())
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"{name}: expected a batch of flattened images of shape (B, D), got shape {x.shape}")
    if _concrete(x):
        if not bool(jnp.all(jnp.isfinite(x))):
            raise ValueError(f"{name}: expected finite entries, got {int(jnp.sum(~jnp.isfinite(x)))} non-finite")
        if clip and not bool(jnp.all((x >= 0) & (x <= 1))):
            raise ValueError(f"{name}: expected pixel values in [0, 1] (clip=True), got values in "
                             f"[{float(jnp.min(x)):g}, {float(jnp.max(x)):g}]; pass clip=False for unbounded inputs")
    return x


def _num_classes(f: Partial, x: jax.Array) -> int:
    """K from the shape of one abstract evaluation of f (no FLOPs spent)."""
    out = jax.eval_shape(f, jax.ShapeDtypeStruct(x.shape, x.dtype))
    shape = getattr(out, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != x.shape[0] or shape[1] < 2:
        raise ValueError(f"logits_fn: expected output shape (B, K) = ({x.shape[0]}, K) with K >= 2, "
                         f"got {shape if shape is not None else type(out).__name__}")
    return int(shape[1])


def _check_labels(labels, batch: int, k: int, name: str) -> jax.Array:
    labels = jnp.asarray(labels)
    if labels.shape != (batch,):
        raise ValueError(f"{name}: expected integer labels of shape (B,) = ({batch},), got shape {labels.shape}")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"{name}: expected integer labels, got dtype {labels.dtype}")
    if _concrete(labels) and not bool(jnp.all((labels >= 0) & (labels < k))):
        raise ValueError(f"{name}: expected labels in [0, {k}) (K = {k} classes), got values in "
                         f"[{int(jnp.min(labels))}, {int(jnp.max(labels))}]")
    return labels.astype(jnp.int32)


def _check_scalar(value, name: str, dtype, *, low: float = 0.0, strict: bool = False, high: float | None = None):
    arr = jnp.asarray(value, dtype=dtype)
    if arr.shape != ():
        raise ValueError(f"{name}: expected a scalar, got shape {arr.shape}")
    if _concrete(arr):
        v = float(arr)
        bad = not np.isfinite(v) or (v <= low if strict else v < low) or (high is not None and v >= high)
        if bad:
            interval = f"{'(' if strict else '['}{low:g}, {'inf)' if high is None else f'{high:g})'}"
            raise ValueError(f"{name}: expected a finite value in {interval}, got {value!r}")
    return arr


def _labels(y, target, batch: int, k: int):
    """(labels, targeted) for the gradient attacks: the target if given, else y."""
    if target is None:
        if y is None:
            raise ValueError("y: expected labels of shape (B,) (or a target for a targeted attack), got None")
        return _check_labels(y, batch, k, "y"), jnp.bool_(False)
    if y is not None:
        _check_labels(y, batch, k, "y")
    return _check_labels(target, batch, k, "target"), jnp.bool_(True)


def _check_key(key):
    dtype = getattr(key, "dtype", None)
    if key is None or (dtype is not None and (jnp.issubdtype(dtype, jax.dtypes.prng_key)
                                              or (jnp.shape(key) == (2,) and dtype == np.uint32))):
        return key
    raise ValueError(f"key: expected a PRNG key (jax.random.key or jax.random.PRNGKey) or None, got {key!r}")


def _setup(logits_fn, x, clip: bool):
    f = _as_partial(logits_fn)
    x = _check_images(x, bool(clip))
    return f, x, _num_classes(f, x)


# ----------------------------------------------------------------------------- kernels


def _bound(x, clip: bool):
    return jnp.clip(x, 0, 1) if clip else x


def _pick(z, labels):
    return jnp.take_along_axis(z, labels[:, None], axis=1)[:, 0]


def _loss_grad(f, x, labels, targeted):
    """Gradient of the loss the attack *ascends*: cross-entropy of the true label
    (untargeted) or minus cross-entropy of the target (``targeted`` may be traced).
    A sum over the batch, so each row of the result is that image's own gradient."""
    sign = jnp.where(targeted, -1, 1).astype(x.dtype)

    def loss(x):
        return sign * optax.softmax_cross_entropy_with_integer_labels(f(x), labels).sum()

    return jax.grad(loss)(x)


def _steepest(g, norm: str):
    """Unit-norm steepest-ascent direction for gradient g: sign(g) or g / |g|_2 (0 if g = 0)."""
    if norm == "inf":
        return jnp.sign(g)
    n = jnp.linalg.norm(g, axis=1, keepdims=True)
    return jnp.where(n > 0, g / jnp.where(n > 0, n, 1), 0)


def _project(delta, eps, norm: str):
    """Euclidean projection onto the eps-ball of the norm."""
    if norm == "inf":
        return jnp.clip(delta, -eps, eps)
    n = jnp.linalg.norm(delta, axis=1, keepdims=True)
    return delta * jnp.where(n > eps, eps / jnp.where(n > eps, n, 1), 1)


def _random_start(key, shape, eps, norm: str, dtype):
    """Uniform sample from the eps-ball of the norm (per image)."""
    k1, k2 = jax.random.split(key)
    if norm == "inf":
        return jax.random.uniform(k1, shape, dtype, -1, 1) * eps
    direction = jax.random.normal(k1, shape, dtype)
    direction = direction / jnp.linalg.norm(direction, axis=1, keepdims=True)
    radius = jax.random.uniform(k2, (shape[0], 1), dtype) ** (1 / shape[1])
    return eps * radius * direction


@functools.partial(jax.jit, static_argnames=("norm", "clip"))
def _pgd(f, x, labels, targeted, eps, step_size, steps, key, norm, clip):
    delta = jnp.zeros_like(x) if key is None else _random_start(key, x.shape, eps, norm, x.dtype)
    x_adv = _bound(x + delta, clip)

    def body(_, x_adv):
        x_new = x_adv + step_size * _steepest(_loss_grad(f, x_adv, labels, targeted), norm)
        return _bound(x + _project(x_new - x, eps, norm), clip)

    return jax.lax.fori_loop(0, steps, body, x_adv)


# ----------------------------------------------------------------------------- gradient attacks


def fgsm(logits_fn: Logits, x, y, eps, norm: Norm = "inf", *, target=None, clip: bool = True) -> jax.Array:
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
      eps: step size = radius of the ball, scalar >= 0.
      norm: ``"inf"`` (or ``np.inf``) or ``"2"`` (or ``2``).
      target: target labels ``(B,)`` for a targeted step, or None.
      clip: keep the images in [0, 1].

    Returns:
      adversarial images, shape ``(B, D)``. An image whose gradient underflows to 0
      (saturated softmax) is not moved.

    Reference: Goodfellow, Shlens & Szegedy (2015), Explaining and harnessing
    adversarial examples, ICLR.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x @ jnp.array([1.0, -2.0])], axis=1)
    >>> fgsm(logits_fn, jnp.array([[0.5, 0.5]]), jnp.array([0]), 0.25).tolist()
    [[0.75, 0.25]]
    """
    norm = _check_norm(norm)
    f, x, k = _setup(logits_fn, x, clip)
    eps = _check_scalar(eps, "eps", x.dtype)
    labels, targeted = _labels(y, target, x.shape[0], k)
    return _pgd(f, x, labels, targeted, eps, eps, jnp.int32(1), None, norm, bool(clip))


def pgd(logits_fn: Logits, x, y, eps, steps: int, step_size, norm: Norm = "inf", target=None, key=None, *,
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
      eps: ball radius, scalar >= 0.
      steps: number of steps, >= 0 (traced: no recompilation per value).
      step_size: alpha, scalar > 0.
      norm: ``"inf"`` or ``"2"`` (also ``np.inf``, ``2``).
      target: target labels ``(B,)``: descend the target's cross-entropy instead.
      key: PRNG key for the random start, or None to start at x.
      clip: keep the images in [0, 1].

    Returns:
      adversarial images, shape ``(B, D)``, with ``|x_adv - x| <= eps`` per image.

    Reference: Madry, Makelov, Schmidt, Tsipras & Vladu (2018), Towards deep learning
    models resistant to adversarial attacks, ICLR.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x @ jnp.array([1.0, -2.0])], axis=1)
    >>> x_adv = pgd(logits_fn, jnp.array([[0.5, 0.5]]), jnp.array([0]), 0.1, steps=5, step_size=0.05)
    >>> [round(v, 4) for v in x_adv[0].tolist()]
    [0.6, 0.4]
    """
    norm = _check_norm(norm)
    f, x, k = _setup(logits_fn, x, clip)
    steps = check_int(steps, "steps", 0)
    eps = _check_scalar(eps, "eps", x.dtype)
    step_size = _check_scalar(step_size, "step_size", x.dtype, strict=True)
    labels, targeted = _labels(y, target, x.shape[0], k)
    return _pgd(f, x, labels, targeted, eps, step_size, jnp.int32(steps), _check_key(key), norm,
                bool(clip))


@functools.partial(jax.jit, static_argnames=("clip",))
def _sign_attack(f, x, target, step_size, confidence, max_steps, clip):
    def log_prob(x):
        lp = _pick(jax.nn.log_softmax(f(x), axis=1), target)
        return lp.sum(), lp

    grad_fn = jax.grad(log_prob, has_aux=True)

    def body(carry):
        t, x_adv, _, steps, _ = carry
        g, lp = grad_fn(x_adv)
        prob = jnp.exp(lp)
        move = (prob < confidence) & (t < max_steps)
        x_adv = jnp.where(move[:, None], _bound(x_adv + step_size * jnp.sign(g), clip), x_adv)
        return t + 1, x_adv, prob, steps + move, jnp.any(move)

    # Each pass evaluates the current images and steps only those below the confidence;
    # the loop ends after a pass that moved nothing, so `prob` belongs to the returned
    # images and frozen images never change again.
    init = (jnp.int32(0), x, jnp.zeros(x.shape[0], x.dtype), jnp.zeros(x.shape[0], jnp.int32), jnp.bool_(True))
    _, x_adv, prob, steps, _ = jax.lax.while_loop(lambda c: c[-1], body, init)
    return SignAttackResult(x_adv, steps, prob >= confidence, prob)


def targeted_sign_attack(logits_fn: Logits, x, target, step_size, max_steps: int, confidence=0.9, *,
                         clip: bool = True) -> SignAttackResult:
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
      step_size: alpha, scalar > 0 (0.005 for MNIST in science.md).
      max_steps: at most this many steps per image (traced: no recompilation).
      confidence: c in (0, 1).
      clip: keep the images in [0, 1].

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
    f, x, k = _setup(logits_fn, x, clip)
    target = _check_labels(target, x.shape[0], k, "target")
    step_size = _check_scalar(step_size, "step_size", x.dtype, strict=True)
    confidence = _check_scalar(confidence, "confidence", x.dtype, strict=True, high=1.0)
    max_steps = check_int(max_steps, "max_steps", 0)
    return _sign_attack(f, x, target, step_size, confidence, jnp.int32(max_steps), bool(clip))


# ----------------------------------------------------------------------------- minimal-perturbation attacks


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
        z, jac = logits_and_jacobian(_bound(x + (1 + overshoot) * r_tot, clip))
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
    return _bound(x + (1 + overshoot) * r_tot, clip)


def deepfool(logits_fn: Logits, x, steps: int = 50, overshoot=0.02, *, clip: bool = True) -> jax.Array:
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
      steps: at most this many steps (50 in the paper).
      overshoot: eta >= 0 (0.02 in the paper).
      clip: keep the images in [0, 1].

    Returns:
      adversarial images, shape ``(B, D)``.

    Reference: Moosavi-Dezfooli, Fawzi & Frossard (2016), DeepFool: a simple and
    accurate method to fool deep neural networks, CVPR.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x @ jnp.array([3.0, 4.0]) - 2.0], axis=1)
    >>> x_adv = deepfool(logits_fn, jnp.array([[0.2, 0.2]]), overshoot=0.0)
    >>> round(float(jnp.linalg.norm(x_adv - 0.2)), 5)  # |w.x + b| / |w| = 0.6 / 5
    0.12
    """
    f, x, _ = _setup(logits_fn, x, clip)
    steps = check_int(steps, "steps", 0)
    overshoot = _check_scalar(overshoot, "overshoot", x.dtype)
    return _deepfool(f, x, overshoot, jnp.int32(steps), bool(clip))


@functools.partial(jax.jit, static_argnames=("clip",))
def _carlini_wagner(f, x, target, c0, kappa, learning_rate, steps, search_steps, clip):
    opt = optax.adam(learning_rate)
    not_target = jnp.arange(jax.eval_shape(f, x).shape[1]) != target[:, None]

    def objective(delta, c):
        z = f(x + delta)
        margin = jnp.max(jnp.where(not_target, z, -jnp.inf), axis=1) - _pick(z, target)
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
            delta = _bound(x + optax.apply_updates(delta, updates), clip) - x
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


def carlini_wagner(logits_fn: Logits, x, target, *, c=1.0, steps: int = 200, learning_rate=0.01, kappa=0.0,
                   search_steps: int = 1, clip: bool = True) -> jax.Array:
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
      c: (initial) trade-off constant, scalar > 0.
      steps: Adam steps per round.
      learning_rate: Adam learning rate, > 0.
      kappa: confidence margin >= 0 (0 stops pushing once the target wins).
      search_steps: rounds of the search over c, >= 1.
      clip: keep the images in [0, 1].

    Returns:
      adversarial images ``(B, D)``; for images where no iterate reached the target,
      the last iterate of the last round (check with :func:`attack_success`).

    Reference: Carlini & Wagner (2017), Towards evaluating the robustness of neural
    networks, IEEE Symposium on Security and Privacy.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x @ jnp.array([3.0, 4.0]) - 2.0], axis=1)
    >>> x_adv = carlini_wagner(logits_fn, jnp.array([[0.2, 0.2]]), jnp.array([1]), steps=100)
    >>> bool(attack_success(logits_fn, x_adv, target=jnp.array([1]))[0])
    True
    """
    f, x, k = _setup(logits_fn, x, clip)
    target = _check_labels(target, x.shape[0], k, "target")
    c = _check_scalar(c, "c", x.dtype, strict=True)
    learning_rate = _check_scalar(learning_rate, "learning_rate", x.dtype, strict=True)
    kappa = _check_scalar(kappa, "kappa", x.dtype)
    steps = check_int(steps, "steps", 0)
    search_steps = check_int(search_steps, "search_steps")
    return _carlini_wagner(f, x, target, c, kappa, learning_rate, jnp.int32(steps), jnp.int32(search_steps),
                           bool(clip))


# ----------------------------------------------------------------------------- measurements


def _check_pair(x_adv, x):
    x_adv = _check_images(x_adv, False, "x_adv")
    x = _check_images(x, False)
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv: expected the shape of x {x.shape}, got {x_adv.shape}")
    return x_adv, x


def mean_squared_distance(x_adv, x) -> jax.Array:
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


def perturbation_norm(x_adv, x, norm: Norm = "2") -> jax.Array:
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
    norm = _check_norm(norm)
    x_adv, x = _check_pair(x_adv, x)
    d = x_adv - x
    return jnp.max(jnp.abs(d), axis=1) if norm == "inf" else jnp.linalg.norm(d, axis=1)


def attack_success(logits_fn: Logits, x_adv, y=None, *, target=None) -> jax.Array:
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
    f = _as_partial(logits_fn)
    x_adv = _check_images(x_adv, False, "x_adv")
    k = _num_classes(f, x_adv)
    pred = jnp.argmax(f(x_adv), axis=1)
    if target is not None:
        return pred == _check_labels(target, x_adv.shape[0], k, "target")
    return pred != _check_labels(y, x_adv.shape[0], k, "y")
