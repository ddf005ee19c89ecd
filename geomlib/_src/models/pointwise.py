"""Pointwise neurons ``model(params, x) -> response``: the nonlinearities (:data:`NONLINEARITIES`,
:func:`activation`), the linear neuron ``w . x + b`` and the pointwise neuron ``sigma(w . x + b)``,
whose contours are straight and parallel.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from geomlib._src.core.checks import check_array, check_float

Nonlinearity = Literal["linear", "relu", "sigmoid", "softplus", "tanh"]
NONLINEARITIES: tuple[str, ...] = ("linear", "relu", "sigmoid", "softplus", "tanh")


def _real(x, name: str, *, ndim: int | None = None, finite: bool = True) -> jax.Array:
    """``x`` as an array of real numbers. A JAX array (traced or not) is checked for its dtype
    and number of axes only, with no transfer to the host, so these building blocks stay
    free inside compiled code; a NumPy array or a list is checked fully (finite included)."""
    if isinstance(x, jax.Array):
        if not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)):
            raise TypeError(f"{name}: expected real numbers, got a JAX array of dtype {x.dtype}")
        if ndim is not None and x.ndim != ndim:
            raise ValueError(f"{name}: expected {ndim} axes, got shape {tuple(x.shape)}")
        return x
    return check_array(x, name, ndim=ndim, finite=finite)


def _temperature(temperature):
    """A finite T > 0; a traced or JAX-array temperature passes unchecked (no host sync)."""
    if isinstance(temperature, jax.Array):
        return temperature
    return check_float(temperature, "temperature", 0.0, open_low=True)


def _linear_params(params, d: int | None = None):
    if not isinstance(params, dict) or "w" not in params or "b" not in params:
        raise ValueError(f"params: expected {{'w': (D,), 'b': ()}}, got "
                         f"{sorted(params) if isinstance(params, dict) else type(params).__name__}")
    w = _real(params["w"], "params['w']", ndim=1)
    return w, params["b"]


def activation(z: jax.Array, nonlinearity: Nonlinearity = "relu", temperature: float = 1.0) -> jax.Array:
    r"""Pointwise nonlinearity with a temperature T.

    ``softplus`` is :math:`T \log(1 + e^{z/T})`, which tends to ReLU as T -> 0;
    ``sigmoid`` is :math:`\sigma(z / T)`; ``tanh`` is :math:`\tanh(z / T)`.

    ``z`` is an array of real numbers (None, strings and complex values raise TypeError);
    it is applied elementwise, so a NaN or infinite entry of ``z`` gives NaN / a limit at
    that entry only, as a NumPy ufunc would. ``temperature`` is a finite T > 0 (checked
    unless it is a JAX array, e.g. traced), used by every nonlinearity but ``linear`` and
    ``relu``.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}")
    z = _real(z, "z", finite=False)
    temperature = _temperature(temperature)
    if nonlinearity == "linear":
        return z
    if nonlinearity == "relu":
        return jax.nn.relu(z)
    if nonlinearity == "sigmoid":
        return jax.nn.sigmoid(z / temperature)
    if nonlinearity == "softplus":
        return temperature * jax.nn.softplus(z / temperature)
    return jnp.tanh(z / temperature)


def linear_neuron(params: dict, x: jax.Array) -> jax.Array:
    """Linear neuron ``w . x + b``. params: ``{"w": (D,), "b": ()}``; x: ``(D,)``; returns ``()``.

    Shapes and dtypes are checked always (ValueError / TypeError naming the argument);
    values where ``x`` is a NumPy array or a list (finite). A JAX array ``x`` (e.g. traced
    inside :func:`geomlib.plane_geometry`) is not read: a NaN in it propagates to the output.
    """
    w, b = _linear_params(params)
    x = _real(x, "x", ndim=1)
    if x.shape != w.shape:
        raise ValueError(f"x: expected shape (D,) = {tuple(w.shape)} (the length of params['w']), "
                         f"got {tuple(x.shape)}")
    return jnp.dot(w, x) + b


def pointwise_neuron(
    params: dict, x: jax.Array, nonlinearity: Nonlinearity = "relu", temperature: float = 1.0
) -> jax.Array:
    """Pointwise nonlinear neuron ``sigma(w . x + b)``: straight contours, unequal spacing.

    Arguments as :func:`linear_neuron` and :func:`activation` (``temperature`` a finite
    T > 0, checked unless it is a JAX array).
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}")
    temperature = _temperature(temperature)
    return activation(linear_neuron(params, x), nonlinearity, temperature)
