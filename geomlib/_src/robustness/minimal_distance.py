r"""Minimal adversarial perturbations per image: the smallest distance at which each image
falls, found by several attacks (DeepFool, Carlini-Wagner over runner-up targets, a
bisection on the radius of PGD), each result verified, the minimum reported with its method."""

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
    carlini_wagner,
    check_class_labels,
    check_steps,
    classes_of,
    deepfool,
)
from geomlib._src.attacks import pgd_kernel
from geomlib._src.core.checks import check_bool, check_callable, check_images, check_int, check_norm, check_scalar

#: Most bisection rounds of the radius search: 64 halvings reach float64 resolution, more do nothing.
MAX_SEARCH_ROUNDS = 64
from geomlib._src.robustness.autoattack import check_adversarials

#: The methods of :func:`minimal_perturbation`, in the order they run.
MINIMAL_METHODS = ("deepfool", "cw", "search")


class MinimalPerturbation(NamedTuple):
    """Outcome of :func:`minimal_perturbation`.

    Attributes:
      distance: ``(B,)`` smallest verified adversarial distance in the norm (0 for an image
        misclassified already, inf where no method found one).
      method: ``(B,)`` int, index into ``methods`` of the method that found it (-1: clean
        image misclassified, -2: none found).
      x_adv: ``(B, D)`` the adversarial image at that distance (x where none).
      per_method: ``(len(methods), B)`` each method's own verified distance (inf: none).
      methods: the method names.
      norm: ``"2"`` or ``"inf"``.
    """

    distance: np.ndarray
    method: np.ndarray
    x_adv: np.ndarray
    per_method: np.ndarray
    methods: tuple
    norm: str


def _distance(x_adv, x, norm):
    d = np.asarray(x_adv, np.float64) - np.asarray(x, np.float64)
    return np.max(np.abs(d), axis=1) if norm == "inf" else np.linalg.norm(d, axis=1)


