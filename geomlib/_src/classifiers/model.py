r"""The classifier as a function: an MLP (ReLU between layers, or its softplus twin),
optionally on LCA codes; its parameters bound into a ``logits_fn``; its accuracy."""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from jax.typing import ArrayLike

from geomlib._src.core.checks import check_array, check_callable, check_int, check_labels, num_classes
from geomlib._src.core.defaults import LCA_STEPS
from geomlib._src.core.dtypes import float_dtype, is_concrete
from geomlib._src.models import activation, lca_codes


#: Upper bound of ``lca_steps`` (LCA Euler steps of a classifier's front-end).
MAX_LCA_STEPS = 100_000


def check_lca_steps(lca_steps) -> int:
    """``lca_steps`` as an int in [1, :data:`MAX_LCA_STEPS`] (the message of a value below 1
    says ``>= 1``)."""
    lca_steps = check_int(lca_steps, "lca_steps")
    return check_int(lca_steps, "lca_steps", 1, MAX_LCA_STEPS)


def check_finite_params(params) -> None:
    """ValueError naming the first weight, bias or LCA parameter of a classifier ``params``
    (already through :func:`check_params`) with NaN or infinite entries; traced leaves pass."""
    named = [(f"params['layers'][{k}]['{w}']", layer[w]) for k, layer in enumerate(params["layers"]) for w in ("w", "b")]
    if "lca" in params:
        named += [(f"params['lca']['{w}']", params["lca"][w]) for w in ("phi", "lam", "eta")]
    for name, leaf in named:
        if not is_concrete(leaf):
            continue
        if not np.isfinite(np.asarray(leaf)).all():   # numpy: also inside a jit trace (closed-over params)
            raise ValueError(f"{name}: expected finite values, got NaN or infinite entries")


def check_temperature(temperature, name: str = "smooth_temperature"):
    """None, or a real scalar T > 0 (finite; checked where concrete, a traced T passes)."""
    if temperature is None or not is_concrete(temperature):
        return temperature
    ok = not isinstance(temperature, (bool, np.bool_, str, bytes)) and np.shape(temperature) == ()
    if ok:
        try:
            v = float(temperature)
        except (TypeError, ValueError):
            ok = False
        else:
            ok = bool(np.isfinite(v) and v > 0)
    if not ok:
        raise ValueError(f"{name}: expected None (ReLU) or a scalar T > 0, got {temperature!r}")
    return temperature


def check_params(params) -> int:
    """Input dimension D of a classifier ``params`` (ValueError on a malformed pytree)."""
    layers = params.get("layers") if isinstance(params, dict) else None
    if not isinstance(layers, (list, tuple)) or not layers or not all(
            isinstance(p, dict) and "w" in p and "b" in p for p in layers):
        raise ValueError(f"params: expected a dict with 'layers', a non-empty list of {{'w': (out, in), 'b': (out,)}}, "
                         f"got {type(params).__name__} with keys {sorted(params) if isinstance(params, dict) else None}")
    shapes = [tuple(jnp.shape(p["w"])) for p in layers]
    for k, (prev, cur) in enumerate(zip(shapes[:-1], shapes[1:])):
        if len(cur) != 2 or cur[1] != prev[0]:
            raise ValueError(f"params['layers'][{k + 1}]['w']: expected shape (out, {prev[0]}), got {cur}")
    if "lca" in params:
        lca = params["lca"]
        if not isinstance(lca, dict) or any(k not in lca for k in ("phi", "lam", "eta")):
            raise ValueError(f"params['lca']: expected a dict with 'phi' (D, N), 'lam' and 'eta', got "
                             f"{type(lca).__name__} with keys {sorted(lca) if isinstance(lca, dict) else None}")
        phi_shape = tuple(jnp.shape(params["lca"]["phi"]))
        if len(phi_shape) != 2 or phi_shape[1] != shapes[0][1]:
            raise ValueError(f"params['lca']['phi']: expected shape (D, {shapes[0][1]}), got {phi_shape}")
        return phi_shape[0]
    return shapes[0][1]


