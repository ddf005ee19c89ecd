"""The multi-layer perceptron as a pure function: LeCun-normal parameters (:func:`init_mlp`)
and the network (:func:`mlp`), a pointwise nonlinearity between layers."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from geomlib._src.core.checks import check_array, check_float, check_key
from geomlib._src.core.dtypes import float_dtype, is_concrete
from geomlib._src.models.pointwise import Nonlinearity, activation


def init_mlp(key: jax.Array, sizes: Sequence[int], scale: float = 1.0) -> list[dict]:
    """Parameters of an MLP with layer widths ``sizes`` (input first), LeCun-normal init.

    ``sizes`` is a sequence of at least two integers >= 1; ``scale`` (finite, > 0)
    multiplies every weight; ``key`` is a PRNG key.
    """
    if (isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) and s >= 1
                       for s in sizes)):
        raise ValueError(f"sizes: expected at least two positive layer widths, got {sizes!r}")
    sizes = [int(s) for s in sizes]
    scale = check_float(scale, "scale", 0.0, open_low=True)
    if key is None:
        raise ValueError("key: expected a PRNG key (jax.random.key or jax.random.PRNGKey), got None")
    key = check_key(key)
    params = []
    for k, (din, dout) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        w = scale * jax.random.normal(k, (dout, din), float_dtype()) / jnp.sqrt(din)
        params.append({"w": w, "b": jnp.zeros((dout,), float_dtype())})
    return params


def mlp(params: list[dict], x: jax.Array, nonlinearity: Nonlinearity = "softplus", temperature: float = 1.0) -> jax.Array:
    """Multi-layer perceptron; nonlinearity between layers, none after the last.

    params: a non-empty list of layers ``{"w": (out, in), "b": (out,)}`` whose widths
    chain; x: ``(D,)`` with D the first layer's ``in``; returns ``(K,)`` (or ``()`` when
    the last layer has one unit). Shapes are checked always; values (finite, real) where
    concrete: under ``jit`` a NaN in x or in a weight propagates to the output.
    ``temperature`` is a finite T > 0 (checked unless traced).
    """
    _check_mlp(params, x, temperature)
    h = x
    for layer in params[:-1]:
        h = activation(layer["w"] @ h + layer["b"], nonlinearity, temperature)
    out = params[-1]["w"] @ h + params[-1]["b"]
    return out[0] if out.shape == (1,) else out


def _check_mlp(params, x, temperature) -> None:
    """The arguments of :func:`mlp`, checked (values where concrete; shapes always)."""
    if (not isinstance(params, (list, tuple)) or not params
            or not all(isinstance(layer, dict) and "w" in layer and "b" in layer for layer in params)):
        got = type(params).__name__ if not isinstance(params, (list, tuple)) else f"{type(params).__name__} {params!r:.80}"
        raise ValueError(f"params: expected a non-empty list of layers {{'w': (out, in), 'b': (out,)}}, got {got}")
    width = None
    for i, layer in enumerate(params):
        w = check_array(layer["w"], f"params[{i}]['w']", ndim=2)
        if width is not None and w.shape[1] != width:
            raise ValueError(f"params[{i}]['w']: expected shape (out, {width}) to follow layer {i - 1}'s "
                             f"{width} outputs, got {tuple(w.shape)}")
        check_array(layer["b"], f"params[{i}]['b']", shape=(w.shape[0],))
        width = w.shape[0]
    d = jnp.shape(params[0]["w"])[1]
    if x is None or isinstance(x, (str, bytes)) or jnp.shape(x) != (d,):
        check_array(x, "x")     # names a non-array first
        raise ValueError(f"x: expected one input of shape ({d},) (D of params[0]['w'], shape "
                         f"{tuple(jnp.shape(params[0]['w']))}), got shape {tuple(jnp.shape(x))}")
    check_array(x, "x")
    if is_concrete(temperature):
        check_float(temperature, "temperature", 0.0, open_low=True)
