r"""The core of the Locally Competitive Algorithm (Rozell et al. 2008): its one set of
argument checks (:func:`check_lca_settings`, :func:`check_lca_inputs`), the threshold
(:func:`lca_threshold`, hard or smooth), the lateral inhibition and the Euler loop
(:func:`lca_potentials`) behind :func:`lca_codes`.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_float, check_int
from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.core.dtypes import is_concrete

LCA_MAX_STEPS: int = 1_000_000
"""Upper bound on the LCA's ``steps`` (a loop length; 10^6 Euler steps is far past convergence)."""


def _lca_setting(value, name: str, low: float, high: float | None = None, open_low: bool = False):
    if is_concrete(value):
        check_float(value, name, low, high, open_low=open_low)
    return value


def check_lca_settings(lam, steps, eta, temperature=None, *, min_steps: int = 1) -> tuple:
    """The LCA's settings, checked: the one set of checks of every LCA function.

    ``lam`` a finite number >= 0, ``steps`` an integer in [``min_steps``, :data:`LCA_MAX_STEPS`]
    (a Python int: the loop length is static; ``min_steps`` is 1 except for
    :func:`lca_codes`, where 0 steps is the code of u = 0), ``eta`` = dt / tau in (0, 1], ``temperature``
    None (hard threshold) or a finite T > 0. A bool is not a number. ``lam``, ``eta`` and
    ``temperature`` may be traced (then unchecked: a NaN propagates to the codes, a negative
    eta or temperature gives meaningless codes). Returns ``(lam, steps, eta, temperature)``,
    the values as passed (``steps`` as an int).
    """
    lam = _lca_setting(lam, "lam", 0.0)
    steps = check_int(steps, "steps", min_steps, LCA_MAX_STEPS)
    eta = _lca_setting(eta, "eta", 0.0, 1.0, open_low=True)
    if temperature is not None and is_concrete(temperature):
        try:
            check_float(temperature, "temperature", 0.0, open_low=True)
        except ValueError:
            raise ValueError(f"temperature: expected None (hard threshold) or a finite T > 0, "
                             f"got {temperature!r}") from None
    return lam, steps, eta, temperature


def check_lca_inputs(phi, s, phi_name: str = "phi", s_name: str = "s") -> tuple[jax.Array, jax.Array]:
    """A dictionary ``phi`` of shape ``(D, N)`` and one input ``s`` of shape ``(D,)``, checked.

    Real numbers (no None, string, bool or complex), finite where concrete (traced values
    pass unchecked), shapes always; a D that differs between them names both. Returns both
    as arrays of the dtype they came in (a list becomes a JAX array).
    """
    check_array(phi, phi_name)
    if jnp.ndim(phi) != 2:
        raise ValueError(f"{phi_name}: expected a dictionary of shape (D, N), got shape {tuple(jnp.shape(phi))}")
    check_array(s, s_name)
    dim = jnp.shape(phi)[0]
    if jnp.shape(s) != (dim,):
        raise ValueError(f"{s_name}: expected an input of shape ({dim},), got shape {tuple(jnp.shape(s))}; "
                         f"{phi_name} has shape {tuple(jnp.shape(phi))} = (D, N)")
    return _as_array(phi), _as_array(s)


def _as_array(v):
    """``v`` itself if it is a NumPy or JAX array (its values and dtype untouched), else ``jnp.asarray(v)``."""
    return v if isinstance(v, (np.ndarray, jax.Array)) else jnp.asarray(v)


def lca_threshold(u: jax.Array, lam: float, temperature: float | None = None) -> jax.Array:
    r"""LCA activation from membrane potential: rectified soft threshold max(u - lambda, 0).

    With a ``temperature`` T, the smooth variant :math:`T \log(1 + e^{(u - \lambda)/T})`,
    which converges to the hard threshold as T -> 0 and has meaningful curvature.

    ``u`` real numbers of any shape (finite where concrete), ``lam`` >= 0, ``temperature``
    None or T > 0 (checked unless traced: a traced NaN propagates).
    """
    check_array(u, "u")
    if is_concrete(lam):
        check_float(lam, "lam", 0.0)
    check_lca_settings(0.0, 1, 1.0, temperature)
    return soft_threshold(u, lam, temperature)


