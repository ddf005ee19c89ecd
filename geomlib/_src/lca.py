r"""Sparse-coding neurons (LCA), comparison neurons with the same weights, and dictionary learning.

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

Dictionaries are learned (Olshausen & Field 1997; Rozell et al. 2008) by alternating
LCA inference with an Adam step (optax) on the reconstruction term of the energy

.. math:: E(a; s, \Phi) = \tfrac12 |s - \Phi a|^2 + \lambda |a|_1,
   \qquad \partial E / \partial \Phi = -(s - \Phi a) a^T,

followed by renormalising every column of :math:`\Phi` to unit length.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.tree_util import Partial

from geomlib._src.checks import check_int
from geomlib._src.models import lca_codes, linear_neuron, pointwise_neuron
from geomlib._src.planes import float_dtype

Model = Literal["lca", "linear", "relu", "divisive"]
DICTIONARY_MODELS: tuple[str, ...] = ("lca", "linear", "relu", "divisive")


def _phi(params) -> jax.Array:
    if not isinstance(params, dict) or "phi" not in params:
        raise ValueError(f"params: expected a dict holding a dictionary 'phi' of shape (D, N), "
                         f"got {type(params).__name__}")
    phi = jnp.asarray(params["phi"])
    if phi.ndim != 2:
        raise ValueError(f"params['phi']: expected shape (D, N), got {phi.shape}")
    return phi


def _check_index(index, n: int):
    if not isinstance(index, jax.core.Tracer) and np.ndim(index) == 0:
        if not -n <= int(index) < n:
            raise ValueError(f"index: expected a neuron index in [0, {n}), got {index!r}")


def lca_energy(phi, s, a, lam: float) -> jax.Array:
    r"""LCA energy (the sparse-coding loss) :math:`\tfrac12 |s - \Phi a|^2 + \lambda |a|_1`.

    Args:
      phi: dictionary, shape ``(D, N)``.
      s: input, shape ``(D,)``.
      a: code, shape ``(N,)``.
      lam: sparsity weight lambda.

    Returns:
      the energy, shape ``()``.

    >>> phi = jnp.eye(2)
    >>> float(lca_energy(phi, jnp.array([1.0, 0.0]), jnp.array([0.5, 0.0]), 0.5))
    0.375
    """
    residual = s - phi @ a
    return 0.5 * residual @ residual + lam * jnp.sum(jnp.abs(a))


def mei_axis(params, index: int) -> jax.Array:
    """Neuron ``index``'s preferred direction: its unit-norm dictionary element, shape ``(D,)``.

    For the linear, ReLU and divisive neurons this is exactly the maximally exciting
    image (MEI) at any fixed input norm; for the LCA it is the input that the neuron
    alone reconstructs perfectly, the horizontal axis of every plane in the notebooks.

    >>> mei_axis({"phi": jnp.array([[3.0, 0.0], [4.0, 1.0]])}, 0).tolist()
    [0.6000000238418579, 0.800000011920929]
    """
    phi = _phi(params)
    _check_index(index, phi.shape[1])
    w = phi[:, index]
    return w / jnp.linalg.norm(w)


def neuron_weights(params, index: int, bias: float = 0.0) -> dict:
    """``{"w": phi[:, index], "b": bias}``: the same weights as parameters of
    :func:`geomlib.linear_neuron` / :func:`geomlib.pointwise_neuron`."""
    phi = _phi(params)
    _check_index(index, phi.shape[1])
    return {"w": phi[:, index], "b": jnp.asarray(bias, phi.dtype)}


def lca_neuron(params, x, index, lam: float = 0.15, steps: int = 75, eta: float = 1 / 30,
               temperature: float | None = None) -> jax.Array:
    r"""Activity :math:`a_i` of LCA neuron ``index`` for input ``x`` (shape ``()``).

    All N neurons of ``params["phi"]`` (shape ``(D, N)``) compete for ``x`` (shape
    ``(D,)``) for ``steps`` Euler steps of size ``eta`` = dt / tau; ``temperature``
    None is the rectified soft threshold max(u - lambda, 0), T > 0 its softplus
    surrogate (see :func:`geomlib.lca_threshold`). ``steps`` must be static under ``jit``.

    >>> params = {"phi": jnp.eye(2)}
    >>> round(float(lca_neuron(params, jnp.array([1.0, 0.0]), 0, lam=0.2, steps=300)), 4)
    0.8
    """
    phi = _phi(params)
    _check_index(index, phi.shape[1])
    return lca_codes(phi, x, lam, steps, eta, temperature)[index]


def divisive_normalization_neuron(params, x, index, sigma: float = 1.0, exponent: float = 2.0) -> jax.Array:
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

    >>> params = {"phi": jnp.eye(2)}
    >>> float(divisive_normalization_neuron(params, jnp.array([1.0, 1.0]), 0, sigma=1.0))
    0.3333333432674408
    """
    phi = _phi(params)
    _check_index(index, phi.shape[1])
    drive = jax.nn.relu(phi.T @ x) ** exponent
    return drive[index] / (sigma**exponent + jnp.sum(drive))


