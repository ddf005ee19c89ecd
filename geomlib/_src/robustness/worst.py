r"""Attacks as functions and the worst case over them: each attack maps ``(logits_fn, x, y, eps,
norm, key)`` to adversarial images; :func:`worst_case` runs a list of them AutoAttack's way
(each on the digits still standing) and keeps only verified adversarial images."""

from __future__ import annotations

import functools
from typing import Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.attacks import BATCHED_LOGITS, Logits, Norm, check_class_labels, classes_of, pgd
from geomlib._src.core.checks import check_callable, check_images, check_int, check_key, check_norm, check_scalar
from geomlib._src.core.defaults import pgd_step_size

#: Attack: ``attack(logits_fn, x, y, eps, norm, key) -> x_adv`` (the contract of extra attacks).
Attack = Callable[..., jax.Array]


def pgd_attack(steps: int = 100, restarts: int = 1) -> Attack:
    r"""An :data:`Attack` running :func:`geomlib.pgd`: ``steps`` steps of size 2.5 eps / steps
    (Madry et al. 2018), the first run from x and each further restart from a random point
    of the ball; per image, the first adversarial found is kept (else the last run)."""
    steps = check_int(steps, "steps", 1)
    restarts = check_int(restarts, "restarts", 1)
    return functools.partial(_pgd_restarts, steps, restarts)


def _pgd_restarts(steps, restarts, logits_fn, x, y, eps, norm="inf", key=None):
    key = jax.random.key(0) if key is None else key
    best = None
    for r in range(restarts):
        x_adv = pgd(logits_fn, x, y, eps, steps, pgd_step_size(eps, steps), norm,
                    key=None if r == 0 else jax.random.fold_in(key, r))
        if best is None:
            best = x_adv
        else:
            done = jnp.argmax(logits_fn(best), axis=1) != y
            best = jnp.where(done[:, None], best, x_adv)
    return best


def apgd_attack(loss: str = "ce", steps: int = 100, restarts: int = 1) -> Attack:
    """An :data:`Attack` running ``geomlib.apgd`` (Auto-PGD, Croce & Hein 2020) with ``loss``
    ``"ce"`` or ``"dlr"``."""
    from geomlib._src.attacks.apgd import apgd  # fails early (ImportError) if absent

    steps = check_int(steps, "steps", 1)
    restarts = check_int(restarts, "restarts", 1)

    def attack(logits_fn, x, y, eps, norm="inf", key=None):
        key = jax.random.key(0) if key is None else key
        best = None
        for r in range(restarts):  # each restart from its own random start; the first success kept
            x_adv = apgd(logits_fn, x, y, eps, norm=norm, loss=loss, steps=steps, key=jax.random.fold_in(key, r))
            if best is None:
                best = x_adv
            else:
                done = jnp.argmax(logits_fn(best), axis=1) != y
                best = jnp.where(done[:, None], best, x_adv)
        return best
    return attack


def default_attack(steps: int = 100) -> Attack:
    """APGD-CE with ``steps`` steps if ``geomlib.apgd`` exists, else PGD with ``steps`` steps."""
    try:
        return apgd_attack("ce", steps)
    except ImportError:
        return pgd_attack(steps)


def verified_adversarial(logits_fn: Logits, x_adv: jax.Array, x: jax.Array, y: jax.Array, eps: float,
                         norm: str = "inf", tol: float = 1e-5) -> jax.Array:
    r"""Bool ``(B,)``: ``x_adv`` ``(B, D)`` is misclassified by ``logits_fn`` (arg-max != y), in
    [0, 1], and within ``eps`` of ``x`` ``(B, D)`` in the norm (``"inf"`` or ``"2"``), up to
    a float32 tolerance ``eps (1 + tol) + tol``. Arguments unchecked (checked by the callers).

    >>> f = lambda x: jnp.stack([0.5 - x[:, 0], x[:, 0] - 0.5], axis=1)
    >>> verified_adversarial(f, jnp.array([[0.6], [0.9]]), jnp.array([[0.4], [0.4]]), jnp.array([0, 0]), 0.25).tolist()
    [True, False]
    """
    wrong = jnp.argmax(logits_fn(x_adv), axis=1) != y
    box = jnp.all((x_adv >= 0) & (x_adv <= 1), axis=1)
    d = x_adv - x
    size = jnp.max(jnp.abs(d), axis=1) if norm == "inf" else jnp.linalg.norm(d, axis=1)
    return wrong & box & (size <= eps * (1 + tol) + tol)


