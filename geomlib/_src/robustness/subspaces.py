r"""How many mutually orthogonal adversarial directions exist at an image: the naive GAAS
estimate of Tramer et al. (2017) and orthogonal PGD perturbations kept inside the box."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.attacks import (
    BATCHED_LOGITS,
    Logits,
    attack_loss_grad,
    check_class_labels,
    check_steps,
    classes_of,
    clip_box,
    unit_vectors,
)
from geomlib._src.core.checks import (
    check_array,
    check_bool,
    check_callable,
    check_float,
    check_images,
    check_int,
    check_scalar,
)
from geomlib._src.core.defaults import pgd_step_size


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
    u = unit_vectors(delta)
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
            return clip_box(x + _project_out(dl, basis, mask), clip) - x

        delta = jax.lax.fori_loop(0, alternations, alt, delta)
        n = jnp.linalg.norm(delta, axis=1, keepdims=True)
        return delta * jnp.where(n > eps, eps / jnp.where(n > eps, n, 1), 1)

    def one_direction(i, carry):
        basis, applied = carry
        mask = (jnp.arange(k) < i).astype(x.dtype)

        def step(_, delta):
            g = _project_out(attack_loss_grad(f, clip_box(x + delta, clip), y, targeted), basis, mask)
            return feasible(delta + step_size * unit_vectors(g), basis, mask)

        delta_applied = jax.lax.fori_loop(0, steps, step, jnp.zeros_like(x))  # x + delta is in the box
        basis = basis.at[:, i].set(unit_vectors(_project_out(delta_applied, basis, mask)))
        return basis, applied.at[:, i].set(delta_applied)

    init = (jnp.zeros((x.shape[0], k, d), x.dtype), jnp.zeros((x.shape[0], k, d), x.dtype))
    _, applied = jax.lax.fori_loop(0, k, one_direction, init)
    return applied


def _check_direction_args(logits_fn, x, y, k, eps, clip, rank_tol):
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x = check_images(x, check_bool(clip, "clip"))
    y = check_class_labels(y, x.shape[0], classes_of(f, x, "x"), "y")
    k = check_int(k, "k", 1, x.shape[1], high_label="D")
    eps = check_scalar(eps, "eps", x.dtype, strict=True)
    check_float(rank_tol, "rank_tol", 0.0)
    return f, x, y, int(k), eps


def orthogonal_adversarial_directions(logits_fn: Logits, x: ArrayLike, y: ArrayLike, k: int, eps: ArrayLike,
                                      steps: int = 10, step_size: ArrayLike | None = None, *, clip: bool = True,
                                      alternations: int = 30, rank_tol: float = 1e-3) -> AdversarialDirections:
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
      steps: PGD steps per direction, an integer in [0, ``MAX_STEPS`` = 10**7]; 0 applies
        no perturbation (``delta`` all 0, no success).
      step_size: L2 step (default ``2.5 * eps / steps``).
      clip: keep images in [0, 1] (a bool).
      alternations: alternating projections per step, in [0, ``MAX_STEPS``]; at least 1 with
        ``clip`` (0 would leave the images outside the box); 0 without ``clip`` is exact
        (the projected gradient steps stay orthogonal).
      rank_tol: singular values below ``rank_tol * sigma_max`` do not count towards the rank;
        a finite number >= 0.

    Returns:
      :class:`AdversarialDirections` with ``delta (B, k, D)``.
    """
    f, x, y, k, eps = _check_direction_args(logits_fn, x, y, k, eps, clip, rank_tol)
    steps = check_steps(steps, "steps", 0)
    step_size = pgd_step_size(eps, steps) if step_size is None else check_scalar(step_size, "step_size", x.dtype,
                                                                                  strict=True)
    alternations = check_steps(alternations, "alternations", 0)
    if alternations == 0 and clip:
        raise ValueError("alternations: expected an integer >= 1 with clip=True (with none, the perturbations "
                         "leave the box [0, 1]), got 0")
    delta = _orthogonal_directions(f, x, y, k, eps, jnp.int32(steps), jnp.asarray(step_size, x.dtype), bool(clip),
                                   alternations)
    return _summarise(f, x, y, delta, rank_tol)


def gaas_basis(g: ArrayLike, k: int) -> jax.Array:
    r"""k orthonormal directions each with inner product :math:`1/\sqrt k` with ``g / |g|``.

    Tramer et al. (2017), GAAS: with :math:`Q` an orthonormal ``(D, k)`` frame whose first column
    is :math:`\hat g` (Gram-Schmidt of :math:`\hat g` and fixed coordinate directions), and the
    Householder reflection :math:`H` of :math:`\mathbb{R}^k` mapping :math:`(1, \dots, 1)/\sqrt k`
    to :math:`e_1`, the directions are the columns of :math:`Q H`.

    Args:
      g: gradients ``(B, D)``, real and finite (checked where concrete).
      k: number of directions, 1 <= k <= D.

    Returns:
      ``(B, k, D)``, orthonormal rows.
    """
    check_array(g, "g")
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


def gaas_directions(logits_fn: Logits, x: ArrayLike, y: ArrayLike, k: int, eps: ArrayLike, *, clip: bool = True,
                    rank_tol: float = 1e-3) -> AdversarialDirections:
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
      clip: clip the images to [0, 1] (a bool).
      rank_tol: as in :func:`orthogonal_adversarial_directions`.

    Returns:
      :class:`AdversarialDirections`.
    """
    f, x, y, k, eps = _check_direction_args(logits_fn, x, y, k, eps, clip, rank_tol)
    g = attack_loss_grad(f, x, y, jnp.bool_(False))
    r = gaas_basis(g, k)
    delta = clip_box(x[:, None, :] + eps * r, clip) - x[:, None, :]
    return _summarise(f, x, y, delta, rank_tol)