def classifier_logits(params: dict, x: ArrayLike, *, lca_steps: int = LCA_STEPS,
                      smooth_temperature: ArrayLike | None = None) -> jax.Array:
    r"""Logits of a classifier: MLP (ReLU between layers), optionally on LCA codes.

    .. math:: h_0 = x \ \text{or}\ \mathrm{LCA}(\Phi, x), \qquad
              h_{l+1} = \mathrm{relu}(W_l h_l + b_l), \qquad z = W_L h_L + b_L.

    Args:
      params: ``{"layers": [{"w": (out, in), "b": (out,)}, ...]}`` and optionally
        ``"lca": {"phi": (D, N), "lam": (), "eta": ()}`` (then the first layer takes N inputs).
      x: one image ``(D,)`` or a batch ``(B, D)``, pixels in [0, 1] for the shipped models;
        real and finite (checked where concrete: under ``jit`` a NaN in x gives NaN logits).
      lca_steps: LCA Euler steps (static; the shipped models use 75), 1 <= lca_steps <= 100000.
      smooth_temperature: None for ReLU (and the hard LCA threshold); T > 0 (finite) for the
        softplus twin with the same weights.

    The parameters must be finite (checked where concrete: a ValueError names the layer).

    Returns:
      logits ``(K,)`` for one image, ``(B, K)`` for a batch.

    >>> params = {"layers": [{"w": jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), "b": jnp.zeros(3)},
    ...                      {"w": jnp.eye(3)[:2], "b": jnp.zeros(2)}]}
    >>> classifier_logits(params, jnp.array([0.5, -2.0])).tolist()
    [0.5, 0.0]
    >>> classifier_logits(params, jnp.ones((4, 2))).shape
    (4, 2)
    """
    check_params(params)
    check_finite_params(params)
    lca_steps = check_lca_steps(lca_steps)
    return _classifier_logits(params, x, lca_steps, check_temperature(smooth_temperature))


def _classifier_logits(params: dict, x, lca_steps: int, temperature) -> jax.Array:
    """:func:`classifier_logits` after the checks of its parameters (x is checked here)."""
    dim = check_params(params)
    x = check_array(x, "x").astype(jnp.result_type(params["layers"][0]["w"], float_dtype()))
    if x.ndim not in (1, 2) or x.shape[-1] != dim:
        raise ValueError(f"x: expected one image (D,) or a batch (B, D) with D = {dim}, got shape {x.shape}")
    h = x[None] if x.ndim == 1 else x
    if "lca" in params:
        lca = params["lca"]
        h = jax.vmap(lca_codes, (None, 0, None, None, None, None))(
            lca["phi"], h, lca["lam"], int(lca_steps), lca["eta"], temperature)
    for layer in params["layers"][:-1]:
        z = h @ layer["w"].T + layer["b"]
        h = jax.nn.relu(z) if temperature is None else activation(z, "softplus", temperature)
    out = h @ params["layers"][-1]["w"].T + params["layers"][-1]["b"]
    return out[0] if x.ndim == 1 else out


@dataclasses.dataclass(frozen=True)
class _Logits:
    """Static part of a loaded classifier (hashable, so ``jit`` caches across instances)."""

    lca_steps: int = LCA_STEPS
    smooth: bool = False

    def __call__(self, params, temperature, x):
        return _classifier_logits(params, x, self.lca_steps, temperature if self.smooth else None)


def bind_classifier(params: dict, *, lca_steps: int = LCA_STEPS, smooth_temperature: float | None = None) -> Partial:
    """``logits_fn(x)`` of :func:`classifier_logits` with ``params`` bound (``jax.tree_util.Partial``).

    Parameters and the temperature stay traced arguments, so compiled code is shared
    between models of one architecture and between temperatures. The parameters are
    checked once here (shapes, finite entries); the bound function checks its input x
    (real, finite where concrete).
    """
    check_params(params)
    check_finite_params(params)
    lca_steps = check_lca_steps(lca_steps)
    check_temperature(smooth_temperature)
    temperature = jnp.asarray(1.0 if smooth_temperature is None else smooth_temperature, float_dtype())
    return Partial(_Logits(int(lca_steps), smooth_temperature is not None), params, temperature)


def classifier_accuracy(logits_fn: Callable[[jax.Array], jax.Array], x: ArrayLike, y: ArrayLike,
                        batch_size: int = 500) -> float:
    """Fraction of images ``x`` ``(n, D)`` whose arg-max logit equals the label ``y`` ``(n,)``.

    ``logits_fn`` maps ``(B, D)`` to ``(B, K)`` (e.g. from :func:`load_classifier`); it is
    jitted and evaluated in chunks of ``batch_size`` (an integer >= 1; one larger than n is
    one chunk). ``x`` real and finite, n >= 1; ``y`` integers in ``[0, K)``.
    """
    check_callable(logits_fn, "logits_fn", "(B, D) -> (B, K)")
    check_array(x, "x")
    check_array(y, "y", finite=False)
    batch_size = check_int(batch_size, "batch_size")
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"expected x (n, D) and y (n,), got {x.shape} and {y.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"x: expected at least one image, got shape {x.shape}")
    check_labels(y, len(x), num_classes(logits_fn, jax.ShapeDtypeStruct(x.shape, float_dtype())), "y")
    f = jax.jit(logits_fn)
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += int(jnp.sum(jnp.argmax(f(jnp.asarray(x[i:i + batch_size], float_dtype())), axis=1)
                               == jnp.asarray(y[i:i + batch_size])))
    return correct / len(x)