@dataclasses.dataclass(frozen=True)
class _Readout:
    """Static part of a dictionary neuron (hashable, so ``jit`` caches across instances)."""

    model: str
    steps: int = 75
    smooth: bool = False

    def __call__(self, params, index, hyper, x):
        if self.model == "lca":
            return lca_neuron(params, x, index, hyper["lam"], self.steps, hyper["eta"],
                              hyper["temperature"] if self.smooth else None)
        if self.model == "linear":
            return linear_neuron(neuron_weights(params, index), x)
        if self.model == "relu":
            return pointwise_neuron(neuron_weights(params, index, -hyper["lam"]), x, "relu")
        return divisive_normalization_neuron(params, x, index, hyper["sigma"], hyper["exponent"])


def dictionary_neuron(params, index: int, model: Model = "lca", *, lam: float = 0.15, steps: int = 75,
                      eta: float = 1 / 30, temperature: float | None = None, sigma: float = 1.0,
                      exponent: float = 2.0) -> Partial:
    """Neuron ``index`` of a dictionary as a response function ``f(x)``, x of shape ``(D,)``.

    ``model`` picks the circuit (same weights ``phi[:, index]`` for all; see the module
    docstring): ``"lca"`` (uses ``lam``, ``steps``, ``eta``, ``temperature``),
    ``"linear"``, ``"relu"`` (threshold ``lam``), ``"divisive"`` (``sigma``,
    ``exponent``). Parameters are bound with ``jax.tree_util.Partial``, so they stay
    traced arguments under ``jit`` and compiled code is reused across neurons.

    >>> params = {"phi": jnp.eye(3)}
    >>> f = dictionary_neuron(params, 1, "relu", lam=0.5)
    >>> float(f(jnp.array([0.0, 2.0, 0.0])))
    1.5
    """
    if model not in DICTIONARY_MODELS:
        raise ValueError(f"model: expected one of {DICTIONARY_MODELS}, got {model!r}")
    steps = check_int(steps, "steps")
    if temperature is not None and not temperature > 0:
        raise ValueError(f"temperature: expected None (hard threshold) or T > 0, got {temperature!r}")
    if not sigma > 0:
        raise ValueError(f"sigma: expected sigma > 0, got {sigma!r}")
    phi = _phi(params)
    _check_index(index, phi.shape[1])
    dt = phi.dtype
    hyper = {"lam": jnp.asarray(lam, dt), "eta": jnp.asarray(eta, dt), "sigma": jnp.asarray(sigma, dt),
             "exponent": jnp.asarray(exponent, dt),
             "temperature": jnp.asarray(1.0 if temperature is None else temperature, dt)}
    lca = model == "lca"
    readout = _Readout(model, int(steps) if lca else 0, lca and temperature is not None)
    return Partial(readout, {"phi": phi}, jnp.asarray(index), hyper)


# --------------------------------------------------------------------------------------
# Dictionary learning


