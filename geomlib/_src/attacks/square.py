r"""The Square attack (Andriushchenko, Croce, Flammarion & Hein 2020): a gradient-free random
search that changes one square window of the image per query and keeps the change if the
margin loss :math:`z_y - \max_{i \ne y} z_i` went down. It needs no gradient at all, so gradient
masking (a zero, NaN or misleading gradient) does not stop it.

Images are flat ``(B, D)`` and read as ``image_shape`` = (H, W) or (H, W, C) (channels last,
row-major, as :func:`geomlib.load_cifar10` flattens them). The side of the window follows the
published schedule of :math:`p`, the fraction of pixels changed: :math:`p_{init}` halved at
queries 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 out of 10,000 (rescaled to the budget),
side :math:`s = \mathrm{round}(\sqrt{p\, H W})`.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.attacks.apgd import margin_loss_parts
from geomlib._src.attacks.kernels import Logits, Norm, attack_labels, attack_setup, check_steps, clip_box
from geomlib._src.core.checks import check_float, check_key, check_norm, check_scalar

#: The published p schedule: (query out of 10,000 after which p is halved once more).
SQUARE_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
#: The guard of the published normalisations against a zero norm.
SQUARE_GUARD = 1e-12


def square_sides(queries: int, p_init: float, height: int, width: int, norm: str) -> np.ndarray:
    r"""The window side at each query: ``(queries,)`` ints (entry 0, the start, is not used).

    :math:`p_i = p_{init} / 2^{n(i)}`, n(i) the number of halvings passed at
    :math:`\lfloor 10^4\, i / \text{queries} \rfloor`; side :math:`\max(\mathrm{round}\sqrt{p_i H W}, 1)`
    for L-inf, at least 3 and odd for L2, at most :math:`\min(H, W)`.

    >>> square_sides(5000, 0.8, 28, 28, "inf")[[1, 5, 25, 100, 4999]].tolist()
    [25, 25, 18, 13, 1]
    """
    i = np.arange(queries)
    it = (i * 10_000) // queries
    p = p_init / 2.0 ** np.searchsorted(np.array(SQUARE_HALVINGS), it, side="left")
    s = np.maximum(np.rint(np.sqrt(p * height * width)).astype(np.int64), 1 if norm == "inf" else 3)
    if norm == "2":
        s = s + (s % 2 == 0)
    return np.minimum(s, min(height, width)).astype(np.int32)


def _window(rows, cols, top, left, side):
    """Boolean masks ``(B, H, W)`` of the windows [top, top + side) x [left, left + side)."""
    r = (rows[None] >= top[:, None, None]) & (rows[None] < (top + side)[:, None, None])
    c = (cols[None] >= left[:, None, None]) & (cols[None] < (left + side)[:, None, None])
    return r & c


def _eta(rows, cols, top, left, side, transpose, inv_sq_cumsum):
    r"""The published L2 window pattern of side s at (top, left) on the (H, W) canvas, unit L2 norm:
    the top half :math:`+`, the bottom half :math:`-` a stack of concentric squares whose weight
    falls as :math:`1/(c+1)^2`, each half normalised; transposed where ``transpose``."""
    i = rows[None] - top[:, None, None]
    j = cols[None] - left[:, None, None]
    i, j = jnp.where(transpose[:, None, None], j, i), jnp.where(transpose[:, None, None], i, j)
    s = side[:, None, None]
    inside = (i >= 0) & (i < s) & (j >= 0) & (j < s)
    half = s // 2
    top_half = i < half
    a = jnp.where(top_half, half, s - half)  # rows of this half
    ii = jnp.where(top_half, i, i - half)
    m = jnp.maximum(jnp.abs(ii - a // 2), jnp.abs(j - s // 2))
    big = jnp.maximum(a // 2 + 1, s // 2 + 1)
    table = inv_sq_cumsum
    value = jnp.where(inside & (m < big), table[jnp.clip(big, 0, table.shape[0] - 1)] - table[jnp.clip(m, 0, table.shape[0] - 1)], 0)
    n_top = jnp.sqrt(jnp.sum(jnp.where(top_half, value, 0) ** 2, axis=(1, 2), keepdims=True))
    n_bot = jnp.sqrt(jnp.sum(jnp.where(top_half, 0, value) ** 2, axis=(1, 2), keepdims=True))
    value = jnp.where(top_half, value / (n_top + SQUARE_GUARD), -value / (n_bot + SQUARE_GUARD))
    return value / (jnp.sqrt(jnp.sum(value ** 2, axis=(1, 2), keepdims=True)) + SQUARE_GUARD)


def _l2_init(key, x, eps, shape, table):
    """The published L2 start: a grid of window patterns of side H // 5 (5 x 5 of them on a square
    image) with a random sign per image, window and channel, scaled to the sphere of radius eps."""
    b = x.shape[0]
    h, w, c = shape
    s = h // 5
    start = (h - 5 * s) // 2
    nh, nw = h // s, w // s
    one = jnp.ones((1,), jnp.int32)
    pattern = _eta(jnp.arange(s)[:, None], jnp.arange(s)[None, :], 0 * one, 0 * one, s * one, jnp.zeros((1,), bool),
                   table)[0]
    rows, cols = np.arange(h), np.arange(w)
    ti, tj = (rows - start) // s, (cols - start) // s
    inside = ((rows >= start) & (ti < nh))[:, None] & ((cols >= start) & (tj < nw))[None, :]
    tile = np.where(inside, np.clip(ti, 0, nh - 1)[:, None] * nw + np.clip(tj, 0, nw - 1)[None, :], 0)
    local_i, local_j = np.clip((rows - start) % s, 0, s - 1), np.clip((cols - start) % s, 0, s - 1)
    canvas = jnp.where(jnp.asarray(inside), pattern[local_i[:, None], local_j[None, :]], 0)  # (h, w)
    signs = jax.random.rademacher(key, (b, nh * nw, c), x.dtype)[:, jnp.asarray(tile)]     # (b, h, w, c)
    delta = (canvas[None, :, :, None] * signs).reshape(b, -1)
    return eps * delta / (jnp.linalg.norm(delta, axis=1, keepdims=True) + SQUARE_GUARD)


@functools.partial(jax.jit, static_argnames=("norm", "shape", "clip"))
def square_kernel(f, x, labels, eps, sides, key, norm, shape, clip):
    """The Square attack on checked arguments: ``(x_adv (B, D), broken (B,), queries used (B,))``.
    One query per image at the start, then one per entry of ``sides`` after the first until every image is broken;
    broken images are frozen (their windows are drawn but never evaluated into the result)."""
    b = x.shape[0]
    h, w, c = shape
    rows, cols = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
    table = jnp.asarray(np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, max(h, w) + 2) ** 2)]), x.dtype)
    img = lambda v: v.reshape(b, h, w, c)  # noqa: E731

    def query(xa):
        z = f(xa)
        true, other = margin_loss_parts(z, labels)
        return true - other, jnp.argmax(z, axis=1) != labels

    k0, key = jax.random.split(key)
    if norm == "inf":
        stripes = eps * jax.random.rademacher(k0, (b, 1, w, c), x.dtype)
        x0 = clip_box(x + jnp.broadcast_to(stripes, (b, h, w, c)).reshape(b, -1), clip)
    else:
        x0 = clip_box(x + _l2_init(k0, x, eps, shape, table), clip)
    margin_clean, wrong_clean = query(x)
    margin0, wrong0 = query(x0)
    x_best = jnp.where(wrong_clean[:, None], x, x0)
    loss_best = jnp.where(wrong_clean, margin_clean, margin0)
    done = wrong_clean | wrong0
    used = jnp.where(wrong_clean, 0, 1).astype(jnp.int32)

    def cond(state):
        i, _, _, done, _ = state
        return (i < sides.shape[0]) & ~jnp.all(done)

    def body(state):
        i, x_best, loss_best, done, used = state
        s = jnp.full((b,), sides[i])
        kk = jax.random.fold_in(key, i)
        k1, k2, k3, k4, k5, k6 = jax.random.split(kk, 6)
        top = jax.random.randint(k1, (b,), 0, h - s + 1)
        left = jax.random.randint(k2, (b,), 0, w - s + 1)
        signs = jax.random.rademacher(k3, (b, 1, 1, c), x.dtype)
        win = _window(rows, cols, top, left, s)[..., None]
        if norm == "inf":
            x_new = img(x_best) + jnp.where(win, 2 * eps * signs, 0)
            x_new = clip_box(img(x) + jnp.clip(x_new - img(x), -eps, eps), clip).reshape(b, -1)
        else:
            delta = img(x_best - x)
            top2 = jax.random.randint(k4, (b,), 0, h - s + 1)
            left2 = jax.random.randint(k5, (b,), 0, w - s + 1)
            win2 = _window(rows, cols, top2, left2, s)[..., None]
            transpose = jax.random.bernoulli(k6, 0.5, (b,))
            pattern = _eta(rows, cols, top, left, s, transpose, table)[..., None]
            chan = lambda v: jnp.sqrt(jnp.sum(v ** 2, axis=(1, 2), keepdims=True))  # noqa: E731
            norm_w1 = chan(jnp.where(win, delta, 0))
            norm_image = jnp.linalg.norm(x_best - x, axis=1)[:, None, None, None]
            norm_windows = chan(jnp.where(win | win2, delta, 0))
            new = pattern * signs + jnp.where(win, delta, 0) / (SQUARE_GUARD + norm_w1)
            budget = jnp.sqrt(jnp.maximum(eps ** 2 - norm_image ** 2, 0) / c + norm_windows ** 2)
            new = new / (chan(new) + SQUARE_GUARD) * budget
            delta = jnp.where(win, new, jnp.where(win2, 0, delta)).reshape(b, -1)
            delta = eps * delta / (jnp.linalg.norm(delta, axis=1, keepdims=True) + SQUARE_GUARD)
            x_new = clip_box(x + delta, clip)
        margin, wrong = query(x_new)
        take = ~done & ((margin < loss_best) | wrong)
        return (i + 1, jnp.where(take[:, None], x_new, x_best), jnp.where(take, margin, loss_best), done | wrong,
                used + (~done).astype(jnp.int32))

    _, x_best, _, done, used = jax.lax.while_loop(cond, body, (jnp.int32(1), x_best, loss_best, done, used))
    return x_best, done, used


def image_shape_of(d: int, image_shape) -> tuple[int, int, int]:
    """(H, W, C) for flat images of size ``d``: ``image_shape`` (H, W) or (H, W, C), or, when it
    is None, a square one-channel image; a ValueError naming ``image_shape`` otherwise."""
    if image_shape is None:
        side = math.isqrt(d)
        if side * side != d:
            raise ValueError(f"image_shape: images of D = {d} pixels are not square; pass image_shape=(H, W) "
                             f"or (H, W, C), got None")
        return side, side, 1
    try:
        shape = tuple(int(v) for v in image_shape)
        ok = len(shape) in (2, 3) and all(v >= 1 and v == u for v, u in zip(shape, image_shape))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"image_shape: expected (H, W) or (H, W, C) of positive integers, got {image_shape!r}")
    shape = shape + (1,) * (3 - len(shape))
    if math.prod(shape) != d:
        raise ValueError(f"image_shape: expected H * W * C = D = {d}, got {image_shape!r}")
    return shape


def square_attack(logits_fn: Logits, x: ArrayLike, y: ArrayLike, eps: ArrayLike, norm: Norm = "inf",
                  queries: int = 5000, p_init: float = 0.8, key: jax.Array | None = None, *,
                  image_shape: tuple[int, ...] | None = None, clip: bool = True) -> jax.Array:
    r"""The Square attack: random square updates accepted when they lower the margin loss.

    Minimises :math:`L(x') = z_y(x') - \max_{i \ne y} z_i(x')` by random search. L-inf: start
    from vertical stripes :math:`x + \epsilon\, \sigma_{col}` (a random sign per column and
    channel); each query sets one random s x s window (per channel, one random sign) to
    :math:`x \pm \epsilon` and keeps the change if L fell. L2: start from a 5 x 5 grid of
    centred patterns on the sphere of radius eps; each query moves the perturbation's mass
    from a second random window into a new pattern on the first, staying on the sphere.
    Windows are drawn independently per image.

    An image is finished when its arg-max logit is not y (then that image is returned); the
    loop stops when every image is finished or the budget is spent, and finished images take
    no more queries (their rows still ride along in the batch). Images misclassified at x
    are returned unchanged.

    Args:
      logits_fn: batched classifier, ``(B, D) -> (B, K)``.
      x: images, shape ``(B, D)``, in [0, 1] when ``clip``.
      y: true labels, int ``(B,)``.
      eps: radius, a real scalar >= 0.
      norm: ``"inf"`` or ``"2"``.
      queries: model evaluations per image, an integer in [1, ``MAX_STEPS``] (the start is the
        first; one compiled kernel per budget).
      p_init: the initial fraction of pixels in a window, in (0, 1] (0.8 as published for L-inf,
        0.3 was used for L2 in AutoAttack's standard runs).
      key: PRNG key, or None for ``jax.random.key(0)``.
      image_shape: (H, W) or (H, W, C), channels last; None: square one-channel images.
      clip: keep the images in [0, 1] (a bool).

    Returns:
      adversarial images, shape ``(B, D)``, within eps of x: the first query that broke the
      image, else the lowest-margin point.

    Reference: Andriushchenko, Croce, Flammarion & Hein (2020), Square Attack: a
    query-efficient black-box adversarial attack via random search, ECCV.

    >>> def quantised(x):                    # zero gradient almost everywhere: gradient attacks stall
    ...     s = (jnp.round(x * 255) / 255).sum(axis=1) - 12.5
    ...     return jnp.stack([s, jnp.zeros_like(s)], axis=1)
    >>> x_adv = square_attack(quantised, jnp.full((1, 25), 0.52), jnp.array([0]), 0.05, queries=50)
    >>> int(jnp.argmax(quantised(x_adv), axis=1)[0])
    1
    """
    norm = check_norm(norm)
    f, x, k = attack_setup(logits_fn, x, clip)
    eps = check_scalar(eps, "eps", x.dtype)
    labels, _ = attack_labels(y, None, x.shape[0], k)
    queries = check_steps(queries, "queries")
    p_init = check_float(p_init, "p_init", 0.0, 1.0, open_low=True)
    key = check_key(key)
    key = jax.random.key(0) if key is None else key
    shape = image_shape_of(x.shape[1], image_shape)
    if norm == "2" and min(shape[:2]) < 5:
        raise ValueError(f"image_shape: expected H, W >= 5 for L2 (its start tiles the image 5 x 5), got {shape[:2]}")
    sides = jnp.asarray(square_sides(queries, p_init, shape[0], shape[1], norm))
    x_adv, _, _ = square_kernel(f, x, labels, eps, sides, key, norm, shape, bool(clip))
    return x_adv
