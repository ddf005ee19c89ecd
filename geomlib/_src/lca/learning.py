r"""Dictionary learning for the LCA, and the sparse-coding quality of a dictionary.

Dictionaries are learned (Olshausen & Field 1997; Rozell et al. 2008) by alternating
LCA inference with an Adam step (optax) on the reconstruction term of the energy

.. math:: E(a; s, \Phi) = \tfrac12 |s - \Phi a|^2 + \lambda |a|_1,
   \qquad \partial E / \partial \Phi = -(s - \Phi a) a^T,

followed by renormalising every column of :math:`\Phi` to unit length.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_float, check_int, check_key
from geomlib._src.core.defaults import LCA_ETA, LCA_STEPS
from geomlib._src.core.dtypes import float_dtype
from geomlib._src.lca.neurons import dictionary_phi, lca_energy
from geomlib._src.models import check_lca_settings, lca_codes


MAX_DICTIONARY_ENTRIES: int = 2 ** 28
"""The largest dictionary :func:`init_dictionary` and :func:`train_lca` build (D * N entries)."""


def init_dictionary(key: jax.Array, dim: int, n_neurons: int) -> dict:
    """Random dictionary ``{"phi": (dim, n_neurons)}``: Gaussian columns scaled to unit norm.

    ``key`` a PRNG key; ``dim`` and ``n_neurons`` integers >= 1 whose product is at most
    :data:`MAX_DICTIONARY_ENTRIES` (2^28, a 1 GB float32 dictionary).
    """
    if key is None:
        raise ValueError("key: expected a PRNG key (jax.random.key or jax.random.PRNGKey), got None")
    key = check_key(key)
    dim = check_int(dim, "dim")
    n_neurons = check_int(n_neurons, "n_neurons")
    if dim * n_neurons > MAX_DICTIONARY_ENTRIES:
        raise ValueError(f"dim, n_neurons: expected dim * n_neurons <= 2^28 entries, got dim={dim}, "
                         f"n_neurons={n_neurons} ({dim * n_neurons} entries)")
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


def train_lca(data: ArrayLike, n_neurons: int, *, lam: float = 0.15, steps: int = LCA_STEPS, eta: float = LCA_ETA,
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
      data: training inputs, shape ``(n, D)``, real and finite.
      n_neurons: dictionary size N (N / D is the overcompleteness).
      lam: threshold lambda (>= 0).
      steps: LCA Euler steps per inference, an int in [1, 10^6].
      eta: dt / tau, in (0, 1].
      batches: number of Adam steps (>= 1).
      batch_size: inputs per step, in [1, n].
      lr: Adam learning rate (finite, > 0).
      seed: random seed, an int in [0, 2^32).
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
    check_array(data, "data")
    data = np.asarray(data, dtype=float_dtype())
    if data.ndim != 2 or data.shape[0] < 1:
        raise ValueError(f"data: expected inputs of shape (n, D), got {data.shape}")
    n_neurons, batches = check_int(n_neurons, "n_neurons"), check_int(batches, "batches")
    batch_size = check_int(batch_size, "batch_size", 1, data.shape[0], high_label="n, the number of inputs")
    if data.shape[1] * n_neurons > MAX_DICTIONARY_ENTRIES:
        raise ValueError(f"n_neurons: expected D * n_neurons <= 2^28 entries, got D={data.shape[1]}, "
                         f"n_neurons={n_neurons}")
    lam, steps, eta, _ = check_lca_settings(lam, steps, eta)
    lr = check_float(lr, "lr", 0.0, open_low=True)
    seed = check_int(seed, "seed", 0, 2 ** 32 - 1)
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


def lca_statistics(params: dict, data: ArrayLike, *, lam: float = 0.15, steps: int = LCA_STEPS, eta: float = LCA_ETA,
                   batch_size: int = 512) -> dict:
    r"""Sparse-coding quality of a dictionary on ``data`` (shape ``(n, D)``).

    Returns a dict of floats: ``loss`` (mean energy
    :math:`\tfrac12|s - \Phi a|^2 + \lambda|a|_1`), ``reconstruction`` (mean
    :math:`\tfrac12|s - \Phi a|^2`), ``relative_error`` (mean :math:`|s - \Phi a|^2` over
    mean :math:`|s|^2`), ``active_fraction`` (mean fraction of nonzero codes),
    ``dead_neurons`` (neurons never active on ``data``, an int) and ``usage`` (per-neuron
    fraction of inputs that activate it, an array ``(N,)``).

    Checked: ``params`` as in :func:`lca_neuron`, ``data`` real and finite of shape
    ``(n, D)`` with n >= 1 (a D that differs from ``params['phi']``'s names both), the
    settings as in :func:`lca_neuron`, ``batch_size`` an int >= 1.
    """
    phi = dictionary_phi(params)
    check_array(data, "data")
    data = np.asarray(data, dtype=phi.dtype)
    if data.ndim != 2 or data.shape[1] != phi.shape[0] or data.shape[0] < 1:
        raise ValueError(f"data: expected shape (n, {phi.shape[0]}), got {data.shape}; params['phi'] has shape "
                         f"{tuple(phi.shape)} = (D, N)")
    lam, steps, eta, _ = check_lca_settings(lam, steps, eta)
    batch_size = check_int(batch_size, "batch_size")

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
