"""The default float dtype, and whether values are concrete or traced."""

from __future__ import annotations

import jax
import jax.numpy as jnp


_TRACER = jax.core.Tracer  # looked up once: the module attribute goes through a slow deprecation hook


def float_dtype() -> jnp.dtype:
    """The default float dtype: float32, or float64 when ``jax_enable_x64`` is on."""
    return jnp.result_type(float)


def is_concrete(*xs) -> bool:
    """True if none of ``xs`` is a JAX tracer (their values can be checked on the host)."""
    return not any(isinstance(x, _TRACER) for x in xs)


def is_inexact(aval) -> bool:
    """True if an abstract value (or array) has a floating or complex dtype."""
    return jnp.issubdtype(aval.dtype, jnp.inexact)