def init_dictionary(key: jax.Array, dim: int, n_neurons: int) -> dict:
    """Random dictionary ``{"phi": (dim, n_neurons)}``: Gaussian columns scaled to unit norm."""
    if int(dim) < 1 or int(n_neurons) < 1:
        raise ValueError(f"expected dim >= 1 and n_neurons >= 1, got dim={dim!r}, n_neurons={n_neurons!r}")
    phi = jax.random.normal(key, (int(dim), int(n_neurons)), float_dtype())
    return {"phi": phi / jnp.linalg.norm(phi, axis=0)}


def _batch_codes(phi, s, lam, steps, eta):
    return jax.vmap(lca_codes, (None, 0, None, None, None))(phi, s, lam, steps, eta)


def _batch_energy(phi, s, a, lam):
    return jax.vmap(lca_energy, (None, 0, 0, None))(phi, s, a, lam)


def _make_step(optimizer, lam: float, steps: int, eta: float):
    def reconstruction(phi, s, a):
        r = s - a @ phi.T
        return 0.5 * jnp.mean(jnp.sum(r * r, axis=1))

    @jax.jit
    def step(phi, state, s):
        a = _batch_codes(phi, s, lam, steps, eta)
        loss = jnp.mean(_batch_energy(phi, s, a, lam))
        grad = jax.grad(reconstruction)(phi, s, a)  # = -mean (s - Phi a) a^T, codes held fixed
        updates, state = optimizer.update(grad, state, phi)
        phi = optax.apply_updates(phi, updates)
        phi = phi / jnp.linalg.norm(phi, axis=0)
        return phi, state, loss, jnp.mean(a > 0), jnp.sum(a > 0, axis=0)

    return step


