r"""Worst-case robust accuracy over an ensemble of attacks, run as AutoAttack runs them
(Croce & Hein 2020): each attack only on the images every earlier one left standing, and every
adversarial image it reports checked on the host (inside the eps-ball and [0, 1], and
misclassified) before it is counted."""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.attacks import (
    BATCHED_LOGITS,
    Logits,
    Norm,
    apgd,
    apgd_targeted,
    check_class_labels,
    check_steps,
    classes_of,
    fgsm,
    image_shape_of,
    padded_rows,
    pgd,
    square_attack,
)
from geomlib._src.core.checks import check_callable, check_images, check_int, check_key, check_norm, check_scalar
from geomlib._src.core.defaults import pgd_step_size

#: The attacks :func:`robust_accuracy` knows by name, with the names its log prints.
WORST_CASE_ATTACKS = {"apgd-ce": "APGD-CE", "apgd-dlr": "APGD-DLR", "apgd-t": "APGD-T", "square": "Square",
                      "fgsm": "FGSM", "pgd": "PGD-10"}
#: Steps of the ``"pgd"`` attack: the PGD-10 of the earlier chapters (step 2.5 eps / 10, start at x).
PGD_BASELINE_STEPS = 10
#: Rows per compiled attack call (a shrinking set of standing images is padded to a power of two up to this).
WORST_CASE_BATCH = 512
#: Rows per model evaluation when the host checks the attacks' images.
CHECK_BATCH = 128

AttackFn = Callable[[Logits, jax.Array, jax.Array, float, str, "jax.Array | None"], jax.Array]


def ball_tolerance(eps: float, norm: str, dtype) -> float:
    r"""How far past eps a reported image may lie (rounding of :math:`x + \delta` and of the
    projection): :math:`8\,u` for L-inf and :math:`8\,u + 16\,u\,\epsilon` for L2 in
    float32/float64 (u the unit roundoff: about 1e-6 in float32, 2e-15 in float64).

    >>> ball_tolerance(0.1, "inf", np.float32) < 1e-6
    True
    """
    u = float(np.finfo(np.dtype(dtype)).eps)
    return 8 * u + (16 * u * float(eps) if norm == "2" else 0.0)