def soft_threshold(u: jax.Array, lam: float, temperature: float | None = None) -> jax.Array:
    """:func:`lca_threshold` without the checks: the form run inside the LCA loops."""
    if temperature is None:
        return jax.nn.relu(u - lam)
    return temperature * _softplus((u - lam) / temperature)


def _log1p_unit(z: jax.Array) -> jax.Array:
    r"""log(1 + z) for z in [0, 1], by the series :math:`2\,\mathrm{atanh}(s) = 2 (s + s^3/3 + s^5/5 + \dots)`
    with s = z / (2 + z) in [0, 1/3].

    The series is cut after the n-th term, the first n whose remainder, about
    :math:`9^{-n} / (2n + 1)` relative, is below half an ulp of z's dtype (7 terms in float32,
    16 in float64): a few ulps. The relative accuracy holds into the tail, where ``log(1 + z)``
    rounds to 0 (float32: below z = 6e-8), down to about twice the smallest normal number (below
    it s is subnormal, and XLA flushes it to 0). On XLA CPU it costs about half of a ``log``.
    """
    eps = float(jnp.finfo(z.dtype).eps)
    n = next(k for k in range(1, 64) if 9.0 ** -k / (2 * k + 1) < eps / 2)
    s = z / (2 + z)
    s2 = s * s
    p = jnp.full_like(s, 1 / (2 * n - 1))
    for k in range(n - 2, -1, -1):  # Horner in s^2: sum_k s^2k / (2k + 1)
        p = p * s2 + 1 / (2 * k + 1)
    return 2 * s * p


@jax.custom_jvp
def _softplus(y: jax.Array) -> jax.Array:
    """log(1 + e^y) as max(y, 0) + log(1 + e^{-|y|}), derivative sigmoid(y) (exact).

    The log is :func:`_log1p_unit`'s series, not XLA's ``log``: the LCA runs this on its whole
    state every Euler step, and on XLA CPU ``log`` dominates that cost (``make bench``
    compares the smooth and hard LCA response fields).
    """
    return jnp.maximum(y, 0) + _log1p_unit(jnp.exp(-jnp.abs(y)))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (y,), (t,) = primals, tangents
    return _softplus(y), jax.nn.sigmoid(y) * t


def lca_inhibition(phi: jax.Array) -> Callable[[jax.Array], jax.Array]:
    r"""a -> (Phi^T Phi - I) a, the lateral inhibition of the LCA, in its cheaper form.

    N <= 2 D: one (N, N) matrix Phi^T Phi - I, formed once (the "- a" folded into the
    matmul, so one elementwise pass per step fewer); very overcomplete (N > 2 D):
    Phi^T (Phi a) - a, which costs 4 D N per step, less than the matrix's 2 N^2.
    """
    dim, n = phi.shape
    if n > 2 * dim:
        return lambda a: phi.T @ (phi @ a) - a
    g = phi.T @ phi - jnp.eye(n, dtype=phi.dtype)
    return lambda a: g @ a


