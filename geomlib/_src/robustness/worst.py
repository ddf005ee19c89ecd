r"""Attacks as functions: each maps ``(logits_fn, x, y, eps, norm, key)`` to adversarial images,
the contract of the ``(name, fn)`` pairs that :func:`geomlib.robust_accuracy` runs in its worst
case (each on the images still standing, every adversarial checked)."""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from geomlib._src.attacks import apgd, check_steps, pgd, square_attack
from geomlib._src.core.checks import check_int
from geomlib._src.core.defaults import pgd_step_size

#: Attack: ``attack(logits_fn, x, y, eps, norm, key) -> x_adv`` (the contract of extra attacks).
Attack = Callable[..., jax.Array]


def pgd_attack(steps: int = 100, restarts: int = 1) -> Attack:
    r"""An :data:`Attack` running :func:`geomlib.pgd`: ``steps`` steps of size 2.5 eps / steps
    (Madry et al. 2018), the first run from x and each further restart from a random point
    of the ball; per image, the first adversarial found is kept (else the last run)."""
    steps = check_steps(steps, "steps")
    restarts = check_int(restarts, "restarts", 1)
    return functools.partial(_pgd_restarts, steps, restarts)


def _first_success(logits_fn, y, runs):
    """Per image, the first of ``runs`` (adversarial images, computed one after another)
    that ``logits_fn`` misclassifies, else the last run's image."""
    best = None
    for x_adv in runs:
        if best is None:
            best = x_adv
        else:
            done = jnp.argmax(logits_fn(best), axis=1) != y
            best = jnp.where(done[:, None], best, x_adv)
    return best


def _pgd_restarts(steps, restarts, logits_fn, x, y, eps, norm="inf", key=None):
    key = jax.random.key(0) if key is None else key
    return _first_success(logits_fn, y, (pgd(logits_fn, x, y, eps, steps, pgd_step_size(eps, steps), norm,
                                             key=None if r == 0 else jax.random.fold_in(key, r))
                                         for r in range(restarts)))


def apgd_attack(loss: str = "ce", steps: int = 100, restarts: int = 1) -> Attack:
    """An :data:`Attack` running ``geomlib.apgd`` (Auto-PGD, Croce & Hein 2020) with ``loss``
    ``"ce"`` or ``"dlr"``."""
    steps = check_steps(steps, "steps")
    restarts = check_int(restarts, "restarts", 1)

    def attack(logits_fn, x, y, eps, norm="inf", key=None):
        key = jax.random.key(0) if key is None else key
        # each restart from its own random start; the first success kept
        return _first_success(logits_fn, y, (apgd(logits_fn, x, y, eps, norm=norm, loss=loss, steps=steps,
                                                  key=jax.random.fold_in(key, r)) for r in range(restarts)))
    return attack


def default_attack(steps: int = 100) -> Attack:
    """APGD-CE with ``steps`` steps (:func:`apgd_attack`)."""
    return apgd_attack("ce", steps)


def square_attack_fn(queries: int = 5000) -> Attack:
    """An :data:`Attack` running :func:`geomlib.square_attack` with ``queries`` queries per image."""
    queries = check_steps(queries, "queries")

    def attack(logits_fn, x, y, eps, norm="inf", key=None):
        return square_attack(logits_fn, x, y, eps, norm=norm, queries=queries, key=key)
    return attack