@dataclasses.dataclass(frozen=True, repr=False)
class RobustAccuracy:
    """The worst case over an ensemble of attacks, per image and overall.

    Attributes:
      clean: bool ``(B,)``, classified right at x.
      robust: bool ``(B,)``, right at x and under every attack.
      x_adv: ``(B, D)``, the image that broke each one (checked: within ``eps`` + ``tolerance``
        of x, in [0, 1], misclassified); x itself for robust images and for clean errors.
      broken_by: int ``(B,)``, the index in ``attack_names`` of the attack that broke the image,
        -1 if it stands (or was wrong at x: see ``clean``), -2 if the caller gave it as already
        broken (``standing``; then ``x_adv`` is x).
      accuracies: ``(n_attacks,)``, the accuracy after each attack, cumulative.
      attack_names: the attacks in the order they ran.
      seconds: wall time of each attack (compilation included).
      clean_accuracy, eps, norm, tolerance: as named.
    """

    clean: np.ndarray
    robust: np.ndarray
    x_adv: np.ndarray
    broken_by: np.ndarray
    accuracies: np.ndarray
    attack_names: tuple[str, ...]
    seconds: tuple[float, ...]
    clean_accuracy: float
    eps: float
    norm: str
    tolerance: float

    @property
    def robust_accuracy(self) -> float:
        """The fraction of images robust to every attack."""
        return float(np.mean(self.robust))

    @property
    def broken_by_name(self) -> tuple[str, ...]:
        """Per image the name of the attack that broke it, ``""`` if it stands, ``"clean"`` if wrong at x."""
        return tuple("clean" if not c else ("before" if i == -2 else "" if i < 0 else self.attack_names[i])
                     for c, i in zip(self.clean.tolist(), self.broken_by.tolist()))

    def report(self) -> str:
        """AutoAttack's log: clean accuracy, then the robust accuracy after each attack with its time."""
        n = len(self.clean)
        lines = [f"worst case over {len(self.attack_names)} attacks, {n} images, eps {self.eps:g} (L{self.norm})",
                 f"clean accuracy: {self.clean_accuracy:.2%}"]
        for name, acc, sec in zip(self.attack_names, self.accuracies, self.seconds):
            lines.append(f"robust accuracy after {name}: {acc:.2%} ({sec:.1f} s)")
        lines.append(f"robust accuracy: {self.robust_accuracy:.2%}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.report()


def predict_classes(logits_fn: Logits, x: ArrayLike, batch: int = CHECK_BATCH) -> np.ndarray:
    """Arg-max class of each image, evaluated in fixed-shape chunks of ``batch`` rows (zero
    padded), so that a row's logits do not depend on what else is in the batch.

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``; x: images ``(B, D)``.

    Returns:
      int ``(B,)``.
    """
    x = np.asarray(x)
    out = np.empty(len(x), np.int64)
    for start in range(0, len(x), batch):
        part = x[start:start + batch]
        pad = np.zeros((batch, x.shape[1]), x.dtype)
        pad[: len(part)] = part
        out[start:start + len(part)] = np.asarray(jnp.argmax(logits_fn(jnp.asarray(pad)), axis=1))[: len(part)]
    return out


def check_adversarials(logits_fn: Logits, x: ArrayLike, y: ArrayLike, x_adv: ArrayLike, eps: float, norm: str,
                       tolerance: float, name: str = "x_adv", *, box: bool = True) -> np.ndarray:
    """Which rows of ``x_adv`` are misclassified; a ValueError if any misclassified row lies
    outside the eps-ball (by more than ``tolerance``) or, with ``box``, outside [0, 1]: such a
    row is a bug of the attack that made it, never an adversarial example.

    Args:
      logits_fn: ``(B, D) -> (B, K)``; x, x_adv: ``(B, D)``; y: labels ``(B,)``.
      box: whether adversarials must lie in the pixel box [0, 1] (False: the function's
        geometry, points anywhere in R^D).

    Returns:
      bool ``(B,)``.
    """
    x64, a64 = np.asarray(x, np.float64), np.asarray(x_adv, np.float64)
    if a64.shape != x64.shape:
        raise ValueError(f"{name}: expected shape {x64.shape}, got {a64.shape}")
    delta = a64 - x64
    size = np.max(np.abs(delta), axis=1) if norm == "inf" else np.linalg.norm(delta, axis=1)
    finite = np.all(np.isfinite(a64), axis=1)
    wrong = finite & (predict_classes(logits_fn, np.where(finite[:, None], x_adv, np.asarray(x))) != np.asarray(y))
    outside = wrong & (size > eps + tolerance)
    off_box = wrong & ((a64.min(axis=1) < 0) | (a64.max(axis=1) > 1)) & box
    if outside.any() or off_box.any():
        i = int(np.flatnonzero(outside | off_box)[0])
        raise ValueError(f"{name}: a misclassified image is not a valid adversarial: row {i} has L{norm} distance "
                         f"{size[i]:.9g} (eps {eps:g} + tolerance {tolerance:.1e}) and pixels in "
                         f"[{a64[i].min():.9g}, {a64[i].max():.9g}]")
    return wrong


def _attack_list(attacks, surrogates) -> list[tuple[str, AttackFn | str]]:
    if isinstance(attacks, (str, bytes)) or not isinstance(attacks, Sequence):
        raise TypeError(f"attacks: expected a sequence of attack names or (name, fn) pairs, got {attacks!r}")
    out = []
    for item in attacks:
        if isinstance(item, str):
            if item not in WORST_CASE_ATTACKS:
                raise ValueError(f"attacks: unknown attack {item!r}; expected one of {sorted(WORST_CASE_ATTACKS)} "
                                 f"or a (name, fn) pair")
            out.append((WORST_CASE_ATTACKS[item], item))
        elif (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and item[0]
              and callable(item[1])):
            out.append(item)
        else:
            raise TypeError(f"attacks: expected an attack name or a (name, fn) pair with "
                            f"fn(logits_fn, x, y, eps, norm, key) -> x_adv, got {item!r}")
    if surrogates is not None:
        if not isinstance(surrogates, Mapping):
            raise TypeError(f"surrogates: expected a mapping name -> logits_fn, got {type(surrogates).__name__}")
        for name, fn in surrogates.items():
            if not isinstance(name, str) or not callable(fn):
                raise TypeError(f"surrogates: expected str -> callable {BATCHED_LOGITS}, got {name!r}: {fn!r}")
            out.append((f"APGD-CE ({name})", ("apgd-ce", fn)))
            out.append((f"APGD-DLR ({name})", ("apgd-dlr", fn)))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(f"attacks: expected distinct attack names, got {names}")
    if not out:
        raise ValueError("attacks: expected at least one attack, got none")
    return out


def _standing_mask(standing, n: int) -> np.ndarray:
    """``standing`` as a bool array ``(n,)`` (a TypeError for non-bools, a ValueError for another shape)."""
    s = np.asarray(standing)
    if s.dtype != np.bool_:
        raise TypeError(f"standing: expected a bool array of shape ({n},), got dtype {s.dtype}")
    if s.shape != (n,):
        raise ValueError(f"standing: expected a bool array of shape ({n},), got shape {s.shape}")
    return s


def robust_accuracy(logits_fn: Logits, x: ArrayLike, y: ArrayLike, eps: ArrayLike, norm: Norm = "inf", *,
                    attacks: Sequence = ("apgd-ce", "apgd-t", "square"), surrogates: Mapping | None = None,
                    steps: int = 100, restarts: int = 1, n_targets: int = 9, queries: int = 5000,
                    key: jax.Array | None = None, image_shape: tuple[int, ...] | None = None,
                    standing: ArrayLike | None = None) -> RobustAccuracy:
    r"""Robust accuracy under the worst case of several attacks, AutoAttack's way.

    The images classified right at x are attacked by each attack in turn; each attack sees only
    the images that all earlier ones left standing. An image is *robust* when no attack found a
    point :math:`x'` with :math:`\|x' - x\| \le \epsilon`, :math:`x' \in [0, 1]^D` and
    :math:`\arg\max_k z_k(x') \ne y`. Every such point is checked on the host (distance in
    float64, within :func:`ball_tolerance`; pixel range; the model's arg-max, by :func:`predict_classes`)
    before it counts; a misclassified point outside the ball or the box raises (a bug, not an
    adversarial example). The result is an upper bound on the true robust accuracy: as strong as
    its attacks.

    Attacks by name (``steps``, ``restarts``, ``n_targets``, ``queries`` set their budgets):
    ``"apgd-ce"``, ``"apgd-dlr"`` (:func:`geomlib.apgd`), ``"apgd-t"``
    (:func:`geomlib.apgd_targeted`), ``"square"`` (:func:`geomlib.square_attack`), ``"fgsm"``,
    ``"pgd"`` (PGD-10, step 2.5 eps / 10, from x: the earlier chapters' attack). A custom or
    adaptive attack is a pair ``(name, fn)`` with ``fn(logits_fn, x, y, eps, norm, key) -> x_adv``.
    Each entry ``name: surrogate_fn`` of ``surrogates`` adds an APGD-CE and an APGD-DLR that
    follow the surrogate's gradient (BPDA through a smooth twin, transfer from another model),
    judged on ``logits_fn``; they run after ``attacks``.

    Args:
      logits_fn: batched classifier ``(B, D) -> (B, K)``, rows independent.
      x: images ``(B, D)`` in [0, 1].
      y: labels, int ``(B,)`` in [0, K).
      eps: radius, a finite real scalar >= 0.
      norm: ``"inf"`` or ``"2"``.
      attacks: names and ``(name, fn)`` pairs, in the order to run them.
      surrogates: mapping name -> batched ``logits_fn`` for gradient-only attacks, or None.
      steps, restarts: APGD iterations and restarts (each integer >= 1).
      n_targets: APGD-T's target classes (integer >= 1; at most K - 1 are used).
      queries: Square's budget per image (integer >= 1).
      key: PRNG key (attack i gets ``fold_in(key, i)``), or None: deterministic runs (APGD from
        x, Square with ``jax.random.key(i)``).
      image_shape: for Square: (H, W) or (H, W, C); None: square one-channel images.
      standing: optional bool ``(B,)``; False marks images already known to be broken (e.g. at a
        smaller eps, whose ball lies inside this one): not attacked again, counted as not robust
        (``broken_by`` -2).

    Returns:
      :class:`RobustAccuracy`; its ``repr`` is the log.

    Reference: Croce & Hein (2020), Reliable evaluation of adversarial robustness with an
    ensemble of diverse parameter-free attacks, ICML.

    >>> w = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
    >>> logits_fn = lambda x: x @ w                                 # class 1 iff x1 > x0
    >>> x, y = jnp.array([[0.6, 0.4], [0.9, 0.1]]), jnp.array([0, 0])
    >>> res = robust_accuracy(logits_fn, x, y, 0.15, attacks=("apgd-ce",), steps=10)
    >>> res.robust.tolist(), res.broken_by.tolist()                 # margins 0.2 and 0.8 vs 2 eps = 0.3
    ([False, True], [0, -1])
    """
    norm = check_norm(norm)
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x = check_images(x, True)
    k = classes_of(f, x, "x")
    labels = check_class_labels(y, x.shape[0], k, "y")
    eps_value = float(check_scalar(eps, "eps", x.dtype))
    plan = _attack_list(attacks, surrogates)
    steps = check_steps(steps, "steps")
    restarts = check_int(restarts, "restarts", 1)
    n_targets = check_int(n_targets, "n_targets", 1)
    queries = check_steps(queries, "queries")
    key = check_key(key)
    if any(spec == "square" for _, spec in plan):
        image_shape = image_shape_of(x.shape[1], image_shape)

    def run(spec, xs, ys, sub_key, index):
        if not isinstance(spec, str) and isinstance(spec, tuple):  # a surrogate's attack
            loss = "ce" if spec[0] == "apgd-ce" else "dlr"
            return apgd(f, xs, ys, eps_value, norm, loss, steps=steps, restarts=restarts, key=sub_key,
                        surrogate=spec[1])
        if callable(spec):
            return spec(f, xs, ys, eps_value, norm, sub_key)
        if spec in ("apgd-ce", "apgd-dlr"):
            return apgd(f, xs, ys, eps_value, norm, spec[5:], steps=steps, restarts=restarts, key=sub_key)
        if spec == "apgd-t":
            return apgd_targeted(f, xs, ys, eps_value, norm, n_targets, steps=steps, restarts=restarts, key=sub_key)
        if spec == "square":
            return square_attack(f, xs, ys, eps_value, norm, queries,
                                 key=jax.random.key(index) if sub_key is None else sub_key, image_shape=image_shape)
        if spec == "fgsm":
            return fgsm(f, xs, ys, eps_value, norm)
        return pgd(f, xs, ys, eps_value, PGD_BASELINE_STEPS, pgd_step_size(eps_value, PGD_BASELINE_STEPS), norm)

    x_np, y_np = np.asarray(x), np.asarray(labels)
    tolerance = ball_tolerance(eps_value, norm, x.dtype)
    clean = predict_classes(f, x_np) == y_np
    given = np.ones(len(y_np), bool) if standing is None else _standing_mask(standing, len(y_np))
    standing = clean & given
    x_adv = x_np.copy()
    broken_by = np.where(clean & ~given, -2, -1).astype(np.int64)
    accuracies, seconds = [], []
    for index, (name, spec) in enumerate(plan):
        start = time.perf_counter()
        rows = np.flatnonzero(standing)
        sub_key = None if key is None else jax.random.fold_in(key, index)
        for c0 in range(0, rows.size, WORST_CASE_BATCH):
            chunk = rows[c0:c0 + WORST_CASE_BATCH]
            idx = padded_rows(chunk)
            chunk_key = None if sub_key is None else jax.random.fold_in(sub_key, c0)
            out = run(spec, jnp.asarray(x_np[idx]), jnp.asarray(y_np[idx]), chunk_key, index)
            out = np.asarray(jax.block_until_ready(out))
            if out.shape != (idx.size, x_np.shape[1]):
                raise ValueError(f"attacks: {name} returned shape {out.shape}, expected {(idx.size, x_np.shape[1])}")
            out = out[: chunk.size]
            wrong = check_adversarials(f, x_np[chunk], y_np[chunk], out, eps_value, norm, tolerance,
                                       name=f"attacks: {name}")
            hit = chunk[wrong]
            x_adv[hit] = out[wrong]
            broken_by[hit] = index
            standing[hit] = False
        seconds.append(time.perf_counter() - start)
        accuracies.append(float(np.mean(standing)))
    broken = broken_by >= 0
    wrong = check_adversarials(f, x_np[broken], y_np[broken], x_adv[broken], eps_value, norm, tolerance)
    if not wrong.all():
        raise RuntimeError("robust_accuracy: a reported adversarial image is classified right on re-evaluation "
                           "(a bug)")
    return RobustAccuracy(clean=clean, robust=standing, x_adv=x_adv, broken_by=broken_by,
                          accuracies=np.asarray(accuracies), attack_names=tuple(n for n, _ in plan),
                          seconds=tuple(seconds), clean_accuracy=float(np.mean(clean)), eps=eps_value, norm=norm,
                          tolerance=tolerance)
