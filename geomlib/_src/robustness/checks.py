r"""Sanity checks of a robustness evaluation: the signs of gradient masking listed by Carlini
et al. (2019), "On evaluating adversarial robustness", and the flags of AutoAttack's checker
(Croce & Hein 2020), each measured and printed as ``ok`` or ``FLAG`` with its number."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from geomlib._src.attacks import BATCHED_LOGITS, Logits, Norm, check_class_labels, classes_of, fgsm
from geomlib._src.core.checks import check_callable, check_float, check_images, check_int, check_key, check_norm
from geomlib._src.core.checks import check_bool, check_scalar
from geomlib._src.robustness.autoattack import ball_tolerance, check_adversarials
from geomlib._src.robustness.worst import Attack, apgd_attack, pgd_attack, square_attack_fn


@dataclasses.dataclass(frozen=True)
class Check:
    """One check: its ``name``, ``ok`` (True, False = FLAG, None = skipped), the measured
    ``value`` and a ``detail`` saying what was compared."""

    name: str
    ok: bool | None
    value: float
    detail: str

    def line(self) -> str:
        status = {True: "ok", False: "FLAG", None: "skip"}[self.ok]
        return f"{status:>4}  {self.name:<38} {self.value:8.3f}  {self.detail}"


@dataclasses.dataclass(frozen=True)
class RobustnessChecks:
    """Outcome of :func:`robustness_checks`: ``checks`` (a tuple of :class:`Check`),
    ``accuracy`` (attack name -> accuracy on the n images), ``n`` images, ``eps``, ``norm``.
    ``flags`` lists the names of the checks that failed; ``str()`` is the printed table."""

    checks: tuple
    accuracy: dict
    n: int
    eps: float
    norm: str

    @property
    def flags(self) -> list[str]:
        return [c.name for c in self.checks if c.ok is False]

    def __str__(self) -> str:
        head = f"robustness checks, {self.n} images, eps {self.eps:g} (L{self.norm}):"
        return "\n".join([head] + [c.line() for c in self.checks])


def _white_box(kind: str, steps: int, restarts: int) -> Attack:
    """``"pgd"``: :func:`pgd_attack`; ``"apgd"`` and ``"auto"``: APGD-CE (:func:`apgd_attack`)."""
    return pgd_attack(steps, restarts) if kind == "pgd" else apgd_attack("ce", steps, restarts)


def zero_gradient_fraction(logits_fn: Logits, x: ArrayLike, y: ArrayLike) -> float:
    r"""Fraction of images whose cross-entropy gradient :math:`\nabla_x L(x, y)` is zero
    (:math:`\sum_j |g_j| < 10^{-20}`, AutoAttack's test): a softmax that saturates in float32, a
    ``stop_gradient`` or a quantised input all give exactly zero gradients.

    >>> f = lambda x: jnp.stack([x[:, 0], -x[:, 0]], axis=1)
    >>> zero_gradient_fraction(f, jnp.array([[0.5], [0.2]]), jnp.array([0, 1]))
    0.0
    """
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x = check_images(x, False)
    y = check_class_labels(y, x.shape[0], classes_of(f, x, "x"), "y")
    g = jax.grad(lambda z: optax.softmax_cross_entropy_with_integer_labels(f(z), y).sum())(x)
    return float(jnp.mean(jnp.sum(jnp.abs(g), axis=1) < 1e-20))


def robustness_checks(logits_fn: Logits, x: ArrayLike, y: ArrayLike, *, eps: float, norm: Norm = "inf",
                      attack: str = "auto", steps: int = 100, transfer_from: Logits | None = None,
                      gradient_free: Attack | None = None, eps_unbounded: float | None = None,
                      tol: float = 0.01, key: jax.Array | None = None, verbose: bool = True) -> RobustnessChecks:
    r"""Run and print the checks of a robustness evaluation that expose gradient masking.

    Each check is ``ok`` or ``FLAG`` with its number (Carlini et al. 2019, section 5; the
    flags of AutoAttack's checker, Croce & Hein 2020). With :math:`a(\cdot)` the accuracy on
    the n images under an attack at radius ``eps`` and slack :math:`\tau = \max(\mathrm{tol}, 1/n)`:

    - *unbounded attack*: :math:`a` at ``eps_unbounded`` (default 1 in L-inf: any image of
      the box; :math:`\sqrt D` in L2) must be 0: a bounded-loss attack that cannot break a
      model with unlimited budget is not being steered by its gradient;
    - *iterative beats single-step*: :math:`a(\text{iterative}, B) \le a(\text{FGSM}) + \tau`;
    - *converged*: :math:`a(B) - a(2B) \le \tau` and :math:`a(2B) - a(2B \times 2\ \text{restarts}) \le \tau`
      (more steps and restarts stop lowering accuracy);
    - *white-box beats transfer* (with ``transfer_from``): the fraction of images broken by
      the attack computed on ``transfer_from`` but by no white-box run is at most :math:`\tau`;
    - *gradient-free does not beat white-box*: the same for ``gradient_free`` (default
      ``geomlib.square_attack`` when available, else skipped);
    - *zero gradients*: :func:`zero_gradient_fraction` must be 0;
    - *logits, not probabilities*: rows of ``logits_fn`` must not all lie in [0, 1] and sum to 1;
    - *deterministic*: the same input twice gives the same logits.

    Args:
      logits_fn: the classifier, ``(B, D) -> (B, K)``.
      x: images ``(B, D)`` in [0, 1]; y: labels ``(B,)``.
      eps: the radius evaluated, > 0.
      norm: ``"inf"`` or ``"2"``.
      attack: the white-box attack: ``"apgd"`` (``geomlib.apgd``, CE loss), ``"pgd"``
        (:func:`geomlib.pgd`, step 2.5 eps / steps), or ``"auto"`` (the same as ``"apgd"``).
      steps: its budget B (an int >= 1); it also runs 2B, and 2B with 2 restarts.
      transfer_from: a source model for the transfer check, or None (skipped).
      gradient_free: an attack ``(logits_fn, x, y, eps, norm, key) -> x_adv``; None for
        ``geomlib.square_attack`` (5,000 queries; square images) when available; False to skip.
      eps_unbounded: radius of the unbounded check (None: the whole box).
      tol: accuracy slack of the comparisons, in [0, 1).
      key: PRNG key (None: key 0).
      verbose: print the table.

    Returns:
      :class:`RobustnessChecks`.
    """
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    x = check_images(x, True)
    n, dim = x.shape
    y = check_class_labels(y, n, classes_of(f, x, "x"), "y")
    eps = float(check_scalar(eps, "eps", x.dtype, strict=True))
    verbose = check_bool(verbose, "verbose")
    norm = check_norm(norm)
    if attack not in ("auto", "apgd", "pgd"):
        raise ValueError(f"attack: expected 'auto', 'apgd' or 'pgd', got {attack!r}")
    steps = check_int(steps, "steps", 1)
    if transfer_from is not None:
        transfer_from = check_callable(transfer_from, "transfer_from", BATCHED_LOGITS)
    if not (gradient_free is None or gradient_free is False or callable(gradient_free)):
        raise ValueError(f"gradient_free: expected an attack function, None or False, got {gradient_free!r}")
    big = (1.0 if norm == "inf" else float(np.sqrt(dim))) if eps_unbounded is None else \
        float(check_scalar(eps_unbounded, "eps_unbounded", x.dtype))
    tol = check_float(tol, "tol", 0.0, 1.0)
    key = jax.random.key(0) if check_key(key) is None else key
    slack = max(tol, 1 / n)
    within = slack + 1e-9  # accuracies are multiples of 1/n: no rounding of 1/n may flag a tie

    z1, z2 = f(x), f(x)
    clean = np.asarray(jnp.argmax(z1, axis=1) == y)

    def broken(name, run, e=eps, k=0, source=None):
        x_adv = run(f if source is None else source, x, y, e, norm, jax.random.fold_in(key, k))
        return check_adversarials(f, x, y, jnp.asarray(x_adv, x.dtype), e, norm, ball_tolerance(e, norm, x.dtype)) | ~clean

    runs = {"fgsm": broken("fgsm", lambda g, x_, y_, e, nm, _: fgsm(g, x_, y_, e, nm)),
            f"{attack}-{steps}": broken("B", _white_box(attack, steps, 1), k=1),
            f"{attack}-{2 * steps}": broken("2B", _white_box(attack, 2 * steps, 1), k=2),
            f"{attack}-{2 * steps}x2": broken("2Bx2", _white_box(attack, 2 * steps, 2), k=3)}
    unbounded = broken("unbounded", _white_box(attack, steps, 1), e=big, k=4)
    names = list(runs)
    white = np.any([runs[k] for k in names[1:]], axis=0)
    acc = {k: float(1 - v.mean()) for k, v in runs.items()}
    acc["clean"] = float(clean.mean())
    acc[f"unbounded (eps {big:g})"] = float(1 - unbounded.mean())
    checks = [Check("accuracy -> 0 as eps grows", bool(unbounded.all()), 1 - unbounded.mean(),
                    f"accuracy at eps {big:g} ({names[1]}), must be 0"),
              Check("iterative beats single-step", acc[names[1]] <= acc["fgsm"] + within, acc[names[1]] - acc["fgsm"],
                    f"{names[1]} {acc[names[1]]:.3f} - FGSM {acc['fgsm']:.3f}, must be <= {slack:.3f}"),
              Check("more steps stop helping", acc[names[1]] - acc[names[2]] <= within, acc[names[1]] - acc[names[2]],
                    f"{names[1]} {acc[names[1]]:.3f} - {names[2]} {acc[names[2]]:.3f}, must be <= {slack:.3f}"),
              Check("more restarts stop helping", acc[names[2]] - acc[names[3]] <= within, acc[names[2]] - acc[names[3]],
                    f"{names[2]} {acc[names[2]]:.3f} - {names[3]} {acc[names[3]]:.3f}, must be <= {slack:.3f}")]
    if transfer_from is None:
        checks.append(Check("white-box beats transfer", None, float("nan"), "no transfer_from given"))
    else:
        t = broken("transfer", _white_box(attack, steps, 1), k=5, source=transfer_from)
        acc["transfer"] = float(1 - t.mean())
        extra = float(np.mean(t & ~white))
        checks.append(Check("white-box beats transfer", extra <= within, extra,
                            f"share broken by transfer (acc {acc['transfer']:.3f}) but by no white-box run, "
                            f"must be <= {slack:.3f}"))
    free = square_attack_fn() if gradient_free is None else (None if gradient_free is False else gradient_free)
    if free is None:
        checks.append(Check("gradient-free does not beat white-box", None, float("nan"), "no gradient-free attack"))
    else:
        g = broken("gradient-free", free, k=6)
        acc["gradient-free"] = float(1 - g.mean())
        extra = float(np.mean(g & ~white))
        checks.append(Check("gradient-free does not beat white-box", extra <= within, extra,
                            f"share broken gradient-free (acc {acc['gradient-free']:.3f}) but by no white-box run, "
                            f"must be <= {slack:.3f}"))
    zero = zero_gradient_fraction(f, x, y)
    checks.append(Check("zero gradients", zero == 0, zero, "fraction of images with a zero CE gradient, must be 0"))
    z = np.asarray(z1)
    probs = bool(np.all((z >= 0) & (z <= 1)) and np.allclose(z.sum(axis=1), 1, atol=1e-4))
    checks.append(Check("logits, not probabilities", not probs, float(np.max(np.abs(z.sum(axis=1) - 1))),
                        "max |row sum - 1|, flagged if every row is a probability vector"))
    diff = float(np.max(np.abs(z - np.asarray(z2))))
    checks.append(Check("deterministic", diff == 0, diff, "max |logits(x) - logits(x)| over two calls, must be 0"))
    out = RobustnessChecks(tuple(checks), acc, n, eps, norm)
    if verbose:
        print(out)
    return out
