r"""Sparse-coding neurons (LCA) and comparison neurons with the same weights.

A dictionary model is the pytree ``params = {"phi": (D, N)}`` with unit-norm columns
:math:`\phi_i`. Neuron ``i`` of that dictionary can be read out in four ways, all
with the *same* weight vector :math:`\phi_i`, so that any difference in their
iso-response contours comes from the circuit, not from the weights:

=============  ==========================================================================
``linear``     :math:`\phi_i \cdot x`
``relu``       :math:`\max(\phi_i \cdot x - \lambda, 0)`: the LCA with the lateral
               inhibition removed (at convergence u = Phi^T x), a pointwise neuron
``divisive``   :math:`(\phi_i \cdot x)_+^n / (\sigma^n + \sum_j (\phi_j \cdot x)_+^n)`
               (Carandini & Heeger 2012): feed-forward normalization by the pool
``lca``        code :math:`a_i` of the Locally Competitive Algorithm (Rozell et al. 2008),
               :math:`\tau \dot u + u = \Phi^T x - (\Phi^T \Phi - I) a`, a = threshold(u),
               run for a fixed number of Euler steps (:func:`geomlib.lca_codes`)
=============  ==========================================================================

Linear and ReLU neurons have straight, parallel contours; the divisive and LCA
neurons, whose response depends on the other neurons' drives, bend them (Paiton et
al. 2020). :func:`dictionary_neuron` returns any of them as an ``f: R^D -> R`` ready
for the plane-geometry functions.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_float, check_int
from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.core.dtypes import is_concrete
from geomlib._src.models import (
    check_lca_inputs,
    check_lca_settings,
    lca_potentials,
    linear_neuron,
    pointwise_neuron,
    soft_threshold,
)
from geomlib._src.models.lca import lca_potentials_fast

Model = Literal["lca", "linear", "relu", "divisive"]
DICTIONARY_MODELS: tuple[str, ...] = ("lca", "linear", "relu", "divisive")


def dictionary_phi(params: dict) -> jax.Array:
    """The dictionary ``params["phi"]`` of shape ``(D, N)``; ValueError or TypeError naming a bad
    ``params`` or ``params['phi']`` (None, no ``'phi'``, not 2-D, complex; non-finite entries
    where concrete: a traced NaN propagates to the responses)."""
    if not isinstance(params, dict) or "phi" not in params:
        got = type(params).__name__ if not isinstance(params, dict) else f"a dict with keys {sorted(map(str, params))}"
        raise ValueError(f"params: expected a dict holding a dictionary 'phi' of shape (D, N), got {got}")
    check_array(params["phi"], "params['phi']")
    phi = jnp.asarray(params["phi"])
    if phi.ndim != 2:
        raise ValueError(f"params['phi']: expected shape (D, N), got {phi.shape}")
    return phi


def _is_index(index) -> bool:
    if isinstance(index, (bool, np.bool_)):
        return False
    return isinstance(index, (int, np.integer)) or np.issubdtype(getattr(index, "dtype", np.float64), np.integer)


def _check_index(index, n: int):
    if not is_concrete(index):
        return
    if index is None or isinstance(index, (str, bytes)) or not _is_index(index):
        raise ValueError(f"index: expected a neuron index in [0, {n}), got {index!r}")
    if np.ndim(index) == 0 and not -n <= int(index) < n:
        raise ValueError(f"index: expected a neuron index in [0, {n}), got {index!r}")


def _check_input(phi, x, name: str = "x"):
    """One input ``x`` of shape ``(D,)`` for the dictionary ``params['phi']`` (shape ``(D, N)``)."""
    return check_lca_inputs(phi, x, "params['phi']", name)[1]


def lca_energy(phi: ArrayLike, s: ArrayLike, a: ArrayLike, lam: float) -> jax.Array:
    r"""LCA energy (the sparse-coding loss) :math:`\tfrac12 |s - \Phi a|^2 + \lambda |a|_1`.

    Args:
      phi: dictionary, shape ``(D, N)``.
      s: input, shape ``(D,)``.
      a: code, shape ``(N,)``.
      lam: sparsity weight lambda.

    Returns:
      the energy, shape ``()``.

    Shapes are checked always, values where concrete (real, finite, lam >= 0): under
    ``jit`` or ``vmap`` a NaN propagates to the energy.

    >>> phi = jnp.eye(2)
    >>> float(lca_energy(phi, jnp.array([1.0, 0.0]), jnp.array([0.5, 0.0]), 0.5))
    0.375
    """
    phi, s = check_lca_inputs(phi, s)
    check_array(a, "a")
    if jnp.shape(a) != (phi.shape[1],):
        raise ValueError(f"a: expected a code of shape ({phi.shape[1]},), got shape {tuple(jnp.shape(a))}; "
                         f"phi has shape {tuple(phi.shape)} = (D, N)")
    a = a if isinstance(a, (np.ndarray, jax.Array)) else jnp.asarray(a)
    check_lca_settings(lam, 1, 1.0)
    residual = s - phi @ a
    return 0.5 * residual @ residual + lam * jnp.sum(jnp.abs(a))


def mei_axis(params: dict, index: int) -> jax.Array:
    """Neuron ``index``'s preferred direction: its unit-norm dictionary element, shape ``(D,)``.

    For the linear, ReLU and divisive neurons this is exactly the maximally exciting
    image (MEI) at any fixed input norm; for the LCA it is the input that the neuron
    alone reconstructs perfectly, the horizontal axis of every plane in the notebooks.

    ``params`` and ``index`` are checked as in :func:`lca_neuron`; a transposed dictionary
    ``(N, D)`` is itself a valid shape (N' = D neurons in D' = N dimensions) and, with no
    input to compare D with, cannot be told apart: the result then has length N.

    >>> mei_axis({"phi": jnp.array([[3.0, 0.0], [4.0, 1.0]])}, 0).tolist()
    [0.6000000238418579, 0.800000011920929]
    """
    phi = dictionary_phi(params)
    _check_index(index, phi.shape[1])
    w = phi[:, index]
    return w / jnp.linalg.norm(w)


def neuron_weights(params: dict, index: int, bias: float = 0.0) -> dict:
    """``{"w": phi[:, index], "b": bias}``: the same weights as parameters of
    :func:`geomlib.linear_neuron` / :func:`geomlib.pointwise_neuron`.

    ``params`` and ``index`` are checked as in :func:`mei_axis` (a transposed dictionary
    cannot be told apart without an input); ``bias`` a finite number (unchecked if traced).
    """
    phi = dictionary_phi(params)
    _check_index(index, phi.shape[1])
    if is_concrete(bias):
        check_float(bias, "bias")
    return {"w": phi[:, index], "b": jnp.asarray(bias, phi.dtype)}


def lca_neuron(params: dict, x: ArrayLike, index: int, lam: float = 0.15, steps: int = LCA_STEPS,
               eta: float = LCA_ETA, temperature: float | None = None) -> jax.Array:
    r"""Activity :math:`a_i` of LCA neuron ``index`` for input ``x`` (shape ``()``).

    All N neurons of ``params["phi"]`` (shape ``(D, N)``) compete for ``x`` (shape
    ``(D,)``) for ``steps`` Euler steps of size ``eta`` = dt / tau; ``temperature``
    None is the rectified soft threshold max(u - lambda, 0), T > 0 its softplus
    surrogate (see :func:`geomlib.lca_threshold`). ``steps`` must be static under ``jit``.

    Checked once per call or trace, never per Euler step (:func:`geomlib.lca_codes`): params,
    x (shape ``(D,)``: a D that differs from ``params['phi']``'s names both), index, and the
    settings (lam >= 0, steps an int in [1, 10^6], eta in (0, 1], temperature None or > 0).
    Traced values are not checked: under ``jit`` a NaN in x or phi propagates to the response.

    >>> params = {"phi": jnp.eye(2)}
    >>> round(float(lca_neuron(params, jnp.array([1.0, 0.0]), 0, lam=0.2, steps=300)), 4)
    0.8
    """
    phi = dictionary_phi(params)
    _check_index(index, phi.shape[1])
    x = _check_input(phi, x)
    lam, steps, eta, temperature = check_lca_settings(lam, steps, eta, temperature)
    return _lca_response(phi, x, index, lam, steps, eta, temperature)


def _lca_response(phi, x, index, lam, steps, eta, temperature):
    """:func:`lca_neuron` without the checks (:func:`geomlib.lca_codes`' computation)."""
    return soft_threshold(lca_potentials(phi, x, lam, steps, eta, temperature), lam, temperature)[index]


def divisive_normalization_neuron(params: dict, x: ArrayLike, index: int, sigma: float = 1.0,
                                  exponent: float = 2.0) -> jax.Array:
    r"""Divisively normalised neuron (Carandini & Heeger 2012) with the dictionary's weights.

    .. math:: r_i(x) = \frac{(\phi_i \cdot x)_+^n}{\sigma^n + \sum_j (\phi_j \cdot x)_+^n}

    A feed-forward, one-shot normalization by the pool of all N rectified drives:
    no recurrence, but the denominator depends on every direction of x, so the
    contours bend. The response lies in [0, 1). Sigma is the semi-saturation
    contrast: where the pooled drive :math:`(\sum_j (\phi_j \cdot x)_+^n)^{1/n}` equals
    sigma, the response is half its saturated value
    :math:`(\phi_i \cdot x)_+^n / \sum_j (\phi_j \cdot x)_+^n`. The default sigma = 1 is the
    mean norm of a whitened patch (the patches are scaled to mean L2 norm 1; a 2x
    overcomplete dictionary's pooled drive is about the input norm), so over the
    usual window [-2, 2]^2 the neuron goes from quadratic growth to saturation.
    Scale sigma with the inputs (MNIST digits have norm about 9).

    Args:
      params: ``{"phi": (D, N)}``.
      x: input, shape ``(D,)``.
      index: neuron i.
      sigma: semi-saturation constant (> 0), in input-norm units.
      exponent: n (> 0); 2 is the usual choice.

    Returns:
      shape ``()``.

    Checked where concrete (traced values pass: a NaN propagates): sigma and exponent finite
    and > 0; x real, finite, shape ``(D,)`` of ``params['phi']``.

    >>> params = {"phi": jnp.eye(2)}
    >>> float(divisive_normalization_neuron(params, jnp.array([1.0, 1.0]), 0, sigma=1.0))
    0.3333333432674408
    """
    phi = dictionary_phi(params)
    _check_index(index, phi.shape[1])
    x = _check_input(phi, x)
    _check_divisive(sigma, exponent)
    return _divisive(phi, x, index, sigma, exponent)


def _check_divisive(sigma, exponent):
    for name, value in (("sigma", sigma), ("exponent", exponent)):
        if is_concrete(value):
            check_float(value, name, 0.0, open_low=True)


def _divisive(phi, x, index, sigma, exponent):
    drive = jax.nn.relu(phi.T @ x) ** exponent
    return drive[index] / (sigma**exponent + jnp.sum(drive))


@dataclasses.dataclass(frozen=True)
class _Readout:
    """Static part of a dictionary neuron (hashable, so ``jit`` caches across instances)."""

    model: str
    steps: int = LCA_STEPS
    smooth: bool = False
    capacity: int | None = None  # active-set capacity of the LCA's inhibition (lca_potentials_fast)
    tol: float | None = None     # the LCA's convergence tolerance (lca_potentials_fast)

    def __call__(self, params, index, hyper, x):
        # params, index and hyper were checked by dictionary_neuron: only x is checked here
        phi = params["phi"]
        x = _check_input(phi, x)
        if self.model == "lca":
            temperature = hyper["temperature"] if self.smooth else None
            if self.capacity is None and self.tol is None:
                return _lca_response(phi, x, index, hyper["lam"], self.steps, hyper["eta"], temperature)
            u, _ = lca_potentials_fast(phi, x, hyper["lam"], self.steps, hyper["eta"], temperature,
                                       capacity=self.capacity, tol=self.tol)
            return soft_threshold(u, hyper["lam"], temperature)[index]
        if self.model == "linear":
            return linear_neuron({"w": phi[:, index], "b": jnp.asarray(0.0, phi.dtype)}, x)
        if self.model == "relu":
            return pointwise_neuron({"w": phi[:, index], "b": jnp.asarray(-hyper["lam"], phi.dtype)}, x, "relu")
        return _divisive(phi, x, index, hyper["sigma"], hyper["exponent"])


def dictionary_neuron(params: dict, index: int, model: Model = "lca", *, lam: float = 0.15, steps: int = LCA_STEPS,
                      eta: float = LCA_ETA, temperature: float | None = None, sigma: float = 1.0,
                      exponent: float = 2.0, capacity: int | None = None, tol: float | None = None) -> Partial:
    """Neuron ``index`` of a dictionary as a response function ``f(x)``, x of shape ``(D,)``.

    ``model`` picks the circuit (same weights ``phi[:, index]`` for all; see the module
    docstring): ``"lca"`` (uses ``lam``, ``steps``, ``eta``, ``temperature``),
    ``"linear"``, ``"relu"`` (threshold ``lam``), ``"divisive"`` (``sigma``,
    ``exponent``). Parameters are bound with ``jax.tree_util.Partial``, so they stay
    traced arguments under ``jit`` and compiled code is reused across neurons.

    Two accelerations of the LCA's loop (:func:`lca_potentials_fast`; None, the
    default, is the plain loop): ``capacity`` K, the inhibition from the K largest
    potentials' columns with a dense fallback when more may be active (hard threshold
    only; exact up to the order of floating-point sums), and ``tol``, stop once the
    potentials change by at most ``tol`` in a step (not exact: it moves the response).

    Every argument is checked here, once, whatever the model (the settings as in
    :func:`lca_neuron`, sigma and exponent finite and > 0); ``f(x)`` then checks only
    x's shape (and, where concrete, its values).

    >>> params = {"phi": jnp.eye(3)}
    >>> f = dictionary_neuron(params, 1, "relu", lam=0.5)
    >>> float(f(jnp.array([0.0, 2.0, 0.0])))
    1.5
    """
    if not isinstance(model, str) or model not in DICTIONARY_MODELS:
        raise ValueError(f"model: expected one of {DICTIONARY_MODELS}, got {model!r}")
    lam, steps, eta, temperature = check_lca_settings(lam, steps, eta, temperature)
    _check_divisive(sigma, exponent)
    phi = dictionary_phi(params)
    _check_index(index, phi.shape[1])
    dt = phi.dtype
    hyper = {"lam": jnp.asarray(lam, dt), "eta": jnp.asarray(eta, dt), "sigma": jnp.asarray(sigma, dt),
             "exponent": jnp.asarray(exponent, dt),
             "temperature": jnp.asarray(1.0 if temperature is None else temperature, dt)}
    lca = model == "lca"
    if capacity is not None:
        capacity = check_int(capacity, "capacity", 1)
    if tol is not None:
        tol = check_float(tol, "tol", 0.0, open_low=True)
    readout = _Readout(model, int(steps) if lca else 0, lca and temperature is not None,
                       capacity if lca and temperature is None else None, tol if lca else None)
    return Partial(readout, {"phi": phi}, jnp.asarray(index), hyper)