def minimal_perturbation(logits_fn: Logits, x: ArrayLike, y: ArrayLike, norm: Norm = "2", *,
                         methods: Sequence[str] = MINIMAL_METHODS, cw_targets: int = 2, cw_steps: int = 100,
                         cw_search_steps: int = 4, search_rounds: int = 8, search_steps: int = 50,
                         eps_max: float | None = None, box: bool = True) -> MinimalPerturbation:
    r"""Smallest adversarial distance per image, over DeepFool, Carlini-Wagner and a radius search.

    For each image (correctly classified; a misclassified one has distance 0):

    - ``"deepfool"``: :func:`geomlib.deepfool` (L2 steps to the linearised boundary, overshoot 0.02);
    - ``"cw"``: :func:`geomlib.carlini_wagner` towards each of the ``cw_targets`` runner-up
      classes (highest logits but y), ``cw_search_steps`` rounds of its search over c;
    - ``"search"``: bisection on a per-image radius :math:`\epsilon`: PGD (``search_steps``
      steps of 2.5 eps / steps in the norm, from x) at :math:`\epsilon = (lo + hi) / 2`,
      ``hi`` <- :math:`\epsilon` on success, ``lo`` <- :math:`\epsilon` otherwise, for
      ``search_rounds`` rounds; ``hi`` starts at the best distance found by the methods
      before it (else ``eps_max``), so the search can only improve on them.

    Every candidate is verified on ``logits_fn`` (misclassified; in [0, 1] unless ``box`` is
    False, which measures the distance to the function's decision boundary anywhere in
    :math:`R^D`, as :func:`geomlib.boundary_curvatures` does; every method then runs unclipped) and measured in
    ``norm``: DeepFool and Carlini-Wagner minimise L2, so in L-inf their distance is an upper
    bound that the search tightens. Each distance is an upper bound on the image's true
    minimal distance; the minimum over methods is the tightest we found. For a linear
    classifier with logit difference :math:`w \cdot x + b` (box constraints inactive) the
    exact values are :math:`|w \cdot x + b| / |w|_2` (L2) and :math:`|w \cdot x + b| / |w|_1` (L-inf).

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``.
      x: images ``(B, D)`` in [0, 1]; y: labels ``(B,)``.
      norm: ``"2"`` or ``"inf"``.
      methods: a non-empty subset of :data:`MINIMAL_METHODS`, in that order.
      cw_targets: runner-up targets of Carlini-Wagner, an int >= 1 (at most K - 1 are used).
      cw_steps, cw_search_steps: Adam steps per round and rounds of its search over c.
      search_rounds, search_steps: bisection rounds (at most 64) and PGD steps per round.
      eps_max: upper end of the search where no method found an adversarial (None: 1 in
        L-inf, :math:`\sqrt D` in L2: the whole box).
      box: keep adversarials in the pixel box [0, 1] (a bool; default True).

    Returns:
      :class:`MinimalPerturbation`.

    References: Moosavi-Dezfooli et al. (2016), DeepFool; Carlini & Wagner (2017);
    Croce & Hein (2020), Minimally distorted adversarial examples with a fast adaptive boundary attack.
    """
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x = check_images(x, True)
    n, dim = x.shape
    k = classes_of(f, x, "x")
    y = check_class_labels(y, n, k, "y")
    norm = check_norm(norm)
    methods = tuple(methods) if not isinstance(methods, str) else (methods,)
    if not methods or any(m not in MINIMAL_METHODS for m in methods) or len(set(methods)) != len(methods):
        raise ValueError(f"methods: expected distinct names among {MINIMAL_METHODS}, got {methods!r}")
    methods = tuple(m for m in MINIMAL_METHODS if m in methods)
    cw_targets = min(check_int(cw_targets, "cw_targets", 1), k - 1)
    cw_steps, cw_search_steps = check_steps(cw_steps, "cw_steps"), check_steps(cw_search_steps, "cw_search_steps")
    search_rounds = check_int(search_rounds, "search_rounds", 1, MAX_SEARCH_ROUNDS)
    search_steps = check_steps(search_steps, "search_steps")
    box = check_bool(box, "box")
    top = (1.0 if norm == "inf" else float(np.sqrt(dim))) if eps_max is None else \
        float(check_scalar(eps_max, "eps_max", x.dtype, strict=True))

    z = f(x)
    clean = np.asarray(jnp.argmax(z, axis=1) == y)
    best = np.where(clean, np.inf, 0.0)
    best_x, method = np.array(x), np.where(clean, -2, -1)
    per = np.full((len(methods), n), np.inf)

    def offer(i, x_adv):
        x_adv = jnp.asarray(x_adv, x.dtype)
        ok = check_adversarials(f, x, y, x_adv, np.inf, norm, 0.0, box=box) & clean
        d = np.where(ok, _distance(x_adv, x, norm), np.inf)
        per[i] = np.minimum(per[i], d)
        better = d < best
        best[better], method[better] = d[better], i
        best_x[better] = np.asarray(x_adv)[better]

    for i, name in enumerate(methods):
        if name == "deepfool":
            offer(i, deepfool(f, x, clip=box))
        elif name == "cw":
            ranked = jnp.argsort(jnp.where(jax.nn.one_hot(y, k, dtype=bool), -jnp.inf, z), axis=1)[:, ::-1]
            for r in range(cw_targets):
                offer(i, carlini_wagner(f, x, ranked[:, r], steps=cw_steps, search_steps=cw_search_steps, clip=box))
        else:
            lo, hi = np.zeros(n), np.where(np.isfinite(best), best, top)
            first = ~np.isfinite(best)  # nothing found yet: try the top of the range first
            for r in range(search_rounds + 1):
                if r == 0 and not first.any():
                    continue
                eps = hi if r == 0 else (lo + hi) / 2
                e = jnp.asarray(eps, x.dtype)[:, None]
                x_adv = pgd_kernel(f, x, y, jnp.bool_(False), e, 2.5 * e / search_steps, jnp.int32(search_steps),
                                   None, norm, box)
                ok = check_adversarials(f, x, y, x_adv, np.inf, norm, 0.0, box=box) & clean
                if r == 0:
                    ok &= first
                    lo = np.where(first & ~ok, hi, lo)   # failed at the top: nothing to bisect
                else:
                    hi, lo = np.where(ok, eps, hi), np.where(ok, lo, eps)
                offer(i, jnp.where(jnp.asarray(ok)[:, None], x_adv, x))
    return MinimalPerturbation(best, method, best_x, per, methods, norm)
