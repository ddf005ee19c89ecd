"""Fitting small models to data with optax (deterministic, full-batch)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_float, check_int
from geomlib._src.core.dtypes import float_dtype
from geomlib._src.models import linear_neuron


@functools.partial(jax.jit, static_argnames=("steps", "learning_rate"))
def _fit_logistic(x, t, l2, steps: int, learning_rate: float):
    opt = optax.adam(learning_rate)
    params = {"w": jnp.zeros(x.shape[1], x.dtype), "b": jnp.zeros((), x.dtype)}

    def loss(p):
        z = jax.vmap(linear_neuron, (None, 0))(p, x)
        return optax.sigmoid_binary_cross_entropy(z, t).mean() + 0.5 * l2 * p["w"] @ p["w"]

    def step(carry, _):
        p, state = carry
        value, g = jax.value_and_grad(loss)(p)
        updates, state = opt.update(g, state, p)
        return (optax.apply_updates(p, updates), state), value

    (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params, losses


MAX_STEPS: int = 1_000_000
"""Upper bound on :func:`fit_linear_neuron`'s ``steps`` (a loop length)."""


def fit_linear_neuron(
    x: ArrayLike, target: ArrayLike, *, l2: float = 1e-3, steps: int = 300, learning_rate: float = 0.05
) -> tuple[dict, np.ndarray]:
    """Fit a linear neuron ``w . x + b`` as a logistic-regression detector.

    Minimises mean binary cross-entropy of sigmoid(w . x + b) against ``target``
    plus ``l2/2 |w|^2``, full batch, with Adam (optax), from zero weights.

    Args:
      x: inputs, shape ``(n, D)``, real and finite.
      target: 0/1 labels (e.g. ``y == 3``), shape ``(n,)``.
      l2: weight decay (finite, >= 0).
      steps: Adam steps, an int in [1, 10^6].
      learning_rate: Adam learning rate (finite, > 0).

    Returns:
      ``(params, losses)``: ``{"w": (D,), "b": ()}`` and the loss per step ``(steps,)``.
    """
    check_array(x, "x")
    if isinstance(target, (np.ndarray, jax.Array)) and target.dtype == bool:
        target = target.astype(np.int32)      # y == 3 is a documented target
    check_array(target, "target", finite=False)   # None, strings, complex; NaN is caught as "not 0/1" below
    x = jnp.asarray(x, float_dtype())
    t = jnp.asarray(target, float_dtype())
    if x.ndim != 2 or t.shape != (x.shape[0],):
        raise ValueError(f"x, target: expected x (n, D) and target (n,), got {x.shape} and {t.shape}")
    if not bool(jnp.all((t == 0) | (t == 1))):
        raise ValueError("target: expected 0/1 labels")
    l2 = check_float(l2, "l2", 0.0)
    steps = check_int(steps, "steps", 1, MAX_STEPS)
    learning_rate = check_float(learning_rate, "learning_rate", 0.0, open_low=True)
    params, losses = _fit_logistic(x, t, jnp.asarray(l2, x.dtype), int(steps), float(learning_rate))
    return params, np.asarray(losses)