def lca_potentials(
    phi: ArrayLike,
    s: ArrayLike,
    lam: float,
    steps: int = LCA_STEPS,
    eta: float = LCA_ETA,
    temperature: float | None = None,
    *,
    every_step: bool = False,
) -> jax.Array:
    r"""Membrane potentials u of the Locally Competitive Algorithm (Rozell et al. 2008).

    Euler steps of :math:`\tau \dot u + u = \Phi^T s - (\Phi^T \Phi - I) a`,
    a = threshold(u), from u = 0, with step ``eta`` = dt / tau: the one loop behind
    :func:`lca_codes` (the last state) and :func:`geomlib.lca_trajectory` (every state).

    Args:
      phi, s, lam, steps, eta, temperature: as in :func:`lca_codes`.
      every_step: return the state after each step, not only the last.

    Returns:
      u after the last step, shape ``(N,)``; with ``every_step``, after each step,
      shape ``(steps, N)`` (u = 0 before the first is not included).

    Unchecked (the loop behind the checked public functions): its callers check with
    :func:`check_lca_inputs` and :func:`check_lca_settings`.
    """
    drive = phi.T @ s
    inhibit = lca_inhibition(phi)

    def step(u, _):
        u = u + eta * (drive - u - inhibit(soft_threshold(u, lam, temperature)))
        return u, (u if every_step else None)

    u, us = jax.lax.scan(step, jnp.zeros(phi.shape[1], drive.dtype), None, length=steps)
    return us if every_step else u


def lca_codes(
    phi: ArrayLike,
    s: ArrayLike,
    lam: float,
    steps: int = LCA_STEPS,
    eta: float = LCA_ETA,
    temperature: float | None = None,
) -> jax.Array:
    r"""Sparse code of the Locally Competitive Algorithm (Rozell et al. 2008).

    Euler steps of :math:`\tau \dot u + u = \Phi^T s - (\Phi^T \Phi - I) a`,
    a = threshold(u), from u = 0, with step ``eta`` = dt / tau (:func:`lca_potentials`).

    Args:
      phi: dictionary, shape ``(D, N)`` with unit-norm columns.
      s: input, shape ``(D,)``.
      lam: threshold lambda.
      steps: number of Euler steps (fixed, via ``lax.scan``), an int in [0, 10^6]; 0 gives
        the code of the initial state u = 0 (all zeros with the hard threshold).
      eta: dt / tau.
      temperature: None for the hard (rectified) threshold, T > 0 for the smooth one.

    Returns:
      codes a, shape ``(N,)``.

    Raises:
      TypeError, ValueError: naming the argument (:func:`check_lca_inputs`,
      :func:`check_lca_settings`): phi not ``(D, N)``, s not ``(D,)``, complex or
      non-finite entries (checked where concrete: under ``jit`` or ``vmap`` a NaN in
      phi or s propagates to the codes), lam < 0, steps not an int in [0, 10^6], eta
      outside (0, 1], temperature not None or > 0.
    """
    phi, s = check_lca_inputs(phi, s)
    lam, steps, eta, temperature = check_lca_settings(lam, steps, eta, temperature, min_steps=0)
    return soft_threshold(lca_potentials(phi, s, lam, steps, eta, temperature), lam, temperature)


def lca_active_inhibition(phi: jax.Array, lam: float, capacity: int) -> Callable[[jax.Array, jax.Array], jax.Array]:
    r"""(u, a) -> (Phi^T Phi - I) a from the active neurons' columns only (hard threshold).

    With the hard threshold a = max(u - lambda, 0) the code is sparse: only the neurons
    with u > lambda contribute. The ``capacity`` largest potentials (``lax.top_k``, a static
    K) give the candidate active set A, and the product is :math:`G_{:,A} a_A` (G formed
    once when N <= 2 D, a gather of K columns, 2 N K per step instead of 2 N^2) or
    :math:`\Phi^T (\Phi_{:,A} a_A) - a` (N > 2 D: 2 D K + 2 D N instead of 4 D N). When
    more than K neurons may be active (the K-th largest potential is above lambda) the
    dense product is used instead: inside a ``while_loop`` that runs once or not at all,
    so under ``vmap`` it is computed only when some member of the batch overflows. The
    result equals :func:`lca_inhibition`'s up to the order of the floating-point sums.

    Args:
      phi: dictionary, shape ``(D, N)``.
      lam: threshold lambda (the hard one; a smooth threshold has no zeros to skip).
      capacity: K, an int in [1, N] (larger is clamped to N).

    Returns:
      a function of the potentials u and the code a = max(u - lambda, 0), both shape
      ``(N,)``, returning the inhibition, shape ``(N,)``.
    """
    dim, n = phi.shape
    k = min(int(capacity), n)
    dense = lca_inhibition(phi)
    if n > 2 * dim:
        def sparse(idx, ak, a):
            return phi.T @ (phi[:, idx] @ ak) - a
    else:
        g = phi.T @ phi - jnp.eye(n, dtype=phi.dtype)

        def sparse(idx, ak, a):
            return g[:, idx] @ ak

    def inhibit(u, a):
        vals, idx = jax.lax.top_k(u, k)
        overflow = vals[k - 1] > lam
        out = sparse(idx, jax.nn.relu(vals - lam), a)
        out, _ = jax.lax.while_loop(lambda st: st[1], lambda st: (dense(a), jnp.zeros((), bool)), (out, overflow))
        return out

    return inhibit


