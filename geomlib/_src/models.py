r"""Neuron models as small pure functions ``model(params, x) -> response``.

Parameters are pytrees (dicts of arrays); ``x`` is one input of shape ``(D,)``;
batching is the caller's ``vmap``. Bind parameters with
``jax.tree_util.Partial(model, params)`` to get the ``f: R^D -> R`` that the
geometry functions take.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.core.dtypes import float_dtype

Nonlinearity = Literal["linear", "relu", "sigmoid", "softplus", "tanh"]
NONLINEARITIES: tuple[str, ...] = ("linear", "relu", "sigmoid", "softplus", "tanh")


def activation(z: jax.Array, nonlinearity: Nonlinearity = "relu", temperature: float = 1.0) -> jax.Array:
    r"""Pointwise nonlinearity with a temperature T.

    ``softplus`` is :math:`T \log(1 + e^{z/T})`, which tends to ReLU as T -> 0;
    ``sigmoid`` is :math:`\sigma(z / T)`; ``tanh`` is :math:`\tanh(z / T)`.
    """
    if nonlinearity == "linear":
        return z
    if nonlinearity == "relu":
        return jax.nn.relu(z)
    if nonlinearity == "sigmoid":
        return jax.nn.sigmoid(z / temperature)
    if nonlinearity == "softplus":
        return temperature * jax.nn.softplus(z / temperature)
    if nonlinearity == "tanh":
        return jnp.tanh(z / temperature)
    raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}")


def linear_neuron(params: dict, x: jax.Array) -> jax.Array:
    """Linear neuron ``w . x + b``. params: ``{"w": (D,), "b": ()}``; x: ``(D,)``; returns ``()``."""
    return jnp.dot(params["w"], x) + params["b"]


def pointwise_neuron(
    params: dict, x: jax.Array, nonlinearity: Nonlinearity = "relu", temperature: float = 1.0
) -> jax.Array:
    """Pointwise nonlinear neuron ``sigma(w . x + b)``: straight contours, unequal spacing."""
    return activation(linear_neuron(params, x), nonlinearity, temperature)


def init_mlp(key: jax.Array, sizes: Sequence[int], scale: float = 1.0) -> list[dict]:
    """Parameters of an MLP with layer widths ``sizes`` (input first), LeCun-normal init."""
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes: expected at least two positive layer widths, got {sizes!r}")
    params = []
    for k, (din, dout) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        w = scale * jax.random.normal(k, (dout, din), float_dtype()) / jnp.sqrt(din)
        params.append({"w": w, "b": jnp.zeros((dout,), float_dtype())})
    return params


def mlp(params: list[dict], x: jax.Array, nonlinearity: Nonlinearity = "softplus", temperature: float = 1.0):
    """Multi-layer perceptron; nonlinearity between layers, none after the last.

    x: ``(D,)``; returns ``(K,)`` (or ``()`` when the last layer has one unit).
    """
    h = x
    for layer in params[:-1]:
        h = activation(layer["w"] @ h + layer["b"], nonlinearity, temperature)
    out = params[-1]["w"] @ h + params[-1]["b"]
    return out[0] if out.shape == (1,) else out


def lca_threshold(u: jax.Array, lam: float, temperature: float | None = None) -> jax.Array:
    r"""LCA activation from membrane potential: rectified soft threshold max(u - lambda, 0).

    With a ``temperature`` T, the smooth variant :math:`T \log(1 + e^{(u - \lambda)/T})`,
    which converges to the hard threshold as T -> 0 and has meaningful curvature.
    """
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
    state every Euler step, and on XLA CPU ``log`` was most of that cost. The LCA response field
    took 1.3x the hard threshold's time with ``jax.nn.softplus``, 1.17x with
    ``log(1 + e^{-|y|})`` and about 1.1x with this form (``make bench``, 3).
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
    """
    drive = phi.T @ s
    inhibit = lca_inhibition(phi)

    def step(u, _):
        u = u + eta * (drive - u - inhibit(lca_threshold(u, lam, temperature)))
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
      steps: number of Euler steps (fixed, via ``lax.scan``).
      eta: dt / tau.
      temperature: None for the hard (rectified) threshold, T > 0 for the smooth one.

    Returns:
      codes a, shape ``(N,)``.
    """
    return lca_threshold(lca_potentials(phi, s, lam, steps, eta, temperature), lam, temperature)