class WorstCase(NamedTuple):
    """Outcome of :func:`worst_case`.

    Attributes:
      clean: bool ``(B,)``, correct on the clean image.
      robust: bool ``(B,)``, correct under every attack.
      broken_by: int ``(B,)``: index into ``names`` of the first attack that broke the image,
        -1 if none did (robust), -2 if it was already misclassified.
      x_adv: ``(B, D)``, the verified adversarial image, or x where none was found.
      names: the attacks' names, in the order run.
      accuracy: per attack, the accuracy under that attack alone among images it ran on
        (the images still standing when it ran), as a dict name -> float; NaN if it ran on none.
    """

    clean: np.ndarray
    robust: np.ndarray
    broken_by: np.ndarray
    x_adv: np.ndarray
    names: tuple
    accuracy: dict


def _bucket_rows(idx: np.ndarray, smallest: int = 16) -> np.ndarray:
    """``idx`` padded by repeating its last entry to the next power of two (at least ``smallest``),
    or to the next multiple of 64 if that is smaller."""
    size = max(smallest, min(1 << (idx.size - 1).bit_length(), -(-idx.size // 64) * 64))
    return np.concatenate([idx, np.full(size - idx.size, idx[-1])])


def worst_case(logits_fn: Logits, x: ArrayLike, y: ArrayLike, eps: float, attacks: Mapping[str, Attack],
               norm: Norm = "inf", key: jax.Array | None = None, *, standing: ArrayLike | None = None) -> WorstCase:
    r"""Per image, correct under every attack of ``attacks`` (the worst case over them).

    Each attack, in order, runs only on the images still standing (as AutoAttack does; the
    subset padded by repeated rows to a power of two, so attacks compile for few shapes), and
    each adversarial image it returns counts only if it is verified on ``logits_fn``:
    misclassified, in [0, 1], within ``eps`` of x in the norm. The reported robust accuracy
    is the fraction of ``robust``; it is an upper bound on the true robust accuracy, as tight
    as the attacks are.

    Args:
      logits_fn: the classifier judged, ``(B, D) -> (B, K)``.
      x: images ``(B, D)`` in [0, 1]; y: labels ``(B,)``.
      eps: radius >= 0.
      attacks: name -> ``attack(logits_fn, x, y, eps, norm, key) -> x_adv`` (:data:`Attack`).
        An attack may ignore the ``logits_fn`` it is given (e.g. a transfer attack) or wrap
        it (BPDA); it is judged on ``logits_fn`` all the same.
      norm: ``"inf"`` or ``"2"``.
      key: PRNG key, split per attack (None: key 0).
      standing: optional bool ``(B,)``: images already known broken (False) are not attacked
        again and count as broken (e.g. broken at a smaller eps, whose ball is inside this one).

    Returns:
      :class:`WorstCase`.
    """
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x = check_images(x, True)
    y = check_class_labels(y, x.shape[0], classes_of(f, x, "x"), "y")
    eps = float(check_scalar(eps, "eps", x.dtype))
    norm = check_norm(norm)
    key = jax.random.key(0) if check_key(key) is None else key
    if not isinstance(attacks, Mapping) or not attacks or not all(callable(a) for a in attacks.values()):
        raise ValueError(f"attacks: expected a non-empty mapping name -> attack function, got {attacks!r}")
    names = tuple(attacks)
    clean = np.asarray(jnp.argmax(f(x), axis=1) == y)
    alive = clean.copy()
    if standing is not None:
        alive &= np.asarray(standing, bool)
    broken_by = np.where(clean, np.where(alive, -1, len(names)), -2)
    x_adv = np.array(x)
    accuracy = {}
    for i, name in enumerate(names):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            accuracy[name] = float("nan")
            continue
        rows = _bucket_rows(idx)  # padded by repeats: few distinct shapes, few compilations
        xa = np.asarray(attacks[name](f, x[rows], y[rows], eps, norm, jax.random.fold_in(key, i)))[:idx.size]
        ok = np.asarray(verified_adversarial(f, jnp.asarray(xa, x.dtype), x[idx], y[idx], eps, norm))
        accuracy[name] = float(1 - ok.mean())
        hit = idx[ok]
        x_adv[hit] = np.asarray(xa)[ok]
        broken_by[hit] = i
        alive[hit] = False
    broken_by = np.where(broken_by == len(names), -3, broken_by)  # broken before (``standing``)
    return WorstCase(clean, alive, broken_by, x_adv, names, accuracy)