def lca_potentials_fast(
    phi: ArrayLike,
    s: ArrayLike,
    lam: float,
    steps: int = LCA_STEPS,
    eta: float = LCA_ETA,
    temperature: float | None = None,
    *,
    capacity: int | None = None,
    tol: float | None = None,
) -> tuple[jax.Array, jax.Array]:
    r""":func:`lca_potentials` (last state) with two optional accelerations, and the steps run.

    * ``capacity`` K (hard threshold only; ignored with a ``temperature``): the
      inhibition from the active neurons' columns (:func:`lca_active_inhibition`), exact
      up to the order of floating-point sums, with a dense fallback for any step where
      more than K neurons may be active;
    * ``tol``: stop once the state has converged, i.e. after the first step whose
      largest change of the potentials, :math:`\max_j |u_j^{t} - u_j^{t-1}|`, is <= tol
      (or after ``steps``). The potentials, not the code: a code still all zero after
      the first steps has not converged. A ``while_loop``: under ``vmap`` a batch runs
      until its last member converges, each member frozen at its own stopping step. Not
      exact: the state keeps moving below the tolerance (a neuron can still cross the
      threshold later); ``make bench`` measures the effect on the survey's c2.

    With ``capacity=None`` and ``tol=None`` this is :func:`lca_potentials`'s loop.

    Args:
      phi, s, lam, steps, eta, temperature: as in :func:`lca_codes`.
      capacity: None, or the active-set capacity K >= 1.
      tol: None, or the convergence tolerance on the potentials (> 0).

    Returns:
      (u, steps_run): the potentials, shape ``(N,)``, and the number of Euler steps
      run, shape ``()`` (int32).

    Unchecked, like :func:`lca_potentials` (its callers check the inputs and settings).
    """
    active = capacity is not None and temperature is None
    if not active and tol is None:
        return lca_potentials(phi, s, lam, steps, eta, temperature), jnp.asarray(steps, jnp.int32)
    drive = phi.T @ s
    n = phi.shape[1]
    inhibit = lca_active_inhibition(phi, lam, capacity) if active else lca_inhibition(phi)

    def step(u):
        a = soft_threshold(u, lam, temperature)
        inh = inhibit(u, a) if active else inhibit(a)
        return u + eta * (drive - u - inh), a

    u0 = jnp.zeros(n, drive.dtype)
    if tol is None:
        u, _ = jax.lax.scan(lambda u, _: (step(u)[0], None), u0, None, length=steps)
        return u, jnp.asarray(steps, jnp.int32)

    def cond(state):
        t, _, change = state
        return (t < steps) & (change > tol)

    def body(state):
        t, u, _ = state
        u_new, _ = step(u)
        return t + 1, u_new, jnp.max(jnp.abs(u_new - u))

    t, u, _ = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), u0, jnp.asarray(jnp.inf, drive.dtype)))
    return u, t
