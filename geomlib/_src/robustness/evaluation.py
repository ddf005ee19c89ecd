r"""Robustness of a classifier under attack: accuracy under PGD at several radii, and the
size of a targeted attack at a target confidence (Paiton et al. 2020)."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.attacks import (
    BATCHED_LOGITS,
    Logits,
    Norm,
    check_class_labels,
    check_steps,
    classes_of,
    mean_squared_distance,
    pgd,
    targeted_sign_attack,
)
from geomlib._src.core.checks import check_callable, check_images, check_key, check_norm
from geomlib._src.core.defaults import PGD_STEP_FACTOR


def accuracy_under_attack(logits_fn: Logits, x: ArrayLike, y: ArrayLike, eps_list: Sequence[float], steps: int = 10,
                          step_size_factor: float = PGD_STEP_FACTOR, norm: Norm = "inf",
                          key: jax.Array | None = None) -> jax.Array:
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
      eps_list: radii, each >= 0 (a sequence of real numbers; one compiled kernel for all).
      steps: PGD steps per radius, an integer in [1, ``MAX_STEPS`` = 10**7].
      step_size_factor: step size relative to ``eps / steps``, a finite real scalar > 0.
      norm: ``"inf"`` or ``"2"``.
      key: PRNG key for a random start, or None (start at x).

    Returns:
      accuracies, shape ``(len(eps_list),)``.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), x[:, 0] - 0.5], axis=1)
    >>> accuracy_under_attack(logits_fn, jnp.array([[0.4], [0.8]]), jnp.array([0, 1]), [0.0, 0.2], steps=5).tolist()
    [1.0, 0.5]
    """
    eps = _radii(eps_list)
    steps = check_steps(steps, "steps")
    factor = _positive_factor(step_size_factor)
    norm = check_norm(norm)
    key = check_key(key)
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x = check_images(x, True)
    y = check_class_labels(y, x.shape[0], classes_of(f, x, "x"), "y")
    return jnp.mean(correct_under_attack(f, x, y, eps, steps, factor, norm, key), axis=1)


def _radii(eps_list) -> np.ndarray:
    """``eps_list`` as a float64 array of radii ``(n,)``, n >= 1, each finite and >= 0."""
    want = f"eps_list: expected a non-empty sequence of finite radii >= 0, got {eps_list!r}"
    try:
        raw = None if isinstance(eps_list, (str, bytes)) or eps_list is None else np.asarray(eps_list)
    except (TypeError, ValueError):
        raw = None
    if raw is None or raw.dtype.kind not in "iuf":  # a string, None, bools, complex: not radii
        raise TypeError(want)
    eps = raw.astype(np.float64)
    if eps.ndim != 1 or eps.size == 0 or not np.all(np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError(want)
    return eps


def _positive_factor(value) -> float:
    """``value`` as a finite float > 0 (a bool or a string is not a number)."""
    want = f"step_size_factor: expected a scalar > 0, got {value!r}"
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)) or np.ndim(value) != 0:
        raise (ValueError if np.ndim(value) != 0 else TypeError)(want)
    kind = np.asarray(value).dtype.kind
    if kind not in "iuf":
        raise TypeError(want)
    v = float(value)
    if not v > 0:
        raise ValueError(want)
    if not np.isfinite(v):
        raise ValueError(f"{want} (not finite)")
    return v


def correct_under_attack(f, x, y, eps, steps: int, step_size_factor: float, norm: str, key) -> jax.Array:
    """Bool ``(len(eps), B)``: image still classified as its label after PGD at each radius
    (checked arguments; ``eps`` a float array, radius 0 = the clean image)."""
    rows = [jnp.zeros((0, x.shape[0]), bool)]
    for e in eps:
        x_adv = x if e == 0 else pgd(f, x, y, float(e), steps, step_size_factor * float(e) / steps, norm, key=key)
        rows.append((jnp.argmax(f(x_adv), axis=1) == y)[None])
    return jnp.concatenate(rows)


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


def msd_at_confidence(logits_fn: Logits, x: ArrayLike, target: ArrayLike, step_size: ArrayLike = 0.005,
                      max_steps: int = 500, confidence: ArrayLike = 0.9) -> MSDResult:
    r"""Attack size as in Paiton et al. (2020): MSD of a targeted sign attack at target confidence c.

    Runs :func:`geomlib.targeted_sign_attack` (step :math:`\alpha`, images clipped to [0, 1])
    and measures :math:`\mathrm{MSD} = \frac1D |x^{adv} - x|^2` at the first step where
    :math:`p_t \ge c`. Images that never reach it get NaN (use ``reached`` for the success rate).

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``.
      x: images ``(B, D)`` in [0, 1].
      target: target labels, int ``(B,)``.
      step_size: alpha > 0 (0.005 in the paper).
      max_steps: at most this many steps, an integer in [0, ``MAX_STEPS`` = 10**7]; 0 takes
        no step (MSD 0 where the target is already at the confidence, NaN elsewhere).
      confidence: c in (0, 1) (0.9 in the paper).

    Returns:
      :class:`MSDResult` ``(msd (B,), reached (B,), steps (B,), x_adv (B, D))``.

    >>> logits_fn = lambda x: jnp.stack([jnp.zeros(len(x)), 4 * x.sum(axis=1) - 4], axis=1)
    >>> res = msd_at_confidence(logits_fn, jnp.array([[0.5, 0.5]]), jnp.array([1]), 0.1, 20)
    >>> [round(v, 4) for v in res.msd.tolist()], res.steps.tolist()
    ([0.09], [3])
    """
    res = targeted_sign_attack(logits_fn, x, target, step_size, max_steps, confidence)
    x = check_images(x, True)
    msd = jnp.where(res.reached, mean_squared_distance(res.x_adv, x), jnp.nan)
    return MSDResult(msd, res.reached, res.steps, res.x_adv)