def train_lca(data, n_neurons: int, *, lam: float = 0.15, steps: int = 75, eta: float = 1 / 30,
              batches: int = 1000, batch_size: int = 256, lr: float = 5e-3, seed: int = 0,
              progress: bool = True) -> tuple[dict, dict]:
    r"""Learn an LCA dictionary by alternating sparse inference and an Adam step.

    For each of ``batches`` minibatches s (drawn at random from ``data``): codes
    a = LCA(Phi, s) with the hard threshold (:func:`geomlib.lca_codes`), one Adam step
    (optax) on :math:`\tfrac12 \langle|s - \Phi a|^2\rangle` with a held fixed, i.e. on
    the gradient :math:`-\langle (s - \Phi a) a^T \rangle`, then every column of Phi
    renormalised to unit length. Reproducible: ``seed`` fixes the initial dictionary
    (``jax.random``) and the batch order (``numpy``).

    Args:
      data: training inputs, shape ``(n, D)``.
      n_neurons: dictionary size N (N / D is the overcompleteness).
      lam: threshold lambda.
      steps: LCA Euler steps per inference.
      eta: dt / tau.
      batches: number of Adam steps.
      batch_size: inputs per step.
      lr: Adam learning rate.
      seed: random seed.
      progress: show a ``tqdm`` progress bar with the running loss.

    Returns:
      ``(params, history)``: ``params = {"phi": (D, N)}`` with unit-norm columns, and
      ``history`` with per-batch ``"loss"`` (mean energy, before the step, shape
      ``(batches,)``) and ``"active_fraction"`` (fraction of nonzero codes), the
      per-neuron ``"usage"`` (fraction of inputs that activated each neuron over the
      last tenth of training, ``(N,)``), ``"dead_neurons"`` (count never active
      then) and ``"seconds"``.

    >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    >>> params, history = train_lca(x, 8, lam=0.1, steps=20, batches=5, batch_size=16, progress=False)
    >>> params["phi"].shape, history["loss"].shape
    ((4, 8), (5,))
    """
    data = np.asarray(data, dtype=float_dtype())
    if data.ndim != 2 or data.shape[0] < 1:
        raise ValueError(f"data: expected inputs of shape (n, D), got {data.shape}")
    n_neurons, steps, batches, batch_size = (check_int(value, name) for name, value in (
        ("n_neurons", n_neurons), ("steps", steps), ("batches", batches), ("batch_size", batch_size)))
    if not lam >= 0 or not eta > 0 or not lr > 0:
        raise ValueError(f"expected lam >= 0, eta > 0, lr > 0, got lam={lam!r}, eta={eta!r}, lr={lr!r}")
    from tqdm.auto import tqdm

    start = time.perf_counter()
    params = init_dictionary(jax.random.PRNGKey(seed), data.shape[1], n_neurons)
    optimizer = optax.adam(lr)
    state = optimizer.init(params["phi"])
    step = _make_step(optimizer, float(lam), int(steps), float(eta))
    rng = np.random.default_rng(seed)
    tail = max(1, batches // 10)
    losses, active = [], []
    counts = jnp.zeros(n_neurons, jnp.int32)
    phi = params["phi"]
    bar = tqdm(range(batches), desc=f"LCA {data.shape[1]}x{n_neurons}", disable=not progress)
    for k in bar:
        s = data[rng.integers(data.shape[0], size=batch_size)]
        phi, state, loss, frac, used = step(phi, state, s)
        losses.append(loss)
        active.append(frac)
        if k >= batches - tail:
            counts = counts + used
        if progress and (k % 25 == 0 or k == batches - 1):
            bar.set_postfix(loss=f"{float(loss):.4f}", active=f"{float(frac):.3f}")
    bar.close()
    usage = np.asarray(counts) / (tail * batch_size)
    history = {
        "loss": np.asarray(jnp.stack(losses)),
        "active_fraction": np.asarray(jnp.stack(active)),
        "usage": usage,
        "dead_neurons": int(np.sum(usage == 0)),
        "seconds": time.perf_counter() - start,
    }
    return {"phi": phi}, history


@functools.partial(jax.jit, static_argnames=("steps",))
def _statistics_chunk(phi, s, lam, steps, eta):
    a = _batch_codes(phi, s, lam, steps, eta)
    r = s - a @ phi.T
    rec = 0.5 * jnp.sum(r * r, axis=1)
    return rec, jnp.sum(jnp.abs(a), axis=1), jnp.sum(s * s, axis=1), jnp.sum(a != 0, axis=0)


def lca_statistics(params, data, *, lam: float = 0.15, steps: int = 75, eta: float = 1 / 30,
                   batch_size: int = 512) -> dict:
    r"""Sparse-coding quality of a dictionary on ``data`` (shape ``(n, D)``).

    Returns a dict of floats: ``loss`` (mean energy
    :math:`\tfrac12|s - \Phi a|^2 + \lambda|a|_1`), ``reconstruction`` (mean
    :math:`\tfrac12|s - \Phi a|^2`), ``relative_error`` (mean :math:`|s - \Phi a|^2` over
    mean :math:`|s|^2`), ``active_fraction`` (mean fraction of nonzero codes),
    ``dead_neurons`` (neurons never active on ``data``, an int) and ``usage`` (per-neuron
    fraction of inputs that activate it, an array ``(N,)``).
    """
    phi = _phi(params)
    data = np.asarray(data, dtype=phi.dtype)
    if data.ndim != 2 or data.shape[1] != phi.shape[0]:
        raise ValueError(f"data: expected shape (n, {phi.shape[0]}), got {data.shape}")

    rec, l1, norm2, used = [], [], [], np.zeros(phi.shape[1], np.int64)
    for i in range(0, data.shape[0], batch_size):
        out = _statistics_chunk(phi, data[i:i + batch_size], lam, int(steps), eta)
        rec.append(np.asarray(out[0]))
        l1.append(np.asarray(out[1]))
        norm2.append(np.asarray(out[2]))
        used += np.asarray(out[3])
    rec, l1, norm2 = (np.concatenate(v).astype(np.float64) for v in (rec, l1, norm2))
    usage = used / data.shape[0]
    return {
        "loss": float(np.mean(rec + lam * l1)),
        "reconstruction": float(np.mean(rec)),
        "relative_error": float(np.mean(2 * rec) / np.mean(norm2)),
        "active_fraction": float(np.mean(usage)),
        "dead_neurons": int(np.sum(used == 0)),
        "usage": usage,
    }
