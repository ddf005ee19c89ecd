r"""Adaptive attacks on classifiers that optimise at inference time (the LCA front-end).

An LCA classifier runs 75 hard-thresholded Euler steps of sparse coding before its MLP.
Differentiating through that loop gives gradients that are exact for the unrolled
computation but may be poor attack directions (*obfuscated gradients*, Athalye, Carlini &
Wagner 2018): a model can look robust only because the attacker's gradient is bad. The
adaptive attacks here change only the attacker's gradient; every adversarial image is
judged on the true model.

- :func:`bpda_logits`: value of one model, gradient (VJP) of another (BPDA, Athalye et al.).
- :func:`lca_bpda`: forward through the hard-threshold LCA, backward through its softplus twin.
- :func:`lca_implicit_logits`: the LCA's gradient at its fixed point by implicit differentiation.
- :func:`steps_sweep`: accuracy when the attacker differentiates through a different number
  of unrolled LCA steps than the defender runs (or via BPDA / implicit gradients).
- :func:`transfer_attack`, :func:`surrogate_attack`: adversarial images computed on another
  (undefended) model, or on this one with another model's gradient.

The worst case over a list of attacks is :func:`geomlib.robust_accuracy`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.attacks import BATCHED_LOGITS, Logits, Norm, check_class_labels, classes_of
from geomlib._src.classifiers import bind_classifier, classifier_logits
from geomlib._src.classifiers.model import MAX_LCA_STEPS, check_lca_steps, check_params
from geomlib._src.core.checks import check_callable, check_float, check_images, check_int, check_key, check_norm, check_scalar
from geomlib._src.core.defaults import LCA_STEPS
from geomlib._src.core.dtypes import float_dtype
from geomlib._src.models import lca_inhibition, lca_potentials
from geomlib._src.robustness.autoattack import ball_tolerance, check_adversarials
from geomlib._src.robustness.worst import Attack, default_attack



def _zero_cotangent(tree):
    """Zero cotangents for every leaf of ``tree`` (float0 for integer leaves)."""
    def zero(leaf):
        leaf = jnp.asarray(leaf)
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            return jnp.zeros_like(leaf)
        return np.zeros(leaf.shape, jax.dtypes.float0)
    return jax.tree_util.tree_map(zero, tree)


@jax.custom_vjp
def _bpda(f, s, x):
    return f(x)


def _bpda_fwd(f, s, x):
    return f(x), (f, s, x)


def _bpda_bwd(res, ct):
    f, s, x = res
    _, vjp = jax.vjp(s, x)
    return _zero_cotangent(f), _zero_cotangent(s), vjp(ct)[0]


_bpda.defvjp(_bpda_fwd, _bpda_bwd)


def _bpda_apply(f, s, x):
    want, got = jax.eval_shape(f, x), jax.eval_shape(s, x)
    if want.shape != got.shape:
        raise ValueError(f"surrogate_fn: expected the output shape of logits_fn {want.shape}, got {got.shape}")
    return _bpda(f, s, x)


def bpda_logits(logits_fn: Logits, surrogate_fn: Logits) -> Partial:
    r"""A classifier with the value of ``logits_fn`` and the gradient of ``surrogate_fn`` (BPDA).

    Backward Pass Differentiable Approximation (Athalye, Carlini & Wagner 2018):

    .. math:: \tilde f(x) = f(x), \qquad \partial \tilde f(x)^\top v := \partial g(x)^\top v,

    a ``jax.custom_vjp`` whose forward pass is ``logits_fn`` and whose VJP is that of
    ``surrogate_fn`` at the same x. Any gradient attack run on it (PGD, APGD, ...) is an
    attack on the true model (its losses, checkpoints and success are the true model's)
    steered by the surrogate's gradient. Parameters bound in either function get zero
    cotangents: this is a tool for input gradients, not for training.

    Args:
      logits_fn: the true classifier, ``(B, D) -> (B, K)``.
      surrogate_fn: a differentiable approximation with the same shapes, ``(B, D) -> (B, K)``
        (e.g. the softplus twin, a model with fewer unrolled steps, or another network).

    Returns:
      a ``jax.tree_util.Partial`` ``(B, D) -> (B, K)`` (jit caches across instances).

    >>> f = lambda x: jnp.round(x * 4) / 4              # quantised: gradient 0
    >>> g = lambda x: x                                 # its straight-through surrogate
    >>> h = bpda_logits(f, g)
    >>> h(jnp.array([[0.3, 0.6]])).tolist(), jax.grad(lambda x: h(x).sum())(jnp.array([[0.3, 0.6]])).tolist()
    ([[0.25, 0.5]], [[1.0, 1.0]])
    """
    f = check_callable(logits_fn, "logits_fn", BATCHED_LOGITS)
    s = check_callable(surrogate_fn, "surrogate_fn", BATCHED_LOGITS)
    return Partial(_bpda_apply, f, s)


def _check_lca_params(params) -> dict:
    check_params(params)
    if not isinstance(params, dict) or "lca" not in params:
        raise ValueError("params: expected an LCA classifier (a dict with 'layers' and 'lca'), got one without 'lca'")
    return params


def default_bpda_temperature(params: dict) -> float:
    r"""The default softplus temperature of :func:`lca_bpda`: :math:`T = \lambda / 10`.

    The softplus :math:`T \log(1 + e^{(u - \lambda)/T})` differs from
    :math:`\max(u - \lambda, 0)` by at most :math:`T \log 2 \approx 0.07\,\lambda` (at
    :math:`u = \lambda`) and its slope :math:`\sigma((u - \lambda)/T)` is within
    :math:`e^{-5} < 1\%` of the hard threshold's 0/1 once :math:`|u - \lambda| > \lambda / 2`:
    the twin computes nearly the same codes (so its gradient is the gradient of nearly the same
    function), yet is smooth on the scale of one tenth of the threshold, so units just below
    threshold pass gradient. ``params`` an LCA classifier's parameters (``lam`` concrete).
    """
    lam = float(np.asarray(_check_lca_params(params)["lca"]["lam"]))
    return lam / 10 if lam > 0 else 0.01


def lca_bpda(params: dict, *, lca_steps: int = LCA_STEPS, temperature: float | None = None) -> Partial:
    r"""An LCA classifier whose gradient is that of its softplus twin (BPDA for the LCA).

    Forward: :func:`geomlib.classifier_logits` with the hard threshold (the defended model,
    unchanged values); backward: the VJP of the same weights with the LCA threshold and the
    ReLUs replaced by :math:`T\log(1 + e^{(\cdot)/T})` (``smooth_temperature=T``), through the
    same ``lca_steps`` unrolled steps. The hard threshold's derivative is 0 below
    :math:`\lambda`, so an inactive unit passes no gradient, however close it is to turning on;
    the twin's does.

    Args:
      params: an LCA classifier's parameters, ``{"layers": [...], "lca": {"phi", "lam", "eta"}}``
        (``load_classifier(name).args[0]``).
      lca_steps: LCA Euler steps of both passes (75 for the shipped models).
      temperature: the twin's T > 0; None for :func:`default_bpda_temperature` (lambda / 10).

    Returns:
      ``logits_fn`` ``(B, D) -> (B, K)``.
    """
    _check_lca_params(params)
    lca_steps = check_lca_steps(lca_steps)
    t = default_bpda_temperature(params) if temperature is None else check_float(temperature, "temperature", 0.0,
                                                                                    open_low=True)
    hard = bind_classifier(params, lca_steps=lca_steps)
    smooth = bind_classifier(params, lca_steps=lca_steps, smooth_temperature=t)
    return bpda_logits(hard, smooth)


# ---- implicit differentiation at the LCA fixed point ----------------------------------------------

def _fixed_point_vjp(phi, lam, u, a_bar, cg_steps):
    r"""s_bar = Phi v, with (I + M G M) v = M a_bar per image (M: active set, G = Phi^T Phi - I)."""
    inhibit = lca_inhibition(phi)
    m = (u > lam).astype(u.dtype)

    def one(m1, rhs):
        def matvec(v):
            return v + m1 * inhibit(m1 * v)
        v, _ = jax.scipy.sparse.linalg.cg(matvec, m1 * rhs, tol=1e-6, maxiter=cg_steps)
        return v

    v = jax.vmap(one)(m, a_bar)
    return v @ phi.T


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _implicit_codes(phi, lam, eta, x, steps, cg_steps):
    u = jax.vmap(lca_potentials, (None, 0, None, None, None))(phi, x, lam, steps, eta)
    return jax.nn.relu(u - lam)


def _implicit_fwd(phi, lam, eta, x, steps, cg_steps):
    u = jax.vmap(lca_potentials, (None, 0, None, None, None))(phi, x, lam, steps, eta)
    return jax.nn.relu(u - lam), (phi, lam, eta, u)


def _implicit_bwd(steps, cg_steps, res, a_bar):
    phi, lam, eta, u = res
    s_bar = _fixed_point_vjp(phi, lam, u, a_bar, cg_steps)
    return jnp.zeros_like(phi), jnp.zeros_like(lam), jnp.zeros_like(eta), s_bar


_implicit_codes.defvjp(_implicit_fwd, _implicit_bwd)


@functools.partial(jax.jit, static_argnames=("steps", "cg_steps"))
def _implicit_logits(params, x, steps, cg_steps):
    lca = params["lca"]
    h = x[None] if x.ndim == 1 else x
    codes = _implicit_codes(lca["phi"], jnp.asarray(lca["lam"], h.dtype), jnp.asarray(lca["eta"], h.dtype),
                            h, steps, cg_steps)
    out = classifier_logits({"layers": params["layers"]}, codes)
    return out[0] if x.ndim == 1 else out


@dataclasses.dataclass(frozen=True)
class _ImplicitLogits:
    """Static part of :func:`lca_implicit_logits` (hashable, so ``jit`` caches across instances)."""

    lca_steps: int
    cg_steps: int

    def __call__(self, params, x):
        return _implicit_logits(params, jnp.asarray(x, float_dtype()), self.lca_steps, self.cg_steps)


def lca_implicit_logits(params: dict, *, lca_steps: int = LCA_STEPS, cg_steps: int = 100) -> Partial:
    r"""An LCA classifier whose input gradient is taken at the LCA's fixed point (implicit differentiation).

    The LCA's fixed point satisfies :math:`u^* = b - G\,a(u^*)` with :math:`b = \Phi^\top s`,
    :math:`G = \Phi^\top \Phi - I` and :math:`a(u) = \max(u - \lambda, 0)`. With
    :math:`M = \mathrm{diag}(u^* > \lambda)` (the active set, where :math:`a' = 1`),
    differentiating gives :math:`(I + G M)\, du = \Phi^\top ds` and :math:`da = M\, du`, so the
    VJP of a cotangent :math:`\bar a` is

    .. math:: \bar s = \Phi v, \qquad (I + M G M)\, v = M \bar a
              \quad\Longleftrightarrow\quad v_A = (\Phi_A^\top \Phi_A)^{-1} \bar a_A,\ v_{\bar A} = 0,

    (the sensitivity of a LASSO solution on its support), solved per image by conjugate
    gradients (``cg_steps``; the matrix is symmetric positive semi-definite). The forward
    pass is the defended model itself (``lca_steps`` unrolled Euler steps, hard threshold:
    the values are those of ``bind_classifier(params, lca_steps=lca_steps)`` bit for bit, via
    :func:`bpda_logits`); the active set is read at the last state of the loop. When the loop has converged this is the exact
    gradient of the fixed-point map (checked against finite differences in
    ``tests/test_adaptive.py``); the shipped models stop after 75 steps of
    :math:`\eta = 1/30`, short of convergence, so there it is the gradient of the code the
    dynamics are heading to, an attack direction and nothing more: every result is judged on
    the true model. The MLP after the LCA is differentiated as usual; parameters get zero
    cotangents (an input-gradient tool).

    Args:
      params: an LCA classifier's parameters (``load_classifier(name).args[0]``).
      lca_steps: Euler steps of the forward pass (75 for the shipped models).
      cg_steps: at most this many conjugate-gradient iterations per image (an int >= 1).

    Returns:
      ``logits_fn`` ``(B, D) -> (B, K)`` (also ``(D,) -> (K,)``).

    Reference: Blondel et al. (2022), Efficient and modular implicit differentiation, NeurIPS.
    """
    _check_lca_params(params)
    lca_steps = check_lca_steps(lca_steps)
    surrogate = Partial(_ImplicitLogits(lca_steps, check_int(cg_steps, "cg_steps", 1, 100_000)), params)
    return bpda_logits(bind_classifier(params, lca_steps=lca_steps), surrogate)


def _check_attack(attack) -> Attack:
    if not callable(attack):
        raise TypeError(f"attack: expected None or an attack(logits_fn, x, y, eps, norm, key), got {attack!r}")
    return attack


def transfer_attack(source_fn: Logits, attack: Attack | None = None) -> Attack:
    """An :data:`Attack` computed entirely on ``source_fn`` (e.g. the undefended ``mlp-2``),
    ignoring the model it is judged on: the transfer attack of Papernot et al. (2016).
    ``attack`` defaults to :func:`default_attack`."""
    src = check_callable(source_fn, "source_fn", BATCHED_LOGITS)
    run = default_attack() if attack is None else _check_attack(attack)

    def transfer(logits_fn, x, y, eps, norm="inf", key=None):
        return run(src, x, y, eps, norm, key)
    return transfer


def surrogate_attack(surrogate_fn: Logits, attack: Attack | None = None) -> Attack:
    """An :data:`Attack` on the judged model with the gradient of ``surrogate_fn``
    (:func:`bpda_logits`): losses and checkpoints are the true model's."""
    sur = check_callable(surrogate_fn, "surrogate_fn", BATCHED_LOGITS)
    run = default_attack() if attack is None else _check_attack(attack)

    def adaptive(logits_fn, x, y, eps, norm="inf", key=None):
        return run(bpda_logits(logits_fn, sur), x, y, eps, norm, key)
    return adaptive


class StepsSweep(NamedTuple):
    """Outcome of :func:`steps_sweep`: ``accuracy`` name -> accuracy on the defended model,
    ``correct`` name -> bool ``(B,)``, ``defender_steps``."""

    accuracy: dict
    correct: dict
    defender_steps: int


def steps_sweep(params: dict, x: ArrayLike, y: ArrayLike, eps: float, *, attacker_steps: Sequence[int] = (10, 25, 75, 150),
                defender_steps: int = LCA_STEPS, adaptive: Sequence[str] = ("bpda", "implicit"),
                attack: Attack | None = None, norm: Norm = "inf", key: jax.Array | None = None) -> StepsSweep:
    r"""Accuracy of an LCA classifier (``defender_steps`` Euler steps) under attacks whose
    gradient differentiates through ``attacker_steps`` unrolled steps instead, or is BPDA
    (:func:`lca_bpda`) or implicit (:func:`lca_implicit_logits`).

    Every attack runs on :func:`bpda_logits` ``(defended, surrogate)``: losses and success are
    the defended model's, only the gradient changes. An attacker with as many steps as the
    defender is the plain white-box attack. Not a worst case: each row is one attack.

    Args:
      params: an LCA classifier's parameters.
      x: images ``(B, D)`` in [0, 1]; y: labels ``(B,)``.
      eps: radius >= 0.
      attacker_steps: unrolled LCA steps of the attacker's gradient, each an int >= 1.
      defender_steps: the defended model's LCA steps.
      adaptive: any of ``"bpda"``, ``"implicit"``.
      attack: the :data:`Attack` (default :func:`default_attack`).
      norm, key: as in :func:`geomlib.robust_accuracy`.

    Returns:
      :class:`StepsSweep` with names ``"unrolled-<n>"``, ``"bpda"``, ``"implicit"``.
    """
    _check_lca_params(params)
    defender_steps = check_int(defender_steps, "defender_steps", 1, MAX_LCA_STEPS)
    if isinstance(attacker_steps, (str, bytes)) or not isinstance(attacker_steps, Sequence) or not attacker_steps:
        raise TypeError(f"attacker_steps: expected a non-empty sequence of integers >= 1, got {attacker_steps!r}")
    steps = [check_int(s, "attacker_steps", 1, MAX_LCA_STEPS) for s in attacker_steps]
    if attack is not None and not callable(attack):
        raise TypeError(f"attack: expected None or an attack(logits_fn, x, y, eps, norm, key), got {attack!r}")
    bad = [a for a in adaptive if a not in ("bpda", "implicit")]
    if bad:
        raise ValueError(f"adaptive: expected 'bpda' and/or 'implicit', got {bad}")
    defended = bind_classifier(params, lca_steps=defender_steps)
    x = check_images(x, True)
    y = check_class_labels(y, x.shape[0], classes_of(defended, x, "x"), "y")
    eps = float(check_scalar(eps, "eps", x.dtype))
    norm = check_norm(norm)
    key = jax.random.key(0) if check_key(key) is None else key
    run = default_attack() if attack is None else attack
    surrogates = {f"unrolled-{s}": bind_classifier(params, lca_steps=s) for s in steps}
    if "bpda" in adaptive:
        surrogates["bpda"] = bind_classifier(params, lca_steps=defender_steps,
                                             smooth_temperature=default_bpda_temperature(params))
    if "implicit" in adaptive:
        surrogates["implicit"] = lca_implicit_logits(params, lca_steps=defender_steps)
    accuracy, correct = {}, {}
    for i, (name, sur) in enumerate(surrogates.items()):
        f = defended if name == f"unrolled-{defender_steps}" else bpda_logits(defended, sur)
        x_adv = run(f, x, y, eps, norm, jax.random.fold_in(key, i))
        ok = ~check_adversarials(defended, x, y, x_adv, eps, norm, ball_tolerance(eps, norm, x.dtype),
                                 name=f"steps_sweep: {name}")
        ok &= np.asarray(jnp.argmax(defended(x), axis=1) == y)
        correct[name], accuracy[name] = ok, float(ok.mean())
    return StepsSweep(accuracy, correct, defender_steps)
